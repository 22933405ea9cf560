// Package trust signs and checks the SIP requests that Parley's trusted
// services (the Conferencing Attendant, the Conference Announcement
// Service) send to the front end's privileged operations.
//
// OCS 2007 R2 trusts a service by its mutually authenticated TLS connection
// from a host and port listed as a trusted service (seed 000). Parley's
// services run in the same deployment and share the organization key, so a
// request carries a keyed MAC instead, in the Parley-Trust header:
//
//	Parley-Trust: service=CAA;host=pool.example.com;ts=1795290186;sig=BASE64
//
// The MAC (HMAC-SHA256 under a key derived for this use) covers the method,
// Request-URI, Call-ID, CSeq, From tag, Replaces and P-Asserted-Identity
// (when present), the
// service and host, the time and a SHA-256 of the body, so that a signature cannot be moved to another
// request or body; ts bounds replay to MaxSkew. The receiver still checks
// that service and host name a trusted service of the pool.
package trust

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Header is the name of the header that carries the signature.
const Header = "Parley-Trust"

// MaxSkew is how far a signature's time may be from the receiver's clock.
const MaxSkew = 30 * time.Second

// Errors returned by Verify.
var (
	ErrMissing = errors.New("trust: no Parley-Trust header")
	ErrSyntax  = errors.New("trust: malformed Parley-Trust header")
	ErrExpired = errors.New("trust: signature too old or from the future")
	ErrBadMAC  = errors.New("trust: signature does not match")
)

// Signer signs a service's requests.
type Signer struct {
	// Key is the shared key (at least 16 bytes).
	Key []byte
	// Service is the trusted service type (directory.ServiceAttendant...),
	// Host its FQDN.
	Service, Host string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sign adds the Parley-Trust header to req, replacing any. Call it after
// the body and every covered header are final.
func (s Signer) Sign(req *sip.Request) error {
	if len(s.Key) < 16 {
		return errors.New("trust: key shorter than 16 bytes")
	}
	if !token(s.Service) || !token(s.Host) {
		return fmt.Errorf("trust: service %q and host %q must be tokens", s.Service, s.Host)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	sig := mac(s.Key, req, s.Service, s.Host, ts)
	req.RemoveHeader(Header)
	req.AppendHeader(sip.NewHeader(Header, "service="+s.Service+";host="+s.Host+";ts="+ts+";sig="+sig))
	return nil
}

// Verify checks req's signature at time now and returns who signed it.
func Verify(key []byte, req *sip.Request, now time.Time) (service, host string, err error) {
	h := req.GetHeaders(Header)
	if len(h) == 0 {
		return "", "", ErrMissing
	}
	if len(h) > 1 {
		return "", "", fmt.Errorf("%w: %d headers", ErrSyntax, len(h))
	}
	service, host, ts, sig, err := parse(h[0].Value(), now)
	if err != nil {
		return "", "", err
	}
	want := mac(key, req, service, host, ts)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return "", "", ErrBadMAC
	}
	return service, host, nil
}

// mac computes the signature of req by service at host and time ts.
func mac(key []byte, req *sip.Request, service, host, ts string) string {
	var callID, cseq, tag string
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	if h := req.CSeq(); h != nil {
		cseq = h.Value()
	}
	if f := req.From(); f != nil {
		tag, _ = f.Params.Get("tag")
	}
	fields := []string{string(req.Method), req.Recipient.String(), callID, cseq, tag, service, host, ts}
	// A Replaces header (RFC 3891) says which dialog the request takes
	// over: covered too, so that a signed hand-off cannot be pointed at
	// another call. Absent, the fields are as before.
	if hs := req.GetHeaders("Replaces"); len(hs) > 0 {
		vs := make([]string, len(hs))
		for i, h := range hs {
			vs[i] = h.Value()
		}
		fields = append(fields, "Replaces", strings.Join(vs, "\x01"))
	}
	// P-Asserted-Identity (RFC 3325 §9.1) is the identity the front end
	// vouches for: covered, so that nobody on the path can swap it.
	if hs := req.GetHeaders("P-Asserted-Identity"); len(hs) > 0 {
		vs := make([]string, len(hs))
		for i, h := range hs {
			vs[i] = h.Value()
		}
		fields = append(fields, "P-Asserted-Identity", strings.Join(vs, "\x01"))
	}
	return macFields(key, req.Body(), fields...)
}

// derive separates this use of the shared key from its others.
func derive(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("parley trusted service v1"))
	return m.Sum(nil)
}

// token reports whether s can stand in the header unquoted.
func token(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar(s[i]) {
			return false
		}
	}
	return true
}

// tokenChar reports whether c may appear in a service or host name.
func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c == '.' || c == '-' || c == '_' || c == ':'
}

// SignHTTP returns the Parley-Trust header value for an HTTP request
// between roles (the Focus commanding an MCU, the Conferencing Server
// Factory polling one): the signature covers the method, the request URI
// (path and query) and the body. The package stays free of net/http; the
// caller sets the header.
func (s Signer) SignHTTP(method, requestURI string, body []byte) (string, error) {
	if len(s.Key) < 16 {
		return "", errors.New("trust: key shorter than 16 bytes")
	}
	if !token(s.Service) || !token(s.Host) {
		return "", fmt.Errorf("trust: service %q and host %q must be tokens", s.Service, s.Host)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	sig := macFields(s.Key, body, method, requestURI, s.Service, s.Host, ts)
	return "service=" + s.Service + ";host=" + s.Host + ";ts=" + ts + ";sig=" + sig, nil
}

// VerifyHTTP checks the Parley-Trust header values of an HTTP request
// (all of them: more than one is an error) at time now.
func VerifyHTTP(key []byte, values []string, method, requestURI string, body []byte, now time.Time) (service, host string, err error) {
	if len(values) == 0 {
		return "", "", ErrMissing
	}
	if len(values) > 1 {
		return "", "", fmt.Errorf("%w: %d headers", ErrSyntax, len(values))
	}
	service, host, ts, sig, err := parse(values[0], now)
	if err != nil {
		return "", "", err
	}
	want := macFields(key, body, method, requestURI, service, host, ts)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return "", "", ErrBadMAC
	}
	return service, host, nil
}

// parse reads a Parley-Trust value and checks its time.
func parse(v string, now time.Time) (service, host, ts, sig string, err error) {
	for part := range strings.SplitSeq(v, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", "", "", "", fmt.Errorf("%w: %q", ErrSyntax, part)
		}
		switch name {
		case "service":
			service = value
		case "host":
			host = value
		case "ts":
			ts = value
		case "sig":
			sig = value
		default:
			return "", "", "", "", fmt.Errorf("%w: unknown parameter %q", ErrSyntax, name)
		}
	}
	if !token(service) || !token(host) || ts == "" || sig == "" {
		return "", "", "", "", fmt.Errorf("%w: service, host, ts and sig are required", ErrSyntax)
	}
	t, perr := strconv.ParseInt(ts, 10, 64)
	if perr != nil {
		return "", "", "", "", fmt.Errorf("%w: ts %q", ErrSyntax, ts)
	}
	if d := now.Sub(time.Unix(t, 0)); d > MaxSkew || d < -MaxSkew {
		return "", "", "", "", ErrExpired
	}
	return service, host, ts, sig, nil
}

// macFields is the MAC of fields and a body digest.
func macFields(key, body []byte, fields ...string) string {
	m := hmac.New(sha256.New, derive(key))
	digest := sha256.Sum256(body)
	for _, s := range fields {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	m.Write(digest[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
