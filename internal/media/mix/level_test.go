package mix

import (
	"math"
	"slices"
	"testing"
)

func TestGainConstants(t *testing.T) {
	if got := gainDB(gainMin); math.Abs(got+MaxGainDB) > 0.01 {
		t.Errorf("gainDB(gainMin) = %.4f, want -%v", got, MaxGainDB)
	}
	if got := gainDB(gainMax); math.Abs(got-MaxGainDB) > 0.01 {
		t.Errorf("gainDB(gainMax) = %.4f, want %v", got, MaxGainDB)
	}
	// The largest gained sample must fit the int32 product, and g² the
	// int32 square in gained.
	if int64(32768)*gainMax >= 1<<31 || int64(gainMax)*gainMax >= 1<<31 {
		t.Error("gainMax overflows int32 arithmetic")
	}
	if MaxSlots*32768 >= 1<<31 {
		t.Error("MaxSlots inputs can overflow the int32 accumulator")
	}
}

func TestLevelDB(t *testing.T) {
	tests := []struct {
		ms   uint64
		want int
	}{
		{0, -127},
		{1, -90},
		{fullScale, 0},
		{fullScale / 2, -3},
		{fullScale / 100, -20},
		{4 * fullScale, 0}, // a gained square wave over full scale still reads 0
	}
	for _, tt := range tests {
		if got := levelDB(tt.ms); got != tt.want {
			t.Errorf("levelDB(%d) = %d, want %d", tt.ms, got, tt.want)
		}
	}
	if got := levelDB(uint64(meanSquare(-37))); got != -37 {
		t.Errorf("levelDB(meanSquare(-37)) = %d, want -37", got)
	}
}

func TestApplyGain(t *testing.T) {
	f := []int16{0, 1, -1, 1000, -1000, 32767, -32768, 2}
	applyGain(f, gainUnity/2)
	want := []int16{0, 1, 0, 500, -500, 16384, -16384, 1} // rounds half up
	for i := range f {
		if f[i] != want[i] {
			t.Errorf("half gain: sample %d = %d, want %d", i, f[i], want[i])
		}
	}
	f = []int16{20000, -20000, 100}
	applyGain(f, gainMax)
	if f[0] != 32767 || f[1] != -32768 || f[2] != 398 {
		t.Errorf("+12 dB gain = %v, want saturation to [32767 -32768 398]", f)
	}
}

func TestFixedGain(t *testing.T) {
	for _, k := range []int{AllSpeakers, 3} {
		for _, db := range []float64{-12, -6, 0, 3.5, 12} {
			m := newMixer(t, Config{SampleRate: 8000, Speakers: k}, 2)
			if err := m.SetGain(0, db); err != nil {
				t.Fatal(err)
			}
			put(t, m, [][]int16{tone(8000, 160, 0, 1000, 2000), nil})
			m.Tick()
			_, out := output(t, m, 1)
			want := 2000 * math.Pow(10, db/20)
			if got := amplitude(out, 8000, 1000); math.Abs(got-want) > want*0.002+1 {
				t.Errorf("speakers %d, gain %v dB: listener hears %.1f, want %.1f", k, db, got, want)
			}
			if st := status(t, m, 0); math.Abs(st.Gain-db) > 0.01 {
				t.Errorf("Status().Gain = %.3f, want %v", st.Gain, db)
			}
		}
	}
}

// agcRun lets one participant talk at db dBov for ticks frames under AGC and
// returns his gain in dB after each tick.
func agcRun(t *testing.T, m *Mixer, db float64, ticks int) []float64 {
	t.Helper()
	gains := make([]float64, ticks)
	for tick := range ticks {
		put(t, m, [][]int16{tone(8000, 160, tick*160, 1000, dbAmp(db)), nil})
		m.Tick()
		gains[tick] = status(t, m, 0).Gain
	}
	return gains
}

func TestAGC(t *testing.T) {
	tests := []struct {
		name     string
		level    float64 // dBov
		want     float64 // final gain, dB
		tol      float64
		noChange bool
	}{
		{"quiet line is lifted to the bound", -45, 12, 0.01, false},
		{"loud line is cut to the bound", -6, -12, 0.15, false},
		{"slightly quiet line is lifted into the band", -32, 3.5, 0.6, false},
		{"level inside the band is left alone", -27, 0, 0, true},
		{"noise below the gate is not lifted", -70, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers, AGC: true}, 2)
			gains := agcRun(t, m, tt.level, 500)
			got := gains[len(gains)-1]
			if math.Abs(got-tt.want) > tt.tol {
				t.Errorf("gain after 10 s = %.2f dB, want %.1f ± %.2f", got, tt.want, tt.tol)
			}
			// Slow: no second moves the gain by more than 7 dB.
			for i := 50; i < len(gains); i++ {
				if d := math.Abs(gains[i] - gains[i-50]); d > 7 {
					t.Fatalf("gain moved %.2f dB in the second before tick %d", d, i)
				}
			}
			if tt.noChange {
				for i, g := range gains {
					if g != 0 {
						t.Fatalf("tick %d: gain %.2f dB, want 0", i, g)
					}
				}
			}
			// What listeners hear follows the gain; gated noise they do
			// not hear at all.
			_, out := output(t, m, 1)
			want := dbAmp(tt.level) * math.Pow(10, got/20)
			if tt.level < DefaultNoiseGate {
				want = 0
			}
			if a := amplitude(out, 8000, 1000); math.Abs(a-want) > want*0.01+1 {
				t.Errorf("listener hears %.1f, want %.1f", a, want)
			}
		})
	}
}

// TestAGCNeverClips: a boosted participant who suddenly shouts is cut at
// once to what his peak allows, in the very frame that would have clipped.
func TestAGCNeverClips(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers, AGC: true}, 2)
	if err := m.SetGain(0, 12); err != nil {
		t.Fatal(err)
	}
	shout := tone(8000, 160, 0, 1000, 30000)
	put(t, m, [][]int16{shout, nil})
	m.Tick()
	g := status(t, m, 0).Gain
	if g > 20*math.Log10(32767.0/30000)+0.01 {
		t.Errorf("gain after the shout = %.2f dB, want at most %.2f", g, 20*math.Log10(32767.0/30000))
	}
	// Not clipped: his contribution is the shout times the gain, sample
	// for sample, with no saturated peaks. (The output limiter then bends
	// those peaks smoothly, as it would for any near-full-scale input.)
	q12 := m.slots[0].gain
	for i, v := range m.frame(0) {
		want := (int32(shout[i])*q12 + 1<<11) >> 12
		if int32(v) != want || want > 32767 || want < -32768 {
			t.Fatalf("sample %d of the gained shout = %d, want %d unsaturated", i, v, want)
		}
	}
	if _, out := output(t, m, 1); amplitude(out, 8000, 1000) < 29000 {
		t.Errorf("listener hears the shout at %.1f, want about 30000", amplitude(out, 8000, 1000))
	}
}

func TestAGCTopKUsesGainedLevels(t *testing.T) {
	// Two equal talkers, one boosted by 12 dB: the boosted one is louder in
	// the mix and takes the single seat.
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
	if err := m.SetGain(1, 12); err != nil {
		t.Fatal(err)
	}
	frames := toneFrames(8000, 0, freqs[:2], []float64{dbAmp(-30), dbAmp(-30)})
	put(t, m, frames)
	m.Tick()
	if got := m.Speakers(nil); len(got) != 1 || got[0] != 1 {
		t.Errorf("Speakers() = %v, want [1]", got)
	}
	if got := status(t, m, 1).Level; got != -18 {
		t.Errorf("boosted level = %d dBov, want -18", got)
	}
}

// TestKernelsAnyLength checks the block kernels against plain loops for
// every length up to 40, so that the scalar tails are right too.
func TestKernelsAnyLength(t *testing.T) {
	src := make([]int16, 40)
	for i := range src {
		src[i] = int16((i*7919)%65536 - 32768)
	}
	src[5] = -32768
	for n := 0; n <= len(src); n++ {
		s := src[:n]
		var wantE uint64
		var wantPeak uint32
		for _, v := range s {
			wantE += uint64(int64(v) * int64(v))
			wantPeak = max(wantPeak, uint32(int32(v)*int32(v)))
		}
		dst := make([]int16, n)
		if e := copyEnergy(dst, s); e != wantE || !slices.Equal(dst, s) {
			t.Errorf("copyEnergy(%d samples) = %d, want %d (copy ok %v)", n, e, wantE, slices.Equal(dst, s))
		}
		dst = make([]int16, n)
		if e, p := copyEnergyPeak(dst, s); e != wantE || p != wantPeak || !slices.Equal(dst, s) {
			t.Errorf("copyEnergyPeak(%d samples) = %d, %d; want %d, %d", n, e, p, wantE, wantPeak)
		}
		gained := slices.Clone(s)
		applyGain(gained, 5000)
		for i, v := range s {
			if want := int16(min(max(math.Round(float64(v)*5000/4096), -32768), 32767)); gained[i] != want && float64(v)*5000/4096-math.Floor(float64(v)*5000/4096) != 0.5 {
				t.Fatalf("applyGain(%d samples)[%d] = %d, want %d", n, i, gained[i], want)
			}
		}
		acc := make([]int32, n)
		for i := range acc {
			acc[i] = int32(i * 1000)
		}
		addFrame(acc, s)
		for i := range acc {
			if acc[i] != int32(i*1000)+int32(s[i]) {
				t.Fatalf("addFrame(%d samples)[%d] = %d", n, i, acc[i])
			}
		}
		out := make([]int16, n)
		minusLimit(out, acc, s)
		for i := range out {
			if want := int16(limit(int32(i * 1000))); out[i] != want {
				t.Fatalf("minusLimit(%d samples)[%d] = %d, want %d", n, i, out[i], want)
			}
		}
	}
}
