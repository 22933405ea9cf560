package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/parleyhq/parley/internal/c3p"
)

const (
	fakeRealm    = "parley.test"
	fakePassword = "secret-pw"
)

// fakeFactory is a scripted Focus Factory: a SIP server on loopback UDP and
// TCP that records the requests it gets and answers with answer.
type fakeFactory struct {
	udp, tcp string
	answer   func(n int, req *sip.Request) *sip.Response // nil: no answer

	mu   sync.Mutex
	reqs []*sip.Request
}

func newFakeFactory(t *testing.T, answer func(n int, req *sip.Request) *sip.Response) *fakeFactory {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFactory{udp: pc.LocalAddr().String(), tcp: ln.Addr().String(), answer: answer}
	srv.OnRequest("SERVICE", func(req *sip.Request, tx sip.ServerTransaction) {
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, req.Clone())
		f.mu.Unlock()
		if res := f.answer(n, req); res != nil {
			_ = tx.Respond(res)
		}
	})
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() {
		_ = ua.Close()
		_ = pc.Close()
		_ = ln.Close()
	})
	return f
}

func (f *fakeFactory) requests() []*sip.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sip.Request(nil), f.reqs...)
}

// challenge answers 407 with a fresh nonce.
func challenge(req *sip.Request, n int, stale bool) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusProxyAuthRequired, "Proxy Authentication Required", nil)
	v := `Digest realm="` + fakeRealm + `", nonce="nonce-` + strconv.Itoa(n) + `", algorithm=MD5, qop="auth"`
	if stale {
		v += ", stale=true"
	}
	res.AppendHeader(sip.NewHeader("Proxy-Authenticate", v))
	return res
}

// credentialsOK checks the request's Proxy-Authorization against
// fakePassword, as the server does: the digest of the values sent.
func credentialsOK(req *sip.Request) bool {
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{"auth"}},
		digest.Options{Method: "SERVICE", URI: cred.URI, Username: cred.Username, Password: fakePassword, Cnonce: cred.Cnonce, Count: cred.Nc})
	return err == nil && cred.Username == "alice" && cred.Response == want.Response
}

// c3pAnswer is a 200 OK carrying the C3P response to req's command.
func c3pAnswer(t *testing.T, req *sip.Request, code c3p.Code, reason string, headers ...sip.Header) *sip.Response {
	t.Helper()
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		t.Errorf("the client sent an invalid C3P request: %v\n%s", err, req.Body())
		return sip.NewResponseFromRequest(req, 400, "Bad Request", nil)
	}
	cres := c3p.NewResponse(creq.Header, code, c3p.NewCommand(creq.Command.CommandName()))
	cres.Reason = reason
	body, err := cres.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	for _, h := range headers {
		res.AppendHeader(h)
	}
	return res
}

// authenticating answers like the server: a challenge without valid
// credentials, else the C3P answer.
func authenticating(t *testing.T) func(int, *sip.Request) *sip.Response {
	t.Helper()
	return func(n int, req *sip.Request) *sip.Response {
		if !credentialsOK(req) {
			return challenge(req, n, false)
		}
		return c3pAnswer(t, req, c3p.CodeSuccess, "")
	}
}

func newTestClient(t *testing.T, f *fakeFactory, password string, preferUDP bool) *focusClient {
	t.Helper()
	fc, err := newFocusClient("sip:Alice@Parley.Test", password, f.udp, f.tcp, preferUDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fc.Close() })
	return fc
}

var deleteCmd = &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConferenceID: "ABCDEFGH23"}}

func TestFocusClientAuthenticates(t *testing.T) {
	for _, tt := range []struct {
		name      string
		preferUDP bool
		cmd       func() c3p.Command
		transport string
	}{
		{"udp", true, func() c3p.Command { return deleteCmd }, "UDP"},
		{"udp, large answer", true, func() c3p.Command { return &c3p.GetConferenceSummaries{} }, "TCP"},
		{"tcp", false, func() c3p.Command { return deleteCmd }, "TCP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFactory(t, authenticating(t))
			fc := newTestClient(t, f, fakePassword, tt.preferUDP)
			for i := range 2 {
				if _, err := fc.do(t.Context(), tt.cmd()); err != nil {
					t.Fatalf("command %d: %v", i+1, err)
				}
			}
			reqs := f.requests()
			if len(reqs) != 3 {
				t.Fatalf("the server got %d requests; want 3 (challenged, authenticated, authenticated again)", len(reqs))
			}
			first, retry, next := reqs[0], reqs[1], reqs[2]
			for i, r := range reqs {
				switch {
				case r.Recipient.String() != "sip:alice@parley.test;gruu;opaque=app:conf:focusfactory":
					t.Errorf("request %d to %s", i, r.Recipient.String())
				case r.From().Address.String() != "sip:alice@parley.test" || r.To().Address.String() != r.Recipient.String():
					t.Errorf("request %d from %s to %s", i, r.From().Address.String(), r.To().Address.String())
				case r.CallID().Value() != first.CallID().Value():
					t.Errorf("request %d has Call-ID %s; want one Call-ID for the session", i, r.CallID().Value())
				case r.Via().Transport != tt.transport:
					t.Errorf("request %d went over %s; want %s", i, r.Via().Transport, tt.transport)
				case r.ContentType() == nil || r.ContentType().Value() != c3p.ContentType:
					t.Errorf("request %d has Content-Type %v", i, r.ContentType())
				}
			}
			if first.GetHeader("Proxy-Authorization") != nil {
				t.Error("the first request carried credentials before any challenge")
			}
			if retry.GetHeader("Proxy-Authorization") == nil || retry.CSeq().SeqNo != first.CSeq().SeqNo+1 {
				t.Errorf("the retry has CSeq %d and Proxy-Authorization %v; want CSeq %d and credentials",
					retry.CSeq().SeqNo, retry.GetHeader("Proxy-Authorization"), first.CSeq().SeqNo+1)
			}
			if b1, b2 := first.Via().Params.GetOr("branch", ""), retry.Via().Params.GetOr("branch", ""); b1 == b2 {
				t.Errorf("the retry reused the branch %s; a new transaction needs a new one", b1)
			}
			// The next command reuses the challenge with the next nonce
			// count instead of being challenged again.
			cred, err := digest.ParseCredentials(next.GetHeader("Proxy-Authorization").Value())
			if err != nil || cred.Nc != 2 || cred.Nonce != "nonce-0" || next.CSeq().SeqNo != retry.CSeq().SeqNo+1 {
				t.Errorf("second command: credentials %+v (%v), CSeq %d; want nc=2 on nonce-0 and CSeq %d",
					cred, err, next.CSeq().SeqNo, retry.CSeq().SeqNo+1)
			}
		})
	}
}

func TestFocusClientWrongPassword(t *testing.T) {
	f := newFakeFactory(t, authenticating(t))
	fc := newTestClient(t, f, "wrong", true)
	_, err := fc.do(t.Context(), deleteCmd)
	if !errors.Is(err, errAuthFailed) || err.Error() != "authentication failed: the server refused the password of sip:alice@parley.test" {
		t.Errorf("do with a wrong password = %v; want errAuthFailed", err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("the server got %d requests; want 2: a password is tried once", n)
	}
}

func TestFocusClientStaleNonce(t *testing.T) {
	f := newFakeFactory(t, func(n int, req *sip.Request) *sip.Response {
		switch {
		case !credentialsOK(req):
			return challenge(req, n, false)
		case n == 1: // the credentials are right, the nonce has expired
			return challenge(req, n, true)
		}
		return c3pAnswer(t, req, c3p.CodeSuccess, "")
	})
	fc := newTestClient(t, f, fakePassword, true)
	if _, err := fc.do(t.Context(), deleteCmd); err != nil {
		t.Fatalf("do after a stale nonce = %v; want success with the new nonce", err)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("the server got %d requests; want 3", len(reqs))
	}
	if cred, err := digest.ParseCredentials(reqs[2].GetHeader("Proxy-Authorization").Value()); err != nil || cred.Nonce != "nonce-1" || cred.Nc != 1 {
		t.Errorf("after stale=true the client sent %+v (%v); want nc=1 on the new nonce-1", cred, err)
	}
}

func TestFocusClientAnswers(t *testing.T) {
	diag := sip.NewHeader("ms-diagnostics", `3014;source="fe.parley.test";reason="Failed authorization."`)
	warn := sip.NewHeader("Warning", `399 fe.parley.test "the meeting policy says \"no\""`)
	tests := []struct {
		name   string
		answer func(t *testing.T, req *sip.Request) *sip.Response
		want   string
		is     error
	}{
		{"refused with a Warning", func(t *testing.T, req *sip.Request) *sip.Response {
			t.Helper()
			return c3pAnswer(t, req, c3p.CodeFailure, "unauthorized", diag, warn)
		}, `the Focus Factory refused deleteConference (unauthorized): the meeting policy says "no"`, nil},
		{"refused without a Warning", func(t *testing.T, req *sip.Request) *sip.Response {
			t.Helper()
			return c3pAnswer(t, req, c3p.CodeFailure, "unauthorized", diag)
		}, "the Focus Factory refused deleteConference (unauthorized): ms-diagnostics 3014: Failed authorization.", nil},
		{"not a C3P answer", func(_ *testing.T, req *sip.Request) *sip.Response {
			res := sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
			res.AppendHeader(sip.NewHeader("Warning", `399 fe "not your Focus Factory"`))
			return res
		}, "the server answered deleteConference with 403 Forbidden: not your Focus Factory", nil},
		{"no body", func(_ *testing.T, req *sip.Request) *sip.Response {
			return sip.NewResponseFromRequest(req, 200, "OK", nil)
		}, "unexpected answer from the Focus Factory: deleteConference answered without a application/cccp+xml body", errBadAnswer},
		{"another request's answer", func(t *testing.T, req *sip.Request) *sip.Response {
			t.Helper()
			res := c3pAnswer(t, req, c3p.CodeSuccess, "")
			res.SetBody([]byte(strings.Replace(string(res.Body()), `requestId="1"`, `requestId="7"`, 1)))
			return res
		}, "unexpected answer from the Focus Factory: response to request 7, want 1", errBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFactory(t, func(_ int, req *sip.Request) *sip.Response { return tt.answer(t, req) })
			fc := newTestClient(t, f, fakePassword, true)
			_, err := fc.do(t.Context(), deleteCmd)
			if err == nil || err.Error() != tt.want || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("do = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestFocusClientTimesOut(t *testing.T) {
	f := newFakeFactory(t, func(int, *sip.Request) *sip.Response { return nil })
	fc := newTestClient(t, f, fakePassword, true)
	fc.timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := fc.do(t.Context(), deleteCmd)
	if !errors.Is(err, errNoAnswer) || !strings.Contains(err.Error(), f.udp+" over UDP within 300ms") {
		t.Errorf("do to a silent server = %v; want errNoAnswer naming %s over UDP", err, f.udp)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("do took %v to give up; want about the timeout", d)
	}
}

func TestFocusClientCancelled(t *testing.T) {
	f := newFakeFactory(t, func(int, *sip.Request) *sip.Response { return nil })
	fc := newTestClient(t, f, fakePassword, false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := fc.do(ctx, deleteCmd); !errors.Is(err, context.Canceled) {
		t.Errorf("do with a cancelled context = %v; want context.Canceled", err)
	}
}

func TestRoute(t *testing.T) {
	small := sip.NewRequest("SERVICE", sip.Uri{Scheme: "sip", User: "alice", Host: "parley.test"})
	large := sip.NewRequest("SERVICE", sip.Uri{Scheme: "sip", User: "alice", Host: "parley.test"})
	large.SetBody(make([]byte, maxUDPMessage))
	tests := []struct {
		name            string
		udp, tcp        string
		preferUDP, fits bool
		req             *sip.Request
		want            string // transport, or "error"
	}{
		{"small exchange over UDP", "u:1", "t:1", true, true, small, "UDP"},
		{"large answer", "u:1", "t:1", true, false, small, "TCP"},
		{"large request", "u:1", "t:1", true, true, large, "TCP"},
		{"TCP asked for", "u:1", "t:1", false, true, small, "TCP"},
		{"large answer, no TCP listener", "u:1", "", true, false, small, "UDP"},
		{"large request, no TCP listener", "u:1", "", true, true, large, "error"},
	}
	for _, tt := range tests {
		c := &focusClient{udp: tt.udp, tcp: tt.tcp, preferUDP: tt.preferUDP, local: net.IPv4(127, 0, 0, 1)}
		addr, transport, err := c.route(tt.req, tt.fits)
		got := transport
		if err != nil {
			got = "error"
		}
		if got != tt.want || (err == nil && tt.req.Transport() != transport) || (err == nil && tt.req.Destination() != addr) {
			t.Errorf("%s: route = %s %s, %v; want %s", tt.name, transport, addr, err, tt.want)
		}
	}
}

func TestWarningText(t *testing.T) {
	res := sip.NewResponseFromRequest(sip.NewRequest("SERVICE", sip.Uri{Host: "x"}), 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Warning", `399 fe.parley.test "first \"quoted\" text"`))
	res.AppendHeader(sip.NewHeader("Warning", `399 fe "second`))
	res.AppendHeader(sip.NewHeader("Warning", `301 fe`))
	if got, want := warningText(res), `first "quoted" text; second`; got != want {
		t.Errorf("warningText = %q; want %q", got, want)
	}
	if got := diagnosticText(res); got != "" {
		t.Errorf("diagnosticText without the header = %q", got)
	}
	res.AppendHeader(sip.NewHeader("ms-diagnostics-public", `3004;reason="The requested C3P command is not implemented.";source="fe"`))
	if got, want := diagnosticText(res), "ms-diagnostics 3004: The requested C3P command is not implemented."; got != want {
		t.Errorf("diagnosticText = %q; want %q", got, want)
	}
}

func TestSIPAddrs(t *testing.T) {
	dir := t.TempDir()
	g := &globals{dataDir: dir}
	writeRunFiles(t, dir, "http://127.0.0.1:1", testToken) // sip_udp 127.0.0.1:5060, no sip_tcp
	if udp, tcp, err := g.sipAddrs(); err != nil || udp != "127.0.0.1:5060" || tcp != "" {
		t.Errorf("sipAddrs = %q, %q, %v", udp, tcp, err)
	}
	for _, tt := range []struct{ in, want string }{
		{"0.0.0.0:5060", "127.0.0.1:5060"}, {"[::]:5062", "[::1]:5062"}, {"192.0.2.1:5060", "192.0.2.1:5060"}, {"", ""},
	} {
		if got, err := dialable(tt.in); err != nil || got != tt.want {
			t.Errorf("dialable(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := dialable("no-port"); err == nil {
		t.Error("dialable without a port succeeded")
	}
}
