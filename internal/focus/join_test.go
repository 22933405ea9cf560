package focus_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// TestJoinRoles checks who gets in to which meeting and in which role
// (seed 003, "User Roles" and "Meeting Security and Access").
func TestJoinRoles(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		user    string
		want    string // granted role; "" when refused
		code    int
		diag    c3p.Diagnostic
		warning string
	}{
		{"organizer of an open meeting", openKey, alice, c3p.RolePresenter, 200, 0, ""},
		{"listed presenter", openKey, bob, c3p.RolePresenter, 200, 0, ""},
		{"listed attendee", openKey, carol, c3p.RoleAttendee, 200, 0, ""},
		{"unlisted enterprise user, open meeting", openKey, dave, c3p.RoleAttendee, 200, 0, ""},
		{"invited federated user, open meeting", openKey, frank, c3p.RoleAttendee, 200, 0, ""},
		{"uninvited federated user, open meeting", openKey, gina, "", 403, c3p.DiagAuthorizationFailed, "invitation"},
		{"anonymous user, open meeting", openKey, anon, "", 403, c3p.DiagAuthorizationFailed, "authenticated users only"},
		{"disabled user", openKey, erin, "", 403, c3p.DiagAuthorizationFailed, "disabled"},
		{"organizer of a closed meeting", closedKey, alice, c3p.RolePresenter, 200, 0, ""},
		{"listed presenter, closed meeting", closedKey, bob, c3p.RolePresenter, 200, 0, ""},
		{"listed attendee, closed meeting", closedKey, carol, c3p.RoleAttendee, 200, 0, ""},
		{"unlisted user, closed meeting", closedKey, dave, "", 403, c3p.DiagAuthorizationFailed, "invited users only"},
		{"anonymous user, closed meeting", closedKey, anon, "", 403, c3p.DiagAuthorizationFailed, "invited users only"},
		{"anonymous user, anonymous meeting", anonKey, anon, c3p.RoleAttendee, 200, 0, ""},
		{"federated user, anonymous meeting", anonKey, gina, c3p.RoleAttendee, 200, 0, ""},
		{"enterprise user, anonymous meeting", anonKey, dave, c3p.RoleAttendee, 200, 0, ""},
		{"expired meeting", expiredKey, alice, "", 404, c3p.DiagInvalidConferenceURI, "expired"},
		{"no such meeting", "NOSUCHMEET", alice, "", 404, c3p.DiagInvalidConferenceURI, "no meeting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c := newPhone(h, tt.user).join(conf(alice, tt.key))
			if tt.want == "" {
				c.refused(tt.code, tt.diag)
				if !strings.Contains(warning(c.res), tt.warning) {
					t.Errorf("Warning = %q, want it to mention %q", warning(c.res), tt.warning)
				}
				siptest.Eventually(t, "the refused meeting to be dropped", func() bool { return len(h.f().Active()) == 0 })
				if tt.key != "NOSUCHMEET" && h.meeting(alice, tt.key).Active {
					t.Error("a refused join activated the meeting")
				}
				return
			}
			if got := c.ok(); got != tt.want {
				t.Errorf("role = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestJoinActivates checks the first join's effects: the meeting is active
// and its activation recorded, the A/V MCU is allocated and provisioned,
// the participant is expected there, and the addUser response follows
// [MS-CONFBAS] §2.2.3.4.
func TestJoinActivates(t *testing.T) {
	h := newHarness(t)
	h.clock.Advance(0)
	c := newPhone(h, bob).join(conf(alice, openKey))
	c.ok()
	m := h.meeting(alice, openKey)
	if !m.Active || !m.LastActivatedAt.Equal(t0) {
		t.Errorf("meeting Active=%v LastActivatedAt=%v, want true and %v", m.Active, m.LastActivatedAt, t0)
	}
	if got, want := h.mcus.log(), []string{"addConference", "addUser " + bob}; !slices.Equal(got, want) {
		t.Errorf("MCU commands = %q, want %q", got, want)
	}
	add := c.c3p.Command.(*c3p.AddUser)
	if add.Keys == nil || add.Keys.ConfEntity != conf(alice, openKey) {
		t.Errorf("conferenceKeys = %+v, want the conference echoed", add.Keys)
	}
	if add.User.Entity != bob || len(add.User.Endpoints) != 1 || add.User.Endpoints[0].Entity != endpointOf(bob) {
		t.Errorf("user = %+v, want %s with the endpoint it joined with", add.User, bob)
	}
	if c.c3p.From != conf(alice, openKey) || c.c3p.To != bob || c.c3p.RequestID != 1 {
		t.Errorf("envelope = %+v, want from and to swapped, requestId copied", c.c3p.Header)
	}
	if ct := c.res.GetHeader("Content-Type"); ct == nil || ct.Value() != c3p.ContentType {
		t.Errorf("Content-Type = %v", ct)
	}
	golden(t, "adduser-response.xml", c.res.Body())
}

// TestJoinExpiryMovesForward checks that an activation extends a meeting
// whose expiry follows its last activation (the Expiry of the Focus
// Factory), and never shortens one.
func TestJoinExpiryMovesForward(t *testing.T) {
	h := newHarness(t, func(cfg *focus.Config) {
		cfg.Expiry = func(m directory.Meeting) time.Time { return m.LastActivatedAt.Add(60 * 24 * time.Hour) }
	})
	newPhone(h, alice).join(conf(alice, openKey)).ok()
	if got, want := h.meeting(alice, openKey).ExpiresAt, t0.Add(60*24*time.Hour); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got, want)
	}
}

// TestJoinLocked: a locked meeting admits the organizer and presenters
// only; participants already in may come back.
func TestJoinLocked(t *testing.T) {
	h := newHarness(t)
	a := newPhone(h, alice).join(conf(alice, openKey))
	a.ok()
	carolCall := newPhone(h, carol).join(conf(alice, openKey))
	carolCall.ok()
	locked := true
	a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: conf(alice, openKey)}, Locked: &locked}).ok(t)

	d := newPhone(h, dave).join(conf(alice, openKey))
	d.refused(403, c3p.DiagAuthorizationFailed)
	if d.c3p.Reason != "conferenceLocked" {
		t.Errorf("reason = %q, want conferenceLocked", d.c3p.Reason)
	}
	if got := newPhone(h, bob).join(conf(alice, openKey)).ok(); got != c3p.RolePresenter {
		t.Errorf("presenter joining a locked meeting got %q", got)
	}
	// carol, already in, joins again from another client.
	if got := newPhone(h, carol).join(conf(alice, openKey)).ok(); got != c3p.RoleAttendee {
		t.Errorf("participant re-joining a locked meeting got %q", got)
	}
	carolCall.waitBye() // her first focus dialog was replaced
}

// TestJoinFull: the organizer's meeting policy caps the meeting's size.
func TestJoinFull(t *testing.T) {
	h := newHarness(t)
	small := conf(dave, smallKey)
	newPhone(h, dave).join(small).ok()
	newPhone(h, anon).join(small).ok()
	newPhone(h, bob).join(small).ok()
	c := newPhone(h, carol).join(small)
	c.refused(486, 0)
	if c.c3p.Reason != "conferenceFull" {
		t.Errorf("reason = %q, want conferenceFull", c.c3p.Reason)
	}
}

// TestJoinAnonymousIdentity: an anonymous participant gets an identity of
// the Focus's, not the one he claims, and his display name.
func TestJoinAnonymousIdentity(t *testing.T) {
	h := newHarness(t)
	p := newPhone(h, anon)
	cmd := addUser(conf(alice, anonKey), alice) // claims to be the organizer
	name := "Visitor"
	cmd.User.DisplayText = &name
	c := p.joinWith(conf(alice, anonKey), cmd)
	if got := c.ok(); got != c3p.RoleAttendee {
		t.Errorf("role = %q, want attendee", got)
	}
	entity := c.c3p.Command.(*c3p.AddUser).User.Entity
	if entity == alice || !strings.HasSuffix(entity, "@anonymous.invalid") {
		t.Errorf("anonymous entity = %q, want one of anonymous.invalid", entity)
	}
	s := newPhone(h, anon).subscribe(conf(alice, anonKey), msClient)
	u := find(s.piggyDoc(), entity)
	if u == nil || u.DisplayText == nil || *u.DisplayText != "Visitor" {
		t.Errorf("roster entry = %+v, want %s named Visitor", u, entity)
	}
}

// TestJoinMalformed checks the refusals of joins that are not proper C3P
// addUser requests for the conference.
func TestJoinMalformed(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	p := newPhone(h, bob)
	t.Run("not C3P", func(t *testing.T) {
		c := p.joinBody(open, "application/sdp", []byte("v=0\r\n"))
		if c.res.StatusCode != 415 || c.res.GetHeader("Accept") == nil {
			t.Errorf("got %d, want 415 with Accept", c.res.StatusCode)
		}
	})
	t.Run("malformed XML", func(t *testing.T) {
		newPhoneT(t, h, bob, "UDP").joinBody(open, c3p.ContentType, []byte("<request")).refused(400, c3p.DiagParseFailed)
	})
	t.Run("another command", func(t *testing.T) {
		newPhoneT(t, h, bob, "UDP").joinWith(open, &c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: open, UserEntity: bob}}).
			refused(400, c3p.DiagAddUserInvalid)
	})
	t.Run("keys of another conference", func(t *testing.T) {
		newPhoneT(t, h, bob, "UDP").joinWith(open, addUser(conf(alice, closedKey), bob)).refused(400, c3p.DiagInvalidConferenceEntity)
	})
	t.Run("targets an MCU", func(t *testing.T) {
		cmd := addUser(open, bob)
		cmd.MCU.URI = c3p.ConferenceURI(alice, c3p.MCUTypeAudioVideo, openKey)
		newPhoneT(t, h, bob, "UDP").joinWith(open, cmd).refused(400, c3p.DiagCannotTargetMCU)
	})
	t.Run("joins as somebody else", func(t *testing.T) {
		newPhoneT(t, h, bob, "UDP").joinWith(open, addUser(open, alice)).refused(403, c3p.DiagInvalidTargetUser)
	})
	t.Run("C3P from another user", func(t *testing.T) {
		body, err := (&c3p.Request{
			Header:  c3p.Header{Version: c3p.Version, RequestID: 9, From: alice, To: open},
			Command: addUser(open, bob),
		}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p.joinBody(open, c3p.ContentType, body).refused(403, c3p.DiagBadFrom)
	})
	t.Run("not a focus URI", func(t *testing.T) {
		c := p.joinWith(c3p.ConferenceURI(alice, c3p.MCUTypeAudioVideo, openKey), addUser(open, bob))
		// focus.Handles keeps it from the Focus, as the server routes.
		if c.res.StatusCode != 404 {
			t.Errorf("got %d, want 404", c.res.StatusCode)
		}
	})
	if len(h.f().Active()) != 0 {
		t.Errorf("malformed joins activated %v", h.f().Active())
	}
}

// TestJoinOrganizerDisabled: a meeting whose organizer was disabled cannot
// be activated.
func TestJoinOrganizerDisabled(t *testing.T) {
	h := newHarness(t)
	if _, err := h.db.UpdateUser(context.Background(), dave, func(u *directory.User) error {
		u.Enabled = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := newPhone(h, anon).join(conf(dave, smallKey))
	c.refused(403, c3p.DiagAuthorizationFailed)
}

// TestTrustedServiceJoin: a trusted service joins a running meeting
// outside the roster, and cannot activate one.
func TestTrustedServiceJoin(t *testing.T) {
	h := newHarness(t)
	svc := newPhone(h, "sip:cas@pool.parley.test")
	trusted := sip.NewHeader("X-Test-Trusted", "1")
	svc.join(conf(alice, openKey), trusted).refused(404, c3p.DiagInvalidConferenceURI)

	newPhone(h, alice).join(conf(alice, openKey)).ok()
	svc.join(conf(alice, openKey), trusted).ok()
	s := newPhone(h, alice).subscribe(conf(alice, openKey), msClient)
	if got, want := users(s.piggyDoc()), []string{alice + " presenter"}; !slices.Equal(got, want) {
		t.Errorf("roster = %q, want %q (the service hidden)", got, want)
	}
}
