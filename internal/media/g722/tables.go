package g722

// Normative constants of ITU-T G.722 (11/1988, reissued 09/2012), quoted from
// the tables of its computational description. Each is named after the block
// of the Recommendation that uses it (QUANTL, INVQAL, LOGSCL and so on). They are data in the sense of a wire format: changing one does not
// make the audio slightly different, it makes a decoder elsewhere unable to
// follow this encoder.

// qmf holds the 24 coefficients h0..h23 of the transmit and receive
// quadrature mirror filters, scaled by 2^13. The filter is
// symmetric (h[i] == h[23-i]), which the QMF code relies on.
var qmf = [24]int{
	3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
	3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
}

// q6 are the lower sub-band decision levels used by QUANTL, scaled so that
// level k is q6[k]*DETL >> 12 (the Recommendation's Q6). Index 0 is unused: the
// search starts at level 1, and a difference beyond level 29 falls in
// interval 30.
var q6 = [30]int{
	0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
	714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195,
	2557, 2919,
}

// q6Interval maps a level value v to 1 + the number of levels 1..29 at or
// below v: the interval QUANTL picks for a difference whose scaled magnitude
// is v. Entries past the largest level all give interval 30.
var q6Interval = func() (t [2920]byte) {
	for v := range t {
		mil := 1
		for mil < len(q6) && q6[mil] <= v {
			mil++
		}
		t[v] = byte(mil)
	}
	return t
}()

// ilp and iln give the 6-bit code IL of quantizer interval mil (1..30) for a
// non-negative and a negative difference. Codes 0-3 are
// never produced; the decoder still has to accept them (see qm6).
var (
	ilp = [31]byte{
		0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
		46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
	}
	iln = [31]byte{
		0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
		18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
	}
)

// qm6 is the 6-bit inverse quantizer INVQBL of mode 1, indexed by IL: the
// output levels QQ6 of the Recommendation times 8, with the sign of the code.
// The unused codes 0-3 decode like code 63 (the smallest negative level), as
// the Recommendation's mapping of IL to QQ6 entries specifies.
var qm6 = [64]int{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704,
	-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
	-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
	-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
	24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
	4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
	1688, 1360, 1040, 728, 432, 136, -432, -136,
}

// qm4 is the 4-bit inverse quantizer INVQAL that feeds the lower sub-band
// predictor and scale factor, indexed by IL>>2 (the levels QQ4 times 8). Using only the four most significant bits here is what lets the
// decoder of the 56 and 48 kbit/s modes track the encoder's state.
var qm4 = [16]int{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

// rl42 maps IL>>2 to the index into wl (LOGSCL: the magnitude of the 4-bit
// code, largest magnitude 7).
var rl42 = [16]byte{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}

// wl is the lower sub-band log scale factor multiplier WL:
// small codes shrink the step size, large codes grow it quickly.
var wl = [8]int{-60, -30, 58, 172, 334, 538, 1198, 3042}

// ilb is the table of 2^(i/32) scaled by 2^11 used by SCALEL and SCALEH to
// turn the log scale factor into a linear one.
var ilb = [32]int{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
	2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
	2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// Higher sub-band: the decision level of the 2-bit quantizer QUANTH (564
// scaled like q6), its codes for a non-negative and a negative difference
// the inverse quantizer INVQAH ("QQ2" times 8), and the log
// scale factor multiplier W_H with its code mapping RH2.
const q2 = 564

var (
	ihp = [3]byte{0, 3, 2}
	ihn = [3]byte{0, 1, 0}
	qm2 = [4]int{-7408, -1616, 7408, 1616}
	rh2 = [4]byte{2, 1, 2, 1}
	wh  = [3]int{0, -214, 798}
)
