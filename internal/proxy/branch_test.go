package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestReceivedVia(t *testing.T) {
	tests := []struct {
		name, via, source string
		want              string // "" for no change
	}{
		{name: "rport asked", via: "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa;rport", source: "192.0.2.10:40000",
			want: "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa;rport=40000;received=192.0.2.10"},
		{name: "sent-by differs", via: "SIP/2.0/UDP host.example:5070;branch=z9hG4bKa", source: "192.0.2.10:5070",
			want: "SIP/2.0/UDP host.example:5070;branch=z9hG4bKa;received=192.0.2.10"},
		{name: "sent-by right", via: "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa", source: "192.0.2.10:5070"},
		{name: "rport already filled", via: "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa;rport=5070", source: "192.0.2.10:5070"},
		{name: "IPv6", via: "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKa", source: "[2001:db8::1]:5070"},
		{name: "no source", via: "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa;rport", source: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parseRequest(t, "OPTIONS sip:bob@example.com SIP/2.0\nVia: "+tt.via+"\n"+
				"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: rv\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
			v := req.Via()
			before := v.Value()
			got := receivedVia(v, tt.source)
			if v.Value() != before {
				t.Errorf("the received Via changed to %q: it is shared and must stay %q", v.Value(), before)
			}
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("receivedVia = %q, want no change", got.Value())
			case tt.want != "" && got == nil:
				t.Errorf("receivedVia = nil, want %q", tt.want)
			case got != nil && got.Value() != tt.want:
				t.Errorf("receivedVia = %q, want %q", got.Value(), tt.want)
			}
		})
	}
}

// TestBranchSharesNothingItChanges checks that building a branch leaves
// the received request as it was: the branch shares its header values,
// and the server transaction still answers from the original.
func TestBranchSharesNothingItChanges(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	tok := p.routeToken("share-1", "")
	req := parseRequest(t, "BYE sip:bob@192.0.2.20:5062 SIP/2.0\n"+
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKs;rport\n"+
		"Route: <sip:"+p.udp+";transport=udp;lr;"+routeTokenParam+"="+tok+">\n"+
		"Route: <sip:192.0.2.30;lr>\n"+
		"Max-Forwards: 70\nProxy-Authorization: Digest username=\"alice\"\n"+
		"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>;tag=2\nCall-ID: share-1\nCSeq: 2 BYE\nContent-Length: 0\n\n")
	before := req.String()
	work, _, token, fl := p.preprocessRoute(req)
	if !token {
		t.Fatal("the token was not recognized")
	}
	work.noAuth = true
	in := inbound{transport: "UDP", source: req.Source(), port: 5060, loop: p.loopHash(req)}
	out := p.buildBranch(in, &work, branchSpec{flow: fl, unique: "u"})
	if got := req.String(); got != before {
		t.Errorf("building the branch changed the received request:\n%s\nwant\n%s", got, before)
	}
	if got := len(out.GetHeaders("Via")); got != 2 {
		t.Errorf("branch has %d Vias, want 2", got)
	}
	if got := out.Via().Params.GetOr("branch", ""); !strings.HasPrefix(got, branchPrefix) {
		t.Errorf("top Via branch %q is not ours", got)
	}
	if r := out.Route(); r == nil || r.Address.Host != "192.0.2.30" {
		t.Errorf("branch Route = %v, want the next hop's only", out.GetHeaders("Route"))
	}
	if mf := out.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Errorf("branch Max-Forwards = %v, want 69", mf)
	}
	if out.GetHeader("Proxy-Authorization") != nil {
		t.Error("credentials for us forwarded")
	}
	if got := out.Destination(); got != "192.0.2.30:5060" {
		t.Errorf("branch goes to %s, want the next Route 192.0.2.30:5060", got)
	}
	var second *sip.ViaHeader
	if vias := out.GetHeaders("Via"); len(vias) == 2 {
		second, _ = vias[1].(*sip.ViaHeader)
	}
	if second == nil || second.Params.GetOr("received", "") != "192.0.2.10" {
		t.Errorf("previous hop's Via in the branch = %v, want received=192.0.2.10", second)
	}
}

// TestStrictRouterNextHop checks RFC 3261 §16.6 steps 6 and 7 for a next
// hop that is a strict router: it becomes the Request-URI, the
// Request-URI goes to the end of the Route set, and the request is sent to
// the strict router.
func TestStrictRouterNextHop(t *testing.T) {
	p := startProxy(t, Config{RecordRoute: true, ForwardOutOfDomain: true}, newLocator())
	req := parseRequest(t, "MESSAGE sip:bob@192.0.2.20:5062 SIP/2.0\n"+
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKsr\n"+
		"Route: <sip:192.0.2.30:5070>\nRoute: <sip:192.0.2.40;lr>\n"+
		"From: <sip:carol@elsewhere.test>;tag=1\nTo: <sip:bob@elsewhere.test>\nCall-ID: strict-1\nCSeq: 1 MESSAGE\nContent-Length: 0\n\n")
	pl := p.plan(context.Background(), req)
	if pl.reject != nil {
		t.Fatalf("rejected: %d", pl.reject.StatusCode)
	}
	in := inbound{transport: "UDP", source: req.Source(), port: 5060, loop: p.loopHash(req)}
	out := p.buildBranch(in, &pl.work, branchSpec{flow: pl.flow, unique: "u"})
	if got, want := out.Recipient.String(), "sip:192.0.2.30:5070"; got != want {
		t.Errorf("Request-URI = %s, want the strict router %s", got, want)
	}
	var routes []string
	for _, h := range out.GetHeaders("Route") {
		routes = append(routes, h.Value())
	}
	if want := []string{"<sip:192.0.2.40;lr>", "<sip:bob@192.0.2.20:5062>"}; strings.Join(routes, ",") != strings.Join(want, ",") {
		t.Errorf("Route = %v, want %v", routes, want)
	}
	if got, want := out.Destination(), "192.0.2.30:5070"; got != want {
		t.Errorf("sent to %s, want the strict router at %s", got, want)
	}
}
