package announcement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Defaults of Config.
const (
	// DefaultListen is the service's TCP address: OCS's Conference
	// Announcement Service listens on TCP 5073 (issue 6).
	DefaultListen = "127.0.0.1:5073"
	// DefaultMaxConferences bounds the meetings announced at once.
	DefaultMaxConferences = 1000
	// DefaultExpires is the subscription duration asked of the Focus: the
	// conference package's default of an hour (RFC 4575, "Subscription
	// Duration").
	DefaultExpires = time.Hour
	// DefaultMaxPending bounds a meeting's announcements waiting to be
	// sent; past it new ones are dropped (and counted).
	DefaultMaxPending = 256
	// DefaultRequestTimeout bounds one request to the Focus or the MCU.
	DefaultRequestTimeout = 5 * time.Second
)

// allowed is the Allow header of the service's answers.
const allowed = "INVITE, ACK, BYE, CANCEL, NOTIFY, OPTIONS"

// Signer signs the service's requests as a trusted service of the pool
// (internal/sipx/trust.Signer, service "announcement").
type Signer interface {
	Sign(req *sip.Request) error
}

// Config configures the service.
type Config struct {
	// Listen is the TCP address; empty means DefaultListen.
	Listen string
	// Hostname names the service in Via and Warning; empty means the
	// listen host.
	Hostname string
	// URI is the service's own SIP URI, the From of its subscriptions:
	// the Conference Announcement Service contact object's (seed 000,
	// sip:RtcApplication-<GUID>@<SIP domain>). Empty means
	// sip:announcement@Hostname.
	URI string
	// FrontEnd is the front end's TCP listener (host:port or a SIP URI):
	// the outbound proxy every subscription goes through (a loose Route,
	// RFC 3261 §8.1.2).
	FrontEnd string
	// Verify checks a request's trust signature and returns the signing
	// service. Only Services may invite the service.
	Verify func(req *sip.Request) (service string, err error)
	// Services may invite the service; empty means ["avmcu"].
	Services []string
	// Signer signs the service's SUBSCRIBE, INFO and BYE requests.
	Signer Signer
	// MaxConferences bounds the meetings served at once; past it INVITEs
	// get 503.
	MaxConferences int
	// Expires is the subscription duration asked of the Focus.
	Expires time.Duration
	// MaxPending bounds each meeting's queue of announcements.
	MaxPending int
	// RequestTimeout bounds one request to the Focus or the MCU.
	RequestTimeout time.Duration
}

// Stats counts what the service did since it started, for metrics.
type Stats struct {
	// Meetings were served (INVITEs accepted for a new meeting); Active
	// are served now; Refused INVITEs were answered with a failure.
	Meetings, Refused uint64
	Active            int
	// Announcements were played (the MCU answered success); Failed were
	// refused or unanswered; Dropped never left: the meeting's queue was
	// full, or the meeting ended first.
	Announcements, Failed, Dropped uint64
	// Resyncs are the times a roster was fetched again whole because a
	// document was missed or out of sequence.
	Resyncs uint64
}

type stats struct {
	meetings, refused, played, failed, dropped, resyncs atomic.Uint64
}

// Server is the Conference Announcement Service.
type Server struct {
	cfg      Config
	log      *slog.Logger
	frontEnd sip.Uri
	stats    stats
	reqID    atomic.Uint64

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dlgUA  *sipgo.DialogUA
	ln     net.Listener

	// ctx lives until the service stops; the meetings run under it.
	ctx    context.Context
	cancel context.CancelFunc
	served chan struct{} // closed when Serve has returned

	mu       sync.Mutex
	meetings map[string]*meeting   // by canonical focus URI
	dialogs  map[string]*dialogRef // MCU dialogs, by dialog ID
	subs     map[string]*meeting   // subscriptions, by Call-ID
	closing  bool
	serving  bool
	wg       sync.WaitGroup
}

// New builds the service; Listen then Serve run it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	switch {
	case cfg.Verify == nil:
		return nil, errors.New("announcement: no trust verifier")
	case cfg.Signer == nil:
		return nil, errors.New("announcement: no signer")
	case cfg.FrontEnd == "":
		return nil, errors.New("announcement: no front end")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if len(cfg.Services) == 0 {
		cfg.Services = []string{"avmcu"}
	}
	if cfg.MaxConferences <= 0 {
		cfg.MaxConferences = DefaultMaxConferences
	}
	if cfg.Expires <= 0 {
		cfg.Expires = DefaultExpires
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("announcement: listen %q: %w", cfg.Listen, err)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = host
	}
	if cfg.URI == "" {
		cfg.URI = "sip:announcement@" + cfg.Hostname
	}
	var self sip.Uri
	if err := sip.ParseUri(cfg.URI, &self); err != nil {
		return nil, fmt.Errorf("announcement: own URI %q: %w", cfg.URI, err)
	}
	fe, err := parseFrontEnd(cfg.FrontEnd)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, frontEnd: fe,
		served:   make(chan struct{}),
		meetings: make(map[string]*meeting),
		dialogs:  make(map[string]*dialogRef),
		subs:     make(map[string]*meeting),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("Parley Conference Announcement Service"),
		sipgo.WithUserAgentHostname(cfg.Hostname),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	); err != nil {
		return nil, fmt.Errorf("announcement: user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(log)); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("announcement: server: %w", err)
	}
	if s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientHostname(cfg.Hostname), sipgo.WithClientLogger(log)); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("announcement: client: %w", err)
	}
	s.srv.OnInvite(s.serveINVITE)
	s.srv.OnAck(s.serveACK)
	s.srv.OnBye(s.serveBYE)
	s.srv.OnNotify(s.serveNOTIFY)
	sipx.AnswerBasics(s.srv, s.cfg.Hostname, "the announcement service", allowed)
	return s, nil
}

// parseFrontEnd reads Config.FrontEnd as a loose-routing URI.
func parseFrontEnd(v string) (sip.Uri, error) {
	var u sip.Uri
	s := v
	if _, _, err := net.SplitHostPort(v); err == nil {
		s = "sip:" + v
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("announcement: front end %q: %w", v, err)
	}
	if u.Host == "" {
		return sip.Uri{}, fmt.Errorf("announcement: front end %q has no host", v)
	}
	if u.UriParams == nil {
		u.UriParams = sip.NewParams()
	}
	if _, ok := u.UriParams.Get("transport"); !ok {
		u.UriParams.Add("transport", "tcp")
	}
	u.UriParams.Add("lr", "")
	return u, nil
}

// Listen opens the TCP listener.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("announcement: %w", err)
	}
	s.ln = ln
	s.dlgUA = &sipgo.DialogUA{Client: s.client, ContactHDR: s.contact()}
	return nil
}

// Addr is the listen address, after Listen.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stats returns the counters since the service started.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	active := len(s.meetings)
	s.mu.Unlock()
	return Stats{
		Meetings: s.stats.meetings.Load(), Refused: s.stats.refused.Load(), Active: active,
		Announcements: s.stats.played.Load(), Failed: s.stats.failed.Load(),
		Dropped: s.stats.dropped.Load(), Resyncs: s.stats.resyncs.Load(),
	}
}

// Serve answers requests until ctx is done or Close is called, then ends
// every meeting's work (unsubscribing, hanging up the MCU's dialogs) and
// closes.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("announcement: Serve before Listen")
	}
	s.mu.Lock()
	if s.serving || s.closing {
		s.mu.Unlock()
		return errors.New("announcement: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()
	defer close(s.served)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.ServeTCP(s.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	case err = <-errc:
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	s.shutdown()
	if err != nil {
		return fmt.Errorf("announcement: %w", err)
	}
	return nil
}

// Close stops the service: Serve returns once every meeting's work has
// ended. Without Serve, it releases the listener.
func (s *Server) Close() error {
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	s.cancel()
	if serving {
		<-s.served
		return nil
	}
	s.shutdown()
	return nil
}

// shutdown ends the meetings and closes the transport. It runs once.
func (s *Server) shutdown() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	_ = s.ua.Close()
}

// contact is the service's Contact: its listener, or its Hostname when it
// listens on every address.
func (s *Server) contact() sip.ContactHeader {
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = s.cfg.Hostname
	}
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: "announcement", Host: host, Port: p, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	return sip.ContactHeader{Address: u}
}

// reject answers a request with a failure and a Warning saying why.
func (s *Server) reject(tx sip.ServerTransaction, req *sip.Request, code int, reason, detail string) {
	_ = tx.Respond(sipx.Reject(req, code, reason, s.cfg.Hostname, detail))
}

// sign signs a request with the service's trust signature.
func (s *Server) sign(req *sip.Request) error {
	if err := s.cfg.Signer.Sign(req); err != nil {
		return fmt.Errorf("announcement: signing %s: %w", req.Method, err)
	}
	return nil
}
