package mix

import "math"

// The output limiter is a static soft-knee curve. Samples up to the knee
// (0.75 of full scale, -2.5 dBFS) pass unchanged, so ordinary speech mixes are
// bit-exact sums. Above it,
//
//	y = knee + span·tanh((x − knee) / span),  span = 32767 − knee,
//
// which leaves the knee with slope one (no corner to hear) and approaches
// full scale without reaching it, so no sum of inputs wraps or hard-clips.
// The curve is odd: negative samples mirror positive ones.
const (
	limKnee  = 24576
	limCeil  = 32767
	limSpan  = limCeil - limKnee
	limShift = 5                    // table step: 32 input units
	limRange = 1 << 16              // beyond knee+limRange the curve is limCeil
	limSize  = limRange >> limShift // table entries, plus one for interpolation
)

// limTable[i] is the curve's height above the knee at x = knee + i·32.
// Between entries the curve is interpolated linearly; the step error is
// below one unit, and the whole curve is 4 KiB, small enough to stay in L1
// on the rare loud frames that need it.
var limTable = func() *[limSize + 1]uint16 {
	var t [limSize + 1]uint16
	for i := range t {
		t[i] = uint16(math.Round(limSpan * math.Tanh(float64(i<<limShift)/limSpan)))
	}
	return &t
}()

// softLimit maps a sum above the knee in magnitude onto the curve.
func softLimit(v int32) int32 {
	a := uint32(v)
	if v < 0 {
		a = -a // also right for math.MinInt32: 1<<31
	}
	y := int32(limCeil)
	if d := a - limKnee; d < limRange {
		i, f := d>>limShift, int32(d&(1<<limShift-1))
		y0, y1 := int32(limTable[i]), int32(limTable[i+1])
		y = limKnee + y0 + ((y1-y0)*f+1<<(limShift-1))>>limShift
	}
	if v < 0 {
		return -y
	}
	return y
}

// limitInto writes the limited acc into dst.
func limitInto(dst []int16, acc []int32) {
	dst = dst[:len(acc)]
	for i, v := range acc {
		dst[i] = int16(limit(v))
	}
}

// minusLimit writes the limited acc − own into dst: a contributor's N−1
// mix. It tests eight samples at once against the knee: the OR of their
// offsets is at least their largest, so a quiet block (nearly all of them)
// costs one branch, and a block that may be loud is redone sample by sample.
func minusLimit(dst []int16, acc []int32, own []int16) {
	acc = acc[:len(dst)]
	own = own[:len(dst)]
	for len(dst) >= 8 {
		d, a, o := (*[8]int16)(dst), (*[8]int32)(acc), (*[8]int16)(own)
		v0, v1 := a[0]-int32(o[0]), a[1]-int32(o[1])
		v2, v3 := a[2]-int32(o[2]), a[3]-int32(o[3])
		v4, v5 := a[4]-int32(o[4]), a[5]-int32(o[5])
		v6, v7 := a[6]-int32(o[6]), a[7]-int32(o[7])
		if uint32(v0+limKnee)|uint32(v1+limKnee)|uint32(v2+limKnee)|uint32(v3+limKnee)|
			uint32(v4+limKnee)|uint32(v5+limKnee)|uint32(v6+limKnee)|uint32(v7+limKnee) > 2*limKnee {
			v0, v1, v2, v3 = limit(v0), limit(v1), limit(v2), limit(v3)
			v4, v5, v6, v7 = limit(v4), limit(v5), limit(v6), limit(v7)
		}
		d[0], d[1], d[2], d[3] = int16(v0), int16(v1), int16(v2), int16(v3)
		d[4], d[5], d[6], d[7] = int16(v4), int16(v5), int16(v6), int16(v7)
		dst, acc, own = dst[8:], acc[8:], own[8:]
	}
	for i := range dst {
		dst[i] = int16(limit(acc[i] - int32(own[i])))
	}
}

// limit applies the curve to one sample.
func limit(v int32) int32 {
	// One unsigned compare tests -knee ≤ v ≤ knee.
	if uint32(v+limKnee) > 2*limKnee {
		return softLimit(v)
	}
	return v
}
