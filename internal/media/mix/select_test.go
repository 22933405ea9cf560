package mix

import (
	"slices"
	"testing"
	"time"
)

// talk runs one tick in which participant i talks at levels[i] dBov (a tone;
// silent where the level is 0) and returns the sorted speakers.
func talk(t *testing.T, m *Mixer, tick int, levels ...float64) []int {
	t.Helper()
	amps := make([]float64, len(levels))
	for i, db := range levels {
		if db != 0 {
			amps[i] = dbAmp(db)
		}
	}
	put(t, m, toneFrames(m.SampleRate(), tick, freqs[:len(levels)], amps))
	m.Tick()
	got := m.Speakers(nil)
	slices.Sort(got)
	return got
}

func TestHysteresisMargin(t *testing.T) {
	tests := []struct {
		name     string
		newcomer float64 // dBov, against an incumbent at -26
		want     []int   // speaker once both talk
	}{
		{"4 dB louder stays out", -22, []int{0}},
		{"5.5 dB louder stays out", -20.5, []int{0}},
		{"7 dB louder takes the seat", -19, []int{1}},
		{"20 dB louder takes the seat", -6, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
			tick := 0
			for ; tick < 10; tick++ {
				if got := talk(t, m, tick, -26, 0); !slices.Equal(got, []int{0}) {
					t.Fatalf("tick %d: speakers %v, want [0]", tick, got)
				}
			}
			changes := 0
			prev := []int{0}
			for ; tick < 60; tick++ {
				got := talk(t, m, tick, -26, tt.newcomer)
				if !slices.Equal(got, prev) {
					changes++
					prev = got
				}
			}
			if !slices.Equal(prev, tt.want) || changes > 1 {
				t.Errorf("speakers end as %v after %d changes, want %v after at most one", prev, changes, tt.want)
			}
		})
	}
}

func TestHysteresisLouderNewcomerIsQuick(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
	for tick := range 10 {
		talk(t, m, tick, -26, 0)
	}
	for tick := 10; tick < 13; tick++ {
		if got := talk(t, m, tick, -26, -14); slices.Equal(got, []int{1}) {
			return
		}
	}
	t.Error("a talker 12 dB louder was not seated within 3 frames")
}

// TestHysteresisHold: a speaker who falls silent keeps his seat for the hold
// time, then loses it.
func TestHysteresisHold(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1, Hold: 200 * time.Millisecond}, 2)
	for tick := range 5 {
		talk(t, m, tick, -26, 0)
	}
	// 200 ms = 10 frames, counted from the last voiced one.
	for j := 1; j <= 12; j++ {
		got := talk(t, m, 4+j, 0, 0)
		want := j < 10
		if slices.Equal(got, []int{0}) != want {
			t.Errorf("%d frames after he stopped: speakers %v, want seated %v", j, got, want)
		}
		if st := status(t, m, 0); st.Speaker != want || st.Active != want {
			t.Errorf("%d frames after he stopped: Status = %+v, want Speaker and Active %v", j, st, want)
		}
	}
}

// TestHysteresisPause: a short pause keeps the seat against a slightly
// quieter talker; a long one lets a talker who is now clearly louder take it
// before the hold runs out.
func TestHysteresisPause(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
	tick := 0
	for ; tick < 10; tick++ {
		talk(t, m, tick, -26, -28)
	}
	for j := range 5 {
		if got := talk(t, m, tick, 0, -28); !slices.Equal(got, []int{0}) {
			t.Fatalf("%d frames into a short pause: speakers %v, want [0]", j+1, got)
		}
		tick++
	}
	for range 5 {
		talk(t, m, tick, -26, -28)
		tick++
	}
	for j := 1; j <= 19; j++ {
		if got := talk(t, m, tick, 0, -28); slices.Equal(got, []int{1}) {
			if j < 10 {
				t.Errorf("the seat changed %d frames into the pause, want at least 10", j)
			}
			return
		}
		tick++
	}
	t.Error("the other talker did not get the seat of a speaker silent for 19 frames (hold 20)")
}

// TestHysteresisNoFlapping: two talkers whose levels cross every frame do
// not swap the seat.
func TestHysteresisNoFlapping(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
	talk(t, m, 0, -25, -27)
	for tick := 1; tick < 100; tick++ {
		a, b := -25.0, -27.0
		if tick%2 == 1 {
			a, b = b, a
		}
		if got := talk(t, m, tick, a, b); !slices.Equal(got, []int{0}) {
			t.Fatalf("tick %d: speakers %v, want [0] throughout", tick, got)
		}
	}
}

func TestFreeSeatIsTakenAtOnce(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000}, 3)
	talk(t, m, 0, -20, 0, 0)
	if got := talk(t, m, 1, -20, -40, 0); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("speakers %v, want [0 1]: a free seat needs no margin", got)
	}
	if got := talk(t, m, 2, -20, -40, -45); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("speakers %v, want [0 1 2]", got)
	}
}

func TestDisplaceWeakest(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 2}, 3)
	for tick := range 5 {
		talk(t, m, tick, -20, -30, 0)
	}
	if got := talk(t, m, 5, -20, -30, -18); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("speakers %v, want [0 2]: the newcomer displaces the weakest", got)
	}
}

func TestTieGoesToLowerSlot(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 2}, 4)
	if got := talk(t, m, 0, -30, -20, -30, -20); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("speakers %v, want [1 3]", got)
	}
	m = newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 3)
	if got := talk(t, m, 0, 0, -20, -20); !slices.Equal(got, []int{1}) {
		t.Errorf("speakers %v, want [1]", got)
	}
}

func TestCandidatesOffer(t *testing.T) {
	var cs candidates
	for i, l := range []uint64{5, 9, 1, 9, 7, 3, 8} {
		cs.offer(candidate{slot: int32(i), level: l}, 3)
	}
	want := []candidate{{1, 9}, {3, 9}, {6, 8}}
	if got := cs.c[:cs.n]; !slices.Equal(got, want) {
		t.Errorf("best 3 = %v, want %v", got, want)
	}
	cs = candidates{}
	cs.offer(candidate{slot: 4, level: 2}, 1)
	cs.offer(candidate{slot: 2, level: 2}, 1)
	cs.offer(candidate{slot: 3, level: 1}, 1)
	if got := cs.c[:cs.n]; !slices.Equal(got, []candidate{{2, 2}}) {
		t.Errorf("best 1 = %v, want [{2 2}]", got)
	}
}

// TestSpeakersMaxSeats: with many talkers, exactly K speakers are summed.
func TestSpeakersMaxSeats(t *testing.T) {
	for _, k := range []int{1, 3, 5, MaxSpeakers} {
		m := newMixer(t, Config{SampleRate: 8000, Speakers: k}, 40)
		frame := tone(8000, 160, 0, 1000, 1000)
		for i := range 40 {
			if err := m.Put(i, frame); err != nil {
				t.Fatal(err)
			}
		}
		m.Tick()
		if got := len(m.Speakers(nil)); got != k {
			t.Errorf("K=%d: %d speakers", k, got)
		}
		if got := m.Contributors(); got != k {
			t.Errorf("K=%d: Contributors() = %d", k, got)
		}
		if got, want := amplitude(m.Shared(), 8000, 1000), float64(min(k*1000, limKnee)); got < want-1 || got > 32767 {
			t.Errorf("K=%d: the shared tone has amplitude %.1f, want about %.0f", k, got, want)
		}
	}
}
