package tone

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parleyhq/parley/internal/media/dtmf"
)

// MaxLevel is the level of a full-scale sine in dBm0 (ITU-T G.711 A-law);
// no step may ask for more per frequency.
const MaxLevel = 3.14

// rampTime is the rise and fall of each tone, shaped as half a cosine: an
// abrupt start or stop is heard as a click and spreads energy across the
// band, where a DTMF receiver could take it for a tone.
const rampTime = 2 * time.Millisecond

// ErrPattern reports a pattern that cannot be played.
var ErrPattern = errors.New("tone: invalid pattern")

// Step is one element of a cadence: one or two frequencies sounding together
// for a duration, or silence.
type Step struct {
	// Freq1 and Freq2 are in Hz; 0 leaves the component out, and a step
	// with neither is silent.
	Freq1, Freq2 float64
	// Level is the level of each component in dBm0, at most MaxLevel. Two
	// components at high levels may add up past full scale and are then
	// clipped.
	Level float64
	// Duration of the step, rounded to whole samples.
	Duration time.Duration
}

// Pattern is a cadence: its steps in order, Repeat times over, or forever if
// Repeat is 0.
type Pattern struct {
	// Steps are played in order; steps of zero duration are skipped.
	Steps []Step
	// Repeat is how many times the steps are played; 0 means forever.
	Repeat int
}

// Amplitude returns the peak amplitude in 16-bit PCM of a sine at level
// dBm0.
func Amplitude(level float64) float64 {
	return dtmf.ZeroDBm0 * math.Pow(10, level/20)
}

// step is a Step prepared for playing.
type step struct {
	samples int
	amp     [2]float64
	rot     [2]complex128 // e^{jω}: one sample of phase advance
	ramp    int           // samples of rise and of fall
	silent  bool
}

// Generator is a Source that plays a Pattern. Each tone starts at the peak
// of its cosine so that its first sample is already audible, rises and
// falls over 2 ms, and lasts exactly its duration in samples; silences are
// exact zeros.
type Generator struct {
	steps  []step
	repeat int

	cur    int // step playing
	pos    int // samples of it played
	rounds int // completed passes over the steps
	osc    [2]complex128
	done   bool
}

// NewGenerator returns a Generator that plays p at rate samples per second.
func NewGenerator(rate int, p Pattern) (*Generator, error) {
	if rate < 8000 || rate > 48000 {
		return nil, fmt.Errorf("%w: sample rate %d", ErrPattern, rate)
	}
	if p.Repeat < 0 || len(p.Steps) == 0 {
		return nil, fmt.Errorf("%w: %d steps, repeat %d", ErrPattern, len(p.Steps), p.Repeat)
	}
	g := &Generator{steps: make([]step, len(p.Steps)), repeat: p.Repeat}
	total := 0
	for i, s := range p.Steps {
		if s.Duration < 0 || s.Duration > time.Hour {
			return nil, fmt.Errorf("%w: step %d lasts %v", ErrPattern, i, s.Duration)
		}
		if !(s.Level <= MaxLevel) {
			return nil, fmt.Errorf("%w: step %d level %v dBm0 above %v", ErrPattern, i, s.Level, MaxLevel)
		}
		st := step{samples: Samples(s.Duration, rate), silent: true}
		for k, f := range [2]float64{s.Freq1, s.Freq2} {
			if !(f >= 0 && f < float64(rate)/2) {
				return nil, fmt.Errorf("%w: step %d frequency %v Hz at %d Hz sampling", ErrPattern, i, f, rate)
			}
			if f == 0 {
				continue
			}
			st.silent = false
			st.amp[k] = Amplitude(s.Level)
			w := 2 * math.Pi * f / float64(rate)
			st.rot[k] = complex(math.Cos(w), math.Sin(w))
		}
		st.ramp = min(Samples(rampTime, rate), st.samples/2)
		g.steps[i] = st
		total += st.samples
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: no step lasts a sample", ErrPattern)
	}
	g.Reset()
	return g, nil
}

// Reset plays the pattern from its start again.
func (g *Generator) Reset() {
	g.cur, g.pos, g.rounds, g.done = 0, 0, 0, false
	g.osc = [2]complex128{1, 1}
	g.skipEmpty()
}

// Read implements Source.
func (g *Generator) Read(frame []int16) (int, bool) {
	n := 0
	for n < len(frame) && !g.done {
		st := &g.steps[g.cur]
		k := min(len(frame)-n, st.samples-g.pos)
		if st.silent {
			clear(frame[n : n+k])
		} else {
			g.synthesize(st, frame[n:n+k])
		}
		n += k
		g.pos += k
		if g.pos == st.samples {
			g.next()
		}
	}
	return n, g.done
}

// synthesize writes the next len(out) samples of a tone step.
func (g *Generator) synthesize(st *step, out []int16) {
	z0, z1 := g.osc[0], g.osc[1]
	// The rotation accumulates rounding error; pulling the magnitude back
	// to 1 once per call keeps the level steady over hours of ringback.
	z0 *= complex(1.5-0.5*(real(z0)*real(z0)+imag(z0)*imag(z0)), 0)
	z1 *= complex(1.5-0.5*(real(z1)*real(z1)+imag(z1)*imag(z1)), 0)
	r0, r1 := st.rot[0], st.rot[1]
	a0, a1 := st.amp[0], st.amp[1]
	fallFrom := st.samples - st.ramp
	for i := range out {
		v := a0*real(z0) + a1*real(z1)
		if p := g.pos + i; p < st.ramp {
			v *= rampGain(p, st.ramp)
		} else if p >= fallFrom {
			v *= rampGain(st.samples-1-p, st.ramp)
		}
		out[i] = quantize(v)
		z0 *= r0
		z1 *= r1
	}
	g.osc[0], g.osc[1] = z0, z1
}

// quantize rounds v to the nearest 16-bit sample, half away from zero,
// saturating at full scale.
func quantize(v float64) int16 {
	r := int32(max(-32768.5, min(32767.5, v)) + math.Copysign(0.5, v))
	return int16(max(-32768, min(32767, r)))
}

// rampGain is the gain of sample i of a rise of n samples: half a cosine from
// just above 0 to just below 1.
func rampGain(i, n int) float64 {
	return 0.5 - 0.5*math.Cos(math.Pi*float64(i+1)/float64(n+1))
}

// next moves to the following step that has samples, counting passes.
func (g *Generator) next() {
	g.cur++
	g.pos = 0
	g.osc = [2]complex128{1, 1}
	g.skipEmpty()
}

// skipEmpty moves past steps without samples, wrapping around the pattern
// and stopping after the last repeat. NewGenerator guarantees that some step
// has samples, so this ends.
func (g *Generator) skipEmpty() {
	for {
		if g.cur == len(g.steps) {
			g.rounds++
			if g.repeat != 0 && g.rounds >= g.repeat {
				g.done = true
				return
			}
			g.cur = 0
		}
		if g.steps[g.cur].samples > 0 {
			return
		}
		g.cur++
	}
}

// DTMF returns the pattern that dials digits in-band: each digit's two tones
// (ITU-T Q.23) at level dBm0 each for on, then silence for off. ITU-T Q.24
// receivers need at least 40 ms of each; 100 ms and 100 ms is a safe pace.
func DTMF(digits string, on, off time.Duration, level float64) (Pattern, error) {
	if digits == "" {
		return Pattern{}, fmt.Errorf("%w: no digits", ErrPattern)
	}
	p := Pattern{Steps: make([]Step, 0, 2*len(digits)), Repeat: 1}
	for i := range len(digits) {
		low, high, ok := dtmf.Frequencies(digits[i])
		if !ok {
			return Pattern{}, fmt.Errorf("%w: %q is not a DTMF digit", ErrPattern, digits[i])
		}
		p.Steps = append(p.Steps, Step{Freq1: low, Freq2: high, Level: level, Duration: on}, Step{Duration: off})
	}
	return p, nil
}

// RingbackNorthAmerica returns the North American ringback tone of the
// Precise Tone Plan: 440 and 480 Hz at -19 dBm0 each, 2 s on and 4 s off,
// forever.
func RingbackNorthAmerica() Pattern {
	return Pattern{Steps: []Step{
		{Freq1: 440, Freq2: 480, Level: -19, Duration: 2 * time.Second},
		{Duration: 4 * time.Second},
	}}
}

// RingbackEurope returns the ringback tone common in Europe: 425 Hz, 1 s on
// and 4 s off, forever (within the ranges ITU-T E.180 recommends), at -16 dBm0,
// the same power as the North American pair.
func RingbackEurope() Pattern {
	return Pattern{Steps: []Step{
		{Freq1: 425, Level: -16, Duration: time.Second},
		{Duration: 4 * time.Second},
	}}
}
