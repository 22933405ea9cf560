package tone

import (
	"errors"
	"math"
	"math/cmplx"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media/dtmf"
)

// readAll reads src in frames of size n until done (at most limit samples)
// and returns the samples and whether it ended.
func readAll(t *testing.T, src Source, n, limit int) ([]int16, bool) {
	t.Helper()
	var out []int16
	frame := make([]int16, n)
	for len(out) < limit {
		for i := range frame {
			frame[i] = 12345 // must be overwritten or ignored
		}
		k, done := src.Read(frame)
		if k < 0 || k > n {
			t.Fatalf("Read returned n = %d for a frame of %d", k, n)
		}
		if k < n && !done {
			t.Fatalf("Read returned %d of %d samples without done", k, n)
		}
		out = append(out, frame[:k]...)
		if done {
			if k2, done2 := src.Read(frame); k2 != 0 || !done2 {
				t.Fatalf("Read after done = %d, %v; want 0, true", k2, done2)
			}
			return out, true
		}
	}
	return out, false
}

// amplitudeAt measures the amplitude of the f Hz component of x with a
// Goertzel filter (the DFT at one frequency) over a Hann window, which
// keeps other components from leaking in.
func amplitudeAt(x []int16, f float64, rate int) float64 {
	var sum complex128
	var wsum float64
	n := len(x)
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		sum += complex(float64(v)*w, 0) * cmplx.Exp(complex(0, -2*math.Pi*f*float64(i)/float64(rate)))
		wsum += w
	}
	return 2 * cmplx.Abs(sum) / wsum
}

func dB(a, b float64) float64 { return 20 * math.Log10(a/b) }

func newTestGenerator(t *testing.T, rate int, p Pattern) *Generator {
	t.Helper()
	g, err := NewGenerator(rate, p)
	if err != nil {
		t.Fatalf("NewGenerator(%d, %+v): %v", rate, p, err)
	}
	return g
}

// TestGeneratorFrequencies measures each component of single and dual tones
// at both rates: at its level within 0.2 dB, with nothing 40 dB below it
// elsewhere.
func TestGeneratorFrequencies(t *testing.T) {
	tests := []struct {
		f1, f2 float64
		level  float64
	}{
		{f1: 1000, level: -10},
		{f1: 425, level: -16},
		{f1: 440, f2: 480, level: -19},
		{f1: 697, f2: 1209, level: -6},
		{f1: 941, f2: 1633, level: -30},
		{f1: 3000, level: 0},
		{f1: 350, f2: 440, level: MaxLevel - 6.03}, // the sum just reaches full scale
	}
	for _, rate := range []int{8000, 16000} {
		for _, tc := range tests {
			g := newTestGenerator(t, rate, Pattern{Steps: []Step{{Freq1: tc.f1, Freq2: tc.f2, Level: tc.level, Duration: time.Second}}, Repeat: 1})
			pcm, done := readAll(t, g, rate/50, 2*rate)
			if !done || len(pcm) != rate {
				t.Fatalf("%+v at %d Hz: %d samples, done %v; want %d, true", tc, rate, len(pcm), done, rate)
			}
			body := pcm[rate/10 : rate-rate/10] // past the ramps
			want := Amplitude(tc.level)
			for _, f := range []float64{tc.f1, tc.f2} {
				if f == 0 {
					continue
				}
				if got := amplitudeAt(body, f, rate); math.Abs(dB(got, want)) > 0.2 {
					t.Errorf("%+v at %d Hz: %v Hz at %.2f dB from its level", tc, rate, f, dB(got, want))
				}
			}
			for _, f := range []float64{300, 620, 852, 1336, 2000, 2500} {
				if math.Abs(f-tc.f1) < 60 || math.Abs(f-tc.f2) < 60 {
					continue
				}
				if got := amplitudeAt(body, f, rate); dB(got, want) > -40 {
					t.Errorf("%+v at %d Hz: %v Hz only %.1f dB down", tc, rate, f, dB(got, want))
				}
			}
		}
	}
}

// TestGeneratorCadence checks that tones and silences last exactly their
// durations in samples, whatever the frame size.
func TestGeneratorCadence(t *testing.T) {
	p := Pattern{Steps: []Step{
		{Freq1: 440, Freq2: 660, Level: -10, Duration: 100 * time.Millisecond},
		{Duration: 50 * time.Millisecond},
		{Freq1: 880, Level: -10, Duration: 30 * time.Millisecond},
		{Duration: 0}, // skipped
		{Duration: 20 * time.Millisecond},
	}, Repeat: 3}
	for _, rate := range []int{8000, 16000} {
		ms := rate / 1000
		var spans [][2]int // tone spans in samples
		at := 0
		for range 3 {
			spans = append(spans, [2]int{at, at + 100*ms}, [2]int{at + 150*ms, at + 180*ms})
			at += 200 * ms
		}
		var first []int16
		for _, frame := range []int{rate / 50, 97, 1, 4000} {
			g := newTestGenerator(t, rate, p)
			pcm, done := readAll(t, g, frame, 10*rate)
			if !done || len(pcm) != at {
				t.Fatalf("rate %d frame %d: %d samples, done %v; want %d, true", rate, frame, len(pcm), done, at)
			}
			if first == nil {
				first = pcm
			} else if !slices.Equal(pcm, first) {
				t.Errorf("rate %d: frames of %d give other samples than frames of %d", rate, frame, rate/50)
			}
		}
		inTone := func(i int) bool {
			for _, s := range spans {
				if i >= s[0] && i < s[1] {
					return true
				}
			}
			return false
		}
		for i, v := range first {
			if !inTone(i) && v != 0 {
				t.Fatalf("rate %d: sample %d = %d inside a silence", rate, i, v)
			}
		}
		for _, s := range spans {
			if first[s[0]] == 0 {
				t.Errorf("rate %d: tone at sample %d starts silent", rate, s[0])
			}
			mid := first[s[0]+5*ms : s[1]-5*ms]
			if peak := slices.Max(mid); float64(peak) < 0.9*Amplitude(-10) {
				t.Errorf("rate %d: tone at sample %d peaks at %d", rate, s[0], peak)
			}
		}
	}
}

// TestGeneratorRamp checks the rise and fall: small first and last samples,
// growing over 2 ms.
func TestGeneratorRamp(t *testing.T) {
	g := newTestGenerator(t, 8000, Pattern{Steps: []Step{{Freq1: 10, Level: 0, Duration: 50 * time.Millisecond}}, Repeat: 1})
	pcm, _ := readAll(t, g, 160, 8000)
	amp := Amplitude(0)
	if v := math.Abs(float64(pcm[0])); v > 0.02*amp || v == 0 {
		t.Errorf("first sample %v, want small but not zero", v)
	}
	if v := math.Abs(float64(pcm[len(pcm)-1])); v > 0.02*amp {
		t.Errorf("last sample %v, want small", v)
	}
	// 10 Hz barely moves in 2 ms, so the samples follow the ramp.
	for i := 1; i < 16; i++ {
		if pcm[i] <= pcm[i-1] {
			t.Errorf("sample %d = %d does not rise from %d", i, pcm[i], pcm[i-1])
		}
	}
	if v := float64(pcm[16]); v < 0.97*amp {
		t.Errorf("sample 16 = %v, want the full amplitude %v", v, amp)
	}
}

// TestGeneratorForever plays ringback for an hour of samples: it never ends
// and its level does not drift.
func TestGeneratorForever(t *testing.T) {
	if testing.Short() {
		t.Skip("plays an hour of tone")
	}
	g := newTestGenerator(t, 8000, RingbackNorthAmerica())
	frame := make([]int16, 160)
	const frames = 3600 * 50
	for i := range frames - 6*50 {
		if _, done := g.Read(frame); done {
			t.Fatalf("ringback ended after %d frames", i)
		}
	}
	// The last cadence: 2 s on, 4 s off.
	last, done := readAll(t, g, 160, 6*8000)
	if done {
		t.Fatal("ringback ended")
	}
	for _, f := range []float64{440, 480} {
		if got := amplitudeAt(last[800:15200], f, 8000); math.Abs(dB(got, Amplitude(-19))) > 0.2 {
			t.Errorf("%v Hz after an hour at %.2f dB from its level", f, dB(got, Amplitude(-19)))
		}
	}
	if slices.Max(last[16000:]) != 0 || slices.Min(last[16000:]) != 0 {
		t.Errorf("the off period is not silent")
	}
}

// TestGeneratorDTMF dials every digit in-band and hears them with the DTMF
// detector, at both rates.
func TestGeneratorDTMF(t *testing.T) {
	const digits = "1234567890*#ABCD"
	for _, rate := range []int{8000, 16000} {
		p, err := DTMF(digits, 50*time.Millisecond, 50*time.Millisecond, -10)
		if err != nil {
			t.Fatal(err)
		}
		g := newTestGenerator(t, rate, p)
		d, err := dtmf.NewDetector(dtmf.DetectorConfig{SampleRate: rate})
		if err != nil {
			t.Fatal(err)
		}
		pcm, done := readAll(t, g, rate/50, 10*rate)
		if want := len(digits) * rate / 10; !done || len(pcm) != want {
			t.Fatalf("rate %d: %d samples, done %v; want %d, true", rate, len(pcm), done, want)
		}
		if got := string(d.Detect(nil, pcm)); got != digits {
			t.Errorf("rate %d: detected %q, want %q", rate, got, digits)
		}
	}
	if _, err := DTMF("12x", time.Second, time.Second, -10); !errors.Is(err, ErrPattern) {
		t.Errorf("DTMF(12x) error = %v, want %v", err, ErrPattern)
	}
	if _, err := DTMF("", time.Second, time.Second, -10); !errors.Is(err, ErrPattern) {
		t.Errorf("DTMF(\"\") error = %v, want %v", err, ErrPattern)
	}
}

func TestRingback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Pattern
		on, off int // samples at 8 kHz
		freqs   []float64
	}{
		{name: "North America", p: RingbackNorthAmerica(), on: 16000, off: 32000, freqs: []float64{440, 480}},
		{name: "Europe", p: RingbackEurope(), on: 8000, off: 32000, freqs: []float64{425}},
	} {
		g := newTestGenerator(t, 8000, tc.p)
		pcm, done := readAll(t, g, 160, 2*(tc.on+tc.off))
		if done {
			t.Fatalf("%s ended", tc.name)
		}
		for cycle := range 2 {
			start := cycle * (tc.on + tc.off)
			on := pcm[start : start+tc.on]
			off := pcm[start+tc.on : start+tc.on+tc.off]
			if on[0] == 0 || on[len(on)-1] == 0 && on[len(on)-2] == 0 {
				t.Errorf("%s: tone does not fill its %d samples", tc.name, tc.on)
			}
			if slices.Max(off) != 0 || slices.Min(off) != 0 {
				t.Errorf("%s: off period of cycle %d is not silent", tc.name, cycle)
			}
			for _, f := range tc.freqs {
				if a := amplitudeAt(on[800:len(on)-800], f, 8000); a < Amplitude(-20) {
					t.Errorf("%s: %v Hz missing (%v)", tc.name, f, a)
				}
			}
		}
	}
}

func TestGeneratorErrors(t *testing.T) {
	ok := []Step{{Freq1: 440, Level: -10, Duration: time.Second}}
	tests := []struct {
		name string
		rate int
		p    Pattern
	}{
		{name: "rate", rate: 4000, p: Pattern{Steps: ok}},
		{name: "rate high", rate: 96000, p: Pattern{Steps: ok}},
		{name: "no steps", rate: 8000, p: Pattern{}},
		{name: "negative repeat", rate: 8000, p: Pattern{Steps: ok, Repeat: -1}},
		{name: "negative duration", rate: 8000, p: Pattern{Steps: []Step{{Freq1: 440, Duration: -time.Second}}}},
		{name: "above Nyquist", rate: 8000, p: Pattern{Steps: []Step{{Freq1: 4000, Duration: time.Second}}}},
		{name: "negative frequency", rate: 8000, p: Pattern{Steps: []Step{{Freq2: -5, Duration: time.Second}}}},
		{name: "NaN frequency", rate: 8000, p: Pattern{Steps: []Step{{Freq1: math.NaN(), Duration: time.Second}}}},
		{name: "too loud", rate: 8000, p: Pattern{Steps: []Step{{Freq1: 440, Level: 4, Duration: time.Second}}}},
		{name: "NaN level", rate: 8000, p: Pattern{Steps: []Step{{Freq1: 440, Level: math.NaN(), Duration: time.Second}}}},
		{name: "no samples", rate: 8000, p: Pattern{Steps: []Step{{Freq1: 440, Duration: time.Microsecond}, {Duration: 0}}}},
	}
	for _, tc := range tests {
		if _, err := NewGenerator(tc.rate, tc.p); !errors.Is(err, ErrPattern) {
			t.Errorf("%s: NewGenerator error = %v, want %v", tc.name, err, ErrPattern)
		}
	}
}

func TestGeneratorReset(t *testing.T) {
	p, err := DTMF("159", 60*time.Millisecond, 40*time.Millisecond, -8)
	if err != nil {
		t.Fatal(err)
	}
	g := newTestGenerator(t, 8000, p)
	a, _ := readAll(t, g, 160, 8000)
	g.Reset()
	b, _ := readAll(t, g, 160, 8000)
	if !slices.Equal(a, b) {
		t.Errorf("output after Reset differs")
	}
}

func TestSamples(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rate int
		want int
	}{
		{d: 20 * time.Millisecond, rate: 8000, want: 160},
		{d: 20 * time.Millisecond, rate: 16000, want: 320},
		{d: time.Second / 3, rate: 8000, want: 2667},
		{d: 62 * time.Microsecond, rate: 8000, want: 0},
		{d: 63 * time.Microsecond, rate: 8000, want: 1},
		{d: time.Hour, rate: 48000, want: 172_800_000},
	}
	for _, tc := range tests {
		if got := Samples(tc.d, tc.rate); got != tc.want {
			t.Errorf("Samples(%v, %d) = %d, want %d", tc.d, tc.rate, got, tc.want)
		}
	}
}
