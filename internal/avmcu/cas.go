package avmcu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx"
)

// The Conference Announcement Service (seed 000: it is "invited by the A/V
// MCU when the first dial-in caller joins", once per meeting). When a
// dial-in caller's audio is handed to the MCU (a dial-out carrying Replaces,
// dialout.go) and the conference has no dialog with the service, the MCU
// INVITEs it with pl:announceConference, which names the meeting's Focus
// (whose roster the service watches) and the MCU's conference. The service
// then sends pl:playAnnouncement in INFO requests inside that dialog; the
// MCU runs them as it runs the Focus's over HTTP (control.go). The dialog
// ends when the conference ends, its last leg leaves, the MCU shuts down,
// or the service sends BYE; the next dial-in caller invites it again.

// AnnouncementService is the trusted service name the Conference
// Announcement Service signs its requests with (internal/sipx/trust): the
// MCU takes playAnnouncement in INFO from it alone.
const AnnouncementService = "announcement"

// casRetryInterval is the least time between two INVITEs to a service that
// refused or did not answer the previous one for the same conference, so
// that an outage does not turn every dial-in caller into a new attempt.
const casRetryInterval = 10 * time.Second

// casLink is a conference's dialog with the announcement service.
type casLink struct {
	conf string
	dlg  *sipgo.DialogClientSession // nil while the INVITE is out
	id   string                     // the dialog ID, as requests from the service give it
	// ended is set when the conference ended or the MCU shut down while
	// the INVITE was out: an answer is then hung up at once.
	ended bool
}

// casFailure is when a conference's last INVITE to the service failed.
type casFailure struct{ at time.Time }

// casState is the MCU's side of the service, guarded by MCU.mu except
// where noted.
type casState struct {
	target    *sip.Uri // nil: no service configured
	transport string   // "UDP", "TCP" or "TLS"
	retry     time.Duration
	links     map[string]*casLink // by conference
	byID      map[string]*casLink // by dialog ID, once answered
	failed    map[string]casFailure
	closed    bool           // Shutdown ran: no more INVITEs
	inflight  sync.WaitGroup // INVITEs out; Add only under MCU.mu while !closed
	requestID atomic.Uint64  // C3P requestId of the INVITEs; not under mu
}

// initCAS reads SIPConfig.Announcement. A URI that cannot be used leaves
// the MCU without a service, loudly: meetings go on without announcements.
func (m *MCU) initCAS() {
	m.cas.retry = casRetryInterval
	m.cas.links = make(map[string]*casLink)
	m.cas.byID = make(map[string]*casLink)
	m.cas.failed = make(map[string]casFailure)
	if m.cfg.Announcement == "" {
		return
	}
	u, transport, err := parseAnnouncementURI(m.cfg.Announcement)
	if err != nil {
		m.log.Error("the Conference Announcement Service is not used", "err", err)
		return
	}
	m.cas.target, m.cas.transport = &u, transport
}

// parseAnnouncementURI checks the service's URI: a sip: or sips: URI with
// a host and no embedded headers, and the transport it names.
func parseAnnouncementURI(raw string) (sip.Uri, string, error) {
	var u sip.Uri
	raw = strings.TrimSpace(raw)
	if strings.ContainsAny(raw, "?<> \t\r\n") {
		return u, "", fmt.Errorf("avmcu: announcement URI %.80q: headers, brackets or spaces", raw)
	}
	if err := sip.ParseUri(raw, &u); err != nil {
		return u, "", fmt.Errorf("avmcu: announcement URI %.80q: %w", raw, err)
	}
	if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
		return u, "", fmt.Errorf("avmcu: announcement URI %.80q is not a sip: or sips: URI with a host", raw)
	}
	transport, err := transportOf(&u)
	if err != nil {
		return u, "", fmt.Errorf("avmcu: announcement URI: %w", err)
	}
	return u, transport, nil
}

// handsOff reports whether a dial-out takes over a call in progress
// (RFC 3891 Replaces): the dial-in caller's, whom the attendant admitted
// (seed 001 step 11). Other dial-outs are not dial-in callers.
func (t *dialTarget) handsOff() bool {
	return slices.ContainsFunc(t.headers, func(h sip.Header) bool { return h.Name() == "Replaces" })
}

// inviteAnnouncer invites the service for c's conference, unless the
// conference has its dialog or an INVITE out, or the last INVITE failed
// less than the retry interval ago. c must still be in: a leg that left
// meanwhile leaves no dialog behind.
func (m *MCU) inviteAnnouncer(c *call) {
	if m.cas.target == nil || m.client == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cas.closed || m.cas.links[c.conf] != nil || m.calls[c.id] != c {
		return
	}
	if f, ok := m.cas.failed[c.conf]; ok && time.Since(f.at) < m.cas.retry {
		return
	}
	link := &casLink{conf: c.conf}
	m.cas.links[c.conf] = link
	m.cas.inflight.Add(1)
	go func() {
		defer m.cas.inflight.Done()
		m.connectAnnouncer(link)
	}()
}

// connectAnnouncer sends the INVITE and files the dialog it makes.
func (m *MCU) connectAnnouncer(link *casLink) {
	log := m.log.With("conference", link.conf, "announcement", m.cas.target.String())
	contact := m.cfg.Contact(strings.ToLower(m.cas.transport))
	req, err := m.announceRequest(link.conf, contact)
	var dlg *sipgo.DialogClientSession
	if err == nil {
		dlg, err = m.invite(req, contact, log)
	}
	if err == nil {
		if err = announceAnswer(dlg.InviteResponse); err != nil {
			m.bye(dlg, log)
		}
	}
	m.mu.Lock()
	if err != nil {
		if m.cas.links[link.conf] == link {
			delete(m.cas.links, link.conf)
		}
		_, again := m.cas.failed[link.conf]
		if !link.ended {
			m.cas.failed[link.conf] = casFailure{at: time.Now()}
		}
		m.mu.Unlock()
		// Once per outage: the retries of the same conference would
		// repeat it every interval.
		level := slog.LevelWarn
		if again || link.ended {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, "the Conference Announcement Service was not joined", "err", err)
		return
	}
	if link.ended || m.cas.links[link.conf] != link {
		m.mu.Unlock()
		m.bye(dlg, log)
		return
	}
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := dlg.InviteResponse.To().Params.Get("tag")
	link.dlg = dlg
	link.id = sip.DialogIDMake(req.CallID().Value(), fromTag, toTag)
	m.cas.byID[link.id] = link
	delete(m.cas.failed, link.conf)
	m.mu.Unlock()
	log.Info("the Conference Announcement Service joined")
}

// announceRequest builds the signed INVITE to the service: From the
// conference's A/V MCU URI, To and Request-URI the service, and a C3P
// announceConference body instead of SDP (the service has no media).
func (m *MCU) announceRequest(conf string, contact sip.ContactHeader) (*sip.Request, error) {
	org, _, key, ok := c3p.ParseConferenceURI(conf)
	if !ok {
		return nil, fmt.Errorf("avmcu: %q is not a conference URI", conf)
	}
	focusURI := c3p.ConferenceURI(org, c3p.ServiceFocus, key)
	mcuURI := c3p.ConferenceURI(org, c3p.MCUTypeAudioVideo, key)
	body, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: m.cas.requestID.Add(1), From: mcuURI, To: focusURI},
		Command: &c3p.AnnounceConference{Focus: focusURI, MCU: mcuURI},
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("avmcu: announceConference: %w", err)
	}
	var fromURI sip.Uri
	if err := sip.ParseUri(mcuURI, &fromURI); err != nil {
		return nil, fmt.Errorf("avmcu: conference URI %q: %w", mcuURI, err)
	}
	req := sip.NewRequest(sip.INVITE, *m.cas.target.Clone())
	from := &sip.FromHeader{Address: fromURI, Params: sip.NewParams()}
	from.Params.Add("tag", rand.Text())
	to := &sip.ToHeader{Address: *m.cas.target.Clone(), Params: sip.NewParams()}
	callID := sip.CallIDHeader(rand.Text())
	maxForwards := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxForwards)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(body)
	req.SetTransport(m.cas.transport)
	if m.cfg.Sign != nil {
		if err := m.cfg.Sign(req); err != nil {
			return nil, fmt.Errorf("signing the INVITE: %w", err)
		}
	}
	return req, nil
}

// announceAnswer checks the service's 2xx: a C3P body, when there is one,
// must be a success.
func announceAnswer(res *sip.Response) error {
	if len(res.Body()) == 0 {
		return nil
	}
	if !isC3P(res.ContentType()) {
		return errors.New("the 2xx's body is not " + c3p.ContentType)
	}
	r, err := c3p.ParseResponse(res.Body())
	if err != nil {
		return fmt.Errorf("the 2xx's C3P: %w", err)
	}
	if r.Code != c3p.CodeSuccess {
		return fmt.Errorf("announceConference failed: %s", r.Reason)
	}
	return nil
}

// isC3P reports whether a Content-Type is C3P's.
func isC3P(ct *sip.ContentTypeHeader) bool {
	return ct != nil && strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), c3p.ContentType)
}

// announcerOf is the service's dialog req belongs to, or nil.
func (m *MCU) announcerOf(req *sip.Request) *casLink {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cas.byID[id]
}

// forgetAnnouncer removes a conference's dialog with the service and
// returns it, if it is still filed; MCU.mu is held.
func (m *MCU) forgetAnnouncer(conf string) *casLink {
	delete(m.cas.failed, conf)
	link := m.cas.links[conf]
	if link == nil {
		return nil
	}
	delete(m.cas.links, conf)
	if link.dlg == nil {
		link.ended = true // connectAnnouncer hangs it up when answered
		return nil
	}
	delete(m.cas.byID, link.id)
	return link
}

// lastLegGone ends the service's dialog of a conference whose last call
// just ended; MCU.mu is held. The caller hangs up what it returns.
func (m *MCU) lastLegGone(conf string) *casLink {
	if _, failed := m.cas.failed[conf]; !failed && m.cas.links[conf] == nil {
		return nil
	}
	for _, c := range m.calls {
		if c.conf == conf {
			return nil
		}
	}
	return m.forgetAnnouncer(conf)
}

// hangUpAnnouncer sends BYE in the service's dialog.
func (m *MCU) hangUpAnnouncer(ctx context.Context, link *casLink) {
	if err := link.dlg.Bye(ctx); err != nil {
		m.log.DebugContext(ctx, "BYE to the Conference Announcement Service failed", "conference", link.conf, "err", err)
	}
}

// endAnnouncer ends a conference's dialog with the service, if any.
func (m *MCU) endAnnouncer(conf string) {
	m.mu.Lock()
	link := m.forgetAnnouncer(conf)
	m.mu.Unlock()
	if link != nil {
		m.endAnnouncerLink(link)
	}
}

// endAnnouncerLink hangs up a dialog already forgotten, within 10 s.
func (m *MCU) endAnnouncerLink(link *casLink) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.hangUpAnnouncer(ctx, link)
}

// Shutdown ends the MCU's dialogs with the Conference Announcement
// Service and sends it no more INVITEs; an INVITE still out is hung up
// when answered, which Shutdown waits for until ctx is done. The legs are
// not touched: ending the engine ends them.
func (m *MCU) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.cas.closed = true
	var links []*casLink
	for conf := range m.cas.links {
		if link := m.forgetAnnouncer(conf); link != nil {
			links = append(links, link)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, link := range links {
		wg.Go(func() { m.hangUpAnnouncer(ctx, link) })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		m.cas.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("avmcu: INVITEs to the announcement service still out: %w", ctx.Err())
	}
}

// serveAnnouncerBYE ends the service's dialog at its request; the next
// dial-in caller invites it again. It reports false when req is not in
// such a dialog.
func (m *MCU) serveAnnouncerBYE(req *sip.Request, tx sip.ServerTransaction) bool {
	link := m.announcerOf(req)
	if link == nil {
		return false
	}
	m.mu.Lock()
	if m.cas.links[link.conf] == link {
		delete(m.cas.links, link.conf)
	}
	delete(m.cas.byID, link.id)
	m.mu.Unlock()
	if err := link.dlg.ReadBye(req, tx); err != nil {
		m.log.Debug("BYE from the Conference Announcement Service", "err", err)
	}
	m.log.Info("the Conference Announcement Service left", "conference", link.conf)
	return true
}

// ServeINFO takes a C3P request from the Conference Announcement Service
// within its dialog: pl:playAnnouncement, run as the Focus's is over HTTP,
// for the dialog's conference only. The 200 carries the C3P response.
// A request not signed by AnnouncementService (when SIPConfig.VerifySIP is
// set) gets 403; a body that is not C3P, 415, 413 or 400; any other
// command a C3P failure.
func (m *MCU) ServeINFO(req *sip.Request, tx sip.ServerTransaction) {
	link := m.announcerOf(req)
	if link == nil {
		m.respond(tx, sipx.Reject(req, 481, "Call/Transaction Does Not Exist", m.cfg.Hostname, "no such dialog"))
		return
	}
	if m.cfg.VerifySIP != nil {
		service, err := m.cfg.VerifySIP(req)
		if err == nil && service != AnnouncementService {
			err = fmt.Errorf("service %q may not play announcements", service)
		}
		if err != nil {
			m.log.Warn("INFO from the announcement dialog refused", "conference", link.conf, "source", req.Source(), "err", err)
			m.respond(tx, sipx.Reject(req, 403, "Forbidden", m.cfg.Hostname, "not signed by the announcement service: "+err.Error()))
			return
		}
	}
	if !isC3P(req.ContentType()) {
		res := sipx.Reject(req, 415, "Unsupported Media Type", m.cfg.Hostname, "the body must be "+c3p.ContentType)
		res.AppendHeader(sip.NewHeader("Accept", c3p.ContentType))
		m.respond(tx, res)
		return
	}
	if len(req.Body()) > MaxControlBody {
		m.respond(tx, sipx.Reject(req, 413, "Request Entity Too Large", m.cfg.Hostname, fmt.Sprintf("C3P larger than %d bytes", MaxControlBody)))
		return
	}
	var res *c3p.Response
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		fail, ok := c3p.FailureFor(err)
		if !ok {
			// [MS-CONFPRO] §2.2.3: what cannot be answered in C3P is
			// answered in SIP, with the diagnostic.
			bad := sipx.Reject(req, 400, "Bad Request", m.cfg.Hostname, "C3P: "+err.Error())
			d := c3p.DiagnosticFor(err)
			bad.AppendHeader(sip.NewHeader(d.HeaderName(), d.HeaderValue(m.cfg.Hostname)))
			m.respond(tx, bad)
			return
		}
		res = fail.Response
	}
	// RFC 3261 §12.2.2: a request of the dialog older than the last one
	// gets 500. Checked last, so that a refused request changes nothing.
	if err := link.dlg.ReadRequest(req, tx); err != nil {
		m.respond(tx, sipx.Reject(req, 500, "Server Internal Error", m.cfg.Hostname, "CSeq lower than the dialog's last"))
		return
	}
	if res == nil {
		res = m.announcerCommand(link, creq)
	}
	body, err := res.Marshal()
	if err != nil {
		m.respond(tx, sipx.Reject(req, 500, "Server Internal Error", m.cfg.Hostname, "encoding the C3P response"))
		return
	}
	ok := sip.NewResponseFromRequest(req, 200, "OK", body)
	ok.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	m.respond(tx, ok)
}

// announcerCommand runs the service's command: playAnnouncement in its own
// conference, nothing else. The service watches one meeting for the MCU;
// it has no business with the Focus's commands or other conferences.
func (m *MCU) announcerCommand(link *casLink, req *c3p.Request) *c3p.Response {
	fail := func(reason, why string) *c3p.Response {
		m.log.Info("announcement service command refused", "conference", link.conf, "command", req.Command.CommandName(), "err", why)
		return c3p.NewFailure(req.Header, req.Command.CommandName(), reason, 0).Response
	}
	play, ok := req.Command.(*c3p.PlayAnnouncement)
	if !ok {
		return fail(reasonUnsupported, "only playAnnouncement is allowed in the announcement dialog")
	}
	if play.Keys != nil {
		if conf, ok := m.conference(play.Keys.ConfEntity); !ok || conf != link.conf {
			return fail(reasonNoConference, "the announcement dialog is for "+link.conf)
		}
	}
	return m.answer(context.Background(), req)
}
