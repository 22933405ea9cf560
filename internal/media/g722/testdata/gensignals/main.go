// Command gensignals writes the test signals of the G.722 golden tests:
// 16 kHz mono signed 16-bit little-endian PCM, each a whole number of 20 ms
// frames, plus two G.722 code streams for the decoder alone: random bytes,
// and a stream built to overload the predictors. gen.sh runs
// it before asking ffmpeg for the reference encodings. The output is
// committed; the tests never run this.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
)

const rate = 16000

func main() {
	rng := rand.New(rand.NewPCG(722, 64000))
	signals := []struct {
		name string
		pcm  []int16
	}{
		{"sweep", sweep(rate)},
		{"twotone", twoTone(rate / 2)},
		{"bursts", bursts(rng, rate*4/5)},
		{"silence", make([]int16, rate/5)},
		{"clipping", clipping(rate * 2 / 5)},
	}
	for _, s := range signals {
		write(s.name+".s16le", s.pcm)
	}
	raw := make([]byte, 4000)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile("random.g722", raw, 0o644); err != nil {
		fail(err)
	}
	if err := os.WriteFile("overload.g722", overload(4000), 0o644); err != nil {
		fail(err)
	}
}

// overload is a code stream no encoder would send: runs of the largest
// negative and largest positive lower-band codes (4 and 32), with the
// higher band swinging between its two large codes in runs of another
// length. It drives both predictors into the saturating branches of FILTEZ
// and PREDIC, which natural audio never reaches.
func overload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		il, ih := byte(0x04), byte(0)
		if (i/7)%2 == 1 {
			il = 0x20
		}
		if i >= n/2 && (i/5)%2 == 1 {
			ih = 2
		}
		b[i] = ih<<6 | il
	}
	return b
}

// sweep is an exponential sine sweep from 50 Hz to 7.9 kHz at -6 dBFS: it
// crosses the band split at 4 kHz and reaches the top of the higher band.
func sweep(n int) []int16 {
	const f0, f1 = 50.0, 7900.0
	pcm := make([]int16, n)
	dur := float64(n) / rate
	k := math.Log(f1 / f0)
	for i := range pcm {
		t := float64(i) / rate
		phase := 2 * math.Pi * f0 * dur / k * (math.Exp(t/dur*k) - 1)
		pcm[i] = int16(16000 * math.Sin(phase))
	}
	return pcm
}

// twoTone puts one tone in each sub-band: 1 kHz and 5.5 kHz.
func twoTone(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(i) / rate
		pcm[i] = int16(10000*math.Sin(2*math.Pi*1000*t) + 6000*math.Sin(2*math.Pi*5500*t))
	}
	return pcm
}

// bursts imitates speech: syllable-length bursts of low-passed noise mixed
// with a 120 Hz glottal pulse train, at varying loudness, separated by
// near-silent gaps.
func bursts(rng *rand.Rand, n int) []int16 {
	pcm := make([]int16, n)
	var lp float64
	level, on := 0.0, 0
	for i := range pcm {
		if on == 0 {
			on = 800 + rng.IntN(3200) // 50-250 ms segments
			if level > 0 {
				level = 0.002
			} else {
				level = 0.05 + 0.9*rng.Float64()
			}
		}
		on--
		lp = 0.7*lp + 0.3*(2*rng.Float64()-1)
		pulse := 0.0
		if i%(rate/120) < 8 {
			pulse = 0.6
		}
		v := level * 30000 * (0.8*lp + pulse)
		pcm[i] = int16(max(min(v, 32767), -32768))
	}
	return pcm
}

// clipping is a 300 Hz sine driven three times past full scale and clipped,
// followed by full-scale steps: the saturating paths of both sub-bands.
func clipping(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		if i < n/2 {
			v := 3 * 32768 * math.Sin(2*math.Pi*300*float64(i)/rate)
			pcm[i] = int16(max(min(v, 32767), -32768))
			continue
		}
		if (i/40)%2 == 0 {
			pcm[i] = 32767
		} else {
			pcm[i] = -32768
		}
	}
	return pcm
}

func write(name string, pcm []int16) {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gensignals:", err)
	os.Exit(1)
}
