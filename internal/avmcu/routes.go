package avmcu

import (
	"encoding/binary"
	"net/netip"
	"sync"
)

// routeShards splits the demultiplexing table so that readers, which take
// a shard's read lock once per datagram, rarely meet a writer (AddLeg,
// Remove, UpdateRemote) on the same lock.
const routeShards = 64

// routes maps a remote transport address to its leg: the engine's
// demultiplexer, since every leg shares one local port (limits.md §4,
// the "shared" design). A copy-on-write map would cost O(legs) per
// AddLeg, O(legs²) to fill a large conference; shards with RW locks cost
// an uncontended read lock per datagram.
type routes struct {
	shards [routeShards]routeShard
}

type routeShard struct {
	mu sync.RWMutex
	m  map[netip.AddrPort]*Leg
	_  [32]byte // keep neighbouring locks off one cache line
}

func newRoutes() *routes {
	r := &routes{}
	for i := range r.shards {
		r.shards[i].m = make(map[netip.AddrPort]*Leg)
	}
	return r
}

// shard picks a shard by a cheap hash of the address and port: remotes
// behind one NAT differ in the port, phones on a LAN in the address.
func (r *routes) shard(a netip.AddrPort) *routeShard {
	b := a.Addr().As16()
	h := uint64(binary.LittleEndian.Uint32(b[12:]))<<16 | uint64(a.Port())
	h ^= binary.LittleEndian.Uint64(b[:8]) ^ uint64(binary.LittleEndian.Uint32(b[8:12]))<<40
	// The finalizer of SplitMix64: every input bit moves every output bit.
	h = (h ^ h>>30) * 0xBF58476D1CE4E5B9
	h = (h ^ h>>27) * 0x94D049BB133111EB
	h ^= h >> 31
	return &r.shards[h%routeShards]
}

// lookup returns the leg registered under a, or nil.
func (r *routes) lookup(a netip.AddrPort) *Leg {
	s := r.shard(a)
	s.mu.RLock()
	l := s.m[a]
	s.mu.RUnlock()
	return l
}

// add registers l under a unless another leg holds it.
func (r *routes) add(a netip.AddrPort, l *Leg) bool {
	s := r.shard(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.m[a]; ok && other != l {
		return false
	}
	s.m[a] = l
	return true
}

// remove unregisters a if l holds it.
func (r *routes) remove(a netip.AddrPort, l *Leg) {
	s := r.shard(a)
	s.mu.Lock()
	if s.m[a] == l {
		delete(s.m, a)
	}
	s.mu.Unlock()
}
