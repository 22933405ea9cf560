package focus_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
)

// Restart in the middle of a meeting: the roster, the roles, the lock, the
// focus dialogs and the subscriptions survive; the media does not.

func TestRestartKeepsRosterAndRoles(t *testing.T) {
	m := newMeetingOf4(t)
	m.bob.info(&c3p.ModifyUserRoles{Keys: userKeys(m.conf, carol), Roles: []string{"presenter"}}).ok(t)
	yes := true
	m.alice.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}, Locked: &yes}).ok(t)
	caller, err := m.h.f().AddDialInUser(context.Background(), m.conf, focus.DialIn{CallerID: "+14255550199"})
	if err == nil {
		t.Fatalf("an anonymous caller joined an open meeting as %s", caller)
	}
	m.h.f().LegJoined(m.conf, dave, "leg-dave")
	before := m.roster(t)
	notesBefore := len(m.watch.waitNotes(3)) // role, lock, leg

	m.h.restart()
	if got := m.h.f().Active(); !slices.Equal(got, []string{m.conf}) {
		t.Fatalf("after the restart the Focus runs %q", got)
	}
	// The watcher is told that dave's audio went with the old server.
	n := m.watch.nth(notesBefore + 1)
	if u := find(n.doc(t), dave); u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].SessionType != "focus" {
		t.Errorf("after the restart dave's entry is %+v, want his focus endpoint only", u)
	}
	after := m.roster(t)
	if got, want := users(after), users(before); !slices.Equal(got, want) {
		t.Errorf("roster after the restart = %q, want %q", got, want)
	}
	if !*after.ConferenceState.Locked {
		t.Error("the lock was lost")
	}
	// The old focus dialogs still work: carol, promoted before the
	// restart, unlocks; dave, an attendee, still may not.
	no := false
	m.dave.info(&c3p.ModifyConferenceLock{Locked: &no}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.carol.info(&c3p.ModifyConferenceLock{Locked: &no}).ok(t)
	// The old subscription goes on with the next version.
	last := m.watch.nth(notesBefore + 2)
	if last.version != m.watch.nth(notesBefore+1).version+1 {
		t.Errorf("versions after the restart: %d then %d", m.watch.nth(notesBefore+1).version, last.version)
	}
	// The MCU was provisioned again with everyone on it.
	eventually(t, "the MCU provisioned again", func() bool {
		log := m.h.mcus.log()
		i := slices.Index(log[1:], "addConference") + 1
		if i == 0 {
			return false
		}
		rest := log[i+1:]
		for _, u := range []string{alice, bob, carol, dave} {
			if !slices.Contains(rest, "addUser "+u) {
				return false
			}
		}
		return true
	})
	// Leaving and ending still work.
	m.dave.bye()
	m.alice.info(&c3p.DeleteConference{}).ok(t)
	for _, c := range []*call{m.alice, m.bob, m.carol} {
		c.waitBye()
	}
	checkEnded(t, m.h, m.conf, m.watch)
}

// TestRestartDropsCallers: dial-in callers live by their calls, which end
// with the MCU; a meeting left with nobody ends.
func TestRestartDropsCallers(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)
	caller, err := h.f().AddDialInUser(context.Background(), anonConf, focus.DialIn{CallerID: "+14255550199"})
	if err != nil {
		t.Fatal(err)
	}
	h.f().LegJoined(anonConf, caller, "leg-1")
	watch := newPhone(h, "sip:cas@pool.parley.test").subscribe(anonConf, subOpts{benotify: true, piggyback: true, expires: 3600, trusted: true})
	eventually(t, "a snapshot", func() bool { return h.states.has(anonConf) })
	h.restart()
	checkEnded(t, h, anonConf, watch)
}

// TestResumeForgetsEndedMeetings: a snapshot of a meeting that is no
// longer active is not resumed, and is deleted.
func TestResumeForgetsEndedMeetings(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	eventually(t, "a snapshot", func() bool { return h.states.has(open) })
	snap, _ := h.states.Load(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.f().Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.states.has(open) {
		t.Fatal("Close deleted the state it is meant to keep")
	}
	if _, err := h.db.UpdateMeeting(ctx, alice, openKey, func(m *directory.Meeting) error {
		m.Active = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A corrupt snapshot is dropped too.
	_ = h.states.Save(ctx, conf(alice, closedKey), []byte("{"))
	f, err := focus.New(h.cfg, h.log)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Resume(ctx)
	if err != nil || n != 0 {
		t.Errorf("Resume = %d, %v; want 0 meetings", n, err)
	}
	if h.states.has(open) || h.states.has(conf(alice, closedKey)) {
		t.Error("stale snapshots kept")
	}
	_ = f.Close(ctx)
	var s map[string]any
	if err := json.Unmarshal(snap[open], &s); err != nil || s["conference"] != open {
		t.Errorf("snapshot is not the conference's JSON: %v %s", err, snap[open])
	}
}
