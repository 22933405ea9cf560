package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/avmcu"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/focusfactory"
	"github.com/parleyhq/parley/internal/immcu"
	"github.com/parleyhq/parley/internal/provisioning"
	"github.com/parleyhq/parley/internal/proxy"
	"github.com/parleyhq/parley/internal/registrar"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

// sipDeps is what the SIP side of the server is built from.
type sipDeps struct {
	cfg      config.SIPConfig
	hostname string
	poolFQDN string
	org      directory.Organization
	dir      directory.Store
	ff       *focusfactory.Factory
	local    *sipx.Local
	log      *slog.Logger
}

// avMCU is the A/V MCU, nil until it runs.
func (s *sipServer) avMCU() *avmcu.MCU { return s.mcuRef.Load() }

// theFocus is the Focus, nil until it runs.
func (s *sipServer) theFocus() *focus.Focus { return s.focusRef.Load() }

// imMCU is the IM Conferencing Server, nil until it exists.
func (s *sipServer) imMCU() *immcu.Server { return s.imRef.Load() }

// newLocal says which hosts are ours: the organization's domains, and as
// aliases the listen address, the server's and pool's names and localhost.
func newLocal(cfg config.SIPConfig, org directory.Organization, hostname, poolFQDN string) *sipx.Local {
	host, _, _ := net.SplitHostPort(cfg.Listen)
	aliases := []string{host, hostname, poolFQDN, "localhost"}
	if h, err := os.Hostname(); err == nil {
		aliases = append(aliases, h)
	}
	return sipx.NewLocal(org.Domains, aliases)
}

// sipServer owns the sipgo user agent and the SIP roles.
type sipServer struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	local  *sipx.Local
	reg    *registrar.Registrar
	front  *regFront
	prx    *proxy.Proxy
	prov   *provisioning.Service
	ff     *focusfactory.Factory
	// mcu is the A/V Conferencing Server, set once the media engine runs
	// (before the listeners serve).
	// mcuRef and focusRef hold the A/V MCU and the Focus, which are made
	// after the listeners (they need their addresses) and may be read by
	// handlers already running.
	mcuRef   atomic.Pointer[avmcu.MCU]
	imRef    atomic.Pointer[immcu.Server]
	focusRef atomic.Pointer[focus.Focus]
	// listenAddrs are the listen addresses by transport (udp, tcp, tls).
	listenAddrs map[string]string
	// auth challenges requests to the roles served here; nil when
	// authentication is off.
	auth *digest.Authenticator
	// dir is the directory, for trusted services; trustKey checks their
	// signatures.
	dir      directory.Store
	trustKey []byte
	// poolFQDN names this server's pool in the signatures it makes.
	poolFQDN string
	// metrics is the Prometheus registry the roles' collectors join as
	// they start (metrics.go).
	metrics *metrics
	// objects are the attendant's contact objects (attendant.go).
	objects *contactObjects

	// inFlight counts server transactions being handled; past max the
	// server answers 503 rather than queueing (RFC 3261 §21.5.4).
	inFlight atomic.Int64
	max      int64

	hostname string // warn-agent of our Warning headers
	closers  []func() error
	log      *slog.Logger
}

// maxUDPMessage is the largest SIP message written on UDP: an IPv4 UDP
// datagram's largest payload.
const maxUDPMessage = 65507

// liftUDPLimit removes sipgo v1.7.2's 1300-byte cap on every UDP message
// (sip.UDPMTUSize less 200). RFC 3261 §18.1.1 moves large *requests* to a
// congestion-controlled transport, but a response must go back on the
// transport the request came on (§18.2.2): with the cap, a Focus Factory
// answer or a proxied 200 OK with a long SDP was dropped and the client
// retransmitted into a new transaction. sipgo exposes the cap only as a
// package variable, so it is set once here.
var liftUDPLimit = sync.OnceFunc(func() { sip.UDPMTUSize = maxUDPMessage + 200 })

func newSIPServer(_ context.Context, d sipDeps) (*sipServer, error) {
	liftUDPLimit()
	s := &sipServer{max: int64(d.cfg.MaxInFlight), hostname: d.hostname, log: d.log.With("component", "sip")}

	s.local = d.local

	var prx *proxy.Proxy // set below; the transaction layer needs the handler first
	var front *regFront  // likewise for the transport layer's read filter
	// From and To read with RFC 3261's spaces around "=" (sipx.HeaderParsers).
	parser := sip.NewParser(sip.WithHeadersParsers(sipx.HeaderParsers()))
	parser.MaxMessageLength = d.cfg.MaxMessageBytes
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("Parley"),
		sipgo.WithUserAgentHostname(d.hostname),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(d.log.With("component", "sip.tx")),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				if prx != nil {
					prx.OnUnhandledResponse(r)
				}
			}),
		),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(d.log.With("component", "sip.transport")),
			// REGISTERs on UDP skip sipgo's transaction layer (regfront.go).
			// The filter runs only once the listeners serve, after front
			// is set.
			// ACKs of record-routed dialogs are forwarded straight off
			// the read loop (proxy/acklane.go), so a BYE sent right after
			// cannot overtake them.
			// A Request-URI scheme sipgo cannot parse is replaced
			// first, so that guard answers it 416 (sipx.RewriteForeignScheme).
			// A datagram request of RFC 2543's form without a From tag
			// gets a branch (sipx.BranchRFC2543).
			sip.WithTransportLayerReadFilter(func(p sip.TransportReadProps, b []byte) ([]byte, error) {
				b = sipx.RewriteForeignScheme(b)
				if p.Transport == "UDP" {
					b = sipx.BranchRFC2543(b, parser)
				}
				out := front.readFilter(p, b)
				if out == nil || prx == nil {
					return out, nil
				}
				return prx.ReadFilter(p, out)
			}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	s.ua = ua
	s.closers = append(s.closers, ua.Close)
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(d.log.With("component", "sip.server"))); err != nil {
		return nil, fmt.Errorf("sip server: %w", err)
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname(d.hostname), sipgo.WithClientLogger(d.log.With("component", "sip.client"))); err != nil {
		return nil, fmt.Errorf("sip client: %w", err)
	}

	auth, err := digest.New(digest.Config{
		Realm:      d.org.PrimaryDomain(),
		Algorithms: d.cfg.DigestAlgorithms,
		Secret:     nonceSecret(d.org.ConferenceKey),
	}, credentials{dir: d.dir, local: s.local}, d.log.With("component", "digest"))
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}

	challenge := digest.WWW
	if d.cfg.RegisterChallenge == "proxy" {
		challenge = digest.Proxy
	}
	s.reg = registrar.New(registrar.Config{
		Authenticate: d.cfg.Authenticate,
		Challenge:    challenge,
		Hostname:     d.hostname,
	}, s.local, d.dir, auth, d.log.With("role", "registrar"))
	front = newRegFront(s.reg.Register, parser, 2*runtime.GOMAXPROCS(0), d.log.With("component", "sip.register"))
	s.front = front

	s.prov = provisioning.New(s.local, d.dir, auth, d.log.With("role", "provisioning"))

	pcfg := proxy.Config{
		Parser:             parser,
		Hostname:           d.hostname,
		RecordRoute:        true,
		RouteSecret:        deriveKey(d.org.ConferenceKey, "parley record-route v1"),
		ForwardOutOfDomain: d.cfg.ForwardOutOfDomain,
		UserExists: func(ctx context.Context, aor string) bool {
			_, err := d.dir.User(ctx, aor)
			return err == nil
		},
	}
	s.ff = d.ff
	s.dir = d.dir
	s.trustKey = TrustKey(d.org.ConferenceKey)
	s.poolFQDN = d.poolFQDN
	if d.cfg.Authenticate {
		s.auth = auth
		pcfg.Authenticate = func(ctx context.Context, req *sip.Request, source string) (string, *sip.Response) {
			return auth.Authenticate(ctx, req, digest.Proxy, source)
		}
	}
	pcfg.Authenticate = s.trustMediation(pcfg.Authenticate) // signed INVITEs of the Mediation Server (mediation.go)
	s.objects = &contactObjects{db: d.dir, log: d.log.With("role", "attendant"), finish: s.assertCaller}
	prx = proxy.New(pcfg, s.local, locator{reg: s.reg, objects: s.objects}, s.client, d.log.With("role", "proxy"))
	s.prx = prx

	// REGISTERs the front end took off the socket or connection never
	// get here; those that do, sipgo parsed (because the front end could
	// not read them with certainty) and the guard checks like any other.
	s.srv.OnRegister(s.guard(s.front.serveTx))
	s.srv.OnSubscribe(s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		if s.theFocus() != nil {
			switch {
			case outOfDialog(req) && focus.Handles(req) && s.local.IsLocal(req.Recipient.Host):
				s.serveFocus(req, tx)
				return
			case !outOfDialog(req) && s.theFocus().Owns(req):
				s.serveFocusDialog(req, tx)
				return
			}
		}
		if s.prov.Handles(req) {
			s.prov.ServeSUBSCRIBE(req, tx)
			return
		}
		prx.ServeSIP(req, tx)
	}))
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.OPTIONS, sip.NOTIFY,
		sip.REFER, sip.INFO, sip.MESSAGE, sip.PRACK, sip.UPDATE, sip.PUBLISH} {
		s.srv.OnRequest(m, s.guard(s.route))
	}
	s.srv.OnRequest("SERVICE", s.guard(s.serveSERVICE))
	s.srv.OnNoRoute(s.guard(prx.ServeSIP))
	return s, nil
}

// guard bounds the number of requests in progress, and refuses new
// out-of-dialog requests while the REGISTER front end is overloaded: the
// two share the CPU, and a new call or subscription is worth less than
// keeping the users registered. ACK and CANCEL are never refused: they end
// work rather than start it; nor are requests within a dialog, which
// finish what was admitted before. sipgo absorbs retransmissions before
// the handler, so only new transactions reach the guard.
func (s *sipServer) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		// RFC 4475 §3.1.2.17, §3.3.8, §3.3.9: ambiguous requests are
		// refused before any role sees them; an ACK cannot be answered.
		if bad := sipx.ValidateRequest(req); bad != nil {
			if !req.IsAck() && tx != nil {
				_ = tx.Respond(sipx.Reject(req, bad.Code, bad.Reason, s.hostname, bad.Detail))
			}
			return
		}
		if req.IsAck() || req.IsCancel() {
			h(req, tx)
			return
		}
		if scheme, ok := sipx.ForeignScheme(req); ok && tx != nil {
			// RFC 3261 §8.2.2.1.
			_ = tx.Respond(sipx.Reject(req, 416, "Unsupported URI Scheme", s.hostname, "Request-URI scheme "+scheme+" is not supported"))
			return
		}
		if s.front.overloaded() && outOfDialog(req) {
			s.refuse(req, tx)
			return
		}
		if s.inFlight.Add(1) > s.max {
			s.inFlight.Add(-1)
			s.refuse(req, tx)
			return
		}
		defer s.inFlight.Add(-1)
		if tx != nil && req.Method == sip.INVITE && branchless(req) && req.Transport() != "UDP" {
			tx = &oneShotTx{ServerTransaction: tx}
		}
		h(req, tx)
	}
}

// branchless reports whether req lacks an RFC 3261 branch (§8.1.1.7: one
// beginning with the magic cookie). sipgo then matches its transaction the
// RFC 2543 way, by Call-ID, CSeq, From tag and top Via.
func branchless(req *sip.Request) bool {
	via := req.Via()
	if via == nil {
		return true
	}
	b, _ := via.Params.Get("branch")
	return !strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) || len(b) == len(sip.RFC3261BranchMagicCookie)
}

// oneShotTx ends a server INVITE transaction as soon as it is answered.
// Pidgin SIPE sends its INVITEs without a Via branch (protocols.md §3.3),
// so sipgo matches them the RFC 2543 way (Call-ID, CSeq, From tag, Via),
// which goes wrong twice: after a 407 SIPE sends the request again with
// credentials but the same CSeq and Via, a "retransmission" that the
// transaction waiting for an ACK (that SIPE never sends) would answer with
// the 407 again for 32 s; and its ACK to a 200 matches the INVITE's
// transaction, which swallows it, so the dialog never learns it was
// acknowledged. On a reliable transport a client never retransmits (RFC
// 3261 §17.1.1.2): once answered, the transaction has nothing left to
// absorb, and what matches it is a new request or the dialog's ACK.
type oneShotTx struct {
	sip.ServerTransaction
}

// Respond sends res and, when it is final, forgets the transaction.
func (t *oneShotTx) Respond(res *sip.Response) error {
	err := t.ServerTransaction.Respond(res)
	if res.StatusCode >= 200 {
		t.Terminate()
	}
	return err
}

// refuse answers 503 with Retry-After (RFC 3261 §21.5.4).
func (s *sipServer) refuse(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(s.front.retryAfterValue())))
	if tx != nil {
		_ = tx.Respond(res)
	}
}

// outOfDialog reports whether req starts something new: it has no To tag
// (RFC 3261 §12.2: requests within a dialog carry one).
func outOfDialog(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return true
	}
	_, ok := to.Params.Get("tag")
	return !ok
}

// udpReadBuffer is the receive buffer asked for the UDP listener.
const udpReadBuffer = 4 << 20

// listen opens the UDP, TCP and TLS listeners and serves them under g.
func (s *sipServer) listen(ctx context.Context, g *errgroup.Group, cfg config.SIPConfig, dataDir, poolFQDN string, info *RunInfo) error {
	pc, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("SIP UDP listener: %w", err)
	}
	s.closers = append(s.closers, pc.Close)
	info.SIPUDP = pc.LocalAddr().String()
	s.listenAddrs = map[string]string{"udp": info.SIPUDP}
	if uc, ok := pc.(*net.UDPConn); ok {
		// The kernel's default of about 200 KiB holds a few hundred
		// datagrams, a fraction of a second at registration-storm rates:
		// a short scheduling stall would drop requests, and every drop
		// comes back as retransmissions. The read loop empties the
		// buffer quickly (regfront.go decides admission there), so a
		// larger one only absorbs stalls. The kernel caps the size at
		// net.core.rmem_max; a smaller buffer is no reason to fail.
		_ = uc.SetReadBuffer(udpReadBuffer)
		s.front.setUDP(uc)
	}

	// With port 0 the TCP listener takes the port UDP got, so one address
	// serves both, as RFC 3261 §18 expects of a SIP server.
	tcpAddr := cfg.Listen
	if _, p, _ := net.SplitHostPort(cfg.Listen); p == "0" {
		tcpAddr = info.SIPUDP
	}
	ln, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		return fmt.Errorf("SIP TCP listener: %w", err)
	}
	s.closers = append(s.closers, ln.Close)
	info.SIPTCP = ln.Addr().String()
	s.listenAddrs["tcp"] = info.SIPTCP

	g.Go(func() error { return ignoreClosed(s.srv.ServeUDP(pc)) })
	g.Go(func() error {
		return ignoreClosed(s.srv.ServeTCP(&frontListener{Listener: ln, f: s.front, transport: "TCP", maxMessage: cfg.MaxMessageBytes}))
	})

	if cfg.TLSListen != "" {
		host, _, _ := net.SplitHostPort(cfg.TLSListen)
		cert, err := loadOrCreateCert(cfg.TLSCert, cfg.TLSKey, dataDir,
			[]string{poolFQDN, s.local.PrimaryDomain(), host, "localhost", "127.0.0.1", "::1"})
		if err != nil {
			return err
		}
		tln, err := tls.Listen("tcp", cfg.TLSListen, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("SIP TLS listener: %w", err)
		}
		s.closers = append(s.closers, tln.Close)
		info.SIPTLS = tln.Addr().String()
		s.listenAddrs["tls"] = info.SIPTLS
		g.Go(func() error {
			return ignoreClosed(s.srv.ServeTLS(&frontListener{Listener: tln, f: s.front, transport: "TLS", maxMessage: cfg.MaxMessageBytes}))
		})
	}
	_ = ctx
	return nil
}

// run runs the roles' background work until ctx is done.
func (s *sipServer) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.reg.Run(gctx) })
	g.Go(func() error { return s.front.Run(gctx) })
	return g.Wait()
}

// drain stops accepting new work; in-progress transactions finish or are
// cut off when ctx expires.
func (s *sipServer) drain(ctx context.Context) {
	s.close()
	_ = ctx
}

func (s *sipServer) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// credentials adapts the directory to digest.Credentials. The digest
// username is the user part of the SIP URI (or, from some clients, the
// whole user@domain).
type credentials struct {
	dir   directory.Store
	local *sipx.Local
}

// HA1 returns the stored HA1 made with the digest username exactly as the
// client sent it, since the digest hashes it verbatim (RFC 7616 §3.4.2):
//
//   - a bare user part ("alice") names a user of the primary domain and gets
//     his user-part values;
//   - a whole address ("alice@sales.example.com", what Pidgin SIPE sends when
//     its login is the sign-in address) names the user with exactly that
//     URI and gets his address values, so an address in another of the
//     organization's domains is another user, or none, and never alice.
//
// An address in another case or with a "sip:" scheme hashes other text than
// any stored HA1, and a user whose password predates the address values
// (store migration 0005) has none: both are unknown users, which the digest
// answers like a wrong password.
func (c credentials) HA1(ctx context.Context, username, realm, algorithm string) (string, error) {
	name := strings.ToLower(username)
	address := strings.Contains(name, "@")
	uri := "sip:" + name
	switch {
	case !address:
		uri += "@" + c.local.PrimaryDomain()
	case name != username || strings.HasPrefix(name, "sip:"):
		return "", digest.ErrUnknownUser
	}
	u, err := c.dir.User(ctx, uri)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && (!u.Enabled || u.Credential.Realm != realm)) {
		return "", digest.ErrUnknownUser
	}
	if err != nil {
		return "", fmt.Errorf("credentials of %s: %w", uri, err)
	}
	md5HA1, shaHA1 := u.Credential.HA1MD5, u.Credential.HA1SHA256
	if address {
		// The address values hash the user's own URI: make sure that is
		// what the username is, whatever the directory's lookup folds.
		if user, host, ok := directory.SplitSIPURI(u.URI); !ok || user+"@"+host != username {
			return "", digest.ErrUnknownUser
		}
		md5HA1, shaHA1 = u.Credential.HA1bMD5, u.Credential.HA1bSHA256
	}
	var ha1 string
	switch strings.ToUpper(algorithm) {
	case "MD5", "":
		ha1 = md5HA1
	case "SHA-256":
		ha1 = shaHA1
	default:
		return "", fmt.Errorf("unsupported digest algorithm %q", algorithm)
	}
	if ha1 == "" {
		return "", digest.ErrUnknownUser
	}
	return ha1, nil
}

// nonceSecret derives the digest nonce key from the organization key, so all
// servers of a pool accept each other's nonces and none is written to disk.
func nonceSecret(orgKey []byte) []byte {
	return deriveKey(orgKey, "parley digest nonce v1")
}

// locator adapts the registrar's location service to the proxy, and
// sends calls to Conferencing Attendant contact objects to the attendant
// (seed 001 step 5: "The Front End Server routes the call to the
// Conferencing Attendant Service on the pool bound to the Conferencing
// Attendant Contact object").
type locator struct {
	reg     *registrar.Registrar
	objects *contactObjects
}

func (l locator) Lookup(aor string) []proxy.Target {
	bs := l.reg.Lookup(aor)
	if len(bs) == 0 && l.objects != nil {
		if t, ok := l.objects.target(aor); ok {
			return []proxy.Target{t}
		}
	}
	out := make([]proxy.Target, 0, len(bs))
	for _, b := range bs {
		out = append(out, targetOf(b))
	}
	return out
}

func (l locator) LookupGRUU(uri string) (proxy.Target, bool) {
	b, ok := l.reg.LookupGRUU(uri)
	if !ok {
		return proxy.Target{}, false
	}
	return targetOf(b), true
}

// targetOf turns a registrar binding into a proxy branch target. Path
// entries that do not parse are dropped: the registrar accepted them, so this
// only happens on corrupt state, and routing without them still reaches the
// contact directly.
func targetOf(b registrar.Binding) proxy.Target {
	t := proxy.Target{URI: b.Contact, Source: b.Source, Transport: b.Transport, Q: b.Q}
	for _, p := range b.Path {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(p, "<>"), &u); err == nil {
			t.Path = append(t.Path, u)
		}
	}
	return t
}
