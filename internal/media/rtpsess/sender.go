package rtpsess

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// HeaderLen is the length of the RTP header Sender writes: the fixed
// 12 octets of RFC 3550 §5.1, with no CSRC list and no extension.
const HeaderLen = 12

// ErrShortBuffer reports a destination buffer too small for what was to be
// written into it.
var ErrShortBuffer = errors.New("rtpsess: buffer too short")

// ErrPayloadType reports a payload type outside the 7-bit field.
var ErrPayloadType = errors.New("rtpsess: payload type out of range 0-127")

// Sender is the state of the stream the MCU sends to one leg: its SSRC,
// the next sequence number and timestamp, and the packet and octet counts
// an SR reports (RFC 3550 §6.4.1).
type Sender struct {
	clockRate uint32
	ssrc      uint32
	seq       uint16
	ts        uint32
	packets   uint32 // sender's packet count; wraps as the SR field does
	octets    uint32 // sender's octet count (payload only); wraps likewise
	sent      bool   // a packet went out since the last report
	lastTS    uint32 // timestamp of the last packet written
	lastAt    time.Time
	anyAt     bool // lastAt is set
}

// NewSender returns a Sender with a random SSRC, first sequence number and
// first timestamp. RFC 3550 §5.1 asks for random initial values so that
// known-plaintext attacks on SRTP are harder; §8.1 asks for a random SSRC.
// Both come from crypto/rand.
func NewSender(clockRate uint32) (*Sender, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("rtpsess: random initial state: %w", err)
	}
	return ResumeSender(clockRate, binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[6:]))
}

// ResumeSender returns a Sender that continues a stream from a known SSRC,
// next sequence number and next timestamp: after a re-INVITE the MCU keeps
// its outgoing stream, and tests need fixed values.
func ResumeSender(clockRate, ssrc uint32, seq uint16, ts uint32) (*Sender, error) {
	if clockRate == 0 {
		return nil, ErrClockRate
	}
	return &Sender{clockRate: clockRate, ssrc: ssrc, seq: seq, ts: ts}, nil
}

// SSRC returns the stream's synchronization source identifier.
func (s *Sender) SSRC() uint32 { return s.ssrc }

// Next returns the sequence number and timestamp the next header will carry.
func (s *Sender) Next() (seq uint16, ts uint32) { return s.seq, s.ts }

// Counts returns the packet and octet counts an SR would carry.
func (s *Sender) Counts() (packets, octets uint32) { return s.packets, s.octets }

// WriteHeader writes the next RTP header into buf[:HeaderLen] and accounts
// for a packet carrying payloadLen octets of payload, sent at now. The
// sequence number then advances by one and the timestamp by samples, the
// duration of this packet's media in RTP clock ticks (160 for 20 ms of
// 8 kHz audio). marker is set on the first packet of a talkspurt (RFC 3551
// §4.1). WriteHeader returns HeaderLen.
func (s *Sender) WriteHeader(buf []byte, pt uint8, marker bool, samples uint32, payloadLen int, now time.Time) (int, error) {
	if len(buf) < HeaderLen {
		return 0, fmt.Errorf("%w: %d octets for an RTP header", ErrShortBuffer, len(buf))
	}
	if pt > 127 {
		return 0, fmt.Errorf("%w: %d", ErrPayloadType, pt)
	}
	buf[0] = 2 << 6 // V=2, P=0, X=0, CC=0
	buf[1] = pt
	if marker {
		buf[1] |= 0x80
	}
	binary.BigEndian.PutUint16(buf[2:], s.seq)
	binary.BigEndian.PutUint32(buf[4:], s.ts)
	binary.BigEndian.PutUint32(buf[8:], s.ssrc)
	s.lastTS, s.lastAt, s.anyAt = s.ts, now, true
	s.seq++
	s.ts += samples
	s.packets++
	s.octets += uint32(max(payloadLen, 0))
	s.sent = true
	return HeaderLen, nil
}

// Skip advances the timestamp by samples without sending, for frames the
// MCU does not send (a muted or silent leg with discontinuous transmission):
// RTP timestamps keep counting media time across such gaps (RFC 3550 §5.1).
func (s *Sender) Skip(samples uint32) { s.ts += samples }

// rtpTimeAt extrapolates the RTP timestamp that corresponds to wall-clock
// time now from the last packet written, as an SR requires (RFC 3550
// §6.4.1: the same instant as the NTP timestamp).
func (s *Sender) rtpTimeAt(now time.Time) uint32 {
	if !s.anyAt {
		return s.ts
	}
	d := now.Sub(s.lastAt)
	if d < 0 {
		return s.lastTS - rtpUnits(-d, s.clockRate)
	}
	return s.lastTS + rtpUnits(d, s.clockRate)
}
