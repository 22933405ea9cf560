package mediation

import (
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// allow is the Allow header of our responses (RFC 3261 §20.5).
const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS"

// serveACK takes the ACK of a 2xx: the gateway's completes the set-up, and
// so does the ACK of a replacing dialog's 2xx (handoff.go); those of
// re-INVITEs we answered need nothing more.
func (s *Server) serveACK(req *sip.Request, tx sip.ServerTransaction) {
	c, fromGateway := s.lookup(req)
	if c == nil {
		return
	}
	if cseq := req.CSeq(); cseq != nil {
		c.acked(cseq.SeqNo)
	}
	if fromGateway {
		_ = c.gw.ReadAck(req, tx)
		return
	}
	if leg := c.legOf(req); leg != nil && leg.uas != nil {
		_ = leg.uas.ReadAck(req, tx)
	}
}

// serveBYE ends a call from either side: the BYE is answered, and the
// other side gets one of its own.
func (s *Server) serveBYE(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.reject(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	c, fromGateway := s.lookup(req)
	var leg *feLeg
	if c != nil && !fromGateway {
		if leg = c.legOf(req); leg == nil {
			c = nil // a dialog replaced since lookup
		}
	}
	if c == nil {
		if old := s.retiredLeg(req); old != nil {
			// A replaced dialog's peer hung up before or while our own
			// BYE went out: the call lives on with the new dialog.
			if err := old.readBye(req, tx); err != nil {
				s.reject(tx, req, 400, "Bad Request", err.Error())
			}
			return
		}
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	if fromGateway {
		_ = c.gw.ReadBye(req, tx)
		c.byeFrontEnd()
		c.finish("the gateway hung up")
		return
	}
	c.mu.Lock()
	c.ending = true
	c.mu.Unlock()
	_ = leg.readBye(req, tx)
	c.byeGateway()
	c.finish("the front end hung up")
}

// serveCANCEL answers a CANCEL that matched no INVITE: sipgo answers those
// that match (200, then 487 to the INVITE) before any handler runs.
func (s *Server) serveCANCEL(req *sip.Request, tx sip.ServerTransaction) {
	s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no INVITE to cancel")
}

// serveOPTIONS answers keep-alives and capability queries (RFC 3261 §11),
// which gateways send to see whether their next hop is up.
func (s *Server) serveOPTIONS(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.reject(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	_ = tx.Respond(res)
}

// knownMethods are the methods of RFC 3261 and its extensions that a SIP
// element may meet: they get 405 with Allow; anything else is not
// implemented (501, RFC 3261 §21.5.2).
var knownMethods = map[string]bool{
	"REGISTER": true, "SUBSCRIBE": true, "NOTIFY": true, "REFER": true, "MESSAGE": true, "INFO": true,
	"PRACK": true, "UPDATE": true, "PUBLISH": true, "SERVICE": true, "BENOTIFY": true,
}

// serveOther answers the methods the Mediation Server does not take.
func (s *Server) serveOther(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	if !knownMethods[strings.ToUpper(string(req.Method))] {
		s.reject(tx, req, 501, "Not Implemented", "method "+string(req.Method)+" is not implemented")
		return
	}
	res := sipx.Reject(req, 405, "Method Not Allowed", s.cfg.Hostname, "the mediation server takes "+allow)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	_ = tx.Respond(res)
}

// reinvite answers a re-INVITE on the side it came from (see the package
// comment): the relay takes the new address and direction, the other side
// is not involved.
func (s *Server) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	c, fromGateway := s.lookup(req)
	if c != nil && !fromGateway && c.legOf(req) == nil {
		c = nil // a dialog replaced since lookup
	}
	if c == nil {
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	offer, fail := readOffer(req)
	if fail != nil {
		s.reject(tx, req, fail.code, fail.reason, fail.detail)
		return
	}
	c.mu.Lock()
	if !c.answered {
		c.mu.Unlock()
		// RFC 3261 §14.2: a re-INVITE while ours is pending.
		res := sipx.Reject(req, 491, "Request Pending", s.cfg.Hostname, "the call is being set up")
		_ = tx.Respond(res)
		return
	}
	var answer []byte
	var err error
	if fromGateway {
		var p peer
		if answer, p, err = c.neg.answerGateway(offer); err == nil {
			c.relay.gw.configure(p, time.Now())
			c.gwAnswer = answer
		}
	} else {
		var p peer
		if answer, p, err = c.neg.answerFrontEnd(offer); err == nil {
			c.relay.fe.configure(p, time.Now())
		}
	}
	c.mu.Unlock()
	if err != nil {
		s.reject(tx, req, 488, "Not Acceptable Here", err.Error())
		return
	}
	transport := c.gwTransport
	if leg := c.frontEnd(); !fromGateway && leg != nil {
		transport = leg.transport
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", answer)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	contact := s.contact(transport)
	res.AppendHeader(&contact)
	c.respond2xx(tx, res)
}

// respond2xx sends a re-INVITE's 2xx and, as the UAS core must (RFC 3261
// §13.3.1.4), retransmits it from T1 doubling to T2 until the ACK comes
// (serveACK calls acked) or 64*T1 passed.
func (c *call) respond2xx(tx sip.ServerTransaction, res *sip.Response) {
	ack := make(chan struct{})
	c.mu.Lock()
	c.pendingCSeq, c.pendingAck = res.CSeq().SeqNo, ack
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pendingAck == ack {
			c.pendingAck = nil
		}
		c.mu.Unlock()
	}()
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		if err := tx.Respond(res); err != nil {
			c.log().Debug("mediation: re-INVITE answer not sent", "err", err)
			return
		}
		if !isUnreliable(res.Transport()) {
			interval = 64 * sip.T1 // a reliable transport delivers it once
		}
		select {
		case <-ack:
			return
		case <-deadline.C:
			return
		case <-time.After(interval):
			interval = min(2*interval, sip.T2)
		}
	}
}

// acked takes the ACK of a re-INVITE's 2xx.
func (c *call) acked(cseq uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pendingAck != nil && c.pendingCSeq == cseq {
		close(c.pendingAck)
		c.pendingAck = nil
	}
}

// isUnreliable reports whether transport loses messages (RFC 3261 §17).
func isUnreliable(transport string) bool { return strings.EqualFold(transport, "udp") }
