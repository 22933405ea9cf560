package immcu

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// reorderWait bounds how long a request whose CSeq is ahead of the
// dialog's next waits for the ones before it: sipgo runs each request on
// its own goroutine, so back-to-back MESSAGEs can reach the handlers out of
// order. A request lost on the way (UDP) costs its successor this much.
const reorderWait = 50 * time.Millisecond

// typingHeadroom: a typing notification is dropped rather than queued
// once a recipient's queue is this full (a fraction of its length, 1/n).
const typingHeadroom = 2

// participant is one IM dialog. conf, user, d, contact and the channels
// are fixed; accepts, joined and gone are guarded by Server.mu.
type participant struct {
	conf    *conference
	user    string // the entity the Focus added
	d       *dialog.Dialog
	contact *sip.ContactHeader
	accepts []string
	queue   chan outgoing
	ready   chan struct{} // closed when his 2xx is acknowledged
	stop    chan struct{} // closed when he is removed
	joined  bool
	gone    bool

	// inMu is held while one of his requests is handled (inDialog); it
	// guards handled, the CSeq of the last one, and turn, which is closed
	// and replaced after each.
	inMu    sync.Mutex
	handled uint32
	turn    chan struct{}
}

// outgoing is a request to relay.
type outgoing struct {
	method      sip.RequestMethod
	sender      string
	contentType string
	body        []byte
	typing      bool
}

// ServeMESSAGE takes a participant's MESSAGE: 200 at once, then a copy in
// every other participant's dialog.
func (s *Server) ServeMESSAGE(req *sip.Request, tx sip.ServerTransaction) {
	s.inDialog(req, tx, func(p *participant) {
		body := req.Body()
		ct := req.ContentType()
		switch {
		case len(body) > s.cfg.MaxBody:
			s.respond(tx, sipx.Reject(req, 413, "Request Entity Too Large", s.cfg.Hostname, "messages are limited to "+strconv.Itoa(s.cfg.MaxBody)+" bytes"))
			return
		case len(body) == 0:
			s.respond(tx, sipx.Reject(req, 400, "Bad Request", s.cfg.Hostname, "a MESSAGE without a body has nothing to relay"))
			return
		case ct == nil || !relayable(mediaType(ct.Value())):
			res := sipx.Reject(req, 415, "Unsupported Media Type", s.cfg.Hostname, "the IM conferencing server relays only text and composing indications")
			res.AppendHeader(sip.NewHeader("Accept", strings.Join(relayed, ", ")))
			s.respond(tx, res)
			return
		}
		s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		mt := mediaType(ct.Value())
		s.relay(p, outgoing{method: sip.MESSAGE, sender: p.user, contentType: ct.Value(), body: body,
			typing: mt == "application/im-iscomposing+xml"})
	})
}

// ServeINFO takes a participant's INFO. The one INFO with a meaning here is
// Communicator's typing notification (application/xml, <KeyboardActivity>),
// relayed like a composing indication; an empty INFO is answered and
// dropped.
func (s *Server) ServeINFO(req *sip.Request, tx sip.ServerTransaction) {
	s.inDialog(req, tx, func(p *participant) {
		body := req.Body()
		if len(body) == 0 {
			s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
			return
		}
		if len(body) > s.cfg.MaxBody {
			s.respond(tx, sipx.Reject(req, 413, "Request Entity Too Large", s.cfg.Hostname, "INFO bodies are limited to "+strconv.Itoa(s.cfg.MaxBody)+" bytes"))
			return
		}
		ct := req.ContentType()
		if ct == nil || mediaType(ct.Value()) != "application/xml" || !isKeyboardActivity(body) {
			res := sipx.Reject(req, 415, "Unsupported Media Type", s.cfg.Hostname, "INFO in an IM conference carries only typing notifications")
			res.AppendHeader(sip.NewHeader("Accept", "application/xml"))
			s.respond(tx, res)
			return
		}
		s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		s.relay(p, outgoing{method: sip.INFO, sender: p.user, contentType: ct.Value(), body: body, typing: true})
	})
}

// ServeBYE ends a participant's IM session at his request.
func (s *Server) ServeBYE(req *sip.Request, tx sip.ServerTransaction) {
	s.inDialog(req, tx, func(p *participant) {
		s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		s.remove(p, "bye", false)
	})
}

// inDialog runs handle for a request of a participant's dialog, in the
// order of the dialog's CSeqs, or answers it: 481 without a dialog, 500 for
// a CSeq lower than the last (RFC 3261 §12.2.2).
//
// sipgo runs each request on its own goroutine, so two requests a client
// sends back to back may come in either order. A request whose CSeq is
// ahead of the next one waits, at most reorderWait, for those before it;
// the requests of a dialog are handled one at a time, so that what they
// queue for others is queued in that order too.
func (s *Server) inDialog(req *sip.Request, tx sip.ServerTransaction, handle func(*participant)) {
	p := s.participantOf(req)
	if p == nil {
		s.respond(tx, sipx.Reject(req, 481, "Call/Transaction Does Not Exist", s.cfg.Hostname, "no such IM session"))
		return
	}
	cseq := req.CSeq()
	if cseq == nil {
		s.respond(tx, sipx.Reject(req, 400, "Bad Request", s.cfg.Hostname, "no CSeq"))
		return
	}
	n := cseq.SeqNo
	p.inMu.Lock()
	if n > p.handled+1 {
		timer := time.NewTimer(reorderWait)
		defer timer.Stop()
		for expired := false; n > p.handled+1 && !expired; {
			turn := p.turn
			p.inMu.Unlock()
			select {
			case <-turn:
			case <-timer.C:
				expired = true
			}
			p.inMu.Lock()
		}
	}
	defer p.inMu.Unlock()
	if !p.d.Accept(req) {
		s.respond(tx, sipx.Reject(req, 500, "Server Internal Error", s.cfg.Hostname, "CSeq out of order (RFC 3261 §12.2.2)"))
		return
	}
	handle(p)
	p.handled = max(p.handled, n)
	close(p.turn)
	p.turn = make(chan struct{})
}

// relay queues m for every other participant of from's conference, in one
// critical section, so that every recipient gets the conference's messages
// in the same order.
func (s *Server) relay(from *participant, m outgoing) {
	s.metrics.Received.Add(1)
	mt := mediaType(m.contentType)
	var behind []*participant
	s.mu.Lock()
	for _, p := range from.conf.members {
		if p == from || p.gone {
			continue
		}
		if m.method == sip.MESSAGE && !takes(p.accepts, mt) {
			s.metrics.Dropped.Add(1)
			continue
		}
		if m.typing && len(p.queue) >= cap(p.queue)/typingHeadroom {
			s.metrics.Dropped.Add(1)
			continue
		}
		select {
		case p.queue <- m:
		default:
			behind = append(behind, p)
		}
	}
	s.mu.Unlock()
	for _, p := range behind {
		s.metrics.RelayFailures.Add(1)
		s.remove(p, "too slow", true)
	}
}

// sender sends what is queued for p, one request at a time, once his join
// is acknowledged, until he is removed.
func (s *Server) sender(p *participant) {
	select {
	case <-p.ready:
	case <-p.stop:
		return
	}
	for {
		select {
		case <-p.stop:
			return
		case m := <-p.queue:
			err := s.send(p, m)
			if err == nil {
				s.metrics.Relayed.Add(1)
				continue
			}
			s.metrics.RelayFailures.Add(1)
			if gone(err) {
				s.log.Info("IM recipient unreachable", "conference", p.conf.uri, "user", p.user, "err", err)
				s.remove(p, "unreachable", true)
				return
			}
			s.log.Debug("IM relay refused", "conference", p.conf.uri, "user", p.user, "err", err)
		}
	}
}

// send relays one request in p's dialog, the sender named in Ms-Sender as
// SIPE's process_incoming_message reads it.
func (s *Server) send(p *participant, m outgoing) error {
	req := p.d.Request(m.method, p.contact)
	req.AppendHeader(sip.NewHeader("Ms-Sender", "<"+m.sender+">"))
	req.AppendHeader(sip.NewHeader("Content-Type", m.contentType))
	req.SetBody(m.body)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	return p.d.Do(ctx, s.cfg.Client, req)
}

// gone reports whether a failed request means the recipient's dialog is
// over: no answer at all, or 408, 480 or 481 (RFC 3261 §12.2.1.2 has 481
// and 408 end the dialog; 480 is what a proxy says of a vanished client,
// and SIPE's process_message_response drops the session on it too).
// Other refusals concern the one request.
func gone(err error) bool {
	var se *dialog.StatusError
	if !errors.As(err, &se) {
		return true
	}
	return se.Code == 408 || se.Code == 480 || se.Code == 481
}

// remove takes a participant out, once: with bye, his dialog is ended with
// a BYE from our side, in the background. He is reported Left if he had
// joined.
func (s *Server) remove(p *participant, reason string, bye bool) {
	s.mu.Lock()
	if p.gone {
		s.mu.Unlock()
		return
	}
	p.gone = true
	delete(p.conf.members, p.d.ID)
	delete(s.dialogs, p.d.ID)
	close(p.stop)
	s.metrics.Participants.Add(-1)
	if p.joined {
		conf, user, id := p.conf.uri, p.user, p.d.ID
		s.events.post(func(e Events) { e.Left(conf, user, id, reason) })
	}
	if bye {
		s.byes.Add(1)
	}
	s.mu.Unlock()
	s.log.Info("IM participant left", "conference", p.conf.uri, "user", p.user, "reason", reason)
	if !bye {
		return
	}
	go func() {
		defer s.byes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		if err := p.d.Bye(ctx, s.cfg.Client, p.contact); err != nil {
			s.log.Debug("BYE to an IM participant failed", "user", p.user, "err", err)
		}
	}()
}

// isKeyboardActivity reports whether body is Communicator's typing
// notification: an XML document whose root is KeyboardActivity. Only the
// prolog and the root's start are read.
func isKeyboardActivity(body []byte) bool {
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t.Name.Local == "KeyboardActivity"
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return false
			}
		case xml.ProcInst, xml.Comment, xml.Directive:
		default:
			return false
		}
	}
}
