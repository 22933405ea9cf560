package attendant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	referTo  string

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
}

func newCall(s *Server, dlg *sipgo.DialogServerSession, req *sip.Request, number directory.AccessNumber) *call {
	c := &call{
		s: s, id: dlg.ID, dlg: dlg, number: number,
		flow:     New(s.cfg.Flow),
		callerID: callerID(req),
		wake:     make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := dlg.InviteRequest.To().Params.Get("tag")
	c.referTo = ReferTo(req.Contact().Address, req.CallID().Value(), fromTag, toTag)
	return c
}

// callerID is the caller's number as the Mediation Server passed it
// (RFC 3325 P-Asserted-Identity, else From), "" when withheld.
func callerID(req *sip.Request) string {
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		v := h.Value()
		if i, j := indexByte(v, '<'), indexByte(v, '>'); i >= 0 && j > i {
			v = v[i+1 : j]
		}
		if sip.ParseUri(v, &u) == nil {
			if n := numberOf(u); n != "" {
				return n
			}
		}
	}
	if from := req.From(); from != nil {
		if len(req.GetHeaders("Privacy")) > 0 {
			return ""
		}
		return numberOf(from.Address)
	}
	return ""
}

func indexByte(s string, b byte) int {
	for i := range len(s) {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// numberOf returns the telephone number a URI stands for, or "".
func numberOf(u sip.Uri) string {
	n := u.User
	if u.Scheme == "tel" {
		n = u.Host
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
		CallerID: c.callerID,
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
	case Event:
		c.do(c.flow.Handle(e))
	case joined:
		if e.err != nil {
			c.log().Info("attendant: the Focus refused the caller", "meeting", c.joining.Meeting.ConferenceID, "err", e.err)
		}
		c.do(c.flow.Handle(JoinResult{Err: e.err}))
		if e.err == nil {
			c.entity = e.entity
			c.handoff = time.AfterFunc(c.s.cfg.HandoffTimeout, func() { c.post(handoffExpired{}) })
		}
	case gone:
		switch {
		case c.entity != "" && e.why == "replaced":
			c.log().Info("attendant: the caller's audio moved to the A/V MCU", "meeting", c.joining.Meeting.ConferenceID, "user", c.entity)
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
	c.leg.Close()
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
		return
	}
	c.post(joined{entity: entity, err: err})
}
