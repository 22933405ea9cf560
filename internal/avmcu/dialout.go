package avmcu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
)

// Dial-out ([MS-CONFBAS] addUser dial-out): when the Focus's addUser names
// an endpoint to call, the MCU sends it an INVITE with From = the
// conference's A/V MCU URI, To = the user, Request-URI = the endpoint's
// refer-to-uri (else endpoint-uri), headers embedded in that URI copied
// (RFC 3261 §19.1.5), and makes the leg from the answer. This is how a
// dial-in caller's audio moves from the Conferencing Attendant to the MCU
// (seed 001 step 11): the refer-to URI names the Mediation Server and
// carries a Replaces header (RFC 3891) for its call with the attendant.

// DefaultDialOutTimeout bounds a dial-out from its INVITE to the answer.
const DefaultDialOutTimeout = 15 * time.Second

// dialOutSuites are the SRTP suites a dial-out offers:
// AES_CM_128_HMAC_SHA1_80, which every SDES endpoint implements
// (RFC 4568 §6.2.1), then AEAD_AES_128_GCM (RFC 7714 §12).
var dialOutSuites = []sdes.Suite{sdes.SuiteAESCM80, sdes.SuiteGCM128}

// errNoClient refuses a dial-out on an MCU built without a SIP client.
var errNoClient = errors.New("avmcu: dial-out needs a SIP client")

// dialOut is one call the Focus asked for.
type dialOut struct {
	conf     string // the conference (its focus URI, canonical)
	user     string // the user, canonical, as the roster and Eject know him
	endpoint string // the endpoint's entity, for the addUser answer
	from     sip.Uri
	to       sip.Uri
	target   dialTarget
}

// dialOutOf finds the dial-out in an addUser's user: an endpoint with a
// refer-to-uri or endpoint-uri that was not dialed in. It returns nil when
// there is none, and an error, before anything changed, when it cannot be
// called.
func (m *MCU) dialOutOf(conf string, u *c3p.User) (*dialOut, error) {
	var ep *c3p.Endpoint
	for i := range u.Endpoints {
		e := &u.Endpoints[i]
		if e.JoiningMethod == c3p.JoiningDialedIn || (e.ReferToURI == "" && e.EndpointURI == "") {
			continue
		}
		if ep != nil {
			// [MS-CONFBAS] §2.2.3.15: zero or one endpoint.
			return nil, fmt.Errorf("%w: more than one endpoint to call", ErrDialOut)
		}
		ep = e
	}
	if ep == nil {
		return nil, nil
	}
	if m.client == nil {
		return nil, errNoClient
	}
	raw := ep.ReferToURI
	if raw == "" {
		raw = ep.EndpointURI
	}
	target, err := parseDialTarget(raw)
	if err != nil {
		return nil, err
	}
	d := &dialOut{conf: conf, user: m.canonicalUser(u.Entity), endpoint: ep.Entity, target: target}
	if err := sip.ParseUri(d.user, &d.to); err != nil {
		return nil, fmt.Errorf("%w: user %q: %w", ErrDialOut, u.Entity, err)
	}
	org, _, key, _ := c3p.ParseConferenceURI(conf)
	if err := sip.ParseUri(c3p.ConferenceURI(org, c3p.MCUTypeAudioVideo, key), &d.from); err != nil {
		return nil, fmt.Errorf("%w: conference URI: %w", ErrDialOut, err)
	}
	return d, nil
}

// reasonFor is the C3P failure reason of a refused dial-out.
func reasonFor(err error) string {
	if errors.Is(err, ErrDialOut) {
		return reasonMalformed
	}
	return reasonUnsupported
}

// dialOut calls d's endpoint and, when it answers, makes its leg. It
// reports the outcome to the notifier as a dialed-in leg's: LegJoined, or
// LegLeft with no leg ID and the reason, so that the Focus drops the
// caller.
func (m *MCU) dialOut(d *dialOut) {
	log := m.log.With("conference", d.conf, "user", d.user, "target", d.target.uri.String())
	if reason := m.place(d, log); reason != "" {
		log.Info("dial-out failed", "reason", reason)
		if n := m.notifier(); n != nil {
			n.LegLeft(d.conf, d.user, "", reason)
		}
	}
}

// place runs a dial-out and returns why it failed, or "" once the leg is in.
func (m *MCU) place(d *dialOut, log *slog.Logger) string {
	session := sdpoa.NewSession("parley")
	local, offered, body, err := m.offer(session)
	if err != nil {
		return "offer: " + err.Error()
	}
	contact := m.cfg.Contact(strings.ToLower(d.target.transport))
	req, err := m.inviteRequest(d, contact, body)
	if err != nil {
		return err.Error()
	}
	dlg, err := m.invite(req, contact, log)
	if err != nil {
		return err.Error()
	}
	spec, err := m.answeredSpec(dlg.InviteResponse, local, offered)
	if err != nil {
		m.bye(dlg, log)
		return "answer: " + err.Error()
	}
	c := &call{user: d.user, conf: d.conf, session: session, uac: dlg}
	// Requests from the far end come with our tag in To and its tag in
	// From: the dialog is filed under the ID that the UAS side of such a
	// request gives (sip.DialogIDFromRequestUAS), as dialed-in ones are.
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := dlg.InviteResponse.To().Params.Get("tag")
	c.id = sip.DialogIDMake(req.CallID().Value(), fromTag, toTag)
	spec.Events = m.events(c)
	leg, err := m.engine.Conference(d.conf).AddLeg(spec)
	switch {
	case errors.Is(err, ErrFull):
		m.bye(dlg, log)
		return "the A/V conferencing server is full"
	case err != nil:
		m.bye(dlg, log)
		return "leg: " + err.Error()
	}
	c.leg = leg
	if !m.register(c) {
		leg.Remove()
		m.bye(dlg, log)
		return "the user or the conference was removed while dialing"
	}
	log.Info("leg joined by dial-out", "remote", spec.Remote, "codec", spec.Codec.Name, "srtp", spec.SRTP != nil)
	if n := m.notifier(); n != nil {
		n.LegJoined(d.conf, d.user, c.id)
	}
	if d.target.handsOff() {
		// A dial-in caller joined: the conference needs its
		// announcement service (cas.go).
		m.inviteAnnouncer(c)
	}
	return ""
}

// register files a dialed-out call if its conference is still provisioned
// and its user still allowed: deleteUser and deleteConference change both
// before they hang up the calls they find, so a call answered meanwhile is
// either found by them or refused here.
func (m *MCU) register(c *call) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.admissions[c.conf]
	if a == nil {
		return false
	}
	if _, ok := a.allowed[c.user]; !ok {
		return false
	}
	m.calls[c.id] = c
	return true
}

// offer makes the dial-out's SDP offer: the shared RTP port with rtcp-mux,
// the configured codecs and telephone-event, and fresh SDES keys on
// RTP/SAVP unless SRTP is off. It returns the config the answer must be
// read with and the keys offered.
func (m *MCU) offer(session *sdpoa.Session) (sdpoa.Config, []sdes.Crypto, []byte, error) {
	local := m.sdpConfig(session)
	var offered []sdes.Crypto
	if m.cfg.SRTP != sdpoa.SRTPOff {
		// An offer with keys on RTP/AVP (best-effort SRTP) would be
		// answered in plain RTP by an endpoint that ignores them; the
		// Mediation Server's front-end side is SRTP only, so the MCU
		// offers RTP/SAVP and insists.
		local.SRTP = sdpoa.SRTPRequired
		var err error
		if offered, err = sdes.Offer(dialOutSuites); err != nil {
			return sdpoa.Config{}, nil, nil, fmt.Errorf("SRTP keys: %w", err)
		}
		for i := range offered {
			local.Crypto = append(local.Crypto, offered[i].String())
		}
	}
	body, err := sdpoa.Offer(local)
	if err != nil {
		return sdpoa.Config{}, nil, nil, err
	}
	return local, offered, body, nil
}

// inviteRequest builds the signed INVITE of a dial-out. Every header the
// signature covers (Request-URI, From tag, Call-ID, CSeq, body) is final
// here: the client only adds a Via.
func (m *MCU) inviteRequest(d *dialOut, contact sip.ContactHeader, body []byte) (*sip.Request, error) {
	req := sip.NewRequest(sip.INVITE, d.target.uri)
	from := &sip.FromHeader{Address: d.from, Params: sip.NewParams()}
	from.Params.Add("tag", rand.Text())
	to := &sip.ToHeader{Address: d.to, Params: sip.NewParams()}
	callID := sip.CallIDHeader(rand.Text())
	maxForwards := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxForwards)
	req.AppendHeader(&contact)
	// RFC 3891 §3: a UA that sends Replaces supports it.
	req.AppendHeader(sip.NewHeader("Supported", strings.Join(d.target.supported, ", ")))
	for _, h := range d.target.headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	req.SetTransport(d.target.transport)
	if m.cfg.Sign != nil {
		if err := m.cfg.Sign(req); err != nil {
			return nil, fmt.Errorf("signing the INVITE: %w", err)
		}
	}
	return req, nil
}

// invite sends req and waits for a 2xx, which it acknowledges, at most
// DialOutTimeout. A call still ringing then is cancelled; one that has not
// even sent a provisional response is abandoned, since RFC 3261 §9.1 lets
// no CANCEL precede one.
func (m *MCU) invite(req *sip.Request, contact sip.ContactHeader, log *slog.Logger) (*sipgo.DialogClientSession, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var provisional atomic.Bool
	timeout := m.cfg.DialOutTimeout
	timer := time.AfterFunc(timeout, func() {
		if provisional.Load() {
			cancel(context.DeadlineExceeded)
			return
		}
		cancel(sipgo.WaitAnswerForceCancelErr)
	})
	defer timer.Stop()
	ua := &sipgo.DialogUA{Client: m.client, ContactHDR: contact}
	dlg, err := ua.WriteInvite(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within %v", timeout)
		}
		return nil, fmt.Errorf("sending the INVITE: %w", err)
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.IsProvisional() {
			provisional.Store(true)
			log.Debug("dial-out progress", "status", res.StatusCode)
		}
		return nil
	}})
	var failed *sipgo.ErrDialogResponse
	switch {
	case err == nil:
	case errors.As(err, &failed):
		return nil, fmt.Errorf("%d %s", failed.Res.StatusCode, failed.Res.Reason)
	case dlg.InviteResponse != nil && dlg.InviteResponse.IsSuccess():
		// Answered as the CANCEL crossed it (RFC 3261 §9.1): the call
		// exists and must be ended.
		ackCtx, done := context.WithTimeout(context.Background(), time.Second)
		if dlg.Ack(ackCtx) == nil {
			m.bye(dlg, log)
		}
		done()
		return nil, fmt.Errorf("no answer within %v", timeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("no answer within %v", timeout)
	default:
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	ackCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := dlg.Ack(ackCtx); err != nil {
		return nil, fmt.Errorf("ACK: %w", err)
	}
	return dlg, nil
}

// answeredSpec reads the 2xx's SDP answer into a leg.
func (m *MCU) answeredSpec(res *sip.Response, local sdpoa.Config, offered []sdes.Crypto) (LegSpec, error) {
	ct := res.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), "application/sdp") {
		return LegSpec{}, errors.New("the 2xx has no SDP answer")
	}
	if len(res.Body()) > MaxSDPBody {
		return LegSpec{}, errors.New("SDP larger than " + strconv.Itoa(MaxSDPBody) + " bytes")
	}
	agreed, err := sdpoa.ParseAnswer(res.Body(), local)
	if err != nil {
		return LegSpec{}, err
	}
	var neg *sdes.Negotiated
	if agreed.SRTP {
		n, err := sdes.AcceptAnswer(offered, agreed.RemoteCrypto)
		if err != nil {
			return LegSpec{}, err
		}
		neg = &n
	}
	return m.legSpec(agreed, neg)
}

// bye ends an answered dial-out that will have no leg.
func (m *MCU) bye(dlg *sipgo.DialogClientSession, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		log.Debug("BYE to a dialed-out call failed", "err", err)
	}
}
