package g722

import "math/bits"

// The adaptive part of SB-ADPCM, shared by encoder and decoder. Each sub-band
// runs the same loop per sample:
//
//	difference → quantizer → inverse quantizer → scale factor adaptation
//	                                            → predictor adaptation
//
// The encoder quantizes e = x − s; the decoder only has the code, so both
// update their state from the code alone and stay in lockstep. The block
// names (QUANTL, INVQAL, LOGSCL, SCALEL, RECONS, PARREC, UPPOL1, UPPOL2,
// UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC) are the Recommendation's, and so is
// the fixed-point arithmetic: products of 16-bit values are shifted right by
// 15, and sums saturate to 16 bits where the Recommendation limits them.
// Bit-exactness with other G.722 implementations depends on every one of
// those details.

// band is the state of one sub-band ADPCM coder.
type band struct {
	s   int    // predictor output SL/SH for the next sample
	sp  int    // pole section output SPL/SPH
	sz  int    // zero section output SZL/SZH
	r   [2]int // reconstructed signal, one and two samples ago
	p   [2]int // partially reconstructed signal, one and two samples ago
	a   [2]int // pole predictor coefficients a1, a2
	b   [6]int // zero predictor coefficients b1..b6
	d   [6]int // quantized difference signal, one to six samples ago
	nb  int    // logarithmic scale factor NBL/NBH
	det int    // linear scale factor DETL/DETH, the quantizer step
}

// Initial linear scale factors (the Recommendation's reset state): the
// lower band's step is DETL = 32, the higher band's DETH = 8. Everything else
// starts at zero.
const (
	detLowInit  = 32
	detHighInit = 8
)

// Scale factor limits of LOGSCL and LOGSCH, and the shift of SCALEL and
// SCALEH that turns the log scale factor into a step size.
const (
	nbLowMax     = 18432
	nbHighMax    = 22528
	scaleLowExp  = 8
	scaleHighExp = 10
)

// signShift shifts an int down to its sign: 0 for v >= 0, -1 for v < 0.
const signShift = bits.UintSize - 1

// sat16 limits v to the 16-bit range, as the Recommendation's saturating
// additions do.
func sat16(v int) int {
	return min(max(v, -32768), 32767)
}

// clampOut limits a reconstructed sub-band signal to the 15-bit range that
// the receive QMF takes (the Recommendation's LIMIT block).
func clampOut(v int) int {
	return min(max(v, -16384), 16383)
}

// scaleFactor converts a log scale factor to the linear step (SCALEL with
// exp 8, SCALEH with exp 10): 2^(nb/2048) read from ilb, times 4.
func scaleFactor(nb, exp int) int {
	m := ilb[(nb>>6)&31]
	if sh := exp - nb>>11; sh >= 0 {
		m >>= sh
	} else {
		m <<= -sh
	}
	return m << 2
}

// quantInterval returns the interval mil (1..30) of QUANTL for magnitude wd
// and step det: the first interval whose level (q6[mil]*det)>>12 exceeds wd.
// Rather than scale all 29 levels, it scales wd once: for integers,
// wd >= (q*det)>>12 exactly when q <= (4096*(wd+1)-1)/det, so one division
// and a table of the levels' running count give the interval.
func quantInterval(wd, det int) int {
	t := uint32(wd+1)<<12 - 1
	return int(q6Interval[min(t/uint32(det), uint32(len(q6Interval)-1))])
}

// encodeLow quantizes one lower sub-band sample xl to its 6-bit code IL and
// adapts the state to it (SUBTL, QUANTL, then adaptLow).
func (b *band) encodeLow(xl int) byte {
	el := sat16(xl - b.s)
	// QUANTL compares the magnitude, taken as the one's complement for
	// negative differences, with the decision levels scaled by DETL.
	wd := el
	if el < 0 {
		wd = ^el
	}
	mil := quantInterval(wd, b.det)
	il := ilp[mil]
	if el < 0 {
		il = iln[mil]
	}
	b.adaptLow(int(il))
	return il
}

// decodeLow reconstructs one lower sub-band sample from its 6-bit code with
// the full 6-bit inverse quantizer of mode 1 (INVQBL, RECONS, LIMIT), then
// adapts the state exactly as the encoder did.
func (b *band) decodeLow(il int) int {
	rl := clampOut(b.s + (b.det*qm6[il])>>15)
	b.adaptLow(il)
	return rl
}

// adaptLow updates the lower band from a code: the 4-bit inverse quantizer
// INVQAL gives the difference that drives the predictor, and LOGSCL/SCALEL
// adapt the step with a leak factor of 127/128.
func (b *band) adaptLow(il int) {
	il4 := il >> 2
	dlt := (b.det * qm4[il4]) >> 15
	b.nb = min(max((b.nb*127)>>7+wl[rl42[il4]], 0), nbLowMax)
	b.det = scaleFactor(b.nb, scaleLowExp)
	b.predict(dlt)
}

// encodeHigh quantizes one higher sub-band sample xh to its 2-bit code IH
// (SUBTH, QUANTH) and adapts the state.
func (b *band) encodeHigh(xh int) byte {
	eh := sat16(xh - b.s)
	wd := eh
	if eh < 0 {
		wd = ^eh
	}
	mih := 1
	if wd >= (q2*b.det)>>12 {
		mih = 2
	}
	ih := ihp[mih]
	if eh < 0 {
		ih = ihn[mih]
	}
	b.adaptHigh(int(ih))
	return ih
}

// decodeHigh reconstructs one higher sub-band sample (INVQAH, RECONS, LIMIT)
// and adapts the state.
func (b *band) decodeHigh(ih int) int {
	rh := clampOut(b.s + (b.det*qm2[ih])>>15)
	b.adaptHigh(ih)
	return rh
}

// adaptHigh updates the higher band from a code (INVQAH, LOGSCH, SCALEH).
func (b *band) adaptHigh(ih int) {
	dh := (b.det * qm2[ih]) >> 15
	b.nb = min(max((b.nb*127)>>7+wh[rh2[ih]], 0), nbHighMax)
	b.det = scaleFactor(b.nb, scaleHighExp)
	b.predict(dh)
}

// predict is block 4 of the Recommendation: it reconstructs the signal from
// the quantized difference d, adapts the two-pole, six-zero predictor by the
// sign-sign algorithm, and computes the prediction s for the next sample.
func (b *band) predict(d int) {
	// RECONS and PARREC: the reconstructed signal, and the partially
	// reconstructed one (without the pole section) that drives the poles.
	r := sat16(b.s + d)
	p := sat16(b.sz + d)

	// The sign-sign adaptations below compare signs of values (zero counts
	// as positive). With s = v >> signShift, which is 0 or -1, the XOR of two
	// such signs is 0 when they agree and -1 when they differ, which keeps
	// these data-dependent choices free of branches.
	sg0, sg1, sg2 := p>>signShift, b.p[0]>>signShift, b.p[1]>>signShift
	differ01, differ02 := sg0^sg1, sg0^sg2

	// UPPOL2: a2 moves by ±2^-7 with the sign agreement of p two samples
	// apart, is pulled against a1 when p keeps its sign, leaks by 2^-7, and
	// stays within ±0.375.
	wd := sat16(b.a[0] * 4)
	wd = min((wd^^differ01)-^differ01, 32767) // -wd where signs agree
	a2 := wd>>7 + 128 + 256*differ02 + (b.a[1]*32512)>>15
	a2 = min(max(a2, -12288), 12288)

	// UPPOL1: a1 moves by ±3·2^-8, leaks by 2^-8, and is bounded by
	// 1 − 2^-4 − a2 so that the pole section stays stable.
	a1 := sat16(192 + 384*differ01 + (b.a[0]*32640)>>15)
	lim := 15360 - a2
	a1 = min(max(a1, -lim), lim)

	// UPZERO: each b moves by ±2^-8 with the sign agreement of d and its
	// delayed copy, and leaks by 2^-8; a zero difference only leaks.
	step := 0
	if d != 0 {
		step = 128
	}
	b.b[0] = upzero(b.b[0], b.d[0], d, step)
	b.b[1] = upzero(b.b[1], b.d[1], d, step)
	b.b[2] = upzero(b.b[2], b.d[2], d, step)
	b.b[3] = upzero(b.b[3], b.d[3], d, step)
	b.b[4] = upzero(b.b[4], b.d[4], d, step)
	b.b[5] = upzero(b.b[5], b.d[5], d, step)

	// DELAYA: shift the delay lines.
	b.d[5], b.d[4], b.d[3], b.d[2], b.d[1], b.d[0] = b.d[4], b.d[3], b.d[2], b.d[1], b.d[0], d
	b.r[1], b.r[0] = b.r[0], r
	b.p[1], b.p[0] = b.p[0], p
	b.a[0], b.a[1] = a1, a2

	// FILTEP: the pole section on the reconstructed signal.
	sp := (b.a[0] * sat16(b.r[0]*2)) >> 15
	sp += (b.a[1] * sat16(b.r[1]*2)) >> 15
	b.sp = sat16(sp)

	// FILTEZ: the zero section on the quantized difference.
	sz := (b.b[5]*sat16(b.d[5]*2))>>15 + (b.b[4]*sat16(b.d[4]*2))>>15 +
		(b.b[3]*sat16(b.d[3]*2))>>15 + (b.b[2]*sat16(b.d[2]*2))>>15 +
		(b.b[1]*sat16(b.d[1]*2))>>15 + (b.b[0]*sat16(b.d[0]*2))>>15
	b.sz = sat16(sz)

	// PREDIC
	b.s = sat16(b.sp + b.sz)
}

// upzero is one coefficient of UPZERO: bi moves by step towards agreement of
// the signs of d and its delayed copy di, and leaks by 2^-8.
func upzero(bi, di, d, step int) int {
	differ := (di ^ d) >> signShift
	return sat16((step ^ differ) - differ + (bi*32640)>>15)
}
