package g711

// An independent implementation of G.711, written from the quantization
// tables of the Recommendation rather than from the bit layout that
// tables.go uses: each law is a list of segments given by their decision
// values and step, and a magnitude is quantized by finding its segment and
// counting steps. The tests compare the package's tables with it for every
// input.

// segment is one row group of ITU-T G.711 Table 1a or 2a: decision values
// from lo (inclusive) to hi (exclusive) in steps of step, in the law's own
// linear units (13-bit for A-law, 14-bit for µ-law).
type segment struct{ lo, hi, step int }

// alawSegments is G.711 Table 1a (A-law), in 13-bit units where the overload
// point is 4096. Segments 0 and 1 share the smallest step.
var alawSegments = [8]segment{
	{0, 32, 2}, {32, 64, 2}, {64, 128, 4}, {128, 256, 8},
	{256, 512, 16}, {512, 1024, 32}, {1024, 2048, 64}, {2048, 4096, 128},
}

// ulawSegments is G.711 Table 2a (µ-law), in 14-bit units where the overload
// point is 8159. Segment 0 starts with the half-width interval [0, 1), whose
// output is 0; its other fifteen intervals are [1, 31) in steps of 2, given
// here as starting at -1 so that every segment has sixteen whole intervals.
var ulawSegments = [8]segment{
	{-1, 31, 2}, {31, 95, 4}, {95, 223, 8}, {223, 479, 16},
	{479, 991, 32}, {991, 2015, 64}, {2015, 4063, 128}, {4063, 8159, 256},
}

// quantize returns the segment and the interval number within it of a
// non-negative magnitude m. Magnitudes at or beyond the overload point fall in
// the last interval.
func quantize(segs *[8]segment, m int) (seg, n int) {
	for seg = range segs {
		if m < segs[seg].hi {
			break
		}
	}
	s := segs[seg]
	n = min((m-s.lo)/s.step, 15)
	return seg, n
}

// output is the decoder output of an interval: its midpoint, except that µ-law
// segment 0 interval 0 is [0, 1) and outputs 0 (G.711 Table 2a).
func output(segs *[8]segment, seg, n int) int {
	s := segs[seg]
	return s.lo + n*s.step + s.step/2
}

// magnitude folds a 16-bit sample onto a non-negative value by one's
// complement (the ITU-T G.191 convention) and reports its polarity.
func magnitude(s int16) (m int, positive bool) {
	if s < 0 {
		return -int(s) - 1, false
	}
	return int(s), true
}

func refUlawEncode(s int16) byte {
	m, pos := magnitude(s)
	seg, n := quantize(&ulawSegments, m>>2)
	c := byte(seg<<4 | n)
	if pos {
		c |= 0x80
	}
	// µ-law inverts the seven magnitude bits on the line; the polarity bit is
	// sent as is (1 = positive).
	return c ^ 0x7F
}

func refUlawDecode(c byte) int16 {
	v := c ^ 0x7F
	y := output(&ulawSegments, int(v>>4&7), int(v&0xF)) * 4
	if v&0x80 == 0 {
		y = -y
	}
	return int16(y)
}

func refAlawEncode(s int16) byte {
	m, pos := magnitude(s)
	seg, n := quantize(&alawSegments, m>>3)
	c := byte(seg<<4 | n)
	if pos {
		c |= 0x80
	}
	return c ^ 0x55 // even bits inverted on the line
}

func refAlawDecode(c byte) int16 {
	v := c ^ 0x55
	y := output(&alawSegments, int(v>>4&7), int(v&0xF)) * 8
	if v&0x80 == 0 {
		y = -y
	}
	return int16(y)
}
