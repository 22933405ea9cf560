package mediation

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/dialplan"
)

// Errors of number extraction and normalization.
var (
	// ErrNotANumber reports a URI that carries no telephone number: a SIP
	// URI whose user part is a name, or a tel URI that does not parse.
	ErrNotANumber = errors.New("mediation: not a telephone number")
	// ErrNotNormalized reports a number that the location profile does not
	// turn into E.164.
	ErrNotNormalized = errors.New("mediation: number does not normalize to E.164")
)

// maxNumberLen bounds a dialled string (with separators). E.164 numbers
// have at most 15 digits; local forms with prefixes and separators stay
// well under this.
const maxNumberLen = 64

// Number is a telephone number as a gateway sent it in a URI.
type Number struct {
	// Digits is the number as written, visual separators included: a
	// global number starts with "+".
	Digits string
	// Context is the phone-context of a local number (RFC 3966 §5.1.5),
	// "" for a global one or when the gateway gave none.
	Context string
}

// String renders the number for logs and Warning headers.
func (n Number) String() string {
	if n.Context == "" {
		return n.Digits
	}
	return n.Digits + ";phone-context=" + n.Context
}

// NumberFromURI returns the telephone number u carries: the subscriber of a
// tel URI (RFC 3966 §3), or the user part of a SIP URI (RFC 3261 §19.1.6),
// which gateways fill with the number, with or without user=phone. The
// ;ext= and ;isub= parameters are dropped: routing is by the main number.
func NumberFromURI(u sip.Uri) (Number, error) {
	var part string
	switch strings.ToLower(u.Scheme) {
	case "tel":
		part = u.Raw()
	case "sip", "sips":
		user, err := url.PathUnescape(u.User)
		if err != nil {
			return Number{}, fmt.Errorf("%w: user part %q: %w", ErrNotANumber, u.User, err)
		}
		part = user
	default:
		return Number{}, fmt.Errorf("%w: %s URI", ErrNotANumber, u.Scheme)
	}
	return parseNumber(part)
}

// parseNumber reads "number;param=value..." as in a tel URI or the user
// part of a SIP URI with user=phone.
func parseNumber(s string) (Number, error) {
	if len(s) > maxNumberLen+128 {
		return Number{}, fmt.Errorf("%w: %d characters", ErrNotANumber, len(s))
	}
	digits, params, _ := strings.Cut(s, ";")
	n := Number{Digits: digits}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if strings.EqualFold(name, "phone-context") {
			n.Context = value
		}
	}
	if err := checkDigits(n.Digits); err != nil {
		return Number{}, err
	}
	if n.Context != "" && strings.HasPrefix(n.Context, "+") {
		if err := checkDigits(n.Context); err != nil {
			return Number{}, fmt.Errorf("phone-context: %w", err)
		}
	}
	return n, nil
}

// checkDigits accepts a global number ("+" then digits) or a local one
// (digits, "*", "#"), with the visual separators of RFC 3966 §5.1.1.
func checkDigits(s string) error {
	if s == "" || len(s) > maxNumberLen {
		return fmt.Errorf("%w: %q", ErrNotANumber, s)
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0:
		case c == '*' || c == '#':
		case c == '-' || c == '.' || c == '(' || c == ')' || c == ' ':
		default:
			return fmt.Errorf("%w: %q", ErrNotANumber, s)
		}
	}
	if digits == 0 {
		return fmt.Errorf("%w: %q has no digits", ErrNotANumber, s)
	}
	return nil
}

// Normalize turns n into E.164 with profile: the first rule that matches
// the number (separators removed) and yields E.164 wins. A global number
// the profile leaves alone is already E.164. A local number with a global
// phone-context (RFC 3966 §5.1.5, "+1425") that no rule matches is the
// context's digits followed by the number's.
func Normalize(profile *dialplan.Profile, n Number) (string, error) {
	d := dialplan.StripSeparators(n.Digits)
	if profile != nil {
		if e, _, err := profile.Normalize(d); err == nil && dialplan.IsE164(e) {
			return e, nil
		}
	}
	if dialplan.IsE164(d) {
		return d, nil
	}
	if strings.HasPrefix(n.Context, "+") && !strings.HasPrefix(d, "+") {
		if e := dialplan.StripSeparators(n.Context) + d; dialplan.IsE164(e) {
			return e, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotNormalized, n)
}

// Caller is the calling party as the gateway presented it.
type Caller struct {
	// Display is the display name, "" when none was given.
	Display string
	// Number is the normalized E.164 number, "" when the caller is
	// anonymous or the number does not normalize.
	Number string
}

// CallerOf reads the calling party of a gateway's INVITE: the first
// P-Asserted-Identity (RFC 3325 §9.1; the gateway is trusted, it is in the
// configured list) whose URI carries a number, else From. A number that
// does not normalize leaves the caller anonymous but keeps the name.
func CallerOf(req *sip.Request, profile *dialplan.Profile) Caller {
	var c Caller
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		for v := range strings.SplitSeq(h.Value(), ",") {
			var u sip.Uri
			display, err := sip.ParseAddressValue(strings.TrimSpace(v), &u, nil)
			if err != nil {
				continue
			}
			if n, err := NumberFromURI(u); err == nil {
				if e, err := Normalize(profile, n); err == nil {
					return Caller{Display: cleanDisplay(display), Number: e}
				}
			}
			if c.Display == "" {
				c.Display = cleanDisplay(display)
			}
		}
	}
	if from := req.From(); from != nil {
		if c.Display == "" {
			c.Display = cleanDisplay(from.DisplayName)
		}
		if n, err := NumberFromURI(from.Address); err == nil {
			if e, err := Normalize(profile, n); err == nil {
				c.Number = e
			}
		}
	}
	return c
}

// maxDisplay bounds a display name passed through.
const maxDisplay = 128

// cleanDisplay keeps a display name safe to put in a quoted string: no
// quotes, backslashes or control characters, and not too long.
func cleanDisplay(s string) string {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			continue
		}
		if b.Len() >= maxDisplay {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
