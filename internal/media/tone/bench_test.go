package tone

import (
	"testing"
	"time"
)

// BenchmarkGenerator measures one 20 ms frame of a dual tone, the cost of an
// entry tone or in-band DTMF per leg per tick.
func BenchmarkGenerator(b *testing.B) {
	for _, rate := range []int{8000, 16000} {
		b.Run(map[int]string{8000: "8kHz", 16000: "16kHz"}[rate], func(b *testing.B) {
			g, err := NewGenerator(rate, Pattern{Steps: []Step{{Freq1: 440, Freq2: 480, Level: -19, Duration: time.Second}}})
			if err != nil {
				b.Fatal(err)
			}
			frame := make([]int16, rate/50)
			b.ReportAllocs()
			for b.Loop() {
				g.Read(frame)
			}
		})
	}
}

// BenchmarkClipLoop measures one frame of looping hold music.
func BenchmarkClipLoop(b *testing.B) {
	c := NewClip(ramp(8000*30+7), true)
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		c.Read(frame)
	}
}

// BenchmarkSequence measures one frame of a prompt made of short parts.
func BenchmarkSequence(b *testing.B) {
	parts := []Source{NewClip(ramp(1234), false), NewSilence(800), NewClip(ramp(4321), true)}
	s := NewSequence(parts...)
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if _, done := s.Read(frame); done {
			s.Reset()
		}
	}
}
