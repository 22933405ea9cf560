package sdpoa

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// Offer builds an offer (RFC 3264 §5) for one audio stream with all of
// local.Codecs, in order. With SRTP required the transport is RTP/SAVP;
// with SRTP optional it is RTP/AVP carrying the a=crypto lines, which an
// SRTP-capable peer may accept (RFC 8643, and OCS/Lync behaviour).
//
// When local.Session already produced a description with other m= lines
// (the dialog began with the peer's audio+video offer), those are repeated
// with port 0 and the audio stream keeps its position (RFC 3264 §8).
func Offer(local Config) ([]byte, error) {
	if err := local.validate(); err != nil {
		return nil, err
	}
	if err := checkOfferCodecs(local.Codecs); err != nil {
		return nil, err
	}
	proto := "RTP/AVP"
	res := Result{
		Local:     netip.AddrPortFrom(local.Addrs[0], uint16(local.Port)),
		RTCPMux:   local.RTCPMux,
		Direction: local.direction(),
		Ptime:     local.ptime(),
	}
	switch {
	case local.SRTP == SRTPRequired && len(local.Crypto) == 0:
		return nil, fmt.Errorf("%w: SRTP required but no crypto values", ErrConfig)
	case local.SRTP == SRTPRequired:
		proto = "RTP/SAVP"
	}
	for _, k := range local.Codecs {
		if k.IsTelephoneEvent() {
			k.Events = ourEvents(k)
			k.Fmtp = k.Events.String()
			res.TelephoneEvent = k
			continue
		}
		res.Codecs = append(res.Codecs, k)
	}
	sd := newDescription(&local, res.Local.Addr())
	var shapes []mediaShape
	audio := 0
	if local.Session != nil {
		shapes, audio = local.Session.previous()
	}
	if audio < 0 || len(shapes) == 0 {
		shapes, audio = []mediaShape{{media: "audio"}}, 0
	}
	for i, sh := range shapes {
		if i != audio {
			sd.MediaDescriptions = append(sd.MediaDescriptions, rejectedMedia(sh.media, sh.proto, sh.formats))
			continue
		}
		md := audioMedia(&res, &local, proto)
		if local.SRTP != SRTPOff {
			for _, c := range local.Crypto {
				md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", c))
			}
		}
		sd.MediaDescriptions = append(sd.MediaDescriptions, md)
	}
	return stamp(&local, sd, audio)
}

// checkOfferCodecs verifies that payload types are usable in an offer.
func checkOfferCodecs(codecs []Codec) error {
	seen := map[uint8]bool{}
	for _, k := range codecs {
		if seen[k.PayloadType] {
			return fmt.Errorf("%w: payload type %d used twice", ErrConfig, k.PayloadType)
		}
		seen[k.PayloadType] = true
		if st, ok := StaticCodec(k.PayloadType); ok && st.Is(k) {
			continue
		}
		if k.PayloadType < 96 || k.PayloadType > 127 {
			return fmt.Errorf("%w: %s needs a dynamic payload type (96-127), has %d", ErrConfig, k.Name, k.PayloadType)
		}
	}
	return nil
}

// ParseAnswer reads the answer to the offer that Offer built with the same
// local Config, and returns what was agreed.
//
// Errors: ErrRejected when the peer refused the audio stream (port 0);
// ErrAnswerMismatch when the answer does not fit the offer;
// ErrNoCommonCodec, ErrSRTPRequired; ErrMalformed and ErrTooLarge from
// Parse. Per RFC 3264 §6.1 the payload types of the answer are the ones the
// peer receives, so Result.Codec carries the answer's payload type.
func ParseAnswer(answer []byte, local Config) (Result, error) {
	if err := local.validate(); err != nil {
		return Result{}, err
	}
	d, err := Parse(answer)
	if err != nil {
		return Result{}, err
	}
	want, audio := 1, 0
	if local.Session != nil {
		if shapes, a := local.Session.previous(); a >= 0 {
			want, audio = len(shapes), a
		}
	}
	if len(d.Streams) != want {
		return Result{}, fmt.Errorf("%w: %d m= lines, offered %d", ErrAnswerMismatch, len(d.Streams), want)
	}
	s := &d.Streams[audio]
	if s.Media != "audio" {
		return Result{}, fmt.Errorf("%w: m= line %d is %q, offered audio", ErrAnswerMismatch, audio+1, s.Media)
	}
	if s.Port == 0 {
		return Result{}, ErrRejected
	}
	offered := "RTP/AVP"
	if local.SRTP == SRTPRequired {
		offered = "RTP/SAVP"
	}
	if s.Proto != offered {
		return Result{}, fmt.Errorf("%w: transport %s, offered %s", ErrAnswerMismatch, s.Proto, offered)
	}
	if err := checkAddr(s); err != nil {
		return Result{}, err
	}
	localAddr, ok := local.addrFor(s.Addr)
	if !ok {
		localAddr = local.Addrs[0]
	}
	res := Result{
		Stream:      audio,
		RTCPMux:     s.RTCPMux && local.RTCPMux,
		Direction:   s.Effective().Reverse().Intersect(local.direction()),
		Ptime:       local.ptime(),
		RemotePtime: s.Ptime,
	}
	res.Local = netip.AddrPortFrom(localAddr, uint16(local.Port))
	local.MultipleCodecs = true // every answered codec may arrive
	if err := pickCodecs(&res, s.Codecs, &local); err != nil {
		return Result{}, err
	}
	res.Remote, res.RemoteRTCP = remote(s, res.RTCPMux)
	if err := answeredCrypto(&res, s, &local); err != nil {
		return Result{}, err
	}
	return res, nil
}

// answeredCrypto matches the answer's a=crypto line with one we offered.
func answeredCrypto(res *Result, s *Stream, cfg *Config) error {
	if len(s.Crypto) == 0 || cfg.SRTP == SRTPOff {
		if cfg.SRTP == SRTPRequired {
			return fmt.Errorf("%w: answer has no a=crypto", ErrSRTPRequired)
		}
		return nil
	}
	if len(s.Crypto) > 1 {
		return fmt.Errorf("%w: answer has %d a=crypto lines, want one", ErrAnswerMismatch, len(s.Crypto))
	}
	tag := cryptoTag(s.Crypto[0])
	i := slices.IndexFunc(cfg.Crypto, func(v string) bool { return cryptoTag(v) == tag })
	if i < 0 {
		return fmt.Errorf("%w: a=crypto tag %q was not offered", ErrAnswerMismatch, tag)
	}
	res.SRTP, res.Crypto, res.RemoteCrypto = true, strings.TrimSpace(cfg.Crypto[i]), s.Crypto[0]
	return nil
}
