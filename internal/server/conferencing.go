package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/avmcu"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focusfactory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// serviceTimeout bounds the work on one SERVICE request.
const serviceTimeout = 10 * time.Second

// sweepInterval is how often expired meetings are deleted.
const sweepInterval = 5 * time.Minute

// meetingDB is the store as the conferencing roles need it: the directory
// and the meeting table.
type meetingDB interface {
	directory.Store
	directory.MeetingStore
}

// newFocusFactory builds the Focus Factory on the store. It reads users
// from the store rather than the user cache, since it changes their
// assigned conference IDs, and tells the cache when it does.
func newFocusFactory(org directory.Organization, hostname string, local *sipx.Local, db meetingDB, cache *userCache, log *slog.Logger) (*focusfactory.Factory, error) {
	codec, err := confid.NewCodec(org.ConferenceKey)
	if err != nil {
		return nil, fmt.Errorf("conference IDs: %w", err)
	}
	pk, err := c3p.DerivePasscodeKey(deriveKey(org.ConferenceKey, "parley passcode hpke v1"))
	if err != nil {
		return nil, err
	}
	return focusfactory.New(focusfactory.Config{
		Hostname:        hostname,
		Domain:          org.PrimaryDomain(),
		Local:           local,
		Codec:           codec,
		PasscodeKey:     pk,
		AccessKeySecret: deriveKey(org.ConferenceKey, "parley access key v1"),
		DefaultPolicy:   admin.DefaultPolicyName,
	}, db, cachedMeetings{db, cache}, log)
}

// cachedMeetings forgets an organizer's cached user entry after a write to
// his meetings, since a personal meeting's write changes his assigned
// conference ID.
type cachedMeetings struct {
	directory.MeetingStore
	cache *userCache
}

func (c cachedMeetings) CreateMeeting(ctx context.Context, m directory.Meeting) error {
	err := c.MeetingStore.CreateMeeting(ctx, m)
	c.cache.forget(m.Organizer)
	return err
}

func (c cachedMeetings) UpdateMeeting(ctx context.Context, organizer, key string, fn func(*directory.Meeting) error) (directory.Meeting, error) {
	m, err := c.MeetingStore.UpdateMeeting(ctx, organizer, key, fn)
	c.cache.forget(organizer)
	return m, err
}

func (c cachedMeetings) DeleteMeeting(ctx context.Context, organizer, key string) error {
	err := c.MeetingStore.DeleteMeeting(ctx, organizer, key)
	c.cache.forget(organizer)
	return err
}

// serveSERVICE routes SERVICE requests: those to a Focus Factory of one of
// our users are authenticated (407, like any request the proxy serves for
// a local user) and answered here; the rest are proxied.
func (s *sipServer) serveSERVICE(req *sip.Request, tx sip.ServerTransaction) {
	if s.ff == nil || !focusfactory.Handles(req) || !s.local.IsLocal(req.Recipient.Host) {
		s.prx.ServeSIP(req, tx)
		return
	}
	// The transaction lasts at most 32 s (RFC 3261 §17.2.2); the work is
	// bounded well within it.
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if len(req.GetHeaders(trust.Header)) > 0 {
		s.serveTrusted(ctx, req, tx)
		return
	}
	user := ""
	if s.auth != nil {
		name, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			_ = tx.Respond(reject)
			return
		}
		user = s.userAOR(name)
	}
	if err := tx.Respond(s.ff.ServeSERVICE(ctx, req, user)); err != nil {
		s.log.WarnContext(ctx, "focus factory: the response could not be sent", "call_id", req.CallID().Value(), "err", err)
	}
}

// serveTrusted answers a trusted service's privileged request: its
// signature must verify and name a trusted service of the directory
// (seed 000: the Conferencing Attendant and Announcement Service are
// trusted by the front end).
func (s *sipServer) serveTrusted(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	service, host, err := trust.Verify(s.trustKey, req, time.Now())
	if err == nil && !s.isTrusted(ctx, service, host) {
		err = fmt.Errorf("%s at %s is not a trusted service", service, host)
	}
	if err != nil {
		s.log.WarnContext(ctx, "untrusted privileged request refused", "source", req.Source(), "err", err)
		_ = tx.Respond(sipx.Reject(req, 403, "Forbidden", s.hostname, err.Error()))
		return
	}
	if err := tx.Respond(s.ff.ServeTrusted(ctx, req, service+"@"+host)); err != nil {
		s.log.WarnContext(ctx, "focus factory: the response could not be sent", "call_id", req.CallID().Value(), "err", err)
	}
}

// isTrusted reports whether the directory lists host as running service.
func (s *sipServer) isTrusted(ctx context.Context, service, host string) bool {
	list, err := s.dir.TrustedServices(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "reading trusted services", "err", err)
		return false
	}
	for _, t := range list {
		if t.Type == service && strings.EqualFold(t.FQDN, host) {
			return true
		}
	}
	return false
}

// userAOR is the address-of-record of a digest username, as credentials
// looks it up.
func (s *sipServer) userAOR(username string) string {
	u := strings.ToLower(username)
	if strings.Contains(u, "@") {
		return "sip:" + strings.TrimPrefix(u, "sip:")
	}
	return "sip:" + u + "@" + s.local.PrimaryDomain()
}

// route sends a request to the role it is for: the A/V MCU's conference
// URIs and dialogs to the MCU, everything else to the proxy.
func (s *sipServer) route(req *sip.Request, tx sip.ServerTransaction) {
	if s.mcu != nil {
		switch {
		case req.Method == sip.INVITE && outOfDialog(req) && avmcu.Handles(req) && s.local.IsLocal(req.Recipient.Host):
			s.serveMCUInvite(req, tx)
			return
		case !outOfDialog(req) && s.mcu.Owns(req):
			switch req.Method {
			case sip.INVITE:
				s.mcu.ServeINVITE(context.Background(), req, tx, "")
			case sip.ACK:
				s.mcu.ServeACK(req, tx)
			case sip.BYE:
				s.mcu.ServeBYE(req, tx)
			default:
				_ = tx.Respond(sipx.Reject(req, 405, "Method Not Allowed", s.hostname, "the A/V MCU takes INVITE, ACK and BYE in its dialogs"))
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
	s.mcu.ServeINVITE(ctx, req, tx, user)
}

// contact is the Contact the MCU answers with: this server's listen
// address for the transport the request came on.
func (s *sipServer) contact(transport string) sip.ContactHeader {
	addr := s.listenAddrs[strings.ToLower(transport)]
	if addr == "" {
		addr = s.listenAddrs["udp"]
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: "avmcu", Host: host, Port: p, UriParams: sip.NewParams()}
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
func startMCU(ctx context.Context, g *errgroup.Group, cfg config.AVMCUConfig, s *sipServer, meetings directory.MeetingStore, hostname string, log *slog.Logger) (*avmcu.MCU, error) {
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
	return avmcu.NewMCU(engine, s.client, avmcu.SIPConfig{
		Hostname: hostname,
		Contact:  s.contact,
		Admit:    meetingAdmitter{meetings},
		Notify:   legLog{log},
		Canonical: func(uri string) string {
			var u sip.Uri
			if err := sip.ParseUri(uri, &u); err != nil {
				return uri
			}
			host := strings.ToLower(u.Host)
			if d, ok := s.local.Canonical(host); ok {
				host = d
			}
			return "sip:" + strings.ToLower(u.User) + "@" + host
		},
	}, log), nil
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

func (l legLog) DTMF(conference, user, legID string, digit rune, inBand bool) {
	l.log.Info("A/V leg DTMF", "conference", conference, "user", user, "digit", string(digit), "in_band", inBand)
}
