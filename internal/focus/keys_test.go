package focus_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// In-call keys and the announcements to dial-in callers.

// announcements are the pl:playAnnouncement commands the MCU got, as
// "user tone" or "user language prompt,prompt" lines.
func announcements(m *fakeMCUs) []string {
	var out []string
	for _, c := range m.commands() {
		a, ok := c.cmd.(*c3p.PlayAnnouncement)
		if !ok {
			continue
		}
		if a.Tone != "" {
			out = append(out, a.Keys.UserEntity+" "+a.Tone)
			continue
		}
		out = append(out, a.Keys.UserEntity+" "+a.Language+" "+strings.Join(a.Prompts, ","))
	}
	return out
}

// dialRoom is the anonymous meeting with alice dialed in by her PIN (in
// German) and an anonymous caller (in French), both with their legs at
// the MCU, and a watcher subscribed.
type dialRoom struct {
	h      *harness
	conf   string
	caller string
	watch  *sub
	seen   int // announcements checked so far
}

func newDialRoom(t *testing.T) *dialRoom {
	t.Helper()
	h := newHarness(t)
	ctx := context.Background()
	r := &dialRoom{h: h, conf: conf(alice, anonKey)}
	if _, err := h.f().AddDialInUser(ctx, r.conf, focus.DialIn{User: alice, Language: "de-DE"}); err != nil {
		t.Fatal(err)
	}
	h.f().LegJoined(r.conf, alice, "leg-alice")
	var err error
	if r.caller, err = h.f().AddDialInUser(ctx, r.conf, focus.DialIn{CallerID: "+14255550100", Language: "fr-FR"}); err != nil {
		t.Fatal(err)
	}
	h.f().LegJoined(r.conf, r.caller, "leg-caller")
	r.watch = newPhone(h, "sip:watcher@fabrikam.test").subscribe(r.conf, msClient)
	return r
}

// press sends keys from a user's leg.
func (r *dialRoom) press(user, leg, keys string) {
	for _, k := range keys {
		r.h.f().DTMF(r.conf, user, leg, k)
	}
}

// expect checks the announcements since the last check. To know that
// nothing else is on its way, it ends with a flush: the caller's invalid
// *9, which the Focus handles and the MCU receives after everything
// issued before it.
func (r *dialRoom) expect(t *testing.T, want ...string) {
	t.Helper()
	// A mute is announced once the MCU did it (two hops through the io
	// worker): wait for what is expected before flushing.
	var got []string
	siptest.Eventually(t, fmt.Sprintf("announcements %q", want), func() bool {
		got = announcements(r.h.mcus)[r.seen:]
		return len(got) >= len(want)
	})
	r.press(r.caller, "leg-caller", "*9")
	flush := r.caller + " fr-FR invalid_option"
	want = append(slices.Clone(want), flush)
	siptest.Eventually(t, "the flush announcement", func() bool {
		got = announcements(r.h.mcus)[r.seen:]
		return len(got) > 0 && got[len(got)-1] == flush
	})
	if !slices.Equal(got, want) {
		t.Errorf("announcements:\n got %q\nwant %q", got, want)
	}
	r.seen += len(got)
}

func (r *dialRoom) locked(t *testing.T) bool {
	t.Helper()
	ci := newPhone(r.h, alice).subscribe(r.conf, msClient).piggyDoc()
	return ci.ConferenceState != nil && ci.ConferenceState.Locked != nil && *ci.ConferenceState.Locked
}

func TestKeysHelpAndInvalid(t *testing.T) {
	r := newDialRoom(t)
	// Entry tones are the Conference Announcement Service's: the Focus
	// plays nothing when people join.
	r.expect(t)
	r.press(r.caller, "leg-caller", "*1")
	r.press(alice, "leg-alice", "*1")
	r.press(alice, "leg-alice", "*#")
	r.press(alice, "leg-alice", "**0")
	r.expect(t,
		r.caller+" fr-FR help",
		alice+" de-DE help,help_leader",
		alice+" de-DE invalid_option",
		alice+" de-DE invalid_option",
	)
	// A digit alone, a digit 3 s after the star, keys of a leg the roster
	// does not know, keys of somebody not in the meeting: nothing.
	r.press(alice, "leg-alice", "1")
	r.press(alice, "leg-alice", "*")
	r.h.clock.Advance(3*time.Second + time.Millisecond)
	r.press(alice, "leg-alice", "1")
	r.press(alice, "leg-other", "*1")
	r.press(carol, "leg-alice", "*1")
	r.expect(t)
	// Exactly 3 s is still in time.
	r.press(alice, "leg-alice", "*")
	r.h.clock.Advance(3 * time.Second)
	r.press(alice, "leg-alice", "1")
	r.expect(t, alice+" de-DE help,help_leader")
}

func TestKeysLock(t *testing.T) {
	r := newDialRoom(t)
	r.expect(t)
	r.press(r.caller, "leg-caller", "*7")
	r.expect(t, r.caller+" fr-FR leader_only")
	if r.locked(t) {
		t.Fatal("an attendee's *7 locked the meeting")
	}
	before := len(r.watch.notes())
	r.press(alice, "leg-alice", "*7")
	r.expect(t, alice+" de-DE meeting_locked_now")
	if !r.locked(t) {
		t.Fatal("alice's *7 did not lock the meeting")
	}
	n := r.watch.nth(before + 1).doc(t)
	if n.ConferenceState == nil || n.ConferenceState.Locked == nil || !*n.ConferenceState.Locked {
		t.Errorf("the subscriber was not told of the lock: %+v", n.ConferenceState)
	}
	siptest.Eventually(t, "the MCU told of the lock", func() bool { return slices.Contains(r.h.mcus.log(), "modifyConferenceLock") })
	// Locked: a new caller is refused, as with the C3P command.
	if _, err := r.h.f().AddDialInUser(context.Background(), r.conf, focus.DialIn{}); err == nil {
		t.Error("a caller joined a meeting locked by *7")
	}
	r.press(alice, "leg-alice", "*7")
	r.expect(t, alice+" de-DE meeting_unlocked_now")
	if r.locked(t) {
		t.Error("alice's second *7 did not unlock the meeting")
	}
}

// mediaOf returns the modifyEndpointMedia filters the MCU got for user.
func mediaOf(m *fakeMCUs, user string) []string {
	var out []string
	for _, c := range m.commands() {
		if me, ok := c.cmd.(*c3p.ModifyEndpointMedia); ok && me.Keys.UserEntity == user {
			out = append(out, me.Media.IngressFilter)
		}
	}
	return out
}

func TestKeysMuteAndWhoMuted(t *testing.T) {
	r := newDialRoom(t)
	r.expect(t)
	// The caller mutes and unmutes himself.
	// (What he hears of it is the Conference Announcement Service's,
	// from the roster: the Focus plays nothing.)
	r.press(r.caller, "leg-caller", "*6")
	r.mutedBy(t, r.caller, "self")
	r.expect(t)
	r.press(r.caller, "leg-caller", "*6")
	r.mutedBy(t, r.caller, "")
	r.expect(t)
	if got := mediaOf(r.h.mcus, r.caller); !slices.Equal(got, []string{"block", "unblock"}) {
		t.Errorf("MCU media commands for the caller %q", got)
	}

	// alice, by her client, mutes him: he hears it and cannot undo it.
	a := newPhone(r.h, alice).join(r.conf)
	a.ok()
	a.info(muteCmd(r.conf, r.caller, true)).ok(t)
	r.mutedBy(t, r.caller, "leader")
	r.expect(t)
	r.press(r.caller, "leg-caller", "*6")
	r.expect(t, r.caller+" fr-FR cannot_unmute")
	if !muted(newPhone(r.h, alice).subscribe(r.conf, msClient).piggyDoc(), r.caller) {
		t.Error("a refused *6 unmuted the caller")
	}
	// alice unmutes him; a mute of his own is then his to undo.
	a.info(muteCmd(r.conf, r.caller, false)).ok(t)
	r.mutedBy(t, r.caller, "")
	r.press(r.caller, "leg-caller", "*6")
	r.mutedBy(t, r.caller, "self")
	r.press(r.caller, "leg-caller", "*6")
	r.mutedBy(t, r.caller, "")
	// A leader mutes and unmutes herself by key.
	r.press(alice, "leg-alice", "*6")
	r.mutedBy(t, alice, "self")
	r.press(alice, "leg-alice", "*6")
	r.mutedBy(t, alice, "")
	r.expect(t)
	if got := mediaOf(r.h.mcus, r.caller); !slices.Equal(got, []string{"block", "unblock", "block", "unblock", "block", "unblock"}) {
		t.Errorf("MCU media commands for the caller %q", got)
	}
}

// TestLeaderMuteRuleInC3P: the who-muted rule holds for clients too: an
// attendee a leader muted may not unmute himself with
// modifyEndpointMedia, one who muted himself may.
func TestLeaderMuteRuleInC3P(t *testing.T) {
	m := newMeetingOf4(t)
	m.carol.info(muteCmd(m.conf, carol, true)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, false)).ok(t)
	m.bob.info(muteCmd(m.conf, carol, true)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, false)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	// Who muted her survives a restart of the Focus.
	m.h.restart()
	m.carol.info(muteCmd(m.conf, carol, false)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	m.bob.info(muteCmd(m.conf, carol, false)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, true)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, false)).ok(t)
	// A leader's mute of the audience is a leader's mute too.
	m.bob.info(audienceCmd(m.conf, true)).ok(t)
	m.carol.info(muteCmd(m.conf, carol, false)).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	// Presenters unmute themselves whoever muted them.
	m.alice.info(muteCmd(m.conf, bob, true)).ok(t)
	m.bob.info(muteCmd(m.conf, bob, false)).ok(t)
	// Nobody here dialed in: nobody heard anything.
	if got := announcements(m.h.mcus); len(got) != 0 {
		t.Errorf("announcements to clients: %q", got)
	}
}

// mutedBy waits until the roster shows who muted user: "self", "leader",
// or "" for not muted. The Conference Announcement Service reads it
// (pl:muted-by) to tell a caller whether *6 can undo his mute.
func (r *dialRoom) mutedBy(t *testing.T, user, want string) {
	t.Helper()
	var got string
	siptest.Eventually(t, fmt.Sprintf("%s muted by %q", user, want), func() bool {
		ci := newPhone(r.h, alice).subscribe(r.conf, msClient).piggyDoc()
		got = mutedByOf(ci, user)
		return got == want
	})
}

// mutedByOf is the pl:muted-by of user's audio, "" when he is not muted.
func mutedByOf(ci *c3p.ConferenceInfo, user string) string {
	if !muted(ci, user) {
		return ""
	}
	for _, e := range find(ci, user).Endpoints {
		for _, md := range e.Media {
			if el := md.Extension(c3p.NamespaceParley, "muted-by"); el != nil {
				return el.Text
			}
		}
	}
	return "muted, by nobody"
}
