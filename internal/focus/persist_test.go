package focus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
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
	siptest.Eventually(t, "the MCU provisioned again", func() bool {
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
	siptest.Eventually(t, "a snapshot", func() bool { return h.states.has(anonConf) })
	h.restart()
	checkEnded(t, h, anonConf, watch)
}

// TestResumeForgetsEndedMeetings: a snapshot of a meeting that is no
// longer active is not resumed, and is deleted.
func TestResumeForgetsEndedMeetings(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	siptest.Eventually(t, "a snapshot", func() bool { return h.states.has(open) })
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

// oldSnapshot is a snapshot written by the Focus before it kept its
// dialogs as sipx/dialog Dialogs, from the fields of its own dialog type:
// alice (organizer) and bob (presenter, in the audio, his focus dialog
// behind a Record-Route) with focus dialogs, a trusted service's dialog,
// and a trusted subscription that has used CSeq 3. Every peer, Contact
// and route is oldPeer.
const (
	oldSnapshot = "testdata/snapshot-v1-old-dialogs.json"
	oldPeer     = "192.0.2.10:5060"
)

// TestResumeOldSnapshot: a meeting saved by the older Focus resumes, and
// its dialogs go on where they were: the peer's CSeqs are still checked
// against what they had reached, and the Focus's requests carry the
// saved tags, the next CSeq and the route set.
func TestResumeOldSnapshot(t *testing.T) {
	h := newHarness(t)
	p := newPhone(h, alice)
	golden, err := os.ReadFile(oldSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	// The saved peers become the phone; nothing else of the old form
	// changes.
	snap := bytes.ReplaceAll(golden, []byte(oldPeer), []byte(p.addr))
	open := conf(alice, openKey)
	var head struct{ Conference string }
	if err := json.Unmarshal(snap, &head); err != nil || head.Conference != open {
		t.Fatalf("the golden snapshot is of %q (%v), want %q", head.Conference, err, open)
	}
	ctx := context.Background()
	if _, err := h.db.UpdateMeeting(ctx, alice, openKey, func(m *directory.Meeting) error {
		m.Active = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.states.Save(ctx, open, snap); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if got := h.f().Active(); !slices.Equal(got, []string{open}) {
		t.Fatalf("after resuming the old snapshot the Focus runs %q", got)
	}

	// Bob's audio went with the old server: the subscription hears of
	// it in a BENOTIFY with the CSeq after its saved 3, and the document
	// version after the saved 5.
	watch := &sub{p: p, conf: open, callID: "cas-sub-1@192.0.2.10", fromTag: "subtag", toTag: "focustag-w",
		cseq: 2, opts: subOpts{benotify: true, trusted: true}}
	if n := watch.nth(1); n.method != "BENOTIFY" || n.cseq != 4 || n.version != 6 {
		t.Errorf("first notification after resuming: %s CSeq %d version %d, want BENOTIFY CSeq 4 version 6", n.method, n.cseq, n.version)
	}
	// A refresh that takes the state in its 200 OK: the piggy-backed
	// state stands for a NOTIFY, whose CSeq no real one may reuse.
	watch.opts.piggyback = true
	res := watch.refresh(3600)
	pig := res.GetHeader("ms-piggyback-cseq")
	if res.StatusCode != 200 || pig == nil {
		t.Fatalf("refreshing the resumed subscription: %d %s, ms-piggyback-cseq %v", res.StatusCode, res.Reason, pig)
	}
	pigCSeq, err := strconv.ParseUint(pig.Value(), 10, 32)
	if err != nil || pigCSeq <= 4 {
		t.Errorf("ms-piggyback-cseq %q, want one after the BENOTIFY's 4", pig.Value())
	}

	// Alice's focus dialog had seen CSeq 4: an older one is out of order
	// (RFC 3261 §12.2.2; the Focus answers commands with a C3P failure),
	// a newer one is hers.
	yes := true
	lock := &c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: open}, Locked: &yes}
	if res := oldInfo(t, p, open, 3, lock); c3pSuccess(res) || !strings.Contains(warning(res), "CSeq out of order") {
		t.Errorf("INFO with CSeq 3 after 4: %d %q %s, want a failure for the CSeq", res.StatusCode, warning(res), res.Body())
	}
	if res := oldInfo(t, p, open, 5, lock); res.StatusCode != 200 || !c3pSuccess(res) {
		t.Errorf("alice locking in her resumed dialog: %d %s %s", res.StatusCode, warning(res), res.Body())
	}
	if res := oldInfo(t, p, open, 6, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: open}}); res.StatusCode != 200 || !c3pSuccess(res) {
		t.Fatalf("alice ending the meeting: %d %s %s", res.StatusCode, warning(res), res.Body())
	}

	// The end BYEs every saved dialog with its own tags and our first
	// CSeq in it; bob's goes by his route set.
	wantByes := map[string]struct{ from, to, route string }{
		"alice-call-1@192.0.2.10": {"focustag-a", "alicetag", ""},
		"bob-call-1@192.0.2.10":   {"focustag-b", "bobtag", "<sip:" + p.addr + ";lr>"},
		"cas-call-1@192.0.2.10":   {"focustag-s", "castag", ""},
	}
	var byes []*sip.Request
	siptest.Eventually(t, "a BYE in each resumed dialog", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		byes = slices.Clone(p.byes)
		return len(byes) >= len(wantByes)
	})
	for _, b := range byes {
		want, ok := wantByes[b.CallID().Value()]
		if !ok {
			t.Errorf("BYE in an unknown dialog %q", b.CallID().Value())
			continue
		}
		delete(wantByes, b.CallID().Value())
		from, _ := b.From().Params.Get("tag")
		to, _ := b.To().Params.Get("tag")
		route := ""
		if r := b.GetHeader("Route"); r != nil {
			route = r.Value()
		}
		if from != want.from || to != want.to || b.CSeq().SeqNo != 1 || route != want.route {
			t.Errorf("BYE in %s: tags %q/%q, CSeq %d, Route %q; want %q/%q, 1, %q",
				b.CallID().Value(), from, to, b.CSeq().SeqNo, route, want.from, want.to, want.route)
		}
	}
	siptest.Eventually(t, "the subscription's last notification", func() bool {
		n := watch.notes()
		return len(n) > 0 && n[len(n)-1].state == "terminated;reason=noresource"
	})
	notes := watch.notes()
	for _, n := range notes {
		if uint64(n.cseq) == pigCSeq {
			t.Errorf("a %s reuses the piggy-backed CSeq %d", n.method, pigCSeq)
		}
	}
	if last := notes[len(notes)-1]; uint64(last.cseq) < pigCSeq {
		t.Errorf("the last notification has CSeq %d, before the piggy-backed %d", last.cseq, pigCSeq)
	}
	siptest.Eventually(t, "the state deleted", func() bool { return !h.states.has(open) })
}

// oldInfo sends a C3P command in alice's focus dialog of oldSnapshot,
// with CSeq cseq.
func oldInfo(t *testing.T, p *phone, conference string, cseq uint32, cmd c3p.Command) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req := sip.NewRequest(sip.INFO, focusURI(t, conference))
	req.SetDestination(p.h.addr)
	req.SetTransport(p.transport)
	req.AppendHeader(&sip.FromHeader{Address: focusURI(t, p.user), Params: sip.HeaderParams{{K: "tag", V: "alicetag"}}})
	req.AppendHeader(&sip.ToHeader{Address: focusURI(t, conference), Params: sip.HeaderParams{{K: "tag", V: "focustag-a"}}})
	callID := sip.CallIDHeader("alice-call-1@192.0.2.10")
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.INFO})
	contact := p.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(p.c3pBody(conference, cmd))
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	return res
}

// c3pSuccess reports whether a response carries a C3P success.
func c3pSuccess(res *sip.Response) bool {
	r, err := c3p.ParseResponse(res.Body())
	return err == nil && r.Code == c3p.CodeSuccess
}
