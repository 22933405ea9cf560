package sipx

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestHeaderParsers(t *testing.T) {
	tests := []struct {
		name, header, wantTag string
	}{
		{"spaces around equal (RFC 4475 §3.1.1.1)", "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8", "98asjd8"},
		{"compact form, tab", "f: <sip:a@example.com>;tag\t=\tx1", "x1"},
		{"to", "TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", "1918181833n"},
		{"plain", "From: <sip:a@example.com>;tag=abc", "abc"},
	}
	p := sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n" + tt.header +
				"\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
			if tt.name == "to" {
				msg = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n" + tt.header +
					"\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
			}
			m, err := p.ParseSIP([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			req := m.(*sip.Request)
			params := req.From().Params
			if tt.name == "to" {
				params = req.To().Params
			}
			if tag, _ := params.Get("tag"); tag != tt.wantTag {
				t.Errorf("tag %q, want %q (params %q)", tag, tt.wantTag, params.String())
			}
		})
	}
}

func TestRewriteForeignScheme(t *testing.T) {
	tail := "\r\nTo: sip:user@example.com\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name, in, want string
	}{
		{"RFC 4475 §3.3.3", "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0" + tail,
			"OPTIONS sip:foreign-scheme.invalid;scheme=soap.beep SIP/2.0" + tail},
		{"digits and plus", "INVITE Z39.50+x:abc SIP/2.0" + tail, "INVITE sip:foreign-scheme.invalid;scheme=z39.50+x SIP/2.0" + tail},
		{"sip untouched", "OPTIONS sip:a@example.com SIP/2.0" + tail, ""},
		{"letters only: sipgo reads it", "OPTIONS tel:+14255550100 SIP/2.0" + tail, ""},
		{"not a scheme", "OPTIONS 1x:abc SIP/2.0" + tail, ""},
		{"a response", "SIP/2.0 200 OK" + tail, ""},
		{"not SIP/2.0", "GET soap.beep://x HTTP/1.1" + tail, ""},
		{"no line end", "OPTIONS soap.beep://x SIP/2.0", ""},
		{"body chunk", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(RewriteForeignScheme([]byte(tt.in)))
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got != want {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
	// What it makes, sipgo parses, and ForeignScheme reads back.
	m, err := sip.NewParser().ParseSIP(RewriteForeignScheme([]byte("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\n" +
		"To: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=384\r\nCall-ID: n1\r\nCSeq: 1 OPTIONS\r\n" +
		"Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\nContent-Length: 0\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := ForeignScheme(m.(*sip.Request)); !ok || s != "soap.beep" {
		t.Errorf("ForeignScheme = %q, %v", s, ok)
	}
}

// FuzzRewriteForeignScheme: never a panic; the output is the input, or
// the input with only its Request-URI replaced.
func FuzzRewriteForeignScheme(f *testing.F) {
	f.Add([]byte("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\nTo: sip:user@example.com\r\n\r\n"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\n\r\n"))
	f.Add([]byte("A b.c: SIP/2.0\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := RewriteForeignScheme(in)
		if bytes.Equal(out, in) {
			return
		}
		i, j := bytes.IndexByte(in, '\n'), bytes.IndexByte(out, '\n')
		if i < 0 || j < 0 || !bytes.Equal(in[i:], out[j:]) {
			t.Fatalf("more than the request line changed:\n%q\n%q", in, out)
		}
		if !bytes.Contains(out[:j], []byte(" sip:"+ForeignSchemeHost+";scheme=")) {
			t.Fatalf("rewritten without the marker: %q", out[:j])
		}
	})
}

// rfc2543Invite is RFC 4475 §3.4.1's message: no branch, no From tag, no
// Content-Length, no Max-Forwards.
const rfc2543Invite = "INVITE sip:UserB@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP iftgw.example.com\r\n" +
	"From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n" +
	"Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n" +
	"To: sip:+16505552222@ss1.example.net;user=phone\r\n" +
	"Call-ID: inv2543.1717@ift.client.example.com\r\n" +
	"CSeq: 56 INVITE\r\n" +
	"Content-Type: application/sdp\r\n" +
	"\r\n" +
	"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0\r\n"

func TestBranchRFC2543(t *testing.T) {
	p := sip.NewParser()
	branchOf := func(t *testing.T, msg string) (string, *sip.Request) {
		t.Helper()
		out := BranchRFC2543([]byte(msg), p)
		m, err := p.ParseSIP(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		req := m.(*sip.Request)
		b, _ := req.Via().Params.Get("branch")
		return b, req
	}
	invite, req := branchOf(t, rfc2543Invite)
	if !strings.HasPrefix(invite, sip.RFC3261BranchMagicCookie) {
		t.Fatalf("branch %q", invite)
	}
	_, body, _ := strings.Cut(rfc2543Invite, "\r\n\r\n")
	if string(req.Body()) != body || req.From().Value() != "<sip:+13035551111@ift.client.example.net;user=phone>" {
		t.Errorf("the request changed: body %q From %q", req.Body(), req.From().Value())
	}
	ack := strings.Replace(strings.Replace(rfc2543Invite, "INVITE sip:", "ACK sip:", 1), "56 INVITE", "56 ACK", 1)
	cancel := strings.Replace(strings.Replace(rfc2543Invite, "INVITE sip:", "CANCEL sip:", 1), "56 INVITE", "56 CANCEL", 1)
	next := strings.Replace(rfc2543Invite, "CSeq: 56", "CSeq: 57", 1)
	for _, tt := range []struct {
		name, msg string
		same      bool
	}{
		{"retransmission", rfc2543Invite, true},
		{"ACK of a failure", ack, true},
		{"CANCEL", cancel, true},
		{"next request", next, false},
	} {
		if b, _ := branchOf(t, tt.msg); (b == invite) != tt.same {
			t.Errorf("%s: branch %q, INVITE's %q", tt.name, b, invite)
		}
	}
	for _, tt := range []struct{ name, msg string }{
		{"From tag", strings.Replace(rfc2543Invite, "user=phone>", "user=phone>;tag=1", 1)},
		{"RFC 3261 branch", strings.Replace(rfc2543Invite, "iftgw.example.com\r\n", "iftgw.example.com;branch=z9hG4bK77\r\n", 1)},
		{"RFC 2543 branch", strings.Replace(rfc2543Invite, "iftgw.example.com\r\n", "iftgw.example.com;branch=77\r\n", 1)},
		{"a response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"},
		{"garbage", "\x00\x01 not SIP"},
	} {
		if out := BranchRFC2543([]byte(tt.msg), p); string(out) != tt.msg {
			t.Errorf("%s: changed to %q", tt.name, out)
		}
	}
}

// FuzzBranchRFC2543: never a panic; what it changes parses and has an RFC
// 3261 branch.
func FuzzBranchRFC2543(f *testing.F) {
	f.Add([]byte(rfc2543Invite))
	f.Add([]byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"))
	p := sip.NewParser()
	f.Fuzz(func(t *testing.T, in []byte) {
		out := BranchRFC2543(in, p)
		if bytes.Equal(out, in) {
			return
		}
		m, err := p.ParseSIP(out)
		if err != nil {
			t.Fatalf("rewritten message does not parse: %v\n%q", err, out)
		}
		if b, _ := m.(*sip.Request).Via().Params.Get("branch"); !strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) {
			t.Fatalf("rewritten without a branch: %q", out)
		}
	})
}
