package proxy

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

const (
	bobAOR   = "sip:bob@example.com"
	aliceURI = "sip:alice@example.com"
)

func defaultTestConfig() Config {
	return Config{RecordRoute: true}
}

// proxyVia reports whether the top Via of req is the proxy's.
func proxyVia(t *testing.T, p *testProxy, req *sip.Request) {
	t.Helper()
	v := req.Via()
	if v == nil {
		t.Fatalf("%s without Via", req.Method)
	}
	b, _ := v.Params.Get("branch")
	if !strings.HasPrefix(b, branchPrefix) || !p.isOurVia(v) {
		t.Errorf("%s top Via = %q, want the proxy's", req.Method, v.Value())
	}
}

// ackAndHangUp finishes an answered call from the caller's side: the ACK
// and then the BYE must each reach the callee through the proxy.
func ackAndHangUp(t *testing.T, p *testProxy, alice, bob *testUA, inv *sip.Request, res *sip.Response) {
	t.Helper()
	if err := alice.cli.WriteRequest(alice.inDialog(sip.ACK, inv, res, 1)); err != nil {
		t.Fatal(err)
	}
	proxyVia(t, p, bob.next(sip.ACK))
	if r := alice.do(alice.inDialog(sip.BYE, inv, res, 2)); r.StatusCode != 200 {
		t.Fatalf("BYE: got %d, want 200", r.StatusCode)
	}
	proxyVia(t, p, bob.next(sip.BYE))
}

func TestCallThroughProxy(t *testing.T) {
	// With the ACK lane the ACK is forwarded by ReadFilter, without it by
	// ServeSIP.
	t.Run("ACK lane", func(t *testing.T) { testCallThroughProxy(t, true) })
	t.Run("no ACK lane", func(t *testing.T) { testCallThroughProxy(t, false) })
}

func testCallThroughProxy(t *testing.T, lane bool) {
	t.Helper()
	loc := newLocator()
	p := startProxyLane(t, defaultTestConfig(), loc, lane)
	// bob answers once the caller has heard the ringing: sipgo handles
	// every response in its own goroutine, so a 180 sent right before the
	// 200 may be overtaken and dropped as late.
	heard := make(chan struct{})
	bob := newUA(t, "bob", "UDP", func(u *testUA, req *sip.Request, tx sip.ServerTransaction) {
		ring := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
		_ = tx.Respond(ring)
		select {
		case <-heard:
		case <-time.After(wait):
		}
		ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
		ok.To().Params.Add("tag", ring.To().Params.GetOr("tag", ""))
		ok.AppendHeader(&sip.ContactHeader{Address: u.contact()})
		_ = tx.Respond(ok)
	})
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "UDP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	tx := alice.send(inv)
	for rang := false; !rang; {
		select {
		case r := <-tx.Responses():
			if r.StatusCode >= 200 {
				t.Fatalf("got %d before 180", r.StatusCode)
			}
			rang = r.StatusCode == 180
		case <-time.After(wait):
			t.Fatal("no 180 relayed")
		}
	}
	close(heard)
	res := final(t, tx)
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: got %d, want 200", res.StatusCode)
	}
	if got := viaCount(res); got != 1 {
		t.Errorf("200 has %d Via entries, want 1 (the proxy's removed)", got)
	}

	// What bob received.
	got := bob.next(sip.INVITE)
	proxyVia(t, p, got)
	if want := bob.contact(); got.Recipient.String() != want.String() {
		t.Errorf("Request-URI = %s, want the contact %s", got.Recipient.String(), want.String())
	}
	if mf := got.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Errorf("Max-Forwards = %v, want 69", mf)
	}
	rr := got.RecordRoute()
	if rr == nil {
		t.Fatal("no Record-Route")
	}
	if rr.Address.Host != "127.0.0.1" || rr.Address.HostPort() != p.udp || !rr.Address.UriParams.Has("lr") ||
		rr.Address.UriParams.GetOr("transport", "") != "udp" {
		t.Errorf("Record-Route = %s, want <sip:%s;transport=udp;lr;...>", rr.Value(), p.udp)
	}
	if n := len(res.GetHeaders("Record-Route")); n != 2 {
		t.Errorf("200 carries %d Record-Route entries, want 2 (one per side)", n)
	}

	// ACK and BYE follow the route set through the proxy.
	ack := alice.inDialog(sip.ACK, inv, res, 1)
	if err := alice.cli.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	gotACK := bob.next(sip.ACK)
	proxyVia(t, p, gotACK)
	if gotACK.Route() != nil {
		t.Errorf("ACK still has Route %s", gotACK.Route().Value())
	}
	bye := alice.inDialog(sip.BYE, inv, res, 2)
	if r := alice.do(bye); r.StatusCode != 200 {
		t.Fatalf("BYE: got %d, want 200", r.StatusCode)
	}
	proxyVia(t, p, bob.next(sip.BYE))
	eventually(t, "proxy idle", func() bool { return p.InFlight() == 0 })
}

func TestForkFirst2xxWins(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	ringing := newUA(t, "bob", "UDP", ring)
	// The answering phone waits until the other one rings, so that the
	// CANCEL has a ringing branch to hit.
	answering := newUA(t, "bob", "UDP", func(u *testUA, req *sip.Request, tx sip.ServerTransaction) {
		waitUntil(func() bool { return ringing.invites() == 1 })
		answer(u, req, tx)
	})
	loc.bind(bobAOR, ringing.target(), answering.target())
	alice := newUA(t, "alice", "UDP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	tx := alice.send(inv)
	var extra2xx atomic.Int32
	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			extra2xx.Add(1)
		}
	})
	res := final(t, tx)
	if res.StatusCode != 200 {
		t.Fatalf("got %d, want 200", res.StatusCode)
	}
	eventually(t, "CANCEL at the ringing phone", func() bool { return ringing.cancels.Load() == 1 })
	eventually(t, "proxy idle", func() bool { return p.InFlight() == 0 })
	select {
	case r := <-tx.Responses():
		t.Errorf("extra response %d after the 200", r.StatusCode)
	default:
	}
	if n := extra2xx.Load(); n != 0 {
		t.Errorf("caller saw %d more 2xx", n)
	}
}

func TestForkAllBusy(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	b1 := newUA(t, "bob", "UDP", reject(486, "Busy Here"))
	b2 := newUA(t, "bob", "UDP", reject(486, "Busy Here"))
	loc.bind(bobAOR, b1.target(), b2.target())
	alice := newUA(t, "alice", "UDP", nil)
	res := alice.do(alice.request(sip.INVITE, bobAOR, aliceURI, p.udp))
	if res.StatusCode != 486 {
		t.Fatalf("got %d, want 486", res.StatusCode)
	}
	if b1.invites() != 1 || b2.invites() != 1 {
		t.Errorf("INVITEs received: %d and %d, want 1 each", b1.invites(), b2.invites())
	}
}

func TestFork6xxCancelsOthers(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	ringing := newUA(t, "bob", "UDP", ring)
	decline := newUA(t, "bob", "UDP", func(u *testUA, req *sip.Request, tx sip.ServerTransaction) {
		waitUntil(func() bool { return ringing.invites() == 1 })
		reject(603, "Decline")(u, req, tx)
	})
	loc.bind(bobAOR, ringing.target(), decline.target())
	alice := newUA(t, "alice", "UDP", nil)
	res := alice.do(alice.request(sip.INVITE, bobAOR, aliceURI, p.udp))
	if res.StatusCode != 603 {
		t.Fatalf("got %d, want 603", res.StatusCode)
	}
	if ringing.cancels.Load() != 1 {
		t.Errorf("ringing phone got %d CANCELs, want 1", ringing.cancels.Load())
	}
}

func TestLocalAnswers(t *testing.T) {
	loc := newLocator()
	cfg := defaultTestConfig()
	cfg.UserExists = func(_ context.Context, aor string) bool { return aor == "sip:carol@example.com" }
	p := startProxy(t, cfg, loc)
	alice := newUA(t, "alice", "UDP", nil)

	tests := []struct {
		name   string
		method sip.RequestMethod
		ruri   string
		edit   func(*sip.Request)
		want   int
		check  func(*testing.T, *sip.Response)
	}{
		{name: "no bindings", method: sip.INVITE, ruri: "sip:carol@example.com", want: 480},
		{name: "unknown user", method: sip.INVITE, ruri: "sip:nobody@example.com", want: 404},
		{name: "foreign domain", method: sip.MESSAGE, ruri: "sip:dave@elsewhere.test", want: 403,
			check: func(t *testing.T, r *sip.Response) {
				t.Helper()
				if w := r.GetHeader("Warning"); w == nil || !strings.Contains(w.Value(), "elsewhere.test") {
					t.Errorf("Warning = %v, want it to name the domain", w)
				}
			}},
		{name: "max-forwards 0", method: sip.INVITE, ruri: "sip:carol@example.com", want: 483,
			edit: func(r *sip.Request) { mf := sip.MaxForwardsHeader(0); r.ReplaceHeader(&mf) }},
		{name: "options to the proxy with max-forwards 0", method: sip.OPTIONS, ruri: "sip:" + p.udp, want: 200,
			edit: func(r *sip.Request) { mf := sip.MaxForwardsHeader(0); r.ReplaceHeader(&mf) },
			check: func(t *testing.T, r *sip.Response) {
				t.Helper()
				for _, h := range []string{"Allow", "Accept", "Supported"} {
					if r.GetHeader(h) == nil {
						t.Errorf("OPTIONS answer lacks %s", h)
					}
				}
			}},
		{name: "options to our domain", method: sip.OPTIONS, ruri: "sip:example.com", want: 200},
		{name: "proxy-require", method: sip.INVITE, ruri: "sip:carol@example.com", want: 420,
			edit: func(r *sip.Request) { r.AppendHeader(sip.NewHeader("Proxy-Require", "foo, bar")) },
			check: func(t *testing.T, r *sip.Response) {
				t.Helper()
				if u := r.GetHeader("Unsupported"); u == nil || u.Value() != "foo, bar" {
					t.Errorf("Unsupported = %v, want foo, bar", u)
				}
			}},
		{name: "tel uri", method: sip.INVITE, ruri: "tel:+15551234", want: 416},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := alice.request(tt.method, tt.ruri, aliceURI, p.udp)
			if tt.edit != nil {
				tt.edit(req)
			}
			res := alice.do(req)
			if res.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestLoopDetected(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	// bob's only contact is bob's AOR at the proxy itself: the request
	// comes back unchanged.
	var self sip.Uri
	if err := sip.ParseUri(bobAOR, &self); err != nil {
		t.Fatal(err)
	}
	loc.bind(bobAOR, Target{URI: self, Source: p.udp, Transport: "UDP"})
	alice := newUA(t, "alice", "UDP", nil)
	res := alice.do(alice.request(sip.MESSAGE, bobAOR, aliceURI, p.udp))
	if res.StatusCode != 482 {
		t.Fatalf("got %d, want 482", res.StatusCode)
	}
}

func TestUpstreamCancel(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	b1 := newUA(t, "bob", "UDP", ring)
	b2 := newUA(t, "bob", "UDP", ring)
	loc.bind(bobAOR, b1.target(), b2.target())
	alice := newUA(t, "alice", "UDP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	tx := alice.send(inv)
	// Wait for both phones to ring at the caller.
	rings := 0
	for rings < 2 {
		select {
		case r := <-tx.Responses():
			if r.StatusCode == 180 {
				rings++
			}
		case <-time.After(wait):
			t.Fatal("no ringing")
		}
	}
	if res := final(t, alice.cancel(inv)); res.StatusCode != 200 {
		t.Errorf("CANCEL: got %d, want 200", res.StatusCode)
	}
	if res := final(t, tx); res.StatusCode != 487 {
		t.Errorf("INVITE: got %d, want 487", res.StatusCode)
	}
	eventually(t, "CANCEL at both phones", func() bool { return b1.cancels.Load() == 1 && b2.cancels.Load() == 1 })
	eventually(t, "proxy idle", func() bool { return p.InFlight() == 0 })
}

func TestBranchTimeout(t *testing.T) {
	loc := newLocator()
	cfg := defaultTestConfig()
	cfg.BranchTimeout = 300 * time.Millisecond
	p := startProxy(t, cfg, loc)
	ringing := newUA(t, "bob", "UDP", ring)
	// A contact that never answers anything, not even 100 Trying.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var silentURI sip.Uri
	if err := sip.ParseUri("sip:bob@"+silent.LocalAddr().String(), &silentURI); err != nil {
		t.Fatal(err)
	}
	loc.bind(bobAOR, ringing.target(), Target{URI: silentURI})
	alice := newUA(t, "alice", "UDP", nil)

	start := time.Now()
	res := alice.do(alice.request(sip.INVITE, bobAOR, aliceURI, p.udp))
	if res.StatusCode != 408 {
		t.Fatalf("got %d, want 408", res.StatusCode)
	}
	if d := time.Since(start); d < cfg.BranchTimeout {
		t.Errorf("answered after %s, before the %s timeout", d, cfg.BranchTimeout)
	}
	if ringing.cancels.Load() != 1 {
		t.Errorf("ringing phone got %d CANCELs, want 1", ringing.cancels.Load())
	}
}

func TestOverload(t *testing.T) {
	loc := newLocator()
	cfg := defaultTestConfig()
	cfg.MaxInFlight = 1
	p := startProxy(t, cfg, loc)
	bob := newUA(t, "bob", "UDP", ring)
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "UDP", nil)

	first := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	tx := alice.send(first)
	bob.next(sip.INVITE)
	res := alice.do(alice.request(sip.INVITE, bobAOR, aliceURI, p.udp))
	if res.StatusCode != 503 {
		t.Fatalf("second INVITE: got %d, want 503", res.StatusCode)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "5" {
		t.Errorf("Retry-After = %v, want 5", ra)
	}
	final(t, alice.cancel(first))
	if res := final(t, tx); res.StatusCode != 487 {
		t.Errorf("first INVITE: got %d, want 487", res.StatusCode)
	}
	eventually(t, "proxy idle", func() bool { return p.InFlight() == 0 })
	// A slot is free again.
	if res := alice.do(alice.request(sip.OPTIONS, "sip:example.com", aliceURI, p.udp)); res.StatusCode != 200 {
		t.Errorf("after the call: got %d, want 200", res.StatusCode)
	}
}

func TestAuthentication(t *testing.T) {
	loc := newLocator()
	cfg := defaultTestConfig()
	cfg.Authenticate = func(_ context.Context, req *sip.Request, _ string) (string, *sip.Response) {
		h := req.GetHeader("Proxy-Authorization")
		if h == nil {
			res := sip.NewResponseFromRequest(req, 407, "Proxy Authentication Required", nil)
			res.AppendHeader(sip.NewHeader("Proxy-Authenticate", `Digest realm="example.com", nonce="n"`))
			return "", res
		}
		user, _, _ := strings.Cut(strings.TrimPrefix(h.Value(), "Test "), ",")
		return user, nil
	}
	p := startProxy(t, cfg, loc)
	bob := newUA(t, "bob", "UDP", nil)
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "UDP", nil)

	tests := []struct {
		name string
		from string
		cred string
		want int
	}{
		{"challenged", aliceURI, "", 407},
		{"wrong user", aliceURI, "Test mallory", 403},
		{"bare user name", aliceURI, "Test alice", 200},
		{"aor", aliceURI, "Test sip:Alice@example.com", 200},
		{"foreign caller", "sip:carol@elsewhere.test", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := alice.request(sip.MESSAGE, bobAOR, tt.from, p.udp)
			if tt.cred != "" {
				req.AppendHeader(sip.NewHeader("Proxy-Authorization", tt.cred))
			}
			res := alice.do(req)
			if res.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want == 407 && res.GetHeader("Proxy-Authenticate") == nil {
				t.Error("407 without Proxy-Authenticate")
			}
			if tt.want == 200 {
				if got := bob.next(sip.MESSAGE); got.GetHeader("Proxy-Authorization") != nil {
					t.Error("credentials forwarded downstream")
				}
			}
		})
	}
}

func TestTCPCallerUDPCallee(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	bob := newUA(t, "bob", "UDP", answer)
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "TCP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.tcp)
	res := final(t, alice.send(inv))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: got %d, want 200", res.StatusCode)
	}
	got := bob.next(sip.INVITE)
	rrs := got.GetHeaders("Record-Route")
	if len(rrs) != 2 {
		t.Fatalf("Record-Route entries = %d, want 2 (RFC 5658)", len(rrs))
	}
	if tp := rrs[0].(*sip.RecordRouteHeader).Address.UriParams.GetOr("transport", ""); tp != "udp" {
		t.Errorf("callee-side Record-Route transport = %q, want udp", tp)
	}
	if tp := rrs[1].(*sip.RecordRouteHeader).Address.UriParams.GetOr("transport", ""); tp != "tcp" {
		t.Errorf("caller-side Record-Route transport = %q, want tcp", tp)
	}
	ackAndHangUp(t, p, alice, bob, inv, res)
}

// TestUDPCallerTCPCallee has the proxy open a TCP connection to a callee
// that never connected to it, which needs a live context for the dial.
func TestUDPCallerTCPCallee(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	bob := newUA(t, "bob", "TCP", answer)
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "UDP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	res := final(t, alice.send(inv))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: got %d, want 200", res.StatusCode)
	}
	got := bob.next(sip.INVITE)
	if tp := got.Via().Transport; tp != "TCP" {
		t.Errorf("INVITE reached bob over %s, want TCP", tp)
	}
	ackAndHangUp(t, p, alice, bob, inv, res)
}

func TestTxContext(t *testing.T) {
	tx := &fakeServerTx{done: make(chan struct{})}
	ctx := txContext{tx}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() = %v while the transaction lives, want nil", err)
	}
	select {
	case <-ctx.Done():
		t.Fatal("Done() closed while the transaction lives")
	default:
	}
	close(tx.done)
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() = %v after the transaction ended, want context.Canceled", err)
	}
	select {
	case <-ctx.Done():
	default:
		t.Error("Done() open after the transaction ended")
	}
}

// TestTargetFinish checks the Finish hook of a target: it sees the branch
// the proxy built and the identity the proxy authenticated ("" for a
// caller it did not authenticate), and what it adds reaches the target.
func TestTargetFinish(t *testing.T) {
	loc := newLocator()
	cfg := defaultTestConfig()
	cfg.Authenticate = func(_ context.Context, req *sip.Request, _ string) (string, *sip.Response) {
		h := req.GetHeader("Proxy-Authorization")
		if h == nil {
			return "", sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
		}
		return strings.TrimPrefix(h.Value(), "Test "), nil
	}
	p := startProxy(t, cfg, loc)
	bob := newUA(t, "bob", "UDP", nil)
	target := bob.target()
	target.Finish = func(branch *sip.Request, user string) error {
		branch.AppendHeader(sip.NewHeader("X-Asserted", "user="+user))
		return nil
	}
	loc.bind(bobAOR, target)
	alice := newUA(t, "alice", "UDP", nil)
	for _, tt := range []struct {
		name, from, cred, want string
	}{
		{"authenticated", aliceURI, "Test sip:alice@example.com", "user=sip:alice@example.com"},
		{"foreign caller", "sip:carol@elsewhere.test", "", "user="},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := alice.request(sip.MESSAGE, bobAOR, tt.from, p.udp)
			if tt.cred != "" {
				req.AppendHeader(sip.NewHeader("Proxy-Authorization", tt.cred))
			}
			if res := alice.do(req); res.StatusCode != 200 {
				t.Fatalf("got %d, want 200", res.StatusCode)
			}
			got := bob.next(sip.MESSAGE)
			if h := got.GetHeader("X-Asserted"); h == nil || h.Value() != tt.want {
				t.Errorf("X-Asserted = %v, want %q", h, tt.want)
			}
		})
	}
}
