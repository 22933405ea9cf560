package dtmf

import (
	"fmt"
	"math"
	"time"
)

// Detector defaults, after the usual DTMF receiver requirements (the figures
// of ITU-T Q.24): detect tones of 40 ms or more separated by pauses of 40 ms
// or more, with up to 8 dB of normal and 4 dB of reverse twist.
const (
	DefaultMinLevel     = -36.0 // dBm0 per tone
	DefaultNormalTwist  = 8.0   // dB
	DefaultReverseTwist = 4.0   // dB
	DefaultMinOn        = 40 * time.Millisecond
	DefaultMinOff       = 40 * time.Millisecond
)

// ZeroDBm0 is the peak amplitude, in 16-bit linear PCM, of a sine wave at
// 0 dBm0: the A-law full-scale sine is +3.14 dBm0 with peak 32768
// (ITU-T G.711; the µ-law figure, +3.17 dBm0, differs by 0.03 dB).
const ZeroDBm0 = 22826.0

// Detection checks that are not settings.
const (
	// halfWindow8k is half the analysis window at 8 kHz: 51 samples
	// (6.4 ms). Windows of 102 samples give 78 Hz wide Goertzel bins,
	// narrow enough to separate neighbouring DTMF frequencies (73 Hz
	// apart at the least, where the neighbour falls almost on the first
	// null) and short enough to time tones finely. The detector slides
	// the window by half its length.
	halfWindow8k = 51
	// minPurity is the smallest share of the window's energy the two tones
	// must hold. A clean dual tone holds all of it; speech and music spread
	// their energy over many harmonics, and a window only partly covered
	// by a tone holds about the covered share, which is what keeps tones
	// of 20 ms from being detected.
	minPurity = 0.7
	// relativePeak is how far (as a power ratio, 6 dB) every other tone
	// of a group must stay below the strongest one.
	relativePeak = 4.0
	// harmonicLimit is how far (as a power ratio, 12 dB) the second
	// harmonic must stay below its fundamental. DTMF generators keep
	// distortion 20 dB down (ITU-T Q.23); voiced speech that puts energy
	// on a DTMF frequency has it on a harmonic of its pitch, so usually on
	// the second harmonic of that frequency too.
	harmonicLimit = 1 / 15.85
	// twistMargin widens the configured twist limits (in dB) for the
	// measurement: over a 12.75 ms window the sidelobes of the stronger
	// tone move the weaker tone's measured level by up to about ±2.5 dB
	// (941 and 1209 Hz are only 3.4 bins apart), so a digit at the limit
	// would otherwise lose windows at random.
	twistMargin = 3.0
)

// DetectorConfig holds the Detector's settings. The zero value selects the
// defaults.
type DetectorConfig struct {
	// SampleRate of the PCM in Hz: 8000, or a multiple of 8000 up to 48000
	// (16000 for wideband legs). 0 means 8000. Other rates must be resampled
	// first.
	SampleRate int
	// MinLevel is the lowest level of each tone, in dBm0; 0 means
	// DefaultMinLevel.
	MinLevel float64
	// NormalTwist is how many dB the low-group (row) tone may exceed the
	// high-group (column) tone, as lines attenuate high frequencies more;
	// 0 means DefaultNormalTwist. Twist within the limit is always
	// accepted; the measurement allows 3 dB more for its own error, so twist
	// is rejected reliably from about 6 dB beyond the limit.
	NormalTwist float64
	// ReverseTwist is how many dB the high-group tone may exceed the
	// low-group tone; 0 means DefaultReverseTwist. The same margin applies.
	ReverseTwist float64
	// MinOn is the shortest tone that is always detected; 0 means
	// DefaultMinOn. Tones some 20 ms shorter are never detected (under
	// 21 ms at the default, against the 23 ms of ITU-T Q.24).
	MinOn time.Duration
	// MinOff is the shortest pause that always separates two presses of the
	// same digit; 0 means DefaultMinOff. At the default, breaks of up to
	// 16 ms inside a tone are bridged (ITU-T Q.24 asks for 10 ms).
	MinOff time.Duration
}

// Detector finds DTMF digits in linear PCM. It runs the Goertzel algorithm
// for the eight DTMF frequencies over windows of 12.75 ms that slide by half
// their length, and takes a window for a digit only if
//
//   - both tones reach MinLevel;
//   - their difference is within the twist limits;
//   - every other tone of each group is at least 6 dB weaker than the
//     strongest one;
//   - the two tones hold at least 70% of the window's energy, and the
//     weaker tone alone outweighs all the energy outside the two;
//   - neither tone has a second harmonic within 12 dB of it (the row
//     tone's is measured only where no column tone lies close to it).
//
// A digit is reported once, when enough consecutive windows agree on it to
// cover MinOn, and again only after a pause of MinOff or a different digit.
// The checks are those that keep speech and music from passing for digits
// ("talk-off"); the digit timing is that of ITU-T Q.24.
//
// Frames may be of any length; state carries over between calls. A Detector
// is not safe for concurrent use; each leg owns one.
type Detector struct {
	half, window int // samples

	coef     [8]float32 // 2cos(ω) of rows 0-3 and columns 4-7
	cosw     [8]float32
	sinw     [8]float32
	rotRe    [8]float32 // e^{-jω·half}: moves a half-window's DFT to the second half
	rotIm    [8]float32
	harmCoef [8]float32 // 2cos(2ω)

	// rowHarmonic[r][c] reports whether row r's second harmonic lies far
	// enough from column c to be measured while column c is sounding.
	rowHarmonic [4][4]bool

	minPower     float32 // squared amplitude
	normalTwist  float32 // power ratios
	reverseTwist float32
	onNeeded     int // consecutive windows
	offNeeded    int

	// buf holds the previous half-window then the one being filled.
	buf       [2 * halfWindow8k * 6]float32
	fill      int
	havePrev  bool       // the previous half-window is in buf
	prevValid bool       // prevRe and prevIm hold its DFT
	prevRe    [8]float32 // its DFT, see halfDFT
	prevIm    [8]float32
	prevE     float32 // its energy

	held  byte // digit being reported as present, or 0
	miss  int  // consecutive windows without the held digit
	cand  byte // digit being confirmed, or 0
	count int  // consecutive windows with cand
}

// NewDetector returns a Detector with the given settings.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 8000
	}
	if cfg.SampleRate%8000 != 0 || cfg.SampleRate < 8000 || cfg.SampleRate > 48000 {
		return nil, fmt.Errorf("%w: sample rate %d", ErrConfig, cfg.SampleRate)
	}
	if cfg.MinLevel == 0 {
		cfg.MinLevel = DefaultMinLevel
	}
	if cfg.NormalTwist == 0 {
		cfg.NormalTwist = DefaultNormalTwist
	}
	if cfg.ReverseTwist == 0 {
		cfg.ReverseTwist = DefaultReverseTwist
	}
	if cfg.MinOn == 0 {
		cfg.MinOn = DefaultMinOn
	}
	if cfg.MinOff == 0 {
		cfg.MinOff = DefaultMinOff
	}
	switch {
	case cfg.MinLevel > 3.14 || math.IsNaN(cfg.MinLevel):
		return nil, fmt.Errorf("%w: minimum level %v dBm0", ErrConfig, cfg.MinLevel)
	case !(cfg.NormalTwist > 0 && cfg.NormalTwist <= 40) || !(cfg.ReverseTwist > 0 && cfg.ReverseTwist <= 40):
		return nil, fmt.Errorf("%w: twist %v/%v dB", ErrConfig, cfg.NormalTwist, cfg.ReverseTwist)
	case cfg.MinOn < 0 || cfg.MinOff < 0 || cfg.MinOn > 10*time.Second || cfg.MinOff > 10*time.Second:
		return nil, fmt.Errorf("%w: tone timing %v/%v", ErrConfig, cfg.MinOn, cfg.MinOff)
	}

	d := &Detector{half: halfWindow8k * cfg.SampleRate / 8000}
	d.window = 2 * d.half
	rate := float64(cfg.SampleRate)
	var freqs [8]float64
	copy(freqs[:4], rowFreqs[:])
	copy(freqs[4:], colFreqs[:])
	for i, f := range freqs {
		w := 2 * math.Pi * f / rate
		d.coef[i] = float32(2 * math.Cos(w))
		d.cosw[i] = float32(math.Cos(w))
		d.sinw[i] = float32(math.Sin(w))
		d.rotRe[i] = float32(math.Cos(w * float64(d.half)))
		d.rotIm[i] = float32(-math.Sin(w * float64(d.half)))
		d.harmCoef[i] = float32(2 * math.Cos(2*w))
	}
	// A second harmonic within two bins of the sounding column tone would
	// measure that tone's leakage rather than distortion.
	binWidth := rate / float64(d.window)
	for r, fr := range rowFreqs {
		for c, fc := range colFreqs {
			d.rowHarmonic[r][c] = math.Abs(2*fr-fc) >= 2*binWidth
		}
	}
	amp := ZeroDBm0 * math.Pow(10, cfg.MinLevel/20)
	d.minPower = float32(amp * amp)
	d.normalTwist = float32(math.Pow(10, (cfg.NormalTwist+twistMargin)/10))
	d.reverseTwist = float32(math.Pow(10, (cfg.ReverseTwist+twistMargin)/10))
	d.onNeeded = windowsWithin(cfg.MinOn, cfg.SampleRate, d.half)
	d.offNeeded = windowsWithin(cfg.MinOff, cfg.SampleRate, d.half)
	return d, nil
}

// windowsWithin returns how many whole analysis windows, sliding by half,
// always fit inside a span of length d, and at least 2.
func windowsWithin(d time.Duration, rate, half int) int {
	samples := int(int64(d) * int64(rate) / int64(time.Second))
	return max(2, (samples-2*half)/half)
}

// Detect analyses frame and appends to dst each digit ('0'-'9', '*', '#',
// 'A'-'D') whose tone has lasted MinOn by the end of it.
func (d *Detector) Detect(dst []byte, frame []int16) []byte {
	for len(frame) > 0 {
		cur := d.buf[d.half+d.fill : 2*d.half]
		n := min(len(cur), len(frame))
		for i, x := range frame[:n] {
			cur[i] = float32(x)
		}
		frame = frame[n:]
		d.fill += n
		if d.fill == d.half {
			if digit := d.step(d.analyse()); digit != 0 {
				dst = append(dst, digit)
			}
			d.fill = 0
		}
	}
	return dst
}

// Active reports whether a digit's tone is present now, for callers that
// keep DTMF out of a conference mix.
func (d *Detector) Active() bool { return d.held != 0 }

// Reset forgets all signal and digit state, as for a new call.
func (d *Detector) Reset() {
	d.fill, d.havePrev, d.prevValid, d.prevE = 0, false, false, 0
	d.held, d.miss, d.cand, d.count = 0, 0, 0, 0
}

// analyse judges the window that ends with the half-window just filled and
// returns its digit or 0.
//
// Most of the time a leg is silent or quiet, so the Goertzel filters run
// only when the window holds enough energy for both tones to reach
// MinLevel: by the Cauchy-Schwarz inequality a tone's measured power is at
// most four times the window's mean square. A half-window skipped that way
// is analysed later if the next window needs it.
func (d *Detector) analyse() byte {
	prev, cur := d.buf[:d.half], d.buf[d.half:d.window]
	var e float32
	for _, v := range cur {
		e += v * v
	}
	meanSquare := (d.prevE + e) / float32(d.window)
	digit := byte(0)
	valid := d.havePrev && 4*meanSquare >= d.minPower
	var re, im [8]float32
	if valid {
		if !d.prevValid {
			d.prevRe, d.prevIm = d.halfDFT(prev)
		}
		re, im = d.halfDFT(cur)
		// The whole window's DFT is Z_prev + e^{-jω·half}·Z_cur up to a
		// phase factor, and |X|² of a sine of amplitude A over n samples
		// is about (A·n/2)².
		var power [8]float32
		scale := 4 / float32(d.window*d.window)
		for i := range 8 {
			wr := d.prevRe[i] + d.rotRe[i]*re[i] - d.rotIm[i]*im[i]
			wi := d.prevIm[i] + d.rotRe[i]*im[i] + d.rotIm[i]*re[i]
			power[i] = (wr*wr + wi*wi) * scale
		}
		digit = d.judge(&power, meanSquare)
	}
	copy(prev, cur)
	d.prevRe, d.prevIm, d.prevE, d.prevValid = re, im, e, valid
	d.havePrev = true
	return digit
}

// halfDFT runs the eight Goertzel filters over one half-window and returns
// Z = s1 - e^{-jω}·s2 for each: the half-window's DFT at ω up to a phase
// factor that is the same for both halves of a window.
func (d *Detector) halfDFT(x []float32) (re, im [8]float32) {
	var s1, s2 [8]float32
	goertzel4(x, d.coef[0:4], s1[0:4], s2[0:4])
	goertzel4(x, d.coef[4:8], s1[4:8], s2[4:8])
	for i := range 8 {
		re[i] = s1[i] - d.cosw[i]*s2[i]
		im[i] = d.sinw[i] * s2[i]
	}
	return re, im
}

// goertzel4 runs four Goertzel filters over x and leaves their last two
// states in s1 and s2. Four at a time keeps the states in registers, and
// adding the input to the older state first leaves one multiply and one add
// on each filter's critical path.
func goertzel4(x []float32, coef, s1, s2 []float32) {
	c0, c1, c2, c3 := coef[0], coef[1], coef[2], coef[3]
	var a1, a2, b1, b2, p1, p2, q1, q2 float32
	for _, v := range x {
		a1, a2 = (v-a2)+c0*a1, a1
		b1, b2 = (v-b2)+c1*b1, b1
		p1, p2 = (v-p2)+c2*p1, p1
		q1, q2 = (v-q2)+c3*q1, q1
	}
	s1[0], s1[1], s1[2], s1[3] = a1, b1, p1, q1
	s2[0], s2[1], s2[2], s2[3] = a2, b2, p2, q2
}

// judge applies the checks of Detector to one window's tone powers (squared
// amplitudes) and mean square, and returns its digit or 0.
func (d *Detector) judge(power *[8]float32, meanSquare float32) byte {
	r := strongest(power[0:4])
	c := strongest(power[4:8])
	pr, pc := power[r], power[4+c]
	switch {
	case pr < d.minPower || pc < d.minPower:
		return 0
	case pr > pc*d.normalTwist || pc > pr*d.reverseTwist:
		return 0
	case (pr+pc)/2 < minPurity*meanSquare:
		return 0
	case meanSquare-(pr+pc)/2 > min(pr, pc)/2:
		// What the two tones leave unexplained outweighs the weaker tone:
		// typically one strong harmonic of a voice with a weak partner.
		return 0
	}
	for i := range 4 {
		if (i != r && power[i]*relativePeak > pr) || (i != c && power[4+i]*relativePeak > pc) {
			return 0
		}
	}
	hc, hr := d.harmonics(4+c, r)
	if hc > pc*harmonicLimit || (d.rowHarmonic[r][c] && hr > pr*harmonicLimit) {
		return 0
	}
	return keypad[r][c]
}

// strongest returns the index of the largest of four powers.
func strongest(p []float32) int {
	best := 0
	for i := 1; i < 4; i++ {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}

// harmonics returns the squared amplitudes at twice frequencies i and j over
// the whole window. It runs only for windows that passed every other check,
// so it costs nothing while there is no tone.
func (d *Detector) harmonics(i, j int) (float32, float32) {
	ci, cj := d.harmCoef[i], d.harmCoef[j]
	var a1, a2, b1, b2 float32
	for _, v := range d.buf[:d.window] {
		a1, a2 = (v-a2)+ci*a1, a1
		b1, b2 = (v-b2)+cj*b1, b1
	}
	scale := 4 / float32(d.window*d.window)
	return (a1*a1 + a2*a2 - ci*a1*a2) * scale, (b1*b1 + b2*b2 - cj*b1*b2) * scale
}

// step feeds one window's verdict to the digit timing and returns a digit to
// report, or 0.
func (d *Detector) step(w byte) byte {
	if w != 0 && w == d.held {
		d.miss = 0
		return 0
	}
	if d.held != 0 {
		d.miss++
		if d.miss >= d.offNeeded {
			d.held = 0
		}
	}
	if w == 0 {
		d.cand, d.count = 0, 0
		return 0
	}
	if w == d.cand {
		d.count++
	} else {
		d.cand, d.count = w, 1
	}
	if d.count < d.onNeeded || d.held != 0 {
		return 0
	}
	d.held, d.miss = w, 0
	d.cand, d.count = 0, 0
	return w
}
