package sdes

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	lineCM80 = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4"
	lineCM32 = "2 AES_CM_128_HMAC_SHA1_32 inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5"
	lineGCM  = "3 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3OA=="
	lineF8   = "4 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm"
)

func TestAnswerChoice(t *testing.T) {
	tests := []struct {
		name      string
		offer     []string
		prefer    []Suite
		wantTag   uint32
		wantSuite Suite
	}{
		{"default prefers GCM", []string{lineCM80, lineCM32, lineGCM}, nil, 3, SuiteGCM128},
		{"then AES-CM 80", []string{lineCM32, lineCM80}, nil, 1, SuiteAESCM80},
		{"then AES-CM 32", []string{lineCM32}, nil, 2, SuiteAESCM32},
		{"configured order", []string{lineGCM, lineCM32, lineCM80}, []Suite{SuiteAESCM32, SuiteGCM128}, 2, SuiteAESCM32},
		{"unknown suite skipped", []string{lineF8, lineCM32}, nil, 2, SuiteAESCM32},
		{"malformed line skipped", []string{"9 AES_CM_128_HMAC_SHA1_80 inline:!!", lineCM32}, nil, 2, SuiteAESCM32},
		{"unsupported parameter skipped", []string{"5 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3OA== UNENCRYPTED_SRTP", lineCM80}, nil, 1, SuiteAESCM80},
		{"offerer's order among one suite", []string{"7 " + lineCM80[2:], lineCM80}, nil, 7, SuiteAESCM80},
		{"duplicate tag skipped", []string{lineCM80, "1 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3OA=="}, nil, 1, SuiteAESCM80},
		{"with the a=crypto: prefix", []string{"a=crypto:" + lineCM32}, nil, 2, SuiteAESCM32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Answer(tt.offer, tt.prefer)
			if err != nil {
				t.Fatal(err)
			}
			if n.Remote.Tag != tt.wantTag || n.Remote.Suite != tt.wantSuite {
				t.Errorf("chose tag %d %v, want tag %d %v", n.Remote.Tag, n.Remote.Suite, tt.wantTag, tt.wantSuite)
			}
			if n.Local.Tag != n.Remote.Tag || n.Local.Suite != n.Remote.Suite {
				t.Errorf("answer tag %d %v does not echo the offer's %d %v", n.Local.Tag, n.Local.Suite, n.Remote.Tag, n.Remote.Suite)
			}
			if err := n.Local.Supported(); err != nil {
				t.Errorf("our answer is not usable: %v", err)
			}
			if bytes.Equal(n.Local.Keys[0].KeySalt, n.Remote.Keys[0].KeySalt) {
				t.Error("our key repeats the offerer's")
			}
		})
	}
}

func TestAnswerRefusesAll(t *testing.T) {
	_, err := Answer([]string{lineF8, lineCM80 + " UNENCRYPTED_SRTCP", "garbage"}, nil)
	for _, want := range []error{ErrNoAcceptable, ErrUnknownSuite, ErrUnsupportedParam, ErrSyntax} {
		if !errors.Is(err, want) {
			t.Errorf("error %v does not wrap %v", err, want)
		}
	}
	if _, err := Answer(nil, nil); !errors.Is(err, ErrNoAcceptable) {
		t.Errorf("empty offer: error %v, want %v", err, ErrNoAcceptable)
	}
	if _, err := Answer([]string{lineGCM}, []Suite{SuiteAESCM80}); !errors.Is(err, ErrNoAcceptable) {
		t.Errorf("no common suite: error %v, want %v", err, ErrNoAcceptable)
	}
}

// TestAnswerMirrorsMKI: Microsoft clients send |2^31|1:1; our answer
// carries a one-octet MKI too.
func TestAnswerMirrorsMKI(t *testing.T) {
	n, err := Answer([]string{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := n.Local.Keys[0]; k.MKI != 1 || k.MKILen != 1 || k.Lifetime != 0 {
		t.Errorf("our key has MKI %d:%d lifetime %d, want 1:1 and none", k.MKI, k.MKILen, k.Lifetime)
	}
	if s := n.Local.String(); !strings.HasSuffix(s, "|1:1") || !strings.HasPrefix(s, "1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Errorf("answer line %q", s)
	}
	n, _ = Answer([]string{lineCM32}, nil)
	if k := n.Local.Keys[0]; k.MKILen != 0 {
		t.Errorf("MKI %d:%d in answer to an offer without one", k.MKI, k.MKILen)
	}
}

func TestAnswerFreshKeys(t *testing.T) {
	a, _ := Answer([]string{lineCM80}, nil)
	b, _ := Answer([]string{lineCM80}, nil)
	if bytes.Equal(a.Local.Keys[0].KeySalt, b.Local.Keys[0].KeySalt) {
		t.Error("two answers share a key")
	}
}

func TestOfferAndAcceptAnswer(t *testing.T) {
	offered, err := Offer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(offered) != 3 {
		t.Fatalf("offered %d lines, want 3", len(offered))
	}
	lines := make([]string, len(offered))
	for i, c := range offered {
		if c.Tag != uint32(i+1) || c.Suite != DefaultSuites()[i] {
			t.Errorf("line %d: tag %d %v", i, c.Tag, c.Suite)
		}
		lines[i] = c.String()
	}
	// The peer answers with AES-CM 80 only.
	peer, err := Answer(lines, []Suite{SuiteAESCM80})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := AcceptAnswer(offered, peer.Local.String())
	if err != nil {
		t.Fatal(err)
	}
	if ours.Local.Tag != 2 || ours.Remote.Suite != SuiteAESCM80 ||
		!bytes.Equal(ours.Remote.Keys[0].KeySalt, peer.Local.Keys[0].KeySalt) ||
		!bytes.Equal(ours.Local.Keys[0].KeySalt, peer.Remote.Keys[0].KeySalt) {
		t.Errorf("keys do not cross: ours %+v, peer %+v", ours, peer)
	}
	// Both ends can talk.
	a, err := NewSession(ours)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(peer)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, b, 1)
	roundTrip(t, b, a, 1)
}

func TestAcceptAnswerErrors(t *testing.T) {
	offered, _ := Offer([]Suite{SuiteAESCM80, SuiteGCM128})
	tests := []struct {
		answer string
		want   error
	}{
		{"9 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", ErrAnswerMismatch},
		{"1 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", ErrAnswerMismatch},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz KDR=1", ErrUnsupportedParam},
		{"1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", ErrUnknownSuite},
	}
	for _, tt := range tests {
		if _, err := AcceptAnswer(offered, tt.answer); !errors.Is(err, tt.want) {
			t.Errorf("AcceptAnswer(%.40q) error = %v, want %v", tt.answer, err, tt.want)
		}
	}
}

func TestNewKeyLengths(t *testing.T) {
	for _, s := range DefaultSuites() {
		k, err := NewKey(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.KeySalt) != s.KeyLen()+s.SaltLen() || k.MKILen != 0 || k.Lifetime != 0 {
			t.Errorf("%v: key %d octets MKI %d lifetime %d", s, len(k.KeySalt), k.MKILen, k.Lifetime)
		}
		if bytes.Equal(k.KeySalt, make([]byte, len(k.KeySalt))) {
			t.Errorf("%v: all-zero key", s)
		}
	}
}

func TestOfferErrors(t *testing.T) {
	if _, err := Offer([]Suite{SuiteAESCM80, 99}); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("Offer with suite 99: error %v, want %v", err, ErrUnknownSuite)
	}
	got, err := Offer([]Suite{SuiteAESCM32})
	if err != nil || len(got) != 1 || got[0].Tag != 1 || got[0].Suite != SuiteAESCM32 {
		t.Errorf("Offer([AES-CM 32]) = %+v, %v", got, err)
	}
}

// TestAnswerWithGCMAndMKI: the answer line for a GCM offer with MKI parses
// back to our key, and the offerer can use it.
func TestAnswerWithGCMAndMKI(t *testing.T) {
	offer := "5 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3OA==|2^31|1:2"
	n, err := Answer([]string{offer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := n.Local.String()
	back, err := Parse(line)
	if err != nil {
		t.Fatalf("our answer %q does not parse: %v", line, err)
	}
	if back.Tag != 5 || back.Suite != SuiteGCM128 || back.Keys[0].MKILen != 2 || !bytes.Equal(back.Keys[0].KeySalt, n.Local.Keys[0].KeySalt) {
		t.Errorf("answer %q parsed to %+v", line, back)
	}
	remote, _ := Parse(offer)
	off, err := AcceptAnswer([]Crypto{remote}, line)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSession(off)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(n)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, b, 100)
	roundTrip(t, b, a, 100)
}
