// Package registrar is Parley's SIP registrar (RFC 3261 §10) and location
// service: it authenticates REGISTER requests with digest, keeps the
// bindings of each address-of-record in memory, hands out GRUUs (RFC 5627,
// and Microsoft's form for Office Communicator-style clients), and answers
// with what OCS 2007 R2 clients such as Pidgin SIPE need to enable their
// OCS 2007 features.
//
// Bindings are not persisted: after a restart clients re-register, as they
// do after any registrar failure (RFC 3261 §10.2.4 refreshes).
package registrar

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

// Users finds the user owning an address-of-record.
type Users interface {
	User(ctx context.Context, uri string) (directory.User, error)
}

// Config configures a Registrar. Zero durations and counts take the
// defaults given.
type Config struct {
	// DefaultExpires applies to contacts without an expiry; default 3600s.
	DefaultExpires time.Duration
	// MinExpires is the shortest registration accepted: shorter requests
	// get 423 Interval Too Brief (RFC 3261 §10.3 step 7); default 60s.
	MinExpires time.Duration
	// MaxExpires caps registrations; default 7200s.
	MaxExpires time.Duration
	// MaxBindingsPerAOR limits the contacts of one user; default 10.
	MaxBindingsPerAOR int
	// Authenticate requires digest authentication. Every production
	// configuration sets it; New panics when it is set without an
	// Authenticator. Only benchmarks leave it off.
	Authenticate bool
	// Challenge is the challenge sent to a REGISTER without credentials:
	// digest.WWW (401, RFC 3261 §10.3 step 3) or digest.Proxy (407), the
	// only digest challenge Pidgin SIPE answers (protocols.md §3.4).
	// Credentials of either kind are accepted whatever this says.
	Challenge digest.Kind
	// Hostname names this server in Warning headers.
	Hostname string
	// Now returns the current time; default time.Now. Tests set it.
	Now func() time.Time
}

// Registrar handles REGISTER requests and answers location lookups. It is
// safe for concurrent use.
type Registrar struct {
	cfg   Config
	local *sipx.Local
	users Users
	auth  *digest.Authenticator
	log   *slog.Logger
	now   func() time.Time
	table *table
	tgruu tempGRUUs
	seed  maphash.Seed // for transaction IDs and To tags
	date  dateCache
}

// New returns a Registrar for the domains of local.
func New(cfg Config, local *sipx.Local, users Users, auth *digest.Authenticator, log *slog.Logger) *Registrar {
	if cfg.DefaultExpires <= 0 {
		cfg.DefaultExpires = 3600 * time.Second
	}
	if cfg.MinExpires <= 0 {
		cfg.MinExpires = 60 * time.Second
	}
	if cfg.MaxExpires <= 0 {
		cfg.MaxExpires = 7200 * time.Second
	}
	cfg.MaxExpires = max(cfg.MaxExpires, cfg.MinExpires)
	cfg.DefaultExpires = min(max(cfg.DefaultExpires, cfg.MinExpires), cfg.MaxExpires)
	if cfg.MaxBindingsPerAOR <= 0 {
		cfg.MaxBindingsPerAOR = 10
	}
	if cfg.Hostname == "" {
		cfg.Hostname = local.PrimaryDomain()
	}
	if cfg.Authenticate && auth == nil {
		panic("registrar: Config.Authenticate is set but no digest.Authenticator was given")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Registrar{cfg: cfg, local: local, users: users, auth: auth, log: log, now: now,
		table: newTable(), tgruu: newTempGRUUs(), seed: maphash.MakeSeed()}
}

// requestTimeout bounds the directory lookups of one REGISTER.
const requestTimeout = 5 * time.Second

// ServeREGISTER handles a REGISTER; its signature is sipgo's RequestHandler.
func (r *Registrar) ServeREGISTER(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res := r.register(ctx, req)
	if err := tx.Respond(res); err != nil {
		r.log.WarnContext(ctx, "registrar: response not sent", "status", res.StatusCode, "error", err)
	}
}

// Register runs RFC 3261 §10.3 on a REGISTER and returns the final
// response for the caller to send. It is for servers that answer REGISTER
// without a server transaction (RFC 3261 §8.2.7 stateless UAS): the
// response depends only on the request and the bindings, its To tag is
// derived from the request, and a retransmission of a request that was
// applied is answered with the current bindings instead of failing the
// CSeq check. ctx bounds the directory lookups. The response shares header
// values with req, so req must not be changed afterwards.
func (r *Registrar) Register(ctx context.Context, req *sip.Request) *sip.Response {
	return r.register(ctx, req)
}

// supportedExtensions are the option tags a REGISTER may Require.
var supportedExtensions = map[string]bool{"gruu": true, "path": true}

// register runs RFC 3261 §10.3 on req and returns the response.
func (r *Registrar) register(ctx context.Context, req *sip.Request) *sip.Response {
	if req.Method != sip.REGISTER {
		return r.reject(req, sip.StatusMethodNotAllowed, "Method Not Allowed", "the registrar only handles REGISTER")
	}
	// Step 1: the Request-URI names a domain we are the registrar of.
	if !r.local.IsLocal(req.Recipient.Host) {
		return r.reject(req, sip.StatusNotFound, "Not Found", "this server is not the registrar of "+clip(req.Recipient.Host))
	}
	// Step 2: extensions the client requires.
	if unsupported := unsupportedRequire(req); len(unsupported) > 0 {
		res := r.reject(req, sip.StatusBadExtension, "Bad Extension", "")
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
		return res
	}
	to, callID, cseq := req.To(), req.CallID(), req.CSeq()
	if to == nil || callID == nil || cseq == nil {
		return r.reject(req, sip.StatusBadRequest, "Bad Request", "To, Call-ID and CSeq are required")
	}
	// Step 5: the To URI is one of our addresses-of-record.
	aor, ok := r.local.AOR(to.Address)
	if !ok {
		return r.reject(req, sip.StatusNotFound, "Not Found", "the To URI is not an address of this domain")
	}

	// Steps 3 and 4: who is asking, and may they register this AOR?
	if r.cfg.Authenticate {
		kind := r.cfg.Challenge
		switch {
		case header(req, "Authorization") != nil:
			kind = digest.WWW
		case header(req, "Proxy-Authorization") != nil:
			kind = digest.Proxy
		}
		user, reject := r.auth.Authenticate(ctx, req, kind, req.Source())
		if reject != nil {
			return reject
		}
		if !mayRegister(user, aor) {
			r.log.InfoContext(ctx, "registrar: user may not register this AOR", "user", user, "aor", aor)
			return r.reject(req, sip.StatusForbidden, "Forbidden", "the authenticated user may not register this address")
		}
	}
	u, err := r.users.User(ctx, aor)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return r.reject(req, sip.StatusNotFound, "Not Found", "no such user")
	case err != nil:
		r.log.ErrorContext(ctx, "registrar: user lookup failed", "aor", aor, "error", err)
		return r.reject(req, sip.StatusInternalServerError, "Server Internal Error", "directory unavailable")
	case !u.Enabled:
		return r.reject(req, sip.StatusForbidden, "Forbidden", "the user is disabled")
	}

	// Step 6: the contacts.
	def := r.cfg.DefaultExpires
	expiresHdr := header(req, "Expires")
	if expiresHdr != nil {
		def = parseDelta(expiresHdr.Value(), r.cfg.DefaultExpires)
	}
	// Most REGISTERs carry one Contact: keep it on the stack.
	var contactsBuf [1]*sip.ContactHeader
	contacts := contactsBuf[:0]
	wildcard := false
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Contact") {
			continue
		}
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return r.reject(req, sip.StatusBadRequest, "Bad Request", "unparsable Contact")
		}
		if c.Address.Wildcard {
			wildcard = true
		}
		contacts = append(contacts, c)
	}
	ext := extensionsOf(req)
	ref := txRef{callID: callID.Value(), cseq: cseq.SeqNo, id: r.txID(req)}
	now := r.now()
	if wildcard {
		if len(contacts) != 1 || expiresHdr == nil || strings.TrimSpace(expiresHdr.Value()) != "0" {
			return r.reject(req, sip.StatusBadRequest, "Bad Request", "Contact: * must be alone and come with Expires: 0")
		}
		bs, err := r.table.update(aor, ref, true, nil, r.cfg.MaxBindingsPerAOR, now)
		if err != nil {
			return r.reject(req, sip.StatusInternalServerError, "Server Internal Error", err.Error())
		}
		r.log.InfoContext(ctx, "registrar: all bindings removed", "aor", aor)
		return r.ok(req, aor, bs, "0", now, ext)
	}
	if len(contacts) > r.cfg.MaxBindingsPerAOR {
		return r.reject(req, sip.StatusForbidden, "Forbidden",
			fmt.Sprintf("at most %d contacts may be registered", r.cfg.MaxBindingsPerAOR))
	}

	var changesBuf [1]change
	changes := changesBuf[:0]
	var path []string
	if ext&extPath != 0 {
		path = pathOf(req)
	}
	transport := strings.ToUpper(req.Transport())
	source := req.Source()
	var storedCallID string
	for _, h := range contacts {
		c, err := parseContact(h, def)
		if err != nil {
			return r.reject(req, sip.StatusBadRequest, "Bad Request", strings.TrimPrefix(err.Error(), "registrar: "))
		}
		if c.expires > 0 && c.expires < r.cfg.MinExpires {
			// Step 7: too brief; the client retries with at least Min-Expires.
			res := r.reject(req, sip.StatusIntervalToBrief, "Interval Too Brief", "")
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second))))
			return res
		}
		key := bindingKey(c.instance, c.uri)
		if c.expires == 0 {
			changes = append(changes, change{key: key, remove: true})
			continue
		}
		if storedCallID == "" {
			storedCallID = strings.Clone(ref.callID)
		}
		b := Binding{
			AOR:        aor,
			Contact:    c.uri,
			Instance:   c.instance,
			Expires:    now.Add(min(c.expires, r.cfg.MaxExpires)),
			CallID:     storedCallID,
			CSeq:       ref.cseq,
			Q:          c.q,
			hasQ:       c.hasQ,
			Source:     source,
			Transport:  transport,
			Path:       path,
			Registered: now,
		}
		if c.instance != "" {
			b.GRUU = pubGRUU(aor, c.instance)
		}
		changes = append(changes, change{key: key, binding: b})
	}
	bs, err := r.table.update(aor, ref, false, changes, r.cfg.MaxBindingsPerAOR, now)
	if errors.Is(err, errOutOfOrder) {
		// Step 7: a reordered or replayed REGISTER must not undo a newer one.
		return r.reject(req, sip.StatusInternalServerError, "Server Internal Error",
			"CSeq is not higher than that of the existing binding for this Call-ID")
	}
	if err != nil {
		return r.reject(req, sip.StatusInternalServerError, "Server Internal Error", err.Error())
	}
	if len(changes) > 0 && r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.DebugContext(ctx, "registrar: bindings updated", "aor", aor, "bindings", len(bs), "source", source)
	}
	return r.ok(req, aor, bs, grantedExpires(changes, bs, now), now, ext)
}

// mayRegister reports whether the authenticated digest username may
// register aor (sip:user@domain). Clients send either the user part or the
// whole user@domain as their digest username.
func mayRegister(user, aor string) bool {
	user = strings.ToLower(user)
	rest := strings.TrimPrefix(aor, "sip:")
	u, _, _ := strings.Cut(rest, "@")
	return user == u || user == rest
}

// unsupportedRequire lists the Require option tags we do not support.
func unsupportedRequire(req *sip.Request) []string {
	var out []string
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Require") {
			continue
		}
		for tag := range strings.SplitSeq(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !supportedExtensions[strings.ToLower(tag)] {
				out = append(out, tag)
			}
		}
	}
	return out
}

// pathOf returns the Path header values (RFC 3327 §5.3: a registrar stores
// Path only when the client supports path; the caller checks).
func pathOf(req *sip.Request) []string {
	var out []string
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Path") {
			continue
		}
		for _, v := range splitComma(h.Value()) {
			out = append(out, strings.Clone(v))
		}
	}
	return out
}

// extensions is a set of option tags a REGISTER says it supports.
type extensions uint8

const (
	extGRUU   extensions = 1 << iota // gruu, RFC 5627
	extGRUU10                        // gruu-10, Microsoft's GRUU ([MS-SIPRE] §2.2.3)
	extPath                          // path, RFC 3327
)

// extensionsOf reads the option tags of req's Supported headers (or their
// compact form k, RFC 3261 §7.3.3) that change what the registrar does.
func extensionsOf(req *sip.Request) extensions {
	var ext extensions
	for _, h := range req.Headers() {
		if name := h.Name(); !strings.EqualFold(name, "Supported") && name != "k" && name != "K" {
			continue
		}
		for t := range strings.SplitSeq(h.Value(), ",") {
			switch t = strings.TrimSpace(t); {
			case strings.EqualFold(t, "gruu"):
				ext |= extGRUU
			case strings.EqualFold(t, "gruu-10"):
				ext |= extGRUU10
			case strings.EqualFold(t, "path"):
				ext |= extPath
			}
		}
	}
	return ext
}

// header returns req's first header named name, compared
// case-insensitively (RFC 3261 §7.3.1), or nil. Unlike sip.Request's
// GetHeader it allocates nothing.
func header(req *sip.Request, name string) sip.Header {
	for _, h := range req.Headers() {
		if strings.EqualFold(h.Name(), name) {
			return h
		}
	}
	return nil
}

// splitComma splits a header value at commas outside <> and quotes.
func splitComma(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// grantedExpires is the Expires header of the 200 OK: the expiry granted to
// the request's first contact that is still bound, "0" when the request only
// removed contacts, "" for a query. Pidgin SIPE treats a 200 without a
// non-zero Expires header as a failed registration.
func grantedExpires(changes []change, bs []Binding, now time.Time) string {
	if len(changes) == 0 {
		return ""
	}
	for _, c := range changes {
		if c.remove {
			continue
		}
		if i := indexKey(bs, c.key); i >= 0 {
			return strconv.Itoa(remaining(bs[i], now))
		}
	}
	return "0"
}

// remaining returns a binding's remaining lifetime in whole seconds,
// rounded up.
func remaining(b Binding, now time.Time) int {
	return int((b.Expires.Sub(now) + time.Second - 1) / time.Second)
}
