package g722

import (
	"encoding/binary"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must not panic, must
// write exactly two samples per byte, must keep its state in range, and must
// not care where the stream is cut between calls.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0x00, 0x01, 0x02, 0x03, 0xFC, 0xFD, 0xFE, 0xFF}, uint8(3))
	f.Add(make([]byte, 160), uint8(80))
	seed := make([]byte, 256)
	for i := range seed {
		seed[i] = byte(i)
	}
	f.Add(seed, uint8(200))
	f.Fuzz(func(t *testing.T, src []byte, cut uint8) {
		whole := make([]int16, 2*len(src))
		d := NewDecoder()
		if n := d.Decode(whole, src); n != 2*len(src) {
			t.Fatalf("Decode = %d; want %d", n, 2*len(src))
		}
		checkBounds(t, "low", &d.low, nbLowMax)
		checkBounds(t, "high", &d.high, nbHighMax)

		c := min(int(cut), len(src))
		parts := make([]int16, 2*len(src))
		d2 := NewDecoder()
		d2.Decode(parts, src[:c])
		d2.Decode(parts[2*c:], src[c:])
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("sample %d: %d decoded whole, %d decoded in two calls cut at %d", i, whole[i], parts[i], c)
			}
		}
	})
}

// FuzzEncode feeds arbitrary audio to the encoder, and its output to a
// decoder: neither may panic, and the two must end in the same adaptive state.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xFF, 0x7F, 0x00, 0x80, 0xFF, 0x7F, 0x00, 0x80})
	f.Add(make([]byte, 640))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pcm := make([]int16, len(raw)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		e, d := NewEncoder(), NewDecoder()
		enc := make([]byte, len(pcm)/2)
		if n := e.Encode(enc, pcm); n != len(enc) {
			t.Fatalf("Encode = %d; want %d", n, len(enc))
		}
		d.Decode(make([]int16, len(pcm)), enc)
		checkBounds(t, "encoder low", &e.low, nbLowMax)
		checkBounds(t, "encoder high", &e.high, nbHighMax)
		checkLockstep(t, e, d)
	})
}
