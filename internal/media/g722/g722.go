// Package g722 implements the ITU-T G.722 wideband speech codec at
// 64 kbit/s (mode 1): sub-band ADPCM over 16 kHz audio.
//
// A quadrature mirror filter splits the input into a lower (0-4 kHz) and a
// higher (4-8 kHz) sub-band, each sampled at 8 kHz. The lower band is coded
// with 6-bit ADPCM, the higher with 2-bit ADPCM, both with adaptive
// quantizers and pole-zero predictors, and the two codes of each pair of
// input samples share one byte: the higher band's two bits on top, the lower
// band's six below. So 20 ms of audio, 320 samples, becomes 160 bytes.
//
// The code follows the computational description of the Recommendation
// block by block (block names in comments), with its fixed-point arithmetic,
// so that the output is bit-exact: the tests compare encoder and decoder
// output with reference output byte for byte.
//
// Encoder and Decoder keep state from call to call, so each RTP stream needs
// its own. Note for RTP: G.722's RTP clock rate is 8000 although it samples
// at 16 kHz (RFC 3551 §4.5.2), so a 20 ms packet advances the timestamp by
// 160.
//
// Only the 64 kbit/s mode is implemented. The 56 and 48 kbit/s modes give the
// lowest one or two bits of each byte to an auxiliary data channel, which RTP
// peers do not use.
package g722

// Encoder is a G.722 encoder for one stream. The zero value is an encoder in
// its initial state, like one from NewEncoder.
type Encoder struct {
	qmf  analysis
	low  band
	high band
}

// NewEncoder returns an encoder in the Recommendation's reset state.
func NewEncoder() *Encoder {
	e := new(Encoder)
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state, as for a new stream.
func (e *Encoder) Reset() {
	*e = Encoder{}
	e.low.det = detLowInit
	e.high.det = detHighInit
}

// Encode encodes 16 kHz samples, two per output byte, and returns the number
// of bytes written: min(len(dst), len(pcm)/2). An odd last sample is not
// consumed, so callers should pass whole frames (320 samples for 20 ms).
func (e *Encoder) Encode(dst []byte, pcm []int16) int {
	if e.low.det == 0 { // the zero value: no step size is ever 0 after Reset
		e.Reset()
	}
	n := min(len(dst), len(pcm)/2)
	dst, pcm = dst[:n], pcm[:2*n]
	for i := range dst {
		xl, xh := e.qmf.split(pcm[2*i], pcm[2*i+1])
		il := e.low.encodeLow(xl)
		ih := e.high.encodeHigh(xh)
		dst[i] = ih<<6 | il
	}
	return n
}

// Decoder is a G.722 decoder for one stream. The zero value is a decoder in
// its initial state, like one from NewDecoder.
type Decoder struct {
	qmf  synthesis
	low  band
	high band
}

// NewDecoder returns a decoder in the Recommendation's reset state.
func NewDecoder() *Decoder {
	d := new(Decoder)
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state, as for a new stream.
func (d *Decoder) Reset() {
	*d = Decoder{}
	d.low.det = detLowInit
	d.high.det = detHighInit
}

// Decode decodes G.722 bytes to 16 kHz samples, two per byte, and returns
// the number of samples written: 2·min(len(src), len(dst)/2). Every byte is
// a valid code, so there is no error: damaged input only sounds wrong until
// the adaptation recovers.
func (d *Decoder) Decode(dst []int16, src []byte) int {
	if d.low.det == 0 { // the zero value, as in Encode
		d.Reset()
	}
	n := min(len(src), len(dst)/2)
	src, dst = src[:n], dst[:2*n]
	for i, c := range src {
		rl := d.low.decodeLow(int(c & 0x3F))
		rh := d.high.decodeHigh(int(c >> 6))
		dst[2*i], dst[2*i+1] = d.qmf.merge(rl, rh)
	}
	return 2 * n
}
