package dtmf

import (
	"errors"
	"fmt"
	"time"
)

// Receiver defaults.
const (
	// DefaultClockRate is the telephone-event clock: [MS-RTPDT] §3.1 fixes
	// it at 8000 Hz and RFC 4733 §2.4 makes it the default.
	DefaultClockRate = 8000
	// DefaultTimeout closes an event that has had no report for this long.
	// Senders refresh an ongoing event at least every 50 ms (RFC 4733
	// §2.5.1.2), so a second of silence means its end reports were lost.
	DefaultTimeout = time.Second
)

// continuationSlack is how far past the known end of an unfinished event a
// new timestamp may start and still be taken for the same key press (see
// Receiver): two packet intervals of loss for senders that move the RTP
// timestamp along within one event, and shorter than the 40 ms pause that
// separates two real key presses (ITU-T Q.24).
const continuationSlack = 40 * time.Millisecond

// lateHorizon bounds how far before the current event an unknown report may
// start and be dropped as a straggler. Further back it is taken for a sender
// that restarted its timestamps.
const lateHorizon = 10 * time.Second

// maxMisorder is the backward sequence jump beyond which a sender is taken to
// have restarted (the MAX_MISORDER of RFC 3550 Appendix A.1).
const maxMisorder = 100

// historySize is how many recent event segments the Receiver remembers to
// recognise their retransmissions and stragglers.
const historySize = 16

// ErrConfig reports invalid Receiver, Sender or Detector settings, or an
// event the Sender cannot send.
var ErrConfig = errors.New("dtmf: invalid configuration")

// Packet is what the Receiver needs from one RTP packet of the
// telephone-event payload type.
type Packet struct {
	// SSRC, Sequence, Timestamp and Marker are the RTP header fields of
	// the same names (RFC 3550 §5.1).
	SSRC      uint32
	Sequence  uint16
	Timestamp uint32
	Marker    bool
	// Payload is the RTP payload: one telephone-event report, or several
	// packed back to back (RFC 4733 §2.5.1.5). The Receiver does not keep it.
	Payload []byte
}

// Press is one key press recovered from telephone-events.
type Press struct {
	// Code is the event code; Digit gives its keypad character.
	Code uint8
	// Volume is the power level of the first report, in -dBm0.
	Volume uint8
	// Timestamp is the RTP timestamp at which the press began.
	Timestamp uint32
	// Duration is the length of the press known so far, in RTP timestamp
	// units, across all of its segments (so it may exceed MaxDuration).
	Duration uint32
	// Ended reports that the press is over: its end report arrived, a newer
	// event replaced it, or it timed out.
	Ended bool
}

// Digit returns the keypad character of the press, or false when its code is
// not a DTMF digit (flash, or a non-DTMF event).
func (p Press) Digit() (byte, bool) { return Digit(p.Code) }

// ReceiverConfig holds the Receiver's settings. The zero value selects the
// defaults.
type ReceiverConfig struct {
	// ClockRate is the RTP clock of the telephone-event payload type in Hz;
	// 0 means DefaultClockRate.
	ClockRate int
	// Timeout closes an event that has had no report for this long; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// ReceiverStats counts what a Receiver has seen, for per-call diagnostics.
type ReceiverStats struct {
	// Packets counts well-formed packets.
	Packets uint64
	// Presses counts presses reported by Receive.
	Presses uint64
	// Repeats counts reports that added nothing to an event already
	// known: duplicated packets, retransmitted end reports, stale updates.
	Repeats uint64
	// Late counts reports of an event older than the current one that was
	// never seen before; they are dropped so that presses stay in order.
	Late uint64
	// LostEnds counts presses closed by a newer event before any end report.
	LostEnds uint64
	// TimedOut counts presses closed by the timeout.
	TimedOut uint64
	// Restarts counts SSRC changes and backward sequence jumps.
	Restarts uint64
}

// segmentKey names one segment of one event: RFC 4733 identifies an event by
// its RTP timestamp and code (§2.5.2.2), and the SSRC tells streams apart.
type segmentKey struct {
	ssrc  uint32
	ts    uint32
	code  uint8
	valid bool
}

// Receiver turns the telephone-event packets of one RTP leg into key presses.
// Each press is reported once, in order, by the Receive call whose packet
// first shows it, which is the lowest latency possible: the attendant can
// act on a digit before the caller lets go of the key. The length of the
// press follows later through Last.
//
// An event is known by its RTP timestamp and code, never by the marker bit,
// which some gateways leave out (and which is lost with the first packet).
// Beyond RFC 4733 the Receiver tolerates what real senders do:
//
//   - repeated and retransmitted reports, the three end reports included,
//     and duplicated or reordered packets: reports of a known event only
//     update its duration;
//   - zero, stalled or shrinking durations: the longest one counts;
//   - lost end reports: a new event at a new timestamp closes the old one,
//     and Expire closes an event that has gone quiet;
//   - events longer than MaxDuration, sent as segments at new timestamps
//     (RFC 4733 §2.5.1.3), and senders that move the timestamp along within
//     one event: a report of the same code starting within the span of an
//     unfinished event (or exactly MaxDuration after its start) continues it
//     instead of starting a new press, unless it carries the marker bit;
//   - a straggler of an older, never seen event is dropped rather than
//     reported out of order;
//   - a new SSRC or a backward sequence jump (a restarted sender) starts
//     afresh.
//
// A Receiver is not safe for concurrent use; each leg owns one.
type Receiver struct {
	timeout time.Duration
	slack   uint32
	horizon uint32

	started bool
	ssrc    uint32
	maxSeq  uint16

	// The current (most recent) event.
	active   bool
	press    Press
	code     uint8
	segTS    uint32 // RTP timestamp of the current segment
	segDur   uint16 // longest duration reported for the current segment
	endSeen  bool   // an end report of the current segment arrived
	lastSeen time.Time

	history [historySize]segmentKey
	next    int

	stats ReceiverStats
}

// NewReceiver returns a Receiver with the given settings.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.ClockRate < 0 || cfg.ClockRate > 1_000_000 {
		return nil, fmt.Errorf("%w: clock rate %d", ErrConfig, cfg.ClockRate)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %v", ErrConfig, cfg.Timeout)
	}
	if cfg.ClockRate == 0 {
		cfg.ClockRate = DefaultClockRate
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	rate := uint32(cfg.ClockRate)
	return &Receiver{
		timeout: cfg.Timeout,
		slack:   units(rate, continuationSlack),
		horizon: units(rate, lateHorizon),
	}, nil
}

// units converts d to RTP timestamp units at rate.
func units(rate uint32, d time.Duration) uint32 {
	return uint32(uint64(rate) * uint64(d) / uint64(time.Second))
}

// Receive processes one telephone-event packet received at now and appends
// to dst the presses it starts (usually none or one; more only when several
// events are packed into one packet). A payload shorter than PayloadSize is
// an error and leaves the Receiver unchanged.
func (r *Receiver) Receive(dst []Press, p Packet, now time.Time) ([]Press, error) {
	if len(p.Payload) < PayloadSize {
		return dst, fmt.Errorf("%w: got %d", ErrShortPayload, len(p.Payload))
	}
	r.Expire(now)
	r.stats.Packets++
	r.track(p)

	ts := p.Timestamp
	payload := p.Payload
	marker := p.Marker
	for len(payload) >= PayloadSize {
		var ev Event
		_ = ev.Unmarshal(payload) // cannot fail: the length was checked
		dst = r.report(dst, ts, ev, marker, now)
		// RFC 4733 §2.5.1.5: packed events are contiguous and all but the
		// last are complete. An unfinished one must be the last; anything
		// after it is not an event (padding some senders leave in).
		if !ev.End {
			break
		}
		payload = payload[PayloadSize:]
		ts += uint32(ev.Duration)
		marker = false
	}
	return dst, nil
}

// track follows the SSRC and sequence numbers to notice restarted senders.
func (r *Receiver) track(p Packet) {
	switch {
	case !r.started:
		r.started = true
	case p.SSRC != r.ssrc:
		r.restart()
	default:
		if d := int16(p.Sequence - r.maxSeq); d < -maxMisorder {
			r.restart()
		} else if d < 0 {
			return // reordered or duplicated: keep the highest
		}
	}
	r.ssrc = p.SSRC
	r.maxSeq = p.Sequence
}

// restart forgets the current event of a sender that began anew. The history
// keeps its SSRC-qualified keys, so stragglers of the old stream stay
// recognised.
func (r *Receiver) restart() {
	r.stats.Restarts++
	r.active = false
}

// report handles one event report that starts at RTP timestamp ts.
func (r *Receiver) report(dst []Press, ts uint32, ev Event, marker bool, now time.Time) []Press {
	if r.active && ts == r.segTS && ev.Code == r.code {
		r.update(ev, now)
		return dst
	}
	key := segmentKey{ssrc: r.ssrc, ts: ts, code: ev.Code, valid: true}
	if r.known(key) {
		// A straggler of an earlier event or segment.
		r.stats.Repeats++
		return dst
	}
	if r.active {
		diff := int32(ts - r.segTS)
		if !marker && ev.Code == r.code && r.continues(diff) {
			r.remember(key)
			r.segTS, r.segDur, r.endSeen = ts, ev.Duration, ev.End
			r.press.Ended = ev.End
			r.press.Duration = ts - r.press.Timestamp + uint32(ev.Duration)
			r.lastSeen = now
			return dst
		}
		if diff < 0 && uint32(-int64(diff)) <= r.horizon {
			r.stats.Late++
			return dst
		}
		if !r.press.Ended {
			r.stats.LostEnds++
		}
	}
	r.remember(key)
	r.active = true
	r.code = ev.Code
	r.segTS, r.segDur, r.endSeen = ts, ev.Duration, ev.End
	r.lastSeen = now
	r.press = Press{
		Code:      ev.Code,
		Volume:    ev.Volume,
		Timestamp: ts,
		Duration:  uint32(ev.Duration),
		Ended:     ev.End,
	}
	r.stats.Presses++
	return append(dst, r.press)
}

// continues reports whether a report of the current event's code starting
// diff timestamp units after the current segment belongs to the same press:
// either the next segment of a long event (RFC 4733 §2.5.1.3 starts it
// exactly MaxDuration later), or, while no end report has arrived, a
// timestamp inside the span the press already covers.
func (r *Receiver) continues(diff int32) bool {
	if diff <= 0 {
		return false
	}
	if diff == MaxDuration && (!r.endSeen || r.segDur == MaxDuration) {
		return true
	}
	return !r.endSeen && uint32(diff) <= uint32(r.segDur)+r.slack
}

// update applies a further report of the current segment. A report that
// lengthens a press closed by the timeout shows that it is still going on
// and reopens it.
func (r *Receiver) update(ev Event, now time.Time) {
	r.lastSeen = now
	changed := false
	if ev.Duration > r.segDur {
		r.segDur = ev.Duration
		r.press.Duration = r.segTS - r.press.Timestamp + uint32(ev.Duration)
		r.press.Ended = r.endSeen
		changed = true
	}
	if ev.End && !r.endSeen {
		r.endSeen = true
		r.press.Ended = true
		changed = true
	}
	if !changed {
		r.stats.Repeats++
	}
}

func (r *Receiver) known(k segmentKey) bool {
	for _, h := range r.history {
		if h == k {
			return true
		}
	}
	return false
}

func (r *Receiver) remember(k segmentKey) {
	r.history[r.next] = k
	r.next = (r.next + 1) % historySize
}

// Expire closes the current press if it has had no report since the timeout
// before now, and reports whether it did. Receive calls it too; a caller that
// wants Last to be exact between packets calls it on its own tick.
func (r *Receiver) Expire(now time.Time) bool {
	if !r.active || r.press.Ended || now.Sub(r.lastSeen) < r.timeout {
		return false
	}
	r.press.Ended = true
	r.stats.TimedOut++
	return true
}

// Last returns the most recent press with what is known of it so far: its
// duration grows with each report and Ended turns true when it is over. It
// reports false before the first press and after a restart.
func (r *Receiver) Last() (Press, bool) {
	return r.press, r.active
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats { return r.stats }

// Reset forgets all events and counters, as for a new call.
func (r *Receiver) Reset() {
	*r = Receiver{timeout: r.timeout, slack: r.slack, horizon: r.horizon}
}
