package mix

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// Distinct tones, each a whole number of cycles in 20 ms (multiples of
// 50 Hz), so that Goertzel separates them exactly.
var freqs = []float64{400, 700, 1100, 1500, 2100, 2600, 3000}

func TestNewMixerConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"8k defaults", Config{SampleRate: 8000}, true},
		{"16k full mix", Config{SampleRate: 16000, Speakers: AllSpeakers}, true},
		{"max speakers", Config{SampleRate: 8000, Speakers: MaxSpeakers}, true},
		{"gate off", Config{SampleRate: 8000, NoiseGate: -200}, true},
		{"agc", Config{SampleRate: 8000, AGC: true, AGCTarget: -30}, true},
		{"rate 0", Config{}, false},
		{"rate 44100", Config{SampleRate: 44100}, false},
		{"speakers too many", Config{SampleRate: 8000, Speakers: MaxSpeakers + 1}, false},
		{"speakers -2", Config{SampleRate: 8000, Speakers: -2}, false},
		{"negative hold", Config{SampleRate: 8000, Hold: -time.Millisecond}, false},
		{"negative margin", Config{SampleRate: 8000, Margin: -1}, false},
		{"NaN margin", Config{SampleRate: 8000, Margin: math.NaN()}, false},
		{"positive gate", Config{SampleRate: 8000, NoiseGate: 3}, false},
		{"NaN gate", Config{SampleRate: 8000, NoiseGate: math.NaN()}, false},
		{"agc target 0 dBov", Config{SampleRate: 8000, AGC: true, AGCTarget: 1}, false},
		{"agc target too low", Config{SampleRate: 8000, AGC: true, AGCTarget: -70}, false},
		{"negative capacity", Config{SampleRate: 8000, Capacity: -1}, false},
		{"capacity too big", Config{SampleRate: 8000, Capacity: MaxSlots + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMixer(tt.cfg)
			if tt.ok {
				if err != nil || m == nil {
					t.Fatalf("NewMixer() = %v, %v; want a mixer", m, err)
				}
				if got, want := m.FrameSamples(), tt.cfg.SampleRate/50; got != want {
					t.Errorf("FrameSamples() = %d, want %d", got, want)
				}
				if got := m.SampleRate(); got != tt.cfg.SampleRate {
					t.Errorf("SampleRate() = %d, want %d", got, tt.cfg.SampleRate)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("NewMixer() error = %v, want %v", err, ErrConfig)
			}
		})
	}
}

func TestFrameSamples(t *testing.T) {
	for rate, want := range map[int]int{8000: 160, 16000: 320} {
		if got := FrameSamples(rate); got != want {
			t.Errorf("FrameSamples(%d) = %d, want %d", rate, got, want)
		}
	}
}

// TestFullMixHearsOthers: in a full N−1 mix everyone hears every other
// participant's tone at its own amplitude and nothing of his own.
func TestFullMixHearsOthers(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		m := newMixer(t, Config{SampleRate: rate, Speakers: AllSpeakers}, len(freqs))
		amps := []float64{3000, 2500, 2000, 1500, 1000, 800, 600}
		for tick := range 3 {
			put(t, m, toneFrames(rate, tick, freqs, amps))
			m.Tick()
			if got := m.Contributors(); got != len(freqs) {
				t.Fatalf("Contributors() = %d, want %d", got, len(freqs))
			}
			for i := range freqs {
				kind, out := output(t, m, i)
				if kind != Personal {
					t.Fatalf("rate %d: Output(%d) kind = %v, want personal", rate, i, kind)
				}
				for j, f := range freqs {
					got := amplitude(out, rate, f)
					want := amps[j]
					if i == j {
						want = 0
					}
					if math.Abs(got-want) > 1 {
						t.Errorf("rate %d tick %d: participant %d hears %v Hz at %.1f, want %.0f", rate, tick, i, f, got, want)
					}
				}
			}
		}
	}
}

// TestFullMixExact: below the limiter's knee a personal output is exactly
// the sum of the other inputs, sample by sample.
func TestFullMixExact(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers}, 4)
	frames := toneFrames(8000, 0, freqs[:4], []float64{5000, 4000, 3000, 2000})
	put(t, m, frames)
	m.Tick()
	for i := range 4 {
		_, out := output(t, m, i)
		for s := range out {
			var want int32
			for j := range 4 {
				if j != i {
					want += int32(frames[j][s])
				}
			}
			if int32(out[s]) != want {
				t.Fatalf("participant %d sample %d = %d, want %d", i, s, out[s], want)
			}
		}
	}
}

func TestFullMixSharedForListeners(t *testing.T) {
	// Participants 3 and 4 only listen: they contribute nothing and hear
	// the Shared frame, the sum of all three talkers.
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers}, 5)
	amps := []float64{3000, 2000, 1000, 0, 0}
	put(t, m, toneFrames(8000, 0, freqs[:5], amps))
	m.Tick()
	shared := m.Shared()
	for _, i := range []int{3, 4} {
		kind, out := output(t, m, i)
		if kind != Shared || !slices.Equal(out, shared) {
			t.Errorf("Output(%d) = %v, equal to Shared() %v; want shared, true", i, kind, slices.Equal(out, shared))
		}
	}
	for j := range 3 {
		if got := amplitude(shared, 8000, freqs[j]); math.Abs(got-amps[j]) > 1 {
			t.Errorf("Shared() has %v Hz at %.1f, want %.0f", freqs[j], got, amps[j])
		}
	}
}

func TestSoleTalkerHearsSilence(t *testing.T) {
	for _, k := range []int{AllSpeakers, 3} {
		m := newMixer(t, Config{SampleRate: 8000, Speakers: k}, 3)
		put(t, m, toneFrames(8000, 0, freqs[:3], []float64{3000, 0, 0}))
		m.Tick()
		if kind, out := output(t, m, 0); kind != Silence || !isZero(out) {
			t.Errorf("speakers %d: the sole talker hears %v (zero %v), want silence", k, kind, isZero(out))
		}
		for _, i := range []int{1, 2} {
			kind, out := output(t, m, i)
			if kind != Shared || math.Abs(amplitude(out, 8000, freqs[0])-3000) > 1 {
				t.Errorf("speakers %d: listener %d hears %v at %.1f, want shared at 3000", k, i, kind, amplitude(out, 8000, freqs[0]))
			}
		}
	}
}

// TestSilence: a tick with no input, or only digital zeros, is silent for
// everyone.
func TestSilence(t *testing.T) {
	for _, k := range []int{AllSpeakers, 3} {
		m := newMixer(t, Config{SampleRate: 16000, Speakers: k}, 4)
		zeros := make([]int16, 320)
		for tick := range 3 {
			if tick == 1 {
				put(t, m, [][]int16{zeros, zeros, nil, zeros})
			}
			m.Tick()
			if !m.Silent() || m.Contributors() != 0 || !isZero(m.Shared()) {
				t.Fatalf("speakers %d tick %d: Silent() = %v, Contributors() = %d; want true, 0", k, tick, m.Silent(), m.Contributors())
			}
			for i := range 4 {
				if kind, out := output(t, m, i); kind != Silence || !isZero(out) || len(out) != 320 {
					t.Errorf("Output(%d) = %v (zero %v, %d samples), want 320 samples of silence", i, kind, isZero(out), len(out))
				}
				if st := status(t, m, i); st.Level != -127 || st.Voice || st.Active || st.Speaker {
					t.Errorf("Status(%d) = %+v, want silent", i, st)
				}
			}
		}
	}
}

// TestSilenceAfterSpeech: once talkers stop, the mix falls silent at once
// (no stale frames), and the talkers stop being active after the hold.
func TestSilenceAfterSpeech(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers, Hold: 100 * time.Millisecond}, 2)
	put(t, m, toneFrames(8000, 0, freqs[:2], []float64{3000, 3000}))
	m.Tick()
	for tick := 1; tick <= 6; tick++ {
		m.Tick()
		if !m.Silent() {
			t.Fatalf("tick %d: Silent() = false after the talkers stopped", tick)
		}
		wantActive := tick < 5 // 100 ms = 5 frames including the voiced one
		if st := status(t, m, 0); st.Active != wantActive || st.Voice {
			t.Errorf("tick %d: Status(0) = %+v, want Active %v", tick, st, wantActive)
		}
	}
}

func TestMuteRemovesFromEveryMix(t *testing.T) {
	// With K = 4 a seat stays free for the muted participant, so that his
	// unmute takes effect at once in both modes.
	for _, k := range []int{AllSpeakers, 4} {
		m := newMixer(t, Config{SampleRate: 8000, Speakers: k}, 4)
		amps := []float64{3000, 2500, 2000, 1500}
		if err := m.SetMuted(1, true); err != nil {
			t.Fatal(err)
		}
		for tick := range 3 {
			put(t, m, toneFrames(8000, tick, freqs[:4], amps))
			m.Tick()
			for i := range 4 {
				kind, out := output(t, m, i)
				if got := amplitude(out, 8000, freqs[1]); got > 1 {
					t.Errorf("speakers %d: participant %d hears the muted tone at %.1f", k, i, got)
				}
				for _, j := range []int{0, 2, 3} {
					want := amps[j]
					if j == i {
						want = 0
					}
					if got := amplitude(out, 8000, freqs[j]); math.Abs(got-want) > 1 {
						t.Errorf("speakers %d: participant %d (%v) hears %v Hz at %.1f, want %.0f", k, i, kind, freqs[j], got, want)
					}
				}
			}
			st := status(t, m, 1)
			if !st.Muted || st.Speaker || !st.Active || st.Level > -10 || st.Level < -25 {
				t.Errorf("speakers %d: Status(muted) = %+v, want muted, active, not a speaker, level about -23", k, st)
			}
			if kind, _ := output(t, m, 1); kind != Shared {
				t.Errorf("speakers %d: the muted participant's kind = %v, want shared", k, kind)
			}
		}
		// Unmuting brings him back from the next tick.
		if err := m.SetMuted(1, false); err != nil {
			t.Fatal(err)
		}
		put(t, m, toneFrames(8000, 3, freqs[:4], []float64{3000, 2500, 2000, 1500}))
		m.Tick()
		_, out := output(t, m, 0)
		if got := amplitude(out, 8000, freqs[1]); math.Abs(got-2500) > 1 {
			t.Errorf("speakers %d: after unmute participant 0 hears %.1f, want 2500", k, got)
		}
	}
}

func TestMuteSeatedSpeaker(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 1}, 2)
	put(t, m, toneFrames(8000, 0, freqs[:2], []float64{4000, 1000}))
	m.Tick()
	if got := m.Speakers(nil); !slices.Equal(got, []int{0}) {
		t.Fatalf("Speakers() = %v, want [0]", got)
	}
	if err := m.SetMuted(0, true); err != nil {
		t.Fatal(err)
	}
	if got := m.Speakers(nil); len(got) != 0 {
		t.Errorf("Speakers() after mute = %v, want none", got)
	}
	put(t, m, toneFrames(8000, 1, freqs[:2], []float64{4000, 1000}))
	m.Tick()
	if got := m.Speakers(nil); !slices.Equal(got, []int{1}) {
		t.Errorf("Speakers() = %v, want [1]: the muted speaker's seat goes to the next", got)
	}
}

// TestTopKPicksLoudest: the K loudest are the speakers; everyone else hears
// the Shared frame, which is their sum; a speaker hears the others of the K.
func TestTopKPicksLoudest(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		m := newMixer(t, Config{SampleRate: rate}, 7)
		// Quietest to loudest in shuffled slots; all are above the gate.
		amps := []float64{1000, 6000, 400, 3000, 9000, 200, 2000}
		speakers := []int{1, 3, 4}
		for tick := range 3 {
			put(t, m, toneFrames(rate, tick, freqs, amps))
			m.Tick()
			got := m.Speakers(nil)
			slices.Sort(got)
			if !slices.Equal(got, speakers) {
				t.Fatalf("rate %d tick %d: Speakers() = %v, want %v", rate, tick, got, speakers)
			}
			shared := m.Shared()
			for i := range freqs {
				kind, out := output(t, m, i)
				isSpeaker := slices.Contains(speakers, i)
				if wantKind := map[bool]Kind{true: Personal, false: Shared}[isSpeaker]; kind != wantKind {
					t.Errorf("Output(%d) kind = %v, want %v", i, kind, wantKind)
				}
				if !isSpeaker && !slices.Equal(out, shared) {
					t.Errorf("listener %d does not hear Shared()", i)
				}
				for j, f := range freqs {
					want := 0.0
					if slices.Contains(speakers, j) && j != i {
						want = amps[j]
					}
					if got := amplitude(out, rate, f); math.Abs(got-want) > 1 {
						t.Errorf("rate %d: participant %d hears %v Hz at %.1f, want %.0f", rate, i, f, got, want)
					}
				}
				st := status(t, m, i)
				if st.Speaker != isSpeaker || !st.Active || !st.Voice {
					t.Errorf("Status(%d) = %+v, want Speaker %v, active", i, st, isSpeaker)
				}
			}
		}
	}
}

func TestNoiseGate(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, NoiseGate: -40}, 3)
	// Participant 0 talks at -23 dBov; 1 hisses at -50 dBov; 2 is silent.
	for tick := range 5 {
		put(t, m, toneFrames(8000, tick, freqs[:3], []float64{dbAmp(-23), dbAmp(-50), 0}))
		m.Tick()
		if got := m.Speakers(nil); !slices.Equal(got, []int{0}) {
			t.Fatalf("Speakers() = %v, want [0]: the hiss is under the gate", got)
		}
		st := status(t, m, 1)
		if st.Voice || st.Active || st.Speaker || st.Level != -50 {
			t.Errorf("Status(hiss) = %+v, want level -50, not voiced", st)
		}
		if st := status(t, m, 0); st.Level != -23 || !st.Voice {
			t.Errorf("Status(talker) = %+v, want level -23, voiced", st)
		}
		_, out := output(t, m, 2)
		if got := amplitude(out, 8000, freqs[1]); got > 0.01 {
			t.Errorf("the hiss reaches listeners at %.2f", got)
		}
	}
	// With the gate off, the hiss is a speaker.
	m = newMixer(t, Config{SampleRate: 8000, NoiseGate: -128}, 2)
	put(t, m, toneFrames(8000, 0, freqs[:2], []float64{dbAmp(-23), dbAmp(-50)}))
	m.Tick()
	if got := m.Speakers(nil); len(got) != 2 {
		t.Errorf("gate off: Speakers() = %v, want both", got)
	}
}

func TestFullMixNoiseGate(t *testing.T) {
	// In a full mix the gate keeps line noise of idle participants out of
	// the sum: they become listeners.
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers, NoiseGate: -40}, 3)
	put(t, m, toneFrames(8000, 0, freqs[:3], []float64{dbAmp(-23), dbAmp(-50), dbAmp(-60)}))
	m.Tick()
	if got := m.Contributors(); got != 1 {
		t.Fatalf("Contributors() = %d, want 1", got)
	}
	if got := m.Speakers(nil); !slices.Equal(got, []int{0}) {
		t.Errorf("Speakers() = %v, want [0]", got)
	}
	if kind, _ := output(t, m, 1); kind != Shared {
		t.Errorf("gated participant's kind = %v, want shared", kind)
	}
}

func TestAddRemove(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: AllSpeakers, Capacity: 2}, 3)
	if got, want := m.Len(), 3; got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	if err := m.SetGain(1, 6); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(1); err != nil {
		t.Fatalf("Remove(1): %v", err)
	}
	if err := m.Remove(1); !errors.Is(err, ErrNoSlot) {
		t.Errorf("second Remove(1) = %v, want %v", err, ErrNoSlot)
	}
	if err := m.Put(1, make([]int16, 160)); !errors.Is(err, ErrNoSlot) {
		t.Errorf("Put(removed) = %v, want %v", err, ErrNoSlot)
	}
	if got, want := m.Len(), 2; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if got, want := m.Slots(), 3; got != want {
		t.Errorf("Slots() = %d, want %d", got, want)
	}
	// The freed slot comes back fresh: unmuted, 0 dB, silent.
	i, err := m.Add()
	if err != nil || i != 1 {
		t.Fatalf("Add() = %d, %v; want the freed slot 1", i, err)
	}
	if st := status(t, m, 1); st.Gain != 0 || st.Muted || st.Active {
		t.Errorf("Status(reused) = %+v, want a fresh participant", st)
	}
	put(t, m, toneFrames(8000, 0, freqs[:3], []float64{3000, 2000, 1000}))
	m.Tick()
	_, out := output(t, m, 0)
	if got := amplitude(out, 8000, freqs[1]); math.Abs(got-2000) > 1 {
		t.Errorf("participant 0 hears the reused slot at %.1f, want 2000", got)
	}
}

func TestRemoveSeatedSpeaker(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, Speakers: 2}, 3)
	put(t, m, toneFrames(8000, 0, freqs[:3], []float64{5000, 4000, 1000}))
	m.Tick()
	if err := m.Remove(0); err != nil {
		t.Fatal(err)
	}
	if got := m.Speakers(nil); !slices.Equal(got, []int{1}) {
		t.Errorf("Speakers() after removal = %v, want [1]", got)
	}
	put(t, m, [][]int16{nil, tone(8000, 160, 160, freqs[1], 4000), tone(8000, 160, 160, freqs[2], 1000)})
	m.Tick()
	got := m.Speakers(nil)
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Speakers() = %v, want [1 2]", got)
	}
}

func TestErrorsChangeNothing(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000}, 2)
	frame := tone(8000, 160, 0, 400, 3000)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"Put slot -1", m.Put(-1, frame), ErrNoSlot},
		{"Put slot 2", m.Put(2, frame), ErrNoSlot},
		{"Put short frame", m.Put(0, frame[:159]), ErrFrameLength},
		{"Put 16k frame", m.Put(0, make([]int16, 320)), ErrFrameLength},
		{"Put nil", m.Put(0, nil), ErrFrameLength},
		{"Remove 7", m.Remove(7), ErrNoSlot},
		{"SetMuted -3", m.SetMuted(-3, true), ErrNoSlot},
		{"SetGain 13 dB", m.SetGain(0, 13), ErrGain},
		{"SetGain -12.5 dB", m.SetGain(0, -12.5), ErrGain},
		{"SetGain NaN", m.SetGain(0, math.NaN()), ErrGain},
		{"SetGain slot 9", m.SetGain(9, 0), ErrNoSlot},
		{"AccumulateRange negative", m.AccumulateRange(-1, 1, new(Accumulator)), ErrRange},
		{"AccumulateRange past end", m.AccumulateRange(0, 3, new(Accumulator)), ErrRange},
		{"AccumulateRange reversed", m.AccumulateRange(2, 1, new(Accumulator)), ErrRange},
		{"AccumulateRange nil", m.AccumulateRange(0, 2, nil), ErrAccumulator},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, _, err := m.Output(0, make([]int16, 100)); !errors.Is(err, ErrFrameLength) {
		t.Errorf("Output(short dst) error = %v, want %v", err, ErrFrameLength)
	}
	if _, _, err := m.Output(5, make([]int16, 160)); !errors.Is(err, ErrNoSlot) {
		t.Errorf("Output(5) error = %v, want %v", err, ErrNoSlot)
	}
	if _, err := m.Status(-1); !errors.Is(err, ErrNoSlot) {
		t.Errorf("Status(-1) error = %v, want %v", err, ErrNoSlot)
	}
	// None of that left a trace: the next tick is silent and nothing moved.
	m.Tick()
	if !m.Silent() {
		t.Error("a failed Put left input behind")
	}
	for i := range 2 {
		if st := status(t, m, i); st != (Status{Level: -127}) {
			t.Errorf("Status(%d) = %+v, want the zero state", i, st)
		}
	}
}

func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 65535 participants")
	}
	m := newMixer(t, Config{SampleRate: 8000}, 0)
	for range MaxSlots {
		if _, err := m.Add(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Add(); !errors.Is(err, ErrFull) {
		t.Fatalf("Add() past MaxSlots = %v, want %v", err, ErrFull)
	}
	if err := m.Remove(100); err != nil {
		t.Fatal(err)
	}
	if i, err := m.Add(); err != nil || i != 100 {
		t.Errorf("Add() after Remove(100) = %d, %v; want 100, nil", i, err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Silence: "silence", Shared: "shared", Personal: "personal", Kind(9): "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestStatusLevel(t *testing.T) {
	m := newMixer(t, Config{SampleRate: 8000, NoiseGate: -128}, 1)
	tests := []struct {
		amp  float64
		want int
	}{
		{32767, -3}, // full-scale sine: 3 dB below a full-scale square wave
		{dbAmp(-20), -20},
		{dbAmp(-45.4), -45},
		{dbAmp(-80), -80},
		{4, -81},
		{1, -127}, // mean square below one: ±1 LSB dither is silence
	}
	for _, tt := range tests {
		put(t, m, [][]int16{tone(8000, 160, 0, 1000, tt.amp)})
		m.Tick()
		if got := status(t, m, 0).Level; got != tt.want {
			t.Errorf("amplitude %.1f: Level = %d, want %d", tt.amp, got, tt.want)
		}
	}
}
