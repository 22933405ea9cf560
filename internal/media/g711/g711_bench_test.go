package g711

import "testing"

// frame is one 20 ms frame at 8 kHz, the unit every caller works in.
const frame = 160

func benchPCM() []int16 {
	pcm := make([]int16, frame)
	for i := range pcm {
		pcm[i] = int16(uint32(i) * 2654435761 >> 16) // spread over the whole range
	}
	return pcm
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm, out := benchPCM(), make([]byte, frame)
	b.ReportAllocs()
	b.SetBytes(frame)
	for b.Loop() {
		EncodeUlaw(out, pcm)
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	pay, out := make([]byte, frame), make([]int16, frame)
	EncodeUlaw(pay, benchPCM())
	b.ReportAllocs()
	b.SetBytes(frame)
	for b.Loop() {
		DecodeUlaw(out, pay)
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	pcm, out := benchPCM(), make([]byte, frame)
	b.ReportAllocs()
	b.SetBytes(frame)
	for b.Loop() {
		EncodeAlaw(out, pcm)
	}
}

func BenchmarkDecodeAlaw(b *testing.B) {
	pay, out := make([]byte, frame), make([]int16, frame)
	EncodeAlaw(pay, benchPCM())
	b.ReportAllocs()
	b.SetBytes(frame)
	for b.Loop() {
		DecodeAlaw(out, pay)
	}
}
