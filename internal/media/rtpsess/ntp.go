package rtpsess

import "time"

// ntpEpochOffset is the number of seconds from 1900-01-01 (the NTP epoch,
// RFC 3550 §4) to 1970-01-01 (the Unix epoch).
const ntpEpochOffset = 2208988800

// ntpTime returns t as a 64-bit NTP timestamp: seconds since 1900 in the
// high word, the binary fraction of a second in the low word (RFC 3550 §4).
func ntpTime(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// shortNTP returns d in units of 1/65536 s, the "middle 32 bits" format of
// LSR, DLSR and round-trip arithmetic (RFC 3550 §6.4.1). Negative
// durations give 0.
func shortNTP(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	sec, rem := uint64(d/time.Second), uint64(d%time.Second)
	return uint32(sec<<16 + rem<<16/uint64(time.Second))
}

// fromShortNTP converts 1/65536 s units back to a duration.
func fromShortNTP(u uint32) time.Duration {
	return time.Duration(u>>16)*time.Second + time.Duration(uint64(u&0xffff)*uint64(time.Second)>>16)
}
