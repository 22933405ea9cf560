package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
)

// errNotPCM16 means a WAV file is not the 16-bit linear PCM that baresip's
// sndfile module and sox write.
var errNotPCM16 = errors.New("not a 16-bit PCM WAV file")

// wavAudio is the first channel of a decoded WAV file.
type wavAudio struct {
	rate    int
	samples []float64 // scaled to [-1, 1)
}

// readWAV decodes a RIFF/WAVE file of 16-bit PCM. Chunks other than "fmt "
// and "data" are skipped, whatever their order, and a data chunk whose size
// field was never fixed up (a recording cut short) runs to the end of file.
func readWAV(path string) (wavAudio, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return wavAudio{}, err
	}
	return decodeWAV(b)
}

func decodeWAV(b []byte) (wavAudio, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return wavAudio{}, fmt.Errorf("%w: no RIFF/WAVE header", errNotPCM16)
	}
	var (
		channels, bits int
		rate           int
		haveFmt        bool
	)
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := b[p+8:]
		if size > len(body) || size < 0 {
			size = len(body)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return wavAudio{}, fmt.Errorf("%w: fmt chunk of %d bytes", errNotPCM16, size)
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
			// 1 is PCM; 0xFFFE (WAVE_FORMAT_EXTENSIBLE) carries PCM too.
			if (format != 1 && format != 0xFFFE) || bits != 16 || channels < 1 || rate <= 0 {
				return wavAudio{}, fmt.Errorf("%w: format %d, %d bits, %d channels, %d Hz",
					errNotPCM16, format, bits, channels, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return wavAudio{}, fmt.Errorf("%w: data before fmt", errNotPCM16)
			}
			if size == 0 {
				size = len(body) // size never written
			}
			frame := 2 * channels
			n := size / frame
			a := wavAudio{rate: rate, samples: make([]float64, n)}
			for i := range n {
				v := int16(binary.LittleEndian.Uint16(body[i*frame:]))
				a.samples[i] = float64(v) / 32768
			}
			return a, nil
		}
		p += 8 + size + size%2 // chunks are padded to even sizes
	}
	return wavAudio{}, fmt.Errorf("%w: no data chunk", errNotPCM16)
}

// goertzelPower returns the power of x at frequency f (Hz) for sample rate
// rate, computed with the Goertzel recurrence, normalized so that a
// full-block sinusoid of amplitude A at exactly f gives about A²/2 (the
// mean power of that sinusoid).
func goertzelPower(x []float64, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	n := float64(len(x))
	return 2 * (re*re + im*im) / (n * n)
}

// meanPower is the mean of x².
func meanPower(x []float64) float64 {
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	return sum / float64(len(x))
}

// toneReport says how much of a recording is a given tone.
type toneReport struct {
	blocks    int     // blocks loud enough to judge
	toneShare float64 // fraction of those blocks dominated by the wanted tone
	wrongMax  float64 // highest share of power at the unwanted frequency in any judged block
}

func (r toneReport) String() string {
	return fmt.Sprintf("%d blocks of %d ms, %.0f%% dominated by the tone, unwanted tone at most %.1f%% of power",
		r.blocks, toneBlock, 100*r.toneShare, 100*r.wrongMax)
}

// Parameters of analyzeTone. 100 ms blocks put 700 Hz and 1300 Hz exactly
// on Goertzel bins at 8 kHz (10 Hz resolution); a block is "dominated" when
// more than half its power is at the wanted frequency, which G.711
// quantization noise (about 38 dB below the signal) cannot break but an
// unrelated or mixed-up stream does.
const (
	toneBlock    = 100 // milliseconds
	silenceLevel = 1e-5
	dominant     = 0.5
)

// analyzeTone splits a into 100 ms blocks, skips the near-silent ones (the
// recording starts before the first RTP packet), and measures in each the
// share of the block's power at want and at unwanted.
func analyzeTone(a wavAudio, want, unwanted float64) toneReport {
	n := a.rate * toneBlock / 1000
	var r toneReport
	dominated := 0
	for off := 0; off+n <= len(a.samples); off += n {
		blk := a.samples[off : off+n]
		p := meanPower(blk)
		if p < silenceLevel {
			continue
		}
		r.blocks++
		if goertzelPower(blk, want, a.rate)/p > dominant {
			dominated++
		}
		r.wrongMax = max(r.wrongMax, goertzelPower(blk, unwanted, a.rate)/p)
	}
	if r.blocks > 0 {
		r.toneShare = float64(dominated) / float64(r.blocks)
	}
	return r
}

// tonesReport says, for a recording that should hold several tones at
// once (a conference mix), in how many blocks each is clearly present.
type tonesReport struct {
	blocks      int
	present     []int   // per wanted tone: blocks where it has at least 10% of the power
	unwantedMax float64 // highest share of power at the unwanted frequency in any judged block
}

func (r tonesReport) String() string {
	return fmt.Sprintf("%d blocks of %d ms; blocks with each wanted tone %v; unwanted tone at most %.1f%% of power",
		r.blocks, toneBlock, r.present, 100*r.unwantedMax)
}

// presentShare is the share of a block's power a tone needs to count as
// present in a mix of a few tones.
const presentShare = 0.1

// analyzeTones is analyzeTone for mixes: each wanted tone is judged on
// its own, since none dominates.
func analyzeTones(a wavAudio, want []float64, unwanted float64) tonesReport {
	n := a.rate * toneBlock / 1000
	r := tonesReport{present: make([]int, len(want))}
	for off := 0; off+n <= len(a.samples); off += n {
		blk := a.samples[off : off+n]
		p := meanPower(blk)
		if p < silenceLevel {
			continue
		}
		r.blocks++
		for i, f := range want {
			if goertzelPower(blk, f, a.rate)/p > presentShare {
				r.present[i]++
			}
		}
		r.unwantedMax = max(r.unwantedMax, goertzelPower(blk, unwanted, a.rate)/p)
	}
	return r
}

// encodeWAV writes mono 16-bit PCM as a WAV file, with extra chunks before
// the data chunk (as libsndfile and sox may write).
func encodeWAV(rate int, samples []float64, extra map[string][]byte) []byte {
	var b []byte
	le32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	le16 := func(v uint16) { b = binary.LittleEndian.AppendUint16(b, v) }
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	b = append(b, "fmt "...)
	le32(16)
	le16(1)
	le16(1)
	le32(uint32(rate))
	le32(uint32(2 * rate))
	le16(2)
	le16(16)
	for id, body := range extra {
		b = append(b, id...)
		le32(uint32(len(body)))
		b = append(b, body...)
		if len(body)%2 == 1 {
			b = append(b, 0)
		}
	}
	b = append(b, "data"...)
	le32(uint32(2 * len(samples)))
	for _, v := range samples {
		le16(uint16(int16(math.Round(math.Max(-1, math.Min(v, 32767.0/32768)) * 32768))))
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	return b
}

// synthRate is the sample rate of synth, G.711's.
const synthRate = 8000

// synth returns seconds of a sinusoid at f Hz and amplitude amp, plus
// deterministic pseudo-random noise of amplitude noise, at synthRate.
func synth(seconds, f, amp, noise float64) []float64 {
	const rate = synthRate
	n := int(seconds * float64(rate))
	x := make([]float64, n)
	seed := uint32(1)
	for i := range x {
		seed = seed*1664525 + 1013904223
		r := float64(seed)/float64(1<<32)*2 - 1
		x[i] = amp*math.Sin(2*math.Pi*f*float64(i)/float64(rate)) + noise*r
	}
	return x
}

func TestGoertzelPower(t *testing.T) {
	const rate = synthRate
	tests := []struct {
		name    string
		x       []float64
		f       float64
		wantMin float64
		wantMax float64
	}{
		{"tone at its frequency", synth(0.1, 700, 0.5, 0), 700, 0.124, 0.126},
		{"tone at another frequency", synth(0.1, 700, 0.5, 0), 1300, 0, 1e-6},
		{"noisy tone at its frequency", synth(0.1, 1300, 0.5, 0.05), 1300, 0.12, 0.13},
		{"silence", make([]float64, 800), 700, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := goertzelPower(tt.x, tt.f, rate)
			if got < tt.wantMin || got > tt.wantMax {
				t.Errorf("goertzelPower(%v Hz) = %g, want in [%g, %g]", tt.f, got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestAnalyzeTone(t *testing.T) {
	const rate = synthRate
	// Half a second of silence before the tone, as in a call recording.
	rec := append(make([]float64, rate/2), synth(3, 700, 0.4, 0.01)...)
	mixed := synth(3, 700, 0.25, 0)
	for i, v := range synth(3, 1300, 0.35, 0) {
		mixed[i] += v
	}
	tests := []struct {
		name      string
		a         wavAudio
		want      float64
		unwanted  float64
		blocks    int
		shareMin  float64
		shareMax  float64
		wrongUpTo float64
	}{
		{"right tone", wavAudio{rate, rec}, 700, 1300, 30, 1, 1, 0.01},
		{"other party's tone", wavAudio{rate, rec}, 1300, 700, 30, 0, 0, 1},
		{"both tones mixed", wavAudio{rate, mixed}, 700, 1300, 30, 0, 0, 1},
		{"silence only", wavAudio{rate, make([]float64, rate)}, 700, 1300, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := analyzeTone(tt.a, tt.want, tt.unwanted)
			if r.blocks != tt.blocks {
				t.Errorf("blocks = %d, want %d", r.blocks, tt.blocks)
			}
			if r.toneShare < tt.shareMin || r.toneShare > tt.shareMax {
				t.Errorf("toneShare = %v, want in [%v, %v]", r.toneShare, tt.shareMin, tt.shareMax)
			}
			if r.wrongMax > tt.wrongUpTo {
				t.Errorf("wrongMax = %v, want at most %v", r.wrongMax, tt.wrongUpTo)
			}
		})
	}
}

func TestDecodeWAV(t *testing.T) {
	tone := synth(0.05, 700, 0.5, 0)
	good := encodeWAV(8000, tone, map[string][]byte{"LIST": []byte("odd")})
	a, err := decodeWAV(good)
	if err != nil {
		t.Fatalf("decodeWAV: %v", err)
	}
	if a.rate != 8000 || len(a.samples) != len(tone) {
		t.Fatalf("decodeWAV = %d Hz, %d samples; want 8000 Hz, %d samples", a.rate, len(a.samples), len(tone))
	}
	for i := range tone {
		if math.Abs(a.samples[i]-tone[i]) > 1.0/32768 {
			t.Fatalf("sample %d = %v, want %v", i, a.samples[i], tone[i])
		}
	}

	// A recording cut short: data size field still 0.
	unfinished := append([]byte(nil), good...)
	dataAt := len(unfinished) - 2*len(tone) - 4
	binary.LittleEndian.PutUint32(unfinished[dataAt:], 0)
	if a, err := decodeWAV(unfinished); err != nil || len(a.samples) != len(tone) {
		t.Errorf("decodeWAV(unfinished) = %d samples, %v; want %d, nil", len(a.samples), err, len(tone))
	}

	bad := map[string][]byte{
		"empty":     nil,
		"not riff":  []byte("RIFX\x00\x00\x00\x00WAVE"),
		"no data":   good[:36],
		"8-bit PCM": func() []byte { b := append([]byte(nil), good...); b[34] = 8; return b }(),
		"float":     func() []byte { b := append([]byte(nil), good...); b[20] = 3; return b }(),
	}
	for name, b := range bad {
		if _, err := decodeWAV(b); !errors.Is(err, errNotPCM16) {
			t.Errorf("decodeWAV(%s) error = %v, want %v", name, err, errNotPCM16)
		}
	}
}
