package sdes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

const ssrc = 0x5eed1234

// rtpPacket returns a 172-octet PCMU packet (12-octet header, 160 payload).
func rtpPacket(seq uint16) []byte {
	p := make([]byte, 172)
	p[0], p[1] = 0x80, 0
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := 12; i < len(p); i++ {
		p[i] = byte(i*7 + int(seq))
	}
	return p
}

// rtcpPacket returns an empty RR from ssrc.
func rtcpPacket() []byte {
	p := []byte{0x80, 201, 0, 1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(p[4:], ssrc)
	return p
}

// pair negotiates suite with the given offer key options and returns the
// offerer's and the answerer's sessions.
func pair(tb testing.TB, suite Suite, mkiLen uint8) (offerer, answerer *Session) {
	tb.Helper()
	k, err := NewKey(suite)
	if err != nil {
		tb.Fatal(err)
	}
	if mkiLen > 0 {
		k.MKI, k.MKILen = 3, mkiLen
	}
	offer := Crypto{Tag: 1, Suite: suite, Keys: []Key{k}}
	ans, err := Answer([]string{offer.String()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	off, err := AcceptAnswer([]Crypto{offer}, ans.Local.String())
	if err != nil {
		tb.Fatal(err)
	}
	a, err := NewSession(off)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := NewSession(ans)
	if err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// roundTrip sends RTP packet seq and an RTCP packet from one session to the
// other and checks they arrive intact.
func roundTrip(t *testing.T, from, to *Session, seq uint16) {
	t.Helper()
	plain := rtpPacket(seq)
	ct, err := from.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatalf("EncryptRTP: %v", err)
	}
	if got := len(ct) - len(plain); got != from.RTPOverhead() {
		t.Errorf("SRTP adds %d octets, RTPOverhead() = %d", got, from.RTPOverhead())
	}
	if bytes.Equal(ct[12:len(plain)], plain[12:]) {
		t.Error("payload not encrypted")
	}
	var h rtp.Header
	pt, err := to.DecryptRTP(nil, ct, &h)
	if err != nil {
		t.Fatalf("DecryptRTP: %v", err)
	}
	if !bytes.Equal(pt, plain) {
		t.Errorf("RTP round trip changed the packet")
	}
	if h.SequenceNumber != seq || h.SSRC != ssrc {
		t.Errorf("header out: seq %d ssrc %#x, want %d %#x", h.SequenceNumber, h.SSRC, seq, ssrc)
	}

	rp := rtcpPacket()
	rct, err := from.EncryptRTCP(nil, rp)
	if err != nil {
		t.Fatalf("EncryptRTCP: %v", err)
	}
	if got := len(rct) - len(rp); got != from.RTCPOverhead() {
		t.Errorf("SRTCP adds %d octets, RTCPOverhead() = %d", got, from.RTCPOverhead())
	}
	rpt, err := to.DecryptRTCP(nil, rct)
	if err != nil {
		t.Fatalf("DecryptRTCP: %v", err)
	}
	if !bytes.Equal(rpt, rp) {
		t.Errorf("RTCP round trip changed the packet")
	}
}

func TestSessionRoundTrip(t *testing.T) {
	for _, suite := range DefaultSuites() {
		for _, mki := range []uint8{0, 1, 4} {
			t.Run(suite.String(), func(t *testing.T) {
				a, b := pair(t, suite, mki)
				if a.Suite() != suite {
					t.Errorf("Suite() = %v", a.Suite())
				}
				for seq := uint16(65530); seq != 6; seq++ { // across the rollover
					roundTrip(t, a, b, seq)
					roundTrip(t, b, a, seq)
				}
			})
		}
	}
}

func TestSessionOverhead(t *testing.T) {
	tests := []struct {
		suite     Suite
		mki       uint8
		rtp, rtcp int
	}{
		{SuiteAESCM80, 0, 10, 14},
		{SuiteAESCM32, 0, 4, 14},
		{SuiteGCM128, 0, 16, 20},
		{SuiteAESCM80, 1, 11, 15},
	}
	for _, tt := range tests {
		a, _ := pair(t, tt.suite, tt.mki)
		if a.RTPOverhead() != tt.rtp || a.RTCPOverhead() != tt.rtcp {
			t.Errorf("%v MKI %d: overhead %d/%d, want %d/%d", tt.suite, tt.mki, a.RTPOverhead(), a.RTCPOverhead(), tt.rtp, tt.rtcp)
		}
	}
}

func TestSessionTampered(t *testing.T) {
	for _, suite := range DefaultSuites() {
		t.Run(suite.String(), func(t *testing.T) {
			a, b := pair(t, suite, 0)
			ct, _ := a.EncryptRTP(nil, rtpPacket(10), nil)
			for _, i := range []int{1, 5, 20, len(ct) - 1} { // header, payload, tag
				bad := bytes.Clone(ct)
				bad[i] ^= 0x01
				if _, err := b.DecryptRTP(nil, bad, nil); !errors.Is(err, ErrAuthentication) {
					t.Errorf("flipped octet %d: error %v, want %v", i, err, ErrAuthentication)
				}
			}
			// Forgeries must not have moved the replay window: the genuine
			// packet still decrypts.
			if _, err := b.DecryptRTP(nil, ct, nil); err != nil {
				t.Errorf("genuine packet after forgeries: %v", err)
			}

			rct, _ := a.EncryptRTCP(nil, rtcpPacket())
			rct[9] ^= 0x80
			if _, err := b.DecryptRTCP(nil, rct); !errors.Is(err, ErrAuthentication) {
				t.Errorf("tampered SRTCP: error %v, want %v", err, ErrAuthentication)
			}
			if _, err := b.DecryptRTP(nil, ct[:5], nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("truncated packet: error %v, want %v", err, ErrMalformed)
			}
		})
	}
}

func TestSessionReplay(t *testing.T) {
	for _, suite := range DefaultSuites() {
		t.Run(suite.String(), func(t *testing.T) {
			a, b := pair(t, suite, 0)
			first, _ := a.EncryptRTP(nil, rtpPacket(1), nil)
			if _, err := b.DecryptRTP(nil, first, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := b.DecryptRTP(nil, first, nil); !errors.Is(err, ErrReplay) {
				t.Errorf("replayed packet: error %v, want %v", err, ErrReplay)
			}
			// Move the window 300 packets on; the first is now too old.
			for seq := uint16(2); seq < 300; seq++ {
				ct, _ := a.EncryptRTP(nil, rtpPacket(seq), nil)
				if _, err := b.DecryptRTP(nil, ct, nil); err != nil {
					t.Fatalf("seq %d: %v", seq, err)
				}
			}
			late, _ := a.EncryptRTP(nil, rtpPacket(300), nil)
			reordered, _ := a.EncryptRTP(nil, rtpPacket(301), nil)
			if _, err := b.DecryptRTP(nil, reordered, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := b.DecryptRTP(nil, late, nil); err != nil {
				t.Errorf("reordered packet inside the window: %v", err)
			}

			rct, _ := a.EncryptRTCP(nil, rtcpPacket())
			if _, err := b.DecryptRTCP(nil, rct); err != nil {
				t.Fatal(err)
			}
			if _, err := b.DecryptRTCP(nil, rct); !errors.Is(err, ErrReplay) {
				t.Errorf("replayed SRTCP: error %v, want %v", err, ErrReplay)
			}
		})
	}
}

func TestSessionReplayOutsideWindow(t *testing.T) {
	a, b := pair(t, SuiteAESCM80, 0)
	old, _ := a.EncryptRTP(nil, rtpPacket(1), nil)
	for seq := uint16(2); seq < 200; seq++ {
		ct, _ := a.EncryptRTP(nil, rtpPacket(seq), nil)
		if _, err := b.DecryptRTP(nil, ct, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.DecryptRTP(nil, old, nil); !errors.Is(err, ErrReplay) {
		t.Errorf("packet 198 behind, window %d: error %v, want %v", defaultReplayWindow, err, ErrReplay)
	}
}

func TestSessionMultipleRemoteKeys(t *testing.T) {
	k1, _ := NewKey(SuiteAESCM80)
	k2, _ := NewKey(SuiteAESCM80)
	k1.MKI, k1.MKILen = 1, 2
	k2.MKI, k2.MKILen = 2, 2
	local, _ := NewKey(SuiteAESCM80)
	b, err := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{local}},
		Remote: Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{k1, k2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The peer sends with its second key.
	a, err := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{k2}},
		Remote: Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{local}},
	})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, b, 7)

	// A key the receiver was never given is refused by its MKI.
	k3, _ := NewKey(SuiteAESCM80)
	k3.MKI, k3.MKILen = 3, 2
	c, _ := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{k3}},
		Remote: Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{local}},
	})
	ct, _ := c.EncryptRTP(nil, rtpPacket(8), nil)
	if _, err := b.DecryptRTP(nil, ct, nil); !errors.Is(err, ErrUnknownMKI) {
		t.Errorf("unknown MKI: error %v, want %v", err, ErrUnknownMKI)
	}
}

func TestSessionKeyLifetime(t *testing.T) {
	local, _ := NewKey(SuiteGCM128)
	local.Lifetime = 3
	remote, _ := NewKey(SuiteGCM128)
	s, err := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteGCM128, Keys: []Key{local}},
		Remote: Crypto{Tag: 1, Suite: SuiteGCM128, Keys: []Key{remote}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for seq := range uint16(3) {
		if _, err := s.EncryptRTP(nil, rtpPacket(seq), nil); err != nil {
			t.Fatalf("packet %d: %v", seq, err)
		}
	}
	if _, err := s.EncryptRTP(nil, rtpPacket(3), nil); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("fourth packet: error %v, want %v", err, ErrKeyExpired)
	}
	for range 3 {
		if _, err := s.EncryptRTCP(nil, rtcpPacket()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EncryptRTCP(nil, rtcpPacket()); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("fourth RTCP packet: error %v, want %v", err, ErrKeyExpired)
	}
}

func TestNewSessionErrors(t *testing.T) {
	cm, _ := NewKey(SuiteAESCM80)
	gcm, _ := NewKey(SuiteGCM128)
	tests := []struct {
		name string
		n    Negotiated
		want error
	}{
		{"suites differ", Negotiated{
			Local:  Crypto{Suite: SuiteAESCM80, Keys: []Key{cm}},
			Remote: Crypto{Suite: SuiteGCM128, Keys: []Key{gcm}},
		}, ErrAnswerMismatch},
		{"remote unencrypted", Negotiated{
			Local:  Crypto{Suite: SuiteAESCM80, Keys: []Key{cm}},
			Remote: Crypto{Suite: SuiteAESCM80, Keys: []Key{cm}, Params: SessionParams{UnencryptedSRTCP: true}},
		}, ErrUnsupportedParam},
		{"no local key", Negotiated{
			Remote: Crypto{Suite: SuiteAESCM80, Keys: []Key{cm}},
		}, ErrUnknownSuite},
	}
	for _, tt := range tests {
		if _, err := NewSession(tt.n); !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSessionWSH(t *testing.T) {
	local, _ := NewKey(SuiteAESCM80)
	remote, _ := NewKey(SuiteAESCM80)
	b, err := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{local}},
		Remote: Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{remote}, Params: SessionParams{WSH: 512}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewSession(Negotiated{
		Local:  Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{remote}},
		Remote: Crypto{Tag: 1, Suite: SuiteAESCM80, Keys: []Key{local}},
	})
	old, _ := a.EncryptRTP(nil, rtpPacket(1), nil)
	for seq := uint16(2); seq < 400; seq++ {
		ct, _ := a.EncryptRTP(nil, rtpPacket(seq), nil)
		if _, err := b.DecryptRTP(nil, ct, nil); err != nil {
			t.Fatal(err)
		}
	}
	// 398 behind: outside the default window, inside the hinted 512.
	if _, err := b.DecryptRTP(nil, old, nil); err != nil {
		t.Errorf("late packet within WSH=512: %v", err)
	}
}

func TestSessionNoAlloc(t *testing.T) {
	for _, suite := range DefaultSuites() {
		a, b := pair(t, suite, 0)
		plain := rtpPacket(0)
		enc := make([]byte, 0, 256)
		dec := make([]byte, 0, 256)
		var h rtp.Header
		seq := uint16(0)
		allocs := testing.AllocsPerRun(200, func() {
			seq++
			binary.BigEndian.PutUint16(plain[2:], seq)
			ct, err := a.EncryptRTP(enc, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.DecryptRTP(dec, ct, &h); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per encrypt+decrypt, want 0", suite, allocs)
		}
	}
}

func BenchmarkEncryptRTP(b *testing.B) {
	for _, suite := range DefaultSuites() {
		b.Run(suite.String(), func(b *testing.B) {
			s, _ := pair(b, suite, 0)
			plain := rtpPacket(0)
			dst := make([]byte, 0, 256)
			var seq uint16
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				seq++
				binary.BigEndian.PutUint16(plain[2:], seq)
				if _, err := s.EncryptRTP(dst, plain, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncryptDecryptRTP measures one encrypt and one decrypt: the
// MCU's per-leg, per-frame SRTP work. Decrypt alone is this minus
// BenchmarkEncryptRTP.
func BenchmarkEncryptDecryptRTP(b *testing.B) {
	for _, suite := range DefaultSuites() {
		b.Run(suite.String(), func(b *testing.B) {
			enc, dec := pair(b, suite, 0)
			plain := rtpPacket(0)
			ebuf := make([]byte, 0, 256)
			dbuf := make([]byte, 0, 256)
			var h rtp.Header
			var seq uint16
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				seq++
				binary.BigEndian.PutUint16(plain[2:], seq)
				ct, err := enc.EncryptRTP(ebuf, plain, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := dec.DecryptRTP(dbuf, ct, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSessionConcurrentDirections: the documented contract that one
// outbound and one inbound call may run at once (the MCU's send tick and
// its receive path). Run with -race.
func TestSessionConcurrentDirections(t *testing.T) {
	a, b := pair(t, SuiteAESCM80, 0)
	packets := make([][]byte, 200)
	for i := range packets {
		packets[i], _ = b.EncryptRTP(nil, rtpPacket(uint16(i)), nil)
	}
	done := make(chan error, 1)
	go func() {
		var h rtp.Header
		for _, p := range packets {
			if _, err := a.DecryptRTP(nil, p, &h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for seq := range uint16(200) {
		if _, err := a.EncryptRTP(nil, rtpPacket(seq), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSessionReusesBuffers: with enough capacity, results land in dst.
func TestSessionReusesBuffers(t *testing.T) {
	a, b := pair(t, SuiteGCM128, 0)
	dst := make([]byte, 0, 512)
	ct, err := a.EncryptRTP(dst, rtpPacket(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if &ct[0] != &dst[:1][0] {
		t.Error("EncryptRTP did not write into dst")
	}
	out := make([]byte, 0, 512)
	pt, err := b.DecryptRTP(out, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	if &pt[0] != &out[:1][0] {
		t.Error("DecryptRTP did not write into dst")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err      error
		replayed bool
		want     error
	}{
		{srtp.ErrFailedToVerifyAuthTag, false, ErrAuthentication},
		{srtp.ErrMKINotFound, false, ErrUnknownMKI},
		{errors.New("anything"), true, ErrReplay},
		{errors.New("too short"), false, ErrMalformed},
	}
	for _, tt := range tests {
		got := classify("op", tt.err, tt.replayed)
		if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) {
			t.Errorf("classify(%v, %v) = %v, want it to wrap %v and the cause", tt.err, tt.replayed, got, tt.want)
		}
	}
}

func TestSRTCPTampered(t *testing.T) {
	for _, suite := range DefaultSuites() {
		a, b := pair(t, suite, 0)
		rct, _ := a.EncryptRTCP(nil, rtcpPacket())
		// The E flag and SRTCP index follow the encrypted part (RFC 3711
		// §3.4); they are authenticated too.
		idx := len(rct) - a.RTCPOverhead() + func() int {
			if suite == SuiteGCM128 {
				return 16
			}
			return 0
		}()
		for _, i := range []int{idx, idx + 3} {
			bad := bytes.Clone(rct)
			bad[i] ^= 0x01
			if _, err := b.DecryptRTCP(nil, bad); err == nil {
				t.Errorf("%v: flipped octet %d of the SRTCP trailer accepted", suite, i)
			}
		}
		if _, err := b.DecryptRTCP(nil, rct); err != nil {
			t.Errorf("%v: genuine SRTCP after forgeries: %v", suite, err)
		}
	}
}
