package jitter

import (
	"fmt"
	"math"
	"time"
)

// PLC conceals lost frames of 16-bit PCM by pitch repetition, after the
// method of ITU-T G.711 Appendix I (this is an independent implementation
// of the idea, not of its reference code):
//
//   - on the first loss, find the pitch period (5-15 ms) of the last
//     received audio by normalized autocorrelation, and repeat the last
//     period, with its loop point smoothed by an overlap-add of a quarter
//     period and a decaying offset that joins it to the last real sample;
//   - after 10 ms of loss, repeat the last two periods, after 20 ms three,
//     cross-fading at each change, so that long gaps sound less buzzy;
//   - after 10 ms, attenuate by 20% per 10 ms, reaching silence at 60 ms;
//   - on the first good frame after a loss, cross-fade from the synthetic
//     signal into the real one over 4 ms, plus 4 ms per further 10 ms of
//     loss, at most 10 ms.
//
// Use one PLC per leg, after decoding: Good for every decoded frame, Conceal
// for every frame the jitter buffer reports missing, Reset when it reports
// Idle. PLC is not safe for concurrent use. It never allocates after NewPLC.
type PLC struct {
	rate, frame    int // samples per second and per frame
	minLag, maxLag int
	hist           []int16   // last received or concealed samples, a ring
	head           int       // hist's oldest sample, where the next is written
	src            []int16   // hist as it was when the gap began
	work           []float32 // src as floats, for the pitch search
	lost           int       // samples concealed in the current gap
	pitch, periods int
	buf            []float32 // the periods being repeated, loop-smoothed
	pos            int       // read position in buf
	offset         float32   // junction offset, decaying over overlap
	old            []float32 // previous buf while cross-fading to more periods
	oldN, oldPos   int
	fadeLeft       int
}

// NewPLC returns a concealer for PCM at sampleRate (8000 to 48000 Hz) in
// frames of the given duration.
func NewPLC(sampleRate int, frame time.Duration) (*PLC, error) {
	n := int(int64(sampleRate) * int64(frame) / int64(time.Second))
	if sampleRate < 8000 || sampleRate > 48000 || n < sampleRate/1000 || int64(n)*int64(time.Second) != int64(sampleRate)*int64(frame) {
		return nil, fmt.Errorf("%w: PLC at %d Hz with %v frames", ErrConfig, sampleRate, frame)
	}
	p := &PLC{
		rate:   sampleRate,
		frame:  n,
		minLag: sampleRate / 200,       // 5 ms: 200 Hz
		maxLag: sampleRate * 15 / 1000, // 15 ms: 66 Hz
	}
	// Room for three periods of the lowest pitch and the overlap before
	// them, and for the correlation window behind the longest lag.
	p.hist = make([]int16, 3*p.maxLag+p.maxLag/4+1)
	p.src = make([]int16, len(p.hist))
	p.work = make([]float32, len(p.hist))
	p.buf = make([]float32, 3*p.maxLag)
	p.old = make([]float32, 3*p.maxLag)
	return p, nil
}

// FrameSize returns the number of samples per frame.
func (p *PLC) FrameSize() int { return p.frame }

// Reset forgets the history: the next loss conceals with silence until
// audio has been received.
func (p *PLC) Reset() {
	clear(p.hist)
	p.head = 0
	p.lost, p.fadeLeft = 0, 0
}

// Good records a received frame. After a loss it first blends the start of
// frame with the continued synthetic signal, in place, to avoid a click.
func (p *PLC) Good(frame []int16) {
	if p.lost > 0 {
		ms10 := p.rate / 100
		n := min(p.rate/250+p.rate/250*((p.lost-1)/ms10), p.rate/100, len(frame))
		for i := range n {
			w := float32(i+1) / float32(n+1)
			syn := p.next() * p.gain(p.lost+i)
			frame[i] = clip16(w*float32(frame[i]) + (1-w)*syn)
		}
		p.lost = 0
	}
	p.push(frame)
}

// Conceal writes a synthetic frame into out (FrameSize samples).
func (p *PLC) Conceal(out []int16) {
	if p.lost == 0 {
		p.start()
	}
	ms10 := p.rate / 100
	for i := range out {
		switch p.lost {
		case ms10:
			p.grow(2)
		case 2 * ms10:
			p.grow(3)
		}
		out[i] = clip16(p.next() * p.gain(p.lost))
		p.lost++
	}
	p.push(out)
}

// push appends samples to the history. The history is a ring, so that a
// frame costs one copy of itself rather than a shift of the whole history
// (every leg's every frame goes through here).
func (p *PLC) push(s []int16) {
	if len(s) >= len(p.hist) {
		copy(p.hist, s[len(s)-len(p.hist):])
		p.head = 0
		return
	}
	n := copy(p.hist[p.head:], s)
	copy(p.hist, s[n:])
	p.head = (p.head + len(s)) % len(p.hist)
}

// gain is the attenuation after k concealed samples: none for 10 ms, then
// 20% less per 10 ms, silence from 60 ms.
func (p *PLC) gain(k int) float32 {
	ms10 := p.rate / 100
	if k < ms10 {
		return 1
	}
	return max(0, 1-0.2*float32(k-ms10)/float32(ms10))
}

// start estimates the pitch and prepares one period for repetition.
func (p *PLC) start() {
	n := copy(p.src, p.hist[p.head:]) // oldest first
	copy(p.src[n:], p.hist[:p.head])
	p.pitch = p.findPitch()
	p.fadeLeft = 0
	p.load(p.buf, 1)
	p.periods, p.pos = 1, 0
	// Join the repeated period to the last real sample: the period starts
	// where the signal was one period ago, so carry the difference between
	// now and then, fading it out over a quarter period.
	h := len(p.src)
	p.offset = float32(p.src[h-1]) - float32(p.src[h-1-p.pitch])
}

// grow switches to repeating k periods, cross-fading over a quarter period.
func (p *PLC) grow(k int) {
	p.oldN = p.periods * p.pitch
	copy(p.old, p.buf[:p.oldN])
	p.oldPos = p.pos
	p.load(p.buf, k)
	// Position pos in the old buffer is the same instant as position
	// (k-periods)·pitch + pos in the new one.
	p.pos = ((k-p.periods)*p.pitch + p.pos) % (k * p.pitch)
	p.periods = k
	p.fadeLeft = max(p.pitch/4, 1)
}

// load fills buf with the last k pitch periods before the gap, smoothing
// the loop point: its last quarter period fades into the samples that
// preceded its first one.
func (p *PLC) load(buf []float32, k int) {
	n, h, ov := k*p.pitch, len(p.src), p.pitch/4
	for i := range n {
		buf[i] = float32(p.src[h-n+i])
	}
	for j := range ov {
		w := float32(j+1) / float32(ov+1)
		buf[n-ov+j] = (1-w)*buf[n-ov+j] + w*float32(p.src[h-n-ov+j])
	}
}

// next returns the next synthetic sample before attenuation.
func (p *PLC) next() float32 {
	n := p.periods * p.pitch
	v := p.buf[p.pos]
	if ov := p.pitch / 4; p.offset != 0 && ov > 0 {
		v += p.offset
		p.offset -= p.offset / float32(ov)
		if p.offset < 0.5 && p.offset > -0.5 {
			p.offset = 0
		}
	}
	if p.fadeLeft > 0 {
		ov := max(p.pitch/4, 1)
		w := float32(p.fadeLeft) / float32(ov+1)
		v = w*p.old[p.oldPos] + (1-w)*v
		p.oldPos = (p.oldPos + 1) % p.oldN
		p.fadeLeft--
	}
	p.pos = (p.pos + 1) % n
	return v
}

// findPitch returns the lag, in samples, that maximizes the normalized
// correlation of the last maxLag samples with the samples lag earlier.
// A coarse search runs on the signal decimated by two (every second
// sample, every second lag); the best lag is then refined at full
// resolution, and a submultiple of it that scores nearly as well is
// preferred. It costs a few thousand multiply-adds per gap.
func (p *PLC) findPitch() int {
	x := p.work[:len(p.src)]
	for i, v := range p.src {
		x[i] = float32(v)
	}
	end := len(x)
	score := func(lag, step int) float64 {
		var xy, yy float32
		for i := end - p.maxLag; i < end; i += step {
			y := x[i-lag]
			xy += x[i] * y
			yy += y * y
		}
		if yy == 0 {
			return math.Inf(-1)
		}
		return float64(xy) / math.Sqrt(float64(yy))
	}
	best, bestScore := p.minLag, math.Inf(-1)
	for lag := p.minLag; lag <= p.maxLag; lag += 2 {
		if s := score(lag, 2); s > bestScore {
			best, bestScore = lag, s
		}
	}
	full := func(lag int) float64 { return score(lag, 1) }
	best, bestScore = refine(best, full(best), p.minLag, p.maxLag, full)
	// A multiple of the period correlates about as well as the period
	// itself; repeating the shortest one follows a changing voice better.
	for _, div := range []int{3, 2} {
		lag := (best + div/2) / div
		if lag < p.minLag {
			continue
		}
		if l, s := refine(lag, full(lag), p.minLag, p.maxLag, full); s >= 0.9*bestScore {
			return l
		}
	}
	return best
}

// refine returns the best of lag and its two neighbours.
func refine(lag int, s float64, lo, hi int, score func(int) float64) (int, float64) {
	best := lag
	for l := max(lag-1, lo); l <= min(lag+1, hi); l++ {
		if v := score(l); v > s {
			best, s = l, v
		}
	}
	return best, s
}

func clip16(v float32) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(float64(v)))
}
