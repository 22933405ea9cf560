package confid

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAllocatorGrowth fills a pool with a 2-digit ID: its first 500
// meetings (half of width 3) get 7-digit IDs, the next ones 8 digits, and a
// freed narrow slot is used again before the wide ones.
func TestAllocatorGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	used := NewSlotSet()
	var a Allocator
	widths := map[int]int{}
	for i := range 600 {
		s, err := a.Pick("42", used, rng)
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		if !used.Add(s) {
			t.Fatalf("pick %d: %+v is already in use", i, s)
		}
		if s.Local >= pow10[s.Width] {
			t.Fatalf("pick %d: %+v does not fit its width", i, s)
		}
		widths[s.Width]++
		if want := 3 + i/500; s.Width != want {
			t.Fatalf("pick %d: width %d, want %d", i, s.Width, want)
		}
	}
	if widths[3] != 500 || widths[4] != 100 {
		t.Errorf("widths used = %v, want 500 of width 3 and 100 of width 4", widths)
	}

	// A meeting of width 3 expires: the next ID is narrow again.
	var freed Slot
	for s := range used.slots {
		if s.Width == 3 {
			freed = s
			break
		}
	}
	used.Remove(freed)
	s, err := a.Pick("42", used, rng)
	if err != nil {
		t.Fatal(err)
	}
	if s.Width != 3 {
		t.Errorf("after freeing a width-3 slot, Pick = %+v; want width 3", s)
	}
}

// TestAllocatorRandom checks that picks are spread over the width rather
// than handed out in order.
func TestAllocatorRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	used := NewSlotSet()
	var a Allocator
	var prev uint64
	ascending := 0
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for i := range 100 {
		s, err := a.Pick("42", used, rng)
		if err != nil {
			t.Fatal(err)
		}
		used.Add(s)
		if i > 0 && s.Local == prev+1 {
			ascending++
		}
		prev = s.Local
		lo, hi = min(lo, s.Local), max(hi, s.Local)
	}
	if ascending > 3 || lo > 100 || hi < 900 {
		t.Errorf("100 picks in [0, 1000): %d follow their predecessor, range [%d, %d]; want spread out", ascending, lo, hi)
	}
}

func TestAllocatorSettings(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	empty := NewSlotSet()
	tests := []struct {
		name      string
		a         Allocator
		pool      string
		wantWidth int
	}{
		{"default 2-digit pool", Allocator{}, "42", 3},
		{"default 3-digit pool", Allocator{}, "420", 2},
		{"default 6-digit pool", Allocator{}, "123456", 1},
		{"floor", Allocator{MinWidth: 5}, "42", 5},
		{"floor below the codec's", Allocator{MinWidth: 1}, "42", 3},
		{"fixed width", Allocator{MinWidth: 6, MaxWidth: 6}, "42", 6},
	}
	for _, tt := range tests {
		s, err := tt.a.Pick(tt.pool, empty, rng)
		if err != nil || s.Width != tt.wantWidth {
			t.Errorf("%s: Pick = %+v, %v; want width %d", tt.name, s, err, tt.wantWidth)
		}
	}

	bad := []struct {
		name string
		a    Allocator
		pool string
		err  error
	}{
		{"short pool ID", Allocator{}, "4", ErrPoolID},
		{"non-digit pool ID", Allocator{}, "4x", ErrPoolID},
		{"max above format", Allocator{MaxWidth: MaxWidth + 1}, "42", ErrAllocator},
		{"min above max", Allocator{MinWidth: 6, MaxWidth: 5}, "42", ErrAllocator},
		{"max below codec min", Allocator{MaxWidth: 2}, "42", ErrAllocator},
		{"load factor above 1", Allocator{LoadFactor: 1.5}, "42", ErrAllocator},
		{"negative load factor", Allocator{LoadFactor: -0.5}, "42", ErrAllocator},
		{"NaN load factor", Allocator{LoadFactor: math.NaN()}, "42", ErrAllocator},
	}
	for _, tt := range bad {
		if s, err := tt.a.Pick(tt.pool, empty, rng); !errors.Is(err, tt.err) {
			t.Errorf("%s: Pick = %+v, %v; want %v", tt.name, s, err, tt.err)
		}
	}
}

func TestAllocatorExhausted(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	used := NewSlotSet()
	a := Allocator{MaxWidth: 1, LoadFactor: 1}
	for i := range 10 {
		s, err := a.Pick("1234", used, rng)
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		used.Add(s)
	}
	if s, err := a.Pick("1234", used, rng); !errors.Is(err, ErrExhausted) {
		t.Errorf("Pick on a full pool = %+v, %v; want %v", s, err, ErrExhausted)
	}
	if used.Len() != 10 {
		t.Errorf("Len() = %d, want 10", used.Len())
	}
}

// fixedRand is a Rand that always returns the same number: the worst case
// for probing.
type fixedRand uint64

func (r fixedRand) Uint64N(n uint64) uint64 { return uint64(r) % n }

// TestAllocatorScan shows that a bad random source slows Pick down but
// cannot make it fail while a free slot exists.
func TestAllocatorScan(t *testing.T) {
	used := NewSlotSet()
	a := Allocator{LoadFactor: 1}
	for i := range 1000 {
		s, err := a.Pick("42", used, fixedRand(998))
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		if want := (Slot{Width: 3, Local: uint64(998+i) % 1000}); s != want {
			t.Fatalf("pick %d = %+v, want %+v", i, s, want)
		}
		used.Add(s)
	}
}

// lyingUsage claims nothing is in use but rejects every slot.
type lyingUsage struct{}

func (lyingUsage) InUse(Slot) bool { return true }
func (lyingUsage) Count(int) int   { return 0 }

func TestAllocatorInconsistentUsage(t *testing.T) {
	s, err := Allocator{}.Pick("42", lyingUsage{}, rand.New(rand.NewPCG(1, 1)))
	if err == nil || errors.Is(err, ErrExhausted) {
		t.Errorf("Pick = %+v, %v; want an error naming the inconsistent count", s, err)
	}
}

func TestSlotSet(t *testing.T) {
	s := NewSlotSet(Slot{3, 1}, Slot{3, 1}, Slot{4, 1})
	if s.Len() != 2 || s.Count(3) != 1 || s.Count(4) != 1 {
		t.Fatalf("NewSlotSet with a duplicate: Len %d, Count(3) %d, Count(4) %d; want 2, 1, 1",
			s.Len(), s.Count(3), s.Count(4))
	}
	if s.Add(Slot{3, 1}) || !s.Add(Slot{3, 2}) || s.Count(3) != 2 {
		t.Errorf("Add: duplicate accepted or new slot refused; Count(3) = %d", s.Count(3))
	}
	if !s.Remove(Slot{3, 1}) || s.Remove(Slot{3, 1}) || s.Count(3) != 1 || s.InUse(Slot{3, 1}) {
		t.Errorf("Remove: Count(3) = %d, InUse = %v", s.Count(3), s.InUse(Slot{3, 1}))
	}
}

func TestCryptoRand(t *testing.T) {
	var r CryptoRand
	for _, n := range []uint64{1, 2, 10, 1000, 1 << 63, 1<<63 + 1, math.MaxUint64} {
		for range 100 {
			if v := r.Uint64N(n); v >= n {
				t.Fatalf("Uint64N(%d) = %d", n, v)
			}
		}
	}
	var counts [10]int
	for range 10_000 {
		counts[r.Uint64N(10)]++
	}
	for d, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("Uint64N(10) gave %d %d times in 10000, want about 1000", d, c)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Uint64N(0) did not panic")
		}
	}()
	r.Uint64N(0)
}

func BenchmarkPick(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	used := NewSlotSet()
	var a Allocator
	for range 499 { // width 3 just below the load factor: the slowest probing
		s, err := a.Pick("42", used, rng)
		if err != nil {
			b.Fatal(err)
		}
		used.Add(s)
	}
	for b.Loop() {
		if _, err := a.Pick("42", used, rng); err != nil {
			b.Fatal(err)
		}
	}
}
