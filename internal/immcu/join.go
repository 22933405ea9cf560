package immcu

import (
	"context"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// anonymousDomain is where the Focus puts anonymous participants' entities
// (internal/focus: anonymousDomain). RFC 2606 reserves .invalid, so no
// authenticated user's AOR is ever there: an unauthenticated caller may
// take only such an identity, never a real user's.
const anonymousDomain = "anonymous.invalid"

// allowHeader is what the server takes in an IM dialog.
const allowHeader = "INVITE, ACK, BYE, CANCEL, MESSAGE, INFO"

// ServeINVITE answers an INVITE to a chat conference URI (a join) or within
// one of the server's dialogs (a re-INVITE). user is the caller's
// authenticated address-of-record, or "" for an unauthenticated caller, who
// joins only as an anonymous participant the Focus added. It returns when
// the join is over: answered and acknowledged, or refused.
func (s *Server) ServeINVITE(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, user string) {
	if to := req.To(); to != nil {
		if _, inDialog := to.Params.Get("tag"); inDialog {
			s.reinvite(req, tx)
			return
		}
	}
	conf, _, ok := s.conferenceOf(req.Recipient.String())
	if !ok || !Handles(req) {
		s.respond(tx, sipx.Reject(req, 404, "Not Found", s.cfg.Hostname, "not an IM conference URI"))
		return
	}
	off, fail := s.readOffer(req)
	if fail != nil {
		s.respond(tx, fail)
		return
	}
	entity, fail := s.identity(req, user)
	if fail != nil {
		s.respond(tx, fail)
		return
	}
	// Checked before the dialog is made, so that most refusals cost
	// nothing; checked again when the participant is added.
	if code, reason, detail := s.admissible(conf, entity); code != 0 {
		s.respond(tx, s.refusal(req, code, reason, detail))
		return
	}
	dlg, err := s.answers.ReadInvite(req, tx)
	if err != nil {
		s.respond(tx, sipx.Reject(req, 400, "Bad Request", s.cfg.Hostname, "dialog: "+err.Error()))
		return
	}
	defer func() { _ = dlg.Close() }()
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	d, err := dialog.New(req, tag)
	if err != nil {
		s.writeRefusal(dlg, 400, "Bad Request", err.Error())
		return
	}
	p, code, reason, detail := s.join(conf, entity, d, off.accepts, strings.ToLower(req.Transport()))
	if code != 0 {
		s.writeRefusal(dlg, code, reason, detail)
		return
	}
	// The participant is in before the 200 leaves, so that his first
	// requests, which may overtake the ACK, find his dialog; nothing is
	// sent to him before the ACK (p.ready). SIPE's ACK has no Via branch
	// and reaches the INVITE's transaction, not ServeACK (AwaitACK).
	answered := make(chan struct{})
	go dialog.AwaitACK(dlg, tx, answered)
	contact := *p.contact
	err = dlg.Respond(200, "OK", s.answer(off, contact),
		sip.NewHeader("Content-Type", "application/sdp"),
		sip.NewHeader("Allow", allowHeader),
		&contact)
	close(answered)
	if err != nil {
		// RFC 3261 §13.3.1.4: a 2xx never acknowledged ends the session
		// with a BYE.
		s.log.InfoContext(ctx, "IM join not completed", "conference", conf, "user", entity, "err", err)
		s.remove(p, "no ACK", true)
		return
	}
	s.confirm(p)
	s.log.InfoContext(ctx, "IM participant joined", "conference", conf, "user", entity, "endpoint", d.ID)
}

// identity is who the caller joins as: his AOR, or for an unauthenticated
// caller the anonymous identity in his From.
func (s *Server) identity(req *sip.Request, user string) (string, *sip.Response) {
	if user != "" {
		return s.canonicalUser(user), nil
	}
	from := req.From()
	if from == nil || !strings.EqualFold(from.Address.Host, anonymousDomain) || from.Address.User == "" {
		return "", s.refusal(req, 403, "Forbidden", "authenticate, or join as the anonymous participant the focus admitted")
	}
	return "sip:" + from.Address.User + "@" + anonymousDomain, nil
}

// admissible says why entity may not join conf now, or code 0.
func (s *Server) admissible(conf, entity string) (code int, reason, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admissibleLocked(conf, entity)
}

func (s *Server) admissibleLocked(conf, entity string) (code int, reason, detail string) {
	c := s.conferences[conf]
	switch {
	case s.closed:
		return 503, "Service Unavailable", "the IM conferencing server is shutting down"
	case c == nil:
		return 404, "Not Found", "no such IM conference"
	}
	if _, ok := c.allowed[key(entity)]; !ok {
		return 403, "Forbidden", "the focus has not admitted " + entity
	}
	if len(c.members) >= s.cfg.MaxParticipants {
		return 486, "Busy Here", "the IM conference has " + strconv.Itoa(s.cfg.MaxParticipants) + " participants, its limit"
	}
	return 0, "", ""
}

// join adds a participant to conf, or says why not.
func (s *Server) join(conf, entity string, d *dialog.Dialog, accepts []string, transport string) (p *participant, code int, reason, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, reason, detail := s.admissibleLocked(conf, entity); code != 0 {
		return nil, code, reason, detail
	}
	if _, dup := s.dialogs[d.ID]; dup {
		return nil, 482, "Loop Detected", "this dialog exists already"
	}
	c := s.conferences[conf]
	contact := s.cfg.Contact(transport)
	p = &participant{
		conf:    c,
		user:    c.allowed[key(entity)].entity,
		d:       d,
		contact: &contact,
		accepts: accepts,
		queue:   make(chan outgoing, s.cfg.QueueLength),
		ready:   make(chan struct{}),
		stop:    make(chan struct{}),
		handled: d.RemoteCSeq(),
		turn:    make(chan struct{}),
	}
	c.members[d.ID] = p
	s.dialogs[d.ID] = p
	s.metrics.Participants.Add(1)
	go s.sender(p)
	return p, 0, "", ""
}

// confirm makes a participant whose 2xx was acknowledged a member: he
// receives what the others send, and the Focus hears of him.
func (s *Server) confirm(p *participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.gone {
		return
	}
	p.joined = true
	close(p.ready)
	conf, user, id := p.conf.uri, p.user, p.d.ID
	s.events.post(func(e Events) { e.Joined(conf, user, id) })
}

// reinvite answers a re-INVITE (RFC 3261 §14.2) with the same session: the
// offer may change what the participant accepts, nothing else.
func (s *Server) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	s.inDialog(req, tx, func(p *participant) {
		off, fail := s.readOffer(req)
		if fail != nil {
			s.respond(tx, fail)
			return
		}
		s.mu.Lock()
		p.accepts = off.accepts
		s.mu.Unlock()
		res := sip.NewResponseFromRequest(req, 200, "OK", s.answer(off, *p.contact))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(sip.NewHeader("Allow", allowHeader))
		contact := *p.contact
		res.AppendHeader(&contact)
		s.respond(tx, res)
	})
}

// ServeACK takes the ACK of a join's 2xx.
func (s *Server) ServeACK(req *sip.Request, tx sip.ServerTransaction) {
	// A re-INVITE's ACK, or a retransmission after the join completed,
	// matches no pending answer: nothing to do.
	_ = s.answers.ReadAck(req, tx)
}

// refusal is a response that refuses req and says why.
func (s *Server) refusal(req *sip.Request, code int, reason, detail string) *sip.Response {
	res := sipx.Reject(req, code, reason, s.cfg.Hostname, detail)
	if code == 503 {
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
	}
	return res
}

// writeRefusal refuses a join whose dialog is made (the response carries
// its To tag) and waits for the ACK, as sipgo does for final answers.
func (s *Server) writeRefusal(dlg *sipgo.DialogServerSession, code int, reason, detail string) {
	if err := dlg.WriteResponse(s.refusal(dlg.InviteRequest, code, reason, detail)); err != nil {
		s.log.Debug("refusal not sent", "err", err)
	}
}

func (s *Server) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "err", err)
	}
}
