package focus

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// The conference event package (RFC 4575 §3) on RFC 6665 subscriptions,
// with Microsoft's two shortcuts ([MS-OCSPROT] §2.5.18): the first state
// rides in the 200 OK to SUBSCRIBE (ms-piggyback-first-notify, the 200
// carrying ms-piggyback-cseq), and updates go in BENOTIFY, a NOTIFY that
// expects no response (ms-benotify).

// subscription is one subscriber to a conference.
type subscription struct {
	d *dialog.Dialog
	// user is the subscriber's authenticated AOR, "" for anonymous
	// subscribers and trusted services; a participant's subscriptions end
	// when he leaves.
	user     string
	benotify bool

	// expires and base belong to the conference goroutine. base maps the
	// conference version to this subscriber's document versions, which
	// start at 1 and go up by one per document (RFC 4575 §4.6's version
	// is scoped to the subscription).
	expires time.Time
	base    int64

	// queue holds the notifications not yet sent; kill drops the
	// subscriber at once, with killReason in a last terminated NOTIFY.
	queue      *noteQueue
	kill       chan struct{}
	killReason string
	killed     bool
	// buf is the sender's body buffer and out its BENOTIFY request, both
	// reused from one notification to the next.
	buf []byte
	out *dialog.Template
}

// note is one notification to send.
type note struct {
	doc     *splitDoc // nil: no body
	version uint64
	state   string // the Subscription-State value
	final   bool
}

// versionAt is the subscriber's document version at a conference version.
func (s *subscription) versionAt(v uint64) uint64 { return uint64(int64(v) - s.base) }

// activeState is the Subscription-State of an active subscription
// (RFC 6665 §8.2.3: expires is the time left).
func (s *subscription) activeState(now time.Time) string {
	left := max(int64(s.expires.Sub(now)/time.Second), 0)
	return "active;expires=" + strconv.FormatInt(left, 10)
}

// subscribeRequest is a SUBSCRIBE read by a handler, for the conference.
type subscribeRequest struct {
	caller    Caller
	req       *sip.Request
	dialog    *dialog.Dialog // nil when refreshing
	expires   time.Duration
	piggyback bool
	benotify  bool
}

// subscribeAnswer is the conference's decision.
type subscribeAnswer struct {
	refusal *Refusal
	sub     *subscription
	// body is the full document for the 200 OK when piggy-backed, and
	// pigCSeq the CSeq it stands for.
	body    []byte
	pigCSeq uint32
	expires time.Duration
	// start tells the handler to start the subscription's sender after
	// answering.
	start bool
}

// ServeSUBSCRIBE answers a SUBSCRIBE to the conference event package:
// a new subscription to a focus URI, or a refresh or an unsubscription
// (Expires: 0) within one.
func (f *Focus) ServeSUBSCRIBE(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, caller Caller) {
	res := f.subscribe(ctx, req, tx, caller)
	if res != nil {
		f.respond(tx, res)
	}
}

func (f *Focus) subscribe(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, caller Caller) *sip.Response {
	if ev := req.GetHeader("Event"); ev == nil || !strings.EqualFold(eventPackage(ev.Value()), c3p.EventConference) {
		res := sipReject(req, 489, f.cfg.Hostname, "only the conference event package is served here", 0)
		res.AppendHeader(sip.NewHeader("Allow-Events", c3p.EventConference))
		return res
	}
	if !acceptsConferenceInfo(req) {
		res := sipReject(req, 406, f.cfg.Hostname, "conference state is sent as "+c3p.ConferenceInfoType, 0)
		res.AppendHeader(sip.NewHeader("Accept", c3p.ConferenceInfoType))
		return res
	}
	expires, bad := f.expires(req)
	if bad != nil {
		return bad
	}
	sr := &subscribeRequest{
		caller:    caller,
		req:       req,
		expires:   expires,
		piggyback: supports(req, "ms-piggyback-first-notify"),
		benotify:  supports(req, "ms-benotify"),
	}
	var c *conference
	if _, inDialog := req.To().Params.Get("tag"); inDialog {
		if c = f.dialogConference(req); c == nil {
			return sipReject(req, 481, f.cfg.Hostname, "no such subscription", 0)
		}
	} else {
		conf, _, _, ok := f.conferenceOf(req.Recipient.String())
		if !ok {
			return sipReject(req, 404, f.cfg.Hostname, "not a conference URI", c3p.DiagInvalidConferenceURI)
		}
		if c = f.active(conf); c == nil {
			return sipReject(req, 404, f.cfg.Hostname, "the meeting is not active", c3p.DiagInvalidConferenceURI)
		}
		d, err := dialog.New(req, sip.GenerateTagN(16))
		if err != nil {
			return sipReject(req, 400, f.cfg.Hostname, err.Error(), 0)
		}
		sr.dialog = d
	}
	id, _ := dialog.IDOf(req)
	ans, err := call(ctx, c, func() subscribeAnswer { return c.subscribe(id, sr) })
	if err != nil {
		return sipReject(req, 481, f.cfg.Hostname, "the meeting has ended", 0)
	}
	if ans.refusal != nil {
		return sipReject(req, ans.refusal.Code, f.cfg.Hostname, ans.refusal.Err.Error(), ans.refusal.Diagnostic)
	}
	s := ans.sub
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", s.d.LocalTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(ans.expires/time.Second))))
	res.AppendHeader(sip.NewHeader("Event", c3p.EventConference))
	contact := *f.contact(req.Transport())
	res.AppendHeader(&contact)
	if ans.body != nil {
		// The piggy-backed first notification: SIPE processes a 2xx to
		// SUBSCRIBE as a NOTIFY when ms-piggyback-cseq is present, and
		// only when its Event is conference.
		res.AppendHeader(sip.NewHeader("Subscription-State", "active;expires="+strconv.Itoa(int(ans.expires/time.Second))))
		res.AppendHeader(sip.NewHeader("ms-piggyback-cseq", strconv.FormatUint(uint64(ans.pigCSeq), 10)))
		res.AppendHeader(sip.NewHeader("Content-Type", c3p.ConferenceInfoType))
		res.SetBody(ans.body)
	}
	if err := tx.Respond(res); err != nil {
		if sr.dialog != nil {
			// The subscriber never learnt of the subscription: drop it,
			// or every retransmission would leave one behind.
			c.post(func() { c.subscriberFailed(s, err) })
			return nil
		}
		f.log.DebugContext(ctx, "response not sent", "status", res.StatusCode, "err", err)
	}
	if ans.start {
		f.startSender(c, s)
	}
	return nil
}

// eventPackage is an Event header's package name, without parameters.
func eventPackage(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.TrimSpace(v)
}

// acceptsConferenceInfo reports whether the request's Accept allows
// conference-info documents; no Accept means the package's default type
// (RFC 6665 §8.2.1... §3.1.3 of RFC 4575).
func acceptsConferenceInfo(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for t := range strings.SplitSeq(h.Value(), ",") {
			t, _, _ = strings.Cut(t, ";")
			switch strings.ToLower(strings.TrimSpace(t)) {
			case c3p.ConferenceInfoType, "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// supports reports whether the request lists an option tag in Supported
// (or, as SIPE also does for ms-benotify, in Proxy-Require).
func supports(req *sip.Request, tag string) bool {
	for _, name := range []string{"Supported", "Proxy-Require", "k"} {
		for _, h := range req.GetHeaders(name) {
			for t := range strings.SplitSeq(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(t), tag) {
					return true
				}
			}
		}
	}
	return false
}

// expires reads the Expires of a SUBSCRIBE (RFC 6665 §4.2.1.1): absent
// means the package's default of an hour, a positive value below
// MinExpires is refused with 423, one above MaxExpires is shortened.
func (f *Focus) expires(req *sip.Request) (time.Duration, *sip.Response) {
	h := req.GetHeader("Expires")
	if h == nil {
		return min(time.Hour, f.cfg.MaxExpires), nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, sipReject(req, 400, f.cfg.Hostname, "Expires is not a number of seconds", 0)
	}
	d := time.Duration(n) * time.Second
	switch {
	case n == 0:
		return 0, nil
	case d < f.cfg.MinExpires:
		res := sipReject(req, 423, f.cfg.Hostname, "subscription too short", 0)
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(f.cfg.MinExpires/time.Second))))
		return 0, res
	case d > f.cfg.MaxExpires:
		d = f.cfg.MaxExpires
	}
	return d, nil
}

// subscribe creates, refreshes or ends a subscription. id is the dialog ID
// of an in-dialog request.
func (c *conference) subscribe(id string, sr *subscribeRequest) subscribeAnswer {
	if c.stopping {
		return subscribeAnswer{refusal: refuse(ErrEnding, 481, reasonNoConference, 0, "the meeting is ending")}
	}
	now := c.now()
	if sr.dialog == nil {
		s := c.subs[id]
		if s == nil {
			return subscribeAnswer{refusal: refuse(ErrNoUser, 481, reasonNoUser, 0, "no such subscription")}
		}
		if !s.d.Accept(sr.req) {
			return subscribeAnswer{refusal: refuse(ErrInvalid, 500, reasonMalformed, 0, "CSeq out of order (RFC 3261 §12.2.2)")}
		}
		if sr.caller.User != "" && s.user != "" && sr.caller.User != s.user {
			return subscribeAnswer{refusal: refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the subscription is %s's", s.user)}
		}
		if sr.expires == 0 {
			// RFC 6665 §4.2.1.4: unsubscribing gets a last NOTIFY.
			c.endSubscription(s, "timeout", nil)
			return subscribeAnswer{sub: s}
		}
		// A refresh gets the current state again (RFC 6665 §4.2.1.2).
		s.expires = now.Add(sr.expires)
		s.base--
		return c.sendFull(s, sr, false)
	}
	if !c.activated {
		return subscribeAnswer{refusal: refuse(ErrNotActive, 404, reasonNoConference, c3p.DiagInvalidConferenceURI, "the meeting is not active")}
	}
	if r := c.maySubscribe(sr.caller); r != nil {
		return subscribeAnswer{refusal: r}
	}
	s := &subscription{
		d:        sr.dialog,
		benotify: sr.benotify,
		expires:  now.Add(sr.expires),
		base:     int64(c.version) - 1,
		queue:    newNoteQueue(c.f.cfg.SubscriberQueue),
		kill:     make(chan struct{}),
	}
	if !sr.caller.Trusted {
		s.user = sr.caller.User
	}
	if sr.expires == 0 {
		// A fetch (RFC 6665 §4.4.3): the state once, and no subscription.
		return c.sendFull(s, sr, true)
	}
	c.subs[s.d.ID] = s
	c.f.addDialog(s.d.ID, c)
	c.log.Debug("subscribed", "user", s.user, "dialog", s.d.ID)
	return c.sendFull(s, sr, false)
}

// maySubscribe decides who may watch the roster: trusted services, the
// participants, and anybody when the meeting admits anonymous users (who
// could join anyway).
func (c *conference) maySubscribe(caller Caller) *Refusal {
	switch {
	case caller.Trusted:
		return nil
	case caller.User != "" && c.participants[caller.User] != nil:
		return nil
	case c.meeting.Admission == admitAnonymous:
		return nil
	}
	return refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "only participants may watch the roster")
}

// sendFull gives a subscriber the full document: in the 200 OK when he
// takes piggy-backed state, else in a first NOTIFY.
func (c *conference) sendFull(s *subscription, sr *subscribeRequest, fetch bool) subscribeAnswer {
	ans := subscribeAnswer{sub: s, expires: sr.expires, start: sr.dialog != nil}
	d, err := c.fullSplit()
	if err != nil {
		c.log.Error("encoding the roster", "err", err)
		return subscribeAnswer{refusal: refuse(ErrInvalid, 500, reasonOther, 0, "the roster could not be encoded")}
	}
	v := s.versionAt(c.version)
	if sr.piggyback {
		ans.body = d.body(nil, v)
		// The piggy-backed state stands for the dialog's first NOTIFY:
		// it takes that NOTIFY's CSeq, so that the sender's next request
		// has a higher one (RFC 3261 §12.2.1.1). The request itself is
		// never sent; sipx/dialog hands out CSeqs only with requests.
		ans.pigCSeq = s.d.Request(sip.NOTIFY, c.f.contact(s.d.Transport)).CSeq().SeqNo
		if fetch {
			ans.start = false
		}
		return ans
	}
	n := note{doc: d, version: v, state: s.activeState(c.now())}
	if fetch {
		n.state, n.final = "terminated;reason=timeout", true
	}
	c.deliver(s, n)
	return ans
}

// deliver queues a notification without ever waiting: a subscriber who
// has fallen SubscriberQueue notifications behind is dropped, with a
// terminated notification telling him to subscribe again for a fresh
// full state (RFC 6665 §4.2.2: reason deactivated).
func (c *conference) deliver(s *subscription, n note) {
	if s.killed {
		return
	}
	if !s.queue.push(n) {
		c.log.Warn("subscriber too slow, dropped", "user", s.user, "dialog", s.d.ID)
		c.dropSubscription(s, "deactivated")
	}
}

// endSubscription terminates a subscription with a last notification,
// which carries d when given (the end of the meeting).
func (c *conference) endSubscription(s *subscription, reason string, d *splitDoc) {
	if _, ok := c.subs[s.d.ID]; ok {
		delete(c.subs, s.d.ID)
		c.f.removeDialog(s.d.ID)
	}
	n := note{doc: d, state: "terminated;reason=" + reason, final: true}
	if d != nil {
		n.version = s.versionAt(c.version) + 1
	}
	if s.killed {
		return
	}
	if !s.queue.push(n) {
		c.dropSubscription(s, reason)
	}
}

// dropSubscription removes a subscriber at once: what is queued for him is
// skipped.
func (c *conference) dropSubscription(s *subscription, reason string) {
	if _, ok := c.subs[s.d.ID]; ok {
		delete(c.subs, s.d.ID)
		c.f.removeDialog(s.d.ID)
	}
	if !s.killed {
		s.killed = true
		s.killReason = reason
		close(s.kill)
	}
}

// subscriberFailed forgets a subscriber whose NOTIFY failed (RFC 6665
// §4.2.2: a 481 or a timeout ends the subscription).
func (c *conference) subscriberFailed(s *subscription, err error) {
	if c.subs[s.d.ID] == s {
		delete(c.subs, s.d.ID)
		c.f.removeDialog(s.d.ID)
		c.log.Info("subscriber unreachable, dropped", "user", s.user, "err", err)
	}
}
