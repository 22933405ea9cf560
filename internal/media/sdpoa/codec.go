package sdpoa

import (
	"strconv"
	"strings"
)

// TelephoneEvent is the encoding name of RFC 4733 named telephone events.
const TelephoneEvent = "telephone-event"

// Codec is one RTP payload format of an m= line: its payload type and what
// a=rtpmap and a=fmtp say about it.
type Codec struct {
	// PayloadType is the RTP payload type, 0-127.
	PayloadType uint8
	// Name is the encoding name ("PCMU", "telephone-event"), as written; it
	// is compared case-insensitively (RFC 4855 §3). Empty for a dynamic
	// payload type that has no rtpmap: such a format cannot be used.
	Name string
	// ClockRate is the RTP clock rate in Hz. For G722 it is 8000 although
	// the codec samples at 16 kHz (RFC 3551 §4.5.2).
	ClockRate uint32
	// Channels is the number of audio channels; 0 means the default, 1.
	Channels uint8
	// Fmtp holds the a=fmtp parameters for this payload type, unparsed.
	Fmtp string
	// Events is the set of RFC 4733 events a telephone-event format
	// carries: the fmtp list, or 0-15 when it is absent (RFC 4733 §7.1.1).
	// It is empty for other formats.
	Events EventSet
}

// Static payload types of RFC 3551 §6 (Tables 4 and 5). An offer may list
// them without a=rtpmap, and old gateways do.
var staticTypes = [35]Codec{
	0:  {PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	3:  {PayloadType: 3, Name: "GSM", ClockRate: 8000, Channels: 1},
	4:  {PayloadType: 4, Name: "G723", ClockRate: 8000, Channels: 1},
	5:  {PayloadType: 5, Name: "DVI4", ClockRate: 8000, Channels: 1},
	6:  {PayloadType: 6, Name: "DVI4", ClockRate: 16000, Channels: 1},
	7:  {PayloadType: 7, Name: "LPC", ClockRate: 8000, Channels: 1},
	8:  {PayloadType: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	9:  {PayloadType: 9, Name: "G722", ClockRate: 8000, Channels: 1},
	10: {PayloadType: 10, Name: "L16", ClockRate: 44100, Channels: 2},
	11: {PayloadType: 11, Name: "L16", ClockRate: 44100, Channels: 1},
	12: {PayloadType: 12, Name: "QCELP", ClockRate: 8000, Channels: 1},
	13: {PayloadType: 13, Name: "CN", ClockRate: 8000, Channels: 1},
	14: {PayloadType: 14, Name: "MPA", ClockRate: 90000},
	15: {PayloadType: 15, Name: "G728", ClockRate: 8000, Channels: 1},
	16: {PayloadType: 16, Name: "DVI4", ClockRate: 11025, Channels: 1},
	17: {PayloadType: 17, Name: "DVI4", ClockRate: 22050, Channels: 1},
	18: {PayloadType: 18, Name: "G729", ClockRate: 8000, Channels: 1},
	25: {PayloadType: 25, Name: "CelB", ClockRate: 90000},
	26: {PayloadType: 26, Name: "JPEG", ClockRate: 90000},
	28: {PayloadType: 28, Name: "nv", ClockRate: 90000},
	31: {PayloadType: 31, Name: "H261", ClockRate: 90000},
	32: {PayloadType: 32, Name: "MPV", ClockRate: 90000},
	33: {PayloadType: 33, Name: "MP2T", ClockRate: 90000},
	34: {PayloadType: 34, Name: "H263", ClockRate: 90000},
}

// StaticCodec returns the RFC 3551 assignment of a static payload type.
func StaticCodec(pt uint8) (Codec, bool) {
	if int(pt) >= len(staticTypes) || staticTypes[pt].Name == "" {
		return Codec{}, false
	}
	return staticTypes[pt], true
}

// Is reports whether c and o name the same format: same encoding name
// (case-insensitively), clock rate and channel count. Payload types and
// parameters are not compared.
func (c Codec) Is(o Codec) bool {
	return c.Name != "" && strings.EqualFold(c.Name, o.Name) &&
		c.ClockRate == o.ClockRate && c.channels() == o.channels()
}

// IsTelephoneEvent reports whether c is an RFC 4733 event format.
func (c Codec) IsTelephoneEvent() bool { return strings.EqualFold(c.Name, TelephoneEvent) }

func (c Codec) channels() uint8 { return max(c.Channels, 1) }

// String formats c as the value of an a=rtpmap attribute.
func (c Codec) String() string {
	s := strconv.Itoa(int(c.PayloadType)) + " " + c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
	if c.Channels > 1 {
		s += "/" + strconv.Itoa(int(c.Channels))
	}
	return s
}

// parseRtpmap parses "<pt> <name>/<clock>[/<channels>]" (RFC 4566 §6).
func parseRtpmap(v string) (Codec, bool) {
	ptText, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return Codec{}, false
	}
	pt, ok := parsePayloadType(ptText)
	if !ok {
		return Codec{}, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return Codec{}, false
	}
	clock, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || clock == 0 {
		return Codec{}, false
	}
	c := Codec{PayloadType: pt, Name: parts[0], ClockRate: uint32(clock), Channels: 1}
	if len(parts) == 3 {
		ch, err := strconv.ParseUint(parts[2], 10, 8)
		if err != nil || ch == 0 {
			return Codec{}, false
		}
		c.Channels = uint8(ch)
	}
	return c, true
}

func parsePayloadType(s string) (uint8, bool) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 127 {
		return 0, false
	}
	return uint8(n), true
}

// EventSet is a set of RFC 4733 event codes (0-255).
type EventSet [4]uint64

// DTMFEvents is the set 0-15: the DTMF digits 0-9, *, # and A-D
// (RFC 4733 §3.2), assumed when a telephone-event format has no fmtp.
var DTMFEvents = EventSet{0xffff}

// Has reports whether e is in the set.
func (s EventSet) Has(e uint8) bool { return s[e>>6]&(1<<(e&63)) != 0 }

// Add adds the events lo through hi to the set.
func (s *EventSet) Add(lo, hi uint8) {
	for e := int(lo); e <= int(hi); e++ {
		s[e>>6] |= 1 << (e & 63)
	}
}

// Intersect returns the events in both sets.
func (s EventSet) Intersect(o EventSet) EventSet {
	return EventSet{s[0] & o[0], s[1] & o[1], s[2] & o[2], s[3] & o[3]}
}

// Empty reports whether the set has no event.
func (s EventSet) Empty() bool { return s == EventSet{} }

// String formats the set as an RFC 4733 §7.1.1 fmtp list, e.g. "0-15,66".
func (s EventSet) String() string {
	var b strings.Builder
	for e := 0; e < 256; e++ {
		if !s.Has(uint8(e)) {
			continue
		}
		end := e
		for end < 255 && s.Has(uint8(end+1)) {
			end++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(e))
		if end > e {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(end))
		}
		e = end
	}
	return b.String()
}

// ParseEvents parses an RFC 4733 §7.1.1 event list such as "0-15,66,70".
// Some endpoints write "events=0-15"; the prefix is accepted.
func ParseEvents(v string) (EventSet, bool) {
	var s EventSet
	v = strings.TrimPrefix(strings.TrimSpace(v), "events=")
	if v == "" {
		return s, false
	}
	for item := range strings.SplitSeq(v, ",") {
		loText, hiText, isRange := strings.Cut(item, "-")
		lo, err := strconv.ParseUint(loText, 10, 8)
		if err != nil {
			return EventSet{}, false
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(hiText, 10, 8); err != nil || hi < lo {
				return EventSet{}, false
			}
		}
		s.Add(uint8(lo), uint8(hi))
	}
	return s, true
}

// MarshalText renders the set as String does, so that logs and JSON show
// "0-15" rather than four integers.
func (s EventSet) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
