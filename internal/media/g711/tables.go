package g711

import "math/bits"

// The tables are computed once from the bit layout of a G.711 character
// (polarity bit, 3-bit segment, 4-bit step within the segment) rather than
// typed in: 21 KiB of literals could hide a typo, whereas these few lines are
// checked against an independent implementation of the G.711 Tables 1a and 2a
// for every input in g711_test.go.
var (
	ulawDecode = buildUlawDecode()
	ulawEncode = buildUlawEncode()
	alawDecode = buildAlawDecode()
	alawEncode = buildAlawEncode()
)

// ulawBias is the offset G.711 µ-law adds to a 14-bit magnitude so that every
// segment boundary falls on a power of two (33 = the first segment's width of
// 32 plus the half step of its zero interval).
const ulawBias = 33

// alawMask inverts the even bits of an A-law character (bits 2, 4, 6 and 8 in
// G.711's numbering from the polarity bit): G.711 §2 ("Transmission of
// character signals") makes the line carry them inverted so that silence is
// not a run of zero bits.
const alawMask = 0x55

// ulawCode encodes a 14-bit two's-complement value.
func ulawCode(v int) byte {
	var polarity byte = 0x80 // 0 for negative before the final inversion
	if v < 0 {
		v, polarity = ^v, 0
	}
	b := min(v+ulawBias, 0x1FFF)   // 33..8191
	seg := bits.Len(uint(b)) - 6   // biased segment s spans [2^(s+5), 2^(s+6))
	step := (b >> (seg + 1)) & 0xF // 16 steps of 2^(s+1) per segment
	// µ-law transmits every bit inverted; the polarity bit was set above for
	// positive values, so inverting the other seven gives the character.
	return polarity | (0x7F ^ byte(seg<<4|step))
}

// ulawValue decodes a µ-law character to a 16-bit sample: the middle of the
// character's quantization interval, scaled from 14 to 16 bits.
func ulawValue(c byte) int16 {
	raw := ^c
	seg := int(raw>>4) & 7
	step := int(raw & 0xF)
	mag := ((2*step+ulawBias)<<seg - ulawBias) << 2
	if raw&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// alawCode encodes a value given by its top 12 bits (two's complement).
func alawCode(v int) byte {
	var polarity byte = 0x80
	if v < 0 {
		v, polarity = ^v, 0
	}
	// v is the 13-bit magnitude halved, 0..2047: segments 0 and 1 have the
	// same step, and each later segment doubles it.
	seg, step := 0, v
	if v >= 16 {
		seg = bits.Len(uint(v)) - 4
		step = (v >> (seg - 1)) & 0xF
	}
	return (polarity | byte(seg<<4|step)) ^ alawMask
}

// alawValue decodes an A-law character to a 16-bit sample.
func alawValue(c byte) int16 {
	raw := c ^ alawMask
	seg := int(raw>>4) & 7
	step := int(raw & 0xF)
	mag := step<<4 | 8 // segment 0: steps of 16 (in 16-bit units), mid-interval
	if seg > 0 {
		mag = (step<<4 | 0x108) << (seg - 1)
	}
	if raw&0x80 == 0 {
		return int16(-mag)
	}
	return int16(mag)
}

func buildUlawDecode() (t [256]int16) {
	for c := range t {
		t[c] = ulawValue(byte(c))
	}
	return t
}

// buildUlawEncode fills the table indexed by uint16(s)>>2: the index is the
// 14-bit value with its sign bit at bit 13.
func buildUlawEncode() (t [1 << 14]byte) {
	for i := range t {
		t[i] = ulawCode(int(int16(uint16(i)<<2) >> 2)) // sign-extend 14 bits
	}
	return t
}

func buildAlawDecode() (t [256]int16) {
	for c := range t {
		t[c] = alawValue(byte(c))
	}
	return t
}

// buildAlawEncode fills the table indexed by uint16(s)>>4.
func buildAlawEncode() (t [1 << 12]byte) {
	for i := range t {
		t[i] = alawCode(int(int16(uint16(i)<<4) >> 4)) // sign-extend 12 bits
	}
	return t
}
