package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// parseRequest parses a request written with \n line ends.
func parseRequest(tb testing.TB, s string) *sip.Request {
	tb.Helper()
	s = strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n")
	m, err := sip.ParseMessage([]byte(s))
	if err != nil {
		tb.Fatalf("parse: %v\n%s", err, s)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		tb.Fatal("not a request")
	}
	req.SetSource("192.0.2.10:5070")
	req.SetTransport("UDP")
	return req
}

func routesOf(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Route") {
		out = append(out, h.Value())
	}
	return out
}

func TestPreprocessRoute(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	tok := p.routeToken("c1", "")
	us := "sip:" + p.udp + ";transport=udp;lr;" + routeTokenParam + "=" + tok
	bad := "sip:" + p.udp + ";transport=udp;lr;" + routeTokenParam + "=0000"
	tests := []struct {
		name          string
		ruri          string
		routes        []string
		wantRURI      string
		wantRoutes    []string
		routed, token bool
	}{
		{name: "no route", ruri: "sip:bob@example.com", wantRURI: "sip:bob@example.com"},
		{name: "loose route to us", ruri: "sip:bob@192.0.2.20:5060", routes: []string{"<" + us + ">"},
			wantRURI: "sip:bob@192.0.2.20:5060", routed: true, token: true},
		{name: "double record-route", ruri: "sip:bob@192.0.2.20:5060", routes: []string{"<" + us + ">", "<" + us + ">", "<sip:next.example;lr>"},
			wantRURI: "sip:bob@192.0.2.20:5060", wantRoutes: []string{"<sip:next.example;lr>"}, routed: true, token: true},
		{name: "forged token", ruri: "sip:bob@192.0.2.20:5060", routes: []string{"<" + bad + ">"},
			wantRURI: "sip:bob@192.0.2.20:5060", routed: true},
		{name: "route to someone else", ruri: "sip:bob@example.com", routes: []string{"<sip:192.0.2.30:5060;lr>"},
			wantRURI: "sip:bob@example.com", wantRoutes: []string{"<sip:192.0.2.30:5060;lr>"}},
		{name: "same address, other port", ruri: "sip:bob@example.com", routes: []string{"<sip:127.0.0.1:9;lr>"},
			wantRURI: "sip:bob@example.com", wantRoutes: []string{"<sip:127.0.0.1:9;lr>"}},
		{name: "strict router before us", ruri: us, routes: []string{"<sip:192.0.2.30;lr>", "<sip:bob@192.0.2.20:5060>"},
			wantRURI: "sip:bob@192.0.2.20:5060", wantRoutes: []string{"<sip:192.0.2.30;lr>"}, routed: true, token: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := "MESSAGE " + tt.ruri + " SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n" +
				"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: c1\nCSeq: 1 MESSAGE\n"
			for _, r := range tt.routes {
				msg += "Route: " + r + "\n"
			}
			req := parseRequest(t, msg+"Content-Length: 0\n\n")
			work, routed, token, _ := p.preprocessRoute(req)
			if got := work.recipient.String(); got != tt.wantRURI {
				t.Errorf("Request-URI = %s, want %s", got, tt.wantRURI)
			}
			var routes []string
			for _, r := range work.appendRoutes(nil) {
				routes = append(routes, r.Value())
			}
			if diff := cmp.Diff(tt.wantRoutes, routes); diff != "" {
				t.Errorf("Route (-want +got):\n%s", diff)
			}
			if routed != tt.routed || token != tt.token {
				t.Errorf("routed, token = %v, %v; want %v, %v", routed, token, tt.routed, tt.token)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	base := "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n" +
		"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: v1\nCSeq: 1 INVITE\n"
	req := parseRequest(t, base+"Content-Length: 0\n\n")
	loop := p.loopHash(req)
	tests := []struct {
		name  string
		extra string
		toUs  bool
		want  int
	}{
		{"valid", "", false, 0},
		{"max-forwards 1", "Max-Forwards: 1\n", false, 0},
		{"max-forwards 0", "Max-Forwards: 0\n", false, 483},
		{"options to us with max-forwards 0", "Max-Forwards: 0\n", true, 0},
		{"our via, same request: loop", "Via: SIP/2.0/UDP " + p.udp + ";branch=" + branchPrefix + loop + ".x\n", false, 482},
		{"our via, other hash: spiral", "Via: SIP/2.0/UDP " + p.udp + ";branch=" + branchPrefix + "other.x\n", false, 0},
		{"someone else's via with our hash", "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=" + branchPrefix + loop + ".x\n", false, 0},
		{"proxy-require", "Proxy-Require: sec-agree\n", false, 420},
		// RFC 4475 §3.3.8 and §3.3.9.
		{"two Call-IDs", "Call-ID: v2\n", false, 400},
		{"two From", "From: <sip:mallory@example.com>;tag=2\n", false, 400},
		{"two To", "To: <sip:carol@example.com>\n", false, 400},
		{"two CSeq", "CSeq: 2 INVITE\n", false, 400},
		{"two Max-Forwards", "Max-Forwards: 70\nMax-Forwards: 5\n", false, 400},
		{"two Content-Length", "Content-Length: 13\n", false, 400},
		{"two Content-Type", "Content-Type: application/sdp\nContent-Type: text/plain\n", false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "INVITE"
			msg := base
			if tt.toUs {
				method = "OPTIONS"
				msg = strings.ReplaceAll(msg, "INVITE", "OPTIONS")
			}
			r := parseRequest(t, msg+tt.extra+"Content-Length: 0\n\n")
			res := p.validate(r, tt.toUs)
			got := 0
			if res != nil {
				got = res.StatusCode
			}
			if got != tt.want {
				t.Errorf("%s: validate = %d, want %d", method, got, tt.want)
			}
		})
	}
	// RFC 4475 §3.1.2.17: the CSeq method must be the request's.
	mismatch := parseRequest(t, strings.Replace(base, "INVITE sip:", "OPTIONS sip:", 1)+"Content-Length: 0\n\n")
	if res := p.validate(mismatch, false); res == nil || res.StatusCode != 400 {
		t.Errorf("OPTIONS with CSeq INVITE: validate = %v, want 400", res)
	}
}

func TestLoopHashIgnoresMethod(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	mk := func(method, ruri string) *sip.Request {
		return parseRequest(t, method+" "+ruri+" SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n"+
			"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: h1\nCSeq: 7 "+method+"\nContent-Length: 0\n\n")
	}
	inv, cancel := p.loopHash(mk("INVITE", "sip:bob@example.com")), p.loopHash(mk("CANCEL", "sip:bob@example.com"))
	if inv != cancel {
		t.Errorf("INVITE and CANCEL hash differently: %s, %s", inv, cancel)
	}
	if other := p.loopHash(mk("INVITE", "sip:carol@example.com")); other == inv {
		t.Error("a new Request-URI does not change the hash")
	}
}

func TestUnsupportedProxyRequire(t *testing.T) {
	req := parseRequest(t, "OPTIONS sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa\n"+
		"Proxy-Require: foo, bar\nProxy-Require: baz\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
	if diff := cmp.Diff([]string{"foo", "bar", "baz"}, unsupportedProxyRequire(req)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSameUser(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	tests := []struct {
		user string
		want bool
	}{
		{"alice", true},
		{"Alice", true},
		{"sip:alice@example.com", true},
		{"alice@example.com", true},
		{"alice@127.0.0.1", true}, // an alias of the primary domain
		{"bob", false},
		{"sip:alice@elsewhere.test", false},
		{"", false},
		{"sip:@@", false},
	}
	for _, tt := range tests {
		if got := p.sameUser(tt.user, "sip:alice@example.com"); got != tt.want {
			t.Errorf("sameUser(%q) = %v, want %v", tt.user, got, tt.want)
		}
	}
}

func TestTargetSet(t *testing.T) {
	u := func(s string) sip.Uri {
		var x sip.Uri
		if err := sip.ParseUri(s, &x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	in := []Target{
		{URI: u("sip:a@192.0.2.1"), Q: 0.5},
		{URI: u("sip:b@192.0.2.2"), Q: 1},
		{URI: u("sip:a@192.0.2.1"), Q: 0.9},
		{URI: u("sip:c@192.0.2.3"), Q: 0.5},
	}
	var got []string
	for _, tg := range targetSet(in) {
		got = append(got, tg.URI.String())
	}
	want := []string{"sip:b@192.0.2.2", "sip:a@192.0.2.1", "sip:c@192.0.2.3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestUriTransport(t *testing.T) {
	tests := map[string]string{
		"sip:a@h":                "UDP",
		"sip:a@h;transport=tcp":  "TCP",
		"sips:a@h":               "TLS",
		"sips:a@h;transport=tcp": "TLS",
		"sip:a@h;transport=ws":   "WS",
	}
	for s, want := range tests {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		if got := uriTransport(u); got != want {
			t.Errorf("uriTransport(%s) = %s, want %s", s, got, want)
		}
	}
}

func TestCancelFor(t *testing.T) {
	inv := parseRequest(t, "INVITE sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch="+branchPrefix+"h.u\n"+
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\nRoute: <sip:192.0.2.30;lr>\n"+
		"From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: c9\nCSeq: 42 INVITE\n"+
		"Content-Type: application/sdp\nContent-Length: 4\n\nv=0\n")
	inv.SetDestination("192.0.2.30:5060")
	c := cancelFor(inv)
	if c.Method != sip.CANCEL || c.Recipient.String() != inv.Recipient.String() {
		t.Errorf("start line %s", c.StartLine())
	}
	if viaCount(c) != 1 || c.Via().Value() != inv.Via().Value() {
		t.Errorf("Via = %v, want only the branch's", c.GetHeaders("Via"))
	}
	if cs := c.CSeq(); cs.SeqNo != 42 || cs.MethodName != sip.CANCEL {
		t.Errorf("CSeq = %s, want 42 CANCEL", cs.Value())
	}
	if diff := cmp.Diff(routesOf(inv), routesOf(c)); diff != "" {
		t.Errorf("Route (-inv +cancel):\n%s", diff)
	}
	if len(c.Body()) != 0 || c.Destination() != "192.0.2.30:5060" {
		t.Errorf("body %q, destination %s", c.Body(), c.Destination())
	}
}

func TestPlanGRUU(t *testing.T) {
	loc := newLocator()
	p := startProxy(t, defaultTestConfig(), loc)
	var contact sip.Uri
	if err := sip.ParseUri("sip:bob@192.0.2.20:5062", &contact); err != nil {
		t.Fatal(err)
	}
	gruu := "sip:bob@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
	loc.gruus[gruu] = Target{URI: contact}
	loc.bind(bobAOR, Target{URI: contact}, Target{URI: contact}) // not used for a GRUU
	req := parseRequest(t, "INVITE "+gruu+" SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n"+
		"From: <sip:carol@elsewhere.test>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: g1\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
	pl := p.plan(context.Background(), req)
	if pl.reject != nil {
		t.Fatalf("rejected: %d", pl.reject.StatusCode)
	}
	if len(pl.targets) != 1 || pl.targets[0].URI.String() != contact.String() {
		t.Errorf("targets = %v, want the GRUU's contact only", pl.targets)
	}
	unknown := parseRequest(t, "INVITE sip:bob@example.com;gr=urn:uuid:0 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n"+
		"From: <sip:carol@elsewhere.test>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: g2\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
	if pl := p.plan(context.Background(), unknown); pl.reject == nil || pl.reject.StatusCode != 480 {
		t.Errorf("unknown GRUU: %+v, want 480", pl.reject)
	}
}

func TestPlanRelayPolicy(t *testing.T) {
	for _, forward := range []bool{false, true} {
		cfg := defaultTestConfig()
		cfg.ForwardOutOfDomain = forward
		p := startProxy(t, cfg, newLocator())
		tok := p.routeToken("d1", "")
		inDialog := "BYE sip:dave@192.0.2.40 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n" +
			"Route: <sip:" + p.udp + ";transport=udp;lr;" + routeTokenParam + "=" + tok + ">\n" +
			"From: <sip:alice@example.com>;tag=1\nTo: <sip:dave@elsewhere.test>;tag=2\nCall-ID: d1\nCSeq: 2 BYE\nContent-Length: 0\n\n"
		if pl := p.plan(context.Background(), parseRequest(t, inDialog)); pl.reject != nil || !pl.direct || !pl.dialog {
			t.Errorf("forward=%v: in-dialog BYE: reject %v, direct %v, dialog %v", forward, pl.reject, pl.direct, pl.dialog)
		}
		forged := strings.Replace(inDialog, tok, "1234", 1)
		pl := p.plan(context.Background(), parseRequest(t, forged))
		if forward == (pl.reject != nil) {
			t.Errorf("forward=%v: BYE with a forged token: reject %v", forward, pl.reject)
		}
		preloaded := strings.Replace(strings.Replace(inDialog, ";tag=2", "", 1), "Route: <", "Route: <sip:192.0.2.77;lr>\nX-Old: <", 1)
		pl = p.plan(context.Background(), parseRequest(t, preloaded))
		if forward == (pl.reject != nil) {
			t.Errorf("forward=%v: preloaded foreign Route: reject %v", forward, pl.reject)
		}
	}
}
