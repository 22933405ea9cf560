package rtpsess

import (
	"math"
	"time"
)

// Constants of RFC 3550 §6.3.1 and Appendix A.7.
const (
	rtcpMinTime          = 5 * time.Second
	rtcpSenderBWFraction = 0.25
	rtcpRcvrBWFraction   = 1 - rtcpSenderBWFraction
	// compensation divides the randomized interval so that, with timer
	// reconsideration, the mean interval comes out as intended (e - 3/2).
	compensation = math.E - 1.5
)

// IntervalParams are the inputs of the RTCP transmission interval
// computation of RFC 3550 §6.3.1.
type IntervalParams struct {
	Members       int     // session members, including ourselves
	Senders       int     // members that sent RTP since our last report
	RTCPBandwidth float64 // octets per second for RTCP: 5% of the session bandwidth
	WeSent        bool    // we sent RTP since our last report
	AvgRTCPSize   float64 // average compound RTCP size in octets, with UDP and IP headers
	Initial       bool    // no RTCP packet has been sent yet
}

// ReportInterval returns the randomized interval until the next compound
// RTCP packet, per RFC 3550 §6.3.1 (the rtcp_interval of Appendix A.7).
// u must be uniformly distributed in [0, 1); it spreads the result over
// [0.5, 1.5) times the deterministic interval, so that the reports of the
// many legs of a conference do not synchronize.
func ReportInterval(p IntervalParams, u float64) time.Duration {
	minTime := rtcpMinTime.Seconds()
	if p.Initial {
		minTime /= 2 // quicker first report (§6.3.1)
	}
	n := max(p.Members, 1)
	bw := p.RTCPBandwidth
	// Senders get a quarter of the RTCP bandwidth unless they are many.
	if p.Senders > 0 && float64(p.Senders) <= float64(n)*rtcpSenderBWFraction {
		if p.WeSent {
			bw *= rtcpSenderBWFraction
			n = p.Senders
		} else {
			bw *= rtcpRcvrBWFraction
			n -= p.Senders
		}
	}
	t := minTime
	if bw > 0 {
		t = max(p.AvgRTCPSize*float64(n)/bw, minTime)
	}
	u = min(max(u, 0), 1)
	t = t * (u + 0.5) / compensation
	return time.Duration(t * float64(time.Second))
}
