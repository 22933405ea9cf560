package jitter

import (
	"testing"
	"time"
)

// BenchmarkPushPop is the per-leg cost of one 20 ms frame: one packet in,
// one frame out.
func BenchmarkPushPop(b *testing.B) {
	buf := newBuffer(b, nil)
	payload, dst := make([]byte, 160), make([]byte, DefaultMaxPayload)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at := t0.Add(time.Duration(i) * frame)
		_ = buf.Push(1, uint16(i), uint32(i*160), payload, at)
		buf.Pop(at.Add(frame/2), dst)
		i++
	}
}

// BenchmarkPushPopJitter adds reordering and loss, which exercise the
// histogram and the control paths.
func BenchmarkPushPopJitter(b *testing.B) {
	buf := newBuffer(b, nil)
	payload, dst := make([]byte, 160), make([]byte, DefaultMaxPayload)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		seq := i ^ 1 // swap neighbours
		if i%50 != 7 {
			jit := time.Duration((i*7919)%40) * time.Millisecond
			_ = buf.Push(1, uint16(seq), uint32(seq*160), payload, t0.Add(time.Duration(i)*frame+jit))
		}
		buf.Pop(t0.Add(time.Duration(i)*frame+frame/2), dst)
		i++
	}
}
