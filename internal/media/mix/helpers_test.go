package mix

import (
	"math"
	"testing"
)

// tone returns n samples of amp·sin(2πf·t) at rate, starting at sample
// offset start, so consecutive calls continue the same wave.
func tone(rate, n, start int, f, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(start+i)/float64(rate))))
	}
	return out
}

// amplitude returns the amplitude of the f Hz component of x (sampled at
// rate) by the Goertzel algorithm. For a tone with a whole number of cycles
// in x it is exact up to rounding; other components leak into it only
// through their own non-integer cycles.
func amplitude(x []int16, rate int, f float64) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / float64(len(x))
}

// newMixer returns a Mixer for cfg with n participants in slots 0..n-1.
func newMixer(tb testing.TB, cfg Config, n int) *Mixer {
	tb.Helper()
	m, err := NewMixer(cfg)
	if err != nil {
		tb.Fatalf("NewMixer(%+v): %v", cfg, err)
	}
	for i := range n {
		got, err := m.Add()
		if err != nil || got != i {
			tb.Fatalf("Add() = %d, %v; want %d, nil", got, err, i)
		}
	}
	return m
}

// put gives every slot with a non-nil frame its input.
func put(tb testing.TB, m *Mixer, frames [][]int16) {
	tb.Helper()
	for i, f := range frames {
		if f == nil {
			continue
		}
		if err := m.Put(i, f); err != nil {
			tb.Fatalf("Put(%d): %v", i, err)
		}
	}
}

// output returns slot i's kind and a copy of its frame.
func output(tb testing.TB, m *Mixer, i int) (Kind, []int16) {
	tb.Helper()
	k, f, err := m.Output(i, make([]int16, m.FrameSamples()))
	if err != nil {
		tb.Fatalf("Output(%d): %v", i, err)
	}
	return k, append([]int16(nil), f...)
}

// status returns slot i's status.
func status(tb testing.TB, m *Mixer, i int) Status {
	tb.Helper()
	st, err := m.Status(i)
	if err != nil {
		tb.Fatalf("Status(%d): %v", i, err)
	}
	return st
}

// toneFrames returns one frame per participant: a tone at freqs[i] with
// amplitude amps[i] (nil frames where amps[i] is 0), continuing from frame
// number tick.
func toneFrames(rate, tick int, freqs, amps []float64) [][]int16 {
	n := FrameSamples(rate)
	out := make([][]int16, len(freqs))
	for i := range freqs {
		if amps[i] != 0 {
			out[i] = tone(rate, n, tick*n, freqs[i], amps[i])
		}
	}
	return out
}

// dbAmp returns the sine amplitude whose level is db dBov (a sine is 3 dB
// below a square wave of the same amplitude).
func dbAmp(db float64) float64 {
	return 32768 * math.Sqrt2 * math.Pow(10, db/20)
}

func isZero(f []int16) bool {
	for _, v := range f {
		if v != 0 {
			return false
		}
	}
	return true
}
