package sdpoa

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestOffer(t *testing.T) {
	cfg := mcuConfig()
	cfg.RTCPMux = false
	body, err := Offer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"v=0",
		"o=parley 4242 1 IN IP4 203.0.113.5",
		"s=parley",
		"c=IN IP4 203.0.113.5",
		"t=0 0",
		"m=audio 40000 RTP/AVP 0 8 9 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:9 G722/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15",
		"a=ptime:20",
		"a=sendrecv",
		"",
	}, "\r\n")
	if string(body) != want {
		t.Errorf("got\n%s\nwant\n%s", body, want)
	}
}

func TestOfferSRTP(t *testing.T) {
	keys := []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey, "2 AES_CM_128_HMAC_SHA1_32 inline:" + testKey}
	tests := []struct {
		policy    SRTPPolicy
		wantProto string
		wantKeys  bool
	}{
		{SRTPOff, "RTP/AVP", false},
		{SRTPOptional, "RTP/AVP", true},
		{SRTPRequired, "RTP/SAVP", true},
	}
	for _, tt := range tests {
		cfg := mcuConfig()
		cfg.SRTP, cfg.Crypto = tt.policy, keys
		body, err := Offer(cfg)
		if err != nil {
			t.Fatalf("policy %d: %v", tt.policy, err)
		}
		s := mustParse(t, body).Streams[0]
		if s.Proto != tt.wantProto || (len(s.Crypto) == 2) != tt.wantKeys || !s.RTCPMux {
			t.Errorf("policy %d: got %s crypto %q mux %v", tt.policy, s.Proto, s.Crypto, s.RTCPMux)
		}
	}
}

func TestOfferConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"SRTP required without keys", func(c *Config) { c.SRTP = SRTPRequired }},
		{"dynamic codec with a static type", func(c *Config) { c.Codecs[3].PayloadType = 13 }},
		{"static type of another codec", func(c *Config) { c.Codecs[0].PayloadType = 8 }},
		{"payload type twice", func(c *Config) {
			c.Codecs = append(c.Codecs, Codec{PayloadType: 101, Name: "opus", ClockRate: 48000, Channels: 2})
		}},
		{"crypto value without tag", func(c *Config) { c.Crypto = []string{" "} }},
		{"bad direction", func(c *Config) { c.Direction = 9 }},
		{"bad ptime", func(c *Config) { c.Ptime = -20 }},
		{"bad RTCP port", func(c *Config) { c.RTCPPort = 70000 }},
		{"bad SRTP policy", func(c *Config) { c.SRTP = 7 }},
	}
	for _, tt := range tests {
		cfg := mcuConfig()
		tt.cfg(&cfg)
		if body, err := Offer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got (%q, %v), want ErrConfig", tt.name, body, err)
		}
	}
}

// peer is a remote endpoint, built from this package's Answer, that only
// speaks PCMA and DTMF with payload type 96.
func peer(mutate func(*Config)) Config {
	c := Config{
		Session: newSession("peer", 77, 5),
		Addrs:   []netip.Addr{netip.MustParseAddr("198.51.100.30")},
		Port:    30000,
		Codecs: []Codec{
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
			{PayloadType: 96, Name: TelephoneEvent, ClockRate: 8000},
		},
		SRTP:         SRTPOptional,
		AnswerCrypto: pickAESCM80,
	}
	if mutate != nil {
		mutate(&c)
	}
	return c
}

func TestOfferAnswerRoundTrip(t *testing.T) {
	keys := []string{"1 AES_CM_128_HMAC_SHA1_32 inline:" + testKey, "2 AES_CM_128_HMAC_SHA1_80 inline:" + testKey}
	for _, policy := range []SRTPPolicy{SRTPOff, SRTPOptional, SRTPRequired} {
		mcu := mcuConfig()
		mcu.SRTP, mcu.Crypto = policy, keys
		offer, err := Offer(mcu)
		if err != nil {
			t.Fatal(err)
		}
		answer, theirs, err := Answer(mustParse(t, offer), peer(nil))
		if err != nil {
			t.Fatalf("policy %d: peer Answer: %v", policy, err)
		}
		ours, err := ParseAnswer(answer, mcu)
		if err != nil {
			t.Fatalf("policy %d: ParseAnswer: %v", policy, err)
		}
		if ours.Codec.Name != "PCMA" || ours.TelephoneEvent.PayloadType != 101 || theirs.TelephoneEvent.PayloadType != 101 {
			t.Errorf("policy %d: codec %v, events %v / %v", policy, ours.Codec, ours.TelephoneEvent, theirs.TelephoneEvent)
		}
		if ours.Remote != netip.MustParseAddrPort("198.51.100.30:30000") || ours.RTCPMux || ours.Direction != SendRecv {
			t.Errorf("policy %d: remote %v mux %v direction %v", policy, ours.Remote, ours.RTCPMux, ours.Direction)
		}
		if wantSRTP := policy != SRTPOff; ours.SRTP != wantSRTP || theirs.SRTP != wantSRTP {
			t.Fatalf("policy %d: SRTP ours %v theirs %v", policy, ours.SRTP, theirs.SRTP)
		}
		if ours.SRTP && (ours.Crypto != keys[1] || ours.RemoteCrypto != theirs.Crypto || theirs.RemoteCrypto != keys[1]) {
			t.Errorf("policy %d: crypto ours %q/%q theirs %q/%q", policy, ours.Crypto, ours.RemoteCrypto, theirs.Crypto, theirs.RemoteCrypto)
		}
	}
}

func TestParseAnswerErrors(t *testing.T) {
	mcu := mcuConfig()
	if _, err := Offer(mcu); err != nil {
		t.Fatal(err)
	}
	answerHead := []string{"v=0", "o=- 9 9 IN IP4 198.51.100.30", "s=-", "c=IN IP4 198.51.100.30", "t=0 0"}
	ans := func(l ...string) []byte { return lines(append(append([]string{}, answerHead...), l...)...) }
	tests := []struct {
		name   string
		answer []byte
		cfg    func(*Config)
		want   error
	}{
		{"rejected", ans("m=audio 0 RTP/AVP 0"), nil, ErrRejected},
		{"two m= lines", ans("m=audio 30000 RTP/AVP 0", "m=video 0 RTP/AVP 96"), nil, ErrAnswerMismatch},
		{"not audio", ans("m=video 30000 RTP/AVP 0"), nil, ErrAnswerMismatch},
		{"other transport", ans("m=audio 30000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"), nil, ErrAnswerMismatch},
		{"codec not offered", ans("m=audio 30000 RTP/AVP 18"), nil, ErrNoCommonCodec},
		{"no address", lines("v=0", "o=- 9 9 IN IP4 198.51.100.30", "s=-", "t=0 0", "m=audio 30000 RTP/AVP 0"), nil, ErrMalformed},
		{"garbage", []byte("HTTP/1.1 200 OK\r\n"), nil, ErrMalformed},
		{"crypto tag not offered", ans("m=audio 30000 RTP/AVP 0", "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
			func(c *Config) { c.Crypto = []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey} }, ErrAnswerMismatch},
		{"two crypto lines", ans("m=audio 30000 RTP/AVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:BBBB"),
			func(c *Config) { c.Crypto = []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey} }, ErrAnswerMismatch},
		{"SRTP required, no keys answered", ans("m=audio 30000 RTP/SAVP 0"),
			func(c *Config) {
				c.SRTP, c.Crypto = SRTPRequired, []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey}
			}, ErrSRTPRequired},
		{"bad config", ans("m=audio 30000 RTP/AVP 0"), func(c *Config) { c.Port = -1 }, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mcu
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			res, err := ParseAnswer(tt.answer, cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got (%+v, %v), want %v", res, err, tt.want)
			}
		})
	}
}

// TestReofferKeepsMediaLines follows a dialog that began with the peer's
// audio+video offer: the MCU's later re-INVITE (here a hold) must keep
// both m= lines, video disabled, audio in second place (RFC 3264 §8), and
// the answer to it must have two m= lines too.
func TestReofferKeepsMediaLines(t *testing.T) {
	mcu := mcuConfig()
	first := mustParse(t, withHead("m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 4000 RTP/AVP 0"))
	if _, _, err := Answer(first, mcu); err != nil {
		t.Fatal(err)
	}
	mcu.Direction = SendOnly
	offer, err := Offer(mcu)
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, offer)
	if len(d.Streams) != 2 || d.Streams[0].Media != "video" || d.Streams[0].Port != 0 ||
		d.Streams[1].Media != "audio" || d.Streams[1].Direction != SendOnly || d.Origin.Version != 2 {
		t.Fatalf("re-offer:\n%s", offer)
	}
	answer, _, err := Answer(d, peer(nil))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseAnswer(answer, mcu)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stream != 1 || res.Direction != SendOnly || res.Codec.Name != "PCMA" {
		t.Errorf("result: %+v", res)
	}
}
