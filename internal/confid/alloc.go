package confid

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// DefaultLoadFactor is the share of a width's local portions that may be in
// use before the allocator moves to the next width. At one half, a random
// probe finds a free slot with probability at least ½, so picking costs two
// probes on average, and a guessed local portion of the current width
// names a meeting at most half the time, before the passcode or PIN is even
// asked for.
const DefaultLoadFactor = 0.5

// maxProbes bounds the random probes at one width before Pick falls back to
// a scan. Below the load factor the chance that all of them hit used slots
// is at most LoadFactor^maxProbes (2^-32 at the default).
const maxProbes = 32

var (
	// ErrExhausted reports that no width up to the allocator's maximum has
	// room below the load factor.
	ErrExhausted = errors.New("confid: no free conference IDs")
	// ErrAllocator reports invalid Allocator settings.
	ErrAllocator = errors.New("confid: invalid allocator settings")
)

// Slot names one local portion of a pool. The same number at two widths is
// two slots: its plaintexts differ in length, so its printed IDs differ.
type Slot struct {
	Width int
	Local uint64
}

// Usage tells the allocator which slots of one pool are taken: those of
// unexpired meetings and the users' assigned ("My Meeting") conference IDs.
// Slots of expired, deleted or moved meetings are free again (seed 000:
// conference IDs may be reused; meeting IDs never are).
type Usage interface {
	// InUse reports whether s is taken.
	InUse(s Slot) bool
	// Count returns how many slots of the given width are taken.
	Count(width int) int
}

// SlotSet is a Usage held in memory. The zero value is not usable; call
// NewSlotSet.
type SlotSet struct {
	slots  map[Slot]struct{}
	counts map[int]int
}

// NewSlotSet returns a set holding slots (duplicates count once).
func NewSlotSet(slots ...Slot) *SlotSet {
	s := &SlotSet{slots: make(map[Slot]struct{}, len(slots)), counts: make(map[int]int)}
	for _, sl := range slots {
		s.Add(sl)
	}
	return s
}

// Add marks sl as taken and reports whether it was free.
func (s *SlotSet) Add(sl Slot) bool {
	if _, ok := s.slots[sl]; ok {
		return false
	}
	s.slots[sl] = struct{}{}
	s.counts[sl.Width]++
	return true
}

// Remove frees sl and reports whether it was taken.
func (s *SlotSet) Remove(sl Slot) bool {
	if _, ok := s.slots[sl]; !ok {
		return false
	}
	delete(s.slots, sl)
	s.counts[sl.Width]--
	return true
}

// InUse implements Usage.
func (s *SlotSet) InUse(sl Slot) bool {
	_, ok := s.slots[sl]
	return ok
}

// Count implements Usage.
func (s *SlotSet) Count(width int) int { return s.counts[width] }

// Len returns the number of slots taken.
func (s *SlotSet) Len() int { return len(s.slots) }

// Rand is a source of uniformly distributed numbers; *math/rand/v2.Rand
// satisfies it, and CryptoRand draws from the operating system.
type Rand interface {
	// Uint64N returns a number in [0, n); n > 0.
	Uint64N(n uint64) uint64
}

// CryptoRand is a Rand reading crypto/rand.
type CryptoRand struct{}

// Uint64N implements Rand. It rejects the 2^64 mod n lowest draws so that
// every result is equally likely.
func (CryptoRand) Uint64N(n uint64) uint64 {
	if n == 0 {
		panic("confid: CryptoRand.Uint64N(0)")
	}
	threshold := -n % n // 2^64 mod n
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24)
		if x := binary.LittleEndian.Uint64(b[:]); x >= threshold {
			return x % n
		}
	}
}

// Allocator picks the local portion of a new conference ID for a pool. The
// zero value uses the defaults.
//
// The ID length grows only when the pool needs it (seed 000): Pick uses the
// narrowest width whose share of slots in use stays within LoadFactor, and
// within that width picks at random rather than in sequence, so that the
// slots in use do not crowd the low numbers.
type Allocator struct {
	// MinWidth is the narrowest width to use; 0 or anything below
	// MinWidth(len(poolID)) means MinWidth(len(poolID)).
	MinWidth int
	// MaxWidth is the widest width to use; 0 means MaxWidth.
	MaxWidth int
	// LoadFactor is the share of a width's slots that may be taken, in
	// (0, 1]; 0 means DefaultLoadFactor.
	LoadFactor float64
}

// Pick returns a free slot of the pool poolID, given the slots in use,
// drawing from r. The caller must record the slot as taken before it picks
// again: Pick itself changes nothing.
func (a Allocator) Pick(poolID string, used Usage, r Rand) (Slot, error) {
	if err := checkPoolID(poolID); err != nil {
		return Slot{}, err
	}
	lo, hi, lf := max(a.MinWidth, MinWidth(len(poolID))), a.MaxWidth, a.LoadFactor
	if hi == 0 {
		hi = MaxWidth
	}
	if lf == 0 {
		lf = DefaultLoadFactor
	}
	if hi > MaxWidth || lo > hi {
		return Slot{}, fmt.Errorf("%w: widths [%d, %d] not within [%d, %d]",
			ErrAllocator, lo, hi, MinWidth(len(poolID)), MaxWidth)
	}
	if !(lf > 0 && lf <= 1) {
		return Slot{}, fmt.Errorf("%w: load factor %v not in (0, 1]", ErrAllocator, lf)
	}
	for w := lo; w <= hi; w++ {
		limit := uint64(lf * float64(pow10[w])) // float64(10^w) is exact: 5^w < 2^53
		n := used.Count(w)
		if n < 0 || uint64(n) >= limit {
			continue
		}
		return pickAt(w, uint64(n), used, r)
	}
	return Slot{}, fmt.Errorf("%w: pool %s is full up to width %d", ErrExhausted, poolID, hi)
}

// pickAt picks a free slot of width w, where n slots are taken and at least
// one is free.
func pickAt(w int, n uint64, used Usage, r Rand) (Slot, error) {
	size := pow10[w]
	for range maxProbes {
		if s := (Slot{Width: w, Local: r.Uint64N(size)}); !used.InUse(s) {
			return s, nil
		}
	}
	// The probes were unlucky (or r is not random): walk on from a random
	// start. Each step that fails lands on one of the n taken slots, so a
	// free one turns up within n+1 steps.
	start := r.Uint64N(size)
	for i := uint64(0); i <= n && i < size; i++ {
		if s := (Slot{Width: w, Local: (start + i) % size}); !used.InUse(s) {
			return s, nil
		}
	}
	return Slot{}, fmt.Errorf("confid: Usage.Count(%d) = %d, but more slots of that width are in use", w, n)
}
