package server

import (
	"hash/maphash"
	"sync"
	"time"
)

// txCache gives REGISTERs answered without a server transaction the
// behaviour RFC 3261 §17.2.2 asks of one, at a fraction of the cost: while
// a request is queued or being handled its retransmissions are dropped
// (the Trying state), and once it is answered a retransmission gets the
// very same response again (the Completed state) without running the
// registrar a second time.
//
// A server transaction lives for Timer J, 64*T1 = 32 s on UDP; at 20,000
// REGISTERs a second keeping every response that long would take hundreds
// of megabytes. The cache therefore keeps at most maxEntries, the oldest
// leaving first, and a response for at most ttl. At high rates it covers
// the first retransmissions (T1 = 500 ms after the request), which are
// the ones a lost response causes; a later retransmission whose entry has
// gone is handled as a new request, which the registrar recognises as a
// retransmission of the request that wrote the binding and answers
// without changing anything (registrar.Register).
type txCache struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [txShards]txShard
}

const txShards = 16

// txState is what the cache knows of a transaction.
type txState uint8

const (
	txNew     txState = iota // not seen: the caller now owns it
	txPending                // queued or being handled
	txDone                   // answered; the response is returned
)

type txShard struct {
	mu      sync.Mutex
	entries map[uint64]txEntry
	// ring holds the keys in insertion order; it is what bounds the
	// shard, so its length is the shard's capacity.
	ring       []ringItem
	head, size int
}

type txEntry struct {
	res  []byte // the final response; nil while pending
	born int64  // when the entry was made, UnixNano; tells generations apart
	done bool
}

type ringItem struct {
	key  uint64
	born int64
}

// newTxCache returns a cache of at most maxEntries transactions, each
// answered one kept for at most ttl.
func newTxCache(maxEntries int, ttl time.Duration) *txCache {
	c := &txCache{seed: maphash.MakeSeed(), ttl: ttl}
	per := max(1, maxEntries/txShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]txEntry, per)
		c.shards[i].ring = make([]ringItem, per)
	}
	return c
}

// key identifies the transaction of a sniffed request: RFC 3261 §17.2.3
// matches on the branch and sent-by of the top Via (and the method, here
// always REGISTER); the Call-ID, CSeq and From tag are added so that
// requests of RFC 2543 clients, whose branches need not be unique, are
// told apart as well.
func (c *txCache) key(b []byte, s *sniffed) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.Write(s.topVia.branch.of(b))
	h.WriteByte(0)
	h.Write(s.topVia.host.of(b))
	h.WriteByte(byte(s.topVia.port >> 8))
	h.WriteByte(byte(s.topVia.port))
	h.Write(s.callID.of(b))
	h.WriteByte(0)
	h.WriteByte(byte(s.cseq >> 24))
	h.WriteByte(byte(s.cseq >> 16))
	h.WriteByte(byte(s.cseq >> 8))
	h.WriteByte(byte(s.cseq))
	h.Write(s.fromTag.of(b))
	return h.Sum64()
}

func (c *txCache) shard(key uint64) *txShard {
	return &c.shards[key%txShards]
}

// begin looks a transaction up. For a new one it records it as pending and
// returns txNew: the caller must then call finish or forget. For an
// answered one it returns the response, which the caller must not modify.
func (c *txCache) begin(key uint64, now time.Time) (txState, []byte) {
	sh := c.shard(key)
	ts := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok {
		switch {
		case !e.done:
			return txPending, nil
		case ts-e.born < int64(c.ttl):
			return txDone, e.res
		}
	}
	sh.push(key, ts, c.ttl)
	sh.entries[key] = txEntry{born: ts}
	return txNew, nil
}

// finish records the final response of a pending transaction. res is kept
// and must not be modified afterwards. A transaction the cache dropped in
// the meantime stays dropped.
func (c *txCache) finish(key uint64, res []byte) {
	sh := c.shard(key)
	sh.mu.Lock()
	if e, ok := sh.entries[key]; ok && !e.done {
		e.res, e.done = res, true
		sh.entries[key] = e
	}
	sh.mu.Unlock()
}

// forget drops a pending transaction, so that a retransmission is handled
// as a new request: for one refused with 503, which is not worth keeping.
func (c *txCache) forget(key uint64) {
	sh := c.shard(key)
	sh.mu.Lock()
	if e, ok := sh.entries[key]; ok && !e.done {
		delete(sh.entries, key)
	}
	sh.mu.Unlock()
}

// len returns the number of transactions held.
func (c *txCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// push appends key to the ring, first removing entries that are too old
// and, when the ring is full, the oldest one. sh.mu is held.
func (sh *txShard) push(key uint64, ts int64, ttl time.Duration) {
	for sh.size > 0 {
		it := sh.ring[sh.head]
		if sh.size < len(sh.ring) && ts-it.born < int64(ttl) {
			break
		}
		// An entry is removed only if it is the one this ring item
		// recorded, not a later transaction under the same key.
		if e, ok := sh.entries[it.key]; ok && e.born == it.born {
			delete(sh.entries, it.key)
		}
		sh.head = (sh.head + 1) % len(sh.ring)
		sh.size--
	}
	sh.ring[(sh.head+sh.size)%len(sh.ring)] = ringItem{key: key, born: ts}
	sh.size++
}
