package mix

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// kaiserHalfband designs the half-band filter documented on halfband: the
// ideal 4 kHz low-pass at 16 kHz, sin(πn/2)/(πn), under a Kaiser window of
// the given β, its 12 odd side taps scaled to sum (both sides) to 16384.
func kaiserHalfband(beta float64) [12]int32 {
	i0 := func(x float64) float64 { // modified Bessel function, order 0
		s, term := 1.0, 1.0
		for k := 1; k < 50; k++ {
			term *= x / 2 / float64(k)
			s += term * term
		}
		return s
	}
	var side [12]float64
	var sum float64
	for k := range side {
		n := float64(2*k + 1)
		r := n / float64(hbMid+1)
		side[k] = math.Sin(math.Pi*n/2) / (math.Pi * n) * i0(beta*math.Sqrt(1-r*r)) / i0(beta)
		sum += 2 * side[k]
	}
	var q [12]int32
	for k := range side {
		q[k] = int32(math.Round(side[k] / sum * 16384))
	}
	return q
}

func TestHalfbandDesign(t *testing.T) {
	if got := kaiserHalfband(5); got != halfband {
		t.Errorf("design = %v, table = %v", got, halfband)
	}
	var sum int32
	for _, c := range halfband {
		sum += 2 * c
	}
	if sum != 16384 {
		t.Errorf("side taps sum to %d, want 16384", sum)
	}
}

// response returns |H(f)| of the 47-tap filter at f Hz (16 kHz).
func response(f float64) float64 {
	w := 2 * math.Pi * f / 16000
	h := 0.5
	for k, c := range halfband {
		h += 2 * float64(c) / 32768 * math.Cos(w*float64(2*k+1))
	}
	return math.Abs(h)
}

func TestHalfbandResponse(t *testing.T) {
	for f := 0.0; f <= 3400; f += 10 {
		if db := 20 * math.Log10(response(f)); math.Abs(db) > 0.03 {
			t.Errorf("passband %v Hz: %.3f dB, want within ±0.03", f, db)
		}
	}
	for f := 4600.0; f <= 8000; f += 10 {
		if db := 20 * math.Log10(response(f)); db > -52 {
			t.Errorf("stopband %v Hz: %.1f dB, want below -52", f, db)
		}
	}
}

// upStream runs in through u in calls of the given sizes (cycling) and
// returns the output; downStream does the same for d.
func upStream(t *testing.T, u *Upsampler, in []int16, sizes ...int) []int16 {
	t.Helper()
	var out []int16
	buf := make([]int16, 2*maxResampleIn)
	for i, s := 0, 0; i < len(in); s++ {
		n := min(sizes[s%len(sizes)], len(in)-i)
		got, err := u.Process(buf, in[i:i+n])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		i += n
	}
	return out
}

func downStream(t *testing.T, d *Downsampler, in []int16, sizes ...int) []int16 {
	t.Helper()
	var out []int16
	buf := make([]int16, maxResampleIn)
	for i, s := 0, 0; i < len(in); s++ {
		n := min(sizes[s%len(sizes)], len(in)-i)
		got, err := d.Process(buf, in[i:i+n])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		i += n
	}
	return out
}

// TestUpsampleResponse: a tone in the telephone band comes out at 16 kHz at
// the same amplitude, and its image mirrored about 4 kHz is at least 50 dB
// down.
func TestUpsampleResponse(t *testing.T) {
	const amp = 10000
	for _, f := range []float64{100, 300, 1000, 2000, 3000, 3400} {
		var u Upsampler
		out := upStream(t, &u, tone(8000, 8000, 0, f, amp), 160)
		tail := out[len(out)-3200:] // settled: the last 200 ms
		if got := amplitude(tail, 16000, f); math.Abs(20*math.Log10(got/amp)) > 0.05 {
			t.Errorf("%v Hz: amplitude %.1f, want %d ± 0.05 dB", f, got, amp)
		}
		if got := amplitude(tail, 16000, 8000-f); 20*math.Log10(got/amp) > -50 {
			t.Errorf("%v Hz: image at %v Hz is %.1f dB, want below -50", f, 8000-f, 20*math.Log10(got/amp))
		}
	}
}

// TestDownsampleResponse: a tone in the telephone band passes; a tone above
// 4.6 kHz would alias into the band and must be at least 50 dB down.
func TestDownsampleResponse(t *testing.T) {
	const amp = 10000
	for _, f := range []float64{100, 300, 1000, 2000, 3000, 3400} {
		var d Downsampler
		out := downStream(t, &d, tone(16000, 16000, 0, f, amp), 320)
		tail := out[len(out)-1600:]
		if got := amplitude(tail, 8000, f); math.Abs(20*math.Log10(got/amp)) > 0.05 {
			t.Errorf("%v Hz: amplitude %.1f, want %d ± 0.05 dB", f, got, amp)
		}
	}
	for _, f := range []float64{4600, 5000, 6000, 7000, 7700} {
		var d Downsampler
		out := downStream(t, &d, tone(16000, 16000, 0, f, amp), 320)
		tail := out[len(out)-1600:]
		if got := amplitude(tail, 8000, 8000-f); 20*math.Log10(got/amp) > -50 {
			t.Errorf("%v Hz aliases to %v Hz at %.1f dB, want below -50", f, 8000-f, 20*math.Log10(got/amp))
		}
	}
}

// TestResampleFramesJoin: the output does not depend on how the stream is
// cut into calls, so frame boundaries cannot click.
func TestResampleFramesJoin(t *testing.T) {
	in8 := tone(8000, 4000, 0, 1234, 12000)
	var u1, u2 Upsampler
	whole := upStream(t, &u1, in8, 160)
	cut := upStream(t, &u2, in8, 1, 7, 320, 33, 160, 2)
	if !slices.Equal(whole, cut) {
		t.Error("upsampling in uneven calls differs from 20 ms frames")
	}
	in16 := tone(16000, 8000, 0, 1234, 12000)
	var d1, d2 Downsampler
	whole = downStream(t, &d1, in16, 320)
	cut = downStream(t, &d2, in16, 2, 14, 640, 66, 320, 4)
	if !slices.Equal(whole, cut) {
		t.Error("downsampling in uneven calls differs from 20 ms frames")
	}
	// And the joined output is smooth: no step larger than the tone's own.
	maxStep := 2 * math.Pi * 1234 / 16000 * 12000 * 1.01
	up := upStream(t, new(Upsampler), in8, 160)
	for i := 100; i < len(up); i++ {
		if d := math.Abs(float64(up[i]) - float64(up[i-1])); d > maxStep+2 {
			t.Fatalf("upsampled step %v at sample %d exceeds %.0f", d, i, maxStep)
		}
	}
}

// TestResampleRoundTrip: 8 → 16 → 8 kHz returns the input, delayed by 23
// samples (2 × 23 at 16 kHz).
func TestResampleRoundTrip(t *testing.T) {
	in := make([]int16, 4000)
	for _, f := range []float64{350, 1100, 2650} {
		for i, v := range tone(8000, len(in), 0, f, 6000) {
			in[i] += v
		}
	}
	var u Upsampler
	var d Downsampler
	out := downStream(t, &d, upStream(t, &u, in, 160), 320)
	var sig, noise float64
	for i := 200; i < len(in); i++ {
		e := float64(out[i]) - float64(in[i-hbMid])
		sig += float64(in[i-hbMid]) * float64(in[i-hbMid])
		noise += e * e
	}
	if snr := 10 * math.Log10(sig/noise); snr < 45 {
		t.Errorf("round trip SNR = %.1f dB, want ≥ 45", snr)
	}
}

func TestResampleDC(t *testing.T) {
	in := make([]int16, 800)
	for i := range in {
		in[i] = 10000
	}
	up := upStream(t, new(Upsampler), in, 160)
	for i := 2 * hbMid; i < len(up); i++ {
		if up[i] != 10000 {
			t.Fatalf("upsampled DC sample %d = %d, want 10000 (no 8 kHz ripple)", i, up[i])
		}
	}
	down := downStream(t, new(Downsampler), append(in, in...), 320)
	for i := hbMid + 1; i < len(down); i++ {
		if down[i] != 10000 {
			t.Fatalf("downsampled DC sample %d = %d, want 10000", i, down[i])
		}
	}
}

// TestResampleSaturates: the filter's overshoot on a full-scale square wave
// saturates rather than wrapping.
func TestResampleSaturates(t *testing.T) {
	in := make([]int16, 1600)
	for i := range in {
		if (i/20)%2 == 0 {
			in[i] = 32767
		} else {
			in[i] = -32768
		}
	}
	up := upStream(t, new(Upsampler), in, 160)
	for i := 2 * hbMid; i < len(up); i++ {
		want := in[(i-hbMid)/2]
		if (up[i] > 0) != (want > 0) && math.Abs(float64(up[i])) > 20000 {
			t.Fatalf("upsampled square wave sample %d = %d, near input %d: wrapped", i, up[i], want)
		}
	}
	down := downStream(t, new(Downsampler), in, 320)
	for i := hbMid; i < len(down); i++ {
		want := in[2*i-hbMid]
		if (down[i] > 0) != (want > 0) && math.Abs(float64(down[i])) > 20000 {
			t.Fatalf("downsampled square wave sample %d = %d, near input %d: wrapped", i, down[i], want)
		}
	}
}

func TestResampleErrors(t *testing.T) {
	var u Upsampler
	var d Downsampler
	big := make([]int16, 2*maxResampleIn+2)
	tests := []struct {
		name string
		err  error
	}{
		{"up: src too long", func() error { _, err := u.Process(big, big[:maxResampleIn+1]); return err }()},
		{"up: dst too short", func() error { _, err := u.Process(big[:319], big[:160]); return err }()},
		{"down: odd src", func() error { _, err := d.Process(big, big[:321]); return err }()},
		{"down: src too long", func() error { _, err := d.Process(big, big[:2*maxResampleIn+2]); return err }()},
		{"down: dst too short", func() error { _, err := d.Process(big[:159], big[:320]); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrResample) {
			t.Errorf("%s: error = %v, want %v", tt.name, tt.err, ErrResample)
		}
	}
	// Failed calls leave the history untouched.
	if u != (Upsampler{}) || d != (Downsampler{}) {
		t.Error("a failed call changed the resampler state")
	}
	if out, err := u.Process(nil, nil); err != nil || len(out) != 0 {
		t.Errorf("Process(empty) = %v, %v; want empty, nil", out, err)
	}
}

func TestResampleReset(t *testing.T) {
	in := tone(8000, 160, 0, 1000, 10000)
	var u Upsampler
	first, _ := u.Process(make([]int16, 320), in)
	first = slices.Clone(first)
	u.Reset()
	again, _ := u.Process(make([]int16, 320), in)
	if !slices.Equal(first, again) {
		t.Error("Upsampler.Reset did not clear the history")
	}
	in16 := tone(16000, 320, 0, 1000, 10000)
	var d Downsampler
	a, _ := d.Process(make([]int16, 160), in16)
	a = slices.Clone(a)
	d.Reset()
	b, _ := d.Process(make([]int16, 160), in16)
	if !slices.Equal(a, b) {
		t.Error("Downsampler.Reset did not clear the history")
	}
}
