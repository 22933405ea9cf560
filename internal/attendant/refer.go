package attendant

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
	"github.com/parleyhq/parley/internal/sipx"
)

// An enterprise phone's call reached the attendant through the front
// end's proxy, not through a Mediation Server: the A/V MCU has nobody to
// send an INVITE with Replaces to, and common phones do not accept
// Replaces anyway. They do follow REFER (RFC 3515): once the Focus has
// taken the caller, the attendant refers the phone to the meeting's A/V
// MCU conference URI; the phone calls it through the proxy (digest
// authenticated: the Focus matches him to the participant the attendant
// added) and reports how that call goes in NOTIFYs carrying a
// message/sipfrag status line (RFC 3515 §2.4.5).

// referState is where an enterprise phone's hand-off stands.
type referState uint8

const (
	// No REFER yet (the zero value).
	_ referState = iota
	// referSent: the REFER is out or accepted; the NOTIFYs will tell.
	referSent
	// referOver: the phone joined, or the hand-off failed.
	referOver
)

// Events of the hand-off, posted to the call's goroutine.
type (
	// referAnswered: the phone's final response to the REFER, or the
	// failure to get one.
	referAnswered struct {
		code   int
		reason string
		err    error
	}
	// referNotified: a NOTIFY of the refer subscription. code is its
	// sipfrag's status, 0 when it had none; id the Event id parameter.
	referNotified struct {
		id         string
		code       int
		terminated bool
	}
)

// sipfragType is the body type of a refer NOTIFY (RFC 3420).
const sipfragType = "message/sipfrag"

// maxSipfragLine bounds the status line read from a NOTIFY's body.
const maxSipfragLine = 512

// mcuURI is the A/V MCU conference URI of the meeting a focus URI names:
// the same organizer and conference key, the audio-video service
// (protocols.md §1.3; c3p.ConferenceURI).
func mcuURI(focusURI string) (string, error) {
	org, service, key, ok := c3p.ParseConferenceURI(focusURI)
	if !ok || service != c3p.ServiceFocus {
		return "", fmt.Errorf("attendant: %q is not a focus URI", focusURI)
	}
	return c3p.ConferenceURI(org, c3p.MCUTypeAudioVideo, key), nil
}

// startRefer refers the enterprise phone to the meeting's A/V MCU, after
// the Focus took him. It reports whether the call is over.
func (c *call) startRefer() bool {
	target, err := mcuURI(c.joining.Meeting.FocusURI)
	if err != nil {
		return c.referFailed(err.Error())
	}
	inv := c.dlg.InviteRequest
	contact := inv.Contact().Address.Clone()
	contact.Headers = nil // not allowed in a Request-URI (RFC 3261 §19.1.5)
	req := sip.NewRequest(sip.REFER, *contact)
	req.SetTransport(inv.Transport())
	// The target has parameters: name-addr form (RFC 3515 §2.1).
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+target+">"))
	// Who refers him (RFC 3892): the access number he called.
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+c.number.URI+">"))
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.HandoffTimeout)
	// Open before sending: the phone may NOTIFY before it answers.
	c.referOpen.Store(true)
	tx, err := c.dlg.TransactionRequest(ctx, req)
	if err != nil {
		cancel()
		return c.referFailed("sending the REFER: " + err.Error())
	}
	c.refer = referSent
	c.referSeq = strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	c.log().Info("attendant: referring the enterprise phone to the A/V MCU", "user", c.user.URI, "refer_to", target)
	go func() {
		defer cancel()
		defer tx.Terminate()
		for {
			select {
			case res := <-tx.Responses():
				if res.IsProvisional() {
					continue
				}
				c.post(referAnswered{code: res.StatusCode, reason: res.Reason})
				return
			case <-tx.Done():
				err := tx.Err()
				if err == nil {
					err = errors.New("transaction ended without a response")
				}
				c.post(referAnswered{err: err})
				return
			case <-ctx.Done():
				if c.ctx.Err() == nil {
					c.post(referAnswered{err: ctx.Err()})
				}
				return
			}
		}
	}()
	return false
}

// referEvent handles the hand-off's events and reports whether the call
// is over. Once the hand-off is decided, late answers change nothing.
func (c *call) referEvent(ev any) bool {
	if c.refer != referSent {
		return false
	}
	switch e := ev.(type) {
	case referAnswered:
		switch {
		case e.err != nil:
			return c.referFailed("REFER: " + e.err.Error())
		case e.code >= 300:
			return c.referFailed(fmt.Sprintf("the phone refused the REFER: %d %s", e.code, e.reason))
		}
		// 202 (RFC 3515 §2.4.2), or 200 (RFC 7647): accepted; the
		// NOTIFYs tell the outcome.
	case referNotified:
		if e.id != "" && e.id != c.referSeq {
			c.log().Debug("attendant: NOTIFY of another refer subscription", "id", e.id)
			return false
		}
		switch {
		case e.code >= 200 && e.code < 300:
			return c.referJoined()
		case e.code >= 300:
			return c.referFailed(fmt.Sprintf("the phone's call to the A/V MCU failed: %d", e.code))
		case e.terminated:
			return c.referFailed("the phone ended the refer subscription without a final status")
		}
	}
	return false
}

// referJoined ends the call of a phone that reached the A/V MCU: the
// referrer, not the phone, ends the old call (RFC 5589, basic transfer).
func (c *call) referJoined() bool {
	c.refer = referOver
	if c.handoff != nil {
		c.handoff.Stop()
	}
	c.log().Info("attendant: the enterprise phone joined the A/V MCU", "meeting", c.joining.Meeting.ConferenceID, "user", c.entity)
	c.s.rejoins.remember(c.ident, Recent{Meeting: c.joining.Meeting, Lang: c.joining.Lang})
	if !c.callerGone {
		c.bye("joined")
	}
	return true
}

// referFailed takes the caller back out of the meeting and, when he is
// still on the line, tells him that he cannot be joined before hanging
// up. It reports whether the call is over.
func (c *call) referFailed(why string) bool {
	c.refer = referOver
	if c.handoff != nil {
		c.handoff.Stop()
	}
	c.log().Warn("attendant: the enterprise phone did not reach the A/V MCU", "meeting", c.joining.Meeting.ConferenceID, "user", c.entity, "why", why)
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	if err := c.s.confs.RemoveDialIn(ctx, c.joining.Meeting.FocusURI, c.entity); err != nil {
		c.log().Warn("attendant: removing the caller", "err", err)
	}
	cancel()
	if c.callerGone {
		return true
	}
	c.play(c.flow.Language(), []Prompt{{Key: prompts.TechnicalProblem}, {Key: prompts.Goodbye}}, true, func() { c.post(saidGoodbye{}) })
	return false
}

// serveNOTIFY takes the NOTIFYs of a refer subscription (RFC 3515 §2.4.4).
func (s *Server) serveNOTIFY(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.reject(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	c := s.match(req)
	if c == nil || !c.referOpen.Load() {
		s.reject(tx, req, 481, "Subscription Does Not Exist", "no refer subscription in this dialog")
		return
	}
	event, id := eventOf(req)
	if event != "refer" {
		res := sipx.Reject(req, 489, "Bad Event", s.cfg.Hostname, "the attendant subscribes to the refer event only")
		res.AppendHeader(sip.NewHeader("Allow-Events", "refer"))
		_ = tx.Respond(res)
		return
	}
	terminated := false
	if h := req.GetHeader("Subscription-State"); h != nil {
		state, _, _ := strings.Cut(h.Value(), ";")
		terminated = strings.EqualFold(strings.TrimSpace(state), "terminated")
	}
	code := 0
	if body := req.Body(); len(body) > 0 {
		if ct := req.ContentType(); ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), sipfragType) {
			res := sipx.Reject(req, 415, "Unsupported Media Type", s.cfg.Hostname, "a refer NOTIFY carries message/sipfrag")
			res.AppendHeader(sip.NewHeader("Accept", sipfragType))
			_ = tx.Respond(res)
			return
		}
		var err error
		if code, err = sipfragStatus(body); err != nil {
			s.reject(tx, req, 400, "Bad Request", "sipfrag: "+err.Error())
			return
		}
	} else if !terminated {
		s.reject(tx, req, 400, "Bad Request", "a refer NOTIFY carries the status of the referred call (RFC 3515 §2.4.5)")
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	c.post(referNotified{id: id, code: code, terminated: terminated})
}

// eventOf returns a request's event package, lower-cased, and its id
// parameter (RFC 6665 §8.2.1: Event = event-type *( SEMI event-param )).
func eventOf(req *sip.Request) (event, id string) {
	h := req.GetHeader("Event")
	if h == nil {
		return "", ""
	}
	parts := strings.Split(h.Value(), ";")
	event = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		if name, value, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(name), "id") {
			id = strings.TrimSpace(value)
		}
	}
	return event, id
}

// sipfragStatus reads the status code of a message/sipfrag body that
// starts with a status line (RFC 3420; RFC 3261 §7.2: SIP-Version SP
// Status-Code SP Reason-Phrase), as a refer NOTIFY's does.
func sipfragStatus(body []byte) (int, error) {
	line := body
	if i := strings.IndexByte(string(body[:min(len(body), maxSipfragLine+2)]), '\n'); i >= 0 {
		line = body[:i]
	}
	s := strings.TrimSuffix(string(line), "\r")
	if len(s) > maxSipfragLine {
		return 0, fmt.Errorf("status line longer than %d bytes", maxSipfragLine)
	}
	version, rest, ok := strings.Cut(s, " ")
	if !ok || !strings.EqualFold(version, "SIP/2.0") {
		return 0, errors.New("no SIP/2.0 status line")
	}
	digits, _, _ := strings.Cut(rest, " ")
	if len(digits) != 3 {
		return 0, fmt.Errorf("status code %q", digits)
	}
	code := 0
	for i := range 3 {
		d := digits[i]
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("status code %q", digits)
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 || code > 699 {
		return 0, fmt.Errorf("status code %d out of range", code)
	}
	return code, nil
}
