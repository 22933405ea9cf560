package tone

import (
	"slices"
	"testing"
	"time"
)

// ramp returns n distinct samples 1, 2, ... n, so that any gap, repeat or
// shift in playback shows.
func ramp(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(i + 1)
	}
	return pcm
}

func TestClipOnce(t *testing.T) {
	pcm := ramp(1000)
	for _, frame := range []int{160, 1, 999, 1000, 1001, 4096} {
		c := NewClip(pcm, false)
		got, done := readAll(t, c, frame, 10000)
		if !done || !slices.Equal(got, pcm) {
			t.Errorf("frame %d: played %d samples (done %v), want the clip once", frame, len(got), done)
		}
	}
	// A clip ending exactly at a frame boundary reports done with the last
	// full frame.
	c := NewClip(ramp(320), false)
	frame := make([]int16, 160)
	if n, done := c.Read(frame); n != 160 || done {
		t.Errorf("first Read = %d, %v; want 160, false", n, done)
	}
	if n, done := c.Read(frame); n != 160 || !done {
		t.Errorf("second Read = %d, %v; want 160, true", n, done)
	}
}

// TestClipLoop checks that a looping clip joins its end to its start without
// a gap, with clips shorter and longer than a frame.
func TestClipLoop(t *testing.T) {
	for _, size := range []int{1, 50, 160, 333, 8000} {
		pcm := ramp(size)
		for _, frame := range []int{160, 7, 320} {
			c := NewClip(pcm, true)
			got, done := readAll(t, c, frame, 5*8000)
			if done {
				t.Fatalf("clip of %d: a looping clip ended", size)
			}
			for i, v := range got {
				if want := pcm[i%size]; v != want {
					t.Fatalf("clip of %d, frames of %d: sample %d = %d, want %d", size, frame, i, v, want)
				}
			}
			if want := len(got) % size; c.Position() != want {
				t.Errorf("clip of %d, frames of %d: Position() = %d, want %d", size, frame, c.Position(), want)
			}
		}
	}
}

func TestClipEmptyAndReset(t *testing.T) {
	for _, loop := range []bool{false, true} {
		c := NewClip(nil, loop)
		if n, done := c.Read(make([]int16, 160)); n != 0 || !done {
			t.Errorf("empty clip (loop %v): Read = %d, %v; want 0, true", loop, n, done)
		}
	}
	pcm := ramp(500)
	c := NewClip(pcm, false)
	readAll(t, c, 160, 1000)
	c.Reset()
	if got, _ := readAll(t, c, 160, 1000); !slices.Equal(got, pcm) {
		t.Errorf("after Reset the clip played %d samples, want the clip", len(got))
	}
}

// TestClipsShareSamples plays one clip to two legs at different positions.
func TestClipsShareSamples(t *testing.T) {
	pcm := ramp(1000)
	a, b := NewClip(pcm, true), NewClip(pcm, true)
	frame := make([]int16, 160)
	a.Read(frame)
	a.Read(frame)
	b.Read(frame)
	if a.Position() != 320 || b.Position() != 160 {
		t.Errorf("positions %d and %d, want 320 and 160", a.Position(), b.Position())
	}
	if frame[0] != 1 {
		t.Errorf("b started at sample %d, want 1", frame[0])
	}
}

func TestSilence(t *testing.T) {
	s := NewSilence(250)
	got, done := readAll(t, s, 160, 1000)
	if !done || len(got) != 250 || slices.Max(got) != 0 || slices.Min(got) != 0 {
		t.Errorf("silence: %d samples, done %v, range [%d, %d]; want 250 zeros", len(got), done, slices.Min(got), slices.Max(got))
	}
	s.Reset()
	if got, _ := readAll(t, s, 160, 1000); len(got) != 250 {
		t.Errorf("after Reset: %d samples, want 250", len(got))
	}
	if n, done := NewSilence(-5).Read(make([]int16, 10)); n != 0 || !done {
		t.Errorf("negative silence: Read = %d, %v; want 0, true", n, done)
	}
}

// TestSequence plays a prompt made of parts and checks that it is exactly
// the parts back to back, whatever the frame size.
func TestSequence(t *testing.T) {
	p, err := DTMF("5", 40*time.Millisecond, 10*time.Millisecond, -10)
	if err != nil {
		t.Fatal(err)
	}
	parts := func() []Source {
		g, err := NewGenerator(8000, p)
		if err != nil {
			t.Fatal(err)
		}
		return []Source{NewClip(ramp(333), false), NewSilence(80), g, NewClip(nil, false), NewClip(ramp(10), false)}
	}
	var want []int16
	for _, part := range parts() {
		got, _ := readAll(t, part, 1<<20, 1<<20)
		want = append(want, got...)
	}
	if len(want) != 333+80+400+10 {
		t.Fatalf("parts make %d samples, want %d", len(want), 333+80+400+10)
	}
	for _, frame := range []int{160, 1, 333, 823, 1000} {
		s := NewSequence(parts()...)
		got, done := readAll(t, s, frame, 1<<20)
		if !done || !slices.Equal(got, want) {
			t.Errorf("frames of %d: %d samples (done %v), want the parts back to back", frame, len(got), done)
		}
		s.Reset()
		if again, _ := readAll(t, s, frame, 1<<20); !slices.Equal(again, want) {
			t.Errorf("frames of %d: replay after Reset differs", frame)
		}
	}
	if n, done := NewSequence().Read(make([]int16, 160)); n != 0 || !done {
		t.Errorf("empty sequence: Read = %d, %v; want 0, true", n, done)
	}
}

// TestSequenceHoldMusic ends a sequence with a looping clip: it never ends.
func TestSequenceHoldMusic(t *testing.T) {
	s := NewSequence(NewClip(ramp(100), false), NewClip(ramp(30), true))
	got, done := readAll(t, s, 160, 1600)
	if done {
		t.Fatal("a sequence ending in a loop ended")
	}
	for i := 100; i < len(got); i++ {
		if want := int16((i-100)%30 + 1); got[i] != want {
			t.Fatalf("sample %d = %d, want %d", i, got[i], want)
		}
	}
}

// shortReader breaks the Source contract: it returns less than asked without
// being done.
type shortReader struct{}

func (shortReader) Read(frame []int16) (int, bool) {
	if len(frame) == 0 {
		return 0, false
	}
	frame[0] = 7
	return 1, false
}

func TestSequenceBadPart(t *testing.T) {
	s := NewSequence(shortReader{}, NewClip(ramp(5), false))
	frame := make([]int16, 160)
	n, done := s.Read(frame)
	if n != 6 || !done || frame[0] != 7 || frame[1] != 1 {
		t.Errorf("Read = %d, %v, %v; want the bad part's sample then the clip", n, done, frame[:n])
	}
}
