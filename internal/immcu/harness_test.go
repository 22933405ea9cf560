package immcu_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/immcu"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// The harness runs an IM Conferencing Server behind a loopback sipgo
// server, routed as internal/server routes the A/V MCU: new INVITEs to chat
// URIs and the requests of its dialogs. Chatters are sipgo user agents that
// join, send and record what the server relays to them. The Focus is the
// test, commanding the server through its HTTP handler.

const (
	domain = "parley.test"
	alice  = "sip:alice@parley.test" // organizer
	bob    = "sip:bob@parley.test"
	carol  = "sip:carol@parley.test"
	key    = "CHATKEY1"
)

// wait bounds every wait for something to arrive.
const wait = 5 * time.Second

var focusURI = c3p.ConferenceURI(alice, c3p.ServiceFocus, key)

func testLogger() *slog.Logger {
	if os.Getenv("IMMCU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// events records what the server reports, and checks that a participant
// leaves with the endpoint he joined with.
type events struct {
	mu        sync.Mutex
	log       []string
	endpoints map[string]string // user → endpoint, while joined
	bad       []string
}

func (e *events) Joined(conference, user, endpoint string) {
	e.mu.Lock()
	if e.endpoints == nil {
		e.endpoints = make(map[string]string)
	}
	if endpoint == "" {
		e.bad = append(e.bad, "no endpoint for "+user)
	}
	e.endpoints[user+" "+endpoint] = conference
	e.mu.Unlock()
	e.add(fmt.Sprintf("joined %s %s", user, conference))
}

func (e *events) Left(conference, user, endpoint, reason string) {
	e.mu.Lock()
	if e.endpoints[user+" "+endpoint] != conference {
		e.bad = append(e.bad, "left without joining: "+user+" "+endpoint)
	}
	delete(e.endpoints, user+" "+endpoint)
	e.mu.Unlock()
	e.add(fmt.Sprintf("left %s %s %s", user, conference, reason))
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.log {
		if l == s {
			return true
		}
	}
	return false
}

func (e *events) count(prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, l := range e.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// harness is a server on loopback.
type harness struct {
	t      testing.TB
	srv    *immcu.Server
	events *events
	addr   string // UDP and TCP
	port   int
	log    *slog.Logger
	// closers stop the chatters, after the server.
	closers []func()
}

func newHarness(tb testing.TB, tweak ...func(*immcu.Config)) *harness {
	tb.Helper()
	h := &harness{t: tb, events: &events{}, log: testLogger()}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("parley-immcu-test"))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(h.log))
	if err != nil {
		tb.Fatal(err)
	}
	pc, ln := siptest.ListenPair(tb)
	h.addr = pc.LocalAddr().String()
	h.port = pc.LocalAddr().(*net.UDPAddr).Port
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(h.log),
		sipgo.WithClientConnectionAddr(h.addr))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := immcu.Config{
		Hostname: "fe.parley.test",
		Contact: func(transport string) sip.ContactHeader {
			u := sip.Uri{Scheme: "sip", User: "immcu", Host: "127.0.0.1", Port: h.port, UriParams: sip.NewParams()}
			if transport != "" && transport != "udp" {
				u.UriParams.Add("transport", transport)
			}
			return sip.ContactHeader{Address: u}
		},
		Client: cli,
		Events: h.events,
		// The server maps its own address to the domain, as
		// internal/server's canonicalURI does.
		Canonical: func(uri string) string {
			return strings.Replace(uri, "@127.0.0.1:"+strconv.Itoa(h.port), "@"+domain, 1)
		},
		RequestTimeout: time.Second,
	}
	for _, fn := range tweak {
		fn(&cfg)
	}
	h.srv, err = immcu.New(cfg, h.log)
	if err != nil {
		tb.Fatal(err)
	}
	route := func(req *sip.Request, tx sip.ServerTransaction) {
		_, inDialog := req.To().Params.Get("tag")
		switch {
		case req.Method == sip.ACK:
			h.srv.ServeACK(req, tx)
			return
		case !inDialog && immcu.Handles(req):
			h.srv.ServeINVITE(context.Background(), req, tx, userOf(req))
			return
		case !inDialog || !h.srv.Owns(req):
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		switch req.Method {
		case sip.INVITE:
			h.srv.ServeINVITE(context.Background(), req, tx, userOf(req))
		case sip.MESSAGE:
			h.srv.ServeMESSAGE(req, tx)
		case sip.INFO:
			h.srv.ServeINFO(req, tx)
		case sip.BYE:
			h.srv.ServeBYE(req, tx)
		}
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.INFO, sip.MESSAGE} {
		srv.OnRequest(m, route)
	}
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Close(ctx)
		h.events.mu.Lock()
		if len(h.events.bad) > 0 {
			tb.Errorf("events out of order: %q", h.events.bad)
		}
		h.events.mu.Unlock()
		for _, c := range h.closers {
			c()
		}
		ua.Close()
		pc.Close()
		ln.Close()
	})
	siptest.WaitListening(tb, ua, h.addr)
	return h
}

// userOf is who the test server says sent a request: the From user, as
// digest authentication would have found, or nobody for anonymous.invalid.
func userOf(req *sip.Request) string {
	from := req.From()
	if from == nil || strings.EqualFold(from.Address.Host, "anonymous.invalid") {
		return ""
	}
	return "sip:" + strings.ToLower(from.Address.User) + "@" + strings.ToLower(from.Address.Host)
}

// command sends a C3P command as the Focus does and returns the answer.
func (h *harness) command(cmd c3p.Command) *c3p.Response {
	h.t.Helper()
	body, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: 7, From: "sip:focus", To: "immcu"},
		Command: cmd,
	}).Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/c3p", bytes.NewReader(body))
	req.Header.Set("Content-Type", c3p.ContentType)
	rec := httptest.NewRecorder()
	h.srv.Handler(nil).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("%s: HTTP %d: %s", cmd.CommandName(), rec.Code, rec.Body)
	}
	res, err := c3p.ParseResponse(rec.Body.Bytes())
	if err != nil {
		h.t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return res
}

// provision makes the conference and lets users in.
func (h *harness) provision(users ...string) {
	h.t.Helper()
	if res := h.command(&c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: focusURI}}); res.Code != c3p.CodeSuccess {
		h.t.Fatalf("addConference: %s %s", res.Code, res.Reason)
	}
	for _, u := range users {
		h.addUser(u)
	}
}

func (h *harness) addUser(user string) {
	h.t.Helper()
	res := h.command(&c3p.AddUser{Keys: &c3p.ConferenceKeys{ConfEntity: focusURI},
		User: &c3p.User{Entity: user, Roles: []string{c3p.RoleAttendee}}})
	if res.Code != c3p.CodeSuccess {
		h.t.Fatalf("addUser %s: %s %s", user, res.Code, res.Reason)
	}
}

// chatURI is the chat URI as a client dials it: at the server's address.
func (h *harness) chatURI() sip.Uri {
	return sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: h.port,
		UriParams: sip.HeaderParams{{K: "gruu", V: ""}, {K: "opaque", V: "app:conf:chat:id:" + key}}}
}
