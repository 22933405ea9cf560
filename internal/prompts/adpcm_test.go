package prompts

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// The golden files were made with sox 14.4.2, the encoder of the committed
// clips, and are decoded by sox too, so the test checks that our decoder
// reproduces the reference decoder sample for sample:
//
//	golden: a 0.3 s sweep 100-3500 Hz, 0.2 s of 300 Hz square, 0.2 s of noise,
//	        "sox -t s16 ... -t ima golden.ima; sox -t ima golden.ima -t s16 golden.s16"
//	clamp:  hand-made codes that drive the predictor into both rails and then
//	        every code value, "sox -t ima clamp.ima -t s16 clamp.s16"
func TestDecodeIMAMatchesSox(t *testing.T) {
	for _, name := range []string{"golden", "clamp"} {
		t.Run(name, func(t *testing.T) {
			src := readFile(t, "testdata/"+name+".ima")
			raw := readFile(t, "testdata/"+name+".s16")
			want := make([]int16, len(raw)/2)
			for i := range want {
				want[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
			}
			got := decodeIMA(src)
			if len(got) != len(want) {
				t.Fatalf("decodeIMA: %d samples; want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("sample %d = %d; want %d", i, got[i], want[i])
				}
			}
		})
	}
}

func TestDecodeIMARails(t *testing.T) {
	up := make([]byte, 40) // code 7: the largest positive step, every nibble
	for i := range up {
		up[i] = 0x77
	}
	pcm := decodeIMA(up)
	if got := pcm[len(pcm)-1]; got != math.MaxInt16 {
		t.Errorf("after 80 codes of +7: %d; want %d", got, math.MaxInt16)
	}
	down := make([]byte, 80) // code 15: the largest negative step
	for i := range down {
		down[i] = 0xff
	}
	pcm = decodeIMA(append(up, down...))
	if got := pcm[len(pcm)-1]; got != math.MinInt16 {
		t.Errorf("after 160 codes of -7: %d; want %d", got, math.MinInt16)
	}
}

func TestIMATables(t *testing.T) {
	// Each step is about 10% above the last, from 7 to the 16-bit limit.
	for i := 1; i < len(imaSteps); i++ {
		r := float64(imaSteps[i]) / float64(imaSteps[i-1])
		if r < 1.05 || r > 1.2 {
			t.Errorf("imaSteps[%d]/imaSteps[%d] = %.3f; want about 1.1", i, i-1, r)
		}
	}
	if imaSteps[0] != 7 || imaSteps[len(imaSteps)-1] != math.MaxInt16 {
		t.Errorf("imaSteps runs %d..%d; want 7..32767", imaSteps[0], imaSteps[len(imaSteps)-1])
	}
}

func TestDecodeIMAEmpty(t *testing.T) {
	if got := decodeIMA(nil); len(got) != 0 {
		t.Errorf("decodeIMA(nil) = %d samples; want 0", len(got))
	}
}

// FuzzDecodeIMA checks that every byte string decodes to two samples a byte
// without panicking: the decoder's index and prediction stay in range.
func FuzzDecodeIMA(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x77, 0x77, 0xff, 0x08})
	f.Add(readFile(f, "testdata/clamp.ima"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if got := decodeIMA(src); len(got) != 2*len(src) {
			t.Fatalf("decodeIMA(%d bytes) = %d samples", len(src), len(got))
		}
	})
}

func BenchmarkDecodeIMA(b *testing.B) {
	src := make([]byte, 4000) // one second
	for i := range src {
		src[i] = byte(i * 37)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		decodeIMA(src)
	}
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
