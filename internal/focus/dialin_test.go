package focus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"
)

// Dial-in callers added by the Conferencing Attendant (seed 001 step 11)
// and how the roster names them (seed 000).

func TestDialInNaming(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	anonConf := conf(alice, anonKey)
	add := func(in focus.DialIn) string {
		t.Helper()
		e, err := h.f().AddDialInUser(ctx, anonConf, in)
		if err != nil {
			t.Fatalf("AddDialInUser(%+v): %v", in, err)
		}
		return e
	}
	first := add(focus.DialIn{})
	second := add(focus.DialIn{Language: "fr-CA"})
	withID := add(focus.DialIn{CallerID: "tel:+14255550123;phone-context=redmond"})
	withSIPID := add(focus.DialIn{CallerID: "sip:+14255550124@gw.parley.test;user=phone"})
	named := add(focus.DialIn{User: bob})
	organizer := add(focus.DialIn{User: alice, DisplayName: "Alice (phone)"})
	if err := h.f().RemoveDialInUser(ctx, anonConf, second); err != nil {
		t.Fatal(err)
	}
	third := add(focus.DialIn{})

	ci := newPhone(h, "sip:watcher@fabrikam.test").subscribe(anonConf, msClient).piggyDoc()
	for _, tt := range []struct {
		entity, name, role string
	}{
		{first, "Unidentified Participant 1", "attendee"},
		{withID, "+14255550123", "attendee"},
		{withSIPID, "+14255550124", "attendee"},
		{named, "Bob Brown", "attendee"}, // listed presenter, but dial-in callers join as attendees
		{organizer, "Alice (phone)", "presenter"},
		{third, "Unidentified Participant 3", "attendee"}, // numbers are not reused
	} {
		u := find(ci, tt.entity)
		if u == nil {
			t.Errorf("%s (%s) not in the roster", tt.name, tt.entity)
			continue
		}
		if u.DisplayText == nil || *u.DisplayText != tt.name || !slices.Equal(u.Roles, []string{tt.role}) {
			t.Errorf("%s: display %v roles %v, want %q %s", tt.entity, u.DisplayText, u.Roles, tt.name, tt.role)
		}
		if len(u.Endpoints) != 1 || u.Endpoints[0].Status != "dialing-in" || u.Endpoints[0].JoiningMethod != c3p.JoiningDialedIn {
			t.Errorf("%s: endpoints %+v, want one dialing in", tt.entity, u.Endpoints)
		}
	}
	if find(ci, second) != nil {
		t.Error("a removed caller is still in the roster")
	}
	if named != bob || organizer != alice || !strings.HasSuffix(first, "@anonymous.invalid") {
		t.Errorf("entities: %s %s %s", named, organizer, first)
	}
	// Every caller is expected at the A/V MCU before AddDialInUser returns.
	log := h.mcus.log()
	for _, e := range []string{first, withID, named, third} {
		if !slices.Contains(log, "addUser "+e) {
			t.Errorf("the MCU was not told to expect %s", e)
		}
	}
	if !slices.Contains(log, "deleteUser "+second) {
		t.Error("the MCU was not told of the removed caller")
	}
}

func TestDialInRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tests := []struct {
		name string
		conf string
		in   focus.DialIn
		want error
	}{
		{"anonymous caller, open meeting", conf(alice, openKey), focus.DialIn{CallerID: "+1"}, focus.ErrUnauthorized},
		{"disabled user", conf(alice, anonKey), focus.DialIn{User: erin}, focus.ErrUnauthorized},
		{"federated user", conf(alice, anonKey), focus.DialIn{User: frank}, focus.ErrUnauthorized},
		{"expired meeting", conf(alice, expiredKey), focus.DialIn{User: alice}, focus.ErrNoMeeting},
		{"not a focus URI", "sip:alice@parley.test", focus.DialIn{}, focus.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.f().AddDialInUser(ctx, tt.conf, tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	anonConf := conf(alice, anonKey)
	a := newPhone(h, alice).join(anonConf)
	a.ok()
	yes := true
	a.info(&c3p.ModifyConferenceLock{Locked: &yes}).ok(t)
	if _, err := h.f().AddDialInUser(ctx, anonConf, focus.DialIn{}); !errors.Is(err, focus.ErrLocked) {
		t.Errorf("caller into a locked meeting: %v, want ErrLocked", err)
	}
	var r *focus.Refusal
	_, err := h.f().AddDialInUser(ctx, anonConf, focus.DialIn{})
	if !errors.As(err, &r) || r.Code != 403 || r.Reason != "conferenceLocked" {
		t.Errorf("refusal = %+v", r)
	}
	if err := h.f().RemoveDialInUser(ctx, anonConf, "sip:nobody@anonymous.invalid"); !errors.Is(err, focus.ErrNoUser) {
		t.Errorf("removing an unknown caller: %v, want ErrNoUser", err)
	}
	if err := h.f().RemoveDialInUser(ctx, conf(alice, openKey), alice); !errors.Is(err, focus.ErrNotActive) {
		t.Errorf("removing from a meeting that is not running: %v, want ErrNotActive", err)
	}
}

// TestDialInMCURefuses: a caller the A/V MCU will not take is not added.
func TestDialInMCURefuses(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	anonConf := conf(alice, anonKey)
	newPhone(h, alice).join(anonConf).ok()
	h.mcus.setFail("addUser", true)
	if _, err := h.f().AddDialInUser(ctx, anonConf, focus.DialIn{}); !errors.Is(err, focus.ErrMCU) {
		t.Fatalf("err = %v, want ErrMCU", err)
	}
	ci := newPhone(h, alice).subscribe(anonConf, msClient).piggyDoc()
	if got := users(ci); !slices.Equal(got, []string{alice + " presenter"}) {
		t.Errorf("roster = %q, want alice alone", got)
	}
}

// TestDialInActivatesAndLegs: a caller activates a meeting; his leg makes
// his endpoint connected; when it ends he leaves, and with him the
// meeting.
func TestDialInActivatesAndLegs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	anonConf := conf(alice, anonKey)
	caller, err := h.f().AddDialInUser(ctx, anonConf, focus.DialIn{CallerID: "+14255550100"})
	if err != nil {
		t.Fatal(err)
	}
	if !h.meeting(alice, anonKey).Active {
		t.Error("the caller did not activate the meeting")
	}
	watch := newPhone(h, "sip:watcher@fabrikam.test").subscribe(anonConf, msClient)
	h.f().LegJoined(anonConf, caller, "leg-1")
	h.f().LegJoined(anonConf, "sip:stranger@parley.test", "leg-x") // not in the roster: ignored
	n := watch.nth(1)
	u := find(n.doc(t), caller)
	if u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].Status != "connected" || u.Endpoints[0].SessionType != "audio-video" {
		t.Fatalf("after the leg joined: %+v", u)
	}
	if len(u.Endpoints[0].Media) != 1 || u.Endpoints[0].Media[0].ID != "1" || u.Endpoints[0].Media[0].Status != "sendrecv" {
		t.Errorf("media %+v, want audio 1 sendrecv", u.Endpoints[0].Media)
	}
	h.f().LegLeft(anonConf, caller, "leg-1", "bye")
	checkEnded(t, h, anonConf, watch)
	if got := len(watch.notes()); got != 3 {
		t.Errorf("%d notifications, want 3 (leg, leave, end): the stranger's leg must not count", got)
	}
}

// TestLegsOfAClient: a client's audio legs come and go beside his focus
// dialog; when he leaves the focus he stays while his audio does.
func TestLegsOfAClient(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	a := newPhone(h, alice).join(open)
	a.ok()
	b := newPhone(h, bob).join(open)
	b.ok()
	watch := newPhone(h, alice).subscribe(open, msClient)
	h.f().LegJoined(open, bob, "leg-1")
	h.f().LegJoined(open, bob, "leg-1") // repeated: no change
	h.f().LegJoined(open, bob, "leg-2")
	if u := find(watch.nth(2).doc(t), bob); u == nil || len(u.Endpoints) != 3 {
		t.Fatalf("bob with two legs: %+v", u)
	}
	b.bye()
	if u := find(watch.nth(3).doc(t), bob); u == nil || len(u.Endpoints) != 2 {
		t.Errorf("bob after leaving the focus, still in audio: %+v", u)
	}
	h.f().LegLeft(open, bob, "leg-1", "bye")
	h.f().LegLeft(open, bob, "leg-2", "bye")
	if got := users(watch.nth(5).doc(t)); !slices.Equal(got, []string{bob + " deleted"}) {
		t.Errorf("last update %q, want bob deleted", got)
	}
	if got := len(watch.notes()); got != 5 {
		t.Errorf("%d notifications, want 5", got)
	}
}
