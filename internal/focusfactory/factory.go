// Package focusfactory is the Focus Factory of seed 000 and seed 003: the
// front-end role that schedules meetings. Organizers' clients send it C3P
// commands ([MS-CONFPRO]) in SIP SERVICE requests addressed to their own
// Focus Factory GRUU, sip:USER@DOMAIN;gruu;opaque=app:conf:focusfactory. It
// answers what the pool offers (MCU types, dial-in access numbers by
// region), creates meetings with their conference IDs and passcodes in the
// pool database, and reads, changes and deletes them. It also expires
// meetings (seed 003, "Meeting Expiration") and reissues conference IDs when
// an organizer moves to another pool.
//
// The package decides policy (who may schedule, what the meeting policy
// allows) and leaves protocol details to internal/c3p and storage to a
// directory.MeetingStore.
package focusfactory

import (
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
)

// Directory is what the Focus Factory reads of the directory.
type Directory interface {
	User(ctx context.Context, uri string) (directory.User, error)
	UserByExtension(ctx context.Context, ext string) (directory.User, error)
	UserByLineURI(ctx context.Context, lineURI string) (directory.User, error)
	// UpdateUser counts wrong PINs and locks PINs out.
	UpdateUser(ctx context.Context, uri string, fn func(*directory.User) error) (directory.User, error)
	Pool(ctx context.Context, fqdn string) (directory.Pool, error)
	MeetingPolicy(ctx context.Context, name string) (directory.MeetingPolicy, error)
	Regions(ctx context.Context) ([]directory.Region, error)
	AccessNumbers(ctx context.Context) ([]directory.AccessNumber, error)
}

// Config configures a Factory.
type Config struct {
	// Hostname names this server in Warning and ms-diagnostics headers.
	Hostname string
	// Domain is the organization's primary SIP domain; focus URIs are
	// built on the organizer's URI, so it is only used for diagnostics.
	Domain string
	// Local maps our aliases (the server's own host names and
	// addresses) to the organization's domain, so that a request to
	// sip:alice@10.0.0.5 reaches alice's Focus Factory; nil means names
	// are taken as they are.
	Local *sipx.Local
	// Codec makes and reads conference IDs under the organization key.
	Codec *confid.Codec
	// Allocator picks the local portion of new conference IDs; the zero
	// value uses confid's defaults.
	Allocator confid.Allocator
	// Rand draws conference IDs; default confid.CryptoRand.
	Rand confid.Rand
	// PasscodeKey is the private key clients seal passcodes to; its
	// public half goes out in getConferencingCapabilities.
	PasscodeKey hpke.PrivateKey
	// AccessKeySecret seals anonymous access keys at rest (32 bytes).
	AccessKeySecret []byte
	// DefaultPolicy is the meeting policy of users who have none.
	DefaultPolicy string
	// MaxMeetingsPerOrganizer bounds how many meetings one organizer may
	// keep; default 1000.
	MaxMeetingsPerOrganizer int
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Factory serves Focus Factory requests. It is safe for concurrent use.
type Factory struct {
	cfg      Config
	dir      Directory
	meetings directory.MeetingStore
	log      *slog.Logger
	ids      *idPools
	sealer   *accessKeySealer
	pubKey   []byte
	guesses  guessLimiter

	// orgLocks serializes commands per organizer, so that the meeting
	// count limit and the personal meeting are checked and changed
	// atomically without a store-wide lock.
	orgLocks sync.Map // organizer -> *sync.Mutex
}

// New returns a Factory.
func New(cfg Config, dir Directory, meetings directory.MeetingStore, log *slog.Logger) (*Factory, error) {
	if cfg.Codec == nil {
		return nil, errors.New("focusfactory: no conference-ID codec")
	}
	if cfg.PasscodeKey == nil {
		return nil, errors.New("focusfactory: no passcode key")
	}
	if cfg.Rand == nil {
		cfg.Rand = confid.CryptoRand{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxMeetingsPerOrganizer <= 0 {
		cfg.MaxMeetingsPerOrganizer = 1000
	}
	sealer, err := newAccessKeySealer(cfg.AccessKeySecret)
	if err != nil {
		return nil, err
	}
	pub := cfg.PasscodeKey.PublicKey().Bytes()
	f := &Factory{cfg: cfg, dir: dir, meetings: meetings, log: log, sealer: sealer, pubKey: pub}
	f.ids = newIDPools(cfg.Codec, cfg.Allocator, cfg.Rand, meetings)
	return f, nil
}

// Handles reports whether req is addressed to a Focus Factory: its
// Request-URI carries the gruu parameter and opaque=app:conf:focusfactory.
func Handles(req *sip.Request) bool {
	_, gruu := req.Recipient.UriParams.Get("gruu")
	op, _ := req.Recipient.UriParams.Get("opaque")
	return gruu && op == c3p.OpaqueFocusFactory
}

// ServeSERVICE answers one SERVICE request to a Focus Factory. user is the
// address-of-record the request authenticated as; the caller has already
// challenged requests that need credentials. The response is 200 OK with a
// C3P response, success or failure, unless the request is not C3P at all.
func (f *Factory) ServeSERVICE(ctx context.Context, req *sip.Request, user string) *sip.Response {
	creq, bad := f.parse(req)
	if bad != nil {
		return bad
	}
	res, fail := f.dispatch(ctx, req, user, creq)
	if fail != nil {
		return f.answer(req, fail.response(creq), fail.diag, fail.detail)
	}
	return f.answer(req, res, 0, "")
}

// parse reads the C3P request of a SERVICE, or returns the response that
// refuses it.
func (f *Factory) parse(req *sip.Request) (*c3p.Request, *sip.Response) {
	if req.Method != "SERVICE" {
		return nil, f.reject(req, 405, "Method Not Allowed", "the Focus Factory takes SERVICE requests only", 0)
	}
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(mediaType(ct.Value()), c3p.ContentType) {
		res := f.reject(req, 415, "Unsupported Media Type", "the body must be "+c3p.ContentType, 0)
		res.AppendHeader(sip.NewHeader("Accept", c3p.ContentType))
		return nil, res
	}
	body := req.Body()
	if len(body) > c3p.MaxBodySize {
		return nil, f.reject(req, 413, "Request Entity Too Large",
			fmt.Sprintf("C3P body of %d bytes exceeds %d", len(body), c3p.MaxBodySize), c3p.DiagParseFailed)
	}
	creq, err := c3p.ParseRequest(body)
	if err != nil {
		fail, ok := c3p.FailureFor(err)
		if !ok {
			return nil, f.reject(req, 400, "Bad Request", err.Error(), c3p.DiagnosticFor(err))
		}
		return nil, f.answer(req, fail.Response, fail.Diagnostic, err.Error())
	}
	return creq, nil
}

// failure is a refused command: the C3P reason, the ms-diagnostics code and
// a human-readable detail for the Warning header.
type failure struct {
	reason string
	diag   c3p.Diagnostic
	detail string
	// cmd, when set, is the failure response's command element, for
	// failures that carry data (attempts left).
	cmd c3p.Command
}

func (e *failure) response(req *c3p.Request) *c3p.Response {
	return c3p.NewFailure(req.Header, req.Command.CommandName(), e.reason, e.diag).Response
}

// C3P failure reasons. otherFailure is [MS-CONFPRO] §2.2.3.8's; the others
// follow UCMA's CommandFailureReasons names in the protocol's camel case.
const (
	reasonOther          = c3p.ReasonOtherFailure
	reasonUnauthorized   = "unauthorized"
	reasonNotFound       = "conferenceDoesNotExist"
	reasonMalformed      = "requestMalformed"
	reasonExists         = "conferenceAlreadyExists"
	reasonTooManyMeeting = "tooManyConferences"
)

func refuse(reason string, d c3p.Diagnostic, format string, a ...any) *failure {
	return &failure{reason: reason, diag: d, detail: fmt.Sprintf(format, a...)}
}

// dispatch checks who is asking and runs the command.
func (f *Factory) dispatch(ctx context.Context, req *sip.Request, user string, creq *c3p.Request) (*c3p.Response, *failure) {
	if user == "" {
		user = f.aor(req.From().Address) // authentication is off: trust From, as the proxy does
	}
	owner := f.aor(req.Recipient)
	switch {
	case !sameURI(f.canonical(creq.From), user):
		return nil, refuse(reasonUnauthorized, c3p.DiagBadFrom, "C3P from %q is not the authenticated user %s", creq.From, user)
	case !strings.EqualFold(f.canonical(creq.To), owner) || !isFactoryURI(creq.To):
		return nil, refuse(reasonMalformed, c3p.DiagBadTo, "C3P to %q is not the Focus Factory of the Request-URI", creq.To)
	case !strings.EqualFold(owner, user):
		return nil, refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s may not use the Focus Factory of %s", user, owner)
	}
	org, fail := f.organizer(ctx, user)
	if fail != nil {
		return nil, fail
	}
	var cmd c3p.Command
	switch c := creq.Command.(type) {
	case *c3p.GetConferencingCapabilities:
		cmd, fail = f.capabilities(ctx, org)
	case *c3p.GetAvailableMCUTypes:
		cmd = &c3p.GetAvailableMCUTypes{MCUTypes: mcuTypes()}
	case *c3p.AddConference:
		cmd, fail = f.addConference(ctx, org, c)
	case *c3p.GetConference:
		cmd, fail = f.getConference(ctx, org, c)
	case *c3p.ModifyConference:
		cmd, fail = f.modifyConference(ctx, org, c)
	case *c3p.DeleteConference:
		cmd, fail = f.deleteConference(ctx, org, c)
	case *c3p.GetConferenceSummaries:
		cmd, fail = f.summaries(ctx, org)
	case *c3p.ResolveConference, *c3p.VerifyPasscode, *c3p.VerifyPIN:
		return nil, refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s is served to trusted services only", creq.Command.CommandName())
	default:
		return nil, refuse(reasonOther, c3p.DiagNotImplemented, "%s is not a Focus Factory command", creq.Command.CommandName())
	}
	if fail != nil {
		return nil, fail
	}
	return c3p.NewResponse(creq.Header, c3p.CodeSuccess, cmd), nil
}

// organizer is an enterprise user allowed to schedule, with his policy.
type organizer struct {
	user   directory.User
	policy directory.MeetingPolicy
	pool   directory.Pool
}

// organizer loads the requesting user and checks that he may schedule:
// only enabled enterprise users of this organization may (seed 003,
// "Meeting Creation"); federated and anonymous users have no directory
// entry here.
func (f *Factory) organizer(ctx context.Context, uri string) (organizer, *failure) {
	u, err := f.dir.User(ctx, uri)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return organizer{}, refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s is not an enterprise user of this organization", uri)
	case err != nil:
		f.log.ErrorContext(ctx, "loading organizer", "user", uri, "err", err)
		return organizer{}, refuse(reasonOther, 0, "directory unavailable")
	case !u.Enabled:
		return organizer{}, refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s is disabled", uri)
	}
	o := organizer{user: u}
	name := u.MeetingPolicy
	if name == "" {
		name = f.cfg.DefaultPolicy
	}
	if name != "" {
		if o.policy, err = f.dir.MeetingPolicy(ctx, name); err != nil && !errors.Is(err, directory.ErrNotFound) {
			f.log.ErrorContext(ctx, "loading meeting policy", "policy", name, "err", err)
			return organizer{}, refuse(reasonOther, 0, "directory unavailable")
		}
	}
	if o.pool, err = f.dir.Pool(ctx, u.Pool); err != nil {
		f.log.ErrorContext(ctx, "loading organizer's pool", "pool", u.Pool, "err", err)
		return organizer{}, refuse(reasonOther, 0, "directory unavailable")
	}
	return o, nil
}

// lock serializes the commands of one organizer.
func (f *Factory) lock(organizer string) func() {
	m, _ := f.orgLocks.LoadOrStore(organizer, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// answer wraps a C3P response in a 200 OK.
func (f *Factory) answer(req *sip.Request, res *c3p.Response, d c3p.Diagnostic, detail string) *sip.Response {
	body, err := res.Marshal()
	if err != nil {
		f.log.Error("marshalling C3P response", "err", err)
		return f.reject(req, 500, "Server Internal Error", "could not encode the C3P response", 0)
	}
	out := sip.NewResponseFromRequest(req, 200, "OK", body)
	out.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	if d != 0 {
		out.AppendHeader(sip.NewHeader(d.HeaderName(), d.HeaderValue(f.cfg.Hostname)))
	}
	if detail != "" {
		out.AppendHeader(sip.NewHeader("Warning", `399 `+f.cfg.Hostname+` "`+warningSafe(detail)+`"`))
	}
	return out
}

// reject answers without a C3P body.
func (f *Factory) reject(req *sip.Request, code int, reason, detail string, d c3p.Diagnostic) *sip.Response {
	res := sipx.Reject(req, code, reason, f.cfg.Hostname, detail)
	if d != 0 {
		res.AppendHeader(sip.NewHeader(d.HeaderName(), d.HeaderValue(f.cfg.Hostname)))
	}
	return res
}

// mcuTypes are the MCU types Parley's pools run.
func mcuTypes() []string { return []string{c3p.MCUTypeChat, c3p.MCUTypeAudioVideo} }

// aor is the address-of-record of a SIP URI as the directory spells it,
// with an alias host replaced by the organization's domain.
func (f *Factory) aor(u sip.Uri) string {
	host := strings.ToLower(u.Host)
	if f.cfg.Local != nil {
		if d, ok := f.cfg.Local.Canonical(host); ok {
			host = d
		}
	}
	return "sip:" + strings.ToLower(u.User) + "@" + host
}

// canonical is a URI string's address-of-record (see aor), or the URI
// without its parameters when it does not parse.
func (f *Factory) canonical(s string) string {
	var u sip.Uri
	if err := sip.ParseUri(baseURI(s), &u); err != nil {
		return baseURI(s)
	}
	return f.aor(u)
}

// mediaType is a Content-Type value without its parameters.
func mediaType(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.TrimSpace(v)
}

// baseURI is a URI without parameters or angle brackets, lower-cased host.
func baseURI(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimSuffix(strings.TrimPrefix(u, "<"), ">")
	u, _, _ = strings.Cut(u, ";")
	return u
}

// isFactoryURI reports whether a URI string carries the Focus Factory
// opaque parameter.
func isFactoryURI(u string) bool {
	_, params, _ := strings.Cut(u, ";")
	has := false
	for p := range strings.SplitSeq(params, ";") {
		if strings.EqualFold(strings.TrimSpace(p), "opaque="+c3p.OpaqueFocusFactory) {
			has = true
		}
	}
	return has
}

// sameURI compares two SIP URIs by user and host, ignoring parameters and
// the host's case.
func sameURI(a, b string) bool { return strings.EqualFold(baseURI(a), baseURI(b)) }

// warningSafe keeps a Warning text inside its quoted string.
func warningSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
