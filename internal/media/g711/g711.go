// Package g711 implements ITU-T G.711 pulse code modulation: the µ-law and
// A-law companding of 16-bit linear PCM into 8-bit codes at 8 kHz.
//
// Both directions go through lookup tables built once at start-up, because a
// conference mixer decodes and re-encodes every frame of every participant
// (RFC 3551 §4.5.14 PCMU, §4.5.15 PCMA): a 160-sample frame costs about a
// hundred nanoseconds each way. Decoding indexes a 256-entry table by the
// code. Encoding indexes a table by the part of the sample that G.711 can
// see: µ-law quantizes 14-bit linear values, so its table is indexed by the
// top 14 bits of the sample (16 KiB); A-law quantizes 13-bit values whose
// lowest bit never changes the code (its smallest step is two), so its table
// is indexed by the top 12 bits (4 KiB).
//
// Negative samples are folded onto magnitudes by one's complement, as the
// ITU-T G.191 reference tools do: s and -s-1 get mirror-image codes. This is
// what makes the tables agree with the reference for all 65,536 inputs.
//
// The frame functions process min(len(dst), len(src)) samples and return that
// count; they never allocate.
package g711

// Codes that decode to the value nearest zero, for filling silence. µ-law has
// two codes for zero (0xFF and 0x7F); A-law has none, and 0xD5 decodes to +8,
// the smallest positive step (G.711 Table 1a).
const (
	UlawSilence byte = 0xFF
	AlawSilence byte = 0xD5
)

// EncodeUlaw encodes linear samples to µ-law codes, one byte per sample. It
// returns the number of samples encoded, min(len(dst), len(src)).
func EncodeUlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = ulawEncode[uint16(s)>>2]
	}
	return n
}

// DecodeUlaw decodes µ-law codes to linear samples. It returns the number of
// samples decoded, min(len(dst), len(src)).
func DecodeUlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, c := range src {
		dst[i] = ulawDecode[c]
	}
	return n
}

// EncodeAlaw encodes linear samples to A-law codes, one byte per sample. It
// returns the number of samples encoded, min(len(dst), len(src)).
func EncodeAlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = alawEncode[uint16(s)>>4]
	}
	return n
}

// DecodeAlaw decodes A-law codes to linear samples. It returns the number of
// samples decoded, min(len(dst), len(src)).
func DecodeAlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, c := range src {
		dst[i] = alawDecode[c]
	}
	return n
}

// LinearToUlaw encodes one sample to µ-law. It is small enough to inline into
// a caller's own loop, such as a mixer that encodes while it subtracts.
func LinearToUlaw(s int16) byte { return ulawEncode[uint16(s)>>2] }

// UlawToLinear decodes one µ-law code.
func UlawToLinear(c byte) int16 { return ulawDecode[c] }

// LinearToAlaw encodes one sample to A-law.
func LinearToAlaw(s int16) byte { return alawEncode[uint16(s)>>4] }

// AlawToLinear decodes one A-law code.
func AlawToLinear(c byte) int16 { return alawDecode[c] }
