package rtpsess

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// Constants of RFC 3550 Appendix A.1. MIN_SEQUENTIAL packets in sequence
// validate a new source; a forward gap below MAX_DROPOUT is loss, a backward
// step within MAX_MISORDER is reordering, anything else is a jump that must
// be confirmed by the next packet before the sequence restarts.
const (
	seqMod        = 1 << 16
	minSequential = 2
	maxDropout    = 3000
	maxMisorder   = 100
)

// ErrClockRate reports an RTP clock rate of zero.
var ErrClockRate = errors.New("rtpsess: RTP clock rate must be positive")

// Verdict classifies one received RTP packet per RFC 3550 Appendix A.1.
type Verdict uint8

// Verdicts, from the most to the least usual.
const (
	// Accepted: counted, and newer than every packet before it (in order, or
	// after a gap shorter than MAX_DROPOUT).
	Accepted Verdict = iota + 1
	// Late: counted, but a duplicate or a reordered packet no newer than the
	// highest sequence number seen. A.1 counts these as received.
	Late
	// NewSequence: counted, and the first packet of a new sequence: a source
	// that just passed probation, a confirmed large jump, or a new SSRC that
	// replaced the old one. Anything keyed on sequence numbers (a jitter
	// buffer) should start over at this packet.
	NewSequence
	// Probation: not counted; the source has not yet sent MIN_SEQUENTIAL
	// packets in sequence.
	Probation
	// Jump: not counted; the sequence number moved too far from the last one.
	// If the next packet follows this one, the sequence restarts there.
	Jump
)

// Counted reports whether the packet entered the statistics: whether A.1's
// update_seq returned 1 for it. Packets that are not counted are still
// proof that the leg is alive, but carry no usable sequence position.
func (v Verdict) Counted() bool { return v == Accepted || v == Late || v == NewSequence }

// String names the verdict for logs and test messages.
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Late:
		return "late"
	case NewSequence:
		return "new-sequence"
	case Probation:
		return "probation"
	case Jump:
		return "jump"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// source is the per-source state of RFC 3550 Appendix A.1, plus the jitter
// estimator of A.8. Field names follow the appendix.
type source struct {
	ssrc          uint32
	maxSeq        uint16 // highest seq number seen
	cycles        uint32 // shifted count of seq number cycles
	baseSeq       uint32 // base seq number
	badSeq        uint32 // last 'bad' seq number + 1
	probation     int    // sequential packets till source is valid
	received      uint32 // packets received
	expectedPrior uint32 // packet expected at last interval
	receivedPrior uint32 // packet received at last interval
	transit       uint32 // relative trans time for prev pkt
	jitter        uint32 // estimated jitter, scaled by 16 (A.8)
	hasTransit    bool   // transit holds a sample of this sequence
	valid         bool   // passed probation at least once
}

// initSeq is A.1's init_seq. Restarting the sequence also restarts the
// jitter estimate: after a jump the timestamps have no relation to the old
// ones, and the first transit sample of the new run would read as jitter.
func (s *source) initSeq(seq uint16) {
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = seqMod + 1 // so seq == badSeq is false
	s.cycles = 0
	s.received = 0
	s.receivedPrior = 0
	s.expectedPrior = 0
	s.jitter = 0
	s.hasTransit = false
}

// begin starts a newly heard source on probation, as A.1 prescribes.
func (s *source) begin(ssrc uint32, seq uint16) {
	*s = source{ssrc: ssrc}
	s.initSeq(seq)
	s.maxSeq = seq - 1
	s.probation = minSequential
}

// update is A.1's update_seq. The 16-bit arithmetic is modular throughout,
// including "seq == max_seq + 1" during probation, so probation also
// succeeds across the wrap from 65535 to 0.
func (s *source) update(seq uint16) Verdict {
	udelta := seq - s.maxSeq
	if s.probation > 0 {
		if seq == s.maxSeq+1 { // packet is in sequence
			s.probation--
			s.maxSeq = seq
			if s.probation == 0 {
				s.initSeq(seq)
				s.valid = true
				s.received++
				return NewSequence
			}
		} else {
			s.probation = minSequential - 1
			s.maxSeq = seq
		}
		return Probation
	}
	v := Accepted
	switch {
	case udelta < maxDropout: // in order, with permissible gap
		if seq < s.maxSeq {
			s.cycles += seqMod // sequence number wrapped
		}
		s.maxSeq = seq
		if udelta == 0 {
			v = Late // a duplicate of the newest packet; A.1 still counts it
		}
	case uint32(udelta) <= seqMod-maxMisorder: // the sequence number made a very large jump
		if uint32(seq) != s.badSeq {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return Jump
		}
		// Two sequential packets: assume the other side restarted without
		// telling us, so resync.
		s.initSeq(seq)
		v = NewSequence
	default: // duplicate or reordered packet
		v = Late
	}
	s.received++
	return v
}

// extendedMax is A.3's extended_max.
func (s *source) extendedMax() uint32 { return s.cycles + uint32(s.maxSeq) }

// expected is A.3's expected.
func (s *source) expected() uint32 { return s.extendedMax() - s.baseSeq + 1 }

// lost is A.3's cumulative loss, clamped to the signed 24-bit field of a
// report block. It is negative when duplicates outnumber losses.
func (s *source) lost() int32 {
	l := int64(s.expected()) - int64(s.received)
	return int32(min(max(l, -0x800000), 0x7fffff))
}

// jitterSample is A.8: arrival is the packet's arrival time in RTP
// timestamp units, on a clock of the receiver's choosing.
func (s *source) jitterSample(ts, arrival uint32) {
	transit := arrival - ts
	if !s.hasTransit {
		s.transit, s.hasTransit = transit, true
		return
	}
	d := int32(transit - s.transit)
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += uint32(d) - ((s.jitter + 8) >> 4)
}

// remoteSR is what a report block needs from the last SR of the source.
type remoteSR struct {
	ssrc uint32
	lsr  uint32    // middle 32 bits of the SR's NTP timestamp
	at   time.Time // when it arrived
	ok   bool
}

// Receiver keeps reception statistics for the one remote source of a leg.
//
// A leg has one remote source at a time. A packet with a different SSRC is
// a candidate replacement: once it passes probation (MIN_SEQUENTIAL packets
// in sequence, A.1) it becomes the source and the old statistics are
// dropped, so a leg that changes SSRC on re-INVITE or gateway failover is
// not reported as having lost packets. Stray packets of another SSRC do not
// disturb the current source.
type Receiver struct {
	clockRate uint32
	epoch     time.Time // origin of arrival times in RTP units
	cur, cand source
	started   bool // cur holds a source
	candidate bool // cand holds a source on probation
	restarts  uint32
	lastRTP   time.Time
	sr        remoteSR
}

// NewReceiver returns a Receiver for a payload whose RTP clock runs at
// clockRate Hz (8000 for PCMU, PCMA and, by RFC 3551 §4.5.2, G.722).
func NewReceiver(clockRate uint32) (*Receiver, error) {
	if clockRate == 0 {
		return nil, ErrClockRate
	}
	return &Receiver{clockRate: clockRate}, nil
}

// UpdateHeader is Update for a parsed header.
func (r *Receiver) UpdateHeader(h *rtp.Header, now time.Time) Verdict {
	return r.Update(h.SSRC, h.SequenceNumber, h.Timestamp, now)
}

// Update accounts for one RTP packet that arrived at now and says how it
// fits the sequence. Call it only for packets that passed authentication
// (SRTP): anything given here counts as proof of life for the leg.
func (r *Receiver) Update(ssrc uint32, seq uint16, ts uint32, now time.Time) Verdict {
	if !r.started {
		r.epoch = now
	}
	r.lastRTP = now
	s := &r.cur
	switch {
	case !r.started || (ssrc != r.cur.ssrc && !r.cur.valid):
		// Nothing validated yet: the newest SSRC simply takes over.
		r.cur.begin(ssrc, seq)
		r.started, r.candidate = true, false
	case ssrc != r.cur.ssrc:
		if !r.candidate || r.cand.ssrc != ssrc {
			r.cand.begin(ssrc, seq)
			r.candidate = true
		}
		s = &r.cand
	}
	wasValid := s.valid
	v := s.update(seq)
	if !v.Counted() {
		return v
	}
	if s == &r.cand {
		r.cur, r.candidate = r.cand, false
		r.restarts++
		s = &r.cur
	} else if v == NewSequence && wasValid {
		r.restarts++
	}
	s.jitterSample(ts, rtpUnits(now.Sub(r.epoch), r.clockRate))
	return v
}

// rtpUnits converts a duration to ticks of an RTP clock, modulo 2^32. It
// splits seconds from the rest so that long calls cannot overflow.
func rtpUnits(d time.Duration, rate uint32) uint32 {
	sec, rem := int64(d/time.Second), int64(d%time.Second)
	return uint32(sec*int64(rate) + rem*int64(rate)/int64(time.Second))
}

// Stats is a snapshot of reception statistics (RFC 3550 A.1, A.3, A.8).
type Stats struct {
	SSRC        uint32 // the current remote source
	Valid       bool   // it has passed probation
	Received    uint32 // packets counted since its sequence (re)started
	ExtendedMax uint32 // extended highest sequence number received
	Expected    uint32 // packets expected since the sequence (re)started
	Lost        int32  // cumulative loss, negative with duplicates, 24-bit clamped
	Jitter      uint32 // interarrival jitter in RTP timestamp units
	Restarts    uint32 // times a validated sequence was replaced
}

// Stats returns the statistics of the current source without starting a
// new reporting interval. It is zero before the first packet.
func (r *Receiver) Stats() Stats {
	if !r.started || !r.cur.valid {
		return Stats{SSRC: r.cur.ssrc, Restarts: r.restarts}
	}
	s := &r.cur
	return Stats{
		SSRC:        s.ssrc,
		Valid:       true,
		Received:    s.received,
		ExtendedMax: s.extendedMax(),
		Expected:    s.expected(),
		Lost:        s.lost(),
		Jitter:      s.jitter >> 4,
		Restarts:    r.restarts,
	}
}

// LastPacket returns when Update was last called (zero if never).
func (r *Receiver) LastPacket() time.Time { return r.lastRTP }

// ReportBlock is one reception report block (RFC 3550 §6.4.1), either one
// we send about the remote source or one the remote sent about us.
type ReportBlock struct {
	SSRC           uint32 // the source reported on
	FractionLost   uint8  // loss since the previous report, in 1/256
	CumulativeLost int32  // 24-bit signed cumulative loss
	ExtendedMax    uint32 // extended highest sequence number received
	Jitter         uint32 // interarrival jitter, RTP timestamp units
	LSR            uint32 // middle 32 bits of the last SR's NTP time, or 0
	DLSR           uint32 // delay since that SR, in 1/65536 s
}

// Fraction returns FractionLost as a ratio in [0, 1).
func (b ReportBlock) Fraction() float64 { return float64(b.FractionLost) / 256 }

// ReportBlock starts a new reporting interval and returns the block to send
// about the current source, per RFC 3550 A.3. ok is false when no packet
// was counted since the previous report: §6.4 reports only on sources heard
// since then.
func (r *Receiver) ReportBlock(now time.Time) (b ReportBlock, ok bool) {
	s := &r.cur
	if !r.started || !s.valid {
		return ReportBlock{}, false
	}
	expected := s.expected()
	expectedInterval := expected - s.expectedPrior
	receivedInterval := s.received - s.receivedPrior
	if receivedInterval == 0 {
		return ReportBlock{}, false
	}
	s.expectedPrior = expected
	s.receivedPrior = s.received
	var fraction uint8
	if lostInterval := int64(expectedInterval) - int64(receivedInterval); expectedInterval != 0 && lostInterval > 0 {
		fraction = uint8(min((lostInterval<<8)/int64(expectedInterval), 255))
	}
	b = ReportBlock{
		SSRC:           s.ssrc,
		FractionLost:   fraction,
		CumulativeLost: s.lost(),
		ExtendedMax:    s.extendedMax(),
		Jitter:         s.jitter >> 4,
	}
	if r.sr.ok && r.sr.ssrc == s.ssrc {
		b.LSR = r.sr.lsr
		b.DLSR = shortNTP(now.Sub(r.sr.at))
	}
	return b, true
}

// senderReport records an SR from the remote so that our next report block
// about it carries LSR and DLSR (RFC 3550 §6.4.1).
func (r *Receiver) senderReport(ssrc uint32, ntp uint64, now time.Time) {
	r.sr = remoteSR{ssrc: ssrc, lsr: uint32(ntp >> 16), at: now, ok: true}
}

// heardSinceReport reports whether packets were counted since the last
// report block: whether the remote is a sender in the §6.3 sense.
func (r *Receiver) heardSinceReport() bool {
	return r.started && r.cur.valid && r.cur.received != r.cur.receivedPrior
}
