package server

import (
	"testing"
	"time"
)

func TestTxCacheStates(t *testing.T) {
	c := newTxCache(64, 32*time.Second)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if st, _ := c.begin(1, now); st != txNew {
		t.Fatalf("first begin = %v, want txNew", st)
	}
	if st, _ := c.begin(1, now); st != txPending {
		t.Fatalf("begin while pending = %v, want txPending", st)
	}
	c.finish(1, []byte("answer"))
	if st, res := c.begin(1, now.Add(31*time.Second)); st != txDone || string(res) != "answer" {
		t.Fatalf("begin after finish = %v %q, want txDone answer", st, res)
	}
	// After Timer J the transaction is over: the request is new again.
	if st, _ := c.begin(1, now.Add(32*time.Second)); st != txNew {
		t.Fatalf("begin after the TTL = %v, want txNew", st)
	}

	// forget drops a pending transaction but not an answered one.
	c.begin(2, now)
	c.forget(2)
	if st, _ := c.begin(2, now); st != txNew {
		t.Fatalf("begin after forget = %v, want txNew", st)
	}
	c.finish(2, []byte("x"))
	c.forget(2)
	if st, _ := c.begin(2, now); st != txDone {
		t.Fatalf("forget dropped an answered transaction: %v", st)
	}
	// finish of a dropped transaction keeps nothing.
	c.begin(3, now)
	c.forget(3)
	c.finish(3, []byte("late"))
	if st, _ := c.begin(3, now); st != txNew {
		t.Fatalf("finish revived a dropped transaction: %v", st)
	}
}

// TestTxCacheBounded checks that the cache holds at most its capacity,
// dropping the oldest transactions first, and that a key reused after its
// entry left is not dropped by the old entry's ring slot.
func TestTxCacheBounded(t *testing.T) {
	const capacity = 4 * txShards
	c := newTxCache(capacity, time.Hour)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Keys k*txShards all land in shard 0, which holds 4.
	for k := range uint64(6) {
		if st, _ := c.begin(k*txShards, now.Add(time.Duration(k))); st != txNew {
			t.Fatalf("key %d: %v", k, st)
		}
		c.finish(k*txShards, []byte{byte(k)})
	}
	if n := c.len(); n != 4 {
		t.Fatalf("len = %d, want 4", n)
	}
	// begin changes nothing for an answered transaction, so the newest
	// four can be checked first.
	for k := uint64(2); k < 6; k++ {
		if st, res := c.begin(k*txShards, now); st != txDone || res[0] != byte(k) {
			t.Errorf("key %d: %v %v, want txDone", k, st, res)
		}
	}
	if st, _ := c.begin(0, now); st != txNew {
		t.Errorf("the oldest key is still held: %v", st)
	}

	// Expired entries leave as new ones come, even below capacity.
	c = newTxCache(capacity, time.Second)
	c.begin(txShards, now)
	c.finish(txShards, []byte("old"))
	c.begin(2*txShards, now.Add(2*time.Second))
	if n := c.len(); n != 1 {
		t.Errorf("len = %d after the first entry expired, want 1", n)
	}
}

func BenchmarkTxCache(b *testing.B) {
	c := newTxCache(defaultCacheEntries, timerJ)
	now := time.Now()
	res := make([]byte, 600)
	var k uint64
	b.ReportAllocs()
	for b.Loop() {
		k += 0x9e3779b97f4a7c15
		c.begin(k, now)
		c.finish(k, res)
	}
}
