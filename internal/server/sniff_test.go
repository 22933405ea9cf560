package server

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// sipMessage joins header lines into a message with CRLF line ends.
func sipMessage(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// sippRegister is what SIPp's register.xml sends.
var sippRegister = sipMessage(
	"REGISTER sip:127.0.0.1:5060 SIP/2.0",
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-21972-1-0;rport",
	"Max-Forwards: 70",
	"From: <sip:u1@parley.test>;tag=21972rn1",
	"To: <sip:u1@parley.test>",
	"Call-ID: 1-21972@127.0.0.1",
	"CSeq: 1 REGISTER",
	"Contact: <sip:u1@127.0.0.1:5070;transport=UDP>",
	"Expires: 3600",
	"Content-Length: 0")

func TestSniff(t *testing.T) {
	type want struct {
		method, callID, cseqMethod, fromTag, branch, host, transport string
		cseq                                                         uint32
		port, vias                                                   int
		rport, toTag                                                 bool
	}
	sipp := want{method: "REGISTER", callID: "1-21972@127.0.0.1", cseqMethod: "REGISTER", fromTag: "21972rn1",
		branch: "z9hG4bK-21972-1-0", host: "127.0.0.1", transport: "UDP", cseq: 1, port: 5070, vias: 1, rport: true}
	tests := []struct {
		name string
		msg  []byte
		ok   bool
		want want
	}{
		{"SIPp", sippRegister, true, sipp},
		{"compact forms, lower case, spaces", sipMessage(
			"REGISTER sip:parley.test SIP/2.0",
			"v:  SIP/2.0/TCP [2001:db8::1]:5061 ; branch = z9hG4bKx ; received=1.2.3.4 , SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKy",
			"VIA: SIP/2.0/UDP 10.0.0.2",
			"f: \"A; <b>\" <sip:a@parley.test;tag=no>;tag=ft;x=1",
			"t: sip:a@parley.test;tag=tt",
			"i: abc",
			"cseq: 4294 REGISTER",
			"l: 0"), true,
			want{method: "REGISTER", callID: "abc", cseqMethod: "REGISTER", fromTag: "ft", branch: "z9hG4bKx",
				host: "2001:db8::1", transport: "TCP", cseq: 4294, port: 5061, vias: 2, toTag: true}},
		{"INVITE", sipMessage(
			"INVITE sip:bob@parley.test SIP/2.0",
			"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKi",
			"From: <sip:a@parley.test>;tag=1", "To: <sip:bob@parley.test>", "Call-ID: c", "CSeq: 1 INVITE"), true,
			want{method: "INVITE", callID: "c", cseqMethod: "INVITE", fromTag: "1", branch: "z9hG4bKi",
				host: "192.0.2.1", transport: "UDP", cseq: 1, vias: 1}},
		{"no branch", sipMessage(
			"REGISTER sip:parley.test SIP/2.0",
			"Via: SIP/2.0/UDP host.example:5060",
			"From: sip:a@parley.test", "To: <sip:a@parley.test>", "Call-ID: c", "CSeq: 1 REGISTER"), true,
			want{method: "REGISTER", callID: "c", cseqMethod: "REGISTER", host: "host.example", transport: "UDP", cseq: 1, port: 5060, vias: 1}},
		{"response", sipMessage("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To: <sip:a@b>;tag=2", "Call-ID: c", "CSeq: 1 REGISTER"), false, want{}},
		{"folded line", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To:", " <sip:a@b>", "Call-ID: c", "CSeq: 1 REGISTER"), false, want{}},
		{"no Call-ID", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To: <sip:a@b>", "CSeq: 1 REGISTER"), false, want{}},
		{"two From", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "From: <sip:c@d>;tag=2", "To: <sip:a@b>", "Call-ID: c", "CSeq: 1 REGISTER"), false, want{}},
		{"two Expires", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To: <sip:a@b>", "Call-ID: c", "CSeq: 1 REGISTER", "Expires: 60", "Expires: 0"), false, want{}},
		{"bad CSeq", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To: <sip:a@b>", "Call-ID: c", "CSeq: one REGISTER"), false, want{}},
		{"bad Via", sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/3.0/UDP 1.2.3.4;branch=z9hG4bKa",
			"From: <sip:a@b>;tag=1", "To: <sip:a@b>", "Call-ID: c", "CSeq: 1 REGISTER"), false, want{}},
		{"no end of headers", []byte("REGISTER sip:parley.test SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n"), false, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sniffed
			if ok := sniff(tt.msg, &s); ok != tt.ok {
				t.Fatalf("sniff = %v, want %v", ok, tt.ok)
			}
			if !tt.ok {
				return
			}
			b := tt.msg
			got := want{
				method: string(s.method.of(b)), callID: string(s.callID.of(b)), cseqMethod: string(s.cseqMethod.of(b)),
				fromTag: string(s.fromTag.of(b)), branch: string(s.topVia.branch.of(b)), host: string(s.topVia.host.of(b)),
				transport: string(s.topVia.transport.of(b)), cseq: s.cseq, port: s.topVia.port, vias: s.nVias,
				rport: s.topVia.rport, toTag: s.hasToTag,
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzSniff checks that sniff never reads outside the message and, for
// requests sipgo also parses, agrees with sipgo on what identifies the
// transaction.
func FuzzSniff(f *testing.F) {
	f.Add(sippRegister)
	f.Add(sipMessage("REGISTER sip:p SIP/2.0", "v: SIP/2.0/TCP [::1]:1;branch=z9hG4bKa;rport=5, x", "f: a;tag=1", "t: <a>",
		"i: c", "CSeq: 1 REGISTER"))
	f.Add(sipMessage("REGISTER sip:p SIP/2.0", `Via: SIP/2.0/UDP h;branch="q;,"`, `From: "<\"" <sip:x>;tag=t`, "To: x",
		"Call-ID: c", "CSeq: 1 REGISTER"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s sniffed
		if !sniff(b, &s) {
			return
		}
		for _, sp := range []span{s.method, s.from, s.to, s.callIDLine, s.cseqLine, s.callID, s.cseqMethod, s.fromTag,
			s.topVia.transport, s.topVia.host, s.topVia.branch, {s.topVia.rportEnd, s.topVia.end}, {s.vias[0].start, s.topVia.end}} {
			if sp.start < 0 || sp.end < sp.start || sp.end > len(b) {
				t.Fatalf("span %+v outside a message of %d bytes", sp, len(b))
			}
		}
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			t.Fatalf("sniff took a %T for a request", msg)
		}
		// sipgo upper-cases the method; sniff leaves it as sent (RFC 3261
		// §7.1: methods are case-sensitive), so "register" is not taken.
		if got := string(s.method.of(b)); !strings.EqualFold(got, string(req.Method)) {
			t.Errorf("method %q, sipgo %q", got, req.Method)
		}
		if c := req.CallID(); c != nil && string(s.callID.of(b)) != c.Value() {
			t.Errorf("Call-ID %q, sipgo %q", s.callID.of(b), c.Value())
		}
		// sipgo keeps LWS beyond the first space in the method; RFC 3261
		// §20.16 allows any LWS there, which sniff skips.
		if c := req.CSeq(); c != nil && (c.SeqNo != s.cseq || strings.TrimSpace(string(c.MethodName)) != string(s.cseqMethod.of(b))) {
			t.Errorf("CSeq %d %s, sipgo %d %s", s.cseq, s.cseqMethod.of(b), c.SeqNo, c.MethodName)
		}
		if v := req.Via(); v != nil {
			if br, _ := v.Params.Get("branch"); br != string(s.topVia.branch.of(b)) && !strings.ContainsAny(br, `"`) {
				t.Errorf("branch %q, sipgo %q", s.topVia.branch.of(b), br)
			}
		}
	})
}

func TestAppendRefusal(t *testing.T) {
	msg := sipMessage(
		"REGISTER sip:parley.test SIP/2.0",
		"Via: SIP/2.0/UDP 10.1.1.1:5070;rport;branch=z9hG4bKr1 , SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKr0",
		"v: SIP/2.0/TCP 10.8.8.8;branch=z9hG4bKr00",
		"From: <sip:a@parley.test>;tag=f1",
		"To: <sip:a@parley.test>",
		"Call-ID: c1",
		"CSeq: 7 REGISTER",
		"Contact: <sip:a@10.1.1.1:5070>")
	var s sniffed
	if !sniff(msg, &s) {
		t.Fatal("sniff failed")
	}
	got := string(appendRefusal(nil, msg, &s, mustAddrPort(t, "192.0.2.7:40000"), 0xabc, 7))
	want := "SIP/2.0 503 Service Unavailable\r\n" +
		"Via: SIP/2.0/UDP 10.1.1.1:5070;rport=40000;branch=z9hG4bKr1;received=192.0.2.7 , SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKr0\r\n" +
		"v: SIP/2.0/TCP 10.8.8.8;branch=z9hG4bKr00\r\n" +
		"From: <sip:a@parley.test>;tag=f1\r\n" +
		"To: <sip:a@parley.test>;tag=abc\r\n" +
		"Call-ID: c1\r\n" +
		"CSeq: 7 REGISTER\r\n" +
		"Retry-After: 7\r\n" +
		"Content-Length: 0\r\n\r\n"
	if got != want {
		t.Fatalf("refusal\n%s\nwant\n%s", got, want)
	}
	res, err := sip.ParseMessage([]byte(got))
	if err != nil {
		t.Fatalf("sipgo cannot parse the refusal: %v", err)
	}
	if r := res.(*sip.Response); r.StatusCode != 503 || len(r.GetHeaders("Via")) != 3 {
		t.Errorf("parsed %v", r)
	}

	// Without rport and from the sent-by address: the Via is unchanged.
	msg = sipMessage("REGISTER sip:parley.test SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKr2",
		"From: <sip:a@parley.test>;tag=f1", "To: <sip:a@parley.test>;tag=t", "Call-ID: c1", "CSeq: 8 REGISTER")
	if !sniff(msg, &s) {
		t.Fatal("sniff failed")
	}
	got = string(appendRefusal(nil, msg, &s, mustAddrPort(t, "192.0.2.7:5060"), 1, 5))
	if !strings.Contains(got, "\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKr2\r\n") || !strings.Contains(got, "\r\nTo: <sip:a@parley.test>;tag=t\r\n") {
		t.Errorf("refusal\n%s", got)
	}
}
