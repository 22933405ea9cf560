package directory

import (
	"crypto/md5" //nolint:gosec // RFC 3261 digest requires MD5 HA1 values
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// NewCredential derives the HA1 values of user's password for realm. user is
// the user part of the SIP URI, which clients send as the digest username.
func NewCredential(user, realm, password string) Credential {
	s := user + ":" + realm + ":" + password
	m := md5.Sum([]byte(s)) //nolint:gosec // required by RFC 3261 §22.4
	h := sha256.Sum256([]byte(s))
	return Credential{Realm: realm, HA1MD5: hex.EncodeToString(m[:]), HA1SHA256: hex.EncodeToString(h[:])}
}

// argon2id parameters for PINs and passcodes: short secrets, so the hash
// must be slow (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// ErrBadSecretHash reports a stored hash that cannot be parsed.
var ErrBadSecretHash = errors.New("directory: malformed secret hash")

// HashSecret hashes a PIN or passcode with argon2id and a random salt, in
// the PHC string format.
func HashSecret(secret string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// VerifySecret reports whether secret matches a hash made by HashSecret, in
// constant time.
func VerifySecret(hash, secret string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadSecretHash
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, ErrBadSecretHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false, ErrBadSecretHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, ErrBadSecretHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, ErrBadSecretHash
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// ValidatePIN checks a PIN against a pool's settings: digits only, at least
// the pool's minimum length and at most 24 digits, and not trivially weak.
func ValidatePIN(pin string, s PSTNSettings) error {
	if len(pin) < s.MinPINLength {
		return invalid("pin", "must be at least %d digits", s.MinPINLength)
	}
	if len(pin) > 24 {
		return invalid("pin", "must be at most 24 digits")
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return invalid("pin", "must contain digits only")
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		same = same && pin[i] == pin[0]
		up = up && pin[i] == pin[i-1]+1
		down = down && pin[i] == pin[i-1]-1
	}
	if same || up || down {
		return invalid("pin", "must not be all one digit or a run such as 12345")
	}
	return nil
}
