package attendant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/media/tone"
	"github.com/parleyhq/parley/internal/prompts"
)

// maxQueuedKeys bounds the keys waiting for a call's goroutine: a caller
// (or a broken gateway) pressing faster than the flow reads loses keys,
// not memory.
const maxQueuedKeys = 64

// The call's own events, besides the flow's.
type (
	// gone: the caller's leg ended (BYE or silence); replaced when the
	// Mediation Server dropped it for the A/V MCU's.
	gone struct {
		why string
		bye bool
	}
	// shutdown: the server is stopping.
	shutdown struct{}
	// joined: the Focus answered AddDialIn.
	joined struct {
		entity string
		err    error
	}
	// handoffExpired: the MCU never took the caller's audio.
	handoffExpired struct{}
	// saidGoodbye: the last prompt of a Hangup finished.
	saidGoodbye struct{}
	// tarpitted: a wrong answer the guard held back, now due. It is
	// handed to the flow without being counted again.
	tarpitted struct{ ev Event }
)

// call is one caller at the attendant. Its goroutine (run) alone drives
// the flow and the leg's playback; everything else posts to it.
type call struct {
	s        *Server
	id       string
	dlg      *sipgo.DialogServerSession
	leg      Leg
	flow     *Flow
	number   directory.AccessNumber
	callerID string
	private  bool // the roster must not show callerID
	referTo  string
	// enterprise: the front end asserted who the caller is (User); his
	// phone is handed to the A/V MCU by REFER.
	enterprise bool
	user       User
	// ident keys the abuse guard and the re-join memory: the user when
	// asserted, else the caller ID.
	ident string

	ctx    context.Context // ends the call's questions and waits
	cancel context.CancelFunc

	qmu   sync.Mutex
	queue []any
	wake  chan struct{}

	// Owned by run.
	timer   *time.Timer
	joining Join
	entity  string // in the meeting as this user, once joined
	handoff *time.Timer
	tarpit  *time.Timer
	// The enterprise hand-off (refer.go): its state, the CSeq of the
	// REFER, and whether the phone already hung up its call to us.
	refer      referState
	referSeq   string
	callerGone bool
	// referOpen is set once the REFER may be answered by NOTIFYs; the
	// SIP handler reads it.
	referOpen atomic.Bool
}

// newCall makes the call of an answered INVITE; user is the enterprise
// user a trusted service asserted, nil for a Mediation Server's caller.
func newCall(s *Server, dlg *sipgo.DialogServerSession, req *sip.Request, number directory.AccessNumber, user *User) *call {
	c := &call{
		s: s, id: dlg.ID, dlg: dlg, number: number,
		flow: New(s.cfg.Flow),
		wake: make(chan struct{}, 1),
	}
	c.callerID, c.private = callerID(req)
	c.ident = c.callerID
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if user != nil {
		// No ReferTo: the Focus must not have the A/V MCU dial out; the
		// phone comes to the MCU when referred (refer.go).
		c.enterprise, c.user, c.ident = true, *user, user.URI
		return c
	}
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := dlg.InviteRequest.To().Params.Get("tag")
	c.referTo = ReferTo(req.Contact().Address, req.CallID().Value(), fromTag, toTag)
	return c
}

// callerID returns the caller's number as the Mediation Server passed it
// (RFC 3325 §9.1 P-Asserted-Identity, else From), "" when there is none,
// and whether he asked for it to be withheld (RFC 3323 §4.2 Privacy: id,
// user or header). A withheld number still keys the abuse guard and the
// re-join memory, which stay inside the deployment, but is never shown in
// the meeting's roster.
func callerID(req *sip.Request) (number string, private bool) {
	for _, h := range req.GetHeaders("Privacy") {
		for _, v := range strings.Split(h.Value(), ";") {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "id", "user", "header":
				private = true
			}
		}
	}
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		v := h.Value()
		if i := strings.IndexByte(v, '<'); i >= 0 {
			if j := strings.IndexByte(v[i:], '>'); j > 0 {
				v = v[i+1 : i+j]
			}
		}
		if sip.ParseUri(strings.TrimSpace(v), &u) == nil {
			if n := numberOf(u); n != "" {
				return n, private
			}
		}
	}
	if from := req.From(); from != nil {
		return numberOf(from.Address), private
	}
	return "", private
}

// numberOf returns the telephone number a URI stands for, or "".
func numberOf(u sip.Uri) string {
	n := u.User
	if u.Scheme == "tel" {
		// sipgo keeps a tel URI's number only in its text (RFC 3966 §3:
		// the number, then ;parameters).
		n, _, _ = strings.Cut(strings.TrimPrefix(u.String(), "tel:"), ";")
	}
	if n == "" || n == "anonymous" {
		return ""
	}
	digits := 0
	for i := range len(n) {
		switch c := n[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0, c == '-', c == '.':
		default:
			return ""
		}
	}
	if digits == 0 || len(n) > 32 {
		return ""
	}
	return n
}

// shownID is the caller ID the roster may show.
func (c *call) shownID() string {
	if c.private {
		return ""
	}
	return c.callerID
}

func (c *call) log() *slog.Logger {
	return c.s.log.With("call", c.id, "access_number", c.number.LineURI)
}

// post queues an event for run. It never blocks: it is called from the
// media clock, SIP handlers and timers.
func (c *call) post(ev any) {
	c.qmu.Lock()
	if _, key := ev.(Digit); key && len(c.queue) >= maxQueuedKeys {
		c.qmu.Unlock()
		return
	}
	c.queue = append(c.queue, ev)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *call) next() []any {
	for {
		c.qmu.Lock()
		q := c.queue
		c.queue = nil
		c.qmu.Unlock()
		if len(q) > 0 {
			return q
		}
		<-c.wake
	}
}

// run drives the call until it ends.
func (c *call) run() {
	defer c.end()
	c.do(c.flow.Handle(Answered{
		Primary: c.number.PrimaryLanguage, Secondary: c.number.SecondaryLanguages,
		CallerID: c.shownID(), Rejoin: c.s.rejoins.lookup(c.ident),
		Authenticated: c.enterprise, User: c.user,
	}))
	for {
		for _, ev := range c.next() {
			if c.event(ev) {
				return
			}
		}
	}
}

// event handles one event and reports whether the call is over.
func (c *call) event(ev any) bool {
	switch e := ev.(type) {
	case tarpitted:
		c.do(c.flow.Handle(e.ev))
	case Event:
		if wrongAnswer(e) && c.throttle(e) {
			return false // the goodbye, or the delayed answer, ends the wait
		}
		c.do(c.flow.Handle(e))
	case joined:
		if e.err != nil {
			c.log().Info("attendant: the Focus refused the caller", "meeting", c.joining.Meeting.ConferenceID, "err", e.err)
		}
		c.do(c.flow.Handle(JoinResult{Err: e.err}))
		if e.err == nil {
			c.s.stats.joined.Add(1)
			c.entity = e.entity
			c.handoff = time.AfterFunc(c.s.cfg.HandoffTimeout, func() { c.post(handoffExpired{}) })
			if c.enterprise {
				return c.startRefer()
			}
		}
	case referAnswered, referNotified:
		return c.referEvent(e)
	case gone:
		if c.refer == referSent {
			// The phone may stop sending us media, or even hang up,
			// as it moves to the A/V MCU: the refer subscription
			// outlives the call (RFC 5057), and its NOTIFYs or
			// the hand-off timeout decide.
			if e.bye {
				c.callerGone = true
				c.leg.StopPlay()
			}
			return false
		}
		switch {
		case e.why == "replaced" && c.joining.Meeting.FocusURI != "":
			// The A/V MCU may take the audio before the Focus's answer
			// to the join reaches this goroutine: the replacement is
			// the proof that the caller is in.
			if c.entity == "" {
				c.s.stats.joined.Add(1)
			}
			c.log().Info("attendant: the caller's audio moved to the A/V MCU", "meeting", c.joining.Meeting.ConferenceID, "user", c.entity)
			c.s.rejoins.remember(c.ident, Recent{Meeting: c.joining.Meeting, Lang: c.joining.Lang})
		case c.entity != "":
			c.log().Info("attendant: the caller left during the hand-off", "why", e.why)
		default:
			c.log().Info("attendant: the caller left", "why", e.why, "flow", c.flow)
		}
		if !e.bye {
			c.bye(e.why)
		}
		return true
	case handoffExpired:
		if c.enterprise {
			if c.refer != referSent {
				return false // decided just before the timer fired
			}
			return c.referFailed("the phone did not report its call to the A/V MCU in " + c.s.cfg.HandoffTimeout.String())
		}
		c.log().Warn("attendant: the A/V MCU did not take the caller's audio", "meeting", c.joining.Meeting.ConferenceID, "user", c.entity)
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		if err := c.s.confs.RemoveDialIn(ctx, c.joining.Meeting.FocusURI, c.entity); err != nil {
			c.log().Warn("attendant: removing the caller", "err", err)
		}
		cancel()
		c.bye("hand-off failed")
		return true
	case saidGoodbye:
		c.bye("goodbye")
		return true
	case shutdown:
		c.bye("server stopping")
		return true
	}
	return false
}

// end releases everything the call holds.
func (c *call) end() {
	c.cancel()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.handoff != nil {
		c.handoff.Stop()
	}
	if c.tarpit != nil {
		c.tarpit.Stop()
	}
	c.leg.Close()
	// sipgo drops a dialog from its cache on a BYE it receives, not on one
	// it sends.
	_ = c.dlg.Close()
	c.s.forget(c)
}

func (c *call) bye(why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.dlg.Bye(ctx); err != nil && !errors.Is(err, sipgo.ErrDialogOutsideDialog) {
		c.log().Debug("attendant: BYE", "why", why, "err", err)
	}
}

// do carries out the flow's actions.
func (c *call) do(actions []Action) {
	for _, a := range actions {
		switch a := a.(type) {
		case Play:
			id := a.ID
			c.play(a.Lang, a.Prompts, false, func() { c.post(PromptDone{ID: id}) })
		case PlayHold:
			c.leg.Play(tone.NewClip(prompts.HoldMusic(), true))
		case Stop:
			c.leg.StopPlay()
		case StartTimer:
			if c.timer != nil {
				c.timer.Stop()
			}
			id := a.ID
			c.timer = time.AfterFunc(a.After, func() { c.post(TimerFired{ID: id}) })
		case Resolve:
			c.ask(func(ctx context.Context) Event {
				m, err := c.s.backend.ResolveConference(ctx, a.ConferenceID)
				return Resolved{Meeting: m, Err: err}
			})
		case CheckPasscode:
			c.ask(func(ctx context.Context) Event {
				return PasscodeChecked{Err: c.s.backend.VerifyPasscode(ctx, a.ConferenceID, a.Passcode)}
			})
		case CheckPIN:
			c.ask(func(ctx context.Context) Event {
				u, err := c.s.backend.VerifyPIN(ctx, a.Extension, a.PIN)
				return PINChecked{User: u, Err: err}
			})
		case Join:
			c.joining = a
			go c.join(a)
		case Hangup:
			c.play(a.Lang, a.Prompts, true, func() { c.post(saidGoodbye{}) })
		}
	}
}

// ask puts a question to the front end off the call's goroutine.
func (c *call) ask(q func(ctx context.Context) Event) {
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
		defer cancel()
		ev := q(ctx)
		if c.ctx.Err() == nil {
			c.post(ev)
		}
	}()
}

// play composes prompts into one clip and plays it; done runs when it
// has been heard. A prompt that cannot be composed is skipped; when none
// can, done runs at once so that the flow does not wait for nothing.
func (c *call) play(lang string, ps []Prompt, last bool, done func()) {
	var pcm []int16
	for _, p := range ps {
		l := lang
		if p.Lang != "" {
			l = p.Lang
		}
		var clip []int16
		var err error
		if p.Digits != "" {
			clip, err = prompts.Compose(l, p.Key, p.Digits)
		} else {
			clip, err = prompts.PCM(l, p.Key)
		}
		if err != nil {
			c.log().Error("attendant: prompt", "key", p.Key, "lang", l, "err", err)
			continue
		}
		pcm = append(pcm, clip...)
	}
	if last {
		// Let the goodbye be heard out before the BYE.
		pcm = append(pcm, make([]int16, prompts.Rate/5)...)
	}
	if len(pcm) == 0 {
		c.leg.StopPlay()
		done()
		return
	}
	c.leg.Play(&played{src: tone.NewClip(pcm, false), done: done})
}

// join holds the caller until the meeting has a leader when he is
// anonymous (seed 001 step 10), then adds him to the Focus (step 11).
func (c *call) join(a Join) {
	uri := a.Meeting.FocusURI
	if !a.Authenticated {
		probe, cancel := context.WithCancel(c.ctx)
		cancel()
		if c.s.confs.WaitEnterprise(probe, uri) != nil {
			c.post(JoinResult{Waiting: true})
			hold, cancel := context.WithTimeout(c.ctx, c.s.cfg.MaxHold)
			err := c.s.confs.WaitEnterprise(hold, uri)
			cancel()
			if c.ctx.Err() != nil {
				return
			}
			if err != nil {
				c.post(joined{err: fmt.Errorf("nobody led the meeting in %s: %w", c.s.cfg.MaxHold, err)})
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	defer cancel()
	caller := Caller{CallerID: a.CallerID, Language: a.Lang, ReferTo: c.referTo}
	if a.Authenticated {
		caller.User, caller.DisplayName = a.User.URI, a.User.DisplayName
	}
	entity, err := c.s.confs.AddDialIn(ctx, uri, caller)
	if c.ctx.Err() != nil {
		if c.enterprise {
			c.abandon(uri)
		}
		return
	}
	c.post(joined{entity: entity, err: err})
}

// abandon takes an enterprise caller who hung up while the Focus added
// him back out: no A/V MCU will ever fetch his audio, so nothing else
// would end his "dialing in" in the roster. (A Mediation Server's caller
// may already be in the MCU by Replaces, and the MCU's dial-out failing
// removes him otherwise.) The Focus knows him by his user URI.
func (c *call) abandon(focusURI string) {
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	if err := c.s.confs.RemoveDialIn(ctx, focusURI, c.user.URI); err != nil {
		c.log().Debug("attendant: removing a caller who left while joining", "err", err)
	}
}

// wrongAnswer reports whether ev answers a guess that failed: a
// conference ID, passcode or extension and PIN the front end refused.
func wrongAnswer(ev Event) bool {
	switch e := ev.(type) {
	case Resolved:
		return errors.Is(e.Err, ErrInvalidID) || errors.Is(e.Err, ErrNotFound)
	case PasscodeChecked:
		return errors.Is(e.Err, ErrWrongPasscode)
	case PINChecked:
		return errors.Is(e.Err, ErrAuthFailed)
	}
	return false
}

// throttle counts a wrong answer with the guard and carries out its
// verdict: it reports false when the answer may go to the flow at once,
// true when the guard held it back (the caller hears the error prompt
// later: slower guessing) or ended the call. The log names the caller ID
// and the access number, never what was typed.
func (c *call) throttle(ev Event) bool {
	v := c.s.guard.Failure(c.ident, c.number.LineURI)
	switch {
	case v.HangUp:
		c.s.stats.guessHangups.Add(1)
		c.s.log.Warn("attendant: hanging up a caller for guessing", "caller_id", c.ident,
			"access_number", c.number.LineURI, "scope", v.Scope, "wrong_answers", v.Count)
		c.do(c.flow.Handle(Blocked{}))
		return true
	case v.Delay > 0:
		c.s.stats.throttled.Add(1)
		c.s.log.Warn("attendant: slowing down a caller for guessing", "caller_id", c.ident,
			"access_number", c.number.LineURI, "scope", v.Scope, "wrong_answers", v.Count, "delay", v.Delay)
		c.tarpit = time.AfterFunc(v.Delay, func() { c.post(tarpitted{ev: ev}) })
		return true
	}
	return false
}
