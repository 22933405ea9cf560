package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/attendant"
	"github.com/parleyhq/parley/internal/avmcu"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/media/tone"
	"github.com/parleyhq/parley/internal/prompts"
	"github.com/parleyhq/parley/internal/proxy"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// This file wires the Conferencing Attendant (internal/attendant): its
// listener, the media engine that plays its prompts, the front end's
// lookups it asks over signed SERVICE requests, the Focus it hands callers
// to, and the proxy route that brings it the calls to access numbers.

// startAttendant starts the attendant under g when attendant.listen is set
// and points the proxy's contact-object route at it.
func startAttendant(ctx context.Context, g *errgroup.Group, cfg config.File, s *sipServer, objects *contactObjects, fc *focus.Focus, orgKey []byte, poolFQDN string, log *slog.Logger) error {
	ac := cfg.Attendant
	if ac.Listen == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(ac.MediaListen)
	if err != nil {
		return fmt.Errorf("attendant.media_listen %q: %w", ac.MediaListen, err)
	}
	engine, err := avmcu.NewEngine(avmcu.Config{
		Addr: ap.Addr(), Port: int(ap.Port()), Sockets: 1, Workers: 1, MaxLegs: ac.MaxCalls,
		InactivityTimeout: time.Duration(cfg.AVMCU.InactivitySeconds) * time.Second, Log: log,
	})
	if err != nil {
		return fmt.Errorf("attendant media: %w", err)
	}
	g.Go(func() error { return engine.Run(ctx) })

	pk, err := c3p.DerivePasscodeKey(deriveKey(orgKey, "parley passcode hpke v1"))
	if err != nil {
		return err
	}
	fe := &attendant.FrontEnd{
		Client:      s.client,
		Signer:      trust.Signer{Key: s.trustKey, Service: directory.ServiceAttendant, Host: poolFQDN},
		Pool:        poolFQDN,
		Proxy:       dialable(s.listenAddrs["udp"]),
		From:        "sip:attendant@" + s.local.PrimaryDomain(),
		PasscodeKey: &c3p.PublicKey{Alg: c3p.PasscodeAlgorithm, Key: pk.PublicKey().Bytes()},
		Log:         log,
	}
	srv, err := attendant.NewServer(attendant.ServerConfig{
		Listen: ac.Listen,
		// A caller who dropped a moment ago is offered his meeting back.
		Flow:     attendant.Config{RejoinOffer: prompts.RejoinOffer},
		Verify:   s.verifyTrusted,
		Services: []string{serviceMediation},
		// The Mediation Server's front-end side always speaks SRTP
		// (seed 001 step 6); plain media here would be a downgrade.
		SRTP:     sdpoa.SRTPRequired,
		MaxCalls: ac.MaxCalls,
	}, objects, fe, focusDialIn{fc}, attendantMedia{engine}, log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	objects.setAttendant(srv.Addr())
	s.metrics.register(newAttendantCollector(srv))
	s.metrics.register(newEngineCollector("attendant_media", engine.Load))
	g.Go(func() error { return srv.Serve(ctx) })
	log.InfoContext(ctx, "conferencing attendant listening", "tcp", srv.Addr(), "media", engine.RTPAddr())
	return nil
}

// verifyTrusted checks a request's trust signature (internal/sipx/trust)
// and that its signer is a server of this deployment.
func (s *sipServer) verifyTrusted(req *sip.Request) (string, error) {
	service, host, err := trust.Verify(s.trustKey, req, time.Now())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if !s.isDeploymentHost(ctx, host) {
		return "", fmt.Errorf("%s is not a server of this deployment", host)
	}
	return service, nil
}

// contactObjects knows the Conferencing Attendant contact objects by SIP
// URI, for the proxy (calls to them go to the attendant) and the attendant
// (which number was called). The table is small and changes rarely; it is
// re-read at most every contactObjectsTTL.
type contactObjects struct {
	db interface {
		AccessNumbers(ctx context.Context) ([]directory.AccessNumber, error)
	}
	log *slog.Logger
	// finish completes a branch to the attendant (assertCaller).
	finish func(branch *sip.Request, user string) error

	mu       sync.Mutex
	byURI    map[string]directory.AccessNumber
	byNumber map[string]directory.AccessNumber // by E.164 number, +14255550100
	loaded   time.Time
	route    []sip.Uri // the attendant, as a loose route; nil until it listens
}

const contactObjectsTTL = 5 * time.Second

// setAttendant routes calls to contact objects to the attendant at addr.
func (c *contactObjects) setAttendant(addr string) {
	host, port, _ := net.SplitHostPort(addr)
	var u sip.Uri
	_ = sip.ParseUri("sip:"+net.JoinHostPort(host, port)+";transport=tcp;lr", &u)
	c.mu.Lock()
	c.route = []sip.Uri{u}
	c.mu.Unlock()
}

// AccessNumberByURI implements attendant.AccessNumbers.
func (c *contactObjects) AccessNumberByURI(ctx context.Context, uri string) (directory.AccessNumber, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.load(ctx); err != nil {
		return directory.AccessNumber{}, err
	}
	a, ok := c.byURI[strings.ToLower(uri)]
	if !ok {
		return directory.AccessNumber{}, directory.ErrNotFound
	}
	return a, nil
}

// load re-reads the table when it is stale. Under c.mu.
func (c *contactObjects) load(ctx context.Context) error {
	if c.byURI != nil && time.Since(c.loaded) < contactObjectsTTL {
		return nil
	}
	list, err := c.db.AccessNumbers(ctx)
	if err != nil {
		return fmt.Errorf("reading access numbers: %w", err)
	}
	m := make(map[string]directory.AccessNumber, len(list))
	n := make(map[string]directory.AccessNumber, len(list))
	for _, a := range list {
		m[strings.ToLower(a.URI)] = a
		if num, ok := strings.CutPrefix(a.LineURI, "tel:"); ok {
			n[num] = a
		}
	}
	c.byURI, c.byNumber, c.loaded = m, n, time.Now()
	return nil
}

// target is the proxy's branch for a call to a contact object: the
// Request-URI stays the contact object's (the attendant reads the number
// from it, and the Mediation Server's signature covers it), the attendant
// is reached by a Route. An enterprise phone that dials the access number
// itself (sip:+14255550100@domain) reaches the same contact object by
// reverse number lookup (seed 001, "Connecting to the Meeting", step 5);
// its Request-URI becomes the contact object's. Numbers must be dialed
// in E.164 form: the caller's location profile is not applied here.
func (c *contactObjects) target(aor string) (proxy.Target, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.route == nil {
		return proxy.Target{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if err := c.load(ctx); err != nil {
		c.log.Error("routing to the attendant", "err", err)
		return proxy.Target{}, false
	}
	if _, ok := c.byURI[strings.ToLower(aor)]; !ok {
		a, ok := c.byNumber[numberOf(aor)]
		if !ok {
			return proxy.Target{}, false
		}
		aor = a.URI
	}
	var u sip.Uri
	if err := sip.ParseUri(aor, &u); err != nil {
		return proxy.Target{}, false
	}
	return proxy.Target{URI: u, Path: c.route, Q: 1, Finish: c.finish}, true
}

// numberOf is the user part of sip:+14255550100@domain, "" for an AOR
// whose user part is not a number.
func numberOf(aor string) string {
	user, _, _ := strings.Cut(strings.TrimPrefix(aor, "sip:"), "@")
	if len(user) < 2 || user[0] != '+' {
		return ""
	}
	return user
}

// serviceFrontEnd signs what the front end vouches for: the identity of an
// enterprise user who calls the attendant from his own phone.
const serviceFrontEnd = "frontend"

// assertCaller finishes a branch to the attendant (RFC 3325 §5): the
// front end asserts the identity it authenticated in
// P-Asserted-Identity and signs the request, so that the attendant
// knows the caller without a PIN (seed 001: callers on enterprise phones
// "only enter the conference ID"). A P-Asserted-Identity the caller put
// in himself is removed. The Mediation Server's calls are left alone: its
// own signature, checked when the proxy took the call, speaks for them.
func (s *sipServer) assertCaller(branch *sip.Request, user string) error {
	if len(branch.GetHeaders(trust.Header)) > 0 {
		return nil
	}
	for {
		var name string
		for _, h := range branch.Headers() {
			if strings.EqualFold(h.Name(), "P-Asserted-Identity") {
				name = h.Name()
				break
			}
		}
		if name == "" || !branch.RemoveHeader(name) {
			break
		}
	}
	from := branch.From()
	if user == "" || from == nil {
		// Nobody authenticated (a caller from another domain, or
		// authentication off): the attendant refuses an unsigned call.
		return nil
	}
	aor, ok := s.local.AOR(from.Address)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	pai := sip.Uri{Scheme: "sip"}
	if err := sip.ParseUri(aor, &pai); err != nil {
		return fmt.Errorf("asserting %s: %w", aor, err)
	}
	value := "<" + pai.String() + ">"
	if u, err := s.dir.User(ctx, aor); err == nil && u.DisplayName != "" {
		value = strconv.Quote(u.DisplayName) + " " + value
	}
	branch.AppendHeader(sip.NewHeader("P-Asserted-Identity", value))
	if err := (trust.Signer{Key: s.trustKey, Service: serviceFrontEnd, Host: s.poolFQDN}).Sign(branch); err != nil {
		return fmt.Errorf("signing the call of %s: %w", aor, err)
	}
	return nil
}

// focusDialIn adapts the Focus to the attendant.
type focusDialIn struct{ f *focus.Focus }

func (d focusDialIn) WaitEnterprise(ctx context.Context, focusURI string) error {
	return d.f.WaitEnterprise(ctx, focusURI)
}

func (d focusDialIn) AddDialIn(ctx context.Context, focusURI string, c attendant.Caller) (string, error) {
	entity, err := d.f.AddDialInUser(ctx, focusURI, focus.DialIn{
		User: c.User, DisplayName: c.DisplayName, CallerID: c.CallerID, Language: c.Language, ReferTo: c.ReferTo,
	})
	switch {
	case errors.Is(err, focus.ErrLocked):
		return "", fmt.Errorf("%w: %w", attendant.ErrMeetingLocked, err)
	case errors.Is(err, focus.ErrFull):
		return "", fmt.Errorf("%w: %w", attendant.ErrMeetingFull, err)
	}
	return entity, err
}

func (d focusDialIn) RemoveDialIn(ctx context.Context, focusURI, entity string) error {
	return d.f.RemoveDialInUser(ctx, focusURI, entity)
}

// attendantMedia gives the attendant legs on a media engine of its own:
// each call is a conference of one, which hears only what is played to it.
type attendantMedia struct{ e *avmcu.Engine }

func (m attendantMedia) Addr() netip.AddrPort { return m.e.RTPAddr() }

func (m attendantMedia) Open(id string, spec attendant.LegSpec) (attendant.Leg, error) {
	onDTMF, onInactive := spec.OnDTMF, spec.OnInactive
	leg, err := m.e.Conference("attendant:" + id).AddLeg(avmcu.LegSpec{
		Remote: spec.Remote, RemoteRTCP: spec.RemoteRTCP, RTCPMux: spec.RTCPMux,
		Codec: spec.Codec, PayloadType: spec.PayloadType, TelephoneEvent: spec.TelephoneEvent,
		SRTP: spec.SRTP, DetectInBand: spec.TelephoneEvent == 0,
		Events: avmcu.LegEvents{
			OnDTMF:     func(d rune, _ bool) { onDTMF(byte(d)) },
			OnInactive: onInactive,
		},
	})
	if err != nil {
		return nil, err
	}
	return attendantLeg{leg}, nil
}

type attendantLeg struct{ l *avmcu.Leg }

func (l attendantLeg) Play(src tone.Source) { l.l.Play(src) }
func (l attendantLeg) StopPlay()            { l.l.StopPlay() }
func (l attendantLeg) Close()               { l.l.Remove() }
