// Package digest is the server side of SIP digest authentication (RFC 3261
// §22, RFC 7616, RFC 8760): it challenges requests with 401 or 407, checks
// the credentials that come back against the user's stored HA1, and slows
// down password guessing.
//
// Nonces are stateless (an HMAC-signed issue time), so challenging costs no
// memory; the nonces that were used are remembered in a bounded table to
// enforce the nonce-count. MD5 is offered by default and SHA-256 on request
// (Config.Algorithms): RFC 8760 §2.4 would have SHA-256 first, but widely
// deployed clients (libre-based baresip 1.0, SIPp 3.6) abandon the request
// when any SHA-256 challenge is present. Answers in either algorithm are
// verified, whatever was offered. Clients that answer without qop (RFC 2069 style) are
// accepted once per nonce.
//
// It is a protocol package: it knows nothing of users beyond the
// Credentials interface, and never logs passwords, HA1s or responses.
package digest

import (
	"context"
	"crypto/md5" //nolint:gosec // RFC 3261 §22.4 digest requires MD5
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Kind selects the challenge a request gets and the header it answers in.
type Kind int

const (
	// WWW is user-agent server authentication (RFC 3261 §22.2): 401 with
	// WWW-Authenticate, answered in Authorization.
	WWW Kind = iota
	// Proxy is proxy authentication (RFC 3261 §22.3): 407 with
	// Proxy-Authenticate, answered in Proxy-Authorization.
	Proxy
)

// String returns "www" or "proxy", for logs.
func (k Kind) String() string {
	if k == Proxy {
		return "proxy"
	}
	return "www"
}

func (k Kind) challengeHeader() string {
	if k == Proxy {
		return "Proxy-Authenticate"
	}
	return "WWW-Authenticate"
}

// CredentialsHeader returns the name of the request header that carries
// credentials of this kind.
func (k Kind) CredentialsHeader() string {
	if k == Proxy {
		return "Proxy-Authorization"
	}
	return "Authorization"
}

func (k Kind) status() (int, string) {
	if k == Proxy {
		return sip.StatusProxyAuthRequired, "Proxy Authentication Required"
	}
	return sip.StatusUnauthorized, "Unauthorized"
}

// Algorithms offered, in order of preference.
const (
	SHA256 = "SHA-256"
	MD5    = "MD5"
)

// ErrUnknownUser is returned by a Credentials implementation for a username
// it does not know.
var ErrUnknownUser = errors.New("digest: unknown user")

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("digest: invalid configuration")

// Credentials looks up a user's HA1, H(username ":" realm ":" password) in
// lower-case hex, for the realm and algorithm ("MD5" or "SHA-256"). It
// returns ErrUnknownUser when the user does not exist or has no credential.
type Credentials interface {
	HA1(ctx context.Context, username, realm, algorithm string) (string, error)
}

// Config configures an Authenticator.
type Config struct {
	// Realm is the digest realm, usually the primary SIP domain.
	Realm string
	// Secret keys the nonce HMAC; at least 16 bytes. Servers that share it
	// accept each other's nonces.
	Secret []byte
	// NonceTTL is how long a nonce stays valid; after that the client is
	// told stale=true and retries with a fresh one. Default 5 minutes.
	NonceTTL time.Duration
	// MaxFailures is how many failed attempts a user, and separately a
	// source address, may make within Window before being refused until
	// the window ends. Default 10.
	MaxFailures int
	// Window is the failure-counting window. Default 1 minute.
	Window time.Duration
	// MaxNonces bounds the table of used nonces (see nonceTable); default
	// 65536. Each record costs about 150 bytes.
	MaxNonces int
	// MaxTracked bounds each failure table (users, sources); default 65536.
	MaxTracked int
	// MatchFrom makes Authenticate also require the digest username to be
	// the user part of the From URI (answering 403 otherwise), so that a
	// user cannot send requests in another user's name. RFC 3261 §22.3
	// leaves this policy to the proxy; a registrar compares with the To
	// URI instead and leaves this off.
	MatchFrom bool
	// Algorithms are offered in the challenge, in order; default MD5 only
	// (see the package comment). Each must be MD5 or SHA-256.
	Algorithms []string
	// Hostname is the warn-agent of Warning headers; default "parley".
	Hostname string
	// Now returns the current time; default time.Now. Tests set it.
	Now func() time.Time
}

// Authenticator checks digest credentials. It is safe for concurrent use.
type Authenticator struct {
	cfg     Config
	creds   Credentials
	log     *slog.Logger
	minter  nonceMinter
	nonces  *nonceTable
	users   *throttle
	sources *throttle
}

// New returns an Authenticator. Zero Config fields take their defaults;
// Realm and a Secret of at least 16 bytes are required.
func New(cfg Config, creds Credentials, log *slog.Logger) (*Authenticator, error) {
	if cfg.Realm == "" || strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, fmt.Errorf("%w: realm %q must be non-empty and contain no quotes, backslashes or line breaks", ErrConfig, cfg.Realm)
	}
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("%w: the nonce secret must be at least 16 bytes", ErrConfig)
	}
	if creds == nil {
		return nil, fmt.Errorf("%w: no credentials source", ErrConfig)
	}
	if log == nil {
		return nil, fmt.Errorf("%w: no logger", ErrConfig)
	}
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = 5 * time.Minute
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 10
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.MaxNonces <= 0 {
		cfg.MaxNonces = 65536
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = 65536
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{MD5}
	}
	for i, alg := range cfg.Algorithms {
		canon, ok := algorithm(alg)
		if !ok || alg == "" {
			return nil, fmt.Errorf("%w: digest algorithm %q: want MD5 or SHA-256", ErrConfig, alg)
		}
		cfg.Algorithms[i] = canon
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "parley"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	return &Authenticator{
		cfg:     cfg,
		creds:   creds,
		log:     log,
		minter:  nonceMinter{secret: cfg.Secret, realm: cfg.Realm},
		nonces:  newNonceTable(cfg.MaxNonces, cfg.NonceTTL),
		users:   newThrottle(cfg.MaxFailures, cfg.Window, cfg.MaxTracked),
		sources: newThrottle(cfg.MaxFailures, cfg.Window, cfg.MaxTracked),
	}, nil
}

// Realm returns the realm the Authenticator challenges with.
func (a *Authenticator) Realm() string { return a.cfg.Realm }

// Authenticate checks req's credentials of kind. source is the address the
// request arrived from (an IP, or host:port whose host is used): failures are
// counted per source as well as per user.
//
// On success it returns the authenticated digest username and a nil
// response. Otherwise user is "" and reject is the final response to send:
//   - 401/407 with one challenge per algorithm (SHA-256 first, then MD5,
//     qop="auth") when credentials are missing, for another realm, wrong,
//     or of an unsupported algorithm; with stale=true when the digest was
//     right but the nonce was expired, not ours, or already used;
//   - 400 for Digest credentials that cannot be parsed or lack a field;
//   - 403 when the user is throttled, or with MatchFrom when the username
//     is not the From user;
//   - 503 with Retry-After when the source is throttled;
//   - 500 when the credential store fails.
//
// ACK and CANCEL cannot be challenged (RFC 3261 §22.1): callers pass them
// through without calling Authenticate.
func (a *Authenticator) Authenticate(ctx context.Context, req *sip.Request, kind Kind, source string) (user string, reject *sip.Response) {
	now := a.cfg.Now()
	src := sourceHost(source)
	if blocked, wait := a.sources.blocked(src, now); blocked {
		a.log.WarnContext(ctx, "digest: source throttled", "source", src, "retry_after", wait.Round(time.Second))
		res := sipx.Reject(req, sip.StatusServiceUnavailable, "Service Unavailable", a.cfg.Hostname,
			"too many failed authentication attempts from this address")
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(retrySeconds(wait))))
		return "", res
	}

	c, found, err := a.findCredentials(req, kind)
	if err != nil {
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: malformed credentials", "source", src, "error", err)
		return "", sipx.Reject(req, sip.StatusBadRequest, "Bad Request", a.cfg.Hostname, err.Error())
	}
	if !found {
		return "", a.challenge(req, kind, false, now)
	}
	alg, ok := algorithm(c.algorithm)
	if !ok || (c.qop != "" && !strings.EqualFold(c.qop, "auth")) {
		// Something we did not offer: offer what we have.
		return "", a.challenge(req, kind, false, now)
	}
	nc, err := checkFields(c)
	if err != nil {
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: incomplete credentials", "source", src, "error", err)
		return "", sipx.Reject(req, sip.StatusBadRequest, "Bad Request", a.cfg.Hostname, err.Error())
	}

	userKey := strings.ToLower(c.username)
	if blocked, wait := a.users.blocked(userKey, now); blocked {
		a.log.WarnContext(ctx, "digest: user throttled", "user", c.username, "source", src, "retry_after", wait.Round(time.Second))
		return "", sipx.Reject(req, sip.StatusForbidden, "Forbidden", a.cfg.Hostname,
			fmt.Sprintf("too many failed authentication attempts; retry in %d seconds", retrySeconds(wait)))
	}

	ha1, err := a.creds.HA1(ctx, c.username, a.cfg.Realm, alg)
	known := err == nil && ha1 != ""
	if err != nil && !errors.Is(err, ErrUnknownUser) {
		a.log.ErrorContext(ctx, "digest: credential lookup failed", "user", c.username, "error", err)
		return "", sipx.Reject(req, sip.StatusInternalServerError, "Server Internal Error", a.cfg.Hostname,
			"credential store unavailable")
	}
	if !known {
		// Do the same work for an unknown user as for a known one, so the
		// answer and its timing do not reveal which users exist.
		ha1 = strings.Repeat("0", hashLen(alg))
	}
	want := response(alg, strings.ToLower(ha1), c, string(req.Method))
	got := strings.ToLower(c.response)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || !known {
		a.users.fail(userKey, now)
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: authentication failed", "user", c.username, "source", src, "known_user", known)
		return "", a.challenge(req, kind, false, now)
	}

	// The digest is right. Now the nonce: ours, fresh, and not replayed.
	issued, ok := a.minter.open(c.nonce)
	age := time.Duration(now.UnixNano() - issued)
	if !ok || age > a.cfg.NonceTTL || age < -nonceSkew {
		a.log.DebugContext(ctx, "digest: stale nonce", "user", c.username, "source", src, "ours", ok)
		return "", a.challenge(req, kind, true, now)
	}
	switch a.nonces.use(c.nonce, issued, nc, now) {
	case useReplay:
		a.log.WarnContext(ctx, "digest: nonce-count replayed", "user", c.username, "source", src)
		return "", a.challenge(req, kind, true, now)
	case useForgotten:
		a.log.DebugContext(ctx, "digest: nonce record evicted", "user", c.username, "source", src)
		return "", a.challenge(req, kind, true, now)
	}

	if a.cfg.MatchFrom {
		from := req.From()
		if from == nil || !strings.EqualFold(from.Address.User, c.username) {
			a.log.InfoContext(ctx, "digest: username does not match From", "user", c.username, "source", src)
			return "", sipx.Reject(req, sip.StatusForbidden, "Forbidden", a.cfg.Hostname,
				"the authenticated user is not the From user")
		}
	}
	return c.username, nil
}

// findCredentials returns the first Digest credentials of kind for our
// realm. Credentials for other realms (added by other proxies, RFC 3261
// §22.3) and of other schemes are skipped.
func (a *Authenticator) findCredentials(req *sip.Request, kind Kind) (credentials, bool, error) {
	for _, h := range req.GetHeaders(kind.CredentialsHeader()) {
		v := h.Value()
		if !isDigest(v) {
			continue
		}
		c, err := parseCredentials(v)
		if err != nil {
			return credentials{}, false, err
		}
		if c.realm == a.cfg.Realm {
			return c, true, nil
		}
	}
	return credentials{}, false, nil
}

// checkFields checks the fields every answer needs, and returns the
// nonce-count (0 without qop).
func checkFields(c credentials) (uint32, error) {
	switch {
	case c.username == "":
		return 0, fmt.Errorf("%w: no username", ErrMalformed)
	case c.nonce == "":
		return 0, fmt.Errorf("%w: no nonce", ErrMalformed)
	case !c.hasURI || c.uri == "":
		// The value is used as sent, even SIPE's literal "(null)".
		return 0, fmt.Errorf("%w: no uri", ErrMalformed)
	case c.response == "":
		return 0, fmt.Errorf("%w: no response", ErrMalformed)
	}
	if c.qop == "" {
		return 0, nil
	}
	if c.cnonce == "" {
		return 0, fmt.Errorf("%w: qop without cnonce", ErrMalformed)
	}
	// RFC 7616 §3.4: nc-value = 8LHEX.
	if len(c.nc) != 8 {
		return 0, fmt.Errorf("%w: nc must be 8 hex digits", ErrMalformed)
	}
	n, err := strconv.ParseUint(c.nc, 16, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: nc must be 8 hex digits and not zero", ErrMalformed)
	}
	return uint32(n), nil
}

// algorithm maps the algorithm parameter to one we verify; absent means
// MD5 (RFC 7616 §3.3).
func algorithm(s string) (string, bool) {
	switch {
	case s == "" || strings.EqualFold(s, MD5):
		return MD5, true
	case strings.EqualFold(s, SHA256):
		return SHA256, true
	}
	return "", false
}

func newHash(alg string) hash.Hash {
	if alg == SHA256 {
		return sha256.New()
	}
	return md5.New() //nolint:gosec // RFC 3261 §22.4
}

func hashLen(alg string) int { return 2 * newHash(alg).Size() }

func hexHash(alg string, parts ...string) string {
	h := newHash(alg)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// response computes the request-digest of RFC 7616 §3.4.1 (qop=auth) or
// RFC 2069 (no qop) with the values exactly as the client sent them.
func response(alg, ha1 string, c credentials, method string) string {
	ha2 := hexHash(alg, method, c.uri)
	if c.qop == "" {
		return hexHash(alg, ha1, c.nonce, ha2)
	}
	return hexHash(alg, ha1, c.nonce, c.nc, c.cnonce, c.qop, ha2)
}

// challenge builds a 401/407 offering the configured algorithms with a fresh nonce.
// Both challenges carry the same nonce: a nonce is not bound to an
// algorithm, and clients that ignore the algorithm parameter (SIPE always
// answers with MD5) still match.
func (a *Authenticator) challenge(req *sip.Request, kind Kind, stale bool, now time.Time) *sip.Response {
	code, reason := kind.status()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	nonce := a.minter.mint(now)
	for _, alg := range a.cfg.Algorithms {
		v := "Digest realm=" + quote(a.cfg.Realm) + ", nonce=" + quote(nonce) +
			", algorithm=" + alg + `, qop="auth"`
		if stale {
			v += ", stale=true"
		}
		res.AppendHeader(sip.NewHeader(kind.challengeHeader(), v))
	}
	return res
}

// sourceHost reduces "host:port" to host; an address without a port is
// returned as it is.
func sourceHost(source string) string {
	if h, _, err := net.SplitHostPort(source); err == nil {
		return h
	}
	return strings.Trim(source, "[]")
}

func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
