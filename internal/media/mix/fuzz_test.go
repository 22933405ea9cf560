package mix

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// model is what the fuzz test expects of a full mix with the gate off:
// every unmuted slot with a non-silent frame this tick contributes, after
// its gain.
type model struct {
	used  map[int]bool
	muted map[int]bool
	gain  map[int]int32
	frame map[int][]int16
}

// FuzzMixer drives a Mixer with a byte-coded sequence of calls, valid and
// not, and after every tick checks each output against a reference sum
// (full mix) or against the top-K invariants. Nothing may panic, errors
// must leave no trace, and no output may leave the limiter's range.
func FuzzMixer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 0, 200, 1, 4, 1, 100, 2, 5, 2, 1, 1, 5, 3, 0, 60, 4, 0, 255, 0, 5})
	f.Add([]byte{1, 0, 0, 0, 0, 4, 0, 255, 3, 4, 1, 255, 3, 4, 2, 255, 3, 4, 3, 255, 3, 5, 1, 2, 5})
	f.Add([]byte{0, 0, 4, 0, 1, 1, 6, 0, 5, 1, 0, 0, 4, 0, 9, 9, 5, 7, 0, 5})
	f.Add([]byte{2, 0, 0, 0, 3, 1, 127, 3, 0, 128, 4, 0, 255, 0, 4, 1, 255, 0, 5, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		speakers := []int{AllSpeakers, 1, 3}[int(data[0])%3]
		data = data[1:]
		m, err := NewMixer(Config{SampleRate: 8000, Speakers: speakers, NoiseGate: -200, Hold: FrameDuration})
		if err != nil {
			t.Fatal(err)
		}
		md := model{used: map[int]bool{}, muted: map[int]bool{}, gain: map[int]int32{}, frame: map[int][]int16{}}
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		ticks := 0
		for len(data) > 0 {
			switch op := next() % 7; op {
			case 0:
				if m.Len() >= 48 { // bound the work per input
					continue
				}
				i, err := m.Add()
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				md.used[i], md.muted[i], md.gain[i] = true, false, gainUnity
			case 1:
				i := next() % (m.Slots() + 1)
				err := m.Remove(i)
				if err == nil != md.used[i] {
					t.Fatalf("Remove(%d) = %v, slot used %v", i, err, md.used[i])
				}
				delete(md.used, i)
				delete(md.frame, i)
			case 2:
				i, mute := next()%(m.Slots()+1), next()%2 == 1
				if err := m.SetMuted(i, mute); err == nil != md.used[i] {
					t.Fatalf("SetMuted(%d) = %v, slot used %v", i, err, md.used[i])
				} else if err == nil {
					md.muted[i] = mute
				}
			case 3:
				i, db := next()%(m.Slots()+1), float64(int8(next()))/8
				err := m.SetGain(i, db)
				switch {
				case math.Abs(db) > MaxGainDB:
					if !errors.Is(err, ErrGain) {
						t.Fatalf("SetGain(%d, %v) = %v, want %v", i, db, err, ErrGain)
					}
				case err == nil != md.used[i]:
					t.Fatalf("SetGain(%d) = %v, slot used %v", i, err, md.used[i])
				case err == nil:
					md.gain[i] = min(max(int32(math.Round(gainUnity*math.Pow(10, db/20))), gainMin), gainMax)
				}
			case 4, 6:
				i, amp, seed := next()%(m.Slots()+1), next(), next()
				n := 160
				if op == 6 {
					n = seed % 161 // mostly the wrong length
				}
				frame := fuzzFrame(n, amp, seed)
				err := m.Put(i, frame)
				if ok := md.used[i] && n == 160; err == nil != ok {
					t.Fatalf("Put(%d, %d samples) = %v, want ok %v", i, n, err, ok)
				} else if ok {
					md.frame[i] = frame
				}
			case 5:
				if ticks++; ticks > 100 {
					return
				}
				m.Tick()
				md.check(t, m, speakers)
				clear(md.frame)
			}
		}
	})
}

// fuzzFrame returns n samples: silence, a tone, or noise, with peak amp·128.
func fuzzFrame(n, amp, seed int) []int16 {
	f := make([]int16, n)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	for j := range f {
		switch seed % 3 {
		case 0:
			f[j] = int16(float64(amp*128) * math.Sin(2*math.Pi*float64(seed%40*100)*float64(j)/8000))
		case 1:
			f[j] = int16(rng.IntN(2*amp*128+1) - amp*128)
		case 2:
			f[j] = int16(min(amp*128, 32767)) // DC, full scale at amp 255
		}
	}
	return f
}

// check compares one tick's outputs with the model.
func (md *model) check(t *testing.T, m *Mixer, speakers int) {
	t.Helper()
	// Contributions: gained frames of unmuted slots with a mean square ≥ 1.
	contrib := map[int][]int32{}
	for i, f := range md.frame {
		var e uint64
		for _, v := range f {
			e += uint64(int64(v) * int64(v))
		}
		if e/uint64(len(f)) == 0 || md.muted[i] {
			continue
		}
		g := make([]int32, len(f))
		for j, v := range f {
			g[j] = min(max((int32(v)*md.gain[i]+1<<11)>>12, -32768), 32767)
		}
		contrib[i] = g
	}
	if speakers != AllSpeakers {
		// Top-K: the speakers are some of the contributors, at most K.
		sp := m.Speakers(nil)
		if len(sp) > speakers {
			t.Fatalf("%d speakers, K = %d", len(sp), speakers)
		}
		kept := map[int][]int32{}
		for _, i := range sp {
			if md.muted[i] || !md.used[i] {
				t.Fatalf("speaker %d is muted or removed", i)
			}
			if c, ok := contrib[i]; ok {
				kept[i] = c
			}
		}
		contrib = kept
	}
	if got := m.Contributors(); got != len(contrib) {
		t.Fatalf("Contributors() = %d, model %d", got, len(contrib))
	}
	var total [160]int64
	for _, f := range contrib {
		for j, v := range f {
			total[j] += int64(v)
		}
	}
	for i := range md.used {
		kind, out, err := m.Output(i, make([]int16, 160))
		if err != nil {
			t.Fatalf("Output(%d): %v", i, err)
		}
		_, self := contrib[i]
		others := len(contrib)
		if self {
			others--
		}
		want := Shared
		switch {
		case others == 0:
			want = Silence
		case self:
			want = Personal
		}
		if kind != want {
			t.Fatalf("Output(%d) kind = %v, model %v", i, kind, want)
		}
		for j := range 160 {
			sum := total[j]
			if self {
				sum -= int64(contrib[i][j])
			}
			v := int64(out[j])
			switch {
			case v < -limCeil || v > limCeil:
				t.Fatalf("Output(%d)[%d] = %d outside ±%d", i, j, v, limCeil)
			case sum >= -limKnee && sum <= limKnee:
				if v != sum {
					t.Fatalf("Output(%d)[%d] = %d, model sum %d", i, j, v, sum)
				}
			default:
				ideal := limKnee + limSpan*math.Tanh((math.Abs(float64(sum))-limKnee)/limSpan)
				if math.Abs(math.Abs(float64(v))-ideal) > 1 || (v > 0) != (sum > 0) {
					t.Fatalf("Output(%d)[%d] = %d, model sum %d limits to ±%.1f", i, j, v, sum, ideal)
				}
			}
		}
	}
}
