package mix

import (
	"math"
	"testing"
)

// limit1 runs one sample through the output path.
func limit1(v int32) int16 {
	var out [1]int16
	limitInto(out[:], []int32{v})
	return out[0]
}

func TestLimiterBelowKneeIsExact(t *testing.T) {
	for v := int32(-limKnee); v <= limKnee; v++ {
		if got := limit1(v); int32(got) != v {
			t.Fatalf("limit(%d) = %d, want it unchanged", v, got)
		}
	}
}

// TestLimiterCurve checks the whole curve near the knee and beyond:
// monotonic, at most one unit per unit of input (a smooth knee, no jumps),
// odd, within 1 of the ideal tanh curve, and never past ±32767.
func TestLimiterCurve(t *testing.T) {
	ideal := func(v int32) float64 {
		x := math.Abs(float64(v))
		y := x
		if x > limKnee {
			y = limKnee + limSpan*math.Tanh((x-limKnee)/limSpan)
		}
		return math.Copysign(y, float64(v))
	}
	prev := limit1(-200000)
	for v := int32(-200000 + 1); v <= 200000; v++ {
		got := limit1(v)
		if got < prev || got-prev > 1 {
			t.Fatalf("limit(%d) = %d after limit(%d) = %d: not monotonic with slope ≤ 1", v, got, v-1, prev)
		}
		if -got != limit1(-v) {
			t.Fatalf("limit(%d) = %d but limit(%d) = %d: not odd", v, got, -v, limit1(-v))
		}
		if d := math.Abs(float64(got) - ideal(v)); d > 1 {
			t.Fatalf("limit(%d) = %d, ideal %.2f", v, got, ideal(v))
		}
		prev = got
	}
	for _, v := range []int32{math.MinInt32, math.MinInt32 + 1, -1 << 30, 1 << 30, math.MaxInt32, limKnee + limRange, limKnee + limRange - 1} {
		got := limit1(v)
		if got < -limCeil || got > limCeil || (v > 0) != (got > 0) {
			t.Errorf("limit(%d) = %d, want within ±%d with the same sign", v, got, limCeil)
		}
	}
	if got := limit1(32767); got < 30500 || got > 31000 {
		t.Errorf("limit(32767) = %d, want about 30800 (-0.5 dB)", got)
	}
}

func TestMinusLimit(t *testing.T) {
	acc := []int32{0, 100, 24576 + 20000, -24576 - 20000, 1 << 30, -5}
	own := []int16{0, 101, 20000, -20000, -32768, -5}
	dst := make([]int16, len(acc))
	minusLimit(dst, acc, own)
	want := []int16{0, -1, 24576, -24576, limCeil, 0}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("minusLimit sample %d = %d, want %d", i, dst[i], want[i])
		}
	}
}

// TestLoudSumNeverWraps: many full-scale talkers in phase sum far past
// int16; every output stays in range with the sign of the true sum, and
// the shared and personal frames are still recognisably the tone.
func TestLoudSumNeverWraps(t *testing.T) {
	const n = 200
	for _, k := range []int{AllSpeakers, MaxSpeakers} {
		m := newMixer(t, Config{SampleRate: 8000, Speakers: k}, n)
		frames := make([][]int16, n)
		for i := range frames {
			frames[i] = tone(8000, 160, 0, 1000, 32767)
			if i%2 == 1 { // a square wave too: the worst case
				for j, v := range frames[i] {
					frames[i][j] = 32767 * int16(cmpSign(v))
				}
			}
		}
		put(t, m, frames)
		m.Tick()
		for i := range n {
			kind, out := output(t, m, i)
			if kind == Silence {
				t.Fatalf("speakers %d: participant %d hears silence", k, i)
			}
			for j, v := range out {
				// Every input has the sign of the sine.
				if v < -limCeil || cmpSign(v) != cmpSign(frames[0][j]) {
					t.Fatalf("speakers %d: participant %d sample %d = %d, input %d", k, i, j, v, frames[0][j])
				}
			}
			if a := amplitude(out, 8000, 1000); a < 30000 {
				t.Errorf("speakers %d: participant %d hears the tone at %.0f, want near full scale", k, i, a)
			}
		}
	}
}

func cmpSign(v int16) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
