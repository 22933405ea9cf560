package avmcu

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// ErrDialOut reports a dial-out the MCU refuses to make: a target URI
// that is not a SIP URI, does not parse, or embeds a header the MCU will
// not send. addUser fails with requestMalformed.
var ErrDialOut = errors.New("avmcu: dial-out")

// Bounds of a dial-out target.
const (
	maxDialURI     = 2048
	maxDialHeaders = 8
)

// dialTarget is where a dial-out goes: the Request-URI and the headers
// the URI carried (RFC 3261 §19.1.5).
type dialTarget struct {
	uri       sip.Uri // without headers
	transport string  // "UDP", "TCP" or "TLS"
	// headers are the embedded headers allowed, in order.
	headers []sip.Header
	// supported are the option tags of the INVITE's Supported header:
	// replaces, and any the URI adds.
	supported []string
}

// dialHeaders are the headers a target URI may embed, by lower-case name.
// The others are refused rather than dropped: whoever built the URI meant
// them, and the dialog-forming and routing ones (Via, From, To, Call-ID,
// CSeq, Route, Contact, Content-*) and the body are the MCU's to write.
var dialHeaders = map[string]string{
	"replaces":  "Replaces",  // RFC 3891: what the far end is to drop
	"require":   "Require",   // e.g. Require: replaces (RFC 3891 §3)
	"supported": "Supported", // merged into the MCU's own
}

// parseDialTarget parses a dial-out URI: a sip: or sips: URI, perhaps with
// embedded headers, e.g.
// sip:mediation@192.0.2.1:5068;transport=tcp?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2.
// Errors wrap ErrDialOut.
func parseDialTarget(raw string) (dialTarget, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > maxDialURI {
		return dialTarget{}, fmt.Errorf("%w: URI longer than %d bytes", ErrDialOut, maxDialURI)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '<' || r == '>' }); i >= 0 {
		return dialTarget{}, fmt.Errorf("%w: URI %.80q has a space, control character or angle bracket", ErrDialOut, raw)
	}
	scheme, rest, _ := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	if scheme != "sip" && scheme != "sips" {
		return dialTarget{}, fmt.Errorf("%w: %.80q is not a sip: or sips: URI", ErrDialOut, raw)
	}
	// "@" may appear unescaped only before the host (RFC 3261 §25.1), and
	// "?" only in the user part, where no Parley address has one: refusing
	// both there leaves no doubt about which host is called or where the
	// headers begin.
	if strings.Count(rest, "@") > 1 {
		return dialTarget{}, fmt.Errorf("%w: %.80q has an unescaped @ after the host", ErrDialOut, raw)
	}
	base, headers, _ := strings.Cut(raw, "?")
	if at := strings.IndexByte(base, '@'); at < 0 && strings.Contains(rest, "@") {
		return dialTarget{}, fmt.Errorf("%w: %.80q has an unescaped @ in its headers", ErrDialOut, raw)
	}
	var t dialTarget
	if err := sip.ParseUri(base, &t.uri); err != nil {
		return dialTarget{}, fmt.Errorf("%w: %.80q: %w", ErrDialOut, base, err)
	}
	if t.uri.Host == "" {
		return dialTarget{}, fmt.Errorf("%w: %.80q has no host", ErrDialOut, base)
	}
	if t.uri.Port < 0 || t.uri.Port > 65535 {
		return dialTarget{}, fmt.Errorf("%w: %.80q has port %d", ErrDialOut, base, t.uri.Port)
	}
	if method, ok := t.uri.UriParams.Get("method"); ok && !strings.EqualFold(method, "INVITE") {
		return dialTarget{}, fmt.Errorf("%w: method=%.20q: a dial-out is an INVITE", ErrDialOut, method)
	}
	var err error
	if t.transport, err = transportOf(&t.uri); err != nil {
		return dialTarget{}, err
	}
	t.supported = []string{"replaces"}
	if headers != "" {
		if err := t.addHeaders(headers); err != nil {
			return dialTarget{}, err
		}
	}
	return t, nil
}

// transportOf is the transport the URI asks for (RFC 3263 §4.1 without
// DNS: the transport parameter, else TLS for sips and UDP for sip).
func transportOf(u *sip.Uri) (string, error) {
	tp, ok := u.UriParams.Get("transport")
	if !ok {
		for _, kv := range u.UriParams {
			if strings.EqualFold(kv.K, "transport") {
				tp, ok = kv.V, true
			}
		}
	}
	tp = strings.ToUpper(tp)
	switch {
	case !ok && u.Scheme == "sips":
		return "TLS", nil
	case !ok:
		return "UDP", nil
	case u.Scheme == "sips" && (tp == "TCP" || tp == "TLS"):
		return "TLS", nil // RFC 3261 §26.2.2: sips means TLS
	case u.Scheme == "sip" && (tp == "UDP" || tp == "TCP" || tp == "TLS"):
		return tp, nil
	}
	return "", fmt.Errorf("%w: transport %.20q is not usable with a %s URI", ErrDialOut, tp, u.Scheme)
}

// addHeaders reads the headers part of a URI: hname=hvalue pairs joined by
// "&", percent-encoded (RFC 3261 §19.1.1, §25.1).
func (t *dialTarget) addHeaders(s string) error {
	pairs := strings.Split(s, "&")
	if len(pairs) > maxDialHeaders {
		return fmt.Errorf("%w: more than %d embedded headers", ErrDialOut, maxDialHeaders)
	}
	replaces := false
	for _, pair := range pairs {
		rawName, rawValue, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("%w: embedded header %.40q has no value", ErrDialOut, pair)
		}
		name, err1 := url.PathUnescape(rawName)
		value, err2 := url.PathUnescape(rawValue)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("%w: embedded header %.40q: %w", ErrDialOut, pair, err)
		}
		canonical, ok := dialHeaders[strings.ToLower(name)]
		if !ok {
			return fmt.Errorf("%w: embedded header %.40q is not allowed", ErrDialOut, name)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: embedded %s has a control character", ErrDialOut, canonical)
		}
		value = strings.TrimSpace(value)
		switch canonical {
		case "Replaces":
			if replaces {
				// RFC 3891 §3: a UAS rejects more than one.
				return fmt.Errorf("%w: more than one embedded Replaces", ErrDialOut)
			}
			replaces = true
			if err := checkReplaces(value); err != nil {
				return err
			}
			t.headers = append(t.headers, sip.NewHeader(canonical, value))
		case "Require":
			tags, err := optionTags(value)
			if err != nil {
				return err
			}
			t.headers = append(t.headers, sip.NewHeader(canonical, strings.Join(tags, ", ")))
		case "Supported":
			tags, err := optionTags(value)
			if err != nil {
				return err
			}
			for _, tag := range tags {
				if !slices.ContainsFunc(t.supported, func(s string) bool { return strings.EqualFold(s, tag) }) {
					t.supported = append(t.supported, tag)
				}
			}
		}
	}
	return nil
}

// checkReplaces checks a Replaces value (RFC 3891 §6.1): a Call-ID, then
// exactly one to-tag and one from-tag, perhaps early-only and other
// parameters.
func checkReplaces(v string) error {
	callID, params, _ := strings.Cut(v, ";")
	if !isCallID(strings.TrimSpace(callID)) {
		return fmt.Errorf("%w: Replaces %.80q has no valid Call-ID", ErrDialOut, v)
	}
	var to, from int
	for p := range strings.SplitSeq(params, ";") {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !isToken(name) || (hasValue && !isToken(value)) {
			return fmt.Errorf("%w: Replaces %.80q has a malformed parameter", ErrDialOut, v)
		}
		switch strings.ToLower(name) {
		case "to-tag":
			to++
		case "from-tag":
			from++
		}
	}
	if to != 1 || from != 1 {
		return fmt.Errorf("%w: Replaces %.80q needs one to-tag and one from-tag", ErrDialOut, v)
	}
	return nil
}

// optionTags splits a Require or Supported value into option tags.
func optionTags(v string) ([]string, error) {
	var tags []string
	for tag := range strings.SplitSeq(v, ",") {
		tag = strings.TrimSpace(tag)
		if !isToken(tag) {
			return nil, fmt.Errorf("%w: option tag %.40q", ErrDialOut, tag)
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// isToken reports whether s is an RFC 3261 §25.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("-.!%*_+`'~", rune(c)) {
			return false
		}
	}
	return true
}

// isCallID reports whether s is an RFC 3261 §25.1 callid: word ["@" word].
func isCallID(s string) bool {
	w1, w2, two := strings.Cut(s, "@")
	return isWord(w1) && (!two || isWord(w2))
}

// isWord reports whether s is an RFC 3261 §25.1 word.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("-.!%*_+`'~()<>:\\\"/[]?{}", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
