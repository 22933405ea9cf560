package announcement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
)

// The service's subscription to a Focus's roster (RFC 6665 on RFC 4575),
// as a UAC: the first SUBSCRIBE goes through the front end (a loose Route,
// signed so that the Focus admits the service as trusted); refreshes and
// the unsubscription go within the dialog the 200 OK made (RFC 3261
// §12.2.1.1: to the remote target, along the route set).

// subscription is one SUBSCRIBE dialog. It belongs to its meeting's
// goroutine; the NOTIFY handler reads only callID and localTag, which never
// change.
type subscription struct {
	callID, localTag string
	remoteTag        string
	// target is the Focus's Contact, routes the route set (the 200's
	// Record-Route, reversed: RFC 3261 §12.1.2).
	target sip.Uri
	routes []sip.Uri
	cseq   uint32
	// established is set by the first 2xx.
	established bool
	// expires is when the subscription lapses.
	expires time.Time
}

func newSubscription() *subscription {
	return &subscription{callID: sip.GenerateTagN(24), localTag: sip.GenerateTagN(16)}
}

// subscribeError is a final failure response to a SUBSCRIBE.
type subscribeError struct {
	code       int
	reason     string
	minExpires time.Duration // 423's Min-Expires
}

func (e *subscribeError) Error() string {
	return fmt.Sprintf("announcement: SUBSCRIBE answered %d %s", e.code, e.reason)
}

// subscribeRequest builds a signed SUBSCRIBE of sub for focus.
func (s *Server) subscribeRequest(sub *subscription, focus string, expires time.Duration) (*sip.Request, error) {
	var focusURI, self sip.Uri
	if err := sip.ParseUri(focus, &focusURI); err != nil {
		return nil, fmt.Errorf("announcement: focus %q: %w", focus, err)
	}
	if err := sip.ParseUri(s.cfg.URI, &self); err != nil {
		return nil, fmt.Errorf("announcement: own URI %q: %w", s.cfg.URI, err)
	}
	recipient := focusURI
	if sub.established {
		recipient = sub.target
	}
	req := sip.NewRequest(sip.SUBSCRIBE, *recipient.Clone())
	sub.cseq++
	from := &sip.FromHeader{Address: self, Params: sip.NewParams()}
	from.Params.Add("tag", sub.localTag)
	to := &sip.ToHeader{Address: focusURI, Params: sip.NewParams()}
	if sub.remoteTag != "" {
		to.Params.Add("tag", sub.remoteTag)
	}
	callID := sip.CallIDHeader(sub.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	contact := s.contact()
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Event", c3p.EventConference))
	req.AppendHeader(sip.NewHeader("Accept", c3p.ConferenceInfoType))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if !sub.established {
		req.AppendHeader(&sip.RouteHeader{Address: *s.frontEnd.Clone()})
	} else {
		for _, r := range sub.routes {
			req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
		}
	}
	req.SetTransport("TCP")
	req.SetBody(nil)
	if err := s.sign(req); err != nil {
		return nil, err
	}
	return req, nil
}

// subscribe sends one SUBSCRIBE and waits for its final answer. A 2xx
// establishes the dialog (the first) and returns the duration the Focus
// granted; anything else is a *subscribeError or a transport error.
func (s *Server) subscribe(ctx context.Context, sub *subscription, focus string, expires time.Duration) (time.Duration, error) {
	req, err := s.subscribeRequest(sub, focus, expires)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.client.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return 0, fmt.Errorf("announcement: SUBSCRIBE: %w", err)
	}
	if !res.IsSuccess() {
		e := &subscribeError{code: res.StatusCode, reason: res.Reason}
		if h := res.GetHeader("Min-Expires"); h != nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
				e.minExpires = time.Duration(n) * time.Second
			}
		}
		return 0, e
	}
	if !sub.established {
		tag, ok := res.To().Params.Get("tag")
		if !ok || tag == "" {
			return 0, errors.New("announcement: SUBSCRIBE 2xx without a To tag")
		}
		sub.remoteTag = tag
		sub.target = req.Recipient
		if c := res.Contact(); c != nil {
			sub.target = *c.Address.Clone()
		}
		sub.routes = sub.routes[:0]
		for _, h := range res.GetHeaders("Record-Route") {
			if rr, ok := h.(*sip.RecordRouteHeader); ok {
				sub.routes = append(sub.routes, *rr.Address.Clone())
			}
		}
		slices.Reverse(sub.routes)
		sub.established = true
	}
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		// RFC 6665 §4.2.1.1: the 200 says how long the notifier keeps
		// the subscription, which may be shorter than asked.
		if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
			granted = time.Duration(n) * time.Second
		}
	}
	sub.expires = time.Now().Add(granted)
	return granted, nil
}

// refreshAfter is when to refresh a subscription granted for d: well
// before it lapses, leaving time for a retry.
func refreshAfter(d time.Duration) time.Duration {
	switch {
	case d <= 2*time.Second:
		return d / 2
	case d < 5*time.Minute:
		return d * 4 / 5
	}
	return d - time.Minute
}
