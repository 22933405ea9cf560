package focus_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// Roster documents against golden files, and the partial updates that
// follow each kind of change.

// generated matches the identities the Focus makes up: anonymous users'
// entities and endpoint GUIDs (lower-case hex; the phones' are upper-case).
var generated = regexp.MustCompile(`sip:(anonymous|dialin)-[0-9a-f]{16}@anonymous\.invalid|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}`)

// normalize replaces generated identities with numbered placeholders, in
// order of appearance, so that documents can be compared with golden
// files.
func normalize(b []byte) []byte {
	seen := map[string]string{}
	return generated.ReplaceAllFunc(b, func(m []byte) []byte {
		k := string(m)
		if v, ok := seen[k]; ok {
			return []byte(v)
		}
		var v string
		if strings.HasPrefix(k, "{") {
			v = fmt.Sprintf("{generated-endpoint-%d}", len(seen)+1)
		} else {
			v = fmt.Sprintf("sip:generated-user-%d@anonymous.invalid", len(seen)+1)
		}
		seen[k] = v
		return []byte(v)
	})
}

// TestRosterFullDocument builds a meeting with every kind of participant
// and compares the full document a subscriber gets with the golden file.
func TestRosterFullDocument(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, anonKey)
	ctx := context.Background()
	a := newPhone(h, alice).join(open)
	a.ok()
	newPhone(h, bob).join(open).ok()
	newPhone(h, carol).join(open).ok()
	// alice's audio, and two callers: one whose gateway passed a caller
	// ID, one with nothing.
	h.f().LegJoined(open, alice, "leg-alice")
	withID, err := h.f().AddDialInUser(ctx, open, focus.DialIn{CallerID: "tel:+14255550123", Language: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	h.f().LegJoined(open, withID, "leg-caller-1")
	if _, err := h.f().AddDialInUser(ctx, open, focus.DialIn{}); err != nil {
		t.Fatal(err)
	}
	a.info(muteCmd(open, withID, true)).ok(t) // presenters mute dial-in callers too
	locked := true
	a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: open}, Locked: &locked}).ok(t)

	s := newPhone(h, bob).subscribe(open, msClient)
	if s.res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d %s", s.res.StatusCode, warning(s.res))
	}
	for name, want := range map[string]string{
		"Event": "conference", "Content-Type": c3p.ConferenceInfoType, "Expires": "3600",
		"Subscription-State": "active;expires=3600",
	} {
		if h := s.res.GetHeader(name); h == nil || h.Value() != want {
			t.Errorf("%s = %v, want %q", name, h, want)
		}
	}
	ci := s.piggyDoc()
	if ci.State != c3p.StateFull || ci.Version == nil || *ci.Version != 1 {
		t.Errorf("state %q version %v, want a full document of version 1", ci.State, ci.Version)
	}
	golden(t, "roster-full.xml", normalize(s.res.Body()))
}

// muteCmd is SIPE's mute of one participant ([MS-CONFAV] via
// protocols.md §3.2).
func muteCmd(conference, user string, muted bool) *c3p.ModifyEndpointMedia {
	status, filter := "sendrecv", "unblock"
	if muted {
		status, filter = "recvonly", "block"
	}
	org, _, key, _ := c3p.ParseConferenceURI(conference)
	return &c3p.ModifyEndpointMedia{
		MCU:   c3p.MCUTarget{URI: c3p.ConferenceURI(org, c3p.MCUTypeAudioVideo, key)},
		Keys:  &c3p.MediaKeys{ConfEntity: conference, UserEntity: user, EndpointEntity: "{AV}", MediaID: "1"},
		Media: &c3p.Media{ID: "1", Type: "audio", Status: status, IngressFilter: filter},
	}
}

// TestRosterPartialDocuments checks the partial document of each kind of
// change against golden files, and that the versions follow one another.
func TestRosterPartialDocuments(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	a := newPhone(h, alice).join(open)
	a.ok()
	s := newPhone(h, alice).subscribe(open, msClient)
	s.piggyDoc()

	steps := []struct {
		golden string
		do     func()
	}{
		{"roster-partial-join.xml", func() { newPhone(h, dave).join(open).ok() }},
		{"roster-partial-leg.xml", func() { h.f().LegJoined(open, dave, "leg-dave") }},
		{"roster-partial-mute.xml", func() { a.info(muteCmd(open, dave, true)).ok(t) }},
		{"roster-partial-role.xml", func() {
			a.info(&c3p.ModifyUserRoles{Keys: &c3p.UserKeys{ConfEntity: open, UserEntity: dave}, Roles: []string{"presenter"}}).ok(t)
		}},
		{"roster-partial-lock.xml", func() {
			locked := true
			a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: open}, Locked: &locked}).ok(t)
		}},
		{"roster-partial-leave.xml", func() {
			a.info(&c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: open, UserEntity: dave}}).ok(t)
		}},
	}
	for i, st := range steps {
		st.do()
		n := s.nth(i + 1)
		if n.method != "BENOTIFY" {
			t.Errorf("%s: sent as %s, want BENOTIFY", st.golden, n.method)
		}
		if n.version != uint64(i+2) {
			t.Errorf("%s: version %d, want %d", st.golden, n.version, i+2)
		}
		if n.state != "active;expires=3600" {
			t.Errorf("%s: Subscription-State %q", st.golden, n.state)
		}
		if ci := n.doc(t); ci.State != c3p.StatePartial {
			t.Errorf("%s: state %q, want partial", st.golden, ci.State)
		}
		golden(t, st.golden, normalize(n.body))
	}
}

// TestRosterOrdering has many participants come and go at once and checks
// that each subscriber gets every change exactly once, in order, with
// consecutive versions, and that the partial documents applied to the
// first full one give the roster a new subscriber sees.
func TestRosterOrdering(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)
	newPhone(h, alice).join(anonConf).ok()
	watchers := []*sub{
		newPhone(h, alice).subscribe(anonConf, msClient),                                   // BENOTIFY, piggy-backed
		newPhone(h, alice).subscribe(anonConf, subOpts{expires: 3600}),                     // NOTIFY
		newPhone(h, "sip:watcher@fabrikam.test").subscribe(anonConf, subOpts{expires: -1}), // no Expires
	}
	const n = 12
	t.Run("crowd", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				c := newPhoneT(t, h, fmt.Sprintf("sip:user%d@fabrikam.test", i), "UDP").join(anonConf)
				c.ok()
				if i%2 == 0 {
					c.bye()
				}
			})
		}
	})
	// 12 joins and 6 leaves: 18 changes after the first document.
	final := newPhone(h, alice).subscribe(anonConf, msClient).piggyDoc()
	for i, w := range watchers {
		first := 0
		if w.opts.piggyback {
			first = 1
		}
		notes := w.waitNotes(18 + 1 - first)
		var state []string
		if w.opts.piggyback {
			state = apply(nil, w.piggyDoc())
		}
		for j, nt := range notes {
			if want := uint64(j + 1 + first); nt.version != want {
				t.Fatalf("watcher %d: notification %d (CSeq %d) has version %d, want %d", i, j, nt.cseq, nt.version, want)
			}
			state = apply(state, nt.doc(t))
		}
		if want := users(final); !slices.Equal(state, want) {
			t.Errorf("watcher %d: roster rebuilt from updates = %q, want %q", i, state, want)
		}
	}
	if got := watchers[1].nth(1).method; got != "NOTIFY" {
		t.Errorf("subscriber without ms-benotify got %s", got)
	}
}

// apply applies a conference-info document to a roster summary (users).
func apply(state []string, ci *c3p.ConferenceInfo) []string {
	if ci.State == c3p.StateFull {
		return users(ci)
	}
	for _, line := range users(ci) {
		entity, _, _ := strings.Cut(line, " ")
		i := slices.IndexFunc(state, func(s string) bool { return strings.HasPrefix(s, entity+" ") })
		switch {
		case strings.HasSuffix(line, " deleted"):
			if i >= 0 {
				state = slices.Delete(state, i, i+1)
			}
		case i >= 0:
			state[i] = line
		default:
			state = append(state, line)
		}
	}
	return state
}

// TestSubscriptionRefreshAndEnd: a refresh gets the full state
// again with the next version; an unsubscription ends with a terminated
// notification.
func TestSubscriptionRefreshAndEnd(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	s := newPhone(h, alice).subscribe(open, msClient)
	if v := *s.piggyDoc().Version; v != 1 {
		t.Fatalf("first version %d", v)
	}
	newPhone(h, bob).join(open).ok() // version 2
	s.nth(1)
	res := s.refresh(1800)
	if res.StatusCode != 200 || res.GetHeader("Expires").Value() != "1800" {
		t.Fatalf("refresh: %d, Expires %v", res.StatusCode, res.GetHeader("Expires"))
	}
	ci, err := c3p.ParseConferenceInfo(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	if ci.State != c3p.StateFull || *ci.Version != 3 || len(ci.Users.Entries) != 2 {
		t.Errorf("refresh document: state %q version %d users %d, want full, 3, 2", ci.State, *ci.Version, len(ci.Users.Entries))
	}
	newPhone(h, carol).join(open).ok()
	if n := s.nth(2); n.version != 4 {
		t.Errorf("after the refresh the next version is %d, want 4", n.version)
	}
	if res := s.refresh(0); res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", res.StatusCode)
	}
	if n := s.nth(3); n.state != "terminated;reason=timeout" {
		t.Errorf("last notification %q, want terminated;reason=timeout", n.state)
	}
	newPhone(h, dave).join(open).ok()
	if got := len(s.notes()); got != 3 {
		t.Errorf("%d notifications after unsubscribing, want none", got-3)
	}
	if res := s.refresh(3600); res.StatusCode != 481 {
		t.Errorf("refresh of an ended subscription: %d, want 481", res.StatusCode)
	}
}

// TestSubscriptionExpiry: a subscription that is not refreshed ends at
// its expiry, by the Focus's clock.
func TestSubscriptionExpiry(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	s := newPhone(h, alice).subscribe(open, subOpts{benotify: true, expires: 600})
	if n := s.nth(1); n.state != "active;expires=600" || n.doc(t).State != c3p.StateFull {
		t.Fatalf("first NOTIFY: %q %s", n.state, n.body)
	}
	h.clock.Advance(599 * 1e9)
	newPhone(h, bob).join(open).ok()
	if n := s.nth(2); n.state != "active;expires=1" {
		t.Errorf("Subscription-State %q, want active;expires=1", n.state)
	}
	h.clock.Advance(1e9)
	if n := s.nth(3); n.state != "terminated;reason=timeout" {
		t.Errorf("Subscription-State %q, want terminated;reason=timeout", n.state)
	}
}

// TestSubscribeRefusals checks what is refused and how.
func TestSubscribeRefusals(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	if s := newPhone(h, alice).subscribe(open, msClient); s.res.StatusCode != 404 {
		t.Errorf("subscription to a meeting that is not running: %d, want 404", s.res.StatusCode)
	}
	newPhone(h, alice).join(open).ok()
	tests := []struct {
		name string
		user string
		opts subOpts
		code int
	}{
		{"not a participant", dave, msClient, 403},
		{"anonymous, open meeting", anon, msClient, 403},
		{"too short", alice, subOpts{expires: 10}, 423},
		{"trusted service", "sip:cas@pool.parley.test", subOpts{piggyback: true, expires: 60, trusted: true}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPhone(h, tt.user).subscribe(open, tt.opts)
			if s.res.StatusCode != tt.code {
				t.Errorf("got %d %s, want %d", s.res.StatusCode, warning(s.res), tt.code)
			}
			if tt.code == 423 && s.res.GetHeader("Min-Expires") == nil {
				t.Error("423 without Min-Expires")
			}
		})
	}
	t.Run("capped", func(t *testing.T) {
		s := newPhone(h, alice).subscribe(open, subOpts{piggyback: true, expires: 86400})
		if e := s.res.GetHeader("Expires"); e == nil || e.Value() != "3600" {
			t.Errorf("Expires = %v, want 3600", e)
		}
	})
	t.Run("other event package", func(t *testing.T) {
		s := newPhone(h, alice).subscribe(open, subOpts{expires: 60, event: "presence"})
		if s.res.StatusCode != 489 || s.res.GetHeader("Allow-Events") == nil {
			t.Errorf("got %d, want 489 with Allow-Events", s.res.StatusCode)
		}
	})
	t.Run("other document type", func(t *testing.T) {
		s := newPhone(h, alice).subscribe(open, subOpts{expires: 60, accept: "application/pidf+xml"})
		if s.res.StatusCode != 406 {
			t.Errorf("got %d, want 406", s.res.StatusCode)
		}
	})
}

// TestSlowSubscriberDropped: a subscriber who stops answering falls
// behind; past SubscriberQueue notifications he is dropped with a
// terminated notification and the others carry on.
func TestSlowSubscriberDropped(t *testing.T) {
	h := newHarness(t, func(cfg *focus.Config) { cfg.SubscriberQueue = 3 })
	anonConf := conf(alice, anonKey)
	newPhone(h, alice).join(anonConf).ok()
	slow := newPhone(h, alice)
	slowSub := slow.subscribe(anonConf, subOpts{piggyback: true, expires: 3600})
	fast := newPhone(h, bob).join(anonConf)
	fast.ok()
	fastSub := newPhone(h, bob).subscribe(anonConf, msClient)
	slow.stall.Store(true)
	for i := range 8 {
		newPhone(h, fmt.Sprintf("sip:u%d@fabrikam.test", i)).join(anonConf).ok()
	}
	fastSub.waitNotes(8)
	slow.stall.Store(false)
	notes := slowSub.waitNotes(2)
	siptest.Eventually(t, "the dropped subscriber's last NOTIFY", func() bool {
		notes = slowSub.notes()
		return len(notes) > 0 && notes[len(notes)-1].state == "terminated;reason=deactivated"
	})
	if len(notes) > 1+3+1 {
		t.Errorf("dropped subscriber got %d notifications, want at most the one in flight, the queue and the last", len(notes))
	}
	newPhone(h, "sip:late@fabrikam.test").join(anonConf).ok()
	fastSub.waitNotes(9)
	if got := len(slowSub.notes()); got != len(notes) {
		t.Errorf("dropped subscriber still gets notifications")
	}
}

// TestUnreachableSubscriberDropped: a NOTIFY answered 481 ends the
// subscription (RFC 6665 §4.2.2).
func TestUnreachableSubscriberDropped(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	p := newPhone(h, alice)
	s := p.subscribe(open, subOpts{piggyback: true, expires: 3600})
	p.answerNotify.Store(481)
	newPhone(h, bob).join(open).ok()
	// The NOTIFY of bob's join is answered 481: the subscription ends.
	siptest.Eventually(t, "the subscription to be forgotten", func() bool {
		return s.refresh(3600).StatusCode == 481
	})
	p.answerNotify.Store(200)
	newPhone(h, carol).join(open).ok()
	newPhone(h, dave).join(open).ok()
	if got := s.notes(); len(got) != 0 {
		t.Errorf("%d notifications after the 481", len(got))
	}
}
