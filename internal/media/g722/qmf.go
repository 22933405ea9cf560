package g722

// The quadrature mirror filters split 16 kHz audio into two 8 kHz sub-bands
// (0-4 kHz and 4-8 kHz) and put them back together. Both use the same 24-tap
// symmetric filter; its alternating-sign twin gives the higher band. The
// transmit side takes two input samples per step and produces one sample of
// each band; the receive side does the reverse.
//
// With the history kept in time order (index 0 oldest), the symmetry
// h[k] == h[23-k] lets both filters index the coefficients by position rather
// than by age: the newest sample sits at an odd position, so the odd taps
// form the Recommendation's x_A (even delays) and the even taps its x_B.
//
// The histories are rings stored twice over, so that the last n samples are
// always one contiguous window and a step costs a few stores instead of
// shifting the whole delay line.

// analysis is the transmit QMF: the last 24 input samples.
type analysis struct {
	x    [48]int // x[i] == x[i+24]
	head int     // even; the next pair goes to x[head], x[head+1]
}

// split pushes two input samples (x0 the earlier) and returns the lower and
// higher sub-band samples xl = (x_A + x_B) / 2^14 and xh = (x_A − x_B) / 2^14.
// The 2^14 is the coefficients' 2^13 scale plus the halving that makes the
// sub-band signals fit the 15-bit range of the ADPCM coders from 16-bit input.
func (q *analysis) split(x0, x1 int16) (xl, xh int) {
	h := q.head
	q.x[h], q.x[h+1], q.x[h+24], q.x[h+25] = int(x0), int(x1), int(x0), int(x1)
	w := (*[24]int)(q.x[h+2 : h+26])
	q.head = (h + 2) % 24
	var xa, xb int
	for i := 0; i < 24; i += 2 {
		xb += qmf[i] * w[i]
		xa += qmf[i+1] * w[i+1]
	}
	return (xa + xb) >> 14, (xa - xb) >> 14
}

// synthesis is the receive QMF: the last twelve differences and sums of the
// reconstructed sub-band signals.
type synthesis struct {
	xd   [24]int // rl − rh; xd[i] == xd[i+12]
	xs   [24]int // rl + rh; likewise
	head int     // the next values go to index head
}

// merge pushes one sample of each sub-band and returns two output samples,
// the earlier first: y0 = 2·Σ h(2i)·xd(j−i) and y1 = 2·Σ h(2i+1)·xs(j−i),
// scaled from the coefficients' 2^13 and the sub-bands' 15 bits back to 16-bit
// audio (a shift of 11 in all) and saturated.
func (q *synthesis) merge(rl, rh int) (y0, y1 int16) {
	h := q.head
	q.xd[h], q.xd[h+12] = rl-rh, rl-rh
	q.xs[h], q.xs[h+12] = rl+rh, rl+rh
	xd := (*[12]int)(q.xd[h+1 : h+13])
	xs := (*[12]int)(q.xs[h+1 : h+13])
	q.head = (h + 1) % 12
	var a, b int
	for i := range 12 {
		a += qmf[2*i+1] * xd[i]
		b += qmf[2*i] * xs[i]
	}
	return int16(sat16(a >> 11)), int16(sat16(b >> 11))
}
