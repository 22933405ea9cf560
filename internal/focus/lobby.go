package focus

import (
	"context"
	"fmt"
	"sync"
)

// The lobby is where the Conferencing Attendant keeps an anonymous caller
// on hold (seed 001 step 10: "If an enterprise user has not yet entered the
// meeting and the caller is joining the meeting as an anonymous attendee,
// the Conferencing Attendant Service plays its on-hold music to the caller
// until an enterprise user joins the conference"). The caller is not in
// the meeting while he waits, so the meeting need not be active: the
// lobby is keyed by focus URI and outlives conferences.

// lobby tracks which meetings have an authenticated enterprise user, and
// who waits for one. It is the only Focus state shared across
// conferences' goroutines besides the registries, so it has its own lock.
type lobby struct {
	mu      sync.Mutex
	present map[string]bool            // focus URI -> an enterprise user is in
	waiters map[string][]chan struct{} // focus URI -> held callers
}

// set records whether conf has an enterprise user and, when it has, wakes
// whoever waits for one.
func (l *lobby) set(conf string, present bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !present {
		delete(l.present, conf)
		return
	}
	if l.present == nil {
		l.present = make(map[string]bool)
	}
	l.present[conf] = true
	for _, ch := range l.waiters[conf] {
		close(ch)
	}
	delete(l.waiters, conf)
}

// wait returns a channel closed once conf has an enterprise user (at once
// if it has one), and a function that gives up the wait.
func (l *lobby) wait(conf string) (<-chan struct{}, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if l.present[conf] {
		close(ch)
		return ch, func() {}
	}
	if l.waiters == nil {
		l.waiters = make(map[string][]chan struct{})
	}
	l.waiters[conf] = append(l.waiters[conf], ch)
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.waiters[conf]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(l.waiters, conf)
		} else {
			l.waiters[conf] = ws
		}
	}
}

// WaitEnterprise returns once the meeting named by focusURI has an
// authenticated enterprise user in it, or with ctx's error. The
// Conferencing Attendant holds anonymous callers on it before it adds
// them (AddDialInUser). A meeting that is not active waits like an empty
// one: the first enterprise user to join activates it.
func (f *Focus) WaitEnterprise(ctx context.Context, focusURI string) error {
	conf, _, _, ok := f.conferenceOf(focusURI)
	if !ok {
		return fmt.Errorf("%w: %q is not a focus URI", ErrInvalid, focusURI)
	}
	ch, cancel := f.lobby.wait(conf)
	defer cancel()
	// Presence wins over a ctx that is already done: the attendant asks
	// with one to learn whether it must hold the caller at all.
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
