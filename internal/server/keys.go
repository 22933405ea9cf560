package server

import (
	"crypto/hmac"
	"crypto/sha256"
)

// TrustKey is the key trusted services sign privileged requests with
// (internal/sipx/trust), derived from the organization key.
func TrustKey(orgKey []byte) []byte { return deriveKey(orgKey, "parley trusted services v1") }

// deriveKey derives a purpose-specific key from a master key (HMAC-SHA256
// used as a PRF, as in HKDF-Expand with one block, RFC 5869 §2.3).
func deriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	m.Write([]byte{1})
	return m.Sum(nil)
}
