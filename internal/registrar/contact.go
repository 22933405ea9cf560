package registrar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// errBadContact reports a Contact the registrar refuses with 400.
var errBadContact = errors.New("registrar: bad contact")

// maxInstanceLen bounds a +sip.instance value; a urn:uuid is 45 bytes.
const maxInstanceLen = 256

// contactReq is one Contact of a REGISTER, parsed and validated.
type contactReq struct {
	uri      sip.Uri
	instance string        // +sip.instance without quotes and angle brackets
	expires  time.Duration // requested, before clamping; 0 removes
	q        float64
	hasQ     bool
}

// param returns a header parameter by case-insensitive name (RFC 3261
// §7.3.1: parameter names are case-insensitive).
func param(ps sip.HeaderParams, name string) (string, bool) {
	for _, kv := range ps {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// parseContact validates one Contact header field value of a REGISTER.
// def is the expiry for a contact without an expires parameter (from the
// Expires header or the registrar's default).
func parseContact(h *sip.ContactHeader, def time.Duration) (contactReq, error) {
	c := contactReq{q: 1}
	scheme := strings.ToLower(h.Address.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return c, fmt.Errorf("%w: only sip: and sips: contacts can be registered", errBadContact)
	}
	if h.Address.Host == "" {
		return c, fmt.Errorf("%w: contact has no host", errBadContact)
	}
	c.uri = cloneURI(h.Address)
	c.uri.Scheme = "sip" // a constant: not a piece of the request kept alive
	if scheme == "sips" {
		c.uri.Scheme = "sips"
	}

	c.expires = def
	if v, ok := param(h.Params, "expires"); ok {
		c.expires = parseDelta(v, def)
	}
	if v, ok := param(h.Params, "q"); ok {
		q, err := strconv.ParseFloat(v, 64)
		// RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
		if err != nil || q < 0 || q > 1 || len(v) > 5 {
			return c, fmt.Errorf("%w: q=%q is not a qvalue between 0 and 1", errBadContact, clip(v))
		}
		c.q, c.hasQ = q, true
	}
	if v, ok := param(h.Params, "+sip.instance"); ok {
		inst, err := parseInstance(v)
		if err != nil {
			return c, err
		}
		c.instance = strings.Clone(inst)
	}
	return c, nil
}

// parseInstance unwraps a +sip.instance value, "<urn:uuid:...>" in quotes
// (RFC 5626 §4.1). The value is echoed in responses and used in GRUUs, so
// anything that could break out of a quoted string or a header is refused.
func parseInstance(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > maxInstanceLen {
		return "", fmt.Errorf("%w: +sip.instance must hold 1 to %d characters", errBadContact, maxInstanceLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' {
			return "", fmt.Errorf("%w: +sip.instance contains a forbidden character", errBadContact)
		}
	}
	return v, nil
}

// parseDelta parses delta-seconds. RFC 3261 §20.19: a malformed value is
// treated as the default (3600 by default), and values beyond 2^32-1 as
// 2^32-1.
func parseDelta(v string, def time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return def
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		n = math.MaxUint32
	}
	return time.Duration(n) * time.Second
}

// cloneURI deep-copies u, except its scheme, which the caller sets, so that
// a binding does not keep the request's buffers alive.
func cloneURI(u sip.Uri) sip.Uri {
	c := sip.Uri{
		User:     strings.Clone(u.User),
		Password: strings.Clone(u.Password),
		Host:     strings.Clone(u.Host),
		Port:     u.Port,
	}
	if len(u.UriParams) > 0 {
		c.UriParams = make(sip.HeaderParams, len(u.UriParams))
		for i, kv := range u.UriParams {
			c.UriParams[i] = sip.HeaderKV{K: strings.Clone(kv.K), V: strings.Clone(kv.V)}
		}
	}
	if len(u.Headers) > 0 {
		c.Headers = make(sip.HeaderParams, len(u.Headers))
		for i, kv := range u.Headers {
			c.Headers[i] = sip.HeaderKV{K: strings.Clone(kv.K), V: strings.Clone(kv.V)}
		}
	}
	return c
}

// appendURIKey appends the identity of a contact URI for RFC 3261 §10.3
// step 7 ("the registrar checks whether the binding exists, using the URI
// comparison rules of §19.1.4"). It follows §19.1.4 closely: scheme and
// host are case-insensitive, the user part is case-sensitive, an explicit
// port differs from none, and the user, ttl, method, maddr and transport
// parameters must match when present; other parameters (such as SIPE's
// ms-opaque) do not change the identity.
func appendURIKey(b []byte, u sip.Uri) []byte {
	b = appendLower(b, u.Scheme)
	b = append(b, ':')
	b = append(b, u.User...)
	b = append(b, '@')
	b = appendLower(b, u.Host)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(u.Port), 10)
	for _, name := range [...]string{"transport", "user", "ttl", "method", "maddr"} {
		if v, ok := param(u.UriParams, name); ok {
			b = append(b, ';')
			b = append(b, name...)
			b = append(b, '=')
			b = appendLower(b, v)
		}
	}
	return b
}

// appendLower appends s in ASCII lower case.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// bindingKey identifies a binding within its AOR. A contact with a
// +sip.instance is identified by the instance, so a client that reconnects
// from a new address or port replaces its old binding instead of adding a
// second one; [MS-SIPREGE] §3.1.2.5.1 has the registrar find the endpoint
// by its instance the same way, and RFC 5627 §3.1 ties the GRUU to it.
func bindingKey(instance string, uri sip.Uri) string {
	b := make([]byte, 0, 2+max(len(instance), 64))
	if instance != "" {
		return string(appendLower(append(b, "i:"...), instance))
	}
	return string(appendURIKey(append(b, "u:"...), uri))
}

// clip shortens client text before it goes into a Warning.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
