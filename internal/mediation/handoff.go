package mediation

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx"
)

// serveReplaces takes an INVITE with Replaces (RFC 3891) from an address
// that is not a gateway: a trusted service, the A/V Conferencing Server,
// taking a call's front-end side over from the Conferencing Attendant
// (seed 001 step 11). Every refusal comes before any state changes.
func (s *Server) serveReplaces(req *sip.Request, tx sip.ServerTransaction, values []sip.Header) {
	if s.cfg.Verify == nil {
		s.reject(tx, req, 403, "Forbidden", "the mediation server takes no dialog replacement")
		return
	}
	service, err := s.cfg.Verify(req)
	if err != nil {
		s.log.Warn("mediation: an unauthenticated INVITE with Replaces", "source", req.Source(), "err", err)
		s.reject(tx, req, 403, "Forbidden", "not a trusted service: "+err.Error())
		return
	}
	if !slices.Contains(s.cfg.ReplaceServices, service) {
		s.log.Warn("mediation: a service may not replace a dialog", "source", req.Source(), "service", service)
		s.reject(tx, req, 403, "Forbidden", "service "+service+" may not replace a dialog")
		return
	}
	if len(values) != 1 {
		// RFC 3891 §3.
		s.reject(tx, req, 400, "Bad Request", "more than one Replaces header field")
		return
	}
	rep, err := parseReplaces(values[0].Value())
	if err != nil {
		s.reject(tx, req, 400, "Bad Request", err.Error())
		return
	}
	if req.Contact() == nil {
		s.reject(tx, req, 400, "Bad Request", "missing Contact header field")
		return
	}
	offer, fail := readOffer(req)
	if fail != nil {
		s.reject(tx, req, fail.code, fail.reason, fail.detail)
		return
	}
	c := s.matchFrontEnd(rep)
	if c == nil {
		// RFC 3891 §3. An early dialog we placed is not matched either
		// (see the package comment).
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no call's front-end dialog matches the Replaces header field")
		return
	}
	if !tryLockFor(&c.handoff, handoffWait) {
		s.reject(tx, req, 491, "Request Pending", "the dialog is being replaced already")
		return
	}
	old := c.takeOver(req, tx, rep, offer, service)
	c.handoff.Unlock()
	if old != nil {
		c.byeReplaced(old)
	}
}

// matchFrontEnd returns the call whose front-end dialog the Replaces value
// names: its to-tag is our local tag and its from-tag the remote one
// (RFC 3891 §3), which feLeg.id puts as Call-ID, remote, local.
func (s *Server) matchFrontEnd(rep replaces) *call {
	id := sip.DialogIDMake(rep.callID, rep.fromTag, rep.toTag)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.feID == id {
		return c
	}
	return nil
}

// takeOver answers the replacing INVITE from the relay's front-end socket
// and switches the call's front-end dialog and media to it. It returns
// the replaced dialog, to be ended, or nil when the call did not switch.
func (c *call) takeOver(req *sip.Request, tx sip.ServerTransaction, rep replaces, offer *sdpoa.Description, service string) *feLeg {
	s := c.s
	c.mu.Lock()
	old := c.leg
	switch {
	case c.ending:
		c.mu.Unlock()
		// RFC 3891 §3: a dialog that has already terminated.
		s.reject(tx, req, 603, "Declined", "the call is ending")
		return nil
	case old == nil || old.id != sip.DialogIDMake(rep.callID, rep.fromTag, rep.toTag) || !c.answered:
		c.mu.Unlock()
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "the front-end dialog is not confirmed")
		return nil
	case rep.earlyOnly:
		c.mu.Unlock()
		// RFC 3891 §3: early-only against a confirmed dialog.
		s.reject(tx, req, 486, "Busy Here", "the dialog is confirmed and the Replaces header field says early-only")
		return nil
	}
	// The new dialog gets its own o= line (RFC 3264 §8); it takes plain
	// RTP when the MCU offers no keys.
	sess := sdpoa.NewSession("parley")
	answer, p, err := c.neg.answerFrontEndWith(offer, sess, true)
	c.mu.Unlock()
	if err != nil {
		s.reject(tx, req, 488, "Not Acceptable Here", err.Error())
		return nil
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))
	ua := &sipgo.DialogUA{Client: s.client, ContactHDR: s.contact(req.Transport())}
	dlg, err := ua.ReadInvite(req, tx)
	if err != nil {
		s.reject(tx, req, 400, "Bad Request", "dialog: "+err.Error())
		return nil
	}
	if s.beforeHandoff != nil {
		s.beforeHandoff()
	}
	leg := uasLeg(dlg, req.Transport())

	c.mu.Lock()
	if dlg.Context().Err() != nil { // CANCELled: sipgo answered 487
		c.mu.Unlock()
		c.log().Info("mediation: the hand-off was cancelled", "service", service)
		return nil
	}
	if c.ending || c.leg != old {
		c.mu.Unlock()
		_ = dlg.WriteResponse(sipx.Reject(dlg.InviteRequest, 481, "Call/Transaction Does Not Exist", s.cfg.Hostname, "the front-end dialog ended"))
		return nil
	}
	undo := c.relay.fe.replace(p, time.Now())
	prevSession, prevPlain := c.neg.feSession, c.neg.fePlain
	c.neg.feSession, c.neg.fePlain = sess, true
	c.leg = leg
	// Under c.mu, so that a request of the old dialog that found the
	// call sees either the old leg or the old dialog retired.
	s.retire(old)
	s.setFrontEnd(c, old.id, leg)
	c.mu.Unlock()

	contact := s.contact(req.Transport())
	// Respond waits for the ACK (RFC 3261 §13.3.1.4), which serveACK
	// passes to the new leg.
	if err := dlg.Respond(200, "OK", answer, sip.NewHeader("Content-Type", "application/sdp"), &contact); err != nil {
		c.mu.Lock()
		if c.ending || dlg.LoadState() == sip.DialogStateEnded {
			// The MCU's BYE overtook its ACK, or the call ended: that
			// path hangs up; the replaced dialog still gets its BYE.
			c.mu.Unlock()
			return old
		}
		// The 200 never left (a CANCEL got in first, or the transport
		// failed): the call stays with the old dialog.
		undo()
		c.neg.feSession, c.neg.fePlain = prevSession, prevPlain
		c.leg = old
		s.setFrontEnd(c, leg.id, old)
		s.unretire(old)
		c.mu.Unlock()
		c.log().Info("mediation: the hand-off failed", "service", service, "err", err)
		return nil
	}
	c.log().Info("mediation: the front-end dialog was replaced", "service", service, "source", req.Source(), "fe_media", p.Remote.String())
	return old
}

// legOf returns the call's front-end dialog if req, which lookup found on
// the front-end side, belongs to it; nil when a hand-off replaced that
// dialog meanwhile.
func (c *call) legOf(req *sip.Request) *feLeg {
	id, err := sip.DialogIDFromRequestUAC(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || c.leg == nil || c.leg.id != id {
		return nil
	}
	return c.leg
}

// byeReplaced ends the replaced dialog with a Reason saying why (RFC 3326),
// so that its peer knows the call went on elsewhere.
func (c *call) byeReplaced(old *feLeg) {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := old.sendBye(ctx, sip.NewHeader("Reason", reasonReplaced)); err != nil {
		c.log().Debug("mediation: BYE to the replaced dialog", "err", err)
	}
	c.s.unretire(old)
	old.close()
}

// retire keeps a replaced dialog's key, so that its peer's BYE is answered.
func (s *Server) retire(l *feLeg) {
	s.mu.Lock()
	s.retired[l.id] = l
	s.mu.Unlock()
}

// unretire forgets a replaced dialog.
func (s *Server) unretire(l *feLeg) {
	s.mu.Lock()
	if s.retired[l.id] == l {
		delete(s.retired, l.id)
	}
	s.mu.Unlock()
}

// retiredLeg returns the replaced dialog a request belongs to, if any.
func (s *Server) retiredLeg(req *sip.Request) *feLeg {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retired[id]
}

// handoffWait is how long a replacing INVITE waits for one in progress on
// the same call. A refusal is answered while the lock is held, so the
// next request of the same MCU can arrive a moment before it is released;
// a short wait spares it a needless 491 (RFC 3261 §14.1 retry).
const handoffWait = 200 * time.Millisecond

// tryLockFor takes mu within d, or reports that it could not.
func tryLockFor(mu *sync.Mutex, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
