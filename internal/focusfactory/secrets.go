package focusfactory

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/directory"
)

// accessKeySealer encrypts anonymous access keys at rest with AES-256-GCM.
// They cannot be hashed like passcodes: anonymous users join by digest
// against the key (seed 003, "Meeting Activation"), and digest needs it.
type accessKeySealer struct{ aead cipher.AEAD }

func newAccessKeySealer(secret []byte) (*accessKeySealer, error) {
	if len(secret) != 32 {
		return nil, fmt.Errorf("focusfactory: access-key secret is %d bytes, want 32", len(secret))
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("focusfactory: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("focusfactory: %w", err)
	}
	return &accessKeySealer{aead: aead}, nil
}

// seal returns nonce ‖ ciphertext, bound to its meeting (aad) so that a
// sealed key cannot be moved to another meeting.
func (s *accessKeySealer) seal(aad, key string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(key)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(nonce, nonce, []byte(key), []byte(aad))
}

// open reverses seal.
func (s *accessKeySealer) open(aad string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("focusfactory: sealed access key too short")
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("focusfactory: opening access key: %w", err)
	}
	return string(pt), nil
}

// Passcode limits. Passcodes are typed on a phone keypad, so digits only;
// the pool's minimum PIN length applies to them too (a short passcode is as
// guessable as a short PIN).
const maxPasscodeLen = 24

// checkPasscode validates a passcode against the pool's PSTN settings.
func checkPasscode(p string, pool directory.Pool) error {
	min := pool.PSTN.MinPINLength
	if len(p) < min || len(p) > maxPasscodeLen {
		return fmt.Errorf("passcode must be %d to %d digits", min, maxPasscodeLen)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return errors.New("passcode must be digits only")
		}
	}
	return nil
}

// maxAccessKeyLen bounds the anonymous access key (conference-key).
const maxAccessKeyLen = 64
