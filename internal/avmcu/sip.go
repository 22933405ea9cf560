package avmcu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx"
)

// The SIP side of the A/V Conferencing Server ([MS-CONFAV] §1.3: "AVMCU uses
// SIP/SDP offer-answer/RTP"). A participant joins a conference's audio by an
// INVITE with an SDP offer to the conference's A/V MCU URI,
// sip:ORGANIZER;gruu;opaque=app:conf:audio-video:id:KEY (protocols.md §1.3);
// the MCU answers with its shared RTP port, makes the leg, and keeps a dialog
// for it: BYE from either side ends the leg, a re-INVITE changes its address
// or direction (hold).

// MaxSDPBody bounds an INVITE's SDP.
const MaxSDPBody = sdpoa.MaxSize

// Admitter decides who may join a conference's audio. Until the Focus
// tells the MCU who may join (addUser), the server decides from the meeting.
type Admitter interface {
	// Admit reports whether user (an authenticated address-of-record, or
	// "" for an unauthenticated caller) may join the meeting key of
	// organizer. The error's text is shown to the caller.
	Admit(ctx context.Context, organizer, key, user string) error
}

// Notifier hears about legs, for the roster: it is called off the media
// path, on the engine's event goroutine or a SIP handler.
type Notifier interface {
	LegJoined(conference, user, legID string)
	LegLeft(conference, user, legID, reason string)
	DTMF(conference, user, legID string, digit rune, inBand bool)
}

// SIPConfig configures the MCU's SIP side.
type SIPConfig struct {
	// Hostname names this server in Warning headers.
	Hostname string
	// Contact returns the Contact the MCU puts in its answers for requests
	// that came on transport ("udp", "tcp", "tls"): an address of this
	// server, so that in-dialog requests come back here.
	Contact func(transport string) sip.ContactHeader
	// Codecs are the audio codecs offered in answers, preferred first;
	// empty means PCMU, PCMA, G722.
	Codecs []codec.Codec
	// SRTP is the encryption policy; SRTPOptional by default.
	SRTP sdpoa.SRTPPolicy
	// Admit decides who may join; nil admits everyone (tests).
	Admit Admitter
	// Notify hears about legs; nil is fine.
	Notify Notifier
	// Canonical maps an organizer's URI to the form the directory keeps
	// (an alias host such as the server's address to the domain), so that
	// every way of dialing a conference reaches the same one; nil keeps
	// URIs as they are.
	Canonical func(uri string) string
	// Sign signs the MCU's dial-out INVITEs (a trust.Signer for service
	// "avmcu"): the Mediation Server only lets a trusted service replace
	// its call with the Conferencing Attendant (RFC 3891). Nil sends them
	// unsigned.
	Sign func(req *sip.Request) error
	// DialOutTimeout bounds a dial-out from its INVITE to the answer; 0
	// means DefaultDialOutTimeout. It bounds the INVITE to the
	// announcement service too.
	DialOutTimeout time.Duration
	// Announcement is the Conference Announcement Service's SIP URI, e.g.
	// sip:announcement@192.0.2.1:5073;transport=tcp: the MCU invites it
	// when a conference's first dial-in caller joins (cas.go). Empty
	// means no service.
	Announcement string
	// VerifySIP checks the trust signature of a request in the
	// announcement service's dialog and returns the service that signed
	// it (trust.Verify); only AnnouncementService may play announcements
	// there. Nil accepts any request of the dialog, for tests.
	VerifySIP func(req *sip.Request) (service string, err error)
}

// MCU is the A/V Conferencing Server: the media engine with its SIP
// dialogs.
type MCU struct {
	engine *Engine
	cfg    SIPConfig
	log    *slog.Logger
	cache  *sipgo.DialogServerCache
	client *sipgo.Client // sends dial-out INVITEs; nil disables dial-out

	mu         sync.Mutex
	calls      map[string]*call      // by dialog ID
	admissions map[string]*admission // by conference, once the Focus provisioned it
	cas        casState              // the announcement service's dialogs (cas.go)
}

// call is one participant's audio dialog.
type call struct {
	id      string
	user    string
	conf    string
	leg     *Leg
	dlg     *sipgo.DialogServerSession // a dialed-in leg
	uac     *sipgo.DialogClientSession // a dialed-out leg (dialout.go)
	session *sdpoa.Session
	once    sync.Once
}

// NewMCU puts SIP on an engine. client sends the MCU's own requests (BYE,
// and the INVITEs of dial-outs).
func NewMCU(engine *Engine, client *sipgo.Client, cfg SIPConfig, log *slog.Logger) *MCU {
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []codec.Codec{codec.PCMU, codec.PCMA, codec.G722}
	}
	if cfg.SRTP == sdpoa.SRTPOff {
		cfg.SRTP = sdpoa.SRTPOptional
	}
	if cfg.DialOutTimeout <= 0 {
		cfg.DialOutTimeout = DefaultDialOutTimeout
	}
	m := &MCU{
		engine: engine, cfg: cfg, log: log, client: client,
		cache:      sipgo.NewDialogServerCache(client, sip.ContactHeader{}),
		calls:      make(map[string]*call),
		admissions: make(map[string]*admission),
	}
	m.initCAS()
	return m
}

// SetNotifier replaces the notifier; call it before the MCU serves (the
// server wires the Focus in once both exist).
func (m *MCU) SetNotifier(n Notifier) {
	m.mu.Lock()
	m.cfg.Notify = n
	m.mu.Unlock()
}

// notifier is the current notifier.
func (m *MCU) notifier() Notifier {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Notify
}

// Handles reports whether req is addressed to an A/V MCU conference URI.
func Handles(req *sip.Request) bool {
	_, svc, _, ok := c3p.ParseConferenceURI(req.Recipient.String())
	return ok && svc == c3p.MCUTypeAudioVideo
}

// Owns reports whether req belongs to one of the MCU's dialogs: a leg's,
// or the Conference Announcement Service's (which sends INFO, ServeINFO).
func (m *MCU) Owns(req *sip.Request) bool {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return false
	}
	m.mu.Lock()
	_, ok := m.calls[id]
	_, cas := m.cas.byID[id]
	m.mu.Unlock()
	return ok || cas
}

// ServeINVITE answers an INVITE to a conference URI (a join) or within one
// of the MCU's dialogs (a re-INVITE). user is the authenticated caller.
func (m *MCU) ServeINVITE(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, user string) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			m.reinvite(req, tx)
			return
		}
	}
	organizer, _, key, ok := c3p.ParseConferenceURI(req.Recipient.String())
	if !ok {
		m.respond(tx, sipx.Reject(req, 404, "Not Found", m.cfg.Hostname, "not an A/V conference URI"))
		return
	}
	if m.cfg.Canonical != nil {
		organizer = m.cfg.Canonical(organizer)
	}
	conf := c3p.ConferenceURI(organizer, c3p.ServiceFocus, key)
	// Once the Focus has provisioned the conference, it alone decides who
	// joins (addUser); before that, the meeting's admission policy does.
	if provisioned, allowed := m.admittedByFocus(conf, user); provisioned {
		if !allowed {
			m.respond(tx, sipx.Reject(req, 403, "Forbidden", m.cfg.Hostname, "the focus has not admitted "+user))
			return
		}
	} else if m.cfg.Admit != nil {
		if err := m.cfg.Admit.Admit(ctx, organizer, key, user); err != nil {
			m.respond(tx, sipx.Reject(req, 403, "Forbidden", m.cfg.Hostname, err.Error()))
			return
		}
	}
	session := sdpoa.NewSession("parley")
	answer, spec, fail := m.negotiate(req, session)
	if fail != nil {
		m.respond(tx, fail)
		return
	}
	c := &call{user: user, conf: conf, session: session}
	spec.Events = m.events(c)
	leg, err := m.engine.Conference(conf).AddLeg(spec)
	switch {
	case errors.Is(err, ErrFull):
		res := sipx.Reject(req, 503, "Service Unavailable", m.cfg.Hostname, "the A/V conferencing server is full")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		m.respond(tx, res)
		return
	case err != nil:
		m.respond(tx, sipx.Reject(req, 488, "Not Acceptable Here", m.cfg.Hostname, err.Error()))
		return
	}
	c.leg = leg
	dlg, err := m.cache.ReadInvite(req, tx)
	if err != nil {
		leg.Remove()
		m.respond(tx, sipx.Reject(req, 500, "Server Internal Error", m.cfg.Hostname, "dialog: "+err.Error()))
		return
	}
	c.dlg, c.id = dlg, dlg.ID
	m.mu.Lock()
	m.calls[c.id] = c
	m.mu.Unlock()
	contact := m.cfg.Contact(strings.ToLower(req.Transport()))
	if err := dlg.Respond(200, "OK", answer, sip.NewHeader("Content-Type", "application/sdp"), &contact); err != nil {
		m.end(c, "the answer could not be sent")
		return
	}
	m.log.InfoContext(ctx, "leg joined", "conference", conf, "user", user, "remote", spec.Remote, "codec", spec.Codec.Name, "srtp", spec.SRTP != nil)
	if n := m.notifier(); n != nil {
		n.LegJoined(conf, user, c.id)
	}
	// Ending the dialog from the other side (BYE) ends the leg.
	go func() {
		<-dlg.Context().Done()
		m.end(c, "bye")
	}()
}

// negotiate answers the offer and describes the leg it makes.
func (m *MCU) negotiate(req *sip.Request, session *sdpoa.Session) ([]byte, LegSpec, *sip.Response) {
	ct := req.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), "application/sdp") {
		res := sipx.Reject(req, 415, "Unsupported Media Type", m.cfg.Hostname, "an SDP offer is required")
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		return nil, LegSpec{}, res
	}
	if len(req.Body()) > MaxSDPBody {
		return nil, LegSpec{}, sipx.Reject(req, 413, "Request Entity Too Large", m.cfg.Hostname, "SDP larger than "+strconv.Itoa(MaxSDPBody)+" bytes")
	}
	offer, err := sdpoa.Parse(req.Body())
	if err != nil {
		return nil, LegSpec{}, sipx.Reject(req, 400, "Bad Request", m.cfg.Hostname, "SDP: "+err.Error())
	}
	local := m.sdpConfig(session)
	var neg *sdes.Negotiated
	local.AnswerCrypto = func(offered []string) (string, error) {
		n, err := sdes.Answer(offered, nil)
		if err != nil {
			return "", err
		}
		neg = &n
		return n.Local.String(), nil
	}
	answer, res, err := sdpoa.Answer(offer, local)
	if err != nil {
		return nil, LegSpec{}, sipx.Reject(req, 488, "Not Acceptable Here", m.cfg.Hostname, err.Error())
	}
	spec, err := m.legSpec(res, neg)
	if err != nil {
		return nil, LegSpec{}, sipx.Reject(req, 488, "Not Acceptable Here", m.cfg.Hostname, err.Error())
	}
	return answer, spec, nil
}

// sdpConfig is our side of a negotiation.
func (m *MCU) sdpConfig(session *sdpoa.Session) sdpoa.Config {
	rtp := m.engine.RTPAddr()
	cfg := sdpoa.Config{
		Session: session, SessionName: "Parley A/V MCU",
		Addrs: []netip.Addr{rtp.Addr()}, Port: int(rtp.Port()), RTCPMux: true,
		SRTP: m.cfg.SRTP,
	}
	for _, c := range m.cfg.Codecs {
		cfg.Codecs = append(cfg.Codecs, sdpoa.Codec{PayloadType: c.PayloadType, Name: c.Name, ClockRate: uint32(c.ClockRate)})
	}
	cfg.Codecs = append(cfg.Codecs, sdpoa.Codec{PayloadType: 101, Name: "telephone-event", ClockRate: 8000})
	return cfg
}

// legSpec turns a negotiation's result into a leg.
func (m *MCU) legSpec(res sdpoa.Result, neg *sdes.Negotiated) (LegSpec, error) {
	c, ok := codec.Lookup(res.Codec.Name, int(res.Codec.ClockRate))
	if !ok {
		return LegSpec{}, fmt.Errorf("codec %s/%d is not supported", res.Codec.Name, res.Codec.ClockRate)
	}
	spec := LegSpec{
		Remote: res.Remote, RemoteRTCP: res.RemoteRTCP, RTCPMux: res.RTCPMux,
		Codec: c, PayloadType: res.Codec.PayloadType, Direction: direction(res.Direction),
		DetectInBand: true,
	}
	if res.TelephoneEvent.Name != "" {
		spec.TelephoneEvent = res.TelephoneEvent.PayloadType
	}
	if res.SRTP {
		if neg == nil {
			return LegSpec{}, errors.New("SRTP negotiated without keys")
		}
		spec.SRTP = neg
	}
	return spec, nil
}

// direction maps the SDP answer's direction to the leg's.
func direction(d sdpoa.Direction) Direction {
	switch d {
	case sdpoa.SendOnly:
		return SendOnly
	case sdpoa.RecvOnly:
		return RecvOnly
	case sdpoa.Inactive:
		return Inactive
	default:
		return SendRecv
	}
}

// reinvite updates a leg's address or direction (RFC 3264 §8: hold and
// resume, a new port) and answers with our unchanged media.
func (m *MCU) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := m.match(req)
	if c == nil {
		if m.announcerOf(req) != nil {
			m.respond(tx, sipx.Reject(req, 488, "Not Acceptable Here", m.cfg.Hostname, "the announcement dialog has no media"))
			return
		}
		m.respond(tx, sipx.Reject(req, 481, "Call/Transaction Does Not Exist", m.cfg.Hostname, "no such dialog"))
		return
	}
	answer, spec, fail := m.negotiate(req, c.session)
	if fail != nil {
		m.respond(tx, fail)
		return
	}
	if err := c.leg.UpdateRemote(RemoteUpdate{
		Remote: spec.Remote, RemoteRTCP: spec.RemoteRTCP, RTCPMux: spec.RTCPMux,
		Direction: spec.Direction, SRTP: spec.SRTP,
	}); err != nil {
		m.respond(tx, sipx.Reject(req, 488, "Not Acceptable Here", m.cfg.Hostname, err.Error()))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", answer)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	contact := m.cfg.Contact(strings.ToLower(req.Transport()))
	res.AppendHeader(&contact)
	m.respond(tx, res)
}

// ServeACK takes the ACK of an answer.
func (m *MCU) ServeACK(req *sip.Request, tx sip.ServerTransaction) {
	_ = m.cache.ReadAck(req, tx)
}

// ServeBYE ends a leg at the participant's request, or the dialog with
// the Conference Announcement Service at its request.
func (m *MCU) ServeBYE(req *sip.Request, tx sip.ServerTransaction) {
	if m.serveAnnouncerBYE(req, tx) {
		return
	}
	c := m.match(req)
	if c == nil {
		m.respond(tx, sipx.Reject(req, 481, "Call/Transaction Does Not Exist", m.cfg.Hostname, "no such dialog"))
		return
	}
	var err error
	if c.uac != nil {
		err = c.uac.ReadBye(req, tx)
	} else {
		err = m.cache.ReadBye(req, tx)
	}
	if err != nil {
		m.log.Debug("BYE", "err", err)
	}
	m.end(c, "bye")
}

func (m *MCU) match(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[id]
}

// events are a leg's callbacks: media that stops, or an RTCP BYE, hangs
// the dialog up from our side.
func (m *MCU) events(c *call) LegEvents {
	return LegEvents{
		OnInactive: func() { m.hangUp(c, "media inactivity") },
		OnBye:      func() { m.hangUp(c, "RTCP BYE") },
		OnDTMF: func(digit rune, inBand bool) {
			if n := m.notifier(); n != nil {
				n.DTMF(c.conf, c.user, c.id, digit, inBand)
			}
		},
	}
}

// hangUp sends BYE and ends the leg.
func (m *MCU) hangUp(c *call, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	var err error
	switch {
	case c.dlg != nil:
		err = c.dlg.Bye(ctx)
	case c.uac != nil:
		err = c.uac.Bye(ctx)
	}
	cancel()
	if err != nil {
		m.log.Debug("BYE to a leg failed", "conference", c.conf, "err", err)
	}
	m.end(c, reason)
}

// Eject hangs up every leg of user in conference (the Focus's deleteUser)
// and reports how many there were.
func (m *MCU) Eject(conference, user string) int {
	n := 0
	for _, c := range m.callsOf(conference) {
		if c.user == user {
			m.hangUp(c, "ejected")
			n++
		}
	}
	return n
}

// SetMuted mutes or unmutes every leg of user in conference (the Focus's
// modifyEndpointMedia, [MS-CONFAV] media-ingress-filter block/unblock).
func (m *MCU) SetMuted(conference, user string, muted bool) int {
	n := 0
	for _, c := range m.callsOf(conference) {
		if c.user == user {
			c.leg.SetMuted(muted)
			n++
		}
	}
	return n
}

// EndConference hangs up everyone (the Focus's deleteConference), the
// announcement service first, so that it announces nobody's leaving.
func (m *MCU) EndConference(conference string) {
	m.endAnnouncer(conference)
	for _, c := range m.callsOf(conference) {
		m.hangUp(c, "conference ended")
	}
	m.engine.Conference(conference).Close()
}

func (m *MCU) callsOf(conference string) []*call {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*call
	for _, c := range m.calls {
		if c.conf == conference {
			out = append(out, c)
		}
	}
	return out
}

// end removes a call's leg, once.
func (m *MCU) end(c *call, reason string) {
	c.once.Do(func() {
		if c.leg != nil {
			c.leg.Remove()
		}
		m.mu.Lock()
		delete(m.calls, c.id)
		cas := m.lastLegGone(c.conf)
		m.mu.Unlock()
		if cas != nil {
			// Not on this goroutine: it may be a SIP handler's.
			go m.endAnnouncerLink(cas)
		}
		if c.dlg != nil {
			_ = c.dlg.Close()
		}
		if c.uac != nil {
			_ = c.uac.Close()
		}
		m.log.Info("leg left", "conference", c.conf, "user", c.user, "reason", reason)
		if n := m.notifier(); n != nil {
			n.LegLeft(c.conf, c.user, c.id, reason)
		}
	})
}

func (m *MCU) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		m.log.Debug("response not sent", "err", err)
	}
}
