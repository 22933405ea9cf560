package attendant

import (
	"sync"
	"time"
)

// DefaultRejoinWindow is how long after a hand-off a caller calling again
// from the same number is offered his meeting back: long enough to redial
// after a dropped call, short enough that the meeting is most likely on.
const DefaultRejoinWindow = 3 * time.Minute

// maxRecent bounds the callers remembered for a re-join.
const maxRecent = 10000

// rejoins remembers, by caller ID, the meeting each caller was last handed
// to. A caller ID can be spoofed, so a re-join only skips what the caller
// already proved within the window (the conference ID and passcode); it
// never restores a leader's or a user's identity.
type rejoins struct {
	window time.Duration
	now    func() time.Time

	mu sync.Mutex
	m  *bounded[string, recentCall]
}

type recentCall struct {
	Recent
	at time.Time
}

func newRejoins(window time.Duration, now func() time.Time) *rejoins {
	return &rejoins{window: window, now: now, m: newBounded[string, recentCall](maxRecent)}
}

// remember records that callerID was handed to r's meeting now. Withheld
// numbers are not remembered: anybody could be behind them.
func (j *rejoins) remember(callerID string, r Recent) {
	if callerID == "" {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m.put(callerID, recentCall{Recent: r, at: j.now()})
}

// lookup returns the meeting callerID was handed to within the window, or
// nil.
func (j *rejoins) lookup(callerID string) *Recent {
	if callerID == "" {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	rc, ok := j.m.get(callerID)
	if !ok || j.now().Sub(rc.at) > j.window {
		return nil
	}
	r := rc.Recent
	return &r
}
