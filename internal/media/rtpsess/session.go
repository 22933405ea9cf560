package rtpsess

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// DefaultBandwidth is the session bandwidth assumed when Config gives none:
// G.711 at 50 packets per second with IPv4, UDP and RTP headers,
// (160 + 12 + 8 + 20) octets × 8 × 50 = 80 kbit/s.
const DefaultBandwidth = 80_000

// udpIPv4Overhead is what RFC 3550 §6.3.3 adds to an RTCP packet's size for
// the average: the lower-layer headers (UDP 8, IPv4 20).
const udpIPv4Overhead = 28

// ErrCNAME reports a CNAME that is empty or longer than the 255 octets an
// SDES item can carry (RFC 3550 §6.5).
var ErrCNAME = errors.New("rtpsess: CNAME must be 1 to 255 octets")

// Config configures a Session.
type Config struct {
	// CNAME is the canonical name sent in every compound RTCP packet
	// (RFC 3550 §6.5.1). Required.
	CNAME string
	// Bandwidth is the session bandwidth in bits per second, from which the
	// RTCP share (5%) is taken (RFC 3550 §6.2). Zero means DefaultBandwidth.
	Bandwidth int
}

// Session is the RTP/RTCP state of one leg: the stream we send, the stream
// we receive, and the reports exchanged about both.
//
// Each leg of the MCU is an RTP session of its own with two members, the
// MCU and the endpoint: the MCU is a mixer, which terminates sessions
// (RFC 3550 §7.3). That is what makes the report schedule simple (see
// ReportInterval).
type Session struct {
	cname     string
	bandwidth float64 // bits per second
	snd       *Sender
	rcv       *Receiver
	start     time.Time
	lastRTCP  time.Time
	avgSize   float64 // avg_rtcp_size of §6.3.3, octets
	initial   bool    // no compound packet sent yet
	remote    ReportBlock
	hasRemote bool
	rtt       time.Duration
	hasRTT    bool
}

// NewSession returns the Session of a leg that starts at now and sends the
// stream snd. The receiving side uses the same RTP clock rate.
func NewSession(snd *Sender, cfg Config, now time.Time) (*Session, error) {
	if len(cfg.CNAME) == 0 || len(cfg.CNAME) > 255 {
		return nil, fmt.Errorf("%w: %d octets", ErrCNAME, len(cfg.CNAME))
	}
	rcv, err := NewReceiver(snd.clockRate)
	if err != nil {
		return nil, err
	}
	bw := cfg.Bandwidth
	if bw <= 0 {
		bw = DefaultBandwidth
	}
	s := &Session{cname: cfg.CNAME, bandwidth: float64(bw), snd: snd, rcv: rcv, start: now, initial: true}
	// §6.3.2: start the average at the size of the first packet we will
	// build, an RR with one report block and our SDES.
	s.avgSize = float64(rrLen(1) + sdesLen(len(s.cname)) + udpIPv4Overhead)
	return s, nil
}

// Sender returns the outgoing stream.
func (s *Session) Sender() *Sender { return s.snd }

// Receiver returns the incoming stream's statistics; the MCU calls its
// Update for every authenticated RTP packet of the leg.
func (s *Session) Receiver() *Receiver { return s.rcv }

// CNAME returns the canonical name sent in SDES.
func (s *Session) CNAME() string { return s.cname }

// RemoteReport returns the latest report block the remote sent about our
// stream (fraction lost, cumulative loss, jitter), if any.
func (s *Session) RemoteReport() (ReportBlock, bool) { return s.remote, s.hasRemote }

// RTT returns the latest round-trip time computed from the remote's
// reports (RFC 3550 §6.4.1), if any.
func (s *Session) RTT() (time.Duration, bool) { return s.rtt, s.hasRTT }

// Activity returns when the leg was last heard from.
func (s *Session) Activity() Activity {
	return Activity{Start: s.start, RTP: s.rcv.LastPacket(), RTCP: s.lastRTCP}
}

// Silent reports whether the leg has sent neither RTP nor RTCP for longer
// than timeout as of now: the media inactivity test.
func (s *Session) Silent(now time.Time, timeout time.Duration) bool {
	return s.Activity().Silent(now, timeout)
}

// ReportInterval returns how long to wait before the next compound RTCP
// packet, per RFC 3550 §6.3.1 with its randomization.
//
// Simplification for a server with many legs: every leg is a two-member
// session (see Session), so the member count never changes, and timer
// reconsideration (§6.3.6), reverse reconsideration (§6.3.4) and the BYE
// back-off (§6.3.7) cannot change the result; they are left out. The MCU
// arms one timer per leg at now + ReportInterval() after each report; the
// randomization keeps thousands of legs from reporting in step.
func (s *Session) ReportInterval() time.Duration {
	return s.reportInterval(rand.Float64())
}

func (s *Session) reportInterval(u float64) time.Duration {
	senders := 0
	if s.snd.sent {
		senders++
	}
	if s.rcv.heardSinceReport() {
		senders++
	}
	return ReportInterval(IntervalParams{
		Members:       2,
		Senders:       senders,
		RTCPBandwidth: s.bandwidth * 0.05 / 8,
		WeSent:        s.snd.sent,
		AvgRTCPSize:   s.avgSize,
		Initial:       s.initial,
	}, u)
}

// noteRTCPSize folds one sent or received compound packet into
// avg_rtcp_size (RFC 3550 §6.3.3).
func (s *Session) noteRTCPSize(n int) {
	s.avgSize = float64(n+udpIPv4Overhead)/16 + s.avgSize*15/16
}
