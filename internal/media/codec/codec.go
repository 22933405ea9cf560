// Package codec is the registry of the audio codecs the media engine speaks,
// and the one place that maps an SDP encoding name or an RTP payload type to
// an encoder and a decoder.
//
// All three codecs are narrow in the RTP sense: static payload types of the
// RTP/AVP profile (RFC 3551 Table 4), an RTP clock of 8000 Hz, and one
// channel. G.722 is the exception that makes the ClockRate and SampleRate
// fields differ: it samples at 16 kHz but its RTP clock runs at 8000 Hz, a
// historical error RFC 3551 §4.5.2 keeps for compatibility.
//
// Media is handled in 20 ms frames (FrameDuration): the usual packet time of
// these codecs, and the tick of the conference mixer.
package codec

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/media/g711"
	"github.com/parleyhq/parley/internal/media/g722"
)

// FrameDuration is the audio carried by one frame, and by one RTP packet.
const FrameDuration = 20 * time.Millisecond

// framesPerSecond converts per-second rates to per-frame counts.
const framesPerSecond = int(time.Second / FrameDuration)

// ErrUnsupported reports a codec this package cannot encode or decode.
var ErrUnsupported = errors.New("codec: unsupported codec")

// Codec describes one audio codec as SDP and RTP name it, and the frame
// geometry that follows. Values come from this package's registry; the
// fields are exported for reading.
type Codec struct {
	// Name is the encoding name of an SDP rtpmap attribute ("PCMU").
	Name string
	// PayloadType is the static RTP payload type (RFC 3551 Table 4).
	PayloadType uint8
	// ClockRate is the rate of the RTP timestamp, in Hz.
	ClockRate int
	// SampleRate is the rate of the linear PCM the codec takes and gives.
	SampleRate int
	// FrameSamples is the number of PCM samples in FrameDuration.
	FrameSamples int
	// FrameBytes is the size of the encoded payload of FrameDuration.
	FrameBytes int
}

// TicksPerFrame is how far the RTP timestamp advances per frame. It follows
// ClockRate, not SampleRate: for G.722 it is 160, not 320.
func (c Codec) TicksPerFrame() uint32 {
	return uint32(c.ClockRate / framesPerSecond)
}

// String returns the rtpmap form, "PCMU/8000".
func (c Codec) String() string {
	return fmt.Sprintf("%s/%d", c.Name, c.ClockRate)
}

// The supported codecs. They are variables only because Go has no constant
// structs: treat them as read-only.
var (
	// PCMU is G.711 µ-law (RFC 3551 §4.5.14).
	PCMU = Codec{Name: "PCMU", PayloadType: 0, ClockRate: 8000, SampleRate: 8000, FrameSamples: 160, FrameBytes: 160}
	// PCMA is G.711 A-law (RFC 3551 §4.5.14).
	PCMA = Codec{Name: "PCMA", PayloadType: 8, ClockRate: 8000, SampleRate: 8000, FrameSamples: 160, FrameBytes: 160}
	// G722 is G.722 at 64 kbit/s (RFC 3551 §4.5.2): 16 kHz audio, two
	// samples per byte, on an 8000 Hz RTP clock.
	G722 = Codec{Name: "G722", PayloadType: 9, ClockRate: 8000, SampleRate: 16000, FrameSamples: 320, FrameBytes: 160}
)

// registry is the lookup table, kept apart from the exported variables so
// that a careless write to one of them cannot change what Lookup answers.
// The order is the preference order for an SDP offer: wideband first.
var registry = [...]Codec{G722, PCMU, PCMA}

// All returns the supported codecs, most preferred first: G.722, then PCMU,
// then PCMA. The slice is the caller's.
func All() []Codec {
	return append([]Codec(nil), registry[:]...)
}

// Lookup finds a codec by the encoding name and clock rate of an SDP rtpmap
// attribute. The name is matched without regard to case, as encoding names
// are case-insensitive (RFC 4855 §3); the clock rate must match exactly, so
// "G722/16000", which some peers wrongly send, is not G.722.
func Lookup(name string, clockRate int) (Codec, bool) {
	for _, c := range registry {
		if c.ClockRate == clockRate && strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Codec{}, false
}

// ByPayloadType finds a codec by its static RTP payload type, for media
// descriptions that list a static type without an rtpmap attribute.
func ByPayloadType(pt uint8) (Codec, bool) {
	for _, c := range registry {
		if c.PayloadType == pt {
			return c, true
		}
	}
	return Codec{}, false
}

// Encoder encodes linear PCM at the codec's SampleRate into payloads. An
// Encoder may keep state between calls (G.722 does), so each outgoing stream
// needs its own.
type Encoder interface {
	// Encode encodes pcm into dst and returns the number of payload bytes
	// written. It encodes as much of pcm as fits in dst; a whole frame is
	// FrameSamples in and FrameBytes out.
	Encode(dst []byte, pcm []int16) int
	// Reset forgets the state of the stream, as for a new one.
	Reset()
}

// Decoder decodes payloads into linear PCM at the codec's SampleRate. Like
// Encoder, it may keep state, so each incoming stream needs its own.
type Decoder interface {
	// Decode decodes payload into dst and returns the number of samples
	// written. It decodes as much of payload as fits in dst. Every payload
	// decodes: these codecs have no invalid bytes.
	Decode(dst []int16, payload []byte) int
	// Reset forgets the state of the stream, as for a new one.
	Reset()
}

// resolve maps c to the registry entry with its name and clock rate; other
// fields, such as a payload type renumbered by negotiation, do not matter.
func resolve(c Codec) (Codec, error) {
	known, ok := Lookup(c.Name, c.ClockRate)
	if !ok {
		return Codec{}, fmt.Errorf("%w: %s", ErrUnsupported, c)
	}
	return known, nil
}

// NewEncoder returns an encoder for c, in its initial state.
func NewEncoder(c Codec) (Encoder, error) {
	known, err := resolve(c)
	if err != nil {
		return nil, err
	}
	switch known.Name {
	case PCMU.Name:
		return ulaw{}, nil
	case PCMA.Name:
		return alaw{}, nil
	default:
		return g722.NewEncoder(), nil
	}
}

// NewDecoder returns a decoder for c, in its initial state.
func NewDecoder(c Codec) (Decoder, error) {
	known, err := resolve(c)
	if err != nil {
		return nil, err
	}
	switch known.Name {
	case PCMU.Name:
		return ulaw{}, nil
	case PCMA.Name:
		return alaw{}, nil
	default:
		return g722.NewDecoder(), nil
	}
}

// ulaw and alaw adapt the stateless G.711 functions to Encoder and Decoder.
// They are empty structs, so boxing them in an interface allocates nothing.
type (
	ulaw struct{}
	alaw struct{}
)

func (ulaw) Encode(dst []byte, pcm []int16) int     { return g711.EncodeUlaw(dst, pcm) }
func (ulaw) Decode(dst []int16, payload []byte) int { return g711.DecodeUlaw(dst, payload) }
func (ulaw) Reset()                                 {}
func (alaw) Encode(dst []byte, pcm []int16) int     { return g711.EncodeAlaw(dst, pcm) }
func (alaw) Decode(dst []int16, payload []byte) int { return g711.DecodeAlaw(dst, payload) }
func (alaw) Reset()                                 {}
