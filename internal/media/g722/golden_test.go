package g722

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The goldens in testdata were produced once by testdata/gen.sh with
// ffmpeg's G.722 codec, which follows the ITU-T reference implementation.
// The tests only read them.

var goldenSignals = []string{"sweep", "twotone", "bursts", "silence", "clipping"}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readPCM(t *testing.T, name string) []int16 {
	t.Helper()
	b := readFile(t, name)
	if len(b)%2 != 0 {
		t.Fatalf("%s: odd length %d", name, len(b))
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

// firstDiff returns the index of the first difference and the number of
// differing elements.
func firstDiff[T comparable](got, want []T) (first, count int) {
	first = -1
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	return first, count
}

func TestEncoderGolden(t *testing.T) {
	for _, name := range goldenSignals {
		t.Run(name, func(t *testing.T) {
			pcm := readPCM(t, name+".s16le")
			want := readFile(t, name+".g722")
			got := make([]byte, len(pcm)/2)
			// Encode frame by frame, as a sender does, so that state carried
			// between calls is part of what is checked.
			e := NewEncoder()
			for off := 0; off < len(pcm); off += 320 {
				end := min(off+320, len(pcm))
				if n := e.Encode(got[off/2:], pcm[off:end]); n != (end-off)/2 {
					t.Fatalf("Encode at sample %d = %d; want %d", off, n, (end-off)/2)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("encoded %d bytes; golden has %d", len(got), len(want))
			}
			if i, n := firstDiff(got, want); i >= 0 {
				t.Errorf("%d of %d bytes differ from the golden; first at byte %d: got %#02x, want %#02x",
					n, len(want), i, got[i], want[i])
			}
		})
	}
}

func TestDecoderGolden(t *testing.T) {
	for _, name := range append(goldenSignals, "random", "overload") {
		t.Run(name, func(t *testing.T) {
			src := readFile(t, name+".g722")
			want := readPCM(t, name+".dec.s16le")
			got := make([]int16, 2*len(src))
			d := NewDecoder()
			for off := 0; off < len(src); off += 160 {
				end := min(off+160, len(src))
				if n := d.Decode(got[2*off:], src[off:end]); n != 2*(end-off) {
					t.Fatalf("Decode at byte %d = %d; want %d", off, n, 2*(end-off))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d samples; golden has %d", len(got), len(want))
			}
			if i, n := firstDiff(got, want); i >= 0 {
				t.Errorf("%d of %d samples differ from the golden; first at sample %d: got %d, want %d",
					n, len(want), i, got[i], want[i])
			}
		})
	}
}

// TestGoldenInputsIntact guards against a golden pair that was regenerated
// only in part: each encoding must be exactly half its input's sample count.
func TestGoldenInputsIntact(t *testing.T) {
	for _, name := range goldenSignals {
		pcm, enc := readFile(t, name+".s16le"), readFile(t, name+".g722")
		if len(pcm) != 4*len(enc) || len(pcm)%640 != 0 {
			t.Errorf("%s: %d input bytes, %d encoded bytes; want 4:1 and whole 20 ms frames", name, len(pcm), len(enc))
		}
		if bytes.Equal(enc, make([]byte, len(enc))) {
			t.Errorf("%s: encoding is all zero bytes", name)
		}
	}
}

// TestOverloadSaturates makes sure the overload golden does what it is for:
// its codes must push the zero-section sum and the prediction past 16 bits,
// so that TestDecoderGolden checks the saturating arithmetic too.
func TestOverloadSaturates(t *testing.T) {
	src := readFile(t, "overload.g722")
	d := NewDecoder()
	var szOver, sOver int
	out := make([]int16, 2)
	for i := range src {
		d.Decode(out, src[i:i+1])
		for _, b := range []*band{&d.low, &d.high} {
			sz := 0
			for k := range b.b {
				sz += (b.b[k] * sat16(b.d[k]*2)) >> 15
			}
			if sz != sat16(sz) {
				szOver++
			}
			if s := b.sz + b.sp; s != sat16(s) {
				sOver++
			}
		}
	}
	if szOver == 0 || sOver == 0 {
		t.Errorf("overload.g722 saturated the zero section %d times and the prediction %d times; want both > 0", szOver, sOver)
	}
}
