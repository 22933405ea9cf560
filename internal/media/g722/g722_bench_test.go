package g722

import "testing"

func BenchmarkEncode(b *testing.B) {
	pcm := sine(frameSamples, 1000, 12000)
	out := make([]byte, frameBytes)
	e := NewEncoder()
	b.ReportAllocs()
	b.SetBytes(2 * frameSamples)
	for b.Loop() {
		e.Encode(out, pcm)
	}
}

func BenchmarkDecode(b *testing.B) {
	pay := make([]byte, frameBytes)
	NewEncoder().Encode(pay, sine(frameSamples, 1000, 12000))
	out := make([]int16, frameSamples)
	d := NewDecoder()
	b.ReportAllocs()
	b.SetBytes(frameBytes)
	for b.Loop() {
		d.Decode(out, pay)
	}
}

func TestNoAllocs(t *testing.T) {
	pcm := make([]int16, frameSamples)
	pay := make([]byte, frameBytes)
	e, d := NewEncoder(), NewDecoder()
	if n := testing.AllocsPerRun(100, func() {
		e.Encode(pay, pcm)
		d.Decode(pcm, pay)
	}); n != 0 {
		t.Errorf("Encode+Decode of a frame allocates %v times; want 0", n)
	}
}
