package confid

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Meeting-ID lengths in hexadecimal characters. Seed 000 describes meeting
// IDs of 16 to 32 characters; clients such as the Outlook add-in generate
// their own of 32 (seed 002), and so does NewMeetingID.
const (
	MinMeetingIDLen = 16
	MeetingIDLen    = 32
)

// ErrMeetingID reports a meeting ID that is not 16 to 32 hexadecimal
// characters.
var ErrMeetingID = errors.New("confid: invalid meeting ID")

// NewMeetingID returns a new meeting ID: 128 bits from r (crypto/rand's
// reader when r is nil) as 32 lowercase hexadecimal characters. Meeting IDs
// are never reused (seed 000); at 128 random bits two meetings would share
// one only after some 2^64 had been made.
func NewMeetingID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [MeetingIDLen / 2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("confid: meeting ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// CheckMeetingID validates a meeting ID a client proposes: 16 to 32
// hexadecimal characters of either case.
func CheckMeetingID(id string) error {
	if len(id) < MinMeetingIDLen || len(id) > MeetingIDLen {
		return fmt.Errorf("%w: %d characters, want %d to %d", ErrMeetingID, len(id), MinMeetingIDLen, MeetingIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isHex(c) {
			return fmt.Errorf("%w: %q at %d is not a hexadecimal digit", ErrMeetingID, c, i)
		}
	}
	return nil
}

// isHex reports whether c is an ASCII hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
