package dtmf

import (
	"errors"
	"testing"
	"time"
)

const allDigits = "1234567890*#ABCD"

func newTestDetector(t *testing.T, cfg DetectorConfig) *Detector {
	t.Helper()
	d, err := NewDetector(cfg)
	if err != nil {
		t.Fatalf("NewDetector(%+v): %v", cfg, err)
	}
	return d
}

// TestDetectorDigits plays every digit, one per detector, under the
// conditions a DTMF receiver must accept (ITU-T Q.24: 15 dB signal-to-noise
// ratio, 26 dB of dynamic range, 8 dB normal and 4 dB reverse twist,
// frequencies 1.5% off), in 20 ms frames and in odd-sized ones.
func TestDetectorDigits(t *testing.T) {
	tests := []struct {
		name      string
		rate      int
		low, high float64 // dBm0 of the row and column tones
		dev       float64 // relative frequency error
		noise     float64 // dBm0 of white noise, 0 for none
		on        float64 // seconds
		frame     int
	}{
		{name: "clean", rate: 8000, low: -8, high: -6, on: 0.1, frame: 160},
		{name: "clean 16kHz", rate: 16000, low: -8, high: -6, on: 0.1, frame: 320},
		{name: "odd frames", rate: 8000, low: -8, high: -6, on: 0.1, frame: 37},
		{name: "one sample frames", rate: 8000, low: -8, high: -6, on: 0.06, frame: 1},
		{name: "shortest tone", rate: 8000, low: -8, high: -6, on: 0.040, frame: 160},
		{name: "shortest tone 16kHz", rate: 16000, low: -8, high: -6, on: 0.040, frame: 320},
		{name: "low level", rate: 8000, low: -30, high: -30, on: 0.1, frame: 160},
		{name: "hot level", rate: 8000, low: -3, high: -1, on: 0.1, frame: 160},
		{name: "normal twist 8dB", rate: 8000, low: -10, high: -18, on: 0.1, frame: 160},
		{name: "reverse twist 4dB", rate: 8000, low: -13, high: -9, on: 0.1, frame: 160},
		{name: "normal twist 8dB shortest", rate: 8000, low: -10, high: -18, on: 0.04, frame: 160},
		{name: "reverse twist 4dB shortest", rate: 8000, low: -13, high: -9, on: 0.04, frame: 160},
		{name: "frequency +1.5%", rate: 8000, low: -8, high: -6, dev: 0.015, on: 0.1, frame: 160},
		{name: "frequency -1.5%", rate: 8000, low: -8, high: -6, dev: -0.015, on: 0.1, frame: 160},
		{name: "noise 15 dB", rate: 8000, low: -20, high: -20, noise: -32, on: 0.1, frame: 160},
		{name: "noise 15 dB 16kHz", rate: 16000, low: -20, high: -20, noise: -32, on: 0.1, frame: 320},
		{name: "noise twist shortest", rate: 8000, low: -14, high: -20, noise: -35, on: 0.045, frame: 160},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range len(allDigits) {
				c := allDigits[i]
				// Offset the tone by a varying amount so that it meets the
				// analysis windows at every alignment.
				s := newSignal(tc.rate).silence(0.05+0.0007*float64(i)).
					digit(t, c, tc.on, tc.low, tc.high, tc.dev).silence(0.1)
				if tc.noise != 0 {
					s.noise(tc.noise, uint64(i))
				}
				d := newTestDetector(t, DetectorConfig{SampleRate: tc.rate})
				if got, want := detectAll(d, s.pcm(), tc.frame), string(c); got != want {
					t.Errorf("digit %q: got %q, want %q", c, got, want)
				}
			}
		})
	}
}

// TestDetectorRejects plays signals that are not valid DTMF digits.
func TestDetectorRejects(t *testing.T) {
	tests := []struct {
		name      string
		low, high float64
		dev       float64
		on        float64
	}{
		{name: "too short", low: -8, high: -6, on: 0.020},
		{name: "too quiet", low: -45, high: -45, on: 0.1},
		// Twist is accepted up to the limits plus a measurement margin
		// and rejected from about 6 dB beyond them.
		{name: "normal twist 14dB", low: -3, high: -17, on: 0.1},
		{name: "reverse twist 10dB", low: -18, high: -8, on: 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range len(allDigits) {
				c := allDigits[i]
				for _, offset := range []float64{0, 0.0013, 0.0031, 0.0047} {
					s := newSignal(8000).silence(0.05+offset).digit(t, c, tc.on, tc.low, tc.high, tc.dev).silence(0.1)
					d := newTestDetector(t, DetectorConfig{})
					if got := detectAll(d, s.pcm(), 160); got != "" {
						t.Errorf("digit %q at offset %v: got %q, want nothing", c, offset, got)
					}
				}
			}
		})
	}
}

// TestDetectorSequence dials every digit with the shortest tones and
// pauses the detector must handle, and with a slower human rhythm.
func TestDetectorSequence(t *testing.T) {
	const seq = allDigits + "1123455"
	tests := []struct {
		name    string
		rate    int
		on, off float64
		noise   float64
	}{
		{name: "40/40 ms", rate: 8000, on: 0.040, off: 0.040},
		{name: "50/50 ms noisy", rate: 8000, on: 0.050, off: 0.050, noise: -30},
		{name: "40/40 ms 16kHz", rate: 16000, on: 0.040, off: 0.040},
		{name: "human", rate: 8000, on: 0.180, off: 0.220, noise: -40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSignal(tc.rate).silence(0.033)
			for i := range len(seq) {
				s.digit(t, seq[i], tc.on, -10, -8, 0).silence(tc.off)
			}
			if tc.noise != 0 {
				s.noise(tc.noise, 7)
			}
			d := newTestDetector(t, DetectorConfig{SampleRate: tc.rate})
			if got := detectAll(d, s.pcm(), tc.rate/50); got != seq {
				t.Errorf("got %q, want %q", got, seq)
			}
		})
	}
}

// TestDetectorNoPause changes digit without a pause between the tones: each
// digit is still reported once.
func TestDetectorNoPause(t *testing.T) {
	s := newSignal(8000).silence(0.02)
	for _, c := range []byte("147*") {
		s.digit(t, c, 0.08, -8, -6, 0)
	}
	s.silence(0.1)
	d := newTestDetector(t, DetectorConfig{})
	if got, want := detectAll(d, s.pcm(), 160), "147*"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestDetectorInterruption bridges a 10 ms drop-out inside a tone (ITU-T
// Q.24) but reports a digit again after a real pause.
func TestDetectorInterruption(t *testing.T) {
	tests := []struct {
		gap  float64
		want string
	}{
		{gap: 0.005, want: "5"},
		{gap: 0.010, want: "5"},
		{gap: 0.040, want: "55"},
		{gap: 0.100, want: "55"},
	}
	for _, tc := range tests {
		for _, offset := range []float64{0, 0.002, 0.004} {
			s := newSignal(8000).silence(0.03+offset).digit(t, '5', 0.1, -8, -6, 0).
				silence(tc.gap).digit(t, '5', 0.1, -8, -6, 0).silence(0.1)
			d := newTestDetector(t, DetectorConfig{})
			if got := detectAll(d, s.pcm(), 160); got != tc.want {
				t.Errorf("gap %v offset %v: got %q, want %q", tc.gap, offset, got, tc.want)
			}
		}
	}
}

// TestDetectorTalkOff plays material that must not produce digits: a
// speech model with formants on DTMF frequencies, music with notes near
// them, single tones, the call-progress tones of several countries and
// noise, each loud and soft.
func TestDetectorTalkOff(t *testing.T) {
	tests := []struct {
		name string
		make func(s *signal, level float64) *signal
	}{
		{name: "male speech", make: func(s *signal, l float64) *signal { return s.speech(6, 90, 150, l, 1) }},
		{name: "female speech", make: func(s *signal, l float64) *signal { return s.speech(6, 170, 280, l, 2) }},
		{name: "child speech", make: func(s *signal, l float64) *signal { return s.speech(6, 250, 400, l, 3) }},
		{name: "music", make: func(s *signal, l float64) *signal { return s.music(6, l, 4) }},
		{name: "music 2", make: func(s *signal, l float64) *signal { return s.music(6, l, 5) }},
		{name: "row tone alone", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{697}, []float64{l})
		}},
		{name: "column tone alone", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{1336}, []float64{l})
		}},
		{name: "1 kHz", make: func(s *signal, l float64) *signal { return s.tones(0.5, []float64{1000}, []float64{l}) }},
		{name: "two rows", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{697, 852, 1336}, []float64{l, l, l})
		}},
		{name: "two columns", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{770, 1209, 1477}, []float64{l, l, l})
		}},
		{name: "second row 4 dB down", make: func(s *signal, l float64) *signal {
			// Purity alone would pass this (the two strongest tones hold
			// 83% of the energy); the relative peak check does not.
			return s.tones(0.5, []float64{697, 770, 1336}, []float64{l, l - 4, l})
		}},
		{name: "second column 4 dB down", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{852, 1209, 1477}, []float64{l, l, l - 4})
		}},
		{name: "US dial tone", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{350, 440}, []float64{l, l})
		}},
		{name: "US ringback", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{440, 480}, []float64{l, l})
		}},
		{name: "US busy", make: func(s *signal, l float64) *signal {
			return s.tones(0.5, []float64{480, 620}, []float64{l, l})
		}},
		{name: "European tone", make: func(s *signal, l float64) *signal { return s.tones(0.5, []float64{425}, []float64{l}) }},
		{name: "tone with harmonic", make: func(s *signal, l float64) *signal {
			// A "digit" whose tones carry strong second harmonics, as a
			// sung or played interval would.
			return s.tones(0.5, []float64{770, 1540, 1336, 2672}, []float64{l, l - 6, l, l - 6})
		}},
		{name: "noise", make: func(s *signal, l float64) *signal { return s.silence(2).noise(l, 9) }},
	}
	for _, tc := range tests {
		for _, level := range []float64{-3, -15, -25} {
			s := tc.make(newSignal(8000), level)
			d := newTestDetector(t, DetectorConfig{})
			if got := detectAll(d, s.pcm(), 160); got != "" {
				t.Errorf("%s at %v dBm0: detected %q, want nothing", tc.name, level, got)
			}
		}
	}
}

// TestDetectorSpeechThenDigits checks that talk-off protection does not cost
// digits dialled over background speech.
func TestDetectorSpeechThenDigits(t *testing.T) {
	speech := newSignal(8000).speech(3, 100, 200, -20, 11)
	digits := newSignal(8000).silence(0.2)
	for _, c := range []byte("2580#") {
		digits.digit(t, c, 0.1, -8, -6, 0).silence(0.1)
	}
	// Mix speech under the digits at 12 dB lower peak level.
	mixed := newSignal(8000)
	mixed.x = append(mixed.x, speech.x...)
	for i, v := range digits.x {
		mixed.x = append(mixed.x, v+speech.x[i%len(speech.x)]/4)
	}
	d := newTestDetector(t, DetectorConfig{})
	if got, want := detectAll(d, mixed.pcm(), 160), "2580#"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDetectorActiveAndReset(t *testing.T) {
	d := newTestDetector(t, DetectorConfig{})
	tone := newSignal(8000).digit(t, '9', 0.1, -8, -6, 0).pcm()
	if got := string(d.Detect(nil, tone)); got != "9" {
		t.Fatalf("Detect = %q, want %q", got, "9")
	}
	if !d.Active() {
		t.Errorf("Active() = false during the tone, want true")
	}
	d.Reset()
	if d.Active() {
		t.Errorf("Active() = true after Reset, want false")
	}
	// After Reset the same tone continuing is a new press.
	if got := string(d.Detect(nil, tone)); got != "9" {
		t.Errorf("Detect after Reset = %q, want %q", got, "9")
	}
	d.Detect(nil, newSignal(8000).silence(0.1).pcm())
	if d.Active() {
		t.Errorf("Active() = true after silence, want false")
	}
}

func TestDetectorConfig(t *testing.T) {
	bad := []DetectorConfig{
		{SampleRate: 11025},
		{SampleRate: 4000},
		{SampleRate: 96000},
		{MinLevel: 6},
		{NormalTwist: -1},
		{ReverseTwist: 50},
		{MinOn: -time.Millisecond},
		{MinOff: time.Minute},
	}
	for _, cfg := range bad {
		if _, err := NewDetector(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewDetector(%+v) error = %v, want %v", cfg, err, ErrConfig)
		}
	}
	for _, rate := range []int{8000, 16000, 32000, 48000} {
		d := newTestDetector(t, DetectorConfig{SampleRate: rate})
		s := newSignal(rate).silence(0.01).digit(t, '#', 0.06, -8, -6, 0).silence(0.06)
		if got := detectAll(d, s.pcm(), rate/50); got != "#" {
			t.Errorf("rate %d: got %q, want %q", rate, got, "#")
		}
	}
}

// TestDetectorTiming checks the MinOn and MinOff settings against tone and
// pause lengths.
func TestDetectorTiming(t *testing.T) {
	d := newTestDetector(t, DetectorConfig{MinOn: 80 * time.Millisecond, MinOff: 80 * time.Millisecond})
	s := newSignal(8000).silence(0.02).
		digit(t, '1', 0.03, -8, -6, 0).silence(0.1).  // too short for 80 ms
		digit(t, '2', 0.09, -8, -6, 0).silence(0.03). // pause too short: bridged
		digit(t, '2', 0.09, -8, -6, 0).silence(0.1).
		digit(t, '3', 0.09, -8, -6, 0).silence(0.1)
	if got, want := detectAll(d, s.pcm(), 160), "23"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
