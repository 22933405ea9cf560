package announcement

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx"
)

// NOTIFY from the Focus (RFC 6665 §4.1.3): the handler checks and parses
// the request, answers it, and hands the document to the meeting's
// goroutine. The service does not ask for ms-benotify: a NOTIFY's answer
// paces the Focus to what the service takes in.

// notifyWait bounds how long a NOTIFY waits for room in its meeting's
// queue before its document is dropped (and the roster fetched again).
const notifyWait = time.Second

// subState is a Subscription-State header (RFC 6665 §8.2.3).
type subState struct {
	terminated bool
	// reason is the terminated reason (RFC 6665 §6.2).
	reason string
	// expires is the active subscription's time left, 0 when absent.
	expires time.Duration
	// retryAfter is the terminated retry-after, 0 when absent.
	retryAfter time.Duration
}

// parseSubState reads a Subscription-State value; ok is false when the
// value is none of active, pending, terminated.
func parseSubState(v string) (st subState, ok bool) {
	parts := strings.Split(v, ";")
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "active", "pending":
	case "terminated":
		st.terminated = true
	default:
		return subState{}, false
	}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "reason":
			st.reason = strings.ToLower(value)
		case "expires":
			if n, err := strconv.ParseUint(value, 10, 32); err == nil {
				st.expires = time.Duration(n) * time.Second
			}
		case "retry-after":
			if n, err := strconv.ParseUint(value, 10, 32); err == nil {
				st.retryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return st, true
}

// resubscribes reports whether a terminated subscription should be
// started again (RFC 6665 §4.1.3: deactivated and timeout at once,
// probation after retry-after; an absent reason allows it too). The
// others (noresource, rejected, giveup) end the meeting's work.
func (st subState) resubscribes() bool {
	switch st.reason {
	case "", "deactivated", "timeout", "probation":
		return true
	}
	return false
}

// notifyEvent is a NOTIFY for a meeting's goroutine.
type notifyEvent struct {
	callID, fromTag string
	state           subState
	// doc is the document, nil when the NOTIFY had none; bad is set when
	// it had one that could not be read.
	doc *c3p.ConferenceInfo
	bad bool
}

// serveNOTIFY answers a notification of a roster subscription.
func (s *Server) serveNOTIFY(req *sip.Request, tx sip.ServerTransaction) {
	ev := req.GetHeader("Event")
	if ev == nil || !strings.EqualFold(eventPackage(ev.Value()), c3p.EventConference) {
		res := sipx.Reject(req, 489, "Bad Event", s.cfg.Hostname, "the service subscribes to the conference package only")
		res.AppendHeader(sip.NewHeader("Allow-Events", c3p.EventConference))
		_ = tx.Respond(res)
		return
	}
	h := req.GetHeader("Subscription-State")
	if h == nil {
		s.reject(tx, req, 400, "Bad Request", "missing Subscription-State (RFC 6665 §8.2.3)")
		return
	}
	st, ok := parseSubState(h.Value())
	if !ok {
		s.reject(tx, req, 400, "Bad Request", "unknown Subscription-State "+h.Value())
		return
	}
	callID := ""
	if c := req.CallID(); c != nil {
		callID = c.Value()
	}
	s.mu.Lock()
	m := s.subs[callID]
	s.mu.Unlock()
	localTag, _ := req.To().Params.Get("tag")
	if m == nil || !m.ownsSubscription(callID, localTag) {
		if st.terminated {
			// The last NOTIFY of a subscription the service already
			// ended: nothing to do, and nothing wrong.
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
			return
		}
		s.reject(tx, req, 481, "Subscription Does Not Exist", "no such subscription")
		return
	}
	fromTag, _ := req.From().Params.Get("tag")
	out := notifyEvent{callID: callID, fromTag: fromTag, state: st}
	if body := req.Body(); len(body) > 0 {
		ct := req.ContentType()
		if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), c3p.ConferenceInfoType) {
			res := sipx.Reject(req, 415, "Unsupported Media Type", s.cfg.Hostname, "the body must be "+c3p.ConferenceInfoType)
			res.AppendHeader(sip.NewHeader("Accept", c3p.ConferenceInfoType))
			_ = tx.Respond(res)
			m.postOrResync(notifyEvent{callID: callID, fromTag: fromTag, state: st, bad: true})
			return
		}
		doc, err := c3p.ParseConferenceInfo(body)
		if err != nil {
			s.reject(tx, req, 400, "Bad Request", "conference-info: "+err.Error())
			// The documents that follow may depend on this one: the
			// roster is fetched again.
			m.postOrResync(notifyEvent{callID: callID, fromTag: fromTag, state: st, bad: true})
			return
		}
		out.doc = doc
	}
	m.postOrResync(out)
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// eventPackage is an Event value's package name, without parameters.
func eventPackage(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.TrimSpace(v)
}
