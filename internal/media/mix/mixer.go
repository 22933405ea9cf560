package mix

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// FrameDuration is the length of one tick: every input and output frame
// holds 20 ms of audio, the usual RTP packetisation of G.711 and G.722.
const FrameDuration = 20 * time.Millisecond

const (
	// MaxFrameSamples is the length of a frame at the highest supported rate
	// (16 kHz), the size of every per-frame buffer.
	MaxFrameSamples = 320
	// MaxSpeakers bounds Config.Speakers. Top-K selection keeps its
	// candidates in fixed arrays of this size so that a tick allocates nothing.
	MaxSpeakers = 32
	// MaxSlots bounds the participants of one Mixer. With every input
	// saturated to int16, MaxSlots × 32768 < 2³¹, so the int32 accumulator
	// can never overflow.
	MaxSlots = 65535
	// AllSpeakers is the Config.Speakers that mixes every voiced input (a
	// full N−1 mix) instead of the K loudest.
	AllSpeakers = -1
)

// Defaults for the zero values of Config.
const (
	// DefaultSpeakers is the speaker seats of a top-K mix: three voices at
	// once are about what listeners can follow.
	DefaultSpeakers = 3
	// DefaultHold keeps a speaker seated and an input active through the
	// pauses between words.
	DefaultHold = 400 * time.Millisecond
	// DefaultMargin (dB) is how much louder a newcomer must be than the
	// weakest seated speaker to take his seat, so that two talkers of similar
	// level do not swap seats frame after frame.
	DefaultMargin = 6.0
	// DefaultNoiseGate (dBov) is above the idle noise of a PSTN line and well
	// below the level of speech.
	DefaultNoiseGate = -55.0
	// DefaultAGCTarget (dBov) is the nominal active speech level of ITU-T
	// P.56 measurements.
	DefaultAGCTarget = -26.0
	// MaxGainDB bounds per-participant gains, automatic or fixed, to ±12 dB:
	// enough to even out telephones, not enough to lift line noise into
	// speech.
	MaxGainDB = 12.0
)

// Errors returned by the mixer. Calls that return one change no state.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("mix: invalid config")
	// ErrNoSlot reports a slot that is out of range or not in use.
	ErrNoSlot = errors.New("mix: no such slot")
	// ErrFull reports that a Mixer already has MaxSlots participants.
	ErrFull = errors.New("mix: conference full")
	// ErrFrameLength reports a frame or buffer of the wrong length.
	ErrFrameLength = errors.New("mix: wrong frame length")
	// ErrRange reports a slot range outside [0, Slots()).
	ErrRange = errors.New("mix: bad slot range")
	// ErrGain reports a gain outside ±MaxGainDB.
	ErrGain = errors.New("mix: gain out of range")
	// ErrAccumulator reports a nil Accumulator.
	ErrAccumulator = errors.New("mix: nil accumulator")
)

// Config configures a Mixer. The zero value of each field except SampleRate
// selects its default.
type Config struct {
	// SampleRate is 8000 or 16000 (Hz).
	SampleRate int
	// Speakers is the number K of loudest voiced inputs summed into the mix
	// (1 to MaxSpeakers), 0 for DefaultSpeakers, or AllSpeakers for a full
	// N−1 mix of every voiced input.
	Speakers int
	// Hold is how long an input stays active (and a speaker seated) after its
	// last voiced frame; 0 selects DefaultHold. It is rounded to whole frames,
	// at least one.
	Hold time.Duration
	// Margin (dB, 0 to 40) is how much louder than the weakest seated
	// speaker a newcomer must be to displace him; 0 selects DefaultMargin.
	// Levels are compared after gain, smoothed over a few frames.
	Margin float64
	// NoiseGate (dBov) is the level an input frame must exceed to be voiced;
	// frames at or below it never make their sender a speaker. 0 selects
	// DefaultNoiseGate; a value at or below -127 turns the gate off, so that
	// any input that is not digital silence is voiced.
	NoiseGate float64
	// AGC turns on the automatic gain control: while a participant speaks,
	// his gain moves slowly (about 3 dB/s) toward AGCTarget, within
	// ±MaxGainDB, and never so high that his frame would clip.
	AGC bool
	// AGCTarget (dBov, in (-60, 0)) is the level AGC aims at; 0 selects
	// DefaultAGCTarget.
	AGCTarget float64
	// Capacity preallocates buffers for that many slots. Add grows them past
	// it as needed.
	Capacity int
}

// Kind says which frame a participant hears in a tick.
type Kind uint8

const (
	// Silence means nothing to hear (nobody contributes, or the listener is
	// the only contributor). The MCU may send a cached encoding of silence.
	Silence Kind = iota
	// Shared is the mix of all contributors, the same for every listener of
	// this kind. The MCU encodes Shared() once per codec and tick.
	Shared
	// Personal is the mix without the listener's own contribution; it must
	// be encoded for him alone.
	Personal
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Silence:
		return "silence"
	case Shared:
		return "shared"
	case Personal:
		return "personal"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Status is one participant's state after a tick, for the roster.
type Status struct {
	// Level is the level of his input this tick after gain, in dBov from
	// -127 (silence) to 0 (RFC 6464 §3 range, with the sign of ITU-T G.100.1).
	Level int
	// Voice reports that this tick's input was above the noise gate.
	Voice bool
	// Active reports that he is talking: voiced within the hold time. This
	// is the roster's "speaking" flag; a muted participant can be active.
	Active bool
	// Speaker reports that his voice is in the mix: he holds a speaker seat
	// (top-K) or is active and not muted (AllSpeakers).
	Speaker bool
	// Muted mirrors SetMuted.
	Muted bool
	// Gain is his current gain in dB.
	Gain float64
}

// participant is one slot's state. Fields are written in phase 1 by the
// goroutine that owns the slot's range, and by Mix.
type participant struct {
	used    bool
	muted   bool
	pending bool // Put this tick, not yet accumulated
	input   bool // the tick just accumulated had input
	voice   bool // that input was above the gate
	contrib bool // his frame is in the current mix
	speaker bool // holds a speaker seat (top-K)
	hold    int32
	gain    int32  // Q12
	ms      uint32 // raw mean square of the pending or current input
	peakSq  uint32 // raw peak magnitude squared, kept when AGC is on
	gms     uint64 // mean square after gain
	level   uint64 // smoothed gms: fast attack, slow release
}

// Mixer mixes one conference. See the package documentation for the tick
// protocol and which calls may run concurrently.
type Mixer struct {
	rate      int
	n         int // samples per frame
	k         int // speaker seats; 0 for a full mix
	holdTicks int32
	marginQ8  uint64 // energy ratio of Margin, Q8
	gate      uint32 // mean square a frame must exceed to be voiced
	agc       bool
	agcLo     uint64 // gms band AGC steers into
	agcHi     uint64

	slots  []participant
	frames []int16 // n samples per slot, gain applied once contributing
	free   []int32 // unused slot indexes below len(slots)
	live   int

	seats        []int32 // seated speakers, cap k
	best         candidates
	acc          [MaxFrameSamples]int32
	contributors int
	shared       [MaxFrameSamples]int16
	silence      [MaxFrameSamples]int16
	own          Accumulator // Tick's accumulator
}

// NewMixer returns a Mixer for cfg.
func NewMixer(cfg Config) (*Mixer, error) {
	m := &Mixer{rate: cfg.SampleRate}
	switch cfg.SampleRate {
	case 8000, 16000:
		m.n = FrameSamples(cfg.SampleRate)
	default:
		return nil, fmt.Errorf("%w: sample rate %d, want 8000 or 16000", ErrConfig, cfg.SampleRate)
	}
	switch k := cfg.Speakers; {
	case k == 0:
		m.k = DefaultSpeakers
	case k == AllSpeakers:
		m.k = 0
	case k >= 1 && k <= MaxSpeakers:
		m.k = k
	default:
		return nil, fmt.Errorf("%w: speakers %d, want 1..%d or AllSpeakers", ErrConfig, k, MaxSpeakers)
	}
	hold := cfg.Hold
	if hold == 0 {
		hold = DefaultHold
	}
	if hold < 0 {
		return nil, fmt.Errorf("%w: negative hold %v", ErrConfig, hold)
	}
	m.holdTicks = int32(max(1, min((hold+FrameDuration/2)/FrameDuration, 1<<20)))
	margin := cfg.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	if !(margin >= 0 && margin <= 40) {
		return nil, fmt.Errorf("%w: margin %v dB, want 0..40", ErrConfig, margin)
	}
	m.marginQ8 = uint64(math.Round(256 * math.Pow(10, margin/10)))
	gate := cfg.NoiseGate
	if gate == 0 {
		gate = DefaultNoiseGate
	}
	if !(gate <= 0) { // also rejects NaN
		return nil, fmt.Errorf("%w: noise gate %v dBov, want ≤ 0", ErrConfig, gate)
	}
	if gate > -127 {
		m.gate = uint32(meanSquare(gate))
	}
	if cfg.AGC {
		target := cfg.AGCTarget
		if target == 0 {
			target = DefaultAGCTarget
		}
		if !(target > -60 && target < 0) {
			return nil, fmt.Errorf("%w: AGC target %v dBov, want -60..0", ErrConfig, target)
		}
		m.agc = true
		m.agcLo = uint64(meanSquare(target - agcBand))
		m.agcHi = uint64(meanSquare(target + agcBand))
	}
	if cfg.Capacity < 0 || cfg.Capacity > MaxSlots {
		return nil, fmt.Errorf("%w: capacity %d, want 0..%d", ErrConfig, cfg.Capacity, MaxSlots)
	}
	m.slots = make([]participant, 0, cfg.Capacity)
	m.frames = make([]int16, 0, cfg.Capacity*m.n)
	m.seats = make([]int32, 0, max(m.k, 1))
	return m, nil
}

// FrameSamples returns the samples in one 20 ms frame at rate Hz.
func FrameSamples(rate int) int { return rate / int(time.Second/FrameDuration) }

// SampleRate returns the mixer's rate in Hz.
func (m *Mixer) SampleRate() int { return m.rate }

// FrameSamples returns the samples in each of the mixer's frames (160 or 320).
func (m *Mixer) FrameSamples() int { return m.n }

// Slots returns one past the highest slot index ever added: every live slot
// is below it, so worker ranges split [0, Slots()).
func (m *Mixer) Slots() int { return len(m.slots) }

// Len returns the number of participants.
func (m *Mixer) Len() int { return m.live }

// Add adds a participant, unmuted at 0 dB gain, and returns his slot. It
// reuses a removed participant's slot before growing.
func (m *Mixer) Add() (int, error) {
	var i int
	if k := len(m.free); k > 0 {
		i = int(m.free[k-1])
		m.free = m.free[:k-1]
	} else {
		if len(m.slots) >= MaxSlots {
			return 0, fmt.Errorf("%w: %d slots", ErrFull, MaxSlots)
		}
		i = len(m.slots)
		m.slots = append(m.slots, participant{})
		m.frames = append(m.frames, m.silence[:m.n]...)
	}
	m.slots[i] = participant{used: true, gain: gainUnity}
	clear(m.frame(i))
	m.live++
	return i, nil
}

// Remove removes the participant in slot. His slot may be reused by a later
// Add.
func (m *Mixer) Remove(slot int) error {
	s, err := m.lookup(slot)
	if err != nil {
		return err
	}
	if s.speaker {
		m.unseat(int32(slot))
	}
	*s = participant{}
	m.free = append(m.free, int32(slot))
	m.live--
	return nil
}

// SetMuted mutes or unmutes the participant in slot. Muting is an ingress
// filter: from the next tick his input reaches nobody and he loses any
// speaker seat, but he still hears the mix.
func (m *Mixer) SetMuted(slot int, muted bool) error {
	s, err := m.lookup(slot)
	if err != nil {
		return err
	}
	s.muted = muted
	if muted && s.speaker {
		m.unseat(int32(slot))
	}
	return nil
}

// SetGain sets the gain, in dB within ±MaxGainDB, applied to slot's input
// from the next tick. With AGC on it is the point the control starts from.
func (m *Mixer) SetGain(slot int, db float64) error {
	if !(db >= -MaxGainDB && db <= MaxGainDB) {
		return fmt.Errorf("%w: %v dB", ErrGain, db)
	}
	s, err := m.lookup(slot)
	if err != nil {
		return err
	}
	s.gain = min(max(int32(math.Round(gainUnity*math.Pow(10, db/20))), gainMin), gainMax)
	return nil
}

// Put gives slot's decoded input for this tick: FrameSamples() samples,
// copied. Slots without Put are silent this tick. Put runs in phase 1 and may
// run concurrently with Put and AccumulateRange on other slots.
func (m *Mixer) Put(slot int, pcm []int16) error {
	s, err := m.lookup(slot)
	if err != nil {
		return err
	}
	if len(pcm) != m.n {
		return fmt.Errorf("%w: %d samples, want %d", ErrFrameLength, len(pcm), m.n)
	}
	f := m.frame(slot)
	var sum uint64
	if m.agc {
		sum, s.peakSq = copyEnergyPeak(f, pcm)
	} else {
		sum = copyEnergy(f, pcm)
	}
	// Division by a constant compiles to a multiply; by m.n it would not.
	if m.n == 160 {
		s.ms = uint32(sum / 160)
	} else {
		s.ms = uint32(sum / 320)
	}
	// A frame of digital zeros (or of ±1 LSB dither) adds nothing to any
	// mix: treat it as absent so that an idle conference costs nothing.
	s.pending = s.ms != 0
	return nil
}

// Tick runs phases 1 and 2 of a tick on the calling goroutine, after the
// Puts: AccumulateRange over every slot, then Mix.
func (m *Mixer) Tick() {
	// The range is [0, Slots()) and the accumulator is not nil, so
	// AccumulateRange cannot fail.
	_ = m.AccumulateRange(0, len(m.slots), &m.own)
	m.Mix(&m.own)
}

// Output returns what slot hears this tick. For Personal it writes the
// frame into dst, which must hold FrameSamples() samples, and returns it;
// for Shared and Silence it returns the mixer's own frame, which the caller
// must not modify and which stays valid until the next Mix. Output runs in
// phase 3, concurrently with other read-only calls.
func (m *Mixer) Output(slot int, dst []int16) (Kind, []int16, error) {
	s, err := m.lookup(slot)
	if err != nil {
		return Silence, nil, err
	}
	if len(dst) < m.n {
		return Silence, nil, fmt.Errorf("%w: dst holds %d samples, want %d", ErrFrameLength, len(dst), m.n)
	}
	switch {
	case !s.contrib && m.contributors == 0, s.contrib && m.contributors == 1:
		return Silence, m.silence[:m.n], nil
	case !s.contrib:
		return Shared, m.shared[:m.n], nil
	}
	dst = dst[:m.n]
	minusLimit(dst, m.acc[:m.n], m.frame(slot))
	return Personal, dst, nil
}

// Shared returns the frame every non-contributor hears this tick (all zeros
// when Silent). The caller must not modify it; it is valid until the next Mix.
func (m *Mixer) Shared() []int16 {
	if m.contributors == 0 {
		return m.silence[:m.n]
	}
	return m.shared[:m.n]
}

// Silent reports that nobody contributes this tick: every output is Silence
// and the MCU need not encode anything.
func (m *Mixer) Silent() bool { return m.contributors == 0 }

// Contributors returns how many inputs are in this tick's mix.
func (m *Mixer) Contributors() int { return m.contributors }

// Status returns slot's levels and flags after the last tick.
func (m *Mixer) Status(slot int) (Status, error) {
	s, err := m.lookup(slot)
	if err != nil {
		return Status{}, err
	}
	return Status{
		Level:   levelDB(s.gms),
		Voice:   s.voice,
		Active:  s.hold > 0,
		Speaker: s.speaker || (m.k == 0 && s.hold > 0 && !s.muted),
		Muted:   s.muted,
		Gain:    gainDB(s.gain),
	}, nil
}

// Speakers appends to dst the slots whose Status has Speaker set and returns
// the extended slice. With top-K it reads the K seats; with AllSpeakers it
// scans every slot.
func (m *Mixer) Speakers(dst []int) []int {
	if m.k > 0 {
		for _, i := range m.seats {
			dst = append(dst, int(i))
		}
		return dst
	}
	for i := range m.slots {
		if s := &m.slots[i]; s.used && s.hold > 0 && !s.muted {
			dst = append(dst, i)
		}
	}
	return dst
}

// lookup returns the state of a live slot.
func (m *Mixer) lookup(i int) (*participant, error) {
	if i < 0 || i >= len(m.slots) || !m.slots[i].used {
		return nil, fmt.Errorf("%w: %d", ErrNoSlot, i)
	}
	return &m.slots[i], nil
}

// frame returns slot i's input frame.
func (m *Mixer) frame(i int) []int16 {
	return m.frames[i*m.n : i*m.n+m.n : i*m.n+m.n]
}
