package attendant

import (
	"sync"
	"time"
)

// Defaults of GuardConfig. A caller who mistypes makes a few errors a call;
// ten wrong answers in ten minutes from one number is somebody trying
// conference IDs or passcodes, and twenty is a script.
const (
	DefaultGuardWindow = 10 * time.Minute
	DefaultCallerSlow  = 10
	DefaultCallerLimit = 20
	DefaultNumberSlow  = 50
	DefaultNumberLimit = 200
	DefaultGlobalSlow  = 200
	DefaultGlobalLimit = 1000
	DefaultTarpit      = time.Second
	DefaultMaxTarpit   = 16 * time.Second
	DefaultGuardKeys   = 10000
)

// Limits are the thresholds of one scope within the window: from Slow
// wrong answers on, each further answer waits longer before the caller
// hears it; at HangUp the call ends at once.
type Limits struct {
	Slow, HangUp int
}

// GuardConfig tunes the Guard; zero fields take the defaults.
type GuardConfig struct {
	// Window is how far back wrong answers count.
	Window time.Duration
	// PerCaller counts by caller ID (calls without one are not counted
	// here), PerNumber by access number, Global all calls together.
	PerCaller, PerNumber, Global Limits
	// Tarpit is the delay at the Slow threshold; it doubles with each
	// further wrong answer up to MaxTarpit.
	Tarpit, MaxTarpit time.Duration
	// MaxKeys bounds the caller IDs (and, separately, the access numbers)
	// remembered; the least recently wrong is forgotten first.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c GuardConfig) withDefaults() GuardConfig {
	lim := func(l *Limits, slow, hang int) {
		if l.Slow <= 0 {
			l.Slow = slow
		}
		if l.HangUp <= 0 {
			l.HangUp = hang
		}
	}
	lim(&c.PerCaller, DefaultCallerSlow, DefaultCallerLimit)
	lim(&c.PerNumber, DefaultNumberSlow, DefaultNumberLimit)
	lim(&c.Global, DefaultGlobalSlow, DefaultGlobalLimit)
	if c.Window <= 0 {
		c.Window = DefaultGuardWindow
	}
	if c.Tarpit <= 0 {
		c.Tarpit = DefaultTarpit
	}
	if c.MaxTarpit <= 0 {
		c.MaxTarpit = DefaultMaxTarpit
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = DefaultGuardKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Scopes of a Verdict.
const (
	ScopeCaller = "caller"
	ScopeNumber = "access_number"
	ScopeGlobal = "global"
)

// Verdict is what the Guard makes of a wrong answer.
type Verdict struct {
	// Delay is how long to hold the answer back (the tarpit); 0 for none.
	Delay time.Duration
	// HangUp ends the call.
	HangUp bool
	// Scope is the counter that decided ("" when none did), Count its
	// wrong answers in the window.
	Scope string
	Count int
}

// Guard throttles the guessing of conference IDs, passcodes and PINs. It
// counts wrong answers in a sliding window by caller ID, by access number
// and over all calls: one caller redialling cannot escape the first
// counter, one spoofing many caller IDs not the other two. It is safe for
// concurrent use.
type Guard struct {
	cfg GuardConfig

	mu      sync.Mutex
	callers *bounded[string, *window]
	numbers *bounded[string, *window]
	global  *window
}

// NewGuard returns a Guard with cfg's thresholds.
func NewGuard(cfg GuardConfig) *Guard {
	cfg = cfg.withDefaults()
	return &Guard{
		cfg:     cfg,
		callers: newBounded[string, *window](cfg.MaxKeys),
		numbers: newBounded[string, *window](cfg.MaxKeys),
		global:  newWindow(cfg.Global.HangUp),
	}
}

// Failure records one wrong answer on a call from callerID ("" when
// withheld) to accessNumber and returns what the call must do. The
// strictest scope decides.
func (g *Guard) Failure(callerID, accessNumber string) Verdict {
	now := g.cfg.Now().UnixNano()
	since := now - int64(g.cfg.Window)
	g.mu.Lock()
	defer g.mu.Unlock()
	var v Verdict
	judge := func(scope string, w *window, l Limits) {
		n := w.add(now, since)
		switch {
		case n >= l.HangUp:
			if !v.HangUp {
				v = Verdict{HangUp: true, Scope: scope, Count: n}
			}
		case n >= l.Slow && !v.HangUp:
			if d := g.tarpit(n - l.Slow); d > v.Delay {
				v = Verdict{Delay: d, Scope: scope, Count: n}
			}
		}
	}
	if callerID != "" {
		judge(ScopeCaller, g.callers.touch(callerID, func() *window { return newWindow(g.cfg.PerCaller.HangUp) }), g.cfg.PerCaller)
	}
	judge(ScopeNumber, g.numbers.touch(accessNumber, func() *window { return newWindow(g.cfg.PerNumber.HangUp) }), g.cfg.PerNumber)
	judge(ScopeGlobal, g.global, g.cfg.Global)
	return v
}

// tarpit is the delay over excess answers past the Slow threshold.
func (g *Guard) tarpit(excess int) time.Duration {
	d := g.cfg.Tarpit
	for range excess {
		if d >= g.cfg.MaxTarpit {
			break
		}
		d *= 2
	}
	return min(d, g.cfg.MaxTarpit)
}

// window holds the times of the last wrong answers, at most as many as
// the scope's hang-up threshold: more would change no verdict.
type window struct {
	at   []int64 // ring of UnixNano times, oldest at next when full
	next int
}

func newWindow(n int) *window { return &window{at: make([]int64, 0, n)} }

// add records a wrong answer at now and returns how many fall after since.
func (w *window) add(now, since int64) int {
	if len(w.at) < cap(w.at) {
		w.at = append(w.at, now)
	} else {
		w.at[w.next] = now
		w.next = (w.next + 1) % len(w.at)
	}
	n := 0
	for _, t := range w.at {
		if t > since {
			n++
		}
	}
	return n
}
