package focus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/store"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// The harness runs a Focus behind a loopback sipgo server, as the server
// package routes to it, on a real SQLite store, with a fake Conferencing
// Server Factory, an in-memory StateStore and a fake clock. Phones are
// sipgo user agents that join, send commands and subscribe over SIP.

const (
	domain = "parley.test"
	alice  = "sip:alice@parley.test" // organizer of every meeting below
	bob    = "sip:bob@parley.test"   // listed presenter
	carol  = "sip:carol@parley.test" // listed attendee
	dave   = "sip:dave@parley.test"  // enterprise user, not listed
	erin   = "sip:erin@parley.test"  // disabled enterprise user
	boss   = "sip:boss@parley.test"  // organizer whose policy allows 5000
	frank  = "sip:frank@fabrikam.test"
	gina   = "sip:gina@fabrikam.test" // federated, not invited
	anon   = "sip:anonymous@anonymous.invalid"
)

// Meeting keys.
const (
	openKey    = "OPENMEET01"
	closedKey  = "CLOSEDMEET1"
	anonKey    = "ANONMEET001"
	expiredKey = "EXPIREDMEE1"
	smallKey   = "SMALLMEET01" // organized by dave, whose policy allows 3
	bigKey     = "BIGMEETING1" // organized by boss
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// wait bounds every wait for something to arrive.
const wait = 5 * time.Second

func conf(organizer, key string) string {
	return c3p.ConferenceURI(organizer, c3p.ServiceFocus, key)
}

func testLogger() *slog.Logger {
	if os.Getenv("FOCUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestMain lifts sipgo's 1300-byte cap on UDP messages, as the server
// does at start (internal/server: liftUDPLimit): rosters are larger.
func TestMain(m *testing.M) {
	sip.UDPMTUSize = 65507 + 200
	os.Exit(m.Run())
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) focus.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	if d <= 0 {
		go f()
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock and fires the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	// Synchronously: the Focus's timer functions only post to a
	// meeting's goroutine, so a request that goes through that goroutine
	// afterwards (settle) sees their effect.
	for _, t := range due {
		t.f()
	}
}

// memStates is a StateStore in memory.
type memStates struct {
	mu    sync.Mutex
	snaps map[string][]byte
	saves atomic.Int64
}

func newMemStates() *memStates { return &memStates{snaps: make(map[string][]byte)} }

func (s *memStates) Save(_ context.Context, conference string, snap []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snaps[conference] = append([]byte(nil), snap...)
	s.saves.Add(1)
	return nil
}

func (s *memStates) Load(context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.snaps))
	for k, v := range s.snaps {
		out[k] = append([]byte(nil), v...)
	}
	return out, nil
}

func (s *memStates) Delete(_ context.Context, conference string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.snaps, conference)
	return nil
}

func (s *memStates) has(conference string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.snaps[conference]
	return ok
}

// harness is a Focus on a SIP server.
type harness struct {
	t      testing.TB
	db     *store.DB
	clock  *fakeClock
	mcus   *fakeMCUs
	states *memStates
	cfg    focus.Config
	focus  atomic.Pointer[focus.Focus]
	addr   string // the server's UDP and TCP address
	log    *slog.Logger
	// logged counts the Focus's log records by message.
	logged *recorder
}

// newHarness starts a Focus; tweak adjusts its configuration.
func newHarness(tb testing.TB, tweak ...func(*focus.Config)) *harness {
	tb.Helper()
	h := &harness{t: tb, clock: &fakeClock{now: t0}, mcus: newFakeMCUs(), states: newMemStates(), log: testLogger()}
	h.logged = &recorder{Handler: h.log.Handler(), mu: new(sync.Mutex), n: make(map[string]int)}
	h.db = seedStore(tb, h.log)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("parley-focus-test"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(h.log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(h.log)))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(h.log))
	if err != nil {
		tb.Fatal(err)
	}
	pc, ln := siptest.ListenPair(tb)
	h.addr = pc.LocalAddr().String()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(h.log),
		sipgo.WithClientConnectionAddr(h.addr))
	if err != nil {
		tb.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(h.addr)
	p, _ := strconv.Atoi(port)
	h.cfg = focus.Config{
		Hostname: "fe.parley.test",
		Contact: func(transport string) sip.ContactHeader {
			u := sip.Uri{Scheme: "sip", User: "focus", Host: host, Port: p, UriParams: sip.NewParams()}
			if t := strings.ToLower(transport); t != "" && t != "udp" {
				u.UriParams.Add("transport", t)
			}
			return sip.ContactHeader{Address: u}
		},
		Client:        cli,
		Meetings:      h.db,
		Directory:     h.db,
		MCUs:          h.mcus,
		State:         h.states,
		DefaultPolicy: "Default",
		Clock:         h.clock,
		SaveDelay:     time.Millisecond,
		MCUTimeout:    time.Second,
	}
	for _, fn := range tweak {
		fn(&h.cfg)
	}
	h.start()
	route := func(req *sip.Request, tx sip.ServerTransaction) {
		f := h.focus.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		caller := callerOf(req)
		// Route as the server does: new requests to focus URIs, requests
		// within dialogs the Focus owns.
		_, inDialog := req.To().Params.Get("tag")
		switch {
		case req.Method == sip.ACK:
		case !inDialog && !focus.Handles(req):
			_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
			return
		case inDialog && !f.Owns(req):
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		switch req.Method {
		case sip.INVITE:
			f.ServeINVITE(ctx, req, tx, caller)
		case sip.ACK:
			f.ServeACK(req, tx)
		case sip.BYE:
			f.ServeBYE(req, tx)
		case sip.INFO:
			f.ServeINFO(ctx, req, tx, caller)
		case sip.SUBSCRIBE:
			f.ServeSUBSCRIBE(ctx, req, tx, caller)
		}
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.INFO, sip.SUBSCRIBE} {
		srv.OnRequest(m, route)
	}
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.focus.Load().Close(ctx)
		ua.Close()
		pc.Close()
		ln.Close()
	})
	siptest.WaitListening(tb, ua, h.addr)
	return h
}

// start makes a new Focus on the harness's configuration and resumes
// what its StateStore holds.
func (h *harness) start() {
	h.t.Helper()
	f, err := focus.New(h.cfg, slog.New(h.logged))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := f.Resume(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.focus.Store(f)
}

// recorder is a slog.Handler that counts the records it is given by
// message, and passes them on.
type recorder struct {
	slog.Handler
	mu *sync.Mutex
	n  map[string]int
}

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.n[rec.Message]++
	r.mu.Unlock()
	return r.Handler.Handle(ctx, rec)
}

func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recorder{Handler: r.Handler.WithAttrs(attrs), mu: r.mu, n: r.n}
}

func (r *recorder) WithGroup(name string) slog.Handler {
	return &recorder{Handler: r.Handler.WithGroup(name), mu: r.mu, n: r.n}
}

// count is how many records with a message were logged.
func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[msg]
}

// restart stops the Focus as a server shutdown does and starts another on
// the same address and store.
func (h *harness) restart() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.focus.Load().Close(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.start()
}

func (h *harness) f() *focus.Focus { return h.focus.Load() }

// callerOf is who the test server says sent a request: anonymous for
// anonymous.invalid, a trusted service when X-Test-Trusted is set, else
// the From user, as a server with authentication would have found.
func callerOf(req *sip.Request) focus.Caller {
	if req.GetHeader("X-Test-Trusted") != nil {
		return focus.Caller{Trusted: true}
	}
	from := req.From()
	if from == nil || strings.EqualFold(from.Address.Host, "anonymous.invalid") {
		return focus.Caller{}
	}
	return focus.Caller{User: "sip:" + strings.ToLower(from.Address.User) + "@" + strings.ToLower(from.Address.Host)}
}

// seedStore makes the directory and the meetings of the tests.
func seedStore(tb testing.TB, log *slog.Logger) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite::memory:", log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(db.PutOrganization(ctx, directory.Organization{Name: "Parley Test", Domains: []string{domain}}))
	pool := "pool.parley.test"
	must(db.PutPool(ctx, directory.Pool{FQDN: pool, ID: "10", PSTN: directory.DefaultPSTNSettings()}))
	must(db.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Default", MaxMeetingSize: 250, AnonymousAllowed: true, PSTNDialIn: true}))
	must(db.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Small", MaxMeetingSize: 3}))
	must(db.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Large", MaxMeetingSize: 5000}))
	for _, u := range []directory.User{
		{URI: alice, DisplayName: "Alice Anderson", Enabled: true},
		{URI: bob, DisplayName: "Bob Brown", Enabled: true},
		{URI: carol, DisplayName: "Carol Clark", Enabled: true},
		{URI: dave, DisplayName: "Dave Davis", Enabled: true, MeetingPolicy: "Small"},
		{URI: erin, DisplayName: "Erin Evans"},
		{URI: boss, DisplayName: "The Boss", Enabled: true, MeetingPolicy: "Large"},
	} {
		u.Pool = pool
		u.Credential.Realm = domain
		must(db.CreateUser(ctx, u))
	}
	meetings := []directory.Meeting{
		{Key: openKey, Admission: directory.AdmitOpen, Subject: "Budget review", ConferenceID: "1234567",
			Presenters: []string{bob}, Attendees: []string{carol, frank}},
		{Key: closedKey, Admission: directory.AdmitClosed, Presenters: []string{bob}, Attendees: []string{carol}},
		{Key: anonKey, Admission: directory.AdmitAnonymous, Subject: "All hands", ConferenceID: "7654321",
			Presenters: []string{bob}},
		{Key: expiredKey, Admission: directory.AdmitOpen, ExpiresAt: t0.Add(-time.Hour)},
		{Key: smallKey, Organizer: dave, Admission: directory.AdmitAnonymous},
		{Key: bigKey, Organizer: boss, Admission: directory.AdmitAnonymous, Subject: "Town hall"},
	}
	for i, m := range meetings {
		if m.Organizer == "" {
			m.Organizer = alice
		}
		m.ID = fmt.Sprintf("%032x", i+1)
		m.Pool = pool
		m.Kind = directory.KindAdHoc
		m.CreatedAt = t0.Add(-24 * time.Hour)
		if m.ExpiresAt.IsZero() {
			m.ExpiresAt = t0.Add(30 * 24 * time.Hour)
		}
		must(db.CreateMeeting(ctx, m))
	}
	return db
}

// meeting reads a meeting back.
func (h *harness) meeting(organizer, key string) directory.Meeting {
	h.t.Helper()
	m, err := h.db.Meeting(context.Background(), organizer, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}
