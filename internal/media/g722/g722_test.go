package g722

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// frameSamples is 20 ms at 16 kHz; frameBytes its encoding.
const (
	frameSamples = 320
	frameBytes   = frameSamples / 2
)

func sine(n int, freq, amp float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/16000))
	}
	return pcm
}

func roundTrip(pcm []int16) []int16 {
	enc := make([]byte, len(pcm)/2)
	NewEncoder().Encode(enc, pcm)
	out := make([]int16, len(pcm))
	NewDecoder().Decode(out, enc)
	return out
}

// codecDelay is the delay of a G.722 round trip in samples. The transmit
// and receive QMF are 24-tap linear-phase filters, 11.5 samples of delay
// apiece, but the transmit filter's output for a pair of inputs is centred
// 10.5 samples before the pair's later sample, and the receive filter emits
// it from the earlier of its two outputs: 22 in all.
const codecDelay = 22

// snr returns the signal-to-noise ratio in dB of out against in delayed by
// codecDelay, skipping the first skip samples while the adaptation settles.
func snr(in, out []int16, skip int) float64 {
	var sig, noise float64
	for i := skip; i < len(out); i++ {
		s := float64(in[i-codecDelay])
		e := float64(out[i]) - s
		sig += s * s
		noise += e * e
	}
	return 10 * math.Log10(sig/noise)
}

func TestDelay(t *testing.T) {
	// Low-passed noise has no period, so the best alignment of its round
	// trip is unambiguous: check the constant the SNR tests rely on.
	rng := rand.New(rand.NewPCG(5, 6))
	in := make([]int16, 8000)
	lp := 0.0
	for i := range in {
		lp = 0.5*lp + 0.5*(2*rng.Float64()-1)
		in[i] = int16(8000 * lp)
	}
	out := roundTrip(in)
	best, bestErr := -1, math.Inf(1)
	for lag := range 40 {
		var e float64
		for i := 1000; i < len(out); i++ {
			d := float64(out[i]) - float64(in[i-lag])
			e += d * d
		}
		if e < bestErr {
			best, bestErr = lag, e
		}
	}
	if best != codecDelay {
		t.Errorf("best alignment at lag %d; want %d", best, codecDelay)
	}
}

func TestSNR(t *testing.T) {
	for _, tc := range []struct {
		name  string
		freq  float64
		amp   float64
		minDB float64
	}{
		// The lower band has 6 bits per sample: speech-band tones come
		// through well above the 30 dB of a toll-quality codec. The limits
		// sit a few dB under the measured values (47.6, 43.5, 61.5, 41.4 and
		// 27.0 dB), so a change in the arithmetic shows up here too.
		{"1 kHz -6 dBFS", 1000, 16384, 40},
		{"1 kHz -30 dBFS", 1000, 1036, 38},
		{"300 Hz -12 dBFS", 300, 8192, 50},
		{"3 kHz -12 dBFS", 3000, 8192, 35},
		// The higher band has only 2 bits per sample.
		{"6 kHz -12 dBFS", 6000, 8192, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := sine(16000, tc.freq, tc.amp)
			if got := snr(in, roundTrip(in), 1600); got < tc.minDB {
				t.Errorf("SNR = %.1f dB; want at least %.0f dB", got, tc.minDB)
			} else {
				t.Logf("SNR = %.1f dB", got)
			}
		})
	}
}

func TestSilenceStaysQuiet(t *testing.T) {
	out := roundTrip(make([]int16, 3200))
	for i, s := range out {
		if s < -4 || s > 4 {
			t.Fatalf("sample %d of decoded silence = %d; want within ±4", i, s)
		}
	}
}

func TestResetMatchesNew(t *testing.T) {
	in := sine(3200, 440, 12000)
	want := make([]byte, len(in)/2)
	NewEncoder().Encode(want, in)

	e := NewEncoder()
	e.Encode(make([]byte, 800), sine(1600, 2500, 30000)) // leave state behind
	e.Reset()
	got := make([]byte, len(in)/2)
	e.Encode(got, in)
	if !slices.Equal(got, want) {
		t.Error("Encoder after Reset differs from a new Encoder")
	}

	wantPCM := make([]int16, len(in))
	NewDecoder().Decode(wantPCM, want)
	d := NewDecoder()
	d.Decode(make([]int16, 1000), []byte{0x00, 0xFF, 0x3C, 0xC3}) // any state
	d.Reset()
	gotPCM := make([]int16, len(in))
	d.Decode(gotPCM, want)
	if !slices.Equal(gotPCM, wantPCM) {
		t.Error("Decoder after Reset differs from a new Decoder")
	}
}

func TestZeroValue(t *testing.T) {
	in := sine(640, 700, 9000)
	want, got := make([]byte, 320), make([]byte, 320)
	NewEncoder().Encode(want, in)
	var e Encoder
	e.Encode(got[:0], in) // even a call that encodes nothing may come first
	e.Encode(got, in)
	if !slices.Equal(got, want) {
		t.Error("zero Encoder differs from NewEncoder()")
	}
	wantPCM, gotPCM := make([]int16, 640), make([]int16, 640)
	NewDecoder().Decode(wantPCM, want)
	var d Decoder
	d.Decode(gotPCM, want)
	if !slices.Equal(gotPCM, wantPCM) {
		t.Error("zero Decoder differs from NewDecoder()")
	}
}

func TestEncodeLengths(t *testing.T) {
	pcm := sine(frameSamples+1, 440, 8000)
	for _, tc := range []struct {
		name       string
		nDst, nPCM int
		want       int
	}{
		{"frame", frameBytes, frameSamples, frameBytes},
		{"odd sample left over", frameBytes + 1, frameSamples + 1, frameBytes},
		{"short dst", 10, frameSamples, 10},
		{"one sample", 1, 1, 0},
		{"empty", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.nDst+1)
			dst[tc.nDst] = 0xA5
			if got := NewEncoder().Encode(dst[:tc.nDst], pcm[:tc.nPCM]); got != tc.want {
				t.Errorf("Encode(%d bytes, %d samples) = %d; want %d", tc.nDst, tc.nPCM, got, tc.want)
			}
			if dst[tc.nDst] != 0xA5 {
				t.Error("Encode wrote past dst")
			}
		})
	}
}

func TestDecodeLengths(t *testing.T) {
	src := make([]byte, frameBytes)
	for _, tc := range []struct {
		name       string
		nDst, nSrc int
		want       int
	}{
		{"frame", frameSamples, frameBytes, frameSamples},
		{"odd dst", 21, frameBytes, 20},
		{"short src", frameSamples, 3, 6},
		{"dst of one", 1, frameBytes, 0},
		{"empty", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]int16, tc.nDst+1)
			dst[tc.nDst] = 12345
			if got := NewDecoder().Decode(dst[:tc.nDst], src[:tc.nSrc]); got != tc.want {
				t.Errorf("Decode(%d samples, %d bytes) = %d; want %d", tc.nDst, tc.nSrc, got, tc.want)
			}
			if dst[tc.nDst] != 12345 {
				t.Error("Decode wrote past dst")
			}
		})
	}
}

// TestChunking checks that how a stream is cut into calls does not matter:
// the state carried between calls is the whole state.
func TestChunking(t *testing.T) {
	pcm := readPCM(t, "bursts.s16le")
	want := readFile(t, "bursts.g722")
	rng := rand.New(rand.NewPCG(1, 2))

	got := make([]byte, 0, len(want))
	e := NewEncoder()
	for off := 0; off < len(pcm); {
		n := min(2*(1+rng.IntN(200)), len(pcm)-off)
		buf := make([]byte, n/2)
		e.Encode(buf, pcm[off:off+n])
		got = append(got, buf...)
		off += n
	}
	if i, n := firstDiff(got, want); i >= 0 || len(got) != len(want) {
		t.Errorf("chunked encode: %d bytes differ, first at %d (len %d, want %d)", n, i, len(got), len(want))
	}

	wantPCM := readPCM(t, "bursts.dec.s16le")
	gotPCM := make([]int16, 0, len(wantPCM))
	d := NewDecoder()
	for off := 0; off < len(want); {
		n := min(1+rng.IntN(100), len(want)-off)
		buf := make([]int16, 2*n)
		d.Decode(buf, want[off:off+n])
		gotPCM = append(gotPCM, buf...)
		off += n
	}
	if i, n := firstDiff(gotPCM, wantPCM); i >= 0 || len(gotPCM) != len(wantPCM) {
		t.Errorf("chunked decode: %d samples differ, first at %d", n, i)
	}
}

// checkLockstep fails unless a decoder that has read everything an encoder
// wrote holds the same adaptive state in both sub-bands. This is the property
// ADPCM rests on: the decoder can only follow because the encoder adapts from
// its own codes, never from the signal.
func checkLockstep(t *testing.T, e *Encoder, d *Decoder) {
	t.Helper()
	if e.low != d.low {
		t.Errorf("lower band: encoder state %+v, decoder state %+v", e.low, d.low)
	}
	if e.high != d.high {
		t.Errorf("higher band: encoder state %+v, decoder state %+v", e.high, d.high)
	}
}

func TestLockstep(t *testing.T) {
	for _, name := range goldenSignals {
		pcm := readPCM(t, name+".s16le")
		e, d := NewEncoder(), NewDecoder()
		enc := make([]byte, len(pcm)/2)
		e.Encode(enc, pcm)
		d.Decode(make([]int16, len(pcm)), enc)
		checkLockstep(t, e, d)
	}
}

// checkBounds fails if a band's state left the ranges the Recommendation's
// limits guarantee; a violation would mean an overflow somewhere.
func checkBounds(t *testing.T, name string, b *band, nbMax int) {
	t.Helper()
	ok := b.nb >= 0 && b.nb <= nbMax &&
		b.det > 0 && b.det <= 32768 &&
		b.a[1] >= -12288 && b.a[1] <= 12288 &&
		b.a[0] >= -(15360-b.a[1]) && b.a[0] <= 15360-b.a[1]
	for _, v := range append(b.b[:], b.s, b.sp, b.sz, b.r[0], b.r[1], b.p[0], b.p[1]) {
		ok = ok && v >= -32768 && v <= 32767
	}
	if !ok {
		t.Fatalf("%s band state out of range: %+v", name, *b)
	}
}

func TestStateBounds(t *testing.T) {
	// Full-scale noise and square waves push every limiter.
	rng := rand.New(rand.NewPCG(3, 4))
	pcm := make([]int16, 32000)
	for i := range pcm {
		switch {
		case i < 16000:
			pcm[i] = int16(rng.Uint32())
		case (i/7)%2 == 0:
			pcm[i] = math.MaxInt16
		default:
			pcm[i] = math.MinInt16
		}
	}
	e, d := NewEncoder(), NewDecoder()
	enc, out := make([]byte, 1), make([]int16, 2)
	for i := 0; i < len(pcm); i += 2 {
		e.Encode(enc, pcm[i:i+2])
		d.Decode(out, enc)
		checkBounds(t, "encoder low", &e.low, nbLowMax)
		checkBounds(t, "encoder high", &e.high, nbHighMax)
	}
	checkLockstep(t, e, d)
}

func TestScaleFactor(t *testing.T) {
	// SCALEL and SCALEH at their ends and at the octave points.
	for _, tc := range []struct{ nb, exp, want int }{
		{0, scaleLowExp, 32},    // reset value of DETL
		{0, scaleHighExp, 8},    // reset value of DETH
		{2048, scaleLowExp, 64}, // one octave up
		{nbLowMax, scaleLowExp, 16384},
		{nbHighMax, scaleHighExp, 16384},
		{64, scaleLowExp, 2093 >> 8 << 2},
	} {
		if got := scaleFactor(tc.nb, tc.exp); got != tc.want {
			t.Errorf("scaleFactor(%d, %d) = %d; want %d", tc.nb, tc.exp, got, tc.want)
		}
	}
}

func TestTablesSymmetric(t *testing.T) {
	for i := range qmf {
		if qmf[i] != qmf[23-i] {
			t.Fatalf("qmf[%d] = %d, qmf[%d] = %d; the QMF code assumes symmetry", i, qmf[i], 23-i, qmf[23-i])
		}
	}
	// The coefficients sum to 2^13: unity gain at DC for the lower band.
	sum := 0
	for _, h := range qmf {
		sum += h
	}
	if sum != 1<<13 {
		t.Errorf("sum of qmf = %d; want %d", sum, 1<<13)
	}
	// Positive and negative codes of the 4-bit inverse quantizer mirror.
	for i := 1; i < 8; i++ {
		if qm4[i] != -qm4[i+7] {
			t.Errorf("qm4[%d] = %d, qm4[%d] = %d; want opposites", i, qm4[i], i+7, qm4[i+7])
		}
	}
}
