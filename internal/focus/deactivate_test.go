package focus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// Each deactivation rule of seed 003, "Meeting Deactivation", with fake
// time. (The organizer or a presenter ending it: TestCommandDeleteConference.)

func TestDeactivateOrganizerRemoved(t *testing.T) {
	m := newMeetingOf4(t)
	if n := m.h.f().OrganizerRemoved(bob); n != 0 {
		t.Errorf("a presenter's removal ended %d meetings", n)
	}
	if n := m.h.f().OrganizerRemoved(alice); n != 1 {
		t.Errorf("ended %d meetings, want 1", n)
	}
	for _, c := range []*call{m.alice, m.bob, m.carol, m.dave} {
		c.waitBye()
	}
	checkEnded(t, m.h, m.conf, m.watch)
}

func TestDeactivateEveryoneLeft(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	a := newPhone(h, alice).join(open)
	a.ok()
	b := newPhone(h, bob).join(open)
	b.ok()
	cas := subOpts{benotify: true, piggyback: true, expires: 3600, trusted: true}
	watch := newPhone(h, "sip:cas@pool.parley.test").subscribe(open, cas)
	a.bye()
	if got := h.f().Active(); len(got) != 1 {
		t.Fatalf("the meeting ended with bob still in it")
	}
	b.bye()
	checkEnded(t, h, open, watch)
}

func TestDeactivateIdle(t *testing.T) {
	h := newHarness(t, func(cfg *focus.Config) { cfg.IdleTimeout = 24 * time.Hour })
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	h.clock.Advance(23 * time.Hour)
	newPhone(h, bob).join(open).ok() // the last join is now 23:00
	h.clock.Advance(23*time.Hour + 59*time.Minute)
	settle(h, open, alice)
	if len(h.f().Active()) != 1 {
		t.Fatal("ended before 24 hours passed since the last join")
	}
	watch := newPhone(h, alice).subscribe(open, msClient)
	h.clock.Advance(time.Minute)
	checkEnded(t, h, open, watch)
}

func TestDeactivateNoEnterpriseUser(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)
	newPhone(h, anon).join(anonConf).ok() // anonymous: no enterprise user from the start
	watch := newPhone(h, "sip:watcher@fabrikam.test").subscribe(anonConf, msClient)
	h.clock.Advance(5 * time.Minute)
	d := newPhone(h, dave).join(anonConf) // an enterprise user stops the clock
	d.ok()
	h.clock.Advance(20 * time.Minute)
	settle(h, anonConf, anon)
	if len(h.f().Active()) != 1 {
		t.Fatal("ended with an enterprise user in the meeting")
	}
	d.bye() // 25 min: the clock starts again
	h.clock.Advance(9*time.Minute + 59*time.Second)
	settle(h, anonConf, anon)
	if len(h.f().Active()) != 1 {
		t.Fatal("ended before 10 minutes without an enterprise user")
	}
	h.clock.Advance(time.Second)
	checkEnded(t, h, anonConf, watch)
}

// TestDeactivateAndReactivate: a deactivated meeting can be joined again
// until it expires; the new activation starts afresh.
func TestDeactivateAndReactivate(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	a := newPhone(h, alice).join(open)
	a.ok()
	a.info(&c3p.DeleteConference{}).ok(t)
	siptest.Eventually(t, "the end", func() bool { return len(h.f().Active()) == 0 && !h.meeting(alice, openKey).Active })
	h.clock.Advance(time.Hour)
	newPhone(h, bob).join(open).ok()
	m := h.meeting(alice, openKey)
	if !m.Active || !m.LastActivatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("Active=%v LastActivatedAt=%v, want a new activation at %v", m.Active, m.LastActivatedAt, t0.Add(time.Hour))
	}
	ci := newPhone(h, bob).subscribe(open, msClient).piggyDoc()
	if got := users(ci); !slices.Equal(got, []string{bob + " presenter"}) {
		t.Errorf("roster after reactivation = %q", got)
	}
	siptest.Eventually(t, "a second MCU allocation", func() bool {
		n := 0
		for _, l := range h.mcus.log() {
			if l == "addConference" {
				n++
			}
		}
		return n == 2
	})
}

// settle waits until a meeting has processed what the clock fired: a
// fetch (SUBSCRIBE with Expires: 0) goes through the meeting's goroutine
// after the timers' work and changes nothing.
func settle(h *harness, conference, user string) {
	h.t.Helper()
	newPhone(h, user).subscribe(conference, subOpts{piggyback: true, expires: 0})
}
