package avmcu

import (
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
	h := uint32(a.Port()) * 0x9E3779B1
	for _, x := range b[12:] {
		h = (h ^ uint32(x)) * 0x01000193
	}
	return &r.shards[(h>>16)%routeShards]
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

// holder returns who holds a, for conflict checks.
func (r *routes) holder(a netip.AddrPort) *Leg { return r.lookup(a) }
