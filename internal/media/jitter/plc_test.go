package jitter

import (
	"math"
	"testing"
	"time"
)

// voiced returns a vowel-like signal: harmonics of f0 with falling
// amplitude, sampled at rate.
func voiced(rate int, f0 float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		var v float64
		for h := 1; h <= 6; h++ {
			v += math.Sin(2*math.Pi*f0*float64(h)*float64(i)/float64(rate)+float64(h)) / float64(h)
		}
		out[i] = int16(6000 * v)
	}
	return out
}

func snr(ref, got []int16) float64 {
	var s, e float64
	for i := range ref {
		d := float64(ref[i]) - float64(got[i])
		s += float64(ref[i]) * float64(ref[i])
		e += d * d
	}
	return 10 * math.Log10(s/max(e, 1))
}

func energy(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e / float64(len(x))
}

// TestPLCPitch conceals one frame of a voiced signal whose period is not a
// whole number of samples: pitch repetition must find the period and
// predict the lost audio far better than repeating the last frame would,
// at 8 and 16 kHz and for low and high voices.
func TestPLCPitch(t *testing.T) {
	tests := []struct {
		rate   int
		f0     float64
		minSNR float64
	}{
		{8000, 130, 15},
		{8000, 210, 15},
		{8000, 83, 15},
		{16000, 137, 15},
	}
	for _, tt := range tests {
		p, err := NewPLC(tt.rate, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		n := p.FrameSize()
		sig := voiced(tt.rate, tt.f0, 11*n)
		for k := range 10 {
			p.Good(append([]int16(nil), sig[k*n:(k+1)*n]...))
		}
		out := make([]int16, n)
		p.Conceal(out)
		// The search spans 5-15 ms; a shorter period is found as its
		// smallest multiple in range.
		period := float64(tt.rate) / tt.f0
		if want := period * math.Ceil(float64(tt.rate/200)/period); math.Abs(float64(p.pitch)-want) > 1 {
			t.Errorf("%d Hz, f0 %v: pitch %d samples, want %.1f", tt.rate, tt.f0, p.pitch, want)
		}
		// The first 10 ms are not attenuated; compare them with the truth
		// and with a plain repetition of the last frame.
		ms10 := tt.rate / 100
		got := snr(sig[10*n:10*n+ms10], out[:ms10])
		naive := snr(sig[10*n:10*n+ms10], sig[9*n:9*n+ms10])
		t.Logf("%d Hz, f0 %v: SNR %.1f dB, frame repetition %.1f dB", tt.rate, tt.f0, got, naive)
		if got < tt.minSNR || got < naive+10 {
			t.Errorf("%d Hz, f0 %v: SNR %.1f dB, want ≥ %v and 10 dB over frame repetition (%.1f)", tt.rate, tt.f0, got, tt.minSNR, naive)
		}
	}
}

// TestPLCFade conceals 80 ms: the level falls after 10 ms and reaches
// silence at 60 ms; recovery fades the real signal in without a click.
func TestPLCFade(t *testing.T) {
	p, _ := NewPLC(8000, 20*time.Millisecond)
	sig := voiced(8000, 150, 10*160)
	for k := range 5 {
		p.Good(append([]int16(nil), sig[k*160:(k+1)*160]...))
	}
	lost := make([]int16, 4*160)
	for k := range 4 {
		p.Conceal(lost[k*160 : (k+1)*160])
	}
	e0, e1 := energy(lost[:80]), energy(lost[240:320])
	if e1 >= e0/2 {
		t.Errorf("energy after 30 ms %.0f, first 10 ms %.0f: not attenuated", e1, e0)
	}
	for i, v := range lost[480:] {
		if v != 0 {
			t.Fatalf("sample %d after 60 ms: %d, want silence", 480+i, v)
		}
	}
	good := append([]int16(nil), sig[9*160:10*160]...)
	p.Good(good)
	// Fading in from silence: the first blended sample is small, and the
	// blend ends on the real signal.
	if good[0] > 2000 || good[0] < -2000 {
		t.Errorf("first sample after the gap: %d", good[0])
	}
	if good[100] != sig[9*160+100] {
		t.Errorf("sample 100 after recovery: got %d, want %d", good[100], sig[9*160+100])
	}
}

// TestPLCRecoveryJoin conceals one frame and checks that the join into the
// next real frame has no jump larger than the signal's own steps.
func TestPLCRecoveryJoin(t *testing.T) {
	p, _ := NewPLC(8000, 20*time.Millisecond)
	sig := voiced(8000, 110, 12*160)
	for k := range 10 {
		p.Good(append([]int16(nil), sig[k*160:(k+1)*160]...))
	}
	out := make([]int16, 160)
	p.Conceal(out)
	good := append([]int16(nil), sig[11*160:12*160]...)
	p.Good(good)
	maxStep := 0.0
	for i := 1; i < len(sig); i++ {
		maxStep = max(maxStep, math.Abs(float64(sig[i])-float64(sig[i-1])))
	}
	joined := append(append(append([]int16(nil), sig[9*160:10*160]...), out...), good...)
	for i := 1; i < len(joined); i++ {
		if step := math.Abs(float64(joined[i]) - float64(joined[i-1])); step > 1.5*maxStep {
			t.Errorf("sample %d: step %.0f, signal's largest %.0f", i, step, maxStep)
		}
	}
}

// TestPLCLongGap conceals 50 ms in 10 ms frames, crossing the switches to
// two and three periods, and checks the output stays bounded and smooth.
func TestPLCLongGap(t *testing.T) {
	p, _ := NewPLC(8000, 10*time.Millisecond)
	sig := voiced(8000, 95, 30*80)
	for k := range 20 {
		p.Good(append([]int16(nil), sig[k*80:(k+1)*80]...))
	}
	out := make([]int16, 5*80)
	for k := range 5 {
		p.Conceal(out[k*80 : (k+1)*80])
	}
	if p.periods != 3 {
		t.Errorf("periods after 50 ms: %d, want 3", p.periods)
	}
	var peak float64
	for _, v := range sig {
		peak = max(peak, math.Abs(float64(v)))
	}
	for i, v := range out {
		if math.Abs(float64(v)) > 1.2*peak {
			t.Fatalf("sample %d: %d exceeds the signal's peak %.0f", i, v, peak)
		}
	}
}

func TestPLCSilenceAndConfig(t *testing.T) {
	p, _ := NewPLC(8000, 20*time.Millisecond)
	p.Good(voiced(8000, 120, 160))
	p.Reset()
	out := make([]int16, 160)
	p.Conceal(out)
	for _, v := range out {
		if v != 0 {
			t.Fatalf("concealment after Reset: %d, want silence", v)
		}
	}
	for _, c := range []struct {
		rate  int
		frame time.Duration
	}{{4000, 20 * time.Millisecond}, {96000, 20 * time.Millisecond}, {8000, 100 * time.Microsecond}, {11025, 20*time.Millisecond + 1}} {
		if _, err := NewPLC(c.rate, c.frame); err == nil {
			t.Errorf("NewPLC(%d, %v): no error", c.rate, c.frame)
		}
	}
	if clip16(40000) != math.MaxInt16 || clip16(-40000) != math.MinInt16 {
		t.Error("clip16")
	}
}

func BenchmarkPLC(b *testing.B) {
	p, _ := NewPLC(8000, 20*time.Millisecond)
	sig := voiced(8000, 120, 160)
	frame, out := make([]int16, 160), make([]int16, 160)
	b.Run("Good", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			copy(frame, sig)
			p.Good(frame)
		}
	})
	b.Run("ConcealOneFrame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			copy(frame, sig)
			p.Good(frame)
			p.Conceal(out)
		}
	})
}

// TestPLCHistoryRing checks the ring that holds the history: after any
// sequence of pushes, read oldest first, it is the last samples pushed, for
// frames shorter than, equal to and longer than the history.
func TestPLCHistoryRing(t *testing.T) {
	for _, sizes := range [][]int{
		{160},
		{160, 160, 160, 160, 7},
		{391, 160, 391},
		{1000, 3, 160, 500},
		{1, 2, 3, 390, 389, 160},
	} {
		p, err := NewPLC(8000, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		var all []int16
		for _, n := range sizes {
			s := make([]int16, n)
			for i := range s {
				s[i] = int16(len(all) + i + 1)
			}
			all = append(all, s...)
			p.push(s)
		}
		p.start()
		want := make([]int16, len(p.hist))
		copy(want[max(0, len(want)-len(all)):], all[max(0, len(all)-len(want)):])
		for i := range want {
			if p.src[i] != want[i] {
				t.Fatalf("pushes %v: history[%d] = %d, want %d", sizes, i, p.src[i], want[i])
			}
		}
	}
}
