package prompts

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	square := make([]int16, 800)
	for i := range square {
		square[i] = 32767
		if i%2 == 1 {
			square[i] = -32768
		}
	}
	sine := tone(8000, 0.5)
	tests := []struct {
		name     string
		pcm      []int16
		wantPeak int
		wantRMS  float64
	}{
		{"full-scale square", square, 32768, 0},
		{"half-scale sine", sine, 16383, 20 * math.Log10(0.5/math.Sqrt2)}, // -9.03
		{"silence", make([]int16, 100), 0, math.Inf(-1)},
		{"empty", nil, 0, math.Inf(-1)},
	}
	for _, tt := range tests {
		peak, rms := levels(tt.pcm)
		if peak < tt.wantPeak-1 || peak > tt.wantPeak {
			t.Errorf("%s: peak %d; want %d", tt.name, peak, tt.wantPeak)
		}
		if math.IsInf(tt.wantRMS, -1) != math.IsInf(rms, -1) || (!math.IsInf(rms, -1) && math.Abs(rms-tt.wantRMS) > 0.05) {
			t.Errorf("%s: RMS %.2f dBFS; want %.2f", tt.name, rms, tt.wantRMS)
		}
	}
}

func TestCheckSpeech(t *testing.T) {
	amp := func(db float64) float64 { return math.Pow(10, db/20) * math.Sqrt2 } // sine amplitude for an RMS level
	tests := []struct {
		name string
		pcm  []int16
		want string // "" for no problem
	}{
		{"good", tone(Rate, amp(-20)), ""},
		{"shortest", tone(MinClip, amp(-20)), ""},
		{"too short", tone(MinClip-1, amp(-20)), "long; want 0.2 to 15 s"},
		{"too long", tone(MaxClip+1, amp(-20)), "long; want 0.2 to 15 s"},
		{"too quiet", tone(Rate, amp(-30)), "RMS -30.0 dBFS"},
		{"too loud", tone(Rate, amp(-12)), "RMS -12.0 dBFS"},
		{"clipped", withPeak(tone(Rate, amp(-20)), 32767), "peak 32767"},
		{"silent", make([]int16, Rate), "RMS -Inf dBFS"},
	}
	for _, tt := range tests {
		errs := checkSpeech("x.ima", tt.pcm)
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%s: checkSpeech = %v; want no problem", tt.name, errs)
			}
			continue
		}
		if !containsErr(errs, tt.want) {
			t.Errorf("%s: checkSpeech = %v; want a problem saying %q", tt.name, errs, tt.want)
		}
	}
}

// loop returns n samples of a chord whose partials complete whole cycles in
// n samples, so that it loops seamlessly.
func loop(n int) []int16 {
	pcm := make([]int16, n)
	secs := float64(n) / Rate
	for i := range pcm {
		var v float64
		for k, hz := range []float64{261.625, 329.625, 392.0} {
			f := math.Round(hz*secs) / secs                           // whole cycles in the loop
			v += math.Sin(2*math.Pi*f*float64(i)/Rate + float64(k+1)) // the seam at no special phase
		}
		pcm[i] = int16(v / 3 * 0.25 * 32767)
	}
	return pcm
}

func TestCheckMusic(t *testing.T) {
	good := loop(32 * Rate)
	if errs := checkMusic("good", good); len(errs) > 0 {
		t.Fatalf("checkMusic(seamless loop) = %v; want no problem", errs)
	}
	// Cutting the loop a quarter of a cycle short leaves a jump at the seam.
	cut := loop(32 * Rate)[:32*Rate-7]
	if errs := checkMusic("cut", cut); !containsErr(errs, "loop seam steps by") {
		t.Errorf("checkMusic(cut loop) = %v; want a seam problem", errs)
	}
	// A kink: no step across the seam, but a sharp corner.
	kink := loop(32 * Rate)
	n := len(kink)
	kink[n-1], kink[n-2] = kink[0], kink[0]+8000
	if errs := checkMusic("kink", kink); !containsErr(errs, "loop seam bends by") {
		t.Errorf("checkMusic(kinked loop) = %v; want a bend problem", errs)
	}
	if errs := checkMusic("short", loop(10*Rate)); !containsErr(errs, "10.0 s long") {
		t.Errorf("checkMusic(10 s) = %v; want a length problem", errs)
	}
	quiet := loop(32 * Rate)
	for i := range quiet {
		quiet[i] /= 10
	}
	if errs := checkMusic("quiet", quiet); !containsErr(errs, "RMS") {
		t.Errorf("checkMusic(quiet) = %v; want a level problem", errs)
	}
	if errs := checkMusic("tiny", []int16{1, 2}); !containsErr(errs, "long; want 20 to 40 s") {
		t.Errorf("checkMusic(2 samples) = %v; want a length problem and no panic", errs)
	}
}

func TestSeamAndRoughness(t *testing.T) {
	x := []int16{10, 20, 40, 70}
	step, bend := seam(x) // 70 -> 10: step 60; slope 30 then -60: bend 90
	if step != 60 || bend != 90 {
		t.Errorf("seam(%v) = %d, %d; want 60, 90", x, step, bend)
	}
	steps, bends := roughness(x)
	if want := []int{10, 20, 30}; !slices.Equal(steps, want) {
		t.Errorf("roughness steps = %v; want %v", steps, want)
	}
	if want := []int{10, 10}; !slices.Equal(bends, want) {
		t.Errorf("roughness bends = %v; want %v", bends, want)
	}
}

func TestPercentile(t *testing.T) {
	v := []int{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for p, want := range map[float64]int{0: 1, 0.5: 6, 0.9: 10, 0.99: 10, 1: 10} {
		if got := percentile(append([]int(nil), v...), p); got != want {
			t.Errorf("percentile(%v) = %d; want %d", p, got, want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(empty) = %d; want 0", got)
	}
}

func TestCheckStray(t *testing.T) {
	want := map[string]bool{}
	errs := checkStray(want)
	if len(errs) < 700 {
		t.Errorf("checkStray(nothing wanted) = %d problems; want one per clip", len(errs))
	}
	for _, err := range errs {
		if !errors.Is(err, ErrAudio) || !strings.Contains(err.Error(), "no catalog entry speaks it") {
			t.Fatalf("checkStray error %v; want an ErrAudio for a stray clip", err)
		}
	}
}

// tone returns n samples of a 440 Hz sine at amplitude amp (of full scale).
func tone(n int, amp float64) []int16 {
	hz := 440.0
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/Rate))
	}
	return pcm
}

func withPeak(pcm []int16, peak int16) []int16 {
	pcm[len(pcm)/2] = peak
	return pcm
}

func containsErr(errs []error, s string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}
