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
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// NewCredential derives the HA1 values of password for realm. address is
// the user's SIP address without its scheme, "alice@example.com": the user
// part and the whole address are the two digest usernames clients send (see
// Credential), so each gets its MD5 and SHA-256 HA1. A bare user part
// ("alice") gives only the user-part values, as for a password set before
// the address values existed.
func NewCredential(address, realm, password string) Credential {
	user, _, _ := strings.Cut(address, "@")
	c := Credential{Realm: realm}
	c.HA1MD5, c.HA1SHA256 = ha1(user, realm, password)
	if user != address {
		c.HA1bMD5, c.HA1bSHA256 = ha1(address, realm, password)
	}
	return c
}

// ha1 is H(username ":" realm ":" password) in lower-case hex with MD5 and
// with SHA-256 (RFC 3261 §22.4, RFC 8760 §3, RFC 7616 §3.4.2).
func ha1(username, realm, password string) (md5Hex, sha256Hex string) {
	s := username + ":" + realm + ":" + password
	m := md5.Sum([]byte(s)) //nolint:gosec // required by RFC 3261 §22.4
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
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
	h := secretHash{memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt}
	h.key = argon2.IDKey([]byte(secret), salt, h.time, h.memory, h.threads, argonKeyLen)
	return h.String()
}

// VerifySecret reports whether secret matches a hash made by HashSecret, in
// constant time.
func VerifySecret(hash, secret string) (bool, error) {
	h, err := parseSecretHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(secret), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// secretHash is a parsed argon2id PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, with salt and
// key in unpadded standard base64.
type secretHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func (h secretHash) String() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads, enc.EncodeToString(h.salt), enc.EncodeToString(h.key))
}

// Bounds on what parseSecretHash accepts. The lower ones are RFC 9106
// §3.1's (at least 1 pass and lane, 8 KiB per lane, an 8-byte salt, a
// 4-byte tag); the upper ones leave room to raise the costs later while
// keeping a corrupted hash from making one verification take gigabytes or
// minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 64
	minSaltLen      = 8
	minKeyLen       = 4
	maxSaltKeyLen   = 64
)

// parseSecretHash parses the PHC string HashSecret makes. It accepts only
// the canonical form, so that String gives back the input exactly, and only
// parameters argon2 can run with.
func parseSecretHash(s string) (secretHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" ||
		parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return secretHash{}, ErrBadSecretHash
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return secretHash{}, ErrBadSecretHash
	}
	m, okM := hashParam(params[0], "m=", maxArgonMemory)
	t, okT := hashParam(params[1], "t=", maxArgonTime)
	p, okP := hashParam(params[2], "p=", maxArgonThreads)
	if !okM || !okT || !okP || t < 1 || p < 1 || m < 8*p {
		return secretHash{}, ErrBadSecretHash
	}
	salt, okS := hashBytes(parts[4], minSaltLen)
	key, okK := hashBytes(parts[5], minKeyLen)
	if !okS || !okK {
		return secretHash{}, ErrBadSecretHash
	}
	return secretHash{memory: m, time: t, threads: uint8(p), salt: salt, key: key}, nil
}

// hashBytes decodes unpadded standard base64 of min to maxSaltKeyLen bytes.
// The decoder skips line breaks and, without Strict, ignores stray trailing
// bits; re-encoding catches both, so only the canonical text is accepted.
func hashBytes(s string, minLen int) ([]byte, bool) {
	enc := base64.RawStdEncoding.Strict()
	b, err := enc.DecodeString(s)
	if err != nil || len(b) < minLen || len(b) > maxSaltKeyLen || enc.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// hashParam parses "name=N", N a decimal without sign or leading zeros and
// at most limit.
func hashParam(s, name string, limit uint32) (uint32, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || (v[0] == '0' && len(v) > 1) {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > uint64(limit) {
		return 0, false
	}
	return uint32(n), true
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
