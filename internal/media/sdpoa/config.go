package sdpoa

import (
	"fmt"
	"net/netip"
	"strings"
)

// SRTPPolicy says when media must be encrypted (RFC 3711) with keys
// exchanged in a=crypto lines (RFC 4568).
type SRTPPolicy uint8

const (
	// SRTPOff uses plain RTP: RTP/SAVP offers are refused and a=crypto
	// lines on RTP/AVP offers are ignored.
	SRTPOff SRTPPolicy = iota
	// SRTPOptional encrypts when the peer offers keys, on RTP/SAVP or, as
	// OCS/Lync and RFC 8643 best-effort SRTP do, on RTP/AVP.
	SRTPOptional
	// SRTPRequired refuses offers and answers without keys.
	SRTPRequired
)

// DefaultPtime is the packetization interval the media engine runs at: one
// mixer tick.
const DefaultPtime = 20

// Config describes our side of a negotiation.
type Config struct {
	// Session holds the o= line of the dialog (RFC 3264 §8). Use one per
	// dialog; nil uses a new one for every call, which is right only for a
	// description that will never be followed by another.
	Session *Session
	// SessionName is the s= value; empty writes "-".
	SessionName string
	// Addrs are the local media addresses. An answer uses the first one of
	// the offer's family (RFC 6157 §3.1); an offer uses Addrs[0].
	Addrs []netip.Addr
	// Port is the local RTP port.
	Port int
	// RTCPPort is the local RTCP port. Zero means Port+1, the RFC 3550 §11
	// default; another value is announced with a=rtcp (RFC 3605).
	RTCPPort int
	// RTCPMux accepts (in answers) and offers RFC 5761 RTP/RTCP
	// multiplexing on Port.
	RTCPMux bool
	// Codecs are the formats we can receive and send, in our order of
	// preference, which is the order of an offer. Answers follow the
	// offerer's order instead. Include a telephone-event codec (Events
	// set, or empty for 0-15) to negotiate RFC 4733 DTMF. PayloadType
	// matters only for offers: it must be the static type of RFC 3551 or a
	// dynamic one (96-127).
	Codecs []Codec
	// MultipleCodecs answers every common codec rather than the first only;
	// the peer may then switch codecs between packets.
	MultipleCodecs bool
	// Ptime is our packetization interval in milliseconds; 0 means
	// DefaultPtime.
	Ptime int
	// Direction is what we want to do: it is intersected with the
	// direction the peer offers. 0 means SendRecv.
	Direction Direction
	// SRTP is the encryption policy.
	SRTP SRTPPolicy
	// Crypto are the a=crypto values of our offers, one per suite we
	// accept, with keys the caller generated, e.g. "1
	// AES_CM_128_HMAC_SHA1_80 inline:<key>". Offer needs them when SRTP is
	// not SRTPOff.
	Crypto []string
	// AnswerCrypto chooses one of an offer's a=crypto values and returns
	// the value of our answer's a=crypto line, with the same tag and suite
	// and our own keys. It returns an error when no suite is acceptable.
	// Nil refuses all SRTP offers.
	AnswerCrypto func(offered []string) (string, error)
}

func (c *Config) ptime() int {
	if c.Ptime == 0 {
		return DefaultPtime
	}
	return c.Ptime
}

func (c *Config) direction() Direction {
	if c.Direction == 0 {
		return SendRecv
	}
	return c.Direction
}

// validate checks the parts of c that every negotiation uses.
func (c *Config) validate() error {
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("%w: port %d", ErrConfig, c.Port)
	}
	if c.RTCPPort < 0 || c.RTCPPort > 65535 {
		return fmt.Errorf("%w: RTCP port %d", ErrConfig, c.RTCPPort)
	}
	if len(c.Addrs) == 0 {
		return fmt.Errorf("%w: no local address", ErrConfig)
	}
	for _, a := range c.Addrs {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return fmt.Errorf("%w: local address %v is not a unicast address", ErrConfig, a)
		}
	}
	audio := 0
	for _, k := range c.Codecs {
		if k.Name == "" || k.ClockRate == 0 || strings.ContainsAny(k.Name, " /\r\n") {
			return fmt.Errorf("%w: codec %q/%d", ErrConfig, k.Name, k.ClockRate)
		}
		if !k.IsTelephoneEvent() {
			audio++
		}
	}
	if audio == 0 {
		return fmt.Errorf("%w: no audio codec", ErrConfig)
	}
	if c.Ptime < 0 || c.Ptime > 1000 {
		return fmt.Errorf("%w: ptime %d", ErrConfig, c.Ptime)
	}
	if c.Direction > Inactive {
		return fmt.Errorf("%w: direction %d", ErrConfig, c.Direction)
	}
	if c.SRTP > SRTPRequired {
		return fmt.Errorf("%w: SRTP policy %d", ErrConfig, c.SRTP)
	}
	for _, v := range c.Crypto {
		if cryptoTag(v) == "" || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%w: crypto value %.40q", ErrConfig, v)
		}
	}
	return nil
}

// addrFor returns the first local address of the family of remote.
func (c *Config) addrFor(remote netip.Addr) (netip.Addr, bool) {
	for _, a := range c.Addrs {
		if a.Is4() == remote.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// match returns our codec that is the same format as k.
func (c *Config) match(k Codec) (Codec, bool) {
	for _, our := range c.Codecs {
		if our.Is(k) {
			return our, true
		}
	}
	return Codec{}, false
}

// cryptoTag returns the tag, the first field, of an a=crypto value.
func cryptoTag(v string) string {
	tag, _, _ := strings.Cut(strings.TrimSpace(v), " ")
	return tag
}
