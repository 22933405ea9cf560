package sdpoa

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Description is what an audio MCU needs from a remote session description.
type Description struct {
	// Origin is the o= line. Comparing SessionID and Version with the
	// previous description of the dialog tells a changed offer from a
	// repeated one (RFC 3264 §8).
	Origin Origin
	// Streams lists every m= line in order, whatever its media type, so
	// that an answer can reject the ones it does not use (RFC 3264 §6).
	Streams []Stream
}

// Origin is an o= line (RFC 4566 §5.2).
type Origin struct {
	Username  string
	SessionID uint64
	Version   uint64
	// Address is the unicast address as written; it may be a host name.
	Address string
}

// Stream is one m= line and what applies to it, session-level defaults
// included.
type Stream struct {
	// Media is the media type: "audio", "video", "image" (T.38)...
	Media string
	// Port is the transport port; 0 means the stream is disabled or
	// rejected (RFC 3264 §5.1, §6).
	Port int
	// Proto is the transport protocol, e.g. "RTP/AVP" or "RTP/SAVP".
	Proto string
	// Formats are the m= line's format tokens as written.
	Formats []string
	// Host is the connection address of the media-level c= line, or of the
	// session-level one; empty when there is none.
	Host string
	// Addr is Host as a unicast IP address of the c= line's address type.
	// It is the zero Addr when Host is empty, a host name, multicast, or of
	// the wrong family, and then the stream cannot be used. 0.0.0.0 (or ::)
	// is valid: it is the legacy hold of RFC 3264 §8.4.
	Addr netip.Addr
	// Codecs lists the formats of an RTP transport in m= line order with
	// their rtpmap and fmtp; static payload types without rtpmap take their
	// RFC 3551 definition. Nil for other transports.
	Codecs []Codec
	// Direction is the media-level direction attribute, else the session
	// level one, else SendRecv (RFC 3264 §5.1).
	Direction Direction
	// Ptime and MaxPtime are the a=ptime and a=maxptime values in
	// milliseconds (RFC 4566 §6), 0 when absent.
	Ptime, MaxPtime int
	// RTCPPort and RTCPAddr come from a=rtcp (RFC 3605). RTCPPort is 0 when
	// the attribute is absent (RTCP then goes to Port+1, RFC 3550 §11);
	// RTCPAddr is the zero Addr when the attribute names no address.
	RTCPPort int
	RTCPAddr netip.Addr
	// RTCPMux reports a=rtcp-mux (RFC 5761).
	RTCPMux bool
	// Crypto holds the values of the a=crypto lines (RFC 4568 §9.1) in
	// order, e.g. "1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^31". They are
	// opaque here; the SRTP layer parses them.
	Crypto []string
	// Encryption is the value of Microsoft's a=encryption attribute
	// ("required", "optional", "rejected"), used by OCS and Lync endpoints
	// to ask for SRTP over an RTP/AVP transport. Empty when absent.
	Encryption string
}

// IsRTP reports whether the stream's transport carries RTP, so that its
// formats are payload types.
func (s *Stream) IsRTP() bool { return isRTP(s.Proto) }

// Effective returns the direction the stream really has: Direction, minus
// receiving when the connection address is 0.0.0.0 or ::, which tells the
// peer to send neither RTP nor RTCP (RFC 3264 §8.4).
func (s *Stream) Effective() Direction {
	if s.Addr.IsValid() && s.Addr.IsUnspecified() {
		return s.Direction.Intersect(SendOnly)
	}
	return s.Direction
}

// TelephoneEvent returns the stream's telephone-event format of the given
// clock rate.
func (s *Stream) TelephoneEvent(clockRate uint32) (Codec, bool) {
	for _, c := range s.Codecs {
		if c.IsTelephoneEvent() && c.ClockRate == clockRate {
			return c, true
		}
	}
	return Codec{}, false
}

// Audio returns the first audio stream with a non-zero port, or nil.
func (d *Description) Audio() *Stream {
	for i := range d.Streams {
		if s := &d.Streams[i]; s.Media == "audio" && s.Port != 0 {
			return s
		}
	}
	return nil
}

func isRTP(proto string) bool {
	return strings.HasPrefix(proto, "RTP/") || strings.Contains(proto, "/RTP/")
}

// Parse reads a remote session description.
//
// It is stricter than pion/sdp where strictness protects the MCU (size
// limits, numeric fields that must fit, unknown line types rejected as
// RFC 4566 §5 demands) and more tolerant where deployed gateways deviate
// harmlessly: LF line ends, a missing final line end, missing s= or t=,
// lines out of order, media types and transports pion does not know
// ("m=image 0 udptl t38"), and lines an audio MCU never uses (b=, i=, k=,
// u=, e=, p=, r=, z=) are dropped before pion parses the rest.
func Parse(b []byte) (*Description, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	pre, err := scan(string(b))
	if err != nil {
		return nil, err
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(pre.canonical()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(sd.MediaDescriptions) != len(pre.media) {
		return nil, fmt.Errorf("%w: found %d m= lines, pion %d", ErrMalformed, len(pre.media), len(sd.MediaDescriptions))
	}
	d := &Description{
		Origin: Origin{
			Username:  sd.Origin.Username,
			SessionID: sd.Origin.SessionID,
			Version:   sd.Origin.SessionVersion,
			Address:   sd.Origin.UnicastAddress,
		},
		Streams: make([]Stream, len(pre.media)),
	}
	sessionDir := SendRecv
	for _, a := range sd.Attributes {
		if dir, ok := parseDirection(a.Key); ok {
			sessionDir = dir
		}
	}
	for i, md := range sd.MediaDescriptions {
		s := &d.Streams[i]
		m := pre.media[i].m
		s.Media, s.Port, s.Proto, s.Formats = m.media, m.port, m.proto, m.formats
		ci := md.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		s.Host, s.Addr = connAddr(ci)
		s.Direction = sessionDir
		if err := s.fill(md.Attributes); err != nil {
			return nil, fmt.Errorf("%w: m= line %d: %w", ErrMalformed, i+1, err)
		}
	}
	return d, nil
}

// connAddr returns the address of a c= line and, when it is a unicast IP
// literal of the declared family, its parsed form.
func connAddr(ci *sdp.ConnectionInformation) (string, netip.Addr) {
	if ci == nil || ci.Address == nil {
		return "", netip.Addr{}
	}
	host := ci.Address.Address
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || a.IsMulticast() {
		return host, netip.Addr{}
	}
	if (ci.AddressType == "IP4") != a.Is4() {
		return host, netip.Addr{}
	}
	return host, a
}

// fill reads the media-level attributes of s.
func (s *Stream) fill(attrs []sdp.Attribute) error {
	var maps, fmtps []string
	for _, a := range attrs {
		switch a.Key {
		case "rtpmap":
			maps = append(maps, a.Value)
		case "fmtp":
			fmtps = append(fmtps, a.Value)
		case "ptime":
			s.Ptime = parseMillis(a.Value)
		case "maxptime":
			s.MaxPtime = parseMillis(a.Value)
		case "rtcp":
			s.RTCPPort, s.RTCPAddr = parseRTCP(a.Value)
		case "rtcp-mux":
			s.RTCPMux = true
		case "crypto":
			s.Crypto = append(s.Crypto, strings.TrimSpace(a.Value))
		case "encryption":
			s.Encryption = strings.TrimSpace(a.Value)
		default:
			if dir, ok := parseDirection(a.Key); ok {
				s.Direction = dir
			}
		}
	}
	if !s.IsRTP() {
		return nil
	}
	s.Codecs = make([]Codec, 0, len(s.Formats))
	for _, f := range s.Formats {
		pt, ok := parsePayloadType(f)
		if !ok {
			return fmt.Errorf("format %q of %s is not a payload type", f, s.Proto)
		}
		if slices.ContainsFunc(s.Codecs, func(c Codec) bool { return c.PayloadType == pt }) {
			continue // listed twice; the first mention counts
		}
		c, ok := findRtpmap(maps, pt)
		if !ok {
			c, _ = StaticCodec(pt)
			c.PayloadType = pt
		}
		c.Fmtp = findFmtp(fmtps, pt)
		if c.IsTelephoneEvent() {
			// A list we cannot read is treated as absent: DTMF is worth
			// keeping even when a gateway garbles the extras.
			if ev, ok := ParseEvents(c.Fmtp); ok {
				c.Events = ev
			} else {
				c.Events = DTMFEvents
			}
		}
		s.Codecs = append(s.Codecs, c)
	}
	return nil
}

// findRtpmap returns the first well-formed rtpmap for pt.
func findRtpmap(maps []string, pt uint8) (Codec, bool) {
	for _, v := range maps {
		if c, ok := parseRtpmap(v); ok && c.PayloadType == pt {
			return c, true
		}
	}
	return Codec{}, false
}

func findFmtp(fmtps []string, pt uint8) string {
	for _, v := range fmtps {
		ptText, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if p, ok := parsePayloadType(ptText); ok && p == pt {
			return strings.TrimSpace(params)
		}
	}
	return ""
}

// parseMillis reads a ptime value; RFC 4566 allows a decimal fraction.
func parseMillis(v string) int {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f <= 0 || f > 10000 {
		return 0
	}
	return max(int(f+0.5), 1)
}

// parseRTCP reads "a=rtcp:<port> [IN IP4|IP6 <address>]" (RFC 3605 §2.1).
func parseRTCP(v string) (int, netip.Addr) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, netip.Addr{}
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return 0, netip.Addr{}
	}
	var addr netip.Addr
	if len(f) == 4 && f[1] == "IN" {
		if a, err := netip.ParseAddr(f[3]); err == nil && a.Zone() == "" && (f[2] == "IP4") == a.Is4() {
			addr = a
		}
	}
	return int(port), addr
}
