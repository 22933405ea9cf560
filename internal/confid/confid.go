// Package confid makes and reads conference IDs, the short numbers a dial-in
// caller keys in to name a meeting, and meeting IDs, the long hexadecimal
// names in conference URIs (seed 000, "Focus Factory"; seed 002).
//
// A conference ID is a pool ID (at least two digits; it routes the caller to
// the pool hosting the meeting) joined to a local portion unique among that
// pool's unexpired meetings. The digits the caller sees are built as
//
//	plain   = L ‖ poolID ‖ local     L = len(poolID), one digit (2–9);
//	                                 local zero-padded to its width w
//	printed = FF1(plain) ‖ check     FF1 radix 10 (NIST SP 800-38G);
//	                                 Damm check digit (see damm.go)
//
// so a printed ID has len(poolID) + w + 2 digits. FF1 permutes all strings
// of a length, so the printed number cannot be split into pool and meeting
// parts and consecutive local portions give unrelated IDs, yet every pool,
// holding the same organization key, inverts it to find the pool ID.
//
// Why a length digit: pool IDs are administrator-chosen strings of varying
// length ("12" and "123" may coexist), not a prefix code, so the decoder must
// be told where the pool ID ends. Inside the ciphertext the digit reveals
// nothing, and as only some of its values fit the ID's length it also turns
// away random numbers that happen to pass the check digit: at least one in
// five, and seven in ten at 7 digits. A fixed pool-ID width per organization
// would save the digit but would make adding a pool with a longer ID
// renumber every meeting.
//
// Why 7 digits at least: FF1's domain must hold a million strings (SP
// 800-38G Rev. 1), so the plaintext has at least 6 digits and the local
// portion at least MinWidth(len(poolID)) of them. With a 2-digit pool ID the
// widths 3, 4, 5, 6 print as 7, 8, 9, 10 digits; at the Allocator's default
// load factor such a pool issues 7-digit IDs while it has at most 500
// meetings, 8-digit ones up to 5,000, 9-digit ones up to 50,000.
//
// The package is pure: it stores nothing. Callers keep the printed IDs of
// unexpired meetings (as text: an ID may begin with 0) and hand the slots in
// use to an Allocator when they need a new one.
package confid

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// Limits of the conference-ID format.
const (
	// MinPoolIDLen is the shortest pool ID (seed 000: "at least two digits").
	MinPoolIDLen = 2
	// MaxPoolIDLen is the longest pool ID the single length digit can name.
	MaxPoolIDLen = 9
	// MaxWidth is the widest local portion: 10^18 values per pool, which
	// still fits a uint64 with room to spare.
	MaxWidth = 18
	// MinIDLen is the length of the shortest printed conference ID: FF1's
	// six-digit minimum plus the check digit.
	MinIDLen = ff1MinDecimal + 1
	// MaxIDLen is the length of the longest printed conference ID.
	MaxIDLen = 1 + MaxPoolIDLen + MaxWidth + 1
	// MinKeyLen is the shortest organization key NewCodec accepts (128 bits,
	// as the store requires of an administrator-supplied key).
	MinKeyLen = 16
)

// ff1MinDecimal is FF1's shortest radix-10 input: 10^6 ≥ 1,000,000.
const ff1MinDecimal = 6

// codecKeyLabel separates the codec's AES key from the other keys derived
// from the organization key (digest nonces, Record-Route). Changing it
// changes every conference ID.
const codecKeyLabel = "parley conference id v1"

// Errors returned by the package. Callers test them with errors.Is.
var (
	// ErrSyntax reports an ID that is not a string of MinIDLen to MaxIDLen
	// decimal digits.
	ErrSyntax = errors.New("confid: not a conference ID")
	// ErrCheckDigit reports an ID whose check digit does not match: a
	// mistyped digit or two swapped neighbours.
	ErrCheckDigit = errors.New("confid: check digit mismatch")
	// ErrMalformed reports an ID with a valid check digit that decrypts to
	// something Encode never produces: another organization's ID, or a
	// mistake the check digit could not see.
	ErrMalformed = errors.New("confid: not a conference ID of this organization")
	// ErrPoolID reports a pool ID that is not MinPoolIDLen to MaxPoolIDLen
	// digits.
	ErrPoolID = errors.New("confid: invalid pool ID")
	// ErrRange reports a width or local portion outside what the format
	// can carry.
	ErrRange = errors.New("confid: local portion out of range")
	// ErrKey reports an organization key shorter than MinKeyLen.
	ErrKey = errors.New("confid: organization key too short")
	// ErrFF1 reports FF1 parameters outside SP 800-38G's bounds.
	ErrFF1 = errors.New("confid: invalid FF1 input")
)

// Codec turns (pool ID, local portion, width) into printed conference IDs
// and back, under one organization key. It is safe for concurrent use.
type Codec struct {
	ff1 *FF1
}

// NewCodec returns the codec of the organization whose key is orgKey
// (directory.Organization.ConferenceKey, normally 32 random bytes). The AES
// key is HMAC-SHA256(orgKey, label ‖ 0x01), so this use of the organization
// key cannot be confused with its others.
func NewCodec(orgKey []byte) (*Codec, error) {
	if len(orgKey) < MinKeyLen {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrKey, len(orgKey), MinKeyLen)
	}
	m := hmac.New(sha256.New, orgKey)
	m.Write([]byte(codecKeyLabel))
	m.Write([]byte{1})
	f, err := NewFF1(m.Sum(nil), 10)
	if err != nil {
		return nil, err
	}
	return &Codec{ff1: f}, nil
}

// MinWidth is the narrowest local portion a pool ID of poolIDLen digits can
// have: enough for FF1's six-digit minimum, and at least one digit.
func MinWidth(poolIDLen int) int {
	return max(1, ff1MinDecimal-1-poolIDLen)
}

// IDLen is the length of the printed conference ID of a pool ID of
// poolIDLen digits and a local portion of width digits.
func IDLen(poolIDLen, width int) int { return 1 + poolIDLen + width + 1 }

// pow10 holds 10^0 through 10^MaxWidth.
var pow10 = func() (p [MaxWidth + 1]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// checkPoolID validates a pool ID.
func checkPoolID(poolID string) error {
	if len(poolID) < MinPoolIDLen || len(poolID) > MaxPoolIDLen || !allDigits(poolID) {
		return fmt.Errorf("%w: %q must be %d to %d digits", ErrPoolID, poolID, MinPoolIDLen, MaxPoolIDLen)
	}
	return nil
}

// checkSlot validates a width and local portion for a pool ID of poolIDLen
// digits.
func checkSlot(poolIDLen, width int, local uint64) error {
	if lo := MinWidth(poolIDLen); width < lo || width > MaxWidth {
		return fmt.Errorf("%w: width %d outside [%d, %d] for a %d-digit pool ID",
			ErrRange, width, lo, MaxWidth, poolIDLen)
	}
	if local >= pow10[width] {
		return fmt.Errorf("%w: %d does not fit in %d digits", ErrRange, local, width)
	}
	return nil
}

// Encode returns the printed conference ID of local, zero-padded to width
// digits, in the pool poolID.
func (c *Codec) Encode(poolID string, local uint64, width int) (string, error) {
	if err := checkPoolID(poolID); err != nil {
		return "", err
	}
	if err := checkSlot(len(poolID), width, local); err != nil {
		return "", err
	}
	plain := make([]uint16, 0, IDLen(len(poolID), width)-1)
	plain = append(plain, uint16(len(poolID)))
	for i := 0; i < len(poolID); i++ {
		plain = append(plain, uint16(poolID[i]-'0'))
	}
	for i := width - 1; i >= 0; i-- {
		plain = append(plain, uint16(local/pow10[i]%10))
	}
	enc, err := c.ff1.Encrypt(plain, nil)
	if err != nil {
		return "", fmt.Errorf("confid: encode: %w", err)
	}
	var b strings.Builder
	b.Grow(len(enc) + 1)
	for _, d := range enc {
		b.WriteByte('0' + byte(d))
	}
	digits := b.String()
	return digits + string(checkDigit(digits)), nil
}

// Decode recovers the pool ID, local portion and width of a printed
// conference ID. It checks the check digit before decrypting, so that a
// mistyped ID is reported as ErrCheckDigit and never reaches a lookup.
func (c *Codec) Decode(id string) (poolID string, local uint64, width int, err error) {
	if len(id) < MinIDLen || len(id) > MaxIDLen {
		return "", 0, 0, fmt.Errorf("%w: %d digits, want %d to %d", ErrSyntax, len(id), MinIDLen, MaxIDLen)
	}
	if !allDigits(id) {
		return "", 0, 0, fmt.Errorf("%w: only the digits 0-9 may appear", ErrSyntax)
	}
	if !validCheckDigit(id) {
		return "", 0, 0, ErrCheckDigit
	}
	enc := make([]uint16, len(id)-1)
	for i := range enc {
		enc[i] = uint16(id[i] - '0')
	}
	plain, err := c.ff1.Decrypt(enc, nil)
	if err != nil {
		return "", 0, 0, fmt.Errorf("confid: decode: %w", err)
	}
	n := int(plain[0])
	width = len(plain) - 1 - n
	if n < MinPoolIDLen || n > MaxPoolIDLen || width < MinWidth(n) || width > MaxWidth {
		return "", 0, 0, ErrMalformed
	}
	pool := make([]byte, n)
	for i := range pool {
		pool[i] = '0' + byte(plain[1+i])
	}
	for _, d := range plain[1+n:] {
		local = local*10 + uint64(d)
	}
	return string(pool), local, width, nil
}

// allDigits reports whether s holds only ASCII decimal digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
