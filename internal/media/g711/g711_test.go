package g711

import (
	"math"
	"testing"
)

func TestDecodeMatchesReference(t *testing.T) {
	for c := range 256 {
		if got, want := UlawToLinear(byte(c)), refUlawDecode(byte(c)); got != want {
			t.Errorf("UlawToLinear(%#02x) = %d; want %d", c, got, want)
		}
		if got, want := AlawToLinear(byte(c)), refAlawDecode(byte(c)); got != want {
			t.Errorf("AlawToLinear(%#02x) = %d; want %d", c, got, want)
		}
	}
}

func TestEncodeMatchesReference(t *testing.T) {
	bad := 0
	for i := math.MinInt16; i <= math.MaxInt16 && bad < 10; i++ {
		s := int16(i)
		if got, want := LinearToUlaw(s), refUlawEncode(s); got != want {
			t.Errorf("LinearToUlaw(%d) = %#02x; want %#02x", s, got, want)
			bad++
		}
		if got, want := LinearToAlaw(s), refAlawEncode(s); got != want {
			t.Errorf("LinearToAlaw(%d) = %#02x; want %#02x", s, got, want)
			bad++
		}
	}
}

// TestReferenceSelfCheck guards the reference itself: every character it can
// produce decodes inside its own decision interval, so a wrong row in the
// segment lists above cannot go unnoticed by agreeing with a wrong table.
func TestReferenceSelfCheck(t *testing.T) {
	for _, law := range []struct {
		name   string
		segs   *[8]segment
		scale  int
		encode func(int16) byte
	}{
		{"ulaw", &ulawSegments, 4, refUlawEncode},
		{"alaw", &alawSegments, 8, refAlawEncode},
	} {
		prev := law.segs[0].lo
		for seg, s := range law.segs {
			if s.lo != prev || (s.hi-s.lo) != 16*s.step {
				t.Errorf("%s segment %d = %+v; not 16 steps continuing from %d", law.name, seg, s, prev)
			}
			prev = s.hi
			for n := range 16 {
				y := output(law.segs, seg, n)
				if y < s.lo+n*s.step || y >= s.lo+(n+1)*s.step {
					t.Errorf("%s output(%d, %d) = %d; outside its interval", law.name, seg, n, y)
				}
				// The decoder output, scaled to 16 bits, must encode back to
				// the same segment and interval.
				if g, gn := quantize(law.segs, max(y, 0)); g != seg || gn != n {
					t.Errorf("%s quantize(%d) = (%d, %d); want (%d, %d)", law.name, y, g, gn, seg, n)
				}
			}
		}
	}
}

func TestFixedPoints(t *testing.T) {
	decode := []struct {
		name string
		fn   func(byte) int16
		code byte
		want int16
	}{
		{"ulaw positive zero", UlawToLinear, 0xFF, 0},
		{"ulaw negative zero", UlawToLinear, 0x7F, 0},
		{"ulaw smallest positive", UlawToLinear, 0xFE, 8},
		{"ulaw largest positive", UlawToLinear, 0x80, 32124},
		{"ulaw largest negative", UlawToLinear, 0x00, -32124},
		{"ulaw segment 1 start", UlawToLinear, 0xEF, 132},
		{"alaw smallest positive", AlawToLinear, 0xD5, 8},
		{"alaw smallest negative (even-bit inversion of 0x00)", AlawToLinear, 0x55, -8},
		{"alaw largest positive", AlawToLinear, 0xAA, 32256},
		{"alaw largest negative", AlawToLinear, 0x2A, -32256},
		{"alaw segment 1 start", AlawToLinear, 0xC5, 264},
	}
	for _, tc := range decode {
		if got := tc.fn(tc.code); got != tc.want {
			t.Errorf("%s: decode(%#02x) = %d; want %d", tc.name, tc.code, got, tc.want)
		}
	}
	encode := []struct {
		name string
		fn   func(int16) byte
		in   int16
		want byte
	}{
		{"ulaw 0", LinearToUlaw, 0, 0xFF},
		{"ulaw 3 still zero interval", LinearToUlaw, 3, 0xFF},
		{"ulaw 4", LinearToUlaw, 4, 0xFE},
		{"ulaw -1 folds to negative zero", LinearToUlaw, -1, 0x7F},
		{"ulaw -4 folds to negative zero", LinearToUlaw, -4, 0x7F},
		{"ulaw -5", LinearToUlaw, -5, 0x7E},
		{"ulaw max", LinearToUlaw, math.MaxInt16, 0x80},
		{"ulaw min", LinearToUlaw, math.MinInt16, 0x00},
		{"alaw 0", LinearToAlaw, 0, 0xD5},
		{"alaw 15", LinearToAlaw, 15, 0xD5},
		{"alaw 16", LinearToAlaw, 16, 0xD4},
		{"alaw -1", LinearToAlaw, -1, 0x55},
		{"alaw max", LinearToAlaw, math.MaxInt16, 0xAA},
		{"alaw min", LinearToAlaw, math.MinInt16, 0x2A},
	}
	for _, tc := range encode {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%s: encode(%d) = %#02x; want %#02x", tc.name, tc.in, got, tc.want)
		}
	}
	if UlawSilence != LinearToUlaw(0) || AlawSilence != LinearToAlaw(0) {
		t.Errorf("silence codes %#02x, %#02x; want the codes of 0: %#02x, %#02x",
			UlawSilence, AlawSilence, LinearToUlaw(0), LinearToAlaw(0))
	}
}

// TestCodeRoundTrip checks that decoding then encoding gives back the code:
// each decoder output lies inside its own decision interval. The one
// exception is µ-law's negative zero, which encodes as positive zero.
func TestCodeRoundTrip(t *testing.T) {
	for c := range 256 {
		want := byte(c)
		if got := LinearToAlaw(AlawToLinear(want)); got != want {
			t.Errorf("LinearToAlaw(AlawToLinear(%#02x)) = %#02x", want, got)
		}
		if want == 0x7F {
			want = 0xFF
		}
		if got := LinearToUlaw(UlawToLinear(byte(c))); got != want {
			t.Errorf("LinearToUlaw(UlawToLinear(%#02x)) = %#02x; want %#02x", c, got, want)
		}
	}
}

// TestQuantizationError bounds the round-trip error of every sample by half
// the step of its segment, plus one for the one's-complement fold of negative
// values; beyond the last decision value it is the distance to full scale.
func TestQuantizationError(t *testing.T) {
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		s := int16(i)
		m, _ := magnitude(s)
		for _, law := range []struct {
			name  string
			round func(int16) int16
			segs  *[8]segment
			shift int
		}{
			{"ulaw", func(s int16) int16 { return UlawToLinear(LinearToUlaw(s)) }, &ulawSegments, 2},
			{"alaw", func(s int16) int16 { return AlawToLinear(LinearToAlaw(s)) }, &alawSegments, 3},
		} {
			seg, _ := quantize(law.segs, m>>law.shift)
			limit := law.segs[seg].step<<law.shift/2 + 1
			if over := m - law.segs[7].hi<<law.shift; over > 0 {
				limit += over
			}
			if e := abs(int(law.round(s)) - int(s)); e > limit {
				t.Fatalf("%s: round trip of %d has error %d; limit %d", law.name, s, e, limit)
			}
		}
	}
}

func TestMonotonic(t *testing.T) {
	prevU, prevA := UlawToLinear(LinearToUlaw(math.MinInt16)), AlawToLinear(LinearToAlaw(math.MinInt16))
	for i := math.MinInt16 + 1; i <= math.MaxInt16; i++ {
		u, a := UlawToLinear(LinearToUlaw(int16(i))), AlawToLinear(LinearToAlaw(int16(i)))
		if u < prevU || a < prevA {
			t.Fatalf("round trip not monotonic at %d: ulaw %d after %d, alaw %d after %d", i, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
	}
}

func TestFrameFunctions(t *testing.T) {
	pcm := make([]int16, 200)
	for i := range pcm {
		pcm[i] = int16(i*331 - 32768)
	}
	for _, law := range []struct {
		name   string
		encode func([]byte, []int16) int
		decode func([]int16, []byte) int
		enc1   func(int16) byte
		dec1   func(byte) int16
	}{
		{"ulaw", EncodeUlaw, DecodeUlaw, LinearToUlaw, UlawToLinear},
		{"alaw", EncodeAlaw, DecodeAlaw, LinearToAlaw, AlawToLinear},
	} {
		for _, tc := range []struct{ nDst, nSrc, want int }{
			{160, 160, 160}, {100, 160, 100}, {160, 100, 100}, {0, 160, 0}, {160, 0, 0},
		} {
			dst := make([]byte, tc.nDst+1)
			dst[tc.nDst] = 0xA5 // sentinel past the slice handed over
			if got := law.encode(dst[:tc.nDst], pcm[:tc.nSrc]); got != tc.want {
				t.Errorf("%s encode(%d, %d) = %d; want %d", law.name, tc.nDst, tc.nSrc, got, tc.want)
			}
			if dst[tc.nDst] != 0xA5 {
				t.Errorf("%s encode wrote past dst", law.name)
			}
			for i := range tc.want {
				if dst[i] != law.enc1(pcm[i]) {
					t.Fatalf("%s encode: byte %d = %#02x; want %#02x", law.name, i, dst[i], law.enc1(pcm[i]))
				}
			}
			out := make([]int16, tc.nSrc+1)
			out[tc.nSrc] = 12345
			if got := law.decode(out[:tc.nSrc], dst[:tc.nDst]); got != tc.want {
				t.Errorf("%s decode(%d, %d) = %d; want %d", law.name, tc.nSrc, tc.nDst, got, tc.want)
			}
			if out[tc.nSrc] != 12345 {
				t.Errorf("%s decode wrote past dst", law.name)
			}
			for i := range tc.want {
				if out[i] != law.dec1(dst[i]) {
					t.Fatalf("%s decode: sample %d = %d; want %d", law.name, i, out[i], law.dec1(dst[i]))
				}
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	pcm := make([]int16, 160)
	pay := make([]byte, 160)
	allocs := testing.AllocsPerRun(100, func() {
		EncodeUlaw(pay, pcm)
		DecodeUlaw(pcm, pay)
		EncodeAlaw(pay, pcm)
		DecodeAlaw(pcm, pay)
	})
	if allocs != 0 {
		t.Errorf("frame encode/decode allocates %v times; want 0", allocs)
	}
}

// FuzzRoundTrip checks on arbitrary payloads that decoding is stable under a
// further encode and decode, the property a mixer relies on when it passes a
// lone speaker's audio through.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0x00, 0x7F, 0x80, 0xFF, 0x55, 0xD5})
	f.Add([]byte("any payload at all"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		pcm := make([]int16, len(payload))
		again := make([]byte, len(payload))
		pcm2 := make([]int16, len(payload))
		for _, law := range []struct {
			name   string
			encode func([]byte, []int16) int
			decode func([]int16, []byte) int
		}{{"ulaw", EncodeUlaw, DecodeUlaw}, {"alaw", EncodeAlaw, DecodeAlaw}} {
			if n := law.decode(pcm, payload); n != len(payload) {
				t.Fatalf("%s decode = %d; want %d", law.name, n, len(payload))
			}
			law.encode(again, pcm)
			law.decode(pcm2, again)
			for i := range pcm {
				if pcm[i] != pcm2[i] {
					t.Fatalf("%s: code %#02x decodes to %d, re-encodes to %#02x which decodes to %d",
						law.name, payload[i], pcm[i], again[i], pcm2[i])
				}
			}
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
