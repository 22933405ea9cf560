package digest

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

func TestNonceMintOpen(t *testing.T) {
	m := nonceMinter{secret: []byte("0123456789abcdef"), realm: "parley.test"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := m.mint(now)
	if len(n) != 43 {
		t.Errorf("nonce %q has length %d, want 43", n, len(n))
	}
	if n2 := m.mint(now); n2 == n {
		t.Error("two nonces minted at the same time are equal")
	}
	issued, ok := m.open(n)
	if !ok || issued != now.UnixNano() {
		t.Fatalf("open = %d, %v; want %d, true", issued, ok, now.UnixNano())
	}

	raw, _ := base64.RawURLEncoding.DecodeString(n)
	for i := range raw {
		tampered := append([]byte(nil), raw...)
		tampered[i] ^= 1
		if _, ok := m.open(base64.RawURLEncoding.EncodeToString(tampered)); ok {
			t.Errorf("nonce with byte %d flipped was accepted", i)
		}
	}
	other := nonceMinter{secret: []byte("0123456789abcdef"), realm: "other.test"}
	if _, ok := other.open(n); ok {
		t.Error("a nonce of another realm was accepted")
	}
	for _, bad := range []string{"", "x", n + "A", n[:42], "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, ok := m.open(bad); ok {
			t.Errorf("open(%q) accepted", bad)
		}
	}
}

func TestNonceTableBoundedAndSound(t *testing.T) {
	ttl := 5 * time.Minute
	tab := newNonceTable(16*nonceShards, ttl) // 16 records per shard
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := base
	type used struct {
		nonce  string
		issued int64
	}
	var all []used
	for i := range 5000 {
		u := used{fmt.Sprintf("nonce-%d", i), now.UnixNano()}
		if r := tab.use(u.nonce, u.issued, 1, now); r != useOK {
			t.Fatalf("first use of %s = %v", u.nonce, r)
		}
		all = append(all, u)
		now = now.Add(time.Millisecond)
	}
	if n := tab.len(); n > 16*nonceShards {
		t.Fatalf("table holds %d records, bound is %d", n, 16*nonceShards)
	}
	// However many were dropped, no used nonce may be accepted again with
	// the same count.
	for _, u := range all {
		if r := tab.use(u.nonce, u.issued, 1, now); r == useOK {
			t.Fatalf("replay of %s accepted", u.nonce)
		}
	}
	// Records of expired nonces leave the table.
	now = now.Add(ttl + time.Second)
	for i := range nonceShards * 4 {
		tab.use(fmt.Sprintf("late-%d", i), now.UnixNano(), 1, now)
	}
	if n := tab.len(); n > nonceShards*4 {
		t.Errorf("after expiry the table holds %d records, want at most %d", n, nonceShards*4)
	}
}
