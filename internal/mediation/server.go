package mediation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Defaults of Config.
const (
	DefaultLocationProfile = "Default"
	DefaultMediaTimeout    = 30 * time.Second
	DefaultMaxCalls        = 1000
	// DefaultAnswerTimeout bounds how long a call may ring at the front
	// end before the Mediation Server gives up and cancels it.
	DefaultAnswerTimeout = 3 * time.Minute
)

// FrontEnd says where and how the Mediation Server reaches its next-hop
// pool (seed 000: "routes calls to the address of the next-hop pool").
type FrontEnd struct {
	// Addr is the front end's SIP address, host:port.
	Addr string
	// Transport is "tls" (preferred, as OCS's Mediation Server talks MTLS
	// to its next hop), "tcp" or "udp".
	Transport string
	// TLS is the client configuration for Transport "tls": the roots that
	// sign the front end's certificate, and its name.
	TLS *tls.Config
}

// Config configures the Mediation Server.
type Config struct {
	// Listen is the gateway-facing address for UDP and TCP. Port 0 takes
	// a free port (the same for both when possible).
	Listen string
	// TLSListen adds a TLS listener with TLSConfig (a server
	// configuration with a certificate); "" has none.
	TLSListen string
	TLSConfig *tls.Config
	// MediaAddr is the local address of the relay's sockets on both sides.
	MediaAddr netip.Addr
	// Hostname names the Mediation Server in Via, Contact and Warning
	// headers; default the host of Listen.
	Hostname string
	// Domain is the SIP domain of caller-ID URIs sent to the front end,
	// sip:+E164@Domain;user=phone (RFC 3261 §19.1.6).
	Domain string
	// LocationProfile names the profile the numbers are normalized with;
	// default DefaultLocationProfile.
	LocationProfile string
	// Gateways are the addresses calls are accepted from: "host" or
	// "host:port", hosts as IP addresses. Empty accepts loopback only.
	Gateways []string
	// FrontEnd is the next hop.
	FrontEnd FrontEnd
	// Sign authenticates the front-end INVITE as a trusted peer; it is
	// called with the request complete. Nil sends it unsigned.
	Sign func(req *sip.Request) error
	// Verify authenticates an INVITE with a Replaces header (RFC 3891),
	// from whatever address (on one machine the front end shares the
	// gateways' loopback; a gateway's unsigned Replaces fails here), and
	// returns the
	// trusted service that signed it; an error refuses the INVITE with 403
	// and the error in a Warning, so it must not carry secrets. The
	// server passes trust.Verify with its key, also checking that the
	// signing host is a server of the deployment. Nil refuses every
	// hand-off.
	Verify func(req *sip.Request) (service string, err error)
	// ReplaceServices are the services (as Verify returns them) that may
	// replace a call's front-end dialog, taking the call over: the A/V
	// Conferencing Server ("avmcu") in seed 001 step 11. Others get 403.
	ReplaceServices []string
	// MediaTimeout hangs up a call when a side that should send media has
	// sent none for this long; default DefaultMediaTimeout.
	MediaTimeout time.Duration
	// AnswerTimeout bounds ringing; default DefaultAnswerTimeout.
	AnswerTimeout time.Duration
	// MaxCalls caps concurrent calls; past it INVITEs get 503.
	MaxCalls int
}

// Server is the Mediation Server.
type Server struct {
	cfg      Config
	route    *router
	log      *slog.Logger
	gateways []gatewayAddr

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dialog *sipgo.DialogUA

	mu      sync.Mutex
	closing bool
	calls   map[string]*call // by dialog ID, each call under both of its IDs
	count   int
	// retired are front-end dialogs that a hand-off replaced, by
	// feLeg.id, until their BYE is done (handoff.go).
	retired map[string]*feLeg
	// beforeHandoff, when set (by tests), runs after a replacing INVITE
	// was read and before the call switches to it.
	beforeHandoff func()

	listeners []func() error
	addrs     map[string]string // listen address by transport
	serve     []func() error
}

// gatewayAddr is one entry of Config.Gateways.
type gatewayAddr struct {
	addr netip.Addr
	port uint16 // 0: any port
}

// New builds a Mediation Server; Listen then Serve run it.
func New(cfg Config, dir Directory, log *slog.Logger) (*Server, error) {
	if cfg.LocationProfile == "" {
		cfg.LocationProfile = DefaultLocationProfile
	}
	if cfg.MediaTimeout <= 0 {
		cfg.MediaTimeout = DefaultMediaTimeout
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = DefaultAnswerTimeout
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if !cfg.MediaAddr.IsValid() {
		return nil, errors.New("mediation: no media address")
	}
	if cfg.FrontEnd.Addr == "" {
		return nil, errors.New("mediation: no front-end address")
	}
	cfg.FrontEnd.Transport = strings.ToLower(cfg.FrontEnd.Transport)
	switch cfg.FrontEnd.Transport {
	case "":
		cfg.FrontEnd.Transport = "tcp"
	case "tcp", "udp", "tls":
	default:
		return nil, fmt.Errorf("mediation: front-end transport %q: want tls, tcp or udp", cfg.FrontEnd.Transport)
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("mediation: listen %q: %w", cfg.Listen, err)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = host
	}
	gws, err := parseGateways(cfg.Gateways)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, gateways: gws,
		route:   &router{dir: dir, profile: cfg.LocationProfile},
		calls:   make(map[string]*call),
		retired: make(map[string]*feLeg),
		addrs:   make(map[string]string),
	}
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("Parley Mediation Server"),
		sipgo.WithUserAgentHostname(cfg.Hostname),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log.With("component", "mediation.sip.tx"))),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log.With("component", "mediation.sip.transport"))),
	}
	if cfg.FrontEnd.TLS != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(cfg.FrontEnd.TLS))
	}
	if s.ua, err = sipgo.NewUA(opts...); err != nil {
		return nil, fmt.Errorf("mediation: user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(log.With("component", "mediation.sip.server"))); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("mediation: server: %w", err)
	}
	if s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientHostname(cfg.Hostname), sipgo.WithClientLogger(log.With("component", "mediation.sip.client"))); err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("mediation: client: %w", err)
	}
	s.dialog = &sipgo.DialogUA{Client: s.client}
	s.srv.OnInvite(s.serveINVITE)
	s.srv.OnAck(s.serveACK)
	s.srv.OnBye(s.serveBYE)
	s.srv.OnCancel(s.serveCANCEL)
	s.srv.OnOptions(s.serveOPTIONS)
	s.srv.OnNoRoute(s.serveOther)
	return s, nil
}

// parseGateways reads Config.Gateways.
func parseGateways(list []string) ([]gatewayAddr, error) {
	var out []gatewayAddr
	for _, g := range list {
		g = strings.TrimSpace(g)
		if ap, err := netip.ParseAddrPort(g); err == nil {
			out = append(out, gatewayAddr{addr: ap.Addr().Unmap(), port: ap.Port()})
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(g, "[]"))
		if err != nil {
			return nil, fmt.Errorf("mediation: gateway %q: want an IP address or address:port", g)
		}
		out = append(out, gatewayAddr{addr: a.Unmap()})
	}
	return out, nil
}

// allowed reports whether a request from source (host:port) comes from a
// configured gateway; with none configured, loopback is.
func (s *Server) allowed(source string) bool {
	ap, err := netip.ParseAddrPort(source)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	if len(s.gateways) == 0 {
		return a.IsLoopback()
	}
	for _, g := range s.gateways {
		if g.addr == a && (g.port == 0 || g.port == ap.Port()) {
			return true
		}
	}
	return false
}

// Listen opens the UDP, TCP and (when configured) TLS listeners.
func (s *Server) Listen() error {
	pc, ln, err := s.listenPair()
	if err != nil {
		return err
	}
	s.listeners = append(s.listeners, pc.Close, ln.Close)
	s.addrs["udp"], s.addrs["tcp"] = pc.LocalAddr().String(), ln.Addr().String()
	s.serve = append(s.serve, func() error { return s.srv.ServeUDP(pc) }, func() error { return s.srv.ServeTCP(ln) })
	if s.cfg.TLSListen != "" {
		if s.cfg.TLSConfig == nil {
			s.closeListeners()
			return errors.New("mediation: tls_listen without a certificate")
		}
		tln, err := tls.Listen("tcp", s.cfg.TLSListen, s.cfg.TLSConfig)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("mediation: TLS listener: %w", err)
		}
		s.listeners = append(s.listeners, tln.Close)
		s.addrs["tls"] = tln.Addr().String()
		s.serve = append(s.serve, func() error { return s.srv.ServeTLS(tln) })
	}
	return nil
}

// listenPair opens the UDP and TCP listeners on one address. With port 0,
// TCP takes the port UDP got, so that one address serves both (RFC 3261
// §18); when another socket holds that TCP port, it tries again.
func (s *Server) listenPair() (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(s.cfg.Listen)
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", s.cfg.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("mediation: UDP listener: %w", err)
		}
		tcpAddr := s.cfg.Listen
		if port == "0" {
			tcpAddr = pc.LocalAddr().String()
		}
		ln, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, fmt.Errorf("mediation: TCP listener: %w", err)
		}
	}
}

// Addr returns the listen address for transport ("udp", "tcp", "tls"), or
// "" before Listen or for a transport not served.
func (s *Server) Addr(transport string) string { return s.addrs[strings.ToLower(transport)] }

// Serve serves the listeners until ctx is done, then hangs up every call
// and closes them.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(s.serve))
	for _, f := range s.serve {
		go func() {
			err := f()
			if err != nil && !errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("mediation: %w", err)
			} else {
				err = nil
			}
			errs <- err
			cancel() // a listener that stops stops the server
		}()
	}
	<-ctx.Done()
	s.shutdown()
	var first error
	for range s.serve {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// shutdown refuses new calls, hangs up the ones in progress and closes the
// listeners and the user agent.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	var calls []*call
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.hangUp("server shutting down") })
	}
	wg.Wait()
	s.closeListeners()
	_ = s.ua.Close()
}

func (s *Server) closeListeners() {
	for i := len(s.listeners) - 1; i >= 0; i-- {
		_ = s.listeners[i]()
	}
	s.listeners = nil
}

// contact is our Contact for a dialog on transport: the listener of that
// transport (TCP for the front end when we have no TLS listener).
func (s *Server) contact(transport string) sip.ContactHeader {
	transport = strings.ToLower(transport)
	addr := s.addrs[transport]
	if addr == "" {
		transport, addr = "tcp", s.addrs["tcp"]
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: "mediation", Host: host, Port: p, UriParams: sip.NewParams()}
	if transport != "udp" {
		u.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: u}
}

// nextHop is the front end's proxy as a loose-routing URI.
func (s *Server) nextHop() sip.Uri {
	host, port, _ := net.SplitHostPort(s.cfg.FrontEnd.Addr)
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", Host: host, Port: p, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", s.cfg.FrontEnd.Transport)
	u.UriParams.Add("lr", "")
	return u
}

// reject answers req with code, reason and a Warning saying why.
func (s *Server) reject(tx sip.ServerTransaction, req *sip.Request, code int, reason, detail string) {
	if err := tx.Respond(sipx.Reject(req, code, reason, s.cfg.Hostname, detail)); err != nil {
		s.log.Debug("mediation: response not sent", "code", code, "err", err)
	}
}

// lookup returns the call a request within a dialog belongs to, and
// whether it came from the gateway side.
func (s *Server) lookup(req *sip.Request) (*call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if c := s.calls[id]; c != nil && c.gwID == id {
			return c, true
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if c := s.calls[id]; c != nil && c.feID == id {
			return c, false
		}
	}
	return nil, false
}

// admit counts a new call, or refuses it when the server is full or
// stopping.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.count >= s.cfg.MaxCalls {
		return false
	}
	s.count++
	return true
}

// register files a call under a dialog ID.
func (s *Server) register(id string, c *call) {
	s.mu.Lock()
	s.calls[id] = c
	s.mu.Unlock()
}

// setFrontEnd files a call under its new front-end dialog, forgetting the
// one it replaces (oldID, "" for none).
func (s *Server) setFrontEnd(c *call, oldID string, leg *feLeg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if oldID != "" && s.calls[oldID] == c {
		delete(s.calls, oldID)
	}
	c.feID = leg.id
	s.calls[leg.id] = c
}

// release forgets a call.
func (s *Server) release(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range []string{c.gwID, c.feID} {
		if id != "" && s.calls[id] == c {
			delete(s.calls, id)
		}
	}
	s.count--
}

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}
