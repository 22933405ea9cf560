package sdpoa

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// lines joins SDP lines with CRLF.
func lines(l ...string) []byte { return []byte(strings.Join(l, "\r\n") + "\r\n") }

// head is a minimal session part.
var head = []string{"v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"}

func withHead(l ...string) []byte { return lines(append(append([]string{}, head...), l...)...) }

func TestParseErrors(t *testing.T) {
	manyMedia := append([]string{}, head...)
	for range MaxMedia + 1 {
		manyMedia = append(manyMedia, "m=audio 0 RTP/AVP 0")
	}
	manyFormats := "m=audio 4000 RTP/AVP" + strings.Repeat(" 0", MaxFormats+1)
	manyAttrs := append([]string{}, head...)
	for range MaxAttributes + 1 {
		manyAttrs = append(manyAttrs, "a=x")
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"blank lines", []byte("\r\n\r\n"), ErrMalformed},
		{"too large", append(withHead("m=audio 4000 RTP/AVP 0"), strings.Repeat("a=x-pad:0123456789\r\n", MaxSize/20)...), ErrTooLarge},
		{"too many m= lines", lines(manyMedia...), ErrTooLarge},
		{"too many formats", withHead(manyFormats), ErrTooLarge},
		{"too many attributes", lines(manyAttrs...), ErrTooLarge},
		{"not starting with v=", lines("o=- 1 1 IN IP4 192.0.2.1", "v=0"), ErrMalformed},
		{"version 1", lines("v=1", "o=- 1 1 IN IP4 192.0.2.1"), ErrMalformed},
		{"second v=", withHead("v=0"), ErrMalformed},
		{"no o=", lines("v=0", "s=-", "t=0 0"), ErrMalformed},
		{"second o=", withHead("o=- 1 1 IN IP4 192.0.2.1"), ErrMalformed},
		{"o= with five fields", lines("v=0", "o=- 1 IN IP4 192.0.2.1"), ErrMalformed},
		{"o= version overflows", lines("v=0", "o=- 1 99999999999999999999 IN IP4 192.0.2.1"), ErrMalformed},
		{"o= bad nettype", lines("v=0", "o=- 1 1 ATM NSAP 47.0005", "s=-", "t=0 0"), ErrMalformed},
		{"unknown line type", withHead("x=1"), ErrMalformed},
		{"upper-case line type", withHead("A=sendrecv"), ErrMalformed},
		{"no equals sign", withHead("a sendrecv"), ErrMalformed},
		{"control character", withHead("a=tool:evil\x00"), ErrMalformed},
		{"binary garbage", []byte("\xff\xfe\x00\x01garbage"), ErrMalformed},
		{"o= inside media", withHead("m=audio 4000 RTP/AVP 0", "o=- 1 1 IN IP4 192.0.2.1"), ErrMalformed},
		{"second session c=", withHead("c=IN IP4 192.0.2.2"), ErrMalformed},
		{"bad c= address type", lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IPX 192.0.2.1", "t=0 0"), ErrMalformed},
		{"m= too short", withHead("m=audio 4000"), ErrMalformed},
		{"m= port out of range", withHead("m=audio 70000 RTP/AVP 0"), ErrMalformed},
		{"m= port not a number", withHead("m=audio x RTP/AVP 0"), ErrMalformed},
		{"m= bad media token", withHead("m=au\"dio 4000 RTP/AVP 0"), ErrMalformed},
		{"m= bad transport token", withHead("m=audio 4000 RTP/A;VP 0"), ErrMalformed},
		{"RTP format not a payload type", withHead("m=audio 4000 RTP/AVP PCMU"), ErrMalformed},
		{"RTP payload type over 127", withHead("m=audio 4000 RTP/AVP 200"), ErrMalformed},
		{"bad t= line", lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=now"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse: got (%v, %v), want error %v", d, err, tt.want)
			}
		})
	}
}

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		check func(t *testing.T, d *Description)
	}{
		{
			name: "LF line ends, no final newline, no s= or t=",
			in:   []byte("v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\na=sendonly"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				if got := d.Streams[0].Direction; got != SendOnly {
					t.Errorf("direction: got %v, want sendonly", got)
				}
			},
		},
		{
			name: "unknown bandwidth type, u=, k= and repeat times are dropped",
			in: lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "u=::not a url::", "c=IN IP4 192.0.2.1",
				"b=FOO:12", "t=0 0", "r=7d 1h 0 25h", "k=prompt", "m=audio 4000 RTP/AVP 0", "b=XYZ:1", "k=clear:x"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				if got := len(d.Streams); got != 1 {
					t.Errorf("streams: got %d, want 1", got)
				}
			},
		},
		{
			name: "session attribute before c= and a media line pion does not know",
			in:   lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "a=recvonly", "c=IN IP4 192.0.2.1", "t=0 0", "m=image 5000 udptl t38", "m=audio 4000 RTP/AVP 8"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				if s := d.Streams[0]; s.Media != "image" || s.Proto != "udptl" || s.Port != 5000 || s.Codecs != nil {
					t.Errorf("image stream: got %+v", s)
				}
				if got := d.Streams[1].Direction; got != RecvOnly {
					t.Errorf("session direction: got %v, want recvonly", got)
				}
				if got := d.Audio(); got != &d.Streams[1] {
					t.Errorf("Audio: got %p, want the second stream", got)
				}
			},
		},
		{
			name: "static payload types without rtpmap, rtpmap overriding, duplicates",
			in: withHead("m=audio 4000 RTP/AVP 0 8 9 3 96 0 18", "a=rtpmap:3 GSM-EFR/8000",
				"a=rtpmap:96 bogus", "a=fmtp:18 annexb=no"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				got := d.Streams[0].Codecs
				want := []string{"0 PCMU/8000", "8 PCMA/8000", "9 G722/8000", "3 GSM-EFR/8000", "96 /0", "18 G729/8000"}
				if len(got) != len(want) {
					t.Fatalf("codecs: got %v, want %v", got, want)
				}
				for i := range want {
					if got[i].String() != want[i] {
						t.Errorf("codec %d: got %q, want %q", i, got[i].String(), want[i])
					}
				}
				if got[5].Fmtp != "annexb=no" {
					t.Errorf("G729 fmtp: got %q", got[5].Fmtp)
				}
			},
		},
		{
			name: "media attributes override session ones",
			in: lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "a=sendonly",
				"m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.7", "a=inactive", "m=audio 4002 RTP/AVP 0"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				s0, s1 := d.Streams[0], d.Streams[1]
				if s0.Direction != Inactive || s0.Addr != netip.MustParseAddr("192.0.2.7") {
					t.Errorf("stream 0: got %v %v, want inactive 192.0.2.7", s0.Direction, s0.Addr)
				}
				if s1.Direction != SendOnly || s1.Addr != netip.MustParseAddr("192.0.2.1") {
					t.Errorf("stream 1: got %v %v, want sendonly 192.0.2.1", s1.Direction, s1.Addr)
				}
			},
		},
		{
			name: "ptime, maxptime, rtcp, rtcp-mux, crypto, encryption",
			in: withHead("m=audio 4000 RTP/AVP 0", "a=ptime:20.0", "a=maxptime:0.5", "a=rtcp:4005 IN IP4 192.0.2.9",
				"a=rtcp-mux", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=crypto: 2 F8_128_HMAC_SHA1_80 inline:BBBB ", "a=encryption:required"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				s := d.Streams[0]
				if s.Ptime != 20 || s.MaxPtime != 1 {
					t.Errorf("ptime: got %d/%d, want 20/1", s.Ptime, s.MaxPtime)
				}
				if s.RTCPPort != 4005 || s.RTCPAddr != netip.MustParseAddr("192.0.2.9") || !s.RTCPMux {
					t.Errorf("rtcp: got %d %v %v", s.RTCPPort, s.RTCPAddr, s.RTCPMux)
				}
				if len(s.Crypto) != 2 || s.Crypto[1] != "2 F8_128_HMAC_SHA1_80 inline:BBBB" {
					t.Errorf("crypto: got %q", s.Crypto)
				}
				if s.Encryption != "required" {
					t.Errorf("encryption: got %q", s.Encryption)
				}
			},
		},
		{
			name: "unusable ptime and rtcp values are ignored",
			in:   withHead("m=audio 4000 RTP/AVP 0", "a=ptime:soon", "a=rtcp:0", "a=rtcp:4005 IN IP6 192.0.2.9"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				s := d.Streams[0]
				if s.Ptime != 0 || s.RTCPPort != 4005 || s.RTCPAddr.IsValid() {
					t.Errorf("got ptime %d, rtcp %d %v", s.Ptime, s.RTCPPort, s.RTCPAddr)
				}
			},
		},
		{
			name: "telephone-event lists",
			in: withHead("m=audio 4000 RTP/AVP 101 100 99", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15,66,70",
				"a=rtpmap:100 TELEPHONE-EVENT/16000", "a=rtpmap:99 telephone-event/48000", "a=fmtp:99 1-2-3"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				s := d.Streams[0]
				for _, tc := range []struct {
					clock uint32
					want  string
				}{{8000, "0-15,66,70"}, {16000, "0-15"}, {48000, "0-15"}} {
					c, ok := s.TelephoneEvent(tc.clock)
					if !ok || c.Events.String() != tc.want {
						t.Errorf("telephone-event/%d: got %v %q, want %q", tc.clock, ok, c.Events.String(), tc.want)
					}
				}
				if _, ok := s.TelephoneEvent(32000); ok {
					t.Error("telephone-event/32000 found")
				}
			},
		},
		{
			name: "connection addresses that cannot be used",
			in: lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0",
				"m=audio 4000 RTP/AVP 0", "c=IN IP4 gw.example.net",
				"m=audio 4000 RTP/AVP 0", "c=IN IP4 224.2.1.1/127",
				"m=audio 4000 RTP/AVP 0", "c=IN IP4 2001:db8::1",
				"m=audio 4000 RTP/AVP 0", "c=IN IP6 fe80::1%eth0",
				"m=audio 4000 RTP/AVP 0"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				for i, host := range []string{"gw.example.net", "224.2.1.1/127", "2001:db8::1", "fe80::1%eth0", ""} {
					if s := d.Streams[i]; s.Host != host || s.Addr.IsValid() {
						t.Errorf("stream %d: got %q %v, want %q and no address", i, s.Host, s.Addr, host)
					}
				}
			},
		},
		{
			name: "legacy hold address",
			in:   lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0", "a=recvonly"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				if got := d.Streams[0].Effective(); got != SendOnly {
					t.Errorf("sendrecv at 0.0.0.0: got %v, want sendonly", got)
				}
				if got := d.Streams[1].Effective(); got != Inactive {
					t.Errorf("recvonly at 0.0.0.0: got %v, want inactive", got)
				}
			},
		},
		{
			name: "rejected stream without formats",
			in:   withHead("m=video 0 RTP/AVP", "m=audio 4000 RTP/AVP 0"),
			check: func(t *testing.T, d *Description) {
				t.Helper()
				if len(d.Streams[0].Formats) != 0 || d.Audio() == nil {
					t.Errorf("got %+v", d.Streams)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, d)
		})
	}
}

func TestParseOrigin(t *testing.T) {
	d, err := Parse(lines("v=0", "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5", "s=-", "t=0 0"))
	if err != nil {
		t.Fatal(err)
	}
	want := Origin{Username: "jdoe", SessionID: 2890844526, Version: 2890842807, Address: "10.47.16.5"}
	if d.Origin != want {
		t.Errorf("got %+v, want %+v", d.Origin, want)
	}
	if d.Audio() != nil || len(d.Streams) != 0 {
		t.Errorf("streams: got %+v, want none", d.Streams)
	}
}

func TestStreamHelpers(t *testing.T) {
	for proto, want := range map[string]bool{
		"RTP/AVP": true, "RTP/SAVPF": true, "UDP/TLS/RTP/SAVPF": true, "TCP/RTP/AVP": true,
		"udptl": false, "UDP/BFCP": false, "TCP/MRCPv2": false, "RTP": false,
	} {
		s := Stream{Proto: proto}
		if got := s.IsRTP(); got != want {
			t.Errorf("IsRTP(%s): got %v, want %v", proto, got, want)
		}
	}
	d := mustParse(t, withHead("m=audio 0 RTP/AVP 0", "m=video 4000 RTP/AVP 31"))
	if d.Audio() != nil {
		t.Errorf("Audio: got %+v, want nil (the only audio stream is disabled)", d.Audio())
	}
	s := Stream{Direction: SendRecv, Addr: netip.MustParseAddr("::")}
	if got := s.Effective(); got != SendOnly {
		t.Errorf("sendrecv at ::: got %v, want sendonly", got)
	}
	if _, ok := (&Stream{}).TelephoneEvent(8000); ok {
		t.Error("TelephoneEvent on an empty stream")
	}
}
