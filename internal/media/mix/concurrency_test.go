package mix

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// workerTick runs one tick the way the MCU does: phase 1 on
// w goroutines over disjoint slot ranges, each with its own accumulator;
// Mix alone; phase 3 on w goroutines reading every slot's output and status.
func workerTick(t *testing.T, m *Mixer, accs []*Accumulator, frames [][]int16) (kinds []Kind, outs [][]int16, sts []Status) {
	t.Helper()
	w := len(accs)
	n := m.Slots()
	var wg sync.WaitGroup
	errs := make([]error, w)
	for k := range w {
		lo, hi := k*n/w, (k+1)*n/w
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				if frames[i] != nil {
					if err := m.Put(i, frames[i]); err != nil {
						errs[k] = err
						return
					}
				}
			}
			errs[k] = m.AccumulateRange(lo, hi, accs[k])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m.Mix(accs...)
	kinds, outs, sts = make([]Kind, n), make([][]int16, n), make([]Status, n)
	for k := range w {
		wg.Go(func() {
			dst := make([]int16, m.FrameSamples())
			for i := k; i < n; i += w { // interleaved, to cross the ranges
				kind, out, err := m.Output(i, dst)
				if err != nil {
					errs[k] = err
					return
				}
				kinds[i], outs[i] = kind, slices.Clone(out)
				if sts[i], err = m.Status(i); err != nil {
					errs[k] = err
					return
				}
				_ = m.Shared()
				_ = m.Silent()
				_ = m.Speakers(nil)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return kinds, outs, sts
}

// TestWorkersMatchTick: two and three workers give, tick after tick, exactly
// what one goroutine gives with Tick. Run with -race to check the phases
// share no unsynchronised state.
func TestWorkersMatchTick(t *testing.T) {
	const n = 61
	for _, cfg := range []Config{
		{SampleRate: 8000, Speakers: AllSpeakers, AGC: true},
		{SampleRate: 16000},
		{SampleRate: 8000, Speakers: 5, AGC: true, Hold: 100 * time.Millisecond},
	} {
		for _, w := range []int{2, 3} {
			serial := newMixer(t, cfg, n)
			parallel := newMixer(t, cfg, n)
			accs := make([]*Accumulator, w)
			for i := range accs {
				accs[i] = new(Accumulator)
			}
			rng := rand.New(rand.NewPCG(1, uint64(w)))
			fs := FrameSamples(cfg.SampleRate)
			for tick := range 40 {
				// Between ticks: mute or unmute someone, drop and re-add
				// someone, on both mixers alike.
				if tick%7 == 3 {
					i := rng.IntN(n)
					muted := rng.IntN(2) == 0
					for _, m := range []*Mixer{serial, parallel} {
						if err := m.SetMuted(i, muted); err != nil {
							t.Fatal(err)
						}
					}
				}
				if tick%11 == 5 {
					i := rng.IntN(n)
					for _, m := range []*Mixer{serial, parallel} {
						if err := m.Remove(i); err != nil {
							t.Fatal(err)
						}
						if j, err := m.Add(); err != nil || j != i {
							t.Fatalf("Add() = %d, %v; want %d", j, err, i)
						}
					}
				}
				frames := make([][]int16, n)
				for i := range frames {
					if rng.IntN(3) > 0 {
						amp := float64(rng.IntN(12000))
						frames[i] = tone(cfg.SampleRate, fs, tick*fs, freqs[i%len(freqs)], amp)
					}
				}
				put(t, serial, frames)
				serial.Tick()
				kinds, outs, sts := workerTick(t, parallel, accs, frames)
				for i := range n {
					kind, out := output(t, serial, i)
					if kind != kinds[i] || !slices.Equal(out, outs[i]) {
						t.Fatalf("%+v, %d workers, tick %d: slot %d: %v differs from serial %v", cfg, w, tick, i, kinds[i], kind)
					}
					if st := status(t, serial, i); st != sts[i] {
						t.Fatalf("%+v, %d workers, tick %d: Status(%d) = %+v, serial %+v", cfg, w, tick, i, sts[i], st)
					}
				}
				if a, b := serial.Speakers(nil), parallel.Speakers(nil); !slices.Equal(a, b) {
					t.Fatalf("tick %d: speakers %v, serial %v", tick, b, a)
				}
			}
		}
	}
}
