package dtmf

import (
	"errors"
	"fmt"
)

// EndRepeats is how many times the final report of an event is sent: RFC 4733
// §2.5.1.4 asks for three, so that one lost packet does not lose the end.
const EndRepeats = 3

// ErrBusy reports a Start while an event is still being sent.
var ErrBusy = errors.New("dtmf: sender busy with an event")

// OutPacket is one telephone-event packet to send. The RTP writer adds the
// header fields it owns (payload type, SSRC, sequence number).
type OutPacket struct {
	// Timestamp is the RTP timestamp: the start of the event's current
	// segment.
	Timestamp uint32
	// Marker is set on the first packet of an event (RFC 4733 §2.5.1.2).
	Marker bool
	// Payload is the telephone-event report.
	Payload [PayloadSize]byte
}

// Sender produces the packets that send one event (RFC 4733 §2.5.1): the
// first carries the marker bit, all carry the event's starting timestamp,
// the duration grows by one packet interval per packet, and the final report,
// with the E bit, goes out EndRepeats times. An event longer than MaxDuration
// is cut into segments (RFC 4733 §2.5.1.3): each further segment starts at the
// previous segment's timestamp plus MaxDuration, without the marker bit, and
// only the last segment's final report carries the E bit.
//
// The caller asks for one packet per packet interval with Next, typically on
// its 20 ms tick, so the reports go out in real time. The zero Sender is idle
// and not usable: use NewSender. A Sender is not safe for concurrent use.
type Sender struct {
	interval uint16
	volume   uint8

	busy     bool
	code     uint8
	segTS    uint32 // timestamp of the current segment
	left     uint32 // duration of the event not yet covered by earlier segments
	segDur   uint32 // duration reported so far in the current segment
	ends     int    // final reports sent
	first    bool   // the next packet is the event's first
	finished bool   // the current segment has reported its full length
}

// NewSender returns a Sender that advances the duration by interval RTP
// timestamp units per packet (160 for 20 ms at 8 kHz) and reports volume in
// -dBm0 (RFC 4733 §2.3.4; DTMF senders typically use about 10).
func NewSender(interval uint32, volume uint8) (*Sender, error) {
	if interval == 0 || interval > MaxDuration {
		return nil, fmt.Errorf("%w: packet interval %d", ErrConfig, interval)
	}
	if volume > MaxVolume {
		return nil, fmt.Errorf("%w: %w: %d", ErrConfig, ErrVolume, volume)
	}
	return &Sender{interval: uint16(interval), volume: volume}, nil
}

// Start begins sending event code at RTP timestamp ts for duration timestamp
// units. A duration shorter than one packet interval is sent as one interval.
func (s *Sender) Start(code uint8, ts uint32, duration uint32) error {
	if s.busy {
		return ErrBusy
	}
	if duration == 0 {
		return fmt.Errorf("%w: zero duration", ErrConfig)
	}
	*s = Sender{
		interval: s.interval,
		volume:   s.volume,
		busy:     true,
		code:     code,
		segTS:    ts,
		left:     duration,
		first:    true,
	}
	return nil
}

// Busy reports whether an event is being sent.
func (s *Sender) Busy() bool { return s.busy }

// Next returns the next packet of the current event, and false once the
// event is complete (or none was started).
func (s *Sender) Next() (OutPacket, bool) {
	if !s.busy {
		return OutPacket{}, false
	}
	segLen := min(s.left, MaxDuration)
	last := s.left <= MaxDuration
	if s.finished && !last {
		// The previous segment reported its full MaxDuration; open the next.
		s.segTS += MaxDuration
		s.left -= MaxDuration
		s.segDur = 0
		s.finished = false
		segLen = min(s.left, MaxDuration)
		last = s.left <= MaxDuration
	}
	if !s.finished {
		s.segDur = min(s.segDur+uint32(s.interval), segLen)
		s.finished = s.segDur == segLen
	}
	ev := Event{Code: s.code, Volume: s.volume, Duration: uint16(s.segDur)}
	if s.finished && last {
		ev.End = true
		s.ends++
		if s.ends == EndRepeats {
			s.busy = false
		}
	}
	out := OutPacket{Timestamp: s.segTS, Marker: s.first}
	s.first = false
	_, _ = ev.MarshalTo(out.Payload[:]) // cannot fail: volume was checked
	return out, true
}

// AppendPackets appends every packet of one event to dst, for callers that
// schedule the sending themselves and for tests. It leaves s idle.
func (s *Sender) AppendPackets(dst []OutPacket, code uint8, ts uint32, duration uint32) ([]OutPacket, error) {
	if err := s.Start(code, ts, duration); err != nil {
		return dst, err
	}
	for {
		p, ok := s.Next()
		if !ok {
			return dst, nil
		}
		dst = append(dst, p)
	}
}
