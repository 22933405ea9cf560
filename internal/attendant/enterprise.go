package attendant

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Enterprise phones (seed 001, end): "Office Communicator Phone Edition
// device users can also be used to dial into meetings, and since they have
// already authenticated, they only need enter the Conference ID and they
// are never placed on hold." Parley's front end digest-authenticates a
// registered user's phone that calls an access number, asserts who he is
// in P-Asserted-Identity (RFC 3325 §9.1) and signs the INVITE as a trusted
// service; the attendant believes the assertion only from such a service,
// the trust domain of RFC 3325 §4.

// DefaultEnterpriseService is the service that relays enterprise phones'
// calls: the front end's proxy.
const DefaultEnterpriseService = "frontend"

// maxAssertedIdentities bounds the P-Asserted-Identity values a request
// may carry: RFC 3325 §9.1 allows one SIP or SIPS URI and one tel URI.
const maxAssertedIdentities = 2

// maxAssertedLen bounds one P-Asserted-Identity header value; an identity
// is a name and a URI, never kilobytes.
const maxAssertedLen = 1024

// Errors of assertedUser; a 403 carries them as its reason.
var (
	errNoAssertion    = errors.New("no P-Asserted-Identity")
	errBadAssertion   = errors.New("malformed P-Asserted-Identity")
	errNoSIPAssertion = errors.New("P-Asserted-Identity names no SIP user")
)

// assertedUser returns the enterprise user a trusted service asserted
// (RFC 3325 §9.1): the SIP or SIPS URI among the P-Asserted-Identity
// values, reduced to its address of record, with the display name. A tel
// URI may accompany it (the user's number) but does not name a user.
func assertedUser(req *sip.Request) (User, error) {
	var values []string
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		v := h.Value()
		if len(v) > maxAssertedLen {
			return User{}, fmt.Errorf("%w: longer than %d bytes", errBadAssertion, maxAssertedLen)
		}
		parts, err := splitAddresses(v)
		if err != nil {
			return User{}, fmt.Errorf("%w: %w", errBadAssertion, err)
		}
		values = append(values, parts...)
	}
	switch {
	case len(values) == 0:
		return User{}, errNoAssertion
	case len(values) > maxAssertedIdentities:
		return User{}, fmt.Errorf("%w: %d identities, at most %d", errBadAssertion, len(values), maxAssertedIdentities)
	}
	var user User
	for _, v := range values {
		var u sip.Uri
		name, err := sip.ParseAddressValue(v, &u, nil)
		if err != nil {
			return User{}, fmt.Errorf("%w: %q: %w", errBadAssertion, v, err)
		}
		switch strings.ToLower(u.Scheme) {
		case "tel":
			continue
		case "sip", "sips":
		default:
			return User{}, fmt.Errorf("%w: scheme %q", errBadAssertion, u.Scheme)
		}
		if user.URI != "" {
			// Two SIP identities: which one is the caller?
			return User{}, fmt.Errorf("%w: more than one SIP identity", errBadAssertion)
		}
		if u.User == "" || u.Host == "" {
			return User{}, fmt.Errorf("%w: %q has no user", errNoSIPAssertion, v)
		}
		// The address of record: parameters (user=phone, gr...), port and
		// headers name a contact or a route, not the user.
		user.URI = strings.ToLower(u.Scheme) + ":" + u.User + "@" + strings.ToLower(u.Host)
		user.DisplayName = unquote(name)
	}
	if user.URI == "" {
		return User{}, errNoSIPAssertion
	}
	return user, nil
}

// splitAddresses splits a header value into its comma-separated
// name-addr or addr-spec values (RFC 3261 §7.3.1), leaving commas inside
// a quoted display name or between angle brackets alone.
func splitAddresses(v string) ([]string, error) {
	var out []string
	quoted, escaped, angle := false, false, false
	start := 0
	for i := range len(v) {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case quoted:
			switch c {
			case '\\':
				escaped = true
			case '"':
				quoted = false
			}
		case angle:
			if c == '>' {
				angle = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == ',':
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if quoted || angle {
		return nil, errors.New("unterminated quote or angle bracket")
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out, nil
}

// unquote undoes the quoted-pairs of a display name (RFC 3261 §25.1:
// quoted-pair = "\" followed by the character it stands for); sipgo
// returns a quoted name as it stood between the quotes.
func unquote(name string) string {
	if !strings.Contains(name, `\`) {
		return strings.TrimSpace(name)
	}
	var b strings.Builder
	escaped := false
	for i := range len(name) {
		c := name[i]
		if c == '\\' && !escaped {
			escaped = true
			continue
		}
		escaped = false
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}
