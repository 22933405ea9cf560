package sdpoa

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestCanonical checks the text handed to pion: lines reordered to RFC 4566
// order, unused lines dropped, missing s= and t= supplied, m= lines pion
// would refuse replaced by a stand-in.
func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "already canonical",
			in:   "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=x\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=tool:t\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=x|c=IN IP4 192.0.2.1|t=0 0|a=tool:t|m=audio 4000 RTP/AVP 0|a=sendrecv|",
		},
		{
			name: "session lines out of order, LF, trailing spaces",
			in:   "v=0\nt=0 0 \no=- 1 2 IN IP4 192.0.2.1\na=recvonly\nc=IN IP4 192.0.2.1\ns=x\nm=audio 4000 RTP/AVP 0\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=x|c=IN IP4 192.0.2.1|t=0 0|a=recvonly|m=audio 4000 RTP/AVP 0|",
		},
		{
			name: "media lines out of order and dropped lines",
			in:   "v=0\no=- 1 2 IN IP4 192.0.2.1\nb=AS:64\nm=audio 4000 RTP/AVP 0\na=ptime:20\nb=TIAS:64000\nc=IN IP4 192.0.2.2\ni=voice\nk=prompt\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=-|t=0 0|m=audio 4000 RTP/AVP 0|c=IN IP4 192.0.2.2|a=ptime:20|",
		},
		{
			name: "stand-in for media and transport pion does not know",
			in:   "v=0\no=- 1 2 IN IP4 192.0.2.1\nm=image 6000 udptl t38\nm=audio 4000/2 TCP/RTP/AVP 0 8\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=-|t=0 0|m=application 6000 UDP t38|m=audio 4000 TCP/RTP/AVP 0 8|",
		},
		{
			name: "second media c= kept out (multicast layers)",
			in:   "v=0\no=- 1 2 IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.2\nc=IN IP4 192.0.2.3\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=-|t=0 0|m=audio 4000 RTP/AVP 0|c=IN IP4 192.0.2.2|",
		},
		{
			name: "repeated s= and t=: first kept",
			in:   "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=a\ns=b\nt=1 2\nt=3 4\n",
			want: "v=0|o=- 1 2 IN IP4 192.0.2.1|s=a|t=1 2|",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := scan(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(p.canonical(), "\r\n", "|"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseMline(t *testing.T) {
	tests := []struct {
		in      string
		want    mline
		wantErr error
	}{
		{"audio 4000 RTP/AVP 0 8", mline{"audio", 4000, "RTP/AVP", []string{"0", "8"}}, nil},
		{"audio  4000\tRTP/AVP   0", mline{"audio", 4000, "RTP/AVP", []string{"0"}}, nil},
		{"video 0 RTP/AVP", mline{"video", 0, "RTP/AVP", []string{}}, nil},
		{"audio 49170/2 RTP/AVP 0", mline{"audio", 49170, "RTP/AVP", []string{"0"}}, nil},
		{"image 6000 udptl t38", mline{"image", 6000, "udptl", []string{"t38"}}, nil},
		{"x-ms-app 1 TCP/TLS/ABC *", mline{"x-ms-app", 1, "TCP/TLS/ABC", []string{"*"}}, nil},
		{"audio 4000", mline{}, ErrMalformed},
		{"audio -1 RTP/AVP 0", mline{}, ErrMalformed},
		{"audio 65536 RTP/AVP 0", mline{}, ErrMalformed},
		{"aud=io 4000 RTP/AVP 0", mline{}, ErrMalformed},
		{"audio 4000 RTP/AVP;x 0", mline{}, ErrMalformed},
		{"audio 4000 RTP/AVP" + strings.Repeat(" 1", MaxFormats+1), mline{}, ErrTooLarge},
	}
	for _, tt := range tests {
		got, err := parseMline(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("parseMline(%q): error %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (got.media != tt.want.media || got.port != tt.want.port || got.proto != tt.want.proto || !slices.Equal(got.formats, tt.want.formats)) {
			t.Errorf("parseMline(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	for in, ok := range map[string]bool{
		"- 0 0 IN IP4 192.0.2.1":                     true,
		"- 18446744073709551615 1 IN IP4 192.0.2.1":  true,
		"- 18446744073709551616 1 IN IP4 192.0.2.1":  false,
		"- 1 -1 IN IP4 192.0.2.1":                    false,
		"- 1 1 IN IP4":                               false,
		"- 1 1 IN IP4 192.0.2.1 extra":               false,
		"user name 1 1 IN IP4 192.0.2.1":             false,
		"- 0x10 1 IN IP4 192.0.2.1":                  false,
		"- 1 1 IN IP6 2001:db8::1":                   true,
		"CiscoSystemsSIP-GW-UserAgent 1 2 IN IP4 gw": true,
	} {
		if err := checkOrigin(in); (err == nil) != ok {
			t.Errorf("checkOrigin(%q): got %v, want ok %v", in, err, ok)
		}
	}
}

// TestParseAnswerVariants takes answers that differ from our offer in the
// ways RFC 3264 allows.
func TestParseAnswerVariants(t *testing.T) {
	answerHead := []string{"v=0", "o=- 9 9 IN IP4 198.51.100.30", "s=-", "c=IN IP4 198.51.100.30", "t=0 0"}
	ans := func(l ...string) []byte { return lines(append(append([]string{}, answerHead...), l...)...) }
	tests := []struct {
		name   string
		answer []byte
		check  func(t *testing.T, r Result)
	}{
		{
			name:   "several codecs, another DTMF payload type",
			answer: ans("m=audio 30000 RTP/AVP 9 8 96", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-11"),
			check: func(t *testing.T, r Result) {
				t.Helper()
				if r.Codec.Name != "G722" || len(r.Codecs) != 2 || r.TelephoneEvent.PayloadType != 96 || r.TelephoneEvent.Events.String() != "0-11" {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "peer holds: it only sends",
			answer: ans("m=audio 30000 RTP/AVP 0", "a=sendonly"),
			check: func(t *testing.T, r Result) {
				t.Helper()
				if r.Direction != RecvOnly || r.Direction.Sends() {
					t.Errorf("direction %v", r.Direction)
				}
			},
		},
		{
			name:   "rtcp-mux accepted",
			answer: ans("m=audio 30000 RTP/AVP 0", "a=rtcp-mux", "a=ptime:30"),
			check: func(t *testing.T, r Result) {
				t.Helper()
				if !r.RTCPMux || r.RemoteRTCP != r.Remote || r.RemotePtime != 30 || r.Ptime != 20 {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "legacy hold address in the answer",
			answer: lines("v=0", "o=- 9 9 IN IP4 198.51.100.30", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 30000 RTP/AVP 0"),
			check: func(t *testing.T, r Result) {
				t.Helper()
				if r.Remote.IsValid() || r.Direction != RecvOnly {
					t.Errorf("got remote %v direction %v", r.Remote, r.Direction)
				}
			},
		},
		{
			name:   "IPv6 answer to an IPv4 offer",
			answer: lines("v=0", "o=- 9 9 IN IP6 2001:db8::30", "s=-", "c=IN IP6 2001:db8::30", "t=0 0", "m=audio 30000 RTP/AVP 0"),
			check: func(t *testing.T, r Result) {
				t.Helper()
				if r.Remote.String() != "[2001:db8::30]:30000" || r.Local.String() != "[2001:db8::5]:40000" {
					t.Errorf("got remote %v local %v", r.Remote, r.Local)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mcuConfig()
			if _, err := Offer(cfg); err != nil {
				t.Fatal(err)
			}
			r, err := ParseAnswer(tt.answer, cfg)
			if err != nil {
				t.Fatalf("ParseAnswer: %v", err)
			}
			tt.check(t, r)
		})
	}
}
