package focus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// conference is one active meeting. Its state is owned by the goroutine of
// run: everything else posts closures to it (post, call) and never touches
// the fields below the line.
type conference struct {
	f         *Focus
	uri       string // the focus URI, with the organizer in canonical form
	organizer string
	key       string
	log       *slog.Logger

	cmds chan func()
	quit chan struct{} // closed when run returns
	done chan struct{} // closed when the meeting is ended or shut down

	io      *worker
	persist *persister
	// av and chat are the meeting's MCUs (mcu.go). The A/V MCU's worker
	// is io, which also writes the meeting store: the store's activation
	// comes before the first addUser. The chat MCU has a worker of its
	// own, so that group IM never holds up the audio.
	av, chat *mcuLink

	// ending is set, under f.mu, when deactivation starts: new joins
	// wait for done and then activate the meeting afresh.
	ending bool

	// ---- owned by run ----

	meeting       directory.Meeting
	organizerName string
	maxSize       int
	participants  map[string]*participant // by entity
	sessions      map[string]*participant // by focus dialog ID
	services      map[string]*session     // trusted services' focus dialogs, by dialog ID
	subs          map[string]*subscription
	// version counts the roster's changes; a subscriber's documents are
	// numbered from it (subscription.base).
	version       uint64
	locked        bool
	audienceMuted bool
	activated     bool
	seq           uint64
	// unidentified numbers the dial-in callers who gave neither name nor
	// caller ID.
	unidentified int
	// enterprise counts the participants who are authenticated
	// enterprise users; noEnterpriseSince is when it last dropped to 0.
	enterprise        int
	noEnterpriseSince time.Time
	lastJoin          time.Time
	activatedAt       time.Time
	full              *splitDoc // the full document at version, cached
	stopping          bool
	timer             Timer
	timerAt           time.Time
}

// cmdQueue is how many posted closures may wait for the conference.
const cmdQueue = 1024

func newConference(f *Focus, uri, organizer, key string) *conference {
	c := &conference{
		f: f, uri: uri, organizer: organizer, key: key,
		log:          f.log.With("conference", uri),
		cmds:         make(chan func(), cmdQueue),
		quit:         make(chan struct{}),
		done:         make(chan struct{}),
		participants: make(map[string]*participant),
		sessions:     make(map[string]*participant),
		services:     make(map[string]*session),
		subs:         make(map[string]*subscription),
		maxSize:      f.cfg.DefaultMaxSize,
	}
	c.io = newWorker()
	c.av = &mcuLink{typ: c3p.MCUTypeAudioVideo, media: "audio", io: c.io}
	c.chat = &mcuLink{typ: c3p.MCUTypeChat, media: sessionChat, optional: true, io: newWorker()}
	c.persist = newPersister(c)
	return c
}

// start runs the conference's goroutines.
func (c *conference) start() {
	c.f.spawn(c.run)
	c.f.spawn(c.io.run)
	c.f.spawn(c.chat.io.run)
	c.f.spawn(c.persist.run)
}

// closeIO lets the MCU workers finish what is queued and stop.
func (c *conference) closeIO() {
	c.io.close()
	c.chat.io.close()
}

// ioStopped waits until the MCU workers have stopped, or ctx is done.
func (c *conference) ioStopped(ctx context.Context) {
	for _, w := range []*worker{c.io, c.chat.io} {
		select {
		case <-w.done:
		case <-ctx.Done():
			return
		}
	}
}

// run executes posted closures until the conference stops.
func (c *conference) run() {
	defer close(c.quit)
	for !c.stopping {
		fn := <-c.cmds
		fn()
		if !c.stopping {
			c.rearm()
		}
	}
}

// post queues fn for the conference's goroutine. It reports false when the
// conference has stopped.
func (c *conference) post(fn func()) bool {
	select {
	case <-c.quit:
		return false
	default:
	}
	select {
	case c.cmds <- fn:
		return true
	case <-c.quit:
		return false
	}
}

// errStopped reports a conference that stopped before it could answer.
var errStopped = fmt.Errorf("%w: the meeting has ended", ErrNotActive)

// call runs fn on the conference's goroutine and waits for it.
func call[T any](ctx context.Context, c *conference, fn func() T) (T, error) {
	out := make(chan T, 1)
	var zero T
	if !c.post(func() { out <- fn() }) {
		return zero, errStopped
	}
	select {
	case v := <-out:
		return v, nil
	case <-c.quit:
		// It may have answered just before stopping.
		select {
		case v := <-out:
			return v, nil
		default:
			return zero, errStopped
		}
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// now is the conference's time.
func (c *conference) now() time.Time { return c.f.cfg.Clock.Now() }

// rearm sets the conference's one timer to the earliest deadline: the
// idle rule, the no-enterprise rule, a subscription's expiry.
func (c *conference) rearm() {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if c.activated {
		earlier(c.lastJoin.Add(c.f.cfg.IdleTimeout))
		if !c.noEnterpriseSince.IsZero() {
			earlier(c.noEnterpriseSince.Add(c.f.cfg.NoEnterpriseTimeout))
		}
	}
	for _, s := range c.subs {
		earlier(s.expires)
	}
	if next.Equal(c.timerAt) && c.timer != nil {
		return
	}
	c.stopTimer()
	if next.IsZero() {
		return
	}
	c.timerAt = next
	c.timer = c.f.cfg.Clock.AfterFunc(next.Sub(c.now()), func() { c.post(c.onTimer) })
}

func (c *conference) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer, c.timerAt = nil, time.Time{}
	}
}

// onTimer applies the rules whose time has come.
func (c *conference) onTimer() {
	c.timer, c.timerAt = nil, time.Time{}
	now := c.now()
	for _, s := range c.subs {
		if !s.expires.After(now) {
			c.endSubscription(s, "timeout", nil)
		}
	}
	if !c.activated || c.stopping {
		return
	}
	switch {
	case !now.Before(c.lastJoin.Add(c.f.cfg.IdleTimeout)):
		c.deactivate(fmt.Sprintf("nobody joined for %s", c.f.cfg.IdleTimeout))
	case !c.noEnterpriseSince.IsZero() && !now.Before(c.noEnterpriseSince.Add(c.f.cfg.NoEnterpriseTimeout)):
		c.deactivate(fmt.Sprintf("no authenticated enterprise user for %s", c.f.cfg.NoEnterpriseTimeout))
	}
}

// countEnterprise updates the no-enterprise clock after a participant
// who is an enterprise user arrived (delta 1) or left (-1).
func (c *conference) countEnterprise(delta int) {
	c.enterprise += delta
	c.f.lobby.set(c.uri, c.enterprise > 0)
	switch {
	case c.enterprise > 0:
		c.noEnterpriseSince = time.Time{}
	case c.noEnterpriseSince.IsZero():
		c.noEnterpriseSince = c.now()
	}
}

// remove takes a participant out of the roster and tells everyone. It
// deactivates the meeting when he was the last one (seed 003: "All
// participants leave the meeting").
func (c *conference) remove(p *participant, why string) {
	delete(c.participants, p.Entity)
	if p.Session != nil {
		c.f.removeDialog(p.Session.Dialog.ID)
		delete(c.sessions, p.Session.Dialog.ID)
	}
	if p.Enterprise {
		c.countEnterprise(-1)
	}
	c.publish(c.removedDoc(p.Entity))
	c.mcuForget(p)
	for _, s := range c.subs {
		if s.user != "" && s.user == p.Entity {
			c.endSubscription(s, "rejected", nil)
		}
	}
	c.log.Info("participant left", "user", p.Entity, "why", why)
	if len(c.participants) == 0 && c.activated {
		c.deactivate("everyone left")
	}
}

// deactivate ends the meeting (seed 003, "Meeting Deactivation"): every
// subscriber gets a final notification, every focus dialog a BYE, the
// MCUs are released and the meeting is marked inactive; it can be
// activated again until it expires.
func (c *conference) deactivate(why string) {
	if c.stopping {
		return
	}
	c.stopping = true
	c.stopTimer()
	c.f.mu.Lock()
	c.ending = true
	c.f.mu.Unlock()
	c.log.Info("meeting deactivated", "why", why, "participants", len(c.participants))

	final, err := split(c.endedDoc())
	if err != nil {
		c.log.Error("encoding the last roster update", "err", err)
		final = nil
	}
	for _, s := range c.subs {
		c.endSubscription(s, "noresource", final)
	}
	var byes []*dialog.Dialog
	for _, p := range c.participants {
		if p.Session != nil {
			byes = append(byes, p.Session.Dialog)
			c.f.removeDialog(p.Session.Dialog.ID)
		}
	}
	for id, s := range c.services {
		byes = append(byes, s.Dialog)
		c.f.removeDialog(id)
	}
	c.f.byeAll(byes)

	activated := c.activated
	c.chat.io.submit(func() { c.mcuEnd(c.chat) })
	c.io.submit(func() {
		c.mcuEnd(c.av)
		if activated {
			c.markInactive()
		}
	})
	c.closeIO()
	c.f.spawn(func() {
		c.ioStopped(context.Background())
		c.persist.finish(true)
		c.f.forget(c)
		close(c.done)
	})
}

// abandon drops a conference that was never activated: its first join was
// refused. Nothing was written anywhere.
func (c *conference) abandon() {
	if c.activated || c.stopping || len(c.participants) > 0 || len(c.services) > 0 {
		return
	}
	c.stopping = true
	c.stopTimer()
	c.f.mu.Lock()
	c.ending = true
	c.f.mu.Unlock()
	c.closeIO()
	c.f.spawn(func() {
		c.ioStopped(context.Background())
		c.persist.finish(false)
		c.f.forget(c)
		close(c.done)
	})
}

// shutdown stops the conference for a server shutdown: the state is saved
// and nobody is told.
func (c *conference) shutdown(ctx context.Context) {
	snap, err := call(ctx, c, func() *snapshot {
		if c.stopping {
			return nil
		}
		c.stopping = true
		c.stopTimer()
		if !c.activated {
			return nil
		}
		return c.snapshot()
	})
	if err != nil {
		// Already ending: let it finish.
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		return
	}
	c.closeIO()
	c.ioStopped(ctx)
	c.persist.finishWith(snap)
	c.f.forget(c)
	close(c.done)
}

// forget removes a finished conference from the Focus.
func (f *Focus) forget(c *conference) {
	f.mu.Lock()
	if f.confs[c.uri] == c {
		delete(f.confs, c.uri)
		f.lobby.set(c.uri, false)
	}
	f.mu.Unlock()
}

// byeAll ends focus dialogs from our side, in the background.
func (f *Focus) byeAll(dialogs []*dialog.Dialog) {
	for _, d := range dialogs {
		f.spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
			defer cancel()
			contact := f.contact(d.Transport)
			if err := d.Bye(ctx, f.cfg.Client, contact); err != nil && !errors.Is(err, context.Canceled) {
				f.log.Debug("BYE to a participant failed", "dialog", d.ID, "err", err)
			}
		})
	}
}

// markInactive records the end of the meeting's activation.
func (c *conference) markInactive() {
	ctx, cancel := context.WithTimeout(context.Background(), c.f.cfg.MCUTimeout)
	defer cancel()
	_, err := c.f.cfg.Meetings.UpdateMeeting(ctx, c.organizer, c.key, func(m *directory.Meeting) error {
		m.Active = false
		return nil
	})
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		c.log.Error("marking the meeting inactive", "err", err)
	}
}

// markActive records an activation: the meeting is active, activated now,
// and its expiry moves forward when its kind says so.
func (c *conference) markActive(at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), c.f.cfg.MCUTimeout)
	defer cancel()
	_, err := c.f.cfg.Meetings.UpdateMeeting(ctx, c.organizer, c.key, func(m *directory.Meeting) error {
		m.Active = true
		m.LastActivatedAt = at
		if c.f.cfg.Expiry != nil {
			if e := c.f.cfg.Expiry(*m); e.After(m.ExpiresAt) {
				m.ExpiresAt = e
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("marking the meeting active", "err", err)
	}
}

// mcuURIs are the conference's MCU URIs for conf-uris, each with its
// type as purpose: SIPE joins group IM at the entry whose purpose is
// "chat" (sipe-conf.c, sipe_process_conference).
func (c *conference) mcuURIs() []c3p.URIEntry {
	var out []c3p.URIEntry
	for _, l := range c.mcuLinks() {
		if l.known.URI != "" {
			out = append(out, c3p.URIEntry{URI: l.known.URI, Purpose: l.typ})
		}
	}
	return out
}
