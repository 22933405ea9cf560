package digest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Digest against a shared key: [MS-SIPAE] §3.3.5.4 anonymous conference
// join. A client without an account joins a meeting from a random
// "<username>@anonymous.invalid" (§3.2.4.3) and proves that it knows the
// meeting's conference key by answering a 401 challenge whose realm names
// the meeting (§4.5: realm="bob@contoso.com", the organizer's URI, for a
// focus of sip:bob@contoso.com) with algorithm=MD5-sess and qop="auth".
// The password is the key; there is no per-user credential, so the check
// takes it per request instead of asking Credentials.
//
// The Authenticator's nonces, replay table and per-source failure counts
// are shared with ordinary digest, so guessing a conference key costs a
// source as much as guessing a password; failures are also counted per
// key (per meeting, KeyCheck.Scope), which bounds guessing spread over
// many sources.

// MD5Sess is the session variant of MD5 (RFC 7616 §3.4.2), which
// [MS-SIPAE] §4.5 uses for anonymous joins.
const MD5Sess = "MD5-sess"

// KeyCheck is what a request's digest is checked against by
// AuthenticateKey.
type KeyCheck struct {
	// Realm is the challenge's realm: for an anonymous join, the
	// organizer's address without the scheme ([MS-SIPAE] §4.5).
	Realm string
	// Username is the username the answer must carry: the user part of
	// the anonymous From URI ([MS-SIPAE] §3.2.4.3).
	Username string
	// Password is the shared secret, the meeting's conference key. It is
	// never logged (LogValue).
	Password string
	// Scope names the secret: the meeting (its focus URI), since one
	// organizer's realm covers all his meetings and each has its own
	// key. Failures are counted per scope, and nonces are bound to it,
	// so that a nonce issued for one meeting is stale at another.
	// Empty means Realm.
	Scope string
}

// scope is the key's scope, Realm by default.
func (k KeyCheck) scope() string {
	if k.Scope == "" {
		return k.Realm
	}
	return k.Scope
}

// LogValue keeps the password out of structured logs.
func (k KeyCheck) LogValue() slog.Value {
	return slog.GroupValue(slog.String("realm", k.Realm), slog.String("username", k.Username), slog.String("scope", k.Scope))
}

// String keeps the password out of formatted output.
func (k KeyCheck) String() string {
	return fmt.Sprintf("KeyCheck{realm=%q username=%q scope=%q}", k.Realm, k.Username, k.Scope)
}

// keyThrottlePrefix marks a key's entry in the per-user failure table:
// no digest username (a quoted-string without control characters) can
// start with a NUL, so keys and users never share a counter.
const keyThrottlePrefix = "\x00key\x00"

// AuthenticateKey checks the Authorization credentials of req against k:
// MD5-sess with qop=auth, in k.Realm, from k.Username, with k.Password as
// the password. source is the address the request came from, as for
// Authenticate. It returns nil when the credentials are right and fresh,
// else the final response to send:
//   - 401 with a WWW-Authenticate MD5-sess challenge when there are no
//     credentials for the realm, they are wrong, or of another algorithm
//     or qop; with stale=true when the digest was right but the nonce was
//     expired, not ours (or another key's) or already used;
//   - 400 for Digest credentials that cannot be parsed or lack a field;
//   - 403 when the key (k.Scope) has seen too many failures, or when the
//     username is not k.Username;
//   - 503 with Retry-After when the source is throttled;
//   - 500 when k is unusable (no password, or a realm that cannot be
//     quoted).
//
// Failures count against the source and the key. Nothing secret (the
// password, hashes, responses) is logged.
func (a *Authenticator) AuthenticateKey(ctx context.Context, req *sip.Request, k KeyCheck, source string) *sip.Response {
	if k.Password == "" || k.Realm == "" || strings.ContainsAny(k.Realm, "\r\n\x00") {
		a.log.ErrorContext(ctx, "digest: unusable key check", "realm", k.Realm)
		return sipx.Reject(req, sip.StatusInternalServerError, "Server Internal Error", a.cfg.Hostname,
			"the conference key cannot be checked")
	}
	now := a.cfg.Now()
	src := sourceHost(source)
	scopeKey := keyThrottlePrefix + strings.ToLower(k.scope())
	// The key first: it is known before anything is parsed, and a
	// meeting under attack answers the same to everybody.
	if blocked, wait := a.users.blocked(scopeKey, now); blocked {
		a.log.WarnContext(ctx, "digest: conference key throttled", "scope", k.scope(), "source", src, "retry_after", wait.Round(time.Second))
		return sipx.Reject(req, sip.StatusForbidden, "Forbidden", a.cfg.Hostname,
			fmt.Sprintf("too many wrong conference keys for this meeting; retry in %d seconds", retrySeconds(wait)))
	}
	if blocked, wait := a.sources.blocked(src, now); blocked {
		a.log.WarnContext(ctx, "digest: source throttled", "source", src, "retry_after", wait.Round(time.Second))
		res := sipx.Reject(req, sip.StatusServiceUnavailable, "Service Unavailable", a.cfg.Hostname,
			"too many failed authentication attempts from this address")
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(retrySeconds(wait))))
		return res
	}
	minter := a.keyMinter(k.scope())

	c, found, err := findRealmCredentials(req, WWW, k.Realm)
	if err != nil {
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: malformed credentials", "source", src, "error", err)
		return sipx.Reject(req, sip.StatusBadRequest, "Bad Request", a.cfg.Hostname, err.Error())
	}
	if !found || !strings.EqualFold(c.algorithm, MD5Sess) || !strings.EqualFold(c.qop, "auth") {
		// Nothing, or something we did not offer: offer what we have.
		// MD5-sess needs the cnonce, which only comes with a qop.
		return a.keyChallenge(req, k.Realm, minter, false, now)
	}
	nc, err := checkFields(c)
	if err != nil {
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: incomplete credentials", "source", src, "error", err)
		return sipx.Reject(req, sip.StatusBadRequest, "Bad Request", a.cfg.Hostname, err.Error())
	}
	if !strings.EqualFold(c.username, k.Username) {
		a.log.InfoContext(ctx, "digest: key username is not the From user", "user", c.username, "source", src)
		return sipx.Reject(req, sip.StatusForbidden, "Forbidden", a.cfg.Hostname,
			"the digest username must be the user part of the anonymous From URI")
	}

	want := response(MD5, sessHA1(c.username, k.Realm, k.Password, c.nonce, c.cnonce), c, string(req.Method))
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(c.response)), []byte(want)) != 1 {
		a.users.fail(scopeKey, now)
		a.sources.fail(src, now)
		a.log.InfoContext(ctx, "digest: wrong conference key", "scope", k.scope(), "user", c.username, "source", src)
		return a.keyChallenge(req, k.Realm, minter, false, now)
	}

	// The key is right. Now the nonce: ours, for this key, fresh, and
	// not replayed.
	issued, ok := minter.open(c.nonce)
	age := time.Duration(now.UnixNano() - issued)
	if !ok || age > a.cfg.NonceTTL || age < -nonceSkew {
		a.log.DebugContext(ctx, "digest: stale key nonce", "scope", k.scope(), "source", src, "ours", ok)
		return a.keyChallenge(req, k.Realm, minter, true, now)
	}
	switch a.nonces.use(c.nonce, issued, nc, now) {
	case useReplay:
		a.log.WarnContext(ctx, "digest: key nonce-count replayed", "scope", k.scope(), "source", src)
		return a.keyChallenge(req, k.Realm, minter, true, now)
	case useForgotten:
		a.log.DebugContext(ctx, "digest: key nonce record evicted", "scope", k.scope(), "source", src)
		return a.keyChallenge(req, k.Realm, minter, true, now)
	}
	return nil
}

// keyMinter makes the nonces of a key scope. They are bound to it, so a
// nonce issued for one meeting is stale at another, and cannot pass for a
// nonce of the Authenticator's own realm either.
func (a *Authenticator) keyMinter(scope string) nonceMinter {
	return nonceMinter{secret: a.cfg.Secret, realm: keyThrottlePrefix + scope}
}

// keyChallenge builds the 401 of [MS-SIPAE] §4.5. The opaque value is
// sent because the example carries one; the nonce holds all the state, so
// what comes back in it is not checked.
func (a *Authenticator) keyChallenge(req *sip.Request, realm string, minter nonceMinter, stale bool, now time.Time) *sip.Response {
	code, reason := WWW.status()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	v := "Digest realm=" + quote(realm) + ", nonce=" + quote(minter.mint(now)) +
		", opaque=" + quote(a.keyOpaque(realm)) + ", algorithm=" + MD5Sess + `, qop="auth"`
	if stale {
		v += ", stale=true"
	}
	res.AppendHeader(sip.NewHeader(WWW.challengeHeader(), v))
	return res
}

// keyOpaque is a realm's opaque value: eight hex digits, as in the
// example, derived from the secret so that it says nothing about the
// meeting.
func (a *Authenticator) keyOpaque(realm string) string {
	m := hmac.New(sha256.New, a.cfg.Secret)
	m.Write([]byte("parley digest opaque\x00"))
	m.Write([]byte(realm))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)[:4]))
}

// sessHA1 is the MD5-sess HA1 of RFC 7616 §3.4.2: the hash of the
// user's hex HA1, the nonce and the cnonce (hex throughout, as RFC 7616
// settles the ambiguity of RFC 2617's sample code).
func sessHA1(username, realm, password, nonce, cnonce string) string {
	return hexHash(MD5, hexHash(MD5, username, realm, password), nonce, cnonce)
}

// findRealmCredentials returns the first Digest credentials of kind for
// realm; credentials of other realms and schemes are skipped (RFC 3261
// §22.3).
func findRealmCredentials(req *sip.Request, kind Kind, realm string) (credentials, bool, error) {
	for _, h := range req.GetHeaders(kind.CredentialsHeader()) {
		v := h.Value()
		if !isDigest(v) {
			continue
		}
		c, err := parseCredentials(v)
		if err != nil {
			return credentials{}, false, err
		}
		if c.realm == realm {
			return c, true, nil
		}
	}
	return credentials{}, false, nil
}
