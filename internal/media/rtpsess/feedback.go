package rtpsess

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/rtcp"
)

// MaxRTCPLen bounds the compound packets HandleRTCP accepts. A compound
// packet travels in one UDP datagram; 1500 octets is more than any report
// of a two-member session needs, and bounds the work garbage can cause.
const MaxRTCPLen = 1500

// ErrBadRTCP reports an RTCP packet that could not be parsed.
var ErrBadRTCP = errors.New("rtpsess: malformed RTCP packet")

// Feedback is what one compound RTCP packet from the remote told the MCU.
type Feedback struct {
	// Report is the remote's report block about our stream, if HasReport.
	Report    ReportBlock
	HasReport bool
	// RTT is the round-trip time computed from Report (RFC 3550 §6.4.1),
	// if HasRTT: the remote had received an SR from us.
	RTT    time.Duration
	HasRTT bool
	// SenderReport is set when the packet held an SR from the remote.
	SenderReport bool
	// Bye is set when the remote said BYE for its current source (RFC 3550
	// §6.6): a hint that the leg is hanging up. A BYE for an SSRC the leg
	// has already replaced (gateway failover) does not set it.
	Bye bool
}

// HandleRTCP parses a compound RTCP packet received from the leg at now
// (after SRTCP decryption) and updates the session: the LSR to echo in our
// next report, the remote's view of our stream, the round-trip time and the
// leg's activity. A packet that does not parse returns an error wrapping
// ErrBadRTCP and changes nothing.
//
// Compound rules (RFC 3550 §6.1: SR or RR first) are not enforced, because
// reduced-size RTCP (RFC 5506) is legitimate and the information used here
// is the same either way.
func (s *Session) HandleRTCP(pkt []byte, now time.Time) (Feedback, error) {
	if len(pkt) > MaxRTCPLen {
		return Feedback{}, fmt.Errorf("%w: %d octets, limit %d", ErrBadRTCP, len(pkt), MaxRTCPLen)
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		return Feedback{}, fmt.Errorf("%w: %w", ErrBadRTCP, err)
	}
	var fb Feedback
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.rcv.senderReport(p.SSRC, p.NTPTime, now)
			fb.SenderReport = true
			s.reports(p.Reports, now, &fb)
		case *rtcp.ReceiverReport:
			s.reports(p.Reports, now, &fb)
		case *rtcp.Goodbye:
			for _, ssrc := range p.Sources {
				if !s.rcv.started || ssrc == s.rcv.cur.ssrc {
					fb.Bye = true
				}
			}
		}
	}
	s.lastRTCP = now
	s.noteRTCPSize(len(pkt))
	return fb, nil
}

// reports takes the report block about our SSRC, if there is one.
func (s *Session) reports(rrs []rtcp.ReceptionReport, now time.Time, fb *Feedback) {
	for _, rr := range rrs {
		if rr.SSRC != s.snd.ssrc {
			continue
		}
		lost := int32(rr.TotalLost & 0xffffff)
		if lost&0x800000 != 0 {
			lost -= 1 << 24 // sign-extend the 24-bit field
		}
		b := ReportBlock{
			SSRC:           rr.SSRC,
			FractionLost:   rr.FractionLost,
			CumulativeLost: lost,
			ExtendedMax:    rr.LastSequenceNumber,
			Jitter:         rr.Jitter,
			LSR:            rr.LastSenderReport,
			DLSR:           rr.Delay,
		}
		fb.Report, fb.HasReport = b, true
		s.remote, s.hasRemote = b, true
		if rtt, ok := roundTrip(b, now); ok {
			fb.RTT, fb.HasRTT = rtt, true
			s.rtt, s.hasRTT = rtt, true
		}
	}
}

// roundTrip computes RFC 3550 §6.4.1's round-trip time A - LSR - DLSR, with
// A the arrival time of the report in the same middle-32-bit NTP format.
// It needs our wall clock at now to be the one that stamped our SRs. A
// report without LSR (we never sent an SR it saw), or with a delay larger
// than the time elapsed (clock trouble), gives no RTT.
func roundTrip(b ReportBlock, now time.Time) (time.Duration, bool) {
	if b.LSR == 0 {
		return 0, false
	}
	a := uint32(ntpTime(now) >> 16)
	elapsed := a - b.LSR
	if elapsed >= 1<<31 || b.DLSR > elapsed {
		return 0, false
	}
	return fromShortNTP(elapsed - b.DLSR), true
}
