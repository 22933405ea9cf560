package rtpsess

import "time"

// Activity records when a leg was last heard from. The MCU ends a leg whose
// endpoint vanished without a BYE (a crashed phone, a lost gateway) after a
// media inactivity timeout; RTP and RTCP are kept apart because a leg on
// hold legitimately sends RTCP only.
type Activity struct {
	Start time.Time // when the session began; the clock for a leg never heard
	RTP   time.Time // last RTP packet; zero if none
	RTCP  time.Time // last valid RTCP packet; zero if none
}

// Last returns the latest of Start, RTP and RTCP.
func (a Activity) Last() time.Time {
	last := a.Start
	if a.RTP.After(last) {
		last = a.RTP
	}
	if a.RTCP.After(last) {
		last = a.RTCP
	}
	return last
}

// Silent reports whether, as of now, neither RTP nor RTCP has arrived for
// longer than timeout. This is the test for a dead leg.
func (a Activity) Silent(now time.Time, timeout time.Duration) bool {
	return now.Sub(a.Last()) > timeout
}

// RTPSilent reports whether, as of now, no RTP has arrived for longer than
// timeout (counted from Start if none ever did). Use it when the leg is
// expected to send media, i.e. not on hold.
func (a Activity) RTPSilent(now time.Time, timeout time.Duration) bool {
	last := a.Start
	if a.RTP.After(last) {
		last = a.RTP
	}
	return now.Sub(last) > timeout
}
