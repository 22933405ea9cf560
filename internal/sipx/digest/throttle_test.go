package digest

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleWindow(t *testing.T) {
	th := newThrottle(3, time.Minute, 100)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if b, _ := th.blocked("k", now); b {
			t.Fatalf("blocked after %d failures", i)
		}
		th.fail("k", now)
		now = now.Add(10 * time.Second)
	}
	b, wait := th.blocked("k", now)
	if !b || wait != 30*time.Second {
		t.Fatalf("blocked = %v, %v; want true, 30s", b, wait)
	}
	if b, _ := th.blocked("other", now); b {
		t.Error("an unrelated key is blocked")
	}
	now = now.Add(30 * time.Second)
	if b, _ := th.blocked("k", now); b {
		t.Error("still blocked after the window")
	}
}

func TestThrottleBounded(t *testing.T) {
	th := newThrottle(3, time.Minute, 50)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		th.fail(fmt.Sprintf("k%d", i), now)
		now = now.Add(time.Millisecond)
	}
	if n := th.len(); n > 50 {
		t.Errorf("throttle tracks %d keys, bound is 50", n)
	}
}
