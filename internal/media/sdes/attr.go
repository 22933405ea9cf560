package sdes

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Limits on what Parse accepts. An a=crypto line is peer input on every
// call; these bound the work and memory it can cost. Real lines are under
// 100 octets with one key.
const (
	MaxAttrLen = 1024 // octets in one attribute value
	MaxKeys    = 8    // key-params in one attribute
	maxParams  = 16   // session parameters in one attribute
	maxMKILen  = 4    // MKI octets we can carry (RFC 4568 allows up to 128)
)

// Errors of Parse and of the checks before a Crypto is used.
var (
	ErrSyntax           = errors.New("sdes: malformed crypto attribute")
	ErrTooLong          = errors.New("sdes: crypto attribute too long")
	ErrKeyMethod        = errors.New("sdes: unsupported key method")
	ErrKeyLength        = errors.New("sdes: wrong key||salt length for the suite")
	ErrBase64           = errors.New("sdes: key||salt is not base64")
	ErrLifetime         = errors.New("sdes: bad key lifetime")
	ErrMKI              = errors.New("sdes: bad MKI")
	ErrUnsupportedMKI   = errors.New("sdes: MKI longer than we support")
	ErrUnknownParam     = errors.New("sdes: unknown mandatory session parameter")
	ErrUnsupportedParam = errors.New("sdes: session parameter not supported")
)

// Key is one key-param of an a=crypto attribute: an inline master key and
// salt, with the optional lifetime and master key identifier (RFC 4568
// §6.1).
type Key struct {
	// KeySalt is the master key followed by the master salt.
	KeySalt []byte
	// Lifetime is the number of SRTP (and, separately, SRTCP) packets the
	// key may protect; 0 means not given, i.e. the RFC 3711 maximum.
	Lifetime uint64
	// MKI is the master key identifier, carried in MKILen octets at the end
	// of each packet; MKILen 0 means the packets carry no MKI.
	MKI    uint32
	MKILen uint8
}

// SessionParams are the session parameters of an a=crypto attribute
// (RFC 4568 §6.3). Parse records all it understands; Crypto.Supported says
// whether this package can honor them.
type SessionParams struct {
	KDR                 uint8 // key derivation rate exponent, if HasKDR (§6.3.1)
	HasKDR              bool
	UnencryptedSRTP     bool   // §6.3.2
	UnencryptedSRTCP    bool   // §6.3.2
	UnauthenticatedSRTP bool   // §6.3.3
	FECOrder            string // "FEC_SRTP" or "SRTP_FEC", if given (§6.3.4)
	FECKey              string // the FEC_KEY key-params, verbatim (§6.3.5)
	WSH                 uint32 // window size hint, 0 if not given (§6.3.6)
	// Optional holds parameters prefixed with "-": unknown to us, and
	// ignorable by their definition (§6.3.7). They are kept for String.
	Optional []string
}

// Crypto is one a=crypto attribute: tag, suite, keys and session
// parameters (RFC 4568 §4).
type Crypto struct {
	Tag    uint32 // identifies the line within the media description
	Suite  Suite
	Keys   []Key // at least one; all with an MKI when more than one
	Params SessionParams
}

// Parse parses the value of an a=crypto attribute, the text after
// "a=crypto:" ("1 AES_CM_128_HMAC_SHA1_80 inline:..."); a leading
// "a=crypto:" or "crypto:" is also accepted. A suite this package does not
// implement gives an error wrapping ErrUnknownSuite: in an offer, skip the
// line. Session parameters are parsed but not judged; see Supported.
func Parse(value string) (Crypto, error) {
	if len(value) > MaxAttrLen {
		return Crypto{}, fmt.Errorf("%w: %d octets, limit %d", ErrTooLong, len(value), MaxAttrLen)
	}
	if v, ok := strings.CutPrefix(value, "a=crypto:"); ok {
		value = v
	} else {
		value = strings.TrimPrefix(value, "crypto:")
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x21 || c > 0x7e) && c != ' ' && c != '\t' {
			return Crypto{}, fmt.Errorf("%w: control or non-ASCII octet %#02x", ErrSyntax, c)
		}
	}
	f := strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("%w: want tag, suite and key params, got %d fields", ErrSyntax, len(f))
	}
	if len(f) > 3+maxParams {
		return Crypto{}, fmt.Errorf("%w: %d session parameters, limit %d", ErrTooLong, len(f)-3, maxParams)
	}
	var c Crypto
	tag, err := parseDigits(f[0], 9)
	if err != nil {
		return Crypto{}, fmt.Errorf("%w: tag %q", ErrSyntax, truncate(f[0]))
	}
	c.Tag = uint32(tag)
	if c.Suite, err = ParseSuite(f[1]); err != nil {
		return Crypto{}, err
	}
	if c.Keys, err = parseKeyParams(f[2], c.Suite); err != nil {
		return Crypto{}, err
	}
	for _, p := range f[3:] {
		if err := c.Params.parse(p, c.Suite); err != nil {
			return Crypto{}, err
		}
	}
	return c, nil
}

// parseKeyParams parses "inline:key||salt[|lifetime][|mki];..." (§9.2).
func parseKeyParams(s string, suite Suite) ([]Key, error) {
	parts := strings.Split(s, ";")
	if len(parts) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, limit %d", ErrTooLong, len(parts), MaxKeys)
	}
	keys := make([]Key, 0, len(parts))
	for _, p := range parts {
		k, err := parseKey(p, suite)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if err := checkMKIs(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

func parseKey(p string, suite Suite) (Key, error) {
	method, info, ok := strings.Cut(p, ":")
	if !ok {
		return Key{}, fmt.Errorf("%w: key param %q has no method", ErrSyntax, truncate(p))
	}
	if !strings.EqualFold(method, "inline") {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyMethod, truncate(method))
	}
	fields := strings.Split(info, "|")
	if len(fields) > 3 {
		return Key{}, fmt.Errorf("%w: key info %q has too many fields", ErrSyntax, truncate(info))
	}
	var k Key
	var err error
	if k.KeySalt, err = decodeKeySalt(fields[0], suite); err != nil {
		return Key{}, err
	}
	for i, fld := range fields[1:] {
		if v, l, isMKI := strings.Cut(fld, ":"); isMKI {
			if i != len(fields)-2 {
				return Key{}, fmt.Errorf("%w: MKI must come last in %q", ErrSyntax, truncate(info))
			}
			if k.MKI, k.MKILen, err = parseMKI(v, l); err != nil {
				return Key{}, err
			}
			continue
		}
		if i != 0 {
			return Key{}, fmt.Errorf("%w: two lifetimes in %q", ErrSyntax, truncate(info))
		}
		if k.Lifetime, err = parseLifetime(fld); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// decodeKeySalt decodes base64 key||salt (RFC 4648 §4), padded or not:
// the 28 octets of a GCM key and salt need padding, and peers differ.
func decodeKeySalt(s string, suite Suite) ([]byte, error) {
	want := suite.KeyLen() + suite.SaltLen()
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	if enc.DecodedLen(len(s)) > 2*want {
		return nil, fmt.Errorf("%w: %d base64 characters for %s", ErrKeyLength, len(s), suite)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBase64, err)
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: %d octets for %s, want %d", ErrKeyLength, len(b), suite, want)
	}
	return b, nil
}

// parseLifetime parses "2^n" or a decimal packet count (§6.1).
func parseLifetime(s string) (uint64, error) {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := parseDigits(exp, 2)
		if err != nil || n < 1 || n > 63 {
			return 0, fmt.Errorf("%w: %q", ErrLifetime, truncate(s))
		}
		return 1 << n, nil
	}
	n, err := parseDigits(s, 19)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q", ErrLifetime, truncate(s))
	}
	return n, nil
}

// parseMKI parses "value:length" (§6.1, §9.2: length 1*3DIGIT, 1 to 128).
func parseMKI(v, l string) (uint32, uint8, error) {
	length, err := parseDigits(l, 3)
	if err != nil || length < 1 || length > 128 {
		return 0, 0, fmt.Errorf("%w: length %q", ErrMKI, truncate(l))
	}
	if length > maxMKILen {
		return 0, 0, fmt.Errorf("%w: %d octets, limit %d", ErrUnsupportedMKI, length, maxMKILen)
	}
	value, err := parseDigits(v, 10)
	if err != nil || bits.Len64(value) > int(8*length) {
		return 0, 0, fmt.Errorf("%w: value %q does not fit %d octets", ErrMKI, truncate(v), length)
	}
	return uint32(value), uint8(length), nil
}

// checkMKIs enforces that several keys are told apart by MKIs of one
// length, which is also all that pion/srtp can look up.
func checkMKIs(keys []Key) error {
	if len(keys) == 1 {
		return nil
	}
	seen := make(map[uint32]bool, len(keys))
	for _, k := range keys {
		if k.MKILen == 0 || k.MKILen != keys[0].MKILen {
			return fmt.Errorf("%w: %d keys need MKIs of one length", ErrMKI, len(keys))
		}
		if seen[k.MKI] {
			return fmt.Errorf("%w: MKI %d used twice", ErrMKI, k.MKI)
		}
		seen[k.MKI] = true
	}
	return nil
}

// parse records one session parameter (§6.3, grammar in §9.2).
func (sp *SessionParams) parse(p string, suite Suite) error {
	name, val, hasVal := strings.Cut(p, "=")
	flag := func(b *bool) error {
		if hasVal {
			return fmt.Errorf("%w: %s takes no value", ErrSyntax, name)
		}
		*b = true
		return nil
	}
	switch {
	case strings.HasPrefix(p, "-"):
		sp.Optional = append(sp.Optional, p)
		return nil
	case strings.EqualFold(name, "UNENCRYPTED_SRTP"):
		return flag(&sp.UnencryptedSRTP)
	case strings.EqualFold(name, "UNENCRYPTED_SRTCP"):
		return flag(&sp.UnencryptedSRTCP)
	case strings.EqualFold(name, "UNAUTHENTICATED_SRTP"):
		return flag(&sp.UnauthenticatedSRTP)
	case strings.EqualFold(name, "KDR") && hasVal:
		n, err := parseDigits(val, 2)
		if err != nil || n > 24 {
			return fmt.Errorf("%w: KDR=%q", ErrSyntax, truncate(val))
		}
		sp.KDR, sp.HasKDR = uint8(n), true
		return nil
	case strings.EqualFold(name, "WSH") && hasVal:
		n, err := parseDigits(val, 9)
		if err != nil || n < 64 {
			return fmt.Errorf("%w: WSH=%q (minimum 64)", ErrSyntax, truncate(val))
		}
		sp.WSH = uint32(n)
		return nil
	case strings.EqualFold(name, "FEC_ORDER") && hasVal:
		if !strings.EqualFold(val, "FEC_SRTP") && !strings.EqualFold(val, "SRTP_FEC") {
			return fmt.Errorf("%w: FEC_ORDER=%q", ErrSyntax, truncate(val))
		}
		sp.FECOrder = strings.ToUpper(val)
		return nil
	case strings.EqualFold(name, "FEC_KEY") && hasVal:
		if _, err := parseKeyParams(val, suite); err != nil {
			return fmt.Errorf("FEC_KEY: %w", err)
		}
		sp.FECKey = val
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownParam, truncate(p))
}

// parseDigits parses 1 to maxDigits decimal digits, nothing else.
func parseDigits(s string, maxDigits int) (uint64, error) {
	if len(s) == 0 || len(s) > maxDigits {
		return 0, strconv.ErrRange
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// Supported reports whether this package can honor c: its suite and keys
// are well formed and it asks for nothing pion/srtp cannot do or that would
// weaken protection (unencrypted or unauthenticated media, a key
// derivation rate, FEC keys or FEC before SRTP).
func (c *Crypto) Supported() error {
	if !c.Suite.valid() {
		return fmt.Errorf("%w: %v", ErrUnknownSuite, c.Suite)
	}
	if len(c.Keys) == 0 || len(c.Keys) > MaxKeys {
		return fmt.Errorf("%w: %d keys", ErrSyntax, len(c.Keys))
	}
	for _, k := range c.Keys {
		if want := c.Suite.KeyLen() + c.Suite.SaltLen(); len(k.KeySalt) != want {
			return fmt.Errorf("%w: %d octets for %s, want %d", ErrKeyLength, len(k.KeySalt), c.Suite, want)
		}
		if k.MKILen > maxMKILen {
			return fmt.Errorf("%w: %d octets", ErrUnsupportedMKI, k.MKILen)
		}
		if k.MKILen > 0 && bits.Len32(k.MKI) > 8*int(k.MKILen) {
			return fmt.Errorf("%w: %d does not fit %d octets", ErrMKI, k.MKI, k.MKILen)
		}
	}
	if err := checkMKIs(c.Keys); err != nil {
		return err
	}
	p := &c.Params
	switch {
	case p.UnencryptedSRTP:
		return fmt.Errorf("%w: UNENCRYPTED_SRTP", ErrUnsupportedParam)
	case p.UnencryptedSRTCP:
		return fmt.Errorf("%w: UNENCRYPTED_SRTCP", ErrUnsupportedParam)
	case p.UnauthenticatedSRTP:
		return fmt.Errorf("%w: UNAUTHENTICATED_SRTP", ErrUnsupportedParam)
	case p.HasKDR:
		return fmt.Errorf("%w: KDR (pion/srtp derives session keys once)", ErrUnsupportedParam)
	case p.FECKey != "":
		return fmt.Errorf("%w: FEC_KEY", ErrUnsupportedParam)
	case p.FECOrder == "SRTP_FEC":
		return fmt.Errorf("%w: FEC_ORDER=SRTP_FEC", ErrUnsupportedParam)
	}
	return nil
}

// String formats c as an a=crypto attribute value, without "a=crypto:".
func (c *Crypto) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(c.Tag), 10))
	b.WriteByte(' ')
	b.WriteString(c.Suite.String())
	b.WriteByte(' ')
	for i, k := range c.Keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString("inline:")
		b.WriteString(base64.StdEncoding.EncodeToString(k.KeySalt))
		if k.Lifetime != 0 {
			b.WriteByte('|')
			if k.Lifetime > 1 && k.Lifetime&(k.Lifetime-1) == 0 { // 2^0 is not valid syntax
				b.WriteString("2^")
				b.WriteString(strconv.Itoa(bits.TrailingZeros64(k.Lifetime)))
			} else {
				b.WriteString(strconv.FormatUint(k.Lifetime, 10))
			}
		}
		if k.MKILen != 0 {
			fmt.Fprintf(&b, "|%d:%d", k.MKI, k.MKILen)
		}
	}
	p := &c.Params
	if p.HasKDR {
		fmt.Fprintf(&b, " KDR=%d", p.KDR)
	}
	for _, f := range []struct {
		set  bool
		name string
	}{{p.UnencryptedSRTP, "UNENCRYPTED_SRTP"}, {p.UnencryptedSRTCP, "UNENCRYPTED_SRTCP"}, {p.UnauthenticatedSRTP, "UNAUTHENTICATED_SRTP"}} {
		if f.set {
			b.WriteString(" " + f.name)
		}
	}
	if p.FECOrder != "" {
		b.WriteString(" FEC_ORDER=" + p.FECOrder)
	}
	if p.FECKey != "" {
		b.WriteString(" FEC_KEY=" + p.FECKey)
	}
	if p.WSH != 0 {
		fmt.Fprintf(&b, " WSH=%d", p.WSH)
	}
	for _, o := range p.Optional {
		b.WriteString(" " + o)
	}
	return b.String()
}
