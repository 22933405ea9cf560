package sdes

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestParseGolden parses every line of testdata/attrs.txt and compares what
// becomes of it (the canonical form, or the refusal) with attrs.golden.
func TestParseGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/attrs.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for line := range strings.Lines(string(in)) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fmt.Fprintf(&out, "in:  %s\n", line)
		c, err := Parse(line)
		switch {
		case err != nil:
			fmt.Fprintf(&out, "err: %v\n\n", err)
		case c.Supported() != nil:
			fmt.Fprintf(&out, "out: %s\nunsupported: %v\n\n", c.String(), c.Supported())
		default:
			fmt.Fprintf(&out, "out: %s\n\n", c.String())
		}
	}
	if *update {
		if err := os.WriteFile("testdata/attrs.golden", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/attrs.golden")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("attrs.golden differs (-want +got):\n%s", diff)
	}
}

func TestParseFields(t *testing.T) {
	got, err := Parse("a=crypto:2 AES_CM_128_HMAC_SHA1_80 " +
		"inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;" +
		"inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP WSH=100 -EXT")
	if err != nil {
		t.Fatal(err)
	}
	want := Crypto{
		Tag:   2,
		Suite: SuiteAESCM80,
		Keys: []Key{
			{KeySalt: []byte("123456789ABCDE0123456789ABcdef"), Lifetime: 1 << 20, MKI: 1, MKILen: 4},
			{KeySalt: []byte("ABcdef123456789ABCDE0123456789"), Lifetime: 1 << 20, MKI: 2, MKILen: 4},
		},
		Params: SessionParams{FECOrder: "FEC_SRTP", WSH: 100, Optional: []string{"-EXT"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if err := got.Supported(); err != nil {
		t.Errorf("Supported() = %v, want nil", err)
	}
}

func TestParseErrors(t *testing.T) {
	const key = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
	tests := []struct {
		in   string
		want error
	}{
		{"1 F8_128_HMAC_SHA1_80 " + key, ErrUnknownSuite},
		{"1 AES_256_CM_HMAC_SHA1_80 " + key, ErrUnknownSuite},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|2^20|1:32", ErrUnsupportedMKI},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|2^20|300:1", ErrMKI},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|x:1", ErrMKI},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|2^x", ErrLifetime},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|", ErrLifetime},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|1|2|3", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "|2^20|2^20", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVu", ErrKeyLength},
		{"1 AEAD_AES_128_GCM " + key, ErrKeyLength},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Repeat("A", 400), ErrKeyLength},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVub===", ErrBase64},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9Cn*ubGVz", ErrBase64},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:x", ErrKeyMethod},
		{"1 AES_CM_128_HMAC_SHA1_80 nocolon", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " FOO", ErrUnknownParam},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " KDR", ErrUnknownParam},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " KDR=25", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " WSH=63", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " UNENCRYPTED_SRTP=1", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " FEC_ORDER=LATER", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " FEC_KEY=inline:c2hvcnQ=", ErrKeyLength},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + strings.Repeat(" -X", maxParams+1), ErrTooLong},
		{"1 AES_CM_128_HMAC_SHA1_80 " + strings.Repeat(key+"|1:1;", MaxKeys) + key + "|2:1", ErrTooLong},
		{strings.Repeat("1", MaxAttrLen+1), ErrTooLong},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + "\r\n", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key + " \u00e9", ErrSyntax},
		{"0x1 AES_CM_128_HMAC_SHA1_80 " + key, ErrSyntax},
		{"", ErrSyntax},
		{"1 AES_CM_128_HMAC_SHA1_80", ErrSyntax},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%.60q) error = %v, want %v", tt.in, err, tt.want)
		}
		if err != nil && !cmp.Equal(got, Crypto{}, cmpopts.EquateEmpty()) {
			t.Errorf("Parse(%.60q) returned %+v with its error", tt.in, got)
		}
	}
}

func TestSupported(t *testing.T) {
	k, _ := NewKey(SuiteAESCM80)
	tests := []struct {
		name string
		c    Crypto
		want error
	}{
		{"ok", Crypto{Suite: SuiteAESCM80, Keys: []Key{k}}, nil},
		{"no suite", Crypto{Keys: []Key{k}}, ErrUnknownSuite},
		{"no key", Crypto{Suite: SuiteAESCM80}, ErrSyntax},
		{"GCM with an AES-CM key", Crypto{Suite: SuiteGCM128, Keys: []Key{k}}, ErrKeyLength},
		{"MKI too long", Crypto{Suite: SuiteAESCM80, Keys: []Key{{KeySalt: k.KeySalt, MKILen: 5}}}, ErrUnsupportedMKI},
		{"MKI does not fit", Crypto{Suite: SuiteAESCM80, Keys: []Key{{KeySalt: k.KeySalt, MKI: 256, MKILen: 1}}}, ErrMKI},
		{"two keys, one MKI", Crypto{Suite: SuiteAESCM80, Keys: []Key{{KeySalt: k.KeySalt, MKI: 1, MKILen: 1}, k}}, ErrMKI},
		{"unencrypted", Crypto{Suite: SuiteAESCM80, Keys: []Key{k}, Params: SessionParams{UnencryptedSRTP: true}}, ErrUnsupportedParam},
	}
	for _, tt := range tests {
		if err := tt.c.Supported(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Supported() = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range DefaultSuites() {
		k, err := NewKey(s)
		if err != nil {
			t.Fatal(err)
		}
		k.Lifetime, k.MKI, k.MKILen = 1<<31, 7, 2
		k2, _ := NewKey(s)
		k2.Lifetime, k2.MKI, k2.MKILen = 123456, 9, 2
		c := Crypto{Tag: 42, Suite: s, Keys: []Key{k, k2}, Params: SessionParams{WSH: 512, Optional: []string{"-A"}}}
		got, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.String(), err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("%v round trip (-want +got):\n%s", s, diff)
		}
	}
}

func TestSuite(t *testing.T) {
	tests := []struct {
		s             Suite
		name          string
		keyLen, saltN int
	}{
		{SuiteAESCM80, "AES_CM_128_HMAC_SHA1_80", 16, 14},
		{SuiteAESCM32, "AES_CM_128_HMAC_SHA1_32", 16, 14},
		{SuiteGCM128, "AEAD_AES_128_GCM", 16, 12},
		{0, "Suite(0)", 0, 0},
	}
	for _, tt := range tests {
		if tt.s.String() != tt.name || tt.s.KeyLen() != tt.keyLen || tt.s.SaltLen() != tt.saltN {
			t.Errorf("%d: %q %d %d, want %q %d %d", tt.s, tt.s.String(), tt.s.KeyLen(), tt.s.SaltLen(), tt.name, tt.keyLen, tt.saltN)
		}
		if tt.s == 0 {
			continue
		}
		if got, err := ParseSuite(strings.ToLower(tt.name)); err != nil || got != tt.s {
			t.Errorf("ParseSuite(%q) = %v, %v", strings.ToLower(tt.name), got, err)
		}
	}
	if _, err := NewKey(0); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("NewKey(0) error = %v, want %v", err, ErrUnknownSuite)
	}
}

// FuzzParse: no input panics, and whatever parses formats to a value that
// parses back to the same Crypto.
func FuzzParse(f *testing.F) {
	in, err := os.ReadFile("testdata/attrs.txt")
	if err != nil {
		f.Fatal(err)
	}
	for line := range strings.Lines(string(in)) {
		if !strings.HasPrefix(line, "#") {
			f.Add(strings.TrimSuffix(line, "\n"))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		_ = c.Supported()
		again, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but its String %q does not parse: %v", s, c, c.String(), err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", s, diff)
		}
	})
}
