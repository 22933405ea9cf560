// Package tone makes the PCM a leg hears besides the conference mix: tones
// with cadences (entry and exit tones, ringback, in-band DTMF), clips of
// decoded prompts or music, and sequences of them.
//
// Everything is a Source, pulled one frame at a time by the MCU or the
// attendant on its 20 ms tick. Sources produce linear 16-bit PCM at the rate
// they were made for (a Generator is told its rate, typically 8000 or
// 16000 Hz; a Clip plays whatever it holds) and allocate nothing per frame.
package tone

import "time"

// Source produces PCM frame by frame.
//
// Read writes the next samples into frame[:n] and returns n. It fills the
// whole frame unless the source ends within it, so n < len(frame) implies
// done. done reports that no samples follow the ones returned; it may come
// with the last samples or, if the source cannot tell in advance, with n == 0
// on the next call. Once done, Read keeps returning 0, true. Samples past n
// are left as they were: a caller that needs a full frame fills the rest with
// silence.
type Source interface {
	Read(frame []int16) (n int, done bool)
}

// resetter is implemented by the sources of this package that can start over.
type resetter interface {
	Reset()
}

// Samples returns the number of samples d lasts at rate, rounded to the
// nearest sample.
func Samples(d time.Duration, rate int) int {
	return int((int64(d)*int64(rate) + int64(time.Second)/2) / int64(time.Second))
}

// Silence is a Source of a fixed number of zero samples, for pauses between
// the parts of a Sequence.
type Silence struct {
	total, left int
}

// NewSilence returns a Silence of n samples (none if n is negative).
func NewSilence(n int) *Silence {
	n = max(n, 0)
	return &Silence{total: n, left: n}
}

// Read implements Source.
func (s *Silence) Read(frame []int16) (int, bool) {
	n := min(len(frame), s.left)
	clear(frame[:n])
	s.left -= n
	return n, s.left == 0
}

// Reset starts the silence over.
func (s *Silence) Reset() { s.left = s.total }

// Sequence plays sources one after the other, filling each frame across the
// boundary between two of them so that the parts join without a gap, as a
// prompt assembled from recorded words must.
type Sequence struct {
	parts []Source
	cur   int
}

// NewSequence returns a Sequence of parts. It keeps its own copy of the list,
// but plays the parts themselves, which must not be read elsewhere meanwhile.
func NewSequence(parts ...Source) *Sequence {
	return &Sequence{parts: append([]Source(nil), parts...)}
}

// Read implements Source. A part that returns fewer samples than asked
// without reporting done breaks the Source contract; the Sequence moves on
// from it rather than wait for it forever.
func (s *Sequence) Read(frame []int16) (int, bool) {
	n := 0
	for s.cur < len(s.parts) && n < len(frame) {
		k, done := s.parts[s.cur].Read(frame[n:])
		n += k
		if done || n < len(frame) {
			s.cur++
		}
	}
	return n, s.cur == len(s.parts)
}

// Reset starts the sequence over, resetting those parts that can be (every
// Source of this package can).
func (s *Sequence) Reset() {
	s.cur = 0
	for _, p := range s.parts {
		if r, ok := p.(resetter); ok {
			r.Reset()
		}
	}
}
