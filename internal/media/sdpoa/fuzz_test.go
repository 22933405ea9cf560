package sdpoa

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds every testdata offer and a few hand-made edge cases.
func addSeeds(f *testing.F) {
	f.Helper()
	paths, _ := filepath.Glob("testdata/*.offer.sdp")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 1 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-300"))
	f.Add(withHead("m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=rtcp:9 IN IP4 1.2.3.4"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::\r\nt=0 0\r\nm=audio 65535/2 RTP/AVPF 9\r\n"))
}

// FuzzParse checks that Parse never panics and that what it accepts
// respects the limits and is internally consistent.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if len(b) > MaxSize || len(d.Streams) > MaxMedia {
			t.Fatalf("accepted %d bytes with %d streams", len(b), len(d.Streams))
		}
		for _, s := range d.Streams {
			if len(s.Formats) > MaxFormats || s.Port < 0 || s.Port > 65535 {
				t.Fatalf("stream out of limits: %+v", s)
			}
			if s.IsRTP() && len(s.Codecs) > len(s.Formats) {
				t.Fatalf("%d codecs for %d formats", len(s.Codecs), len(s.Formats))
			}
			if s.Direction < SendRecv || s.Direction > Inactive {
				t.Fatalf("direction %d", s.Direction)
			}
		}
	})
}

// FuzzAnswer parses and answers arbitrary offers: no panic, errors carry a
// sentinel, and every answer is valid SDP with one m= line per offered one
// and a codec taken from the offer.
func FuzzAnswer(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		cfg := mcuConfig()
		cfg.MultipleCodecs = len(b)%2 == 0
		answer, res, err := Answer(d, cfg)
		if err != nil {
			for _, want := range []error{ErrNoAudio, ErrNoCommonCodec, ErrTransport, ErrAddressFamily,
				ErrSRTPRequired, ErrSRTPUnsupported, ErrMalformed} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("error without a sentinel: %v", err)
		}
		back, err := Parse(answer)
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, answer)
		}
		if len(back.Streams) != len(d.Streams) {
			t.Fatalf("answer has %d m= lines, offer %d", len(back.Streams), len(d.Streams))
		}
		offered := d.Streams[res.Stream]
		found := false
		for _, k := range offered.Codecs {
			found = found || (k.PayloadType == res.Codec.PayloadType && k.Is(res.Codec))
		}
		if !found {
			t.Fatalf("answered codec %v not in offer %v", res.Codec, offered.Codecs)
		}
		if got := back.Streams[res.Stream]; got.Port != cfg.Port || got.Direction != res.Direction {
			t.Fatalf("answer stream %+v, result %+v", got, res)
		}
	})
}

// FuzzParseAnswer feeds arbitrary answers to ParseAnswer after a real
// offer: no panic, errors carry a sentinel, and an accepted answer names a
// codec we offered and, with SRTP, one of our crypto tags.
func FuzzParseAnswer(f *testing.F) {
	f.Add(withHead("m=audio 30000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"))
	f.Add(withHead("m=audio 30000 RTP/AVP 9", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=rtcp-mux"))
	f.Add(withHead("m=audio 0 RTP/AVP 0"))
	f.Add([]byte("v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 1 RTP/AVP 8\na=sendonly"))
	keys := []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := mcuConfig()
		cfg.SRTP, cfg.Crypto = SRTPOptional, keys
		if _, err := Offer(cfg); err != nil {
			t.Fatal(err)
		}
		res, err := ParseAnswer(b, cfg)
		if err != nil {
			for _, want := range []error{ErrMalformed, ErrTooLarge, ErrRejected, ErrAnswerMismatch, ErrNoCommonCodec, ErrSRTPRequired} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("error without a sentinel: %v", err)
		}
		if _, ok := cfg.match(res.Codec); !ok || res.Codec.IsTelephoneEvent() {
			t.Fatalf("codec %v was not offered", res.Codec)
		}
		if res.SRTP && res.Crypto != keys[0] {
			t.Fatalf("crypto %q was not offered", res.Crypto)
		}
	})
}

// FuzzParseEvents checks that an event list that parses prints back to a
// list that parses to the same set.
func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{"0-15", "0-15,66,70", "events=0-255", "1-2-3", "", ",", "255-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, ok := ParseEvents(s)
		if !ok {
			if !set.Empty() {
				t.Fatalf("failed parse of %q returned %q", s, set.String())
			}
			return
		}
		back, ok := ParseEvents(set.String())
		if !ok || back != set || set.Empty() {
			t.Fatalf("%q: %q reparsed as %q (%v)", s, set.String(), back.String(), ok)
		}
	})
}
