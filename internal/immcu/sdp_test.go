package immcu

import (
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

const sipeSDP = "v=0\r\no=- 0 0 IN IP4 192.0.2.7\r\ns=session\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n" +
	"m=message 5061 sip null\r\n" +
	"a=accept-types:text/plain text/html image/gif application/im-iscomposing+xml application/ms-imdn+xml text/x-msmsgsinvite\r\n"

var sipeTypes = []string{"text/plain", "text/html", "image/gif", "application/im-iscomposing+xml", "application/ms-imdn+xml", "text/x-msmsgsinvite"}

// communicatorSDP is Office Communicator's IM offer (a trailing space in
// accept-types, LF line ends are tolerated too).
const communicatorSDP = "v=0\no=- 0 0 IN IP4 192.0.2.8\ns=session\nc=IN IP4 192.0.2.8\nt=0 0\n" +
	"m=message 5060 sip null\na=accept-types:text/plain multipart/alternative image/gif text/rtf text/html application/x-ms-ink application/ms-imdn+xml text/x-msmsgsinvite \n"

func TestParseOffer(t *testing.T) {
	tests := []struct {
		name    string
		sdp     string
		message int
		accepts []string
		err     bool
	}{
		{"SIPE", sipeSDP, 0, sipeTypes, false},
		{"Communicator", communicatorSDP, 0, []string{"text/plain", "multipart/alternative", "image/gif", "text/rtf", "text/html", "application/x-ms-ink", "application/ms-imdn+xml", "text/x-msmsgsinvite"}, false},
		{"SIPE outside OCS 2007 mode", strings.Replace(sipeSDP, "m=message", "m=x-ms-message", 1), 0, sipeTypes, false},
		{"session-level accept-types", "v=0\r\na=accept-types:text/plain\r\nm=message 1 sip null\r\n", 0, []string{"text/plain"}, false},
		{"no accept-types: anything", "v=0\r\nm=message 1 sip null\r\n", 0, nil, false},
		{"audio first", "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=message 1 sip null\r\n", 1, nil, false},
		{"audio only", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", 0, nil, true},
		{"message refused by the offerer", "v=0\r\nm=message 0 sip null\r\n", 0, nil, true},
		{"MSRP", "v=0\r\nm=message 7394 TCP/MSRP *\r\n", 0, nil, true},
		{"no v=0", "m=message 1 sip null\r\n", 0, nil, true},
		{"bad line", "v=0\r\nmessage\r\n", 0, nil, true},
		{"short m=", "v=0\r\nm=message 1 sip\r\n", 0, nil, true},
		{"bad port", "v=0\r\nm=message 70000 sip null\r\n", 0, nil, true},
		{"bad port count", "v=0\r\nm=message 1/x sip null\r\n", 0, nil, true},
		{"empty", "", 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, err := parseOffer([]byte(tt.sdp))
			if (err != nil) != tt.err {
				t.Fatalf("parseOffer error %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if off.message != tt.message {
				t.Errorf("message line %d, want %d", off.message, tt.message)
			}
			if !slices.Equal(off.accepts, tt.accepts) {
				t.Errorf("accepts %q, want %q", off.accepts, tt.accepts)
			}
		})
	}
}

func TestAnswerSDP(t *testing.T) {
	s := &Server{}
	contact := sip.ContactHeader{Address: sip.Uri{Host: "192.0.2.1", Port: 5061}}
	off, err := parseOffer([]byte("v=0\r\nm=audio 4000 RTP/AVP 0 8\r\nm=x-ms-message 5061 sip null\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=session\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 0 RTP/AVP 0 8\r\n" +
		"m=x-ms-message 5060 sip null\r\na=accept-types:text/plain text/html text/rtf multipart/alternative application/im-iscomposing+xml\r\n"
	if got := string(s.answer(off, contact)); got != want {
		t.Errorf("answer:\n%q\nwant\n%q", got, want)
	}
	// Our offer, to an INVITE without one, from an IPv6 or named host.
	for host, c := range map[string]string{"[2001:db8::1]": "c=IN IP6 2001:db8::1", "fe.parley.test": "c=IN IP4 0.0.0.0"} {
		got := string(s.answer(offer{message: -1}, sip.ContactHeader{Address: sip.Uri{Host: host}}))
		if !strings.Contains(got, c+"\r\n") || !strings.Contains(got, "m=message 5060 sip null\r\n") {
			t.Errorf("offer from %s:\n%s", host, got)
		}
		if _, err := parseOffer([]byte(got)); err != nil {
			t.Errorf("our offer does not parse: %v", err)
		}
	}
}

func TestTakes(t *testing.T) {
	tests := []struct {
		accepts []string
		mt      string
		want    bool
	}{
		{nil, "text/plain", true},
		{[]string{}, "text/plain", false},
		{[]string{"text/plain"}, "text/plain", true},
		{[]string{"text/plain"}, "text/html", false},
		{[]string{"text/*"}, "text/html", true},
		{[]string{"*"}, "application/im-iscomposing+xml", true},
		{[]string{"text/*"}, "application/im-iscomposing+xml", false},
	}
	for _, tt := range tests {
		if got := takes(tt.accepts, tt.mt); got != tt.want {
			t.Errorf("takes(%q, %s) = %v, want %v", tt.accepts, tt.mt, got, tt.want)
		}
	}
}

func TestMediaType(t *testing.T) {
	for in, want := range map[string]string{
		"text/plain; charset=UTF-8;msgr=WAAtAE0A": "text/plain",
		" Application/SDP ":                       "application/sdp",
		"":                                        "",
	} {
		if got := mediaType(in); got != want {
			t.Errorf("mediaType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsKeyboardActivity(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`<?xml version="1.0"?><KeyboardActivity><status status="type" /></KeyboardActivity>`, true},
		{"\r\n<!-- typing --><KeyboardActivity/>", true},
		{`<?xml version="1.0"?><action xmlns="http://schemas.microsoft.com/sip/multiparty/"><RequestRM uri="sip:a@b" bid="1"/></action>`, false},
		{"typing", false},
		{"", false},
		{"<KeyboardActivity", false},
	}
	for _, tt := range tests {
		if got := isKeyboardActivity([]byte(tt.body)); got != tt.want {
			t.Errorf("isKeyboardActivity(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// FuzzParseOffer checks that any offer the parser takes has an IM line,
// and that the answer to it is itself an offer the parser takes, with as
// many m= lines, of which only the IM one has a port.
func FuzzParseOffer(f *testing.F) {
	for _, seed := range []string{sipeSDP, communicatorSDP, "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=message 1 sip null\r\n",
		"v=0\r\na=accept-types:*\r\nm=x-ms-message 1/2 sip sip:bob@x\r\n", "v=0\nm=message 1 sip null\na=accept-types:\n"} {
		f.Add([]byte(seed))
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, body []byte) {
		off, err := parseOffer(body)
		if err != nil {
			return
		}
		if off.message < 0 || off.message >= len(off.desc.media) || !isMessage(off.desc.media[off.message]) {
			t.Fatalf("offer taken without an IM line: %+v", off)
		}
		for _, a := range off.accepts {
			if a == "" || strings.ContainsAny(a, " \r\n\t") {
				t.Fatalf("accept-type %q", a)
			}
		}
		ans := s.answer(off, sip.ContactHeader{Address: sip.Uri{Host: "192.0.2.1"}})
		back, err := parseSDP(ans)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%q", err, ans)
		}
		if len(back.media) != len(off.desc.media) {
			t.Fatalf("answer has %d m= lines, offer %d", len(back.media), len(off.desc.media))
		}
		for i, m := range back.media {
			if (m.port != "0") != (i == off.message) {
				t.Fatalf("answer line %d has port %s", i, m.port)
			}
		}
	})
}

// FuzzIsKeyboardActivity: whatever the body, the answer comes, and a body
// that is a KeyboardActivity root with anything after it is one.
func FuzzIsKeyboardActivity(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><KeyboardActivity><status status="type" /></KeyboardActivity>`))
	f.Add([]byte(`<action/>`))
	f.Add([]byte("<!DOCTYPE x [<!ENTITY a 'b'>]><KeyboardActivity/>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		isKeyboardActivity(body)
		if !isKeyboardActivity(append([]byte("<KeyboardActivity>"), body...)) {
			t.Fatal("a KeyboardActivity root not recognized")
		}
	})
}
