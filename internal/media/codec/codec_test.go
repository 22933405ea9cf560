package codec

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media/g711"
	"github.com/parleyhq/parley/internal/media/g722"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clockRate int
		want      Codec
		ok        bool
	}{
		{"PCMU", 8000, PCMU, true},
		{"pcmu", 8000, PCMU, true},
		{"PCMA", 8000, PCMA, true},
		{"pcma", 8000, PCMA, true},
		{"G722", 8000, G722, true},
		{"g722", 8000, G722, true},
		{"G722", 16000, Codec{}, false}, // RFC 3551 §4.5.2: the clock is 8000
		{"PCMU", 16000, Codec{}, false},
		{"PCMU", 0, Codec{}, false},
		{"opus", 48000, Codec{}, false},
		{"telephone-event", 8000, Codec{}, false},
		{"", 8000, Codec{}, false},
		{"PCM", 8000, Codec{}, false},
	} {
		got, ok := Lookup(tc.name, tc.clockRate)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q, %d) = %v, %v; want %v, %v", tc.name, tc.clockRate, got, ok, tc.want, tc.ok)
		}
	}
}

func TestByPayloadType(t *testing.T) {
	for _, tc := range []struct {
		pt   uint8
		want Codec
		ok   bool
	}{
		{0, PCMU, true},
		{8, PCMA, true},
		{9, G722, true},
		{3, Codec{}, false},  // GSM: static but not supported
		{13, Codec{}, false}, // CN
		{18, Codec{}, false}, // G729
		{96, Codec{}, false}, // dynamic
		{127, Codec{}, false},
		{255, Codec{}, false},
	} {
		got, ok := ByPayloadType(tc.pt)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ByPayloadType(%d) = %v, %v; want %v, %v", tc.pt, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAll(t *testing.T) {
	got := All()
	want := []Codec{G722, PCMU, PCMA}
	if !slices.Equal(got, want) {
		t.Fatalf("All() = %v; want %v", got, want)
	}
	got[0].Name = "changed"
	if All()[0] != G722 {
		t.Error("All() returned the registry itself; a caller's change leaked into it")
	}
}

// TestGeometry derives each descriptor's numbers from the codec's definition
// instead of trusting the literals.
func TestGeometry(t *testing.T) {
	for _, c := range All() {
		perFrame := func(rate int) int { return int(int64(rate) * int64(FrameDuration) / int64(time.Second)) }
		if got, want := c.FrameSamples, perFrame(c.SampleRate); got != want {
			t.Errorf("%v FrameSamples = %d; want %d", c, got, want)
		}
		if got, want := c.TicksPerFrame(), uint32(perFrame(c.ClockRate)); got != want {
			t.Errorf("%v TicksPerFrame() = %d; want %d", c, got, want)
		}
		if c.ClockRate != 8000 {
			t.Errorf("%v ClockRate = %d; RFC 3551 gives 8000 for all three", c, c.ClockRate)
		}
		// FrameBytes is what the encoder actually produces for a frame.
		enc, err := NewEncoder(c)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2*c.FrameBytes)
		if n := enc.Encode(buf, make([]int16, c.FrameSamples)); n != c.FrameBytes {
			t.Errorf("%v: a frame encodes to %d bytes; FrameBytes = %d", c, n, c.FrameBytes)
		}
		dec, err := NewDecoder(c)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, 2*c.FrameSamples)
		if n := dec.Decode(pcm, buf[:c.FrameBytes]); n != c.FrameSamples {
			t.Errorf("%v: a frame decodes to %d samples; FrameSamples = %d", c, n, c.FrameSamples)
		}
	}
	if got := G722.TicksPerFrame(); got != 160 {
		t.Errorf("G722.TicksPerFrame() = %d; want 160 (8000 Hz clock, RFC 3551 §4.5.2)", got)
	}
	if got := G722.String(); got != "G722/8000" {
		t.Errorf("G722.String() = %q; want %q", got, "G722/8000")
	}
}

func TestUnsupported(t *testing.T) {
	for _, c := range []Codec{
		{},
		{Name: "opus", ClockRate: 48000, SampleRate: 48000},
		{Name: "G722", ClockRate: 16000, SampleRate: 16000},
		{Name: "G729", PayloadType: 18, ClockRate: 8000},
	} {
		if enc, err := NewEncoder(c); !errors.Is(err, ErrUnsupported) || enc != nil {
			t.Errorf("NewEncoder(%v) = %v, %v; want nil, ErrUnsupported", c, enc, err)
		}
		if dec, err := NewDecoder(c); !errors.Is(err, ErrUnsupported) || dec != nil {
			t.Errorf("NewDecoder(%v) = %v, %v; want nil, ErrUnsupported", c, dec, err)
		}
	}
}

// TestRenumberedPayloadType: the payload type does not pick the codec, so a
// descriptor copied from the registry with a negotiated number still works.
func TestRenumberedPayloadType(t *testing.T) {
	c := PCMA
	c.PayloadType = 101
	c.Name = "pcma"
	enc, err := NewEncoder(c)
	if err != nil {
		t.Fatalf("NewEncoder(%v): %v", c, err)
	}
	out := make([]byte, 1)
	enc.Encode(out, []int16{0})
	if out[0] != g711.AlawSilence {
		t.Errorf("encoder for renumbered PCMA encoded 0 as %#02x; want A-law %#02x", out[0], g711.AlawSilence)
	}
}

func sine(n, rate int, freq, amp float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return pcm
}

// TestWrapsPackages checks each codec against the package it wraps, frame by
// frame over a second of audio, so that the right function is behind each
// name and stateful codecs keep their state between calls.
func TestWrapsPackages(t *testing.T) {
	type ref struct {
		encode func([]byte, []int16) int
		decode func([]int16, []byte) int
	}
	g722e, g722d := g722.NewEncoder(), g722.NewDecoder()
	refs := map[string]ref{
		"PCMU": {g711.EncodeUlaw, g711.DecodeUlaw},
		"PCMA": {g711.EncodeAlaw, g711.DecodeAlaw},
		"G722": {g722e.Encode, g722d.Decode},
	}
	for _, c := range All() {
		r := refs[c.Name]
		enc, err := NewEncoder(c)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewDecoder(c)
		if err != nil {
			t.Fatal(err)
		}
		in := sine(c.SampleRate, c.SampleRate, 440, 12000)
		got, want := make([]byte, c.FrameBytes), make([]byte, c.FrameBytes)
		gotPCM, wantPCM := make([]int16, c.FrameSamples), make([]int16, c.FrameSamples)
		for off := 0; off < len(in); off += c.FrameSamples {
			frame := in[off : off+c.FrameSamples]
			enc.Encode(got, frame)
			r.encode(want, frame)
			if !slices.Equal(got, want) {
				t.Fatalf("%v: frame at %d encodes differently from the wrapped package", c, off)
			}
			dec.Decode(gotPCM, got)
			r.decode(wantPCM, want)
			if !slices.Equal(gotPCM, wantPCM) {
				t.Fatalf("%v: frame at %d decodes differently from the wrapped package", c, off)
			}
		}
	}
}

func TestResetAndIndependence(t *testing.T) {
	in := sine(G722.FrameSamples, G722.SampleRate, 1000, 10000)
	first := make([]byte, G722.FrameBytes)
	a, _ := NewEncoder(G722)
	a.Encode(first, in)

	// A second encoder starts fresh however much the first has seen.
	b, _ := NewEncoder(G722)
	got := make([]byte, G722.FrameBytes)
	b.Encode(got, in)
	if !slices.Equal(got, first) {
		t.Error("two G.722 encoders share state")
	}
	// The first, having seen a frame, encodes it differently now, until Reset.
	a.Encode(got, in)
	if slices.Equal(got, first) {
		t.Error("G.722 encoder kept no state between frames")
	}
	a.Reset()
	a.Encode(got, in)
	if !slices.Equal(got, first) {
		t.Error("G.722 encoder after Reset differs from a new one")
	}

	d, _ := NewDecoder(G722)
	pcm1, pcm2 := make([]int16, G722.FrameSamples), make([]int16, G722.FrameSamples)
	d.Decode(pcm1, first)
	d.Decode(pcm2, first)
	d.Reset()
	d.Decode(pcm2, first)
	if !slices.Equal(pcm1, pcm2) {
		t.Error("G.722 decoder after Reset differs from a new one")
	}
	// G.711 has no state; Reset must still be callable.
	for _, c := range []Codec{PCMU, PCMA} {
		e, _ := NewEncoder(c)
		e.Reset()
		dd, _ := NewDecoder(c)
		dd.Reset()
	}
}

func TestRoundTripQuality(t *testing.T) {
	for _, c := range All() {
		enc, _ := NewEncoder(c)
		dec, _ := NewDecoder(c)
		in := sine(c.SampleRate, c.SampleRate, 1000, 16000)
		out := make([]int16, len(in))
		pay := make([]byte, c.FrameBytes)
		for off := 0; off < len(in); off += c.FrameSamples {
			enc.Encode(pay, in[off:off+c.FrameSamples])
			dec.Decode(out[off:], pay)
		}
		// G.722 delays by 22 samples (see the g722 tests); G.711 not at all.
		delay := 0
		if c.Name == "G722" {
			delay = 22
		}
		var sig, noise float64
		for i := c.SampleRate / 10; i < len(out); i++ {
			s := float64(in[i-delay])
			e := float64(out[i]) - s
			sig += s * s
			noise += e * e
		}
		if snr := 10 * math.Log10(sig/noise); snr < 30 {
			t.Errorf("%v: 1 kHz round trip SNR = %.1f dB; want at least 30", c, snr)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	for _, c := range All() {
		enc, _ := NewEncoder(c)
		dec, _ := NewDecoder(c)
		pcm := make([]int16, c.FrameSamples)
		pay := make([]byte, c.FrameBytes)
		if n := testing.AllocsPerRun(50, func() {
			enc.Encode(pay, pcm)
			dec.Decode(pcm, pay)
		}); n != 0 {
			t.Errorf("%v: a frame through Encoder and Decoder allocates %v times; want 0", c, n)
		}
	}
	if n := testing.AllocsPerRun(50, func() {
		if _, err := NewEncoder(PCMU); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("NewEncoder(PCMU) allocates %v times; want 0", n)
	}
}

func BenchmarkFrame(b *testing.B) {
	for _, c := range All() {
		b.Run(c.Name, func(b *testing.B) {
			enc, _ := NewEncoder(c)
			dec, _ := NewDecoder(c)
			pcm := sine(c.FrameSamples, c.SampleRate, 1000, 12000)
			pay := make([]byte, c.FrameBytes)
			b.ReportAllocs()
			for b.Loop() {
				enc.Encode(pay, pcm)
				dec.Decode(pcm, pay)
			}
		})
	}
}
