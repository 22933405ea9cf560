package sdpoa

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustParse(t *testing.T, b []byte) *Description {
	t.Helper()
	d, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestAnswerErrors(t *testing.T) {
	v4only := func(c *Config) { c.Addrs = c.Addrs[:1] }
	tests := []struct {
		name  string
		offer []byte
		cfg   func(*Config)
		want  error
	}{
		{"video only", withHead("m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000"), nil, ErrNoAudio},
		{"audio disabled", withHead("m=audio 0 RTP/AVP 0"), nil, ErrNoAudio},
		{"no m= line", lines(head...), nil, ErrNoAudio},
		{"no common codec", withHead("m=audio 4000 RTP/AVP 18 96 101", "a=rtpmap:96 opus/48000/2", "a=rtpmap:101 telephone-event/8000"), nil, ErrNoCommonCodec},
		{"dynamic type without rtpmap", withHead("m=audio 4000 RTP/AVP 96"), nil, ErrNoCommonCodec},
		{"stereo G722 only", withHead("m=audio 4000 RTP/AVP 117", "a=rtpmap:117 G722/8000/2"), nil, ErrNoCommonCodec},
		{"SAVP with SRTP off", withHead("m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			func(c *Config) { c.SRTP = SRTPOff }, ErrSRTPUnsupported},
		{"SAVP without callback", withHead("m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			func(c *Config) { c.AnswerCrypto = nil }, ErrSRTPUnsupported},
		{"SAVP without crypto lines", withHead("m=audio 4000 RTP/SAVP 0", "a=fingerprint:sha-256 AB:CD"), nil, ErrSRTPUnsupported},
		{"SAVP with unknown suites", withHead("m=audio 4000 RTP/SAVP 0", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA"), nil, ErrSRTPUnsupported},
		{"Lync encryption required, SRTP off", withHead("m=audio 4000 RTP/AVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=encryption:required"),
			func(c *Config) { c.SRTP = SRTPOff }, ErrSRTPUnsupported},
		{"plain offer, SRTP required", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.SRTP = SRTPRequired }, ErrSRTPRequired},
		{"best-effort keys refused, SRTP required", withHead("m=audio 4000 RTP/AVP 0", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA"),
			func(c *Config) { c.SRTP = SRTPRequired }, ErrSRTPUnsupported},
		{"DTLS-SRTP", withHead("m=audio 4000 UDP/TLS/RTP/SAVPF 0"), nil, ErrTransport},
		{"RTP over TCP", withHead("m=audio 4000 TCP/RTP/AVP 0"), nil, ErrTransport},
		{"IPv6 offer, IPv4 only", lines("v=0", "o=- 1 1 IN IP6 2001:db8::1", "s=-", "c=IN IP6 2001:db8::1", "t=0 0", "m=audio 4000 RTP/AVP 0"), v4only, ErrAddressFamily},
		{"host name connection", lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 gw.example.net", "t=0 0", "m=audio 4000 RTP/AVP 0"), nil, ErrMalformed},
		{"no connection line", lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), nil, ErrMalformed},
		{"no local address", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.Addrs = nil }, ErrConfig},
		{"unspecified local address", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.Addrs = []netip.Addr{netip.IPv4Unspecified()} }, ErrConfig},
		{"no port", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.Port = 0 }, ErrConfig},
		{"only telephone-event", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.Codecs = c.Codecs[3:] }, ErrConfig},
		{"codec name with a slash", withHead("m=audio 4000 RTP/AVP 0"), func(c *Config) { c.Codecs[0].Name = "PC/MU" }, ErrConfig},
		{"callback answers a tag not offered", withHead("m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			func(c *Config) {
				c.AnswerCrypto = func([]string) (string, error) { return "7 AES_CM_128_HMAC_SHA1_80 inline:BBBB", nil }
			}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mcuConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			body, res, err := Answer(mustParse(t, tt.offer), cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Answer: got (%q, %+v, %v), want error %v", body, res, err, tt.want)
			}
			if body != nil {
				t.Errorf("answer body on error: %q", body)
			}
		})
	}
	if _, _, err := Answer(nil, mcuConfig()); !errors.Is(err, ErrNoAudio) {
		t.Errorf("nil offer: got %v, want ErrNoAudio", err)
	}
}

func TestAnswerChoices(t *testing.T) {
	tests := []struct {
		name  string
		offer []byte
		cfg   func(*Config)
		check func(t *testing.T, res Result, answer string)
	}{
		{
			name:  "first audio stream unusable, second served",
			offer: withHead("m=audio 4000 UDP/TLS/RTP/SAVPF 0", "m=audio 4002 RTP/AVP 8 0"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if res.Stream != 1 || res.Codec.Name != "PCMA" {
					t.Errorf("got stream %d codec %v, want 1 PCMA", res.Stream, res.Codec)
				}
				if !strings.Contains(answer, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nm=audio 40000 RTP/AVP 8\r\n") {
					t.Errorf("answer:\n%s", answer)
				}
			},
		},
		{
			name:  "second audio stream rejected",
			offer: withHead("m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if res.Stream != 0 || !strings.HasSuffix(answer, "m=audio 0 RTP/AVP 0\r\n") {
					t.Errorf("stream %d, answer:\n%s", res.Stream, answer)
				}
			},
		},
		{
			name:  "multiple codecs in offerer order with its payload types",
			offer: withHead("m=audio 4000 RTP/AVP 8 18 9 0 100", "a=rtpmap:100 telephone-event/8000", "a=fmtp:100 0-11"),
			cfg:   func(c *Config) { c.MultipleCodecs = true },
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if !strings.Contains(answer, "m=audio 40000 RTP/AVP 8 9 0 100\r\n") || !strings.Contains(answer, "a=fmtp:100 0-11\r\n") {
					t.Errorf("answer:\n%s", answer)
				}
				if len(res.Codecs) != 3 || res.Codec.Name != "PCMA" || res.TelephoneEvent.PayloadType != 100 {
					t.Errorf("result: %+v", res)
				}
			},
		},
		{
			name:  "telephone-event only at another clock rate",
			offer: withHead("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/48000"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if res.TelephoneEvent.Name != "" || strings.Contains(answer, "telephone-event") {
					t.Errorf("telephone-event answered: %+v\n%s", res.TelephoneEvent, answer)
				}
			},
		},
		{
			name:  "telephone-event with no common event",
			offer: withHead("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 32-40"),
			check: func(t *testing.T, res Result, _ string) {
				t.Helper()
				if res.TelephoneEvent.Name != "" {
					t.Errorf("telephone-event answered: %+v", res.TelephoneEvent)
				}
			},
		},
		{
			name:  "announcement player only sends",
			offer: withHead("m=audio 4000 RTP/AVP 0"),
			cfg:   func(c *Config) { c.Direction = SendOnly },
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if res.Direction != SendOnly || !strings.Contains(answer, "a=sendonly\r\n") {
					t.Errorf("direction %v, answer:\n%s", res.Direction, answer)
				}
			},
		},
		{
			name:  "player answering a held call",
			offer: withHead("m=audio 4000 RTP/AVP 0", "a=sendonly"),
			cfg:   func(c *Config) { c.Direction = SendOnly },
			check: func(t *testing.T, res Result, _ string) {
				t.Helper()
				if res.Direction != Inactive {
					t.Errorf("direction: got %v, want inactive", res.Direction)
				}
			},
		},
		{
			name:  "legacy hold gives no remote address",
			offer: lines("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			check: func(t *testing.T, res Result, _ string) {
				t.Helper()
				if res.Remote.IsValid() || res.RemoteRTCP.IsValid() || res.Direction != RecvOnly {
					t.Errorf("got remote %v/%v direction %v", res.Remote, res.RemoteRTCP, res.Direction)
				}
			},
		},
		{
			name:  "RTCP port: mux, a=rtcp, default",
			offer: withHead("m=audio 4000 RTP/AVP 0", "a=rtcp:4100"),
			check: func(t *testing.T, res Result, _ string) {
				t.Helper()
				if res.RemoteRTCP != netip.MustParseAddrPort("192.0.2.1:4100") || res.RTCPMux {
					t.Errorf("got %v mux %v", res.RemoteRTCP, res.RTCPMux)
				}
			},
		},
		{
			name:  "rtcp-mux not offered is not answered, own RTCP port announced",
			offer: withHead("m=audio 65535 RTP/AVP 0"),
			cfg:   func(c *Config) { c.RTCPPort = 40100 },
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if strings.Contains(answer, "rtcp-mux") || !strings.Contains(answer, "a=rtcp:40100\r\n") {
					t.Errorf("answer:\n%s", answer)
				}
				if res.RemoteRTCP.IsValid() {
					t.Errorf("RTCP port past 65535: got %v", res.RemoteRTCP)
				}
			},
		},
		{
			name:  "best-effort SRTP on RTP/AVP",
			offer: withHead("m=audio 4000 RTP/AVP 0", "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:QUFBQQ==|2^31"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if !res.SRTP || res.RemoteCrypto != "5 AES_CM_128_HMAC_SHA1_80 inline:QUFBQQ==|2^31" || !strings.HasPrefix(res.Crypto, "5 ") {
					t.Errorf("result: %+v", res)
				}
				if !strings.Contains(answer, "RTP/AVP 0\r\n") || !strings.Contains(answer, "a=crypto:5 AES_CM") {
					t.Errorf("answer:\n%s", answer)
				}
			},
		},
		{
			name:  "best-effort SRTP declined falls back to plain RTP",
			offer: withHead("m=audio 4000 RTP/AVP 0", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if res.SRTP || strings.Contains(answer, "crypto") {
					t.Errorf("SRTP used: %+v\n%s", res, answer)
				}
			},
		},
		{
			name:  "SRTP off ignores keys on RTP/AVP",
			offer: withHead("m=audio 4000 RTP/AVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			cfg:   func(c *Config) { c.SRTP = SRTPOff },
			check: func(t *testing.T, res Result, _ string) {
				t.Helper()
				if res.SRTP {
					t.Errorf("SRTP used: %+v", res)
				}
			},
		},
		{
			name:  "AVPF answered as offered",
			offer: withHead("m=audio 4000 RTP/SAVPF 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			check: func(t *testing.T, res Result, answer string) {
				t.Helper()
				if !res.SRTP || !strings.Contains(answer, "m=audio 40000 RTP/SAVPF 0\r\n") {
					t.Errorf("answer:\n%s", answer)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mcuConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			body, res, err := Answer(mustParse(t, tt.offer), cfg)
			if err != nil {
				t.Fatalf("Answer: %v", err)
			}
			tt.check(t, res, string(body))
		})
	}
}

// TestAnswerVersion checks RFC 3264 §8: the o= line stays, and its version
// grows by one exactly when the answer changes.
func TestAnswerVersion(t *testing.T) {
	cfg := mcuConfig()
	offer := mustParse(t, withHead("m=audio 4000 RTP/AVP 0"))
	hold := mustParse(t, withHead("m=audio 4000 RTP/AVP 0", "a=sendonly"))
	steps := []struct {
		offer   *Description
		version uint64
	}{{offer, 1}, {offer, 1}, {hold, 2}, {hold, 2}, {offer, 3}}
	for i, st := range steps {
		body, _, err := Answer(st.offer, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := mustParse(t, body)
		if d.Origin.SessionID != 4242 || d.Origin.Version != st.version || cfg.Session.Version() != st.version {
			t.Errorf("step %d: got o= %d %d, want 4242 %d", i, d.Origin.SessionID, d.Origin.Version, st.version)
		}
	}
}

func TestNewSession(t *testing.T) {
	a, b := NewSession(""), NewSession("mcu")
	if a.ID() == b.ID() || a.ID() >= 1<<62 || a.Version() != 1 {
		t.Errorf("ids %d %d, version %d", a.ID(), b.ID(), a.Version())
	}
	cfg := mcuConfig()
	cfg.Session = b
	body, err := Offer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := mustParse(t, body); d.Origin.Username != "mcu" || d.Origin.SessionID != b.ID() {
		t.Errorf("origin: got %+v", d.Origin)
	}
}
