// Package proxy is the RFC 3261 §16 stateful proxy of Parley's front end: it
// authenticates our users' requests (digest 407), finds where a request must
// go (the location service for our AORs and GRUUs, the Route set for requests
// inside a dialog, the Request-URI for foreign domains when allowed), forks to
// every target in parallel with a Record-Route of its own, relays responses
// and picks the best final one (§16.7), and CANCELs what is left over.
//
// sipgo provides the transaction and transport layers; this package is the
// proxy core on top of them. One response context lives in the goroutine of
// the server transaction's handler, which sipgo ends when the handler
// returns, so ServeSIP blocks until the forwarded transaction is complete.
// ACKs of dialogs the proxy record-routed can skip sipgo's transaction
// layer altogether through ReadFilter, installed as the transport layer's
// read filter. What the proxy sends shares the header values it does not
// change with what it received (message.go).
package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultBranchTimeout is how long an INVITE branch may ring without a
	// final response. It is a no-answer timer counted from the moment the
	// branch starts, not RFC 3261 §16.8 Timer C (which restarts on every
	// provisional response and must exceed three minutes): a phone that rings
	// forever is the common case, and one minute is what users expect before
	// a call gives up.
	DefaultBranchTimeout = 60 * time.Second

	// DefaultMaxForwards is put into requests that arrive without
	// Max-Forwards (RFC 3261 §16.6 step 3).
	DefaultMaxForwards = 70
)

// Reasons a stray response is not forwarded; they only reach the log.
var (
	errNotForwardable = errors.New("proxy: stray response is not a 2xx to INVITE")
	errNoVia          = errors.New("proxy: no Via left to forward to")
	errNotOurVia      = errors.New("proxy: top Via is not ours")
)

// Target is one place a request is forked to.
type Target struct {
	// URI becomes the Request-URI of the branch: a registered contact.
	URI sip.Uri
	// Source is the "received" address (host:port) the binding was
	// registered from. When set the branch is sent there rather than to the
	// URI's host, so that clients behind NAT are reached and a TCP or TLS
	// client's own connection is reused (RFC 5626 §5.3 in spirit).
	Source string
	// Transport of Source ("UDP", "TCP", "TLS", "WS", "WSS"); empty means
	// the transport the URI names.
	Transport string
	// Path is the route set recorded at registration (RFC 3327), first hop
	// first. When present it becomes the branch's Route header and Source
	// is ignored.
	Path []sip.Uri
	// Q is the binding's preference; branches are created in decreasing q
	// order but all of them are tried in parallel.
	Q float64
	// Finish, when set, completes the branch to this target after the
	// proxy built it, given the identity the proxy authenticated ("" for
	// none). It is how a next hop inside the trust domain gets the
	// caller's asserted identity (RFC 3325 §5: the proxy adds
	// P-Asserted-Identity for the user it authenticated, and removes any
	// the user put in himself). An error is logged and the branch goes as
	// built: the next hop then sees an unasserted request.
	Finish func(branch *sip.Request, user string) error
}

// Locator is the location service (the registrar implements it).
type Locator interface {
	// Lookup returns the live bindings of a canonical AOR
	// ("sip:user@domain").
	Lookup(aor string) []Target
	// LookupGRUU resolves a GRUU Request-URI, as it appeared in the request
	// (sip.Uri.String), to the one contact it stands for.
	LookupGRUU(uri string) (Target, bool)
}

// Config holds the proxy's settings. Zero numeric fields take the defaults
// documented on each field.
type Config struct {
	// Hostname is the host the proxy puts into Via and Record-Route, e.g.
	// "127.0.0.1" or the pool FQDN. Empty lets the transport fill in the
	// local address of the connection (Via only; Record-Route needs it).
	Hostname string
	// RecordRoute keeps the proxy on the path of dialogs it helps create
	// (RFC 3261 §16.6 step 4). The zero Config does not record-route; the
	// front end always sets it.
	RecordRoute bool
	// ForwardOutOfDomain lets requests for foreign domains be forwarded.
	// When false they are refused with 403 and a Warning that says why.
	// Requests inside a dialog the proxy record-routed are always forwarded.
	ForwardOutOfDomain bool
	// BranchTimeout is the INVITE no-answer timeout per branch
	// (DefaultBranchTimeout when zero). When every branch timed out the
	// caller gets 408 Request Timeout.
	BranchTimeout time.Duration
	// MaxForwards is the Max-Forwards value put into requests that lack one
	// (DefaultMaxForwards when zero).
	MaxForwards int
	// MaxInFlight bounds the requests being proxied at once; past it new
	// ones are answered 503 Service Unavailable with Retry-After: 5 at once
	// rather than queued (RFC 3261 §21.5.4). Zero means no bound.
	MaxInFlight int
	// Authenticate checks a request from one of our users and returns the
	// authenticated identity (an AOR such as "sip:alice@example.com" or a
	// bare user name), or the response to send instead (407 challenge,
	// 403...). nil turns authentication off.
	Authenticate func(ctx context.Context, req *sip.Request, source string) (user string, reject *sip.Response)
	// UserExists reports whether a canonical AOR belongs to a user of ours;
	// it separates 404 Not Found from 480 Temporarily Unavailable when the
	// AOR has no binding. nil means every AOR exists (480).
	UserExists func(ctx context.Context, aor string) bool
	// Parser parses the datagrams ReadFilter looks at; nil means sipgo's
	// defaults. Give it the transport layer's, so that both accept the same
	// messages.
	Parser *sip.Parser
	// RouteSecret keys the token the proxy puts into its Record-Route URI,
	// so that only requests inside dialogs it really record-routed skip
	// authentication and the foreign-domain policy. Empty means a random key
	// per process (dialogs then do not survive a restart unchallenged).
	RouteSecret []byte
}

// Proxy is the stateful proxy. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	local  *sipx.Local
	loc    Locator
	client *sipgo.Client
	tp     *sip.TransportLayer
	log    *slog.Logger

	seed     maphash.Seed             // keys the loop-detection hash of our Via branches
	inFlight atomic.Int64             // requests being proxied (MaxInFlight)
	udpLocal atomic.Pointer[sip.Addr] // the UDP listener requests arrive on
	lastConn atomic.Pointer[connAddr] // the local address of the last connection asked about
	ports    portCache
	macs     sync.Pool   // *tokenMAC keyed with cfg.RouteSecret
	parser   *sip.Parser // for ReadFilter
	invites  inviteSet   // INVITEs over UDP whose own ACK may still come (acklane.go)
	laneOn   atomic.Bool // ReadFilter is in use
}

// New returns a proxy. client sends the forwarded requests; it must belong
// to the same sipgo.UserAgent whose server calls ServeSIP.
func New(cfg Config, local *sipx.Local, loc Locator, client *sipgo.Client, log *slog.Logger) *Proxy {
	if cfg.BranchTimeout <= 0 {
		cfg.BranchTimeout = DefaultBranchTimeout
	}
	if cfg.MaxForwards <= 0 {
		cfg.MaxForwards = DefaultMaxForwards
	}
	if len(cfg.RouteSecret) == 0 {
		cfg.RouteSecret = make([]byte, 32)
		_, _ = rand.Read(cfg.RouteSecret) // crypto/rand.Read never fails (Go 1.24+)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg:    cfg,
		local:  local,
		loc:    loc,
		client: client,
		tp:     client.TransportLayer(),
		log:    log,
		seed:   maphash.MakeSeed(),
		parser: cfg.Parser,
	}
	if p.parser == nil {
		p.parser = sip.NewParser()
	}
	p.ports.tp = p.tp
	return p
}

// InFlight reports how many requests are being proxied now.
func (p *Proxy) InFlight() int64 { return p.inFlight.Load() }

// ServeSIP proxies one request. It is a sipgo request handler for every
// method except REGISTER, and it returns only when the request's response
// context is finished, because sipgo ends the server transaction when its
// handler returns.
func (p *Proxy) ServeSIP(req *sip.Request, tx sip.ServerTransaction) {
	switch {
	case req.IsAck():
		// An ACK to a 2xx is a request of its own, forwarded statelessly
		// (RFC 3261 §16.6); an ACK to our non-2xx answer never gets here
		// while its INVITE transaction lives.
		p.forwardACK(req)
		return
	case req.IsCancel():
		// sipgo answers a CANCEL that matches an INVITE transaction itself
		// (200, then 487 on the INVITE) and we see it through OnCancel.
		// One that matches nothing has no response context to act on
		// (RFC 3261 §16.10).
		p.respond(tx, sipx.Reject(req, 481, "Call/Transaction Does Not Exist", p.cfg.Hostname, "no transaction matches this CANCEL"))
		return
	case req.Method == sip.REGISTER:
		p.log.Error("REGISTER routed to the proxy", "call_id", callID(req))
		p.respond(tx, sipx.Reject(req, 500, "Server Internal Error", p.cfg.Hostname, "REGISTER is not served here"))
		return
	}

	if tx == nil {
		p.log.Error("request without a server transaction", "method", req.Method, "call_id", callID(req))
		return
	}
	var tracked string
	if req.IsInvite() {
		tracked = p.trackInvite(req, tx)
	}
	n := p.inFlight.Add(1)
	done := false
	release := func() {
		if !done {
			done = true
			p.inFlight.Add(-1)
		}
	}
	defer release()
	if limit := p.cfg.MaxInFlight; limit > 0 && n > int64(limit) {
		p.log.Debug("overloaded: request refused", "method", req.Method, "in_flight", n)
		res := sipx.Reject(req, 503, "Service Unavailable", p.cfg.Hostname, "server overloaded")
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		p.respond(tx, res)
		return
	}
	p.noteListener(req, tx)

	final := p.proxy(txContext{tx}, req, tx, tracked)
	release()
	p.awaitACK(req, tx, final)
}

// txContext is a context that is done when the server transaction is,
// for the lookups and connection set-up done on its behalf. It costs no
// goroutine, timer or callback. (sipgo's sip.ServerTransactionContext
// would do, but in v1.7.2 it returns a context that is already canceled:
// it cancels when OnTerminate reports success.)
type txContext struct{ tx sip.ServerTransaction }

func (c txContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c txContext) Done() <-chan struct{}       { return c.tx.Done() }
func (c txContext) Value(any) any               { return nil }

func (c txContext) Err() error {
	select {
	case <-c.tx.Done():
		return context.Canceled
	default:
		return nil
	}
}

// proxy runs the request through RFC 3261 §16.3–§16.7 and returns the status
// code of the final response sent upstream (0 if none was). tracked is the
// INVITE's key in p.invites, "" if none.
func (p *Proxy) proxy(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, tracked string) int {
	pl := p.plan(ctx, req)
	if pl.reject != nil {
		p.respond(tx, pl.reject)
		if pl.reject.StatusCode >= 300 {
			p.log.DebugContext(ctx, "request refused", "method", req.Method, "call_id", callID(req),
				"code", pl.reject.StatusCode, "source", req.Source())
		}
		return pl.reject.StatusCode
	}
	return p.fork(ctx, req, tx, pl, tracked)
}

// awaitACK keeps an INVITE server transaction that ended with a non-2xx
// answer on a reliable transport alive until the ACK arrives: sipgo
// terminates such a transaction as soon as the handler returns, and the ACK
// (which carries the INVITE's branch, RFC 3261 §17.1.1.3) would then reach
// ServeSIP as a new request. Over UDP sipgo keeps the transaction itself.
func (p *Proxy) awaitACK(req *sip.Request, tx sip.ServerTransaction, final int) {
	if !req.IsInvite() || final < 300 || tx == nil || !sip.IsReliable(req.Transport()) {
		return
	}
	t := time.NewTimer(sip.Timer_H)
	defer t.Stop()
	select {
	case <-tx.Done():
	case <-t.C:
	}
}

// respond sends a response on tx, logging (not returning) a failure: there
// is nobody else to tell.
func (p *Proxy) respond(tx sip.ServerTransaction, res *sip.Response) {
	if tx == nil {
		return
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("respond failed", "code", res.StatusCode, "call_id", callIDRes(res), "error", err)
	}
}

// noteListener remembers the UDP socket requests arrive on, so that
// forwarded UDP requests leave from it too: the Via and Record-Route then
// name a port the peer can answer, and NAT bindings the peer opened to it
// are reused.
func (p *Proxy) noteListener(req *sip.Request, tx sip.ServerTransaction) {
	if sip.NetworkToLower(req.Transport()) != "udp" {
		return
	}
	cx, ok := tx.(interface{ Connection() sip.Connection })
	if !ok || cx.Connection() == nil {
		return
	}
	if p.udpLocal.Load() != nil {
		return
	}
	host, port, err := sip.ParseAddr(cx.Connection().LocalAddr().String())
	if err != nil {
		return
	}
	a := &sip.Addr{Hostname: host, Port: port}
	a.IP = parseIP(host)
	p.udpLocal.CompareAndSwap(nil, a)
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func callIDRes(res *sip.Response) string {
	if h := res.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
