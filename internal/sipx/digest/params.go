package digest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed reports an Authorization or Proxy-Authorization header whose
// Digest credentials cannot be parsed.
var ErrMalformed = errors.New("digest: malformed credentials")

// maxHeaderLen bounds the credentials we are willing to parse: a real
// Digest header is a few hundred bytes, and anything far longer is either
// broken or an attempt to make us work.
const maxHeaderLen = 4096

// credentials are the parameters of a Digest Authorization header
// (RFC 3261 §25.1 "digest-response", RFC 7616 §3.4). Values are unquoted.
type credentials struct {
	username  string
	realm     string
	nonce     string
	uri       string
	response  string
	algorithm string
	cnonce    string
	qop       string
	nc        string
	hasURI    bool
}

// isDigest reports whether a header value uses the Digest scheme, so that
// credentials of other schemes (NTLM, Kerberos, TLS-DSK from Microsoft
// clients, RFC 3261 §22.4) are skipped rather than reported as malformed.
func isDigest(v string) bool {
	v = strings.TrimLeft(v, " \t")
	if len(v) < len("Digest")+1 || !strings.EqualFold(v[:len("Digest")], "Digest") {
		return false
	}
	c := v[len("Digest")]
	return c == ' ' || c == '\t'
}

// parseCredentials parses a Digest credentials header value:
//
//	Digest username="alice", realm="parley.test", nc=00000001, ...
//
// Parameter names are case-insensitive (RFC 3261 §25.1 token), values are a
// token or a quoted-string with backslash escapes, separated by commas with
// optional linear white space. A repeated parameter is an error, because two
// different values for, say, the nonce cannot both be honoured. Unknown
// parameters are ignored (RFC 3261 §25.1 "auth-param").
func parseCredentials(v string) (credentials, error) {
	var c credentials
	if len(v) > maxHeaderLen {
		return c, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeaderLen)
	}
	if !isDigest(v) {
		return c, fmt.Errorf("%w: not the Digest scheme", ErrMalformed)
	}
	s := strings.TrimLeft(v, " \t")[len("Digest"):]
	seen := make(map[string]bool, 10)
	for first := true; ; first = false {
		s = skipLWS(s)
		if s == "" {
			break
		}
		if !first {
			if s[0] != ',' {
				return c, fmt.Errorf("%w: expected ',' at %q", ErrMalformed, clip(s))
			}
			s = skipLWS(s[1:])
			if s == "" {
				return c, fmt.Errorf("%w: trailing ','", ErrMalformed)
			}
		}
		name, rest := cutToken(s)
		if name == "" {
			return c, fmt.Errorf("%w: expected a parameter name at %q", ErrMalformed, clip(s))
		}
		rest = skipLWS(rest)
		if rest == "" || rest[0] != '=' {
			return c, fmt.Errorf("%w: parameter %q has no value", ErrMalformed, clip(name))
		}
		rest = skipLWS(rest[1:])
		var value string
		var err error
		if rest != "" && rest[0] == '"' {
			value, rest, err = cutQuoted(rest)
			if err != nil {
				return c, err
			}
		} else {
			value, rest = cutToken(rest)
			if value == "" {
				return c, fmt.Errorf("%w: parameter %q has an empty value", ErrMalformed, clip(name))
			}
		}
		name = strings.ToLower(name)
		if seen[name] {
			return c, fmt.Errorf("%w: parameter %q appears twice", ErrMalformed, name)
		}
		seen[name] = true
		switch name {
		case "username":
			c.username = value
		case "realm":
			c.realm = value
		case "nonce":
			c.nonce = value
		case "uri":
			c.uri, c.hasURI = value, true
		case "response":
			c.response = value
		case "algorithm":
			c.algorithm = value
		case "cnonce":
			c.cnonce = value
		case "qop":
			c.qop = value
		case "nc":
			c.nc = value
		}
		s = rest
	}
	return c, nil
}

func skipLWS(s string) string { return strings.TrimLeft(s, " \t\r\n") }

// isTokenChar reports whether c may appear in an RFC 3261 §25.1 token.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func cutToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// cutQuoted reads a quoted-string (RFC 3261 §25.1) at the start of s and
// returns its unescaped content.
func cutQuoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("%w: unterminated escape", ErrMalformed)
			}
			i++
			b.WriteByte(s[i])
		case '\r', '\n', 0:
			return "", "", fmt.Errorf("%w: control character in a quoted string", ErrMalformed)
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", ErrMalformed)
}

// clip shortens attacker-controlled text before it goes into an error.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// quote renders s as an RFC 3261 §25.1 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
