// Package provisioning answers the subscriptions an OCS 2007 R2 client
// makes to its own address right after registering (protocols.md §1.9,
// §3.3): in-band provisioning (Event: vnd-microsoft-provisioning-v2), which
// tells the client its Focus Factory and so enables conferencing, and the
// roaming contacts, roaming self and presence subscriptions, which are
// answered with empty documents so that the client carries on.
//
// Every answer is a one-off fetch: the 200 OK carries the document
// (piggy-backed, flagged by ms-piggyback-cseq, as OCS does) and Expires: 0,
// and no subscription state is kept. Real roaming data and presence are
// future work.
package provisioning

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

// Directory is what the service reads from the directory.
type Directory interface {
	User(ctx context.Context, uri string) (directory.User, error)
	Organization(ctx context.Context) (directory.Organization, error)
	Pool(ctx context.Context, fqdn string) (directory.Pool, error)
}

// Event packages answered here.
const (
	EventProvisioning   = "vnd-microsoft-provisioning-v2"
	EventRoamingContact = "vnd-microsoft-roaming-contacts"
	EventRoamingSelf    = "vnd-microsoft-roaming-self"
	EventPresence       = "presence"
)

// allowEvents is the Allow-Events of a 489 (RFC 6665 §8.3.2).
const allowEvents = EventPresence + ", " + EventProvisioning + ", " + EventRoamingContact + ", " + EventRoamingSelf

// Service answers self-subscriptions. It is safe for concurrent use.
type Service struct {
	local *sipx.Local
	dir   Directory
	auth  *digest.Authenticator
	log   *slog.Logger
}

// New returns a Service. With a nil auth requests are not authenticated
// and the From user is trusted; only tests and benchmarks do that.
func New(local *sipx.Local, dir Directory, auth *digest.Authenticator, log *slog.Logger) *Service {
	return &Service{local: local, dir: dir, auth: auth, log: log}
}

// eventType returns the event package of req's Event header (RFC 6665
// §8.2.1: the token before any parameter), lower-cased, or "".
func eventType(req *sip.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		h = req.GetHeader("o") // compact form, RFC 6665 §8.2.1
	}
	if h == nil {
		return ""
	}
	t, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(t))
}

func known(event string) bool {
	switch event {
	case EventProvisioning, EventRoamingContact, EventRoamingSelf, EventPresence:
		return true
	}
	return false
}

// selfAOR returns the AOR a SUBSCRIBE is about when it is a local user
// subscribing to itself: From and To are the same local AOR, and the
// Request-URI, when it names a user, names that AOR too.
func (s *Service) selfAOR(req *sip.Request) (string, bool) {
	to, from := req.To(), req.From()
	if to == nil || from == nil {
		return "", false
	}
	aor, ok := s.local.AOR(to.Address)
	if !ok {
		return "", false
	}
	if f, ok := s.local.AOR(from.Address); !ok || f != aor {
		return "", false
	}
	if !s.local.IsLocal(req.Recipient.Host) {
		return "", false
	}
	if req.Recipient.User != "" {
		if r, ok := s.local.AOR(req.Recipient); !ok || r != aor {
			return "", false
		}
	}
	return aor, true
}

// Handles reports whether req is a SUBSCRIBE this service answers: one of
// its event packages, from a local user to that user's own address.
func (s *Service) Handles(req *sip.Request) bool {
	if req.Method != sip.SUBSCRIBE || !known(eventType(req)) {
		return false
	}
	_, ok := s.selfAOR(req)
	return ok
}

// requestTimeout bounds the directory lookups of one SUBSCRIBE.
const requestTimeout = 5 * time.Second

// ServeSUBSCRIBE answers a SUBSCRIBE; its signature is sipgo's
// RequestHandler.
func (s *Service) ServeSUBSCRIBE(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res := s.subscribe(ctx, req)
	if err := tx.Respond(res); err != nil {
		s.log.WarnContext(ctx, "provisioning: response not sent", "status", res.StatusCode, "error", err)
	}
}

func (s *Service) subscribe(ctx context.Context, req *sip.Request) *sip.Response {
	if req.Method != sip.SUBSCRIBE {
		return s.reject(req, sip.StatusMethodNotAllowed, "Method Not Allowed", "only SUBSCRIBE is answered here")
	}
	event := eventType(req)
	if !known(event) {
		// RFC 6665 §4.2.1.1: an unsupported package gets 489 with the list
		// of those we do support.
		res := s.reject(req, 489, "Bad Event", "")
		res.AppendHeader(sip.NewHeader("Allow-Events", allowEvents))
		return res
	}
	aor, ok := s.selfAOR(req)
	if !ok {
		if to := req.To(); to == nil || !s.local.IsLocal(to.Address.Host) {
			return s.reject(req, sip.StatusNotFound, "Not Found", "not a user of this server")
		}
		return s.reject(req, sip.StatusForbidden, "Forbidden", "only subscriptions to your own address are answered here")
	}
	if s.auth != nil {
		user, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			return reject
		}
		if !sameUser(user, aor) {
			s.log.InfoContext(ctx, "provisioning: user subscribing for another", "user", user, "aor", aor)
			return s.reject(req, sip.StatusForbidden, "Forbidden", "the authenticated user is not the subscriber")
		}
	}
	u, err := s.dir.User(ctx, aor)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return s.reject(req, sip.StatusNotFound, "Not Found", "no such user")
	case err != nil:
		s.log.ErrorContext(ctx, "provisioning: user lookup failed", "aor", aor, "error", err)
		return s.reject(req, sip.StatusInternalServerError, "Server Internal Error", "directory unavailable")
	case !u.Enabled:
		return s.reject(req, sip.StatusForbidden, "Forbidden", "the user is disabled")
	}

	var body []byte
	var ctype string
	switch event {
	case EventProvisioning:
		cfg, err := s.serverConfiguration(ctx, aor, u)
		if err != nil {
			s.log.ErrorContext(ctx, "provisioning: configuration unavailable", "aor", aor, "error", err)
			return s.reject(req, sip.StatusInternalServerError, "Server Internal Error", "directory unavailable")
		}
		body, err = provisioningDocument(cfg)
		if err != nil {
			return s.reject(req, sip.StatusInternalServerError, "Server Internal Error", "")
		}
		ctype = provisioningType
	case EventRoamingContact:
		body, err = marshal(contactList{NS: contactsNS, DeltaNum: 1})
		ctype = contactsType
	case EventRoamingSelf:
		body, err = marshal(roamingData{NS: roamingSelfNS})
		ctype = roamingSelfType
	case EventPresence:
		body, err = marshal(rlmiList{NS: rlmiNS, URI: aor, FullState: true})
		ctype = rlmiType
	}
	if err != nil {
		return s.reject(req, sip.StatusInternalServerError, "Server Internal Error", "")
	}

	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Event", event))
	res.AppendHeader(sip.NewHeader("Expires", "0"))
	// The body is the first (and only) notification, piggy-backed on the
	// response; the client processes it as a NOTIFY with this CSeq.
	res.AppendHeader(sip.NewHeader("ms-piggyback-cseq", "1"))
	res.AppendHeader(sip.NewHeader("Contact", "<"+contactOf(req)+">"))
	res.AppendHeader(sip.NewHeader("Content-Type", ctype))
	s.log.DebugContext(ctx, "provisioning: answered", "aor", aor, "event", event)
	return res
}

// serverConfiguration gathers the user's Focus Factory and web URLs: the
// pool's URLs when set, otherwise the organization's.
func (s *Service) serverConfiguration(ctx context.Context, aor string, u directory.User) (serverConfiguration, error) {
	org, err := s.dir.Organization(ctx)
	if err != nil {
		return serverConfiguration{}, err
	}
	cfg := serverConfiguration{
		FocusFactoryURI: focusFactoryURI(aor),
		InternalURL:     org.WebInternalURL,
		ExternalURL:     org.WebExternalURL,
	}
	pool, err := s.dir.Pool(ctx, u.Pool)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		s.log.WarnContext(ctx, "provisioning: user's pool not found", "aor", aor, "pool", u.Pool)
	case err != nil:
		return serverConfiguration{}, err
	default:
		if pool.WebInternalURL != "" {
			cfg.InternalURL = pool.WebInternalURL
		}
		if pool.WebExternalURL != "" {
			cfg.ExternalURL = pool.WebExternalURL
		}
	}
	return cfg, nil
}

// contactOf is the Contact of our 2xx (RFC 6665 §4.2.1.1 requires one): the
// host and port the request was sent to, which reach this server.
func contactOf(req *sip.Request) string {
	u := sip.Uri{Scheme: "sip", Host: req.Recipient.Host, Port: req.Recipient.Port}
	if strings.EqualFold(req.Recipient.Scheme, "sips") {
		u.Scheme = "sips"
	}
	return u.String()
}

// sameUser reports whether a digest username (user or user@domain) is the
// owner of aor.
func sameUser(user, aor string) bool {
	user = strings.ToLower(user)
	rest := strings.TrimPrefix(aor, "sip:")
	u, _, _ := strings.Cut(rest, "@")
	return user == u || user == rest
}

func (s *Service) reject(req *sip.Request, code int, reason, detail string) *sip.Response {
	return sipx.Reject(req, code, reason, s.local.PrimaryDomain(), detail)
}
