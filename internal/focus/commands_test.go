package focus_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// The control commands in INFO and who may send them.

// meetingOf4 is the open meeting with alice (organizer), bob (presenter),
// carol and dave (attendees) in it, and a watcher subscribed.
type meetingOf4 struct {
	h                       *harness
	conf                    string
	alice, bob, carol, dave *call
	watch                   *sub
}

func newMeetingOf4(t *testing.T) *meetingOf4 {
	t.Helper()
	h := newHarness(t)
	m := &meetingOf4{h: h, conf: conf(alice, openKey)}
	m.alice = newPhone(h, alice).join(m.conf)
	m.alice.ok()
	m.bob = newPhone(h, bob).join(m.conf)
	m.bob.ok()
	m.carol = newPhone(h, carol).join(m.conf)
	m.carol.ok()
	m.dave = newPhone(h, dave).join(m.conf)
	m.dave.ok()
	m.watch = newPhone(h, alice).subscribe(m.conf, msClient)
	return m
}

// roster is what a new subscriber sees.
func (m *meetingOf4) roster(t *testing.T) *c3p.ConferenceInfo {
	t.Helper()
	return newPhone(m.h, alice).subscribe(m.conf, msClient).piggyDoc()
}

func userKeys(conference, user string) *c3p.UserKeys {
	return &c3p.UserKeys{ConfEntity: conference, UserEntity: user}
}

func TestCommandLock(t *testing.T) {
	m := newMeetingOf4(t)
	yes, no := true, false
	lock := func(v *bool) *c3p.ModifyConferenceLock {
		return &c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}, Locked: v}
	}
	m.carol.info(lock(&yes)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(lock(nil)).failed(t, "requestMalformed", 0)
	m.bob.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: conf(alice, closedKey)}, Locked: &yes}).
		failed(t, "requestMalformed", c3p.DiagInvalidConferenceEntity)
	got := m.bob.info(lock(&yes)).ok(t).(*c3p.ModifyConferenceLock)
	if got.Locked == nil || !*got.Locked {
		t.Errorf("answer %+v, want locked", got)
	}
	if ci := m.roster(t); !*ci.ConferenceState.Locked {
		t.Error("roster not locked")
	}
	m.alice.info(lock(&no)).ok(t)
	if ci := m.roster(t); *ci.ConferenceState.Locked {
		t.Error("roster still locked")
	}
	siptest.Eventually(t, "the lock relayed to the MCU", func() bool {
		return slices.Contains(m.h.mcus.log(), "modifyConferenceLock")
	})
	// Two changes, two notifications; the failed attempts none.
	if n := len(m.watch.waitNotes(2)); n != 2 {
		t.Errorf("%d notifications, want 2", n)
	}
}

func TestCommandRoles(t *testing.T) {
	m := newMeetingOf4(t)
	roles := func(user string, role ...string) *c3p.ModifyUserRoles {
		return &c3p.ModifyUserRoles{Keys: userKeys(m.conf, user), Roles: role}
	}
	m.carol.info(roles(dave, "presenter")).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(roles(alice, "attendee")).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(roles(dave, "organizer")).failed(t, "invalidRole", c3p.DiagInvalidRole)
	m.bob.info(roles(dave, "presenter", "attendee")).failed(t, "invalidRole", c3p.DiagInvalidRole)
	m.bob.info(roles(gina, "presenter")).failed(t, "userDoesNotExist", c3p.DiagInvalidTargetUser)

	m.bob.info(roles(carol, "presenter")).ok(t)
	m.alice.info(roles(bob, "attendee")).ok(t)
	got := users(m.roster(t))
	want := []string{alice + " presenter", bob + " attendee", carol + " presenter", dave + " attendee"}
	if !slices.Equal(got, want) {
		t.Errorf("roster = %q, want %q", got, want)
	}
	// bob, demoted, may no longer lock; carol, promoted, may.
	yes := true
	m.bob.info(&c3p.ModifyConferenceLock{Locked: &yes}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.carol.info(&c3p.ModifyConferenceLock{Locked: &yes}).ok(t)
	siptest.Eventually(t, "the new roles told to the MCU", func() bool {
		var presenters int
		for _, c := range m.h.mcus.commands() {
			if add, ok := c.cmd.(*c3p.AddUser); ok && add.User.Entity == carol && add.User.Roles[0] == "presenter" {
				presenters++
			}
		}
		return presenters == 1
	})
}

func TestCommandDeleteUser(t *testing.T) {
	m := newMeetingOf4(t)
	m.carol.info(&c3p.DeleteUser{Keys: userKeys(m.conf, dave)}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(&c3p.DeleteUser{Keys: userKeys(m.conf, alice)}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(&c3p.DeleteUser{Keys: userKeys(m.conf, gina)}).failed(t, "userDoesNotExist", c3p.DiagInvalidTargetUser)

	m.bob.info(&c3p.DeleteUser{Keys: userKeys(m.conf, dave)}).ok(t)
	m.dave.waitBye()
	m.carol.info(&c3p.DeleteUser{Keys: userKeys(m.conf, carol)}).ok(t) // herself
	m.carol.waitBye()
	got := users(m.roster(t))
	if want := []string{alice + " presenter", bob + " presenter"}; !slices.Equal(got, want) {
		t.Errorf("roster = %q, want %q", got, want)
	}
	siptest.Eventually(t, "the MCU told", func() bool {
		log := m.h.mcus.log()
		return slices.Contains(log, "deleteUser "+dave) && slices.Contains(log, "deleteUser "+carol)
	})
	// An ejected participant's dialog is gone.
	if r := m.dave.infoBody(c3p.ContentType, m.dave.p.c3pBody(m.conf, &c3p.ModifyConferenceLock{})); r.res.StatusCode != 481 {
		t.Errorf("INFO in an ejected participant's dialog: %d, want 481", r.res.StatusCode)
	}
}

func TestCommandMute(t *testing.T) {
	m := newMeetingOf4(t)
	ctx := context.Background()
	for _, u := range []string{alice, bob, carol, dave} {
		m.h.f().LegJoined(m.conf, u, "leg-"+u)
	}
	caller, err := m.h.f().AddDialInUser(ctx, m.conf, focus.DialIn{User: dave})
	if err != nil {
		t.Fatal(err)
	}
	if caller != dave {
		t.Fatalf("an authenticated caller's entity is %q, want %s", caller, dave)
	}

	m.carol.info(muteCmd(m.conf, dave, true)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.carol.info(muteCmd(m.conf, carol, true)).ok(t) // herself
	m.carol.info(muteCmd(m.conf, carol, false)).ok(t)
	m.bob.info(muteCmd(m.conf, dave, true)).ok(t)
	bad := muteCmd(m.conf, dave, true)
	bad.MCU.URI = c3p.ConferenceURI(alice, c3p.MCUTypeAudioVideo, closedKey)
	m.bob.info(bad).failed(t, "requestMalformed", c3p.DiagInvalidMCUURI)
	bad = muteCmd(m.conf, dave, true)
	bad.Media.IngressFilter = "maybe"
	m.bob.info(bad).failed(t, "requestMalformed", 0)
	bad = muteCmd(m.conf, dave, true)
	bad.Media.Type = "video"
	m.bob.info(bad).failed(t, "requestMalformed", 0)

	want := []string{
		"modifyEndpointMedia " + carol, "modifyEndpointMedia " + carol, "modifyEndpointMedia " + dave,
	}
	if got := mediaCalls(m.h.mcus); !slices.Equal(got, want) {
		t.Errorf("MCU media commands = %q, want %q", got, want)
	}
	if !muted(m.roster(t), dave) || muted(m.roster(t), carol) {
		t.Error("roster: want dave muted and carol not")
	}

	// The MCU refuses: the command fails and the roster does not change.
	m.h.mcus.setFail("modifyEndpointMedia", true)
	m.bob.info(muteCmd(m.conf, carol, true)).failed(t, "otherFailure", 0)
	if muted(m.roster(t), carol) {
		t.Error("roster shows a mute the MCU refused")
	}
	m.h.mcus.setFail("modifyEndpointMedia", false)

	// A participant without audio is muted in the roster, and at the MCU
	// when his audio arrives.
	m.h.f().LegLeft(m.conf, carol, "leg-"+carol, "bye")
	before := len(mediaCalls(m.h.mcus))
	m.bob.info(muteCmd(m.conf, carol, true)).ok(t)
	m.h.f().LegJoined(m.conf, carol, "leg-2-"+carol)
	siptest.Eventually(t, "carol's new leg muted at the MCU", func() bool { return len(mediaCalls(m.h.mcus)) == before+1 })
	if !muted(m.roster(t), carol) {
		t.Error("carol's new audio is not muted")
	}
}

// mediaCalls are the modifyEndpointMedia commands the MCU got.
func mediaCalls(m *fakeMCUs) []string {
	var out []string
	for _, l := range m.log() {
		if strings.HasPrefix(l, "modifyEndpointMedia") {
			out = append(out, l)
		}
	}
	return out
}

// muted reports whether a user's audio shows muted in a roster.
func muted(ci *c3p.ConferenceInfo, user string) bool {
	u := find(ci, user)
	if u == nil {
		return false
	}
	for _, e := range u.Endpoints {
		for _, md := range e.Media {
			if md.Type == "audio" && md.Status == "recvonly" && md.IngressFilter == "block" {
				return true
			}
		}
	}
	return false
}

// audienceCmd is Parley's mute (or unmute) of every attendee.
func audienceCmd(conference string, mute bool) *c3p.ModifyEndpointMedia {
	cmd := muteCmd(conference, "", mute)
	cmd.Keys = &c3p.MediaKeys{ConfEntity: conference}
	cmd.SetScope(c3p.ScopeAttendees)
	return cmd
}

func TestCommandMuteAudience(t *testing.T) {
	m := newMeetingOf4(t)
	for _, u := range []string{alice, bob, carol, dave} {
		m.h.f().LegJoined(m.conf, u, "leg-"+u)
	}
	m.carol.info(audienceCmd(m.conf, true)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	got := m.bob.info(audienceCmd(m.conf, true)).ok(t).(*c3p.ModifyEndpointMedia)
	if got.Scope() != c3p.ScopeAttendees {
		t.Errorf("answer scope %q", got.Scope())
	}
	ci := m.roster(t)
	for user, want := range map[string]bool{alice: false, bob: false, carol: true, dave: true} {
		if muted(ci, user) != want {
			t.Errorf("%s muted = %v, want %v", user, !want, want)
		}
	}
	// Attendees may not unmute themselves while the audience is muted;
	// one who joins now is muted at once.
	m.carol.info(muteCmd(m.conf, carol, false)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	newPhone(m.h, frank).join(m.conf).ok()
	m.h.f().LegJoined(m.conf, frank, "leg-frank")
	siptest.Eventually(t, "frank's leg muted", func() bool { return slices.Contains(mediaCalls(m.h.mcus), "modifyEndpointMedia "+frank) })
	if !muted(m.roster(t), frank) {
		t.Error("an attendee who joined a muted audience is not muted")
	}
	m.alice.info(audienceCmd(m.conf, false)).ok(t)
	ci = m.roster(t)
	for _, u := range []string{carol, dave, frank} {
		if muted(ci, u) {
			t.Errorf("%s still muted", u)
		}
	}
	m.carol.info(muteCmd(m.conf, carol, true)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, false)).ok(t)
}

func TestCommandDeleteConference(t *testing.T) {
	m := newMeetingOf4(t)
	m.carol.info(&c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	got := m.bob.info(&c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}}).ok(t).(*c3p.DeleteConference)
	if got.ConferenceInfo == nil || got.ConferenceInfo.Entity != m.conf {
		t.Errorf("answer %+v, want the conference named ([MS-CONFBAS] §2.2.3.14)", got)
	}
	for _, c := range []*call{m.alice, m.bob, m.carol, m.dave} {
		c.waitBye()
	}
	checkEnded(t, m.h, m.conf, m.watch)
}

// checkEnded checks what a deactivation leaves: the subscriber's last
// notification, the meeting inactive, the MCUs released, the state
// deleted.
func checkEnded(t *testing.T, h *harness, conference string, watch *sub) {
	t.Helper()
	siptest.Eventually(t, "the end of the meeting", func() bool { return len(h.f().Active()) == 0 })
	notes := watch.notes()
	siptest.Eventually(t, "the last notification", func() bool {
		notes = watch.notes()
		return len(notes) > 0 && strings.HasPrefix(notes[len(notes)-1].state, "terminated")
	})
	last := notes[len(notes)-1]
	if last.state != "terminated;reason=noresource" {
		t.Errorf("last Subscription-State %q", last.state)
	}
	if ci := last.doc(t); ci.ConferenceState == nil || ci.ConferenceState.Active == nil || *ci.ConferenceState.Active {
		t.Errorf("last document does not say the conference ended: %s", last.body)
	}
	_, _, key, _ := c3p.ParseConferenceURI(conference)
	org, _, _, _ := c3p.ParseConferenceURI(conference)
	siptest.Eventually(t, "the meeting marked inactive", func() bool { return !h.meeting(org, key).Active })
	for _, typ := range []string{av, chat} {
		siptest.Eventually(t, "the "+typ+" MCU released", func() bool {
			log := h.mcus.logOf(typ)
			return len(log) > 0 && log[len(log)-1] == "deleteConference" && slices.Contains(h.mcus.releasedOf(typ), conference)
		})
	}
	siptest.Eventually(t, "the state deleted", func() bool { return !h.states.has(conference) })
}

func TestCommandOthers(t *testing.T) {
	m := newMeetingOf4(t)
	t.Run("not implemented", func(t *testing.T) {
		r := m.bob.info(&c3p.GetConference{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}})
		r.failed(t, "notImplemented", c3p.DiagNotImplemented)
		if m := r.res.GetHeader("ms-diagnostics-public"); m == nil {
			t.Error("3004 goes in ms-diagnostics-public ([MS-OCER] §8.4)")
		}
	})
	t.Run("not C3P", func(t *testing.T) {
		if r := m.bob.infoBody("text/plain", []byte("hello")); r.res.StatusCode != 415 {
			t.Errorf("got %d, want 415", r.res.StatusCode)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if r := m.bob.infoBody(c3p.ContentType, []byte("<request")); r.res.StatusCode != 400 {
			t.Errorf("got %d, want 400", r.res.StatusCode)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		body := []byte(`<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="7" from="` + bob +
			`" to="` + m.conf + `"><frobnicate/></request>`)
		r := m.bob.infoBody(c3p.ContentType, body)
		if r.res.StatusCode != 200 || !strings.HasPrefix(r.diag, "3004;") {
			t.Errorf("got %d diag %q, want a C3P failure with 3004", r.res.StatusCode, r.diag)
		}
	})
	t.Run("from another user", func(t *testing.T) {
		body, err := (&c3p.Request{
			Header:  c3p.Header{Version: c3p.Version, RequestID: 3, From: alice, To: m.conf},
			Command: &c3p.ModifyConferenceLock{},
		}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m.bob.infoBody(c3p.ContentType, body).failed(t, "unauthorized", c3p.DiagBadFrom)
	})
	t.Run("to another conference", func(t *testing.T) {
		body, err := (&c3p.Request{
			Header:  c3p.Header{Version: c3p.Version, RequestID: 4, From: bob, To: conf(alice, closedKey)},
			Command: &c3p.ModifyConferenceLock{},
		}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m.bob.infoBody(c3p.ContentType, body).failed(t, "requestMalformed", c3p.DiagBadTo)
	})
}
