package digest

import (
	"sync"
	"time"
)

// throttle counts authentication failures per key (a username or a source
// address) in fixed windows: once a key has failed limit times within a
// window it is refused until the window ends. Password guessing is slowed to
// limit tries per window per user and per source, whichever bites first.
//
// The table is bounded: when it is full, windows that have ended are swept
// out (at most a few times per window, so a flood of new keys does not make
// every insert scan the table), and if it is still full an arbitrary entry is
// forgotten. A flood of more than maxKeys distinct keys within one window can
// therefore reset some counters; each such key still gets at most limit tries
// before it is counted again.
type throttle struct {
	mu        sync.Mutex
	limit     int
	window    time.Duration
	maxKeys   int
	keys      map[string]*failWindow
	lastSweep time.Time
}

type failWindow struct {
	start    time.Time
	failures int
}

func newThrottle(limit int, window time.Duration, maxKeys int) *throttle {
	return &throttle{limit: limit, window: window, maxKeys: maxKeys, keys: make(map[string]*failWindow)}
}

// blocked reports whether key is refused at now, and for how much longer.
func (t *throttle) blocked(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.keys[key]
	if !ok {
		return false, 0
	}
	end := w.start.Add(t.window)
	if !now.Before(end) {
		delete(t.keys, key)
		return false, 0
	}
	return w.failures >= t.limit, end.Sub(now)
}

// fail counts one failure of key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.keys[key]
	if ok && now.Before(w.start.Add(t.window)) {
		w.failures++
		return
	}
	if !ok && len(t.keys) >= t.maxKeys {
		t.makeRoom(now)
	}
	t.keys[key] = &failWindow{start: now, failures: 1}
}

func (t *throttle) makeRoom(now time.Time) {
	if now.Sub(t.lastSweep) >= t.window/4 {
		t.lastSweep = now
		for k, w := range t.keys {
			if !now.Before(w.start.Add(t.window)) {
				delete(t.keys, k)
			}
		}
	}
	for k := range t.keys {
		if len(t.keys) < t.maxKeys {
			break
		}
		delete(t.keys, k)
	}
}

// len returns the number of tracked keys, for tests.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}
