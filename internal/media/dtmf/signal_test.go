package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// This file synthesises the test signals of the detector tests: DTMF tones
// with level, twist, frequency error and noise, pauses, and the talk-off
// material (speech-like sounds, music, single and foreign tones).

// signal is PCM under construction, kept in float64 until it is quantised.
type signal struct {
	rate int
	x    []float64
}

func newSignal(rate int) *signal { return &signal{rate: rate} }

func (s *signal) samples(d float64) int { return int(math.Round(d * float64(s.rate))) }

// amplitude converts dBm0 to a sine peak in 16-bit PCM.
func amplitude(dBm0 float64) float64 { return ZeroDBm0 * math.Pow(10, dBm0/20) }

// tones appends the sum of sines at freqs, each at the matching level in
// dBm0, lasting sec seconds.
func (s *signal) tones(sec float64, freqs, levels []float64) *signal {
	n := s.samples(sec)
	for i := range n {
		t := float64(i) / float64(s.rate)
		v := 0.0
		for k, f := range freqs {
			v += amplitude(levels[k]) * math.Sin(2*math.Pi*f*t+0.3*float64(k))
		}
		s.x = append(s.x, v)
	}
	return s
}

// digit appends DTMF digit c with the row tone at low dBm0 and the column
// tone at high dBm0, both frequencies scaled by 1+dev.
func (s *signal) digit(tb testing.TB, c byte, sec, low, high, dev float64) *signal {
	tb.Helper()
	fl, fh, ok := Frequencies(c)
	if !ok {
		tb.Fatalf("Frequencies(%q) not found", c)
	}
	return s.tones(sec, []float64{fl * (1 + dev), fh * (1 + dev)}, []float64{low, high})
}

func (s *signal) silence(sec float64) *signal {
	s.x = append(s.x, make([]float64, s.samples(sec))...)
	return s
}

// noise adds white Gaussian noise at dBm0 (power of a sine of that level).
func (s *signal) noise(dBm0 float64, seed uint64) *signal {
	rng := rand.New(rand.NewPCG(seed, 1))
	sigma := amplitude(dBm0) / math.Sqrt2
	for i := range s.x {
		s.x[i] += sigma * rng.NormFloat64()
	}
	return s
}

// pcm quantises the signal with saturation.
func (s *signal) pcm() []int16 {
	out := make([]int16, len(s.x))
	for i, v := range s.x {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// detectAll feeds pcm to d in frames of size n and returns the digits.
func detectAll(d *Detector, pcm []int16, n int) string {
	var out []byte
	for len(pcm) > 0 {
		k := min(n, len(pcm))
		out = d.Detect(out, pcm[:k])
		pcm = pcm[k:]
	}
	return string(out)
}

// resonator is a two-pole band-pass filter, a formant of the speech model.
type resonator struct{ a1, a2, g, y1, y2 float64 }

func newResonator(rate int, freq, bandwidth float64) *resonator {
	r := math.Exp(-math.Pi * bandwidth / float64(rate))
	w := 2 * math.Pi * freq / float64(rate)
	return &resonator{a1: 2 * r * math.Cos(w), a2: -r * r, g: 1 - r}
}

func (f *resonator) next(x float64) float64 {
	y := f.g*x + f.a1*f.y1 + f.a2*f.y2
	f.y2, f.y1 = f.y1, y
	return y
}

// vowel formants (F1, F2, F3) in Hz, several of them near DTMF frequencies,
// which is what makes speech a talk-off risk.
var vowels = [][3]float64{
	{730, 1090, 2440}, // a
	{270, 2290, 3010}, // i
	{300, 870, 2240},  // u
	{530, 1840, 2480}, // e
	{570, 840, 2410},  // o
	{660, 1720, 2410}, // æ
	{640, 1190, 2390}, // ʌ
	{490, 1350, 1690}, // ɝ
	{700, 1220, 2600},
	{850, 1450, 2500},
}

// speech appends sec seconds of a crude voiced-speech model: a glottal pulse
// train with a wandering pitch between lo and hi Hz, through three formant
// resonators that move from vowel to vowel every syllable, under a
// syllabic envelope, at roughly dBm0 peak level.
func (s *signal) speech(sec, lo, hi, dBm0 float64, seed uint64) *signal {
	rng := rand.New(rand.NewPCG(seed, 2))
	n := s.samples(sec)
	syllable := s.samples(0.18)
	var formants [3]*resonator
	phase := 0.0
	out := make([]float64, n)
	peak := 0.0
	for i := range n {
		if i%syllable == 0 {
			v := vowels[rng.IntN(len(vowels))]
			for k := range formants {
				formants[k] = newResonator(s.rate, v[k]*(0.95+0.1*rng.Float64()), 60+40*float64(k))
			}
		}
		t := float64(i) / float64(s.rate)
		f0 := lo + (hi-lo)*(0.5+0.5*math.Sin(2*math.Pi*1.3*t+float64(seed)))
		phase += f0 / float64(s.rate)
		excitation := 0.0
		if phase >= 1 {
			phase--
			excitation = 1
		}
		excitation += 0.02 * rng.NormFloat64() // breath
		v := 0.0
		for k, f := range formants {
			v += f.next(excitation) / float64(k+1)
		}
		env := math.Sin(math.Pi * float64(i%syllable) / float64(syllable))
		out[i] = v * env
		peak = max(peak, math.Abs(out[i]))
	}
	gain := amplitude(dBm0) / peak
	for i := range out {
		s.x = append(s.x, out[i]*gain)
	}
	return s
}

// Equal-tempered notes (Hz) chosen near DTMF frequencies: F5, G5, A5, A#5,
// D6, D#6, E6, F#6, G#6, and some lower ones for the harmony.
var notes = []float64{698.46, 783.99, 880.00, 932.33, 1174.66, 1244.51, 1318.51, 1479.98, 1661.22, 220, 261.63, 329.63, 392}

// music appends sec seconds of chords of three notes with their first six
// harmonics (amplitude 1/k), changing every 250 ms with an attack-decay
// envelope, at roughly dBm0 peak level.
func (s *signal) music(sec, dBm0 float64, seed uint64) *signal {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := s.samples(sec)
	chordLen := s.samples(0.25)
	var chord [3]float64
	out := make([]float64, n)
	peak := 0.0
	for i := range n {
		if i%chordLen == 0 {
			for k := range chord {
				chord[k] = notes[rng.IntN(len(notes))]
			}
		}
		t := float64(i) / float64(s.rate)
		v := 0.0
		for _, f := range chord {
			for h := 1.0; h <= 6 && f*h < float64(s.rate)/2; h++ {
				v += math.Sin(2*math.Pi*f*h*t) / h
			}
		}
		age := float64(i%chordLen) / float64(s.rate)
		env := math.Min(1, age/0.01) * math.Exp(-age*4)
		out[i] = v * env
		peak = max(peak, math.Abs(out[i]))
	}
	gain := amplitude(dBm0) / peak
	for i := range out {
		s.x = append(s.x, out[i]*gain)
	}
	return s
}
