package prompts

// The speech clips are IMA ADPCM, the 4-bit adaptive differential PCM of the
// IMA Digital Audio Focus and Technical Working Groups' "Recommended Practices
// for Enhancing Digital Audio Compatibility in Multimedia Systems" (1992), in
// the headerless form sox writes with "-t ima": one stream per clip, starting
// from a predicted sample of 0 and step index 0, two 4-bit codes a byte with
// the high nibble first. At 8 kHz that is 32 kbit/s, half of G.711, which is
// what keeps fourteen languages of prompts under our size budget.
//
// Each code is a sign bit and a 3-bit magnitude m. The decoder adds
// (2m+1)·step/8 to its prediction (or subtracts it, for the sign), then adapts
// the step: down one table entry for small magnitudes, up two to eight for
// large ones. The reconstruction is computed exactly, as sox's encoder assumes,
// rather than by the spec's shift-and-add approximation: the decoder must
// track the encoder's own model of it, or the error accumulates.

// imaSteps are the 89 quantizer step sizes, roughly 10% apart.
var imaSteps = [89]int32{
	7, 8, 9, 10, 11, 12, 13, 14, 16, 17,
	19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
	50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
	130, 143, 157, 173, 190, 209, 230, 253, 279, 307,
	337, 371, 408, 449, 494, 544, 598, 658, 724, 796,
	876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066,
	2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358,
	5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899,
	15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
}

// imaIndexStep is how far the step index moves after a code of magnitude m.
var imaIndexStep = [8]int{-1, -1, -1, -1, 2, 4, 6, 8}

// imaDecoder is the state of one ADPCM stream.
type imaDecoder struct {
	pred  int32 // last output sample
	index int   // into imaSteps
}

// sample decodes one 4-bit code.
func (d *imaDecoder) sample(code byte) int16 {
	m := int32(code & 7)
	diff := imaSteps[d.index] * (2*m + 1) >> 3
	if code&8 != 0 {
		diff = -diff
	}
	d.pred = min(max(d.pred+diff, -32768), 32767)
	d.index = min(max(d.index+imaIndexStep[m], 0), len(imaSteps)-1)
	return int16(d.pred)
}

// decodeIMA decodes a whole headerless stream: two samples a byte. Any byte
// string is a valid stream, so it cannot fail.
func decodeIMA(src []byte) []int16 {
	dst := make([]int16, 2*len(src))
	var d imaDecoder
	for i, b := range src {
		dst[2*i] = d.sample(b >> 4)
		dst[2*i+1] = d.sample(b & 0x0f)
	}
	return dst
}
