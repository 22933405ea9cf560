package proxy

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestFlowEncoding(t *testing.T) {
	tests := []flow{
		{transport: "UDP", addr: "192.0.2.1:5060"},
		{transport: "TLS", addr: "[2001:db8::1]:5061"},
		{transport: "TCP", addr: "host.example:5070"},
	}
	for _, f := range tests {
		enc := f.encode()
		if strings.ContainsAny(enc, ":;[]/ ") {
			t.Errorf("encode(%v) = %q: not a plain parameter value", f, enc)
		}
		got, ok := decodeFlow(enc)
		if !ok || got != f {
			t.Errorf("decodeFlow(encode(%v)) = %v, %v", f, got, ok)
		}
	}
	for _, bad := range []string{"", "zz", "5544500a", "554450", "XYZ/1.2.3.4:5"} {
		if f, ok := decodeFlow(bad); ok {
			t.Errorf("decodeFlow(%q) = %v, want failure", bad, f)
		}
	}
	if enc := (flow{}).encode(); enc != "" {
		t.Errorf("empty flow encodes to %q", enc)
	}
}

func FuzzDecodeFlow(f *testing.F) {
	f.Add(flow{transport: "UDP", addr: "192.0.2.1:5060"}.encode())
	f.Add("")
	f.Add("not hex")
	f.Fuzz(func(t *testing.T, s string) {
		fl, ok := decodeFlow(s)
		if !ok {
			return
		}
		// Whatever decodes must round-trip.
		again, ok := decodeFlow(fl.encode())
		if !ok || again != fl {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, fl, again, ok)
		}
	})
}

// TestDialogFollowsFlow checks that requests inside a dialog reach a callee
// on the TCP connection it opened (as a registered client behind NAT does),
// not at its Contact, which here nothing listens on.
func TestDialogFollowsFlow(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	unreachable := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: 9, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}
	bob := newUA(t, "bob", "TCP", func(_ *testUA, req *sip.Request, tx sip.ServerTransaction) {
		ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
		ok.AppendHeader(&sip.ContactHeader{Address: unreachable})
		_ = tx.Respond(ok)
	})
	// bob "registers": its connection to the proxy is the flow.
	if res := bob.do(bob.request(sip.OPTIONS, "sip:example.com", bobAOR, p.tcp)); res.StatusCode != 200 {
		t.Fatalf("OPTIONS: got %d", res.StatusCode)
	}
	conn, err := bob.ua.TransportLayer().GetConnection("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	bobFlow := conn.LocalAddr().String()
	conn.TryClose()
	loc.bind(bobAOR, Target{URI: unreachable, Source: bobFlow, Transport: "TCP"})

	alice := newUA(t, "alice", "UDP", nil)
	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
	res := final(t, alice.send(inv))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: got %d, want 200", res.StatusCode)
	}
	ackAndHangUp(t, p, alice, bob, inv, res)
}

// TestCalleeHangsUp checks the route set seen from the callee's side: its
// BYE goes through the proxy back to the caller's flow.
func TestCalleeHangsUp(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	bob := newUA(t, "bob", "UDP", answerNow)
	loc.bind(bobAOR, bob.target())
	alice := newUA(t, "alice", "TCP", nil)

	inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.tcp)
	res := final(t, alice.send(inv))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: got %d, want 200", res.StatusCode)
	}
	got := bob.next(sip.INVITE)
	// The callee's view (RFC 3261 §12.1.1): route set = Record-Route in
	// order, remote target = the caller's Contact.
	bye := sip.NewRequest(sip.BYE, got.Contact().Address)
	for _, h := range got.GetHeaders("Record-Route") {
		bye.AppendHeader(&sip.RouteHeader{Address: h.(*sip.RecordRouteHeader).Address})
	}
	to := got.From().AsTo()
	bye.AppendHeader(&to)
	from := res.To().AsFrom()
	bye.AppendHeader(&from)
	bye.AppendHeader(sip.HeaderClone(got.CallID()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	mf := sip.MaxForwardsHeader(70)
	bye.AppendHeader(&mf)
	bye.SetBody(nil)
	if r := bob.do(bye); r.StatusCode != 200 {
		t.Fatalf("BYE: got %d, want 200", r.StatusCode)
	}
	b := alice.next(sip.BYE)
	proxyVia(t, p, b)
	if b.Transport() != "TCP" {
		t.Errorf("BYE reached the caller over %s, want its TCP connection", b.Transport())
	}
}
