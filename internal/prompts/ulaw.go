package prompts

// The hold music is G.711 µ-law (ITU-T G.711 Table 2a). This package decodes
// it with its own 256-entry table instead of importing internal/media/g711,
// so that it stays a leaf: prompts and media are separate subtrees of layer 0
// and do not import each other. A test holds the table equal to media/g711's.

// ulawTable maps a µ-law code to its linear value, scaled to 16 bits.
var ulawTable = func() (t [256]int16) {
	for c := range t {
		t[c] = ulawValue(byte(c))
	}
	return t
}()

// ulawValue decodes one code. G.711 transmits the code inverted; once
// restored it holds a sign bit, a 3-bit segment e and a 4-bit step m. The
// magnitude is ((2m+33)·2^e − 33) in units of the 14-bit quantizer, the
// midpoint of the step; shifting by two scales it to 16 bits.
func ulawValue(code byte) int16 {
	c := ^code
	e := int(c>>4) & 7
	m := int(c & 0x0f)
	mag := ((2*m+33)<<e - 33) << 2
	if c&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// decodeUlaw decodes a µ-law stream, one sample a byte.
func decodeUlaw(src []byte) []int16 {
	pcm := make([]int16, len(src))
	for i, c := range src {
		pcm[i] = ulawTable[c]
	}
	return pcm
}
