package avmcu

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/mix"
)

// Conference is one mixed conference: a set of legs, each hearing the
// others. One goroutine owns its state and ticks every 20 ms while it has
// legs; without legs it has no goroutine and no timer.
type Conference struct {
	e  *Engine
	id string

	mu      sync.Mutex // guards the fields below
	pending []func()   // changes applied by the goroutine before its next tick
	spare   []func()
	running bool // the goroutine exists
	closed  bool
	members map[*Leg]struct{} // added and not removed, for Legs

	// Owned by the conference goroutine.
	mix        *mix.Mixer
	rate       int // mixer sample rate: 16000 while a G.722 leg is in
	slots      []*Leg
	legs       int
	count      [numCodecs]int // attached legs per codec
	accs       []mix.Accumulator
	accPtrs    []*mix.Accumulator
	wg         sync.WaitGroup
	scr        *scratch // the goroutine's own share of the work
	sharedDown mix.Downsampler
	shared8    [160]int16                       // the Shared frame at 8 kHz, in a 16 kHz conference
	sharedPay  [numCodecs][maxFramePayload]byte // the Shared frame encoded, G.711 only
	silent     bool
	tickNo     uint64
	skip       int           // ticks skipped just before this one
	lead, took time.Duration // see tick
	sockBase   int           // the socket of its first part, spreading conferences

	// The phase being shared with workers (see run).
	cur      atomic.Int64
	curHi    int
	curPhase phase
	curIdeal time.Time
}

func newConference(e *Engine, id string) *Conference {
	c := &Conference{e: e, id: id, members: make(map[*Leg]struct{})}
	c.sockBase = int(crc32.ChecksumIEEE([]byte(id)) % uint32(max(1, len(e.conns))))
	c.mix = c.newMixer(8000, 16)
	c.rate = 8000
	c.accs = make([]mix.Accumulator, e.cfg.Workers)
	c.accPtrs = make([]*mix.Accumulator, e.cfg.Workers)
	for i := range c.accs {
		c.accPtrs[i] = &c.accs[i]
	}
	return c
}

func (c *Conference) newMixer(rate, capacity int) *mix.Mixer {
	m, err := mix.NewMixer(mix.Config{SampleRate: rate, Speakers: c.e.cfg.Speakers, Capacity: capacity})
	if err != nil {
		// The configuration was validated by NewEngine: this is a bug.
		panic(fmt.Sprintf("avmcu: mixer: %v", err))
	}
	return m
}

// ID returns the conference's name.
func (c *Conference) ID() string { return c.id }

// AddLeg adds a participant. It returns ErrFull at the engine's capacity
// (existing legs are not affected), ErrAddressInUse if another leg has the
// remote address, ErrLegSpec for a bad spec and ErrClosed after Close or
// once the engine has stopped. The leg joins the mix at the next tick.
func (c *Conference) AddLeg(spec LegSpec) (*Leg, error) {
	e := c.e
	if err := e.validate(&spec); err != nil {
		return nil, err
	}
	if e.stopped() {
		return nil, ErrClosed
	}
	if !e.reserve() {
		return nil, ErrFull
	}
	l, err := newLeg(e, c, spec, time.Now())
	if err != nil {
		e.release()
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		e.release()
		return nil, ErrClosed
	}
	l.ctlMu.Lock()
	err = e.register(l, spec.Remote, spec.RemoteRTCP)
	if err == nil {
		l.keyRTP, l.keyRTCP = spec.Remote, spec.RemoteRTCP
	}
	l.ctlMu.Unlock()
	if err != nil {
		e.release()
		return nil, err
	}
	if !c.enqueue(func() { c.attach(l) }) {
		l.removed.Store(true)
		l.unregister()
		e.release()
		return nil, ErrClosed
	}
	c.members[l] = struct{}{}
	return l, nil
}

// Legs returns the legs added and not removed.
func (c *Conference) Legs() []*Leg {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Leg, 0, len(c.members))
	for l := range c.members {
		out = append(out, l)
	}
	return out
}

// Close removes every leg and forgets the conference: Engine.Conference
// with the same id then makes a new one.
func (c *Conference) Close() {
	c.mu.Lock()
	c.closed = true
	legs := make([]*Leg, 0, len(c.members))
	for l := range c.members {
		legs = append(legs, l)
	}
	c.mu.Unlock()
	for _, l := range legs {
		l.Remove()
	}
	c.e.forget(c)
}

// do queues a change for the goroutine to apply before its next tick.
func (c *Conference) do(f func()) {
	c.mu.Lock()
	c.enqueue(f)
	c.mu.Unlock()
}

// enqueue queues f and starts the goroutine if needed; c.mu is held.
func (c *Conference) enqueue(f func()) bool {
	c.pending = append(c.pending, f)
	if !c.running {
		if !c.e.startConference(c) {
			return false
		}
		c.running = true
	}
	return true
}

// detachLater queues the removal of a leg from the mixer.
func (c *Conference) detachLater(l *Leg) {
	c.mu.Lock()
	delete(c.members, l)
	c.enqueue(func() { c.detach(l) })
	c.mu.Unlock()
}

// apply runs the queued changes. It reports false, with c.running cleared,
// when the conference has no legs and nothing queued: the goroutine ends.
func (c *Conference) apply() bool {
	for {
		c.mu.Lock()
		fs := c.pending
		c.pending = c.spare[:0]
		if len(fs) == 0 && c.legs == 0 {
			c.running = false
			c.mu.Unlock()
			return false
		}
		c.mu.Unlock()
		for i, f := range fs {
			f()
			fs[i] = nil
		}
		c.spare = fs[:0]
		if c.legs > 0 {
			return true
		}
	}
}

// loop is the conference goroutine: it ticks every 20 ms while there are
// legs, at a random phase so that conferences do not all tick at once.
func (c *Conference) loop() {
	e := c.e
	defer e.confWG.Done()
	select {
	case <-e.started:
	case <-e.done:
		c.abandon()
		return
	}
	if !c.apply() {
		return
	}
	e.ticking.Add(1)
	defer e.ticking.Add(-1)
	next := time.Now().Add(time.Duration(rand.Int64N(int64(codecFrame))))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		if !c.sleepUntil(timer, next) {
			c.abandon()
			return
		}
		if !c.apply() {
			return
		}
		now := time.Now()
		if behind := now.Sub(next); behind > 2*codecFrame {
			// Too far behind to catch up by ticking back to back: skip
			// the lost frames (their RTP timestamps are skipped too).
			n := int(behind / codecFrame)
			next = next.Add(time.Duration(n) * codecFrame)
			c.skip += n
			e.skipped.Add(uint64(n))
		}
		c.tick(next)
		c.skip = 0
		next = next.Add(codecFrame)
	}
}

// sleepUntil waits for t; false means the engine stopped. A large
// conference ends its wait with preciseSleep.
func (c *Conference) sleepUntil(timer *time.Timer, t time.Time) bool {
	precise := c.mix.Slots() >= parallelMin
	d := time.Until(t)
	if precise {
		d -= coarseSleep
	}
	if d > 0 {
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-c.e.done:
			return false
		}
	}
	if precise {
		sleepFor(time.Until(t))
	}
	return !c.e.stopped()
}

// abandon marks the goroutine gone when the engine stops; queued changes
// are dropped with it.
func (c *Conference) abandon() {
	c.mu.Lock()
	c.running = false
	c.pending = nil
	c.mu.Unlock()
}

// attach gives a new leg its mixer slot.
func (c *Conference) attach(l *Leg) {
	if l.removed.Load() {
		return
	}
	if l.spec.Codec.SampleRate > c.rate {
		c.setRate(l.spec.Codec.SampleRate)
	}
	slot, err := c.mix.Add()
	if err != nil {
		c.e.log.Error("avmcu: no mixer slot", "conference", c.id, "err", err)
		go l.Remove()
		return
	}
	for slot >= len(c.slots) {
		c.slots = append(c.slots, nil)
	}
	c.slots[slot], l.slot, l.attached = l, slot, true
	c.count[l.ci]++
	c.legs++
	if l.muted {
		_ = c.mix.SetMuted(slot, true)
	}
	l.rxMu.Lock()
	l.nextRTCP = time.Now().Add(l.rtpsess.ReportInterval())
	l.rxMu.Unlock()
	c.ensureScratch()
}

// detach frees a removed leg's slot, after an RTCP BYE.
func (c *Conference) detach(l *Leg) {
	if !l.attached {
		return
	}
	c.sendBye(l)
	_ = c.mix.Remove(l.slot)
	c.slots[l.slot] = nil
	l.attached = false
	c.count[l.ci]--
	c.legs--
	if c.rate > 8000 && c.count[idxG722] == 0 {
		c.setRate(8000)
	}
}

// setRate moves the conference to a new mixer rate: 16 kHz while a
// wideband leg is in, so that G.722 legs hear each other in wideband,
// and back to 8 kHz, which halves the mixing, when the last one leaves.
// Slots keep their numbers and mutes; the mixer's speaker and level
// history starts over.
func (c *Conference) setRate(rate int) {
	n := c.mix.Slots()
	m := c.newMixer(rate, max(n, 16))
	for range n {
		_, _ = m.Add()
	}
	for i := range n {
		switch l := c.slots[i]; {
		case l == nil:
			_ = m.Remove(i)
		case l.muted:
			_ = m.SetMuted(i, true)
		}
	}
	c.mix, c.rate = m, rate
	c.sharedDown.Reset()
	for _, l := range c.slots {
		if l != nil {
			l.inUp.Reset()
			l.outDown.Reset()
		}
	}
}

// ensureScratch sizes the goroutine's scratch for the conference.
func (c *Conference) ensureScratch() {
	want := min(workerBatch, max(4, c.legs))
	if c.scr == nil || len(c.scr.batch.msgs) < want {
		c.scr = newScratch(want, c.sockBase)
	}
}
