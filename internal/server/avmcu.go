package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/avmcu"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/mcufactory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// This file wires the A/V Conferencing Server and the Conferencing Server
// Factory into the server: SIP routing of conference URIs and MCU dialogs,
// admission until the Focus exists, and the signed HTTP between roles.

// route sends a request to the role it is for: the A/V MCU's conference
// URIs and dialogs to the MCU, everything else to the proxy.
func (s *sipServer) route(req *sip.Request, tx sip.ServerTransaction) {
	if s.theFocus() != nil {
		switch {
		case req.Method == sip.INVITE && outOfDialog(req) && focus.Handles(req) && s.local.IsLocal(req.Recipient.Host):
			s.serveFocus(req, tx)
			return
		case !outOfDialog(req) && s.theFocus().Owns(req):
			s.serveFocusDialog(req, tx)
			return
		}
	}
	if s.routeIM(req, tx) {
		return
	}
	if s.avMCU() != nil {
		switch {
		case req.Method == sip.INVITE && outOfDialog(req) && avmcu.Handles(req) && s.local.IsLocal(req.Recipient.Host):
			s.serveMCUInvite(req, tx)
			return
		case !outOfDialog(req) && s.avMCU().Owns(req):
			switch req.Method {
			case sip.INVITE:
				s.avMCU().ServeINVITE(context.Background(), req, tx, "")
			case sip.ACK:
				s.avMCU().ServeACK(req, tx)
			case sip.BYE:
				s.avMCU().ServeBYE(req, tx)
			case sip.INFO:
				// The Conference Announcement Service's playAnnouncement.
				s.avMCU().ServeINFO(req, tx)
			default:
				_ = tx.Respond(sipx.Reject(req, 405, "Method Not Allowed", s.hostname, "the A/V MCU takes INVITE, ACK, BYE and INFO in its dialogs"))
			}
			return
		}
	}
	s.prx.ServeSIP(req, tx)
}

// serveMCUInvite authenticates a join (407, as for any call) and hands it
// to the MCU.
func (s *sipServer) serveMCUInvite(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	user := ""
	if s.auth != nil {
		name, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			_ = tx.Respond(reject)
			return
		}
		user = s.userAOR(name)
	} else {
		user = "sip:" + strings.ToLower(req.From().Address.User) + "@" + s.local.PrimaryDomain()
	}
	// A phone that dials the audio without joining the Focus first
	// joins the meeting here (focus.AddAudioUser): the Focus admits or
	// refuses him by the meeting's rules and tells the MCU to expect him.
	if fc := s.theFocus(); fc != nil && s.auth != nil {
		if org, _, key, ok := c3p.ParseConferenceURI(req.Recipient.String()); ok {
			var r *focus.Refusal
			err := fc.AddAudioUser(ctx, c3p.ConferenceURI(s.canonicalURI(org), c3p.ServiceFocus, key), user)
			switch {
			case errors.As(err, &r):
				code, phrase := r.Code, r.Phrase
				if code == 0 {
					code, phrase = 403, "Forbidden"
				}
				_ = tx.Respond(sipx.Reject(req, code, phrase, s.hostname, r.Error()))
				return
			case err != nil:
				_ = tx.Respond(sipx.Reject(req, 503, "Service Unavailable", s.hostname, "the meeting cannot take you now"))
				return
			}
		}
	}
	s.avMCU().ServeINVITE(ctx, req, tx, user)
}

// contact is the Contact the MCU answers with: this server's listen
// address for the transport the request came on.
func (s *sipServer) contact(transport string) sip.ContactHeader {
	return s.contactAs("avmcu", transport)
}

// focusContact is the Focus's Contact, in the same form.
func (s *sipServer) focusContact(transport string) sip.ContactHeader {
	return s.contactAs("focus", transport)
}

// contactAs is a Contact at this server's listen address for transport,
// with user naming the role (in-dialog requests are matched by dialog,
// the user part only tells a reader whose dialog it is).
func (s *sipServer) contactAs(user, transport string) sip.ContactHeader {
	addr := s.listenAddrs[strings.ToLower(transport)]
	if addr == "" {
		addr = s.listenAddrs["udp"]
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: user, Host: host, Port: p, UriParams: sip.NewParams()}
	if transport != "" && transport != "udp" {
		u.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: u}
}

// meetingAdmitter lets a caller into a meeting's audio the way the Focus
// will (issue 5): the meeting must exist and be live, closed meetings admit
// only the organizer and those listed, open ones any authenticated user,
// anonymous ones anyone.
type meetingAdmitter struct {
	meetings directory.MeetingStore
}

func (a meetingAdmitter) Admit(ctx context.Context, organizer, key, user string) error {
	m, err := a.meetings.Meeting(ctx, organizer, key)
	if err != nil {
		return fmt.Errorf("no such meeting")
	}
	if !m.Active && m.ExpiresAt.Before(time.Now()) {
		return fmt.Errorf("the meeting has expired")
	}
	switch m.Admission {
	case directory.AdmitAnonymous:
		return nil
	case directory.AdmitOpen:
		if user == "" {
			return fmt.Errorf("the meeting admits authenticated users only")
		}
		return nil
	}
	if user == m.Organizer || slices.Contains(m.Presenters, user) || slices.Contains(m.Attendees, user) {
		return nil
	}
	return fmt.Errorf("the meeting admits invited users only")
}

// startMCU starts the A/V Conferencing Server's media engine under g and
// puts its SIP side on the server.
func startMCU(ctx context.Context, g *errgroup.Group, cfg config.AVMCUConfig, s *sipServer, meetings directory.MeetingStore, hostname, poolFQDN, announcement string, log *slog.Logger) (*avmcu.MCU, error) {
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("avmcu.listen %q: %w", cfg.Listen, err)
	}
	engine, err := avmcu.NewEngine(avmcu.Config{
		Addr: ap.Addr(), Port: int(ap.Port()), MaxLegs: cfg.MaxLegs,
		InactivityTimeout: time.Duration(cfg.InactivitySeconds) * time.Second, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("A/V MCU: %w", err)
	}
	g.Go(func() error { return engine.Run(ctx) })
	s.metrics.register(newEngineCollector("avmcu", engine.Load))
	return avmcu.NewMCU(engine, s.client, avmcu.SIPConfig{
		Hostname:  hostname,
		Contact:   s.contact,
		Admit:     meetingAdmitter{meetings},
		Notify:    legLog{log},
		Canonical: s.canonicalURI,
		Sign:      trust.Signer{Key: s.trustKey, Service: serviceAVMCU, Host: poolFQDN}.Sign,
		// The Conference Announcement Service (announcement.go).
		Announcement: announcement,
		VerifySIP:    s.verifyAnnouncement,
	}, log), nil
}

// verifyAnnouncement checks a request of the Conference Announcement
// Service to the A/V MCU: signed by a trusted service of the pool of type
// directory.ServiceAnnouncement, which the MCU knows by its own name for
// it.
func (s *sipServer) verifyAnnouncement(req *sip.Request) (string, error) {
	service, host, err := trust.Verify(s.trustKey, req, time.Now())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if service != directory.ServiceAnnouncement || !s.isTrusted(ctx, service, host) {
		return service, fmt.Errorf("%s at %s is not the pool's announcement service", service, host)
	}
	return avmcu.AnnouncementService, nil
}

// canonicalURI maps an organizer's URI to the form the directory keeps:
// an alias host (the server's address) becomes the domain, so that every
// way of dialing a conference reaches the same one.
func (s *sipServer) canonicalURI(uri string) string {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return uri
	}
	host := strings.ToLower(u.Host)
	if d, ok := s.local.Canonical(host); ok {
		host = d
	}
	return "sip:" + strings.ToLower(u.User) + "@" + host
}

// legLog records the A/V MCU's leg events until the Focus takes them into
// its roster (issue 5). Digits are logged as typed: in-call keys are not
// secrets (PINs and passcodes go to the attendant, not to a conference).
type legLog struct{ log *slog.Logger }

func (l legLog) LegJoined(conference, user, legID string) {
	l.log.Info("A/V leg joined", "conference", conference, "user", user, "leg", legID)
}

func (l legLog) LegLeft(conference, user, legID, reason string) {
	l.log.Info("A/V leg left", "conference", conference, "user", user, "leg", legID, "reason", reason)
}

func (l legLog) DTMF(conference, user, _ string, digit rune, inBand bool) {
	l.log.Info("A/V leg DTMF", "conference", conference, "user", user, "digit", string(digit), "in_band", inBand)
}

// roleAuth signs and checks the HTTP requests between the server's roles
// (the Focus, the Conferencing Server Factory, the MCUs): a trusted-role
// signature (internal/sipx/trust) by a server of the deployment.
type roleAuth struct {
	key  []byte
	dir  directory.Store
	host string // this server's name in the signatures it makes
	log  *slog.Logger
}

// roleFocus is the service name the front end's roles sign with.
const roleFocus = "focus"

func (a roleAuth) sign(req *http.Request, body []byte) error {
	v, err := trust.Signer{Key: a.key, Service: roleFocus, Host: a.host}.SignHTTP(req.Method, req.URL.RequestURI(), body)
	if err != nil {
		return err
	}
	req.Header.Set(trust.Header, v)
	return nil
}

func (a roleAuth) verify(req *http.Request, body []byte) error {
	// RequestURI is the target as sent, before any prefix was stripped
	// for a sub-handler: what the signer signed.
	uri := req.RequestURI
	if uri == "" {
		uri = req.URL.RequestURI()
	}
	service, host, err := trust.VerifyHTTP(a.key, req.Header.Values(trust.Header), req.Method, uri, body, time.Now())
	if err != nil {
		return err
	}
	if service != roleFocus {
		return fmt.Errorf("service %s may not command conferencing servers", service)
	}
	if strings.EqualFold(host, a.host) {
		return nil
	}
	servers, err := a.dir.Servers(req.Context())
	if err != nil {
		return fmt.Errorf("reading the servers: %w", err)
	}
	for _, s := range servers {
		if strings.EqualFold(s.FQDN, host) {
			return nil
		}
	}
	return fmt.Errorf("%s is not a server of this deployment", host)
}

// mountMCU serves the A/V MCU's control surface: C3P commands from the
// Focus and its load for the Conferencing Server Factory.
func mountMCU(mux *http.ServeMux, mcu *avmcu.MCU, roles roleAuth) {
	mux.HandleFunc("POST /avmcu/c3p", func(w http.ResponseWriter, r *http.Request) {
		mcu.ServeControl(w, r, roles.verify)
	})
	mux.HandleFunc("GET /avmcu/load", func(w http.ResponseWriter, r *http.Request) {
		if err := roles.verify(r, nil); err != nil {
			http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
			return
		}
		mcu.ServeLoad(w, r)
	})
}

// newMCUFactory is the pool's Conferencing Server Factory. A Standard
// Edition pool has one A/V MCU, this server's; more come with more servers.
func newMCUFactory(adminURL string, roles roleAuth, log *slog.Logger) *mcufactory.Factory {
	return mcufactory.New(mcufactory.Config{
		MCUs: []mcufactory.MCU{
			{URL: adminURL + "/avmcu", Type: c3p.MCUTypeAudioVideo},
			{URL: adminURL + imMCUPath, Type: c3p.MCUTypeChat},
		},
		Sign: roles.sign,
	}, log)
}
