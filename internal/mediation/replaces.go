package mediation

import (
	"errors"
	"fmt"
	"strings"
)

// ErrReplacesSyntax reports a Replaces header field value that does not
// follow RFC 3891 §6.1.
var ErrReplacesSyntax = errors.New("mediation: malformed Replaces header field")

// maxReplacesLen bounds the value we parse: a Call-ID and two tags are far
// shorter, and a bound keeps a hostile value from costing anything.
const maxReplacesLen = 1024

// replaces is a Replaces header field value (RFC 3891 §6.1):
//
//	Replaces       = "Replaces" HCOLON callid *(SEMI replaces-param)
//	replaces-param = to-tag / from-tag / early-flag / generic-param
//	to-tag         = "to-tag" EQUAL token
//	from-tag       = "from-tag" EQUAL token
//	early-flag     = "early-only"
//
// toTag names the recipient's local tag and fromTag its remote tag
// (RFC 3891 §3: the tags are matched "as if they were tags present in an
// incoming request").
type replaces struct {
	callID, toTag, fromTag string
	earlyOnly              bool
}

// String formats the value as RFC 3891 §6.1 writes it.
func (r replaces) String() string {
	s := r.callID + ";to-tag=" + r.toTag + ";from-tag=" + r.fromTag
	if r.earlyOnly {
		s += ";early-only"
	}
	return s
}

// parseReplaces reads a Replaces header field value. RFC 3891 §6.1
// requires exactly one to-tag and one from-tag; other parameters are
// generic-params, which are ignored.
func parseReplaces(v string) (replaces, error) {
	var r replaces
	if len(v) > maxReplacesLen {
		return r, fmt.Errorf("%w: longer than %d bytes", ErrReplacesSyntax, maxReplacesLen)
	}
	rest := strings.TrimSpace(v)
	callID, rest, more := strings.Cut(rest, ";")
	callID = strings.TrimSpace(callID)
	if !isCallID(callID) {
		return r, fmt.Errorf("%w: Call-ID %.40q", ErrReplacesSyntax, callID)
	}
	r.callID = callID
	var haveTo, haveFrom bool
	for more {
		var param string
		var err error
		if param, rest, more, err = nextParam(rest); err != nil {
			return replaces{}, err
		}
		name, value, hasValue := strings.Cut(param, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !isToken(name) {
			return replaces{}, fmt.Errorf("%w: parameter %.40q", ErrReplacesSyntax, param)
		}
		switch strings.ToLower(name) {
		case "to-tag", "from-tag":
			seen := &haveTo
			dst := &r.toTag
			if strings.EqualFold(name, "from-tag") {
				seen, dst = &haveFrom, &r.fromTag
			}
			if *seen {
				return replaces{}, fmt.Errorf("%w: more than one %s", ErrReplacesSyntax, strings.ToLower(name))
			}
			if !hasValue || !isToken(value) {
				return replaces{}, fmt.Errorf("%w: %s must be a token", ErrReplacesSyntax, strings.ToLower(name))
			}
			*seen, *dst = true, value
		case "early-only":
			if hasValue || r.earlyOnly {
				return replaces{}, fmt.Errorf("%w: early-only is a flag, once", ErrReplacesSyntax)
			}
			r.earlyOnly = true
		default:
			if hasValue && !isGenValue(value) {
				return replaces{}, fmt.Errorf("%w: parameter %.40q", ErrReplacesSyntax, param)
			}
		}
	}
	if !haveTo || !haveFrom {
		return replaces{}, fmt.Errorf("%w: to-tag and from-tag are both required (RFC 3891 §6.1)", ErrReplacesSyntax)
	}
	return r, nil
}

// nextParam splits the next parameter off s, which follows a ";": up to
// the next ";" that is not inside a quoted-string (RFC 3261 §25.1); more
// says another parameter follows.
func nextParam(s string) (param, rest string, more bool, err error) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // quoted-pair
		case c == '"':
			quoted = !quoted
		case !quoted && c == ';':
			if strings.TrimSpace(s[:i]) == "" {
				return "", "", false, fmt.Errorf("%w: empty parameter", ErrReplacesSyntax)
			}
			return s[:i], s[i+1:], true, nil
		}
	}
	if quoted {
		return "", "", false, fmt.Errorf("%w: unterminated quoted-string", ErrReplacesSyntax)
	}
	if strings.TrimSpace(s) == "" {
		return "", "", false, fmt.Errorf("%w: empty parameter", ErrReplacesSyntax)
	}
	return s, "", false, nil
}

// isTokenChar reports an RFC 3261 §25.1 token character.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0
}

// isToken reports an RFC 3261 §25.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isWordChar reports an RFC 3261 §25.1 word character, of which Call-IDs
// are made.
func isWordChar(c byte) bool {
	return isTokenChar(c) || strings.IndexByte("()<>:\\\"/[]?{}", c) >= 0
}

// isCallID reports an RFC 3261 §25.1 callid: word [ "@" word ].
func isCallID(s string) bool {
	local, host, found := strings.Cut(s, "@")
	if !isWord(local) {
		return false
	}
	return !found || isWord(host)
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isWordChar(s[i]) {
			return false
		}
	}
	return true
}

// isGenValue reports an RFC 3261 §25.1 gen-value: a token, a host
// (including a bracketed IPv6 reference) or a quoted-string, which
// nextParam has already checked for termination.
func isGenValue(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return true
	}
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isTokenChar(c) && c != ':' && c != '[' && c != ']' {
			return false
		}
	}
	return true
}
