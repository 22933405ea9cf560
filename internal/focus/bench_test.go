package focus_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/focus"
)

// TestTCPParticipants: participants on TCP are answered, notified and
// sent BYE over the connection they came on.
func TestTCPParticipants(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(boss, bigKey)
	crowd := newPhoneT(t, h, "sip:p0@fabrikam.test", "TCP")
	c := crowd.join(anonConf)
	c.ok()
	s := crowd.subscribe(anonConf, msClient)
	if len(users(s.piggyDoc())) != 1 {
		t.Fatal("roster without the participant")
	}
	newPhone(h, "sip:p1@fabrikam.test").join(anonConf).ok()
	if n := s.nth(1); n.method != "BENOTIFY" || n.version != 2 {
		t.Errorf("got %s version %d", n.method, n.version)
	}
	if err := h.f().End(anonConf); err != nil {
		t.Fatal(err)
	}
	c.waitBye()
}

// BenchmarkJoinLeave1000 measures a meeting of 1,000 participants, each
// subscribed to the roster (BENOTIFY, over one TCP connection): one more
// participant joins and leaves again, and each time the benchmark waits
// until all 1,000 subscribers have the update. Reported: join-and-leave
// cycles per second and the time from the join's INVITE until the last
// subscriber got its notification (p50, p99; target p99 < 50 ms).
func BenchmarkJoinLeave1000(b *testing.B) {
	const n = 1000
	h := newHarness(b, func(cfg *focus.Config) {
		cfg.SubscriberQueue = 256
		cfg.SaveDelay = 200 * time.Millisecond // the default, not the tests' 1 ms
	})
	big := conf(boss, bigKey)
	crowd := newCrowd(b, h)
	start := time.Now()
	for i := range n {
		crowd.as(fmt.Sprintf("sip:p%d@fabrikam.test", i)).join(big).ok()
	}
	joined := time.Since(start)
	start = time.Now()
	for i := range n {
		s := crowd.as(fmt.Sprintf("sip:p%d@fabrikam.test", i)).subscribe(big, msClient)
		if s.res.StatusCode != 200 {
			b.Fatalf("SUBSCRIBE %d: %d", i, s.res.StatusCode)
		}
	}
	subscribed := time.Since(start)
	b.Logf("setup: %d joins in %v, %d subscriptions (full roster each) in %v", n, joined, n, subscribed)

	guest := newPhone(h, "sip:guest@fabrikam.test")
	var lat []time.Duration
	await := func(goal int64) {
		select {
		case <-crowd.counted:
		case <-time.After(wait):
			b.Fatalf("%d of %d notifications arrived", crowd.count.Load(), goal)
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		goal := crowd.count.Load() + n
		crowd.countGoal.Store(goal)
		start := time.Now()
		c := guest.join(big)
		await(goal)
		lat = append(lat, time.Since(start))
		c.ok()

		goal = crowd.count.Load() + n
		crowd.countGoal.Store(goal)
		c.bye()
		await(goal)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(2*b.N)/elapsed.Seconds(), "joins+leaves/s")
	b.ReportMetric(q(0.5), "fanout-p50-ms")
	b.ReportMetric(q(0.99), "fanout-p99-ms")
}
