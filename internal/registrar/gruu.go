package registrar

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// GRUUs (RFC 5627) route to one registered instance of a user. Three forms
// are handed out for a contact with a +sip.instance:
//
//   - the public GRUU, the AOR with a gr parameter holding the instance ID
//     (RFC 5627 §3.1): sip:alice@parley.test;gr=urn:uuid:f81d4fae-...;
//   - a temporary GRUU that does not reveal the AOR (RFC 5627 §3.2):
//     sip:tgruu.<token>@parley.test;gr, where the token is the AOR's user
//     and a per-registration key, sealed with a key of this registrar;
//   - Microsoft's user-agent GRUU ([MS-SIPRE] §2.2.3), for clients that
//     say Supported: gruu-10: sip:alice@parley.test;opaque=user:epid:<id>;gruu.

// paramSafe reports whether c may appear unescaped in a URI parameter value
// (RFC 3261 §25.1 paramchar: param-unreserved / unreserved).
func paramSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("[]/:&+$-_.!~*'()", c) >= 0
}

// escapeParam %-escapes what a URI parameter value may not hold.
func escapeParam(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if paramSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// unescapeParam undoes %-escapes; malformed escapes are kept as they are.
func unescapeParam(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.WriteByte(v[0])
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pubGRUU builds the public GRUU of an instance (RFC 5627 §3.1).
func pubGRUU(aor, instance string) string {
	return aor + ";gr=" + escapeParam(instance)
}

// epid derives Microsoft's endpoint ID from an instance. For a urn:uuid
// instance it is what OCS 2007 R2 sends: the UUID's 16 bytes in the
// Windows GUID layout (the first three fields little-endian), two zero
// bytes, base64url. OCS returns instance
// <urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d> with
// opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA (protocols.md §1.8). Other
// instances use the first 16 bytes of their SHA-256 in the same encoding,
// which is stable too.
func epid(instance string) string {
	var raw [18]byte
	if u, ok := parseUUIDURN(instance); ok {
		copy(raw[:16], u[:])
		// GUID layout: Data1 (4 bytes), Data2 and Data3 (2 bytes) little-endian.
		binary.LittleEndian.PutUint32(raw[0:4], binary.BigEndian.Uint32(u[0:4]))
		binary.LittleEndian.PutUint16(raw[4:6], binary.BigEndian.Uint16(u[4:6]))
		binary.LittleEndian.PutUint16(raw[6:8], binary.BigEndian.Uint16(u[6:8]))
	} else {
		sum := sha256.Sum256([]byte(instance))
		copy(raw[:16], sum[:16])
	}
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// parseUUIDURN parses "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
// (RFC 4122 §3), case-insensitively.
func parseUUIDURN(s string) ([16]byte, bool) {
	var u [16]byte
	const prefix = "urn:uuid:"
	if len(s) != len(prefix)+36 || !strings.EqualFold(s[:len(prefix)], prefix) {
		return u, false
	}
	s = s[len(prefix):]
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	b, err := hex.DecodeString(h)
	if err != nil {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

// msGRUU builds the [MS-SIPRE] §2.2.3 user-agent GRUU.
func msGRUU(aor, instance string) string {
	return aor + ";opaque=user:epid:" + epid(instance) + ";gruu"
}

// tgruuPrefix starts the user part of a temporary GRUU.
const tgruuPrefix = "tgruu."

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tempGRUUs seals and opens temporary GRUUs. The key lives only in memory:
// bindings do too, so a temporary GRUU never outlives the registrar that
// issued it, as RFC 5627 §3.2 allows.
type tempGRUUs struct{ aead cipher.AEAD }

func newTempGRUUs() tempGRUUs {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return tempGRUUs{aead: aead}
}

// make returns a new temporary GRUU for the binding of user@domain whose
// registration key is key. Every call returns a different URI (RFC 5627
// §5.1: a new temporary GRUU with each refresh), and all of them stay valid
// as long as the binding keeps its key, that is, until it expires or is
// registered under another Call-ID.
func (t tempGRUUs) make(user, domain string, key uint64) string {
	nonce := make([]byte, t.aead.NonceSize(), t.aead.NonceSize()+8+len(user)+t.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	plain := binary.BigEndian.AppendUint64(nil, key)
	plain = append(plain, user...)
	sealed := t.aead.Seal(nonce, nonce, plain, []byte(domain))
	return "sip:" + tgruuPrefix + tokenEncoding.EncodeToString(sealed) + "@" + domain + ";gr"
}

// open recovers the user and registration key from a temporary GRUU's user
// part and domain; ok is false for anything this registrar did not make.
func (t tempGRUUs) open(userPart, domain string) (user string, key uint64, ok bool) {
	token, found := strings.CutPrefix(strings.ToLower(userPart), tgruuPrefix)
	if !found {
		return "", 0, false
	}
	sealed, err := tokenEncoding.DecodeString(token)
	if err != nil || len(sealed) < t.aead.NonceSize()+t.aead.Overhead()+8 {
		return "", 0, false
	}
	ns := t.aead.NonceSize()
	plain, err := t.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(domain))
	if err != nil || len(plain) < 8 {
		return "", 0, false
	}
	return string(plain[8:]), binary.BigEndian.Uint64(plain[:8]), true
}
