package mix

import (
	"errors"
	"fmt"
)

// ErrResample reports source or destination buffers of unusable lengths.
var ErrResample = errors.New("mix: bad resampler buffers")

// halfband holds one side of a 47-tap half-band low-pass FIR at 16 kHz, in
// Q15: h(0) = 1/2, h(±(2k+1)) = halfband[k], h(±2k) = 0 for k > 0. Every
// other tap of a half-band filter is zero, so each output costs 12
// multiplies (with the symmetry folded in), and the centre tap alone makes
// every second sample of the upsampler a plain copy.
//
// Design: the ideal low-pass at 4 kHz, sin(πn/2)/(πn), times a Kaiser window
// with β = 5 over 48 points, scaled so that the side taps sum to exactly
// 16384 (DC gain one, and equal gain on both upsampler phases, so that no
// 8 kHz tone appears on a constant input). Measured response: ±0.02 dB to
// 3.4 kHz, at most -52 dB from 4.6 kHz. TestHalfbandDesign rederives it.
var halfband = [12]int32{10399, -3360, 1893, -1229, 839, -580, 397, -266, 171, -103, 57, -26}

const (
	hbTaps = 4*len(halfband) - 1 // 47
	hbMid  = hbTaps / 2          // 23: the filter's delay at 16 kHz
	// maxResampleIn bounds one call's input: a 20 ms frame at 16 kHz.
	maxResampleIn = MaxFrameSamples
)

// Upsampler doubles the sample rate of a stream (8 kHz to 16 kHz) with the
// half-band filter, keeping the filter's history between calls so that
// frames join without clicks. It delays the stream by 23 samples at 16 kHz
// (1.4 ms). The zero value is ready; use one per stream.
type Upsampler struct {
	// buf holds the last hbMid input samples, then the current input.
	buf [hbMid + maxResampleIn]int16
}

// Process upsamples src (at most 320 samples) into dst, which must hold
// 2·len(src) samples, and returns dst[:2·len(src)].
func (u *Upsampler) Process(dst, src []int16) ([]int16, error) {
	if len(src) > maxResampleIn || len(dst) < 2*len(src) {
		return nil, fmt.Errorf("%w: upsample %d samples into %d", ErrResample, len(src), len(dst))
	}
	copy(u.buf[hbMid:], src)
	dst = dst[:2*len(src)]
	for n := range src {
		// x[j] is x(n-23+j). The even output lies halfway between x(n-12)
		// and x(n-11); the odd one is x(n-11) itself (centre tap × 2).
		x := u.buf[n : n+hbMid+1 : n+hbMid+1]
		var acc int
		for k, c := range halfband {
			acc += int(c) * (int(x[12+k]) + int(x[11-k]))
		}
		dst[2*n] = sat16((2*acc + 1<<14) >> 15)
		dst[2*n+1] = x[12]
	}
	copy(u.buf[:hbMid], u.buf[len(src):len(src)+hbMid])
	return dst, nil
}

// Reset clears the history, for a new stream.
func (u *Upsampler) Reset() { *u = Upsampler{} }

// Downsampler halves the sample rate of a stream (16 kHz to 8 kHz): it
// low-passes with the half-band filter below 4 kHz, so that nothing above
// folds back into the telephone band, and keeps every second sample. It
// delays the stream by 23 samples at 16 kHz. The zero value is ready; use one
// per stream.
type Downsampler struct {
	buf [2*hbMid + 2*maxResampleIn]int16
}

// Process downsamples src (an even number of samples, at most 640) into
// dst, which must hold len(src)/2 samples, and returns dst[:len(src)/2].
func (d *Downsampler) Process(dst, src []int16) ([]int16, error) {
	if len(src)%2 != 0 || len(src) > 2*maxResampleIn || len(dst) < len(src)/2 {
		return nil, fmt.Errorf("%w: downsample %d samples into %d", ErrResample, len(src), len(dst))
	}
	copy(d.buf[2*hbMid:], src)
	dst = dst[:len(src)/2]
	for n := range dst {
		// x[j] is x(2n-46+j); the centre tap sits on x(2n-23).
		x := d.buf[2*n : 2*n+2*hbMid+1 : 2*n+2*hbMid+1]
		acc := int(x[hbMid]) << 14
		for k, c := range halfband {
			acc += int(c) * (int(x[hbMid+2*k+1]) + int(x[hbMid-2*k-1]))
		}
		dst[n] = sat16((acc + 1<<14) >> 15)
	}
	copy(d.buf[:2*hbMid], d.buf[len(src):len(src)+2*hbMid])
	return dst, nil
}

// Reset clears the history, for a new stream.
func (d *Downsampler) Reset() { *d = Downsampler{} }

// sat16 saturates v to int16.
func sat16(v int) int16 { return int16(min(max(v, -32768), 32767)) }
