package attendant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx"
)

// Defaults of ServerConfig.
const (
	DefaultMaxCalls       = 1000
	DefaultHandoffTimeout = 15 * time.Second
	DefaultMaxHold        = 60 * time.Minute
	// backendTimeout bounds one question to the front end or the Focus.
	backendTimeout = 10 * time.Second
	// allowed are the methods the attendant takes: NOTIFY reports how a
	// referred enterprise phone fares (RFC 3515 §2.4.4).
	allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY"
)

// AccessNumbers finds the Conferencing Attendant contact object a call is
// for (seed 000, "Contact Objects"): its SIP URI is the Request-URI the
// front end routes to the attendant.
type AccessNumbers interface {
	AccessNumberByURI(ctx context.Context, uri string) (directory.AccessNumber, error)
}

// ServerConfig configures the attendant's SIP side (seed 000: the
// Conferencing Attendant listens on TCP 5072).
type ServerConfig struct {
	// Listen is the TCP address, e.g. 127.0.0.1:5072.
	Listen string
	// Hostname names the attendant in Via, Contact and Warning.
	Hostname string
	// Flow tunes each call's dialogue.
	Flow Config
	// Verify checks a request's trust signature and returns the signing
	// service. The attendant answers calls that a trusted service placed
	// (Services), never anybody who can reach its port.
	Verify func(req *sip.Request) (service string, err error)
	// Services may place calls to the attendant: the Mediation Server.
	Services []string
	// SRTP is the media encryption policy of Services' calls; the
	// Mediation Server offers SDES-keyed SRTP (seed 001 step 6).
	SRTP sdpoa.SRTPPolicy
	// EnterpriseServices may place calls too, and vouch for who the
	// caller is in P-Asserted-Identity (RFC 3325 §9.1): the front end,
	// relaying a registered user's phone it authenticated (seed 001,
	// end). Such a caller is asked the conference ID only, never held,
	// and handed to the A/V MCU by REFER. The assertion is believed from
	// these services only (RFC 3325 §4); their calls without one are
	// refused. Nil means {DefaultEnterpriseService}; an empty list, none.
	EnterpriseServices []string
	// EnterpriseSRTP is the media policy of EnterpriseServices' calls,
	// whose media comes straight from the phone on the trusted network:
	// the phone chooses. The zero value (SRTPOff) means SRTPOptional:
	// refusing a phone's keys would only downgrade it.
	EnterpriseSRTP sdpoa.SRTPPolicy
	// MaxCalls bounds the calls in progress; past it INVITEs get 503.
	MaxCalls int
	// HandoffTimeout is how long, after the Focus took the caller, the
	// attendant waits for the Mediation Server to drop its leg (the A/V
	// MCU replaced it) before it gives up on the caller.
	HandoffTimeout time.Duration
	// MaxHold bounds the time on hold waiting for a leader.
	MaxHold time.Duration
	// Guard throttles the guessing of conference IDs, passcodes and PINs.
	Guard GuardConfig
	// RejoinWindow is how long after his hand-off a caller who calls
	// again from the same number is offered his meeting back (when
	// Flow.RejoinOffer names the prompt); 0 means DefaultRejoinWindow.
	RejoinWindow time.Duration
	// Now is the clock of the guard and the re-join memory; nil means
	// time.Now.
	Now func() time.Time
}

// Stats counts what the attendant did since it started, for metrics.
type Stats struct {
	// Calls were answered; Refused were INVITEs for a new call that the
	// attendant refused (untrusted, unknown number, media, call limit).
	Calls, Refused uint64
	// Joined callers were added to their meeting by the Focus.
	Joined uint64
	// Throttled wrong answers were held back by the guard; GuessHangups
	// calls it ended for guessing.
	Throttled, GuessHangups uint64
}

// stats are Stats' live counters.
type stats struct {
	calls, refused, joined, throttled, guessHangups atomic.Uint64
}

// Server is the Conferencing Attendant: it answers calls to access
// numbers and runs a Flow for each.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	numbers AccessNumbers
	backend Backend
	confs   Conferences
	media   Media
	guard   *Guard
	rejoins *rejoins
	stats   stats

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	cache  *sipgo.DialogServerCache
	ln     net.Listener
	addr   string

	mu      sync.Mutex
	calls   map[string]*call // by dialog ID
	closing bool
	wg      sync.WaitGroup
}

// NewServer builds the attendant; Listen then Serve run it.
func NewServer(cfg ServerConfig, numbers AccessNumbers, backend Backend, confs Conferences, media Media, log *slog.Logger) (*Server, error) {
	switch {
	case numbers == nil || backend == nil || confs == nil || media == nil:
		return nil, errors.New("attendant: a directory, a front end, the Focus and media are required")
	case cfg.Verify == nil:
		return nil, errors.New("attendant: no trust verifier")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.HandoffTimeout <= 0 {
		cfg.HandoffTimeout = DefaultHandoffTimeout
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.RejoinWindow <= 0 {
		cfg.RejoinWindow = DefaultRejoinWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EnterpriseServices == nil {
		cfg.EnterpriseServices = []string{DefaultEnterpriseService}
	}
	if cfg.EnterpriseSRTP == sdpoa.SRTPOff {
		cfg.EnterpriseSRTP = sdpoa.SRTPOptional
	}
	if cfg.Guard.Now == nil {
		cfg.Guard.Now = cfg.Now
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("attendant: listen %q: %w", cfg.Listen, err)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = host
	}
	s := &Server{
		cfg: cfg, log: log, numbers: numbers, backend: backend, confs: confs, media: media,
		guard: NewGuard(cfg.Guard), rejoins: newRejoins(cfg.RejoinWindow, cfg.Now),
		calls: make(map[string]*call),
	}
	if s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("Parley Conferencing Attendant"), sipgo.WithUserAgentHostname(cfg.Hostname)); err != nil {
		return nil, fmt.Errorf("attendant: user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("attendant: server: %w", err)
	}
	if s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientHostname(cfg.Hostname)); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("attendant: client: %w", err)
	}
	s.srv.OnInvite(s.serveINVITE)
	s.srv.OnAck(s.serveACK)
	s.srv.OnBye(s.serveBYE)
	s.srv.OnNotify(s.serveNOTIFY)
	sipx.AnswerBasics(s.srv, s.cfg.Hostname, "the attendant", allowed)
	return s, nil
}

// Listen opens the TCP listener.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("attendant: %w", err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.cache = sipgo.NewDialogServerCache(s.client, s.contact())
	return nil
}

// Addr is the listen address, after Listen.
func (s *Server) Addr() string { return s.addr }

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Stats returns the counters since the server started.
func (s *Server) Stats() Stats {
	return Stats{
		Calls: s.stats.calls.Load(), Refused: s.stats.refused.Load(), Joined: s.stats.joined.Load(),
		Throttled: s.stats.throttled.Load(), GuessHangups: s.stats.guessHangups.Load(),
	}
}

// Serve answers calls until ctx is done, then hangs up the calls in
// progress (with goodbye unsaid: the server is stopping) and closes.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.ServeTCP(s.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	s.mu.Lock()
	s.closing = true
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.post(shutdown{})
	}
	s.wg.Wait()
	_ = s.ln.Close()
	_ = s.ua.Close()
	if err != nil {
		return fmt.Errorf("attendant: %w", err)
	}
	return nil
}

// contact is the attendant's Contact: its listener.
func (s *Server) contact() sip.ContactHeader {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: "attendant", Host: host, Port: p, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	return sip.ContactHeader{Address: u}
}

// refuse answers an INVITE for a new call with a failure and counts it.
func (s *Server) refuse(tx sip.ServerTransaction, res *sip.Response) {
	s.stats.refused.Add(1)
	_ = tx.Respond(res)
}

func (s *Server) reject(tx sip.ServerTransaction, req *sip.Request, code int, reason, detail string) {
	_ = tx.Respond(sipx.Reject(req, code, reason, s.cfg.Hostname, detail))
}

// serveINVITE answers a call to an access number, or a re-INVITE.
func (s *Server) serveINVITE(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.reject(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.reinvite(req, tx)
			return
		}
	}
	service, err := s.cfg.Verify(req)
	var user *User
	policy := s.cfg.SRTP
	switch {
	case err != nil:
		s.log.Warn("attendant: refused an unsigned or badly signed call", "source", req.Source(), "err", err)
		s.refuse(tx, sipx.Reject(req, 403, "Forbidden", s.cfg.Hostname, "the attendant answers calls from trusted services only"))
		return
	case slices.Contains(s.cfg.EnterpriseServices, service):
		u, err := assertedUser(req)
		if err != nil {
			s.log.Warn("attendant: refused a call without an enterprise identity", "service", service, "err", err)
			s.refuse(tx, sipx.Reject(req, 403, "Forbidden", s.cfg.Hostname, "service "+service+" asserted no enterprise user: "+err.Error()))
			return
		}
		user, policy = &u, s.cfg.EnterpriseSRTP
	case !slices.Contains(s.cfg.Services, service):
		s.refuse(tx, sipx.Reject(req, 403, "Forbidden", s.cfg.Hostname, "service "+service+" may not call the attendant"))
		return
	}
	if req.Contact() == nil {
		s.refuse(tx, sipx.Reject(req, 400, "Bad Request", s.cfg.Hostname, "missing Contact header field"))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	recipient := req.Recipient.Clone()
	recipient.UriParams, recipient.Headers, recipient.Port = nil, nil, 0
	number, err := s.numbers.AccessNumberByURI(ctx, strings.ToLower(recipient.String()))
	switch {
	case errors.Is(err, directory.ErrNotFound):
		s.refuse(tx, sipx.Reject(req, 404, "Not Found", s.cfg.Hostname, "no access number is "+recipient.String()))
		return
	case err != nil:
		s.log.ErrorContext(ctx, "attendant: access number lookup", "uri", recipient.String(), "err", err)
		s.refuse(tx, sipx.Reject(req, 500, "Server Internal Error", s.cfg.Hostname, "the directory cannot be read"))
		return
	}
	session := sdpoa.NewSession("parley")
	answer, spec, fail := negotiate(req, s.media.Addr(), policy, session, s.cfg.Hostname)
	if fail != nil {
		s.refuse(tx, fail)
		return
	}
	s.mu.Lock()
	if s.closing || len(s.calls) >= s.cfg.MaxCalls {
		s.mu.Unlock()
		res := sipx.Reject(req, 503, "Service Unavailable", s.cfg.Hostname, "the attendant is at its call limit")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		s.refuse(tx, res)
		return
	}
	s.mu.Unlock()
	dlg, err := s.cache.ReadInvite(req, tx)
	if err != nil {
		// ReadInvite fails before it stores the dialog: nothing to close.
		s.refuse(tx, sipx.Reject(req, 500, "Server Internal Error", s.cfg.Hostname, "dialog: "+err.Error()))
		return
	}
	c := newCall(s, dlg, req, number, user)
	spec.OnDTMF = func(k byte) { c.post(Digit{Key: k}) }
	spec.OnInactive = func() { c.post(gone{why: "media stopped"}) }
	leg, err := s.media.Open(dlg.ID, spec)
	if err != nil {
		s.log.Warn("attendant: no media leg", "err", err)
		_ = dlg.Close()
		res := sipx.Reject(req, 503, "Service Unavailable", s.cfg.Hostname, "no media: "+err.Error())
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		s.refuse(tx, res)
		return
	}
	c.leg = leg
	// The check above spared the work; this one, under the same lock as
	// the insertion and wg.Add, is the one that holds: two INVITEs cannot
	// both take the last place, and none starts after Serve began waiting.
	s.mu.Lock()
	if s.closing || len(s.calls) >= s.cfg.MaxCalls {
		s.mu.Unlock()
		leg.Close()
		_ = dlg.Close()
		res := sipx.Reject(req, 503, "Service Unavailable", s.cfg.Hostname, "the attendant is at its call limit")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		s.refuse(tx, res)
		return
	}
	s.calls[dlg.ID] = c
	s.wg.Add(1)
	s.mu.Unlock()
	contact := s.contact()
	if err := dlg.Respond(200, "OK", answer, sip.NewHeader("Content-Type", "application/sdp"), &contact); err != nil {
		s.log.Info("attendant: the call was not set up", "err", err)
		s.forget(c)
		leg.Close()
		_ = dlg.Close()
		s.wg.Done()
		return
	}
	s.stats.calls.Add(1)
	go func() {
		defer s.wg.Done()
		c.run()
	}()
}

// reinvite keeps the call as it is: the attendant's leg is short-lived and
// its media does not move; a hold or refresh is answered with the same
// description.
func (s *Server) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.match(req)
	if c == nil {
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	s.reject(tx, req, 488, "Not Acceptable Here", "the attendant's media cannot change")
}

func (s *Server) serveACK(req *sip.Request, tx sip.ServerTransaction) {
	if err := s.cache.ReadAck(req, tx); err != nil {
		s.log.Debug("attendant: stray ACK", "err", err)
	}
}

func (s *Server) serveBYE(req *sip.Request, tx sip.ServerTransaction) {
	c := s.match(req)
	if err := s.cache.ReadBye(req, tx); err != nil {
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	if c != nil {
		reason := "bye"
		if h := req.GetHeader("Reason"); h != nil && strings.Contains(strings.ToLower(h.Value()), "replaced") {
			reason = "replaced"
		}
		c.post(gone{why: reason, bye: true})
	}
}

func (s *Server) match(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *Server) forget(c *call) {
	s.mu.Lock()
	delete(s.calls, c.id)
	s.mu.Unlock()
}
