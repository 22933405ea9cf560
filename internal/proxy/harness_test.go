package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// wait bounds every wait for a network event in these tests: generous, so
// a slow machine does not flake, and never a sleep that must be "long
// enough".
const wait = 10 * time.Second

// fakeLocator is a location service held in memory.
type fakeLocator struct {
	mu       sync.Mutex
	bindings map[string][]Target
	gruus    map[string]Target
}

func newLocator() *fakeLocator {
	return &fakeLocator{bindings: map[string][]Target{}, gruus: map[string]Target{}}
}

func (f *fakeLocator) bind(aor string, ts ...Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bindings[aor] = append(f.bindings[aor], ts...)
}

func (f *fakeLocator) Lookup(aor string) []Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.bindings[aor]...)
}

func (f *fakeLocator) LookupGRUU(uri string) (Target, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.gruus[uri]
	return t, ok
}

// testProxy is a proxy serving UDP and TCP on 127.0.0.1.
type testProxy struct {
	*Proxy
	udp, tcp string
}

var proxiedMethods = []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.OPTIONS,
	sip.MESSAGE, sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.INFO, sip.PRACK, sip.UPDATE}

// startProxy starts a proxy with its ACK lane (ReadFilter) wired to its
// transport layer, as the server does.
func startProxy(tb testing.TB, cfg Config, loc Locator) *testProxy {
	tb.Helper()
	return startProxyLane(tb, cfg, loc, true)
}

// startProxyLane starts a proxy with or without its ACK lane.
func startProxyLane(tb testing.TB, cfg Config, loc Locator, lane bool) *testProxy {
	tb.Helper()
	level := slog.LevelDebug
	if _, bench := tb.(*testing.B); bench {
		level = slog.LevelWarn // debug records would be most of what is measured
	}
	log := siptest.Logger(tb, level)
	var p *Proxy // set before the listeners serve
	tpOpts := []sip.TransportLayerOption{sip.WithTransportLayerLogger(log)}
	if lane {
		tpOpts = append(tpOpts, sip.WithTransportLayerReadFilter(func(props sip.TransportReadProps, b []byte) ([]byte, error) {
			return p.ReadFilter(props, b)
		}))
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("parley-test-proxy"),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(log),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) { p.OnUnhandledResponse(r) }),
		),
		sipgo.WithUserAgentTransportLayerOptions(tpOpts...),
	)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		tb.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Hostname = "127.0.0.1"
	local := sipx.NewLocal([]string{"example.com"}, []string{"127.0.0.1", "localhost"})
	p = New(cfg, local, loc, cli, log)
	for _, m := range proxiedMethods {
		srv.OnRequest(m, p.ServeSIP)
	}
	pc, ln := siptest.ListenPair(tb)
	go func() { _ = srv.ServeUDP(pc) }() // ends with an error when the listener closes
	go func() { _ = srv.ServeTCP(ln) }()
	tb.Cleanup(func() {
		ua.Close()
		pc.Close()
		ln.Close()
	})
	tp := &testProxy{Proxy: p, udp: pc.LocalAddr().String(), tcp: ln.Addr().String()}
	siptest.WaitListening(tb, ua, tp.udp)
	return tp
}

// eventually polls cond until it holds or the wait bound passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !waitUntil(cond) {
		tb.Fatalf("timed out waiting for %s", what)
	}
}

// waitUntil polls cond until it holds (true) or the wait bound passes
// (false). Unlike eventually it may run outside the test goroutine.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// behaviour is how a test UA answers an INVITE. It runs in the server
// transaction's handler and must not return before the transaction is done
// with (sipgo ends it when the handler returns).
type behaviour func(u *testUA, req *sip.Request, tx sip.ServerTransaction)

// testUA is a SIP user agent on 127.0.0.1 that records what it receives.
type testUA struct {
	t         testing.TB
	user      string
	transport string // "UDP" or "TCP"
	addr      string // where it listens
	ua        *sipgo.UserAgent
	cli       *sipgo.Client
	onInvite  behaviour

	mu       sync.Mutex
	received []*sip.Request
	got      chan *sip.Request // every request, in arrival order
	cancels  atomic.Int32      // CANCELs that hit an INVITE transaction
}

func newUA(tb testing.TB, user, transport string, onInvite behaviour) *testUA {
	tb.Helper()
	log := siptest.Logger(tb, slog.LevelWarn)
	u := &testUA{t: tb, user: user, transport: transport, onInvite: onInvite, got: make(chan *sip.Request, 64)}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		tb.Fatal(err)
	}
	pc, ln := siptest.ListenPair(tb)
	opts := []sipgo.ClientOption{sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log)}
	if transport == "UDP" {
		// Send from the listening socket, as phones do.
		opts = append(opts, sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
		u.addr = pc.LocalAddr().String()
	} else {
		u.addr = ln.Addr().String()
	}
	if u.cli, err = sipgo.NewClient(ua, opts...); err != nil {
		tb.Fatal(err)
	}
	u.ua = ua
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.OnCancel(func(*sip.Request) { u.cancels.Add(1) })
		u.record(req)
		if u.onInvite != nil {
			u.onInvite(u, req, tx)
		}
	})
	for _, m := range []sip.RequestMethod{sip.ACK, sip.CANCEL} {
		srv.OnRequest(m, func(req *sip.Request, _ sip.ServerTransaction) { u.record(req) })
	}
	for _, m := range []sip.RequestMethod{sip.BYE, sip.MESSAGE, sip.OPTIONS, sip.SUBSCRIBE} {
		srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			u.record(req)
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		})
	}
	go func() { _ = srv.ServeUDP(pc) }() // ends with an error when the listener closes
	go func() { _ = srv.ServeTCP(ln) }()
	tb.Cleanup(func() {
		ua.Close()
		pc.Close()
		ln.Close()
	})
	siptest.WaitListening(tb, ua, pc.LocalAddr().String())
	return u
}

func (u *testUA) record(req *sip.Request) {
	u.mu.Lock()
	u.received = append(u.received, req)
	u.mu.Unlock()
	select {
	case u.got <- req:
	default:
	}
}

// invites reports how many INVITEs the UA received.
func (u *testUA) invites() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.received {
		if r.Method == sip.INVITE {
			n++
		}
	}
	return n
}

// next returns the next request of method m the UA receives.
func (u *testUA) next(m sip.RequestMethod) *sip.Request {
	u.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case r := <-u.got:
			if r.Method == m {
				return r
			}
		case <-timeout:
			u.t.Fatalf("%s: no %s received", u.user, m)
			return nil
		}
	}
}

// contact is the UA's registered contact.
func (u *testUA) contact() sip.Uri {
	host, port, _ := net.SplitHostPort(u.addr)
	p, _ := strconv.Atoi(port)
	c := sip.Uri{Scheme: "sip", User: u.user, Host: host, Port: p}
	if u.transport != "UDP" {
		c.UriParams = sip.NewParams()
		c.UriParams.Add("transport", "tcp")
	}
	return c
}

func (u *testUA) target() Target { return Target{URI: u.contact()} }

// Behaviours.

// answer rings, then accepts the call.
func answer(u *testUA, req *sip.Request, tx sip.ServerTransaction) {
	ring := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	_ = tx.Respond(ring)
	ok := sip.NewResponseFromRequest(req, 200, "OK", []byte("v=0\r\n"))
	ok.To().Params.Add("tag", ring.To().Params.GetOr("tag", ""))
	ok.AppendHeader(&sip.ContactHeader{Address: u.contact()})
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	_ = tx.Respond(ok)
}

// answerNow accepts the call without ringing.
func answerNow(u *testUA, req *sip.Request, tx sip.ServerTransaction) {
	ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
	ok.AppendHeader(&sip.ContactHeader{Address: u.contact()})
	_ = tx.Respond(ok)
}

// reject answers with a final status.
func reject(code int, reason string) behaviour {
	return func(_ *testUA, req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
		<-tx.Done() // keep the transaction for the ACK
	}
}

// ring rings until canceled (sipgo then answers 487 on its own).
func ring(_ *testUA, req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
	<-tx.Done()
}

// Caller side.

var cseqCounter atomic.Uint32

// request builds an out-of-dialog request from u to ruri, sent to the
// proxy at addr.
func (u *testUA) request(method sip.RequestMethod, ruri, from, proxyAddr string) *sip.Request {
	u.t.Helper()
	var to, fr sip.Uri
	if err := sip.ParseUri(ruri, &to); err != nil {
		u.t.Fatal(err)
	}
	if err := sip.ParseUri(from, &fr); err != nil {
		u.t.Fatal(err)
	}
	req := sip.NewRequest(method, to)
	fh := &sip.FromHeader{Address: fr, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	cid := sip.CallIDHeader(fmt.Sprintf("%s-%d-%d@test", u.user, time.Now().UnixNano(), cseqCounter.Add(1)))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	req.AppendHeader(&sip.ContactHeader{Address: u.contact()})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)
	req.SetDestination(proxyAddr)
	req.SetTransport(u.transport)
	return req
}

// send starts a client transaction for req.
func (u *testUA) send(req *sip.Request) sip.ClientTransaction {
	u.t.Helper()
	tx, err := u.cli.TransactionRequest(context.Background(), req)
	if err != nil {
		u.t.Fatalf("send %s: %v", req.Method, err)
	}
	u.t.Cleanup(tx.Terminate)
	return tx
}

// final waits for the final response on tx, skipping provisional ones.
func final(tb testing.TB, tx sip.ClientTransaction) *sip.Response {
	tb.Helper()
	timeout := time.After(wait)
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res
		case <-tx.Done():
			tb.Fatalf("transaction ended without final response: %v", tx.Err())
		case <-timeout:
			tb.Fatal("no final response")
		}
	}
}

// do sends req and returns its final response.
func (u *testUA) do(req *sip.Request) *sip.Response {
	u.t.Helper()
	res := final(u.t, u.send(req))
	return res
}

// inDialog builds a request inside the dialog set up by inv and its 2xx
// (RFC 3261 §12.2.1.1): Request-URI the remote Contact, Route the reversed
// Record-Route set.
func (u *testUA) inDialog(method sip.RequestMethod, inv *sip.Request, ok *sip.Response, seq uint32) *sip.Request {
	req := sip.NewRequest(method, ok.Contact().Address)
	rrs := ok.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		req.AppendHeader(&sip.RouteHeader{Address: rrs[i].(*sip.RecordRouteHeader).Address})
	}
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(ok.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)
	return req
}

// cancel sends a CANCEL for a sent INVITE (RFC 3261 §9.1).
func (u *testUA) cancel(inv *sip.Request) sip.ClientTransaction {
	u.t.Helper()
	c := cancelFor(inv)
	c.SetDestination(inv.Destination())
	tx, err := u.cli.TransactionRequest(context.Background(), c, noBuild)
	if err != nil {
		u.t.Fatal(err)
	}
	u.t.Cleanup(tx.Terminate)
	return tx
}

// viaCount is the number of Via entries of a message.
func viaCount(m interface{ GetHeaders(string) []sip.Header }) int {
	return len(m.GetHeaders("Via"))
}
