package sdpoa

import (
	"strings"
	"sync"
	"testing"
)

// TestAnswerText compares whole answers, line by line, for configurations
// the golden files do not cover.
func TestAnswerText(t *testing.T) {
	const o = "v=0|o=parley 4242 1 IN IP4 203.0.113.5|s=parley|c=IN IP4 203.0.113.5|t=0 0|"
	tests := []struct {
		name  string
		offer []byte
		cfg   func(*Config)
		want  string
	}{
		{
			name: "SRTP required, Polycom-style offer, all common codecs",
			offer: withHead("m=audio 2222 RTP/SAVP 9 0 18 127", "a=rtpmap:127 telephone-event/8000", "a=fmtp:127 0-15",
				"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:AAAA", "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:BBBB", "a=rtcp-mux"),
			cfg: func(c *Config) { c.SRTP, c.MultipleCodecs, c.RTCPMux = SRTPRequired, true, false },
			want: o + "m=audio 40000 RTP/SAVP 9 0 127|a=rtpmap:9 G722/8000|a=rtpmap:0 PCMU/8000|a=rtpmap:127 telephone-event/8000|" +
				"a=fmtp:127 0-15|a=ptime:20|a=sendrecv|a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + testKey + "|",
		},
		{
			name:  "own RTCP port, 30 ms packets, listen-only leg",
			offer: withHead("m=audio 4000 RTP/AVP 8"),
			cfg:   func(c *Config) { c.RTCPPort, c.Ptime, c.Direction = 41000, 30, RecvOnly },
			want:  o + "m=audio 40000 RTP/AVP 8|a=rtpmap:8 PCMA/8000|a=ptime:30|a=recvonly|a=rtcp:41000|",
		},
		{
			name:  "codec parameters are ours, not the offerer's",
			offer: withHead("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 maxplaybackrate=16000"),
			cfg: func(c *Config) {
				c.Codecs = append(c.Codecs, Codec{PayloadType: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"})
			},
			want: o + "m=audio 40000 RTP/AVP 96|a=rtpmap:96 opus/48000/2|a=fmtp:96 useinbandfec=1|a=ptime:20|a=sendrecv|",
		},
		{
			name:  "session name and user defaults",
			offer: withHead("m=audio 4000 RTP/AVP 0"),
			cfg:   func(c *Config) { c.SessionName, c.Session = "", newSession("", 9, 3) },
			want:  "v=0|o=- 9 3 IN IP4 203.0.113.5|s=-|c=IN IP4 203.0.113.5|t=0 0|m=audio 40000 RTP/AVP 0|a=rtpmap:0 PCMU/8000|a=ptime:20|a=sendrecv|",
		},
		{
			name: "three streams, audio last",
			offer: withHead("m=video 5000 RTP/AVP 31 34", "m=application 5002 UDP/BFCP *",
				"m=audio 4000 RTP/AVP 0"),
			want: o + "m=video 0 RTP/AVP 31 34|m=application 0 UDP/BFCP *|m=audio 40000 RTP/AVP 0|a=rtpmap:0 PCMU/8000|a=ptime:20|a=sendrecv|",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mcuConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			body, _, err := Answer(mustParse(t, tt.offer), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(string(body), "\r\n", "|"); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", strings.ReplaceAll(got, "|", "\n"), strings.ReplaceAll(tt.want, "|", "\n"))
			}
		})
	}
}

// TestSessionConcurrent answers from several goroutines with one Session,
// for the race detector: the version ends consistent with the number of
// distinct consecutive answers, at most one bump per call.
func TestSessionConcurrent(t *testing.T) {
	cfg := mcuConfig()
	offers := []*Description{
		mustParse(t, withHead("m=audio 4000 RTP/AVP 0")),
		mustParse(t, withHead("m=audio 4000 RTP/AVP 8")),
	}
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := Answer(offers[i%2], cfg); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v := cfg.Session.Version(); v < 2 || v > n {
		t.Errorf("version %d after %d answers alternating between two", v, n)
	}
}
