package directory

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapHash hashes secret with the given salt and parameters, to build
// hashes quickly and with known content.
func cheapHash(secret string, salt []byte, m, t uint32, p uint8) string {
	h := secretHash{memory: m, time: t, threads: p, salt: salt}
	h.key = argon2.IDKey([]byte(secret), salt, t, m, p, 32)
	return h.String()
}

func TestHashSecret(t *testing.T) {
	const pin = "24680"
	const passcode = "pass-code-7"
	h := HashSecret(pin)
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(h, want) {
		t.Errorf("HashSecret = %q, want the prefix %q", h, want)
	}
	if strings.Contains(h, pin) {
		t.Errorf("HashSecret(%q) = %q contains the secret", pin, h)
	}
	for _, tc := range []struct {
		secret string
		want   bool
	}{{pin, true}, {"24681", false}, {"", false}, {pin + "0", false}, {" " + pin, false}} {
		got, err := VerifySecret(h, tc.secret)
		if err != nil || got != tc.want {
			t.Errorf("VerifySecret(hash of %q, %q) = %v, %v; want %v, nil", pin, tc.secret, got, err, tc.want)
		}
	}
	if h2 := HashSecret(pin); h2 == h {
		t.Error("two hashes of one secret are equal; the salt is not random")
	}
	// "-" is not in the base64 alphabet, so a hash can contain it only by
	// leaking the secret.
	if h := HashSecret(passcode); strings.Contains(h, passcode) {
		t.Errorf("HashSecret(%q) = %q contains the secret", passcode, h)
	}
}

// TestVerifySecretParameters checks that VerifySecret uses the parameters
// written in the hash, not HashSecret's current ones, so that hashes stay
// valid when the costs are raised.
func TestVerifySecretParameters(t *testing.T) {
	salt := []byte("0123456789abcdef")
	for _, p := range []struct {
		m, t uint32
		p    uint8
	}{{64, 1, 1}, {256, 3, 2}, {32, 1, 4}} {
		h := cheapHash("1357", salt, p.m, p.t, p.p)
		if ok, err := VerifySecret(h, "1357"); !ok || err != nil {
			t.Errorf("VerifySecret(%s, right) = %v, %v; want true, nil", h, ok, err)
		}
		if ok, err := VerifySecret(h, "1358"); ok || err != nil {
			t.Errorf("VerifySecret(%s, wrong) = %v, %v; want false, nil", h, ok, err)
		}
	}
}

func TestVerifySecretMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("saltsaltsaltsalt"))
	key := base64.RawStdEncoding.EncodeToString([]byte("keykeykeykeykeykeykeykeykeykeyke"))
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := VerifySecret(good, "x"); err != nil {
		t.Fatalf("VerifySecret(%s) = %v; the base case must parse", good, err)
	}
	for _, h := range []string{
		"",
		"13579",
		"$argon2id$",
		"x" + good, // text before the first $
		good + "$", // a seventh field
		good + "=", // padded base64
		strings.Replace(good, salt, salt[:8]+"\n"+salt[8:], 1), // a line break, which base64 skips
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "v=19", "v=19x", 1),
		strings.Replace(good, "v=19", "v=019", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=0,p=1", 1), // argon2 panics on t=0
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=0", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=7,t=1,p=1", 1),  // below 8 KiB per lane
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=9", 1), // below 8 KiB per lane
		strings.Replace(good, "m=64,t=1,p=1", "m=2097152,t=1,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=17,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=65", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=1xyz", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=064,t=1,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=+64,t=1,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=4294967296,t=1,p=1", 1),
		strings.Replace(good, salt, "", 1),
		strings.Replace(good, salt, "c2FsdA", 1), // a 4-byte salt
		strings.Replace(good, salt, "!!!!", 1),
		strings.Replace(good, key, "a2V5", 1), // a 3-byte key
		strings.Replace(good, key, strings.Repeat("A", 88), 1),
		strings.Replace(good, key, key[:len(key)-1]+"f", 1), // non-zero trailing bits
	} {
		ok, err := VerifySecret(h, "x")
		if ok || !errors.Is(err, ErrBadSecretHash) {
			t.Errorf("VerifySecret(%q) = %v, %v; want false, %v", h, ok, err, ErrBadSecretHash)
		}
	}
}

// FuzzVerifySecret checks that no stored hash, however corrupt, makes
// VerifySecret panic; that it accepts only canonical hashes, which format
// back to themselves; and that what it accepts is within the bounds argon2
// can run with.
func FuzzVerifySecret(f *testing.F) {
	salt := []byte("0123456789abcdef")
	f.Add(cheapHash("1357", salt, 64, 1, 1), "1357")
	f.Add(cheapHash("1357", salt, 32, 2, 4), "2468")
	f.Add(HashSecret("24680"), "24680")
	f.Add("$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5", "")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "x")
	f.Add("$$$$$", "")
	f.Fuzz(func(t *testing.T, hash, secret string) {
		h, err := parseSecretHash(hash)
		if err != nil {
			if !errors.Is(err, ErrBadSecretHash) {
				t.Fatalf("parseSecretHash(%q) error = %v, want %v", hash, err, ErrBadSecretHash)
			}
			if ok, err := VerifySecret(hash, secret); ok || !errors.Is(err, ErrBadSecretHash) {
				t.Fatalf("VerifySecret(%q) = %v, %v for an unparsable hash", hash, ok, err)
			}
			return
		}
		if got := h.String(); got != hash {
			t.Fatalf("parseSecretHash(%q) formats back as %q", hash, got)
		}
		if h.time < 1 || h.time > maxArgonTime || h.threads < 1 || h.threads > maxArgonThreads ||
			h.memory < 8*uint32(h.threads) || h.memory > maxArgonMemory ||
			len(h.salt) < minSaltLen || len(h.salt) > maxSaltKeyLen || len(h.key) < minKeyLen ||
			len(h.key) > maxSaltKeyLen {
			t.Fatalf("parseSecretHash(%q) accepted out-of-bounds parameters %+v", hash, h)
		}
		if uint64(h.memory)*uint64(h.time) <= 1<<12 { // cheap enough to run here
			if _, err := VerifySecret(hash, secret); err != nil {
				t.Fatalf("VerifySecret(%q) = %v for a parsable hash", hash, err)
			}
		}
	})
}
