package sdpoa

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Result is the outcome of a negotiation, from our point of view.
type Result struct {
	// Stream is the index of the audio m= line.
	Stream int
	// Codec is the format to send, with the payload type the peer expects.
	Codec Codec
	// Codecs are all audio formats of the answer, Codec first; the peer may
	// send any of them. Telephone-event is not included.
	Codecs []Codec
	// TelephoneEvent is the negotiated RFC 4733 format, with the events
	// both sides support. Its Name is empty when DTMF events were not
	// negotiated (in-band DTMF only).
	TelephoneEvent Codec
	// Local is our RTP address and port as written in our description.
	Local netip.AddrPort
	// Remote is where to send RTP. It is the zero AddrPort when the peer
	// wrote 0.0.0.0 (RFC 3264 §8.4): send nothing, not even RTCP.
	Remote netip.AddrPort
	// RemoteRTCP is where to send RTCP: Remote when multiplexed, the
	// a=rtcp port (RFC 3605), or Remote's port plus one.
	RemoteRTCP netip.AddrPort
	// RTCPMux reports that RTP and RTCP share the port (RFC 5761).
	RTCPMux bool
	// Direction is our direction: whether we may send and should expect to
	// receive media.
	Direction Direction
	// Ptime is our packetization in milliseconds; RemotePtime is the
	// peer's a=ptime, 0 when absent.
	Ptime, RemotePtime int
	// SRTP reports that the media is encrypted. Crypto is the a=crypto
	// value with the keys we send with, RemoteCrypto the peer's value with
	// the keys it sends with; both have the same tag and suite.
	SRTP                 bool
	Crypto, RemoteCrypto string
}

// Answer builds the answer to a parsed offer (RFC 3264 §6).
//
// It accepts the first audio stream it can serve and rejects every other
// m= line by echoing it with port 0, so the answer has as many m= lines as
// the offer. Codecs are the offered ones we support, in the offerer's
// order and with its payload type numbers (§6.1); the telephone-event
// format is kept when its clock matches. The direction is the offered one
// reversed and intersected with local.Direction; a 0.0.0.0 connection
// address counts as "does not receive" (§8.4).
//
// When no audio stream can be served, Answer returns an error wrapping
// ErrNoAudio, ErrNoCommonCodec, ErrTransport, ErrAddressFamily,
// ErrSRTPRequired, ErrSRTPUnsupported or ErrMalformed, for a 488 response;
// ErrConfig means local misconfiguration.
func Answer(offer *Description, local Config) ([]byte, Result, error) {
	if err := local.validate(); err != nil {
		return nil, Result{}, err
	}
	if offer == nil {
		return nil, Result{}, fmt.Errorf("%w: no offer", ErrNoAudio)
	}
	res, firstErr := Result{Stream: -1}, error(nil)
	for i := range offer.Streams {
		s := &offer.Streams[i]
		if s.Media != "audio" || s.Port == 0 {
			continue
		}
		r, err := negotiate(s, &local)
		if err == nil {
			res, res.Stream = r, i
			break
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("audio m= line %d: %w", i+1, err)
		}
	}
	if res.Stream < 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("%w: %d m= lines, none is audio with a port", ErrNoAudio, len(offer.Streams))
		}
		return nil, Result{}, firstErr
	}
	sd := newDescription(&local, res.Local.Addr())
	for i := range offer.Streams {
		s := &offer.Streams[i]
		if i == res.Stream {
			sd.MediaDescriptions = append(sd.MediaDescriptions, audioMedia(&res, &local, s.Proto))
		} else {
			sd.MediaDescriptions = append(sd.MediaDescriptions, rejectedMedia(s.Media, s.Proto, s.Formats))
		}
	}
	body, err := stamp(&local, sd, res.Stream)
	return body, res, err
}

// negotiate decides how to serve one offered audio stream.
func negotiate(s *Stream, cfg *Config) (Result, error) {
	switch s.Proto {
	case "RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF":
		// AVPF is answered as offered; we just never send feedback.
	default:
		return Result{}, fmt.Errorf("%w: %s", ErrTransport, s.Proto)
	}
	if err := checkAddr(s); err != nil {
		return Result{}, err
	}
	localAddr, ok := cfg.addrFor(s.Addr)
	if !ok {
		return Result{}, fmt.Errorf("%w: offer is %s", ErrAddressFamily, family(s.Addr))
	}
	res := Result{
		Local:       netip.AddrPortFrom(localAddr, uint16(cfg.Port)),
		RTCPMux:     s.RTCPMux && cfg.RTCPMux,
		Direction:   s.Effective().Reverse().Intersect(cfg.direction()),
		Ptime:       cfg.ptime(),
		RemotePtime: s.Ptime,
	}
	if err := pickCodecs(&res, s.Codecs, cfg); err != nil {
		return Result{}, err
	}
	res.Remote, res.RemoteRTCP = remote(s, res.RTCPMux)
	// Keys last: the callback may generate them, and no other check may
	// fail after it.
	if err := answerCrypto(&res, s, cfg); err != nil {
		return Result{}, err
	}
	return res, nil
}

// pickCodecs intersects the offered formats with ours, in offered order.
func pickCodecs(res *Result, offered []Codec, cfg *Config) error {
	for _, k := range offered {
		if k.IsTelephoneEvent() || k.Name == "" {
			continue
		}
		if our, ok := cfg.match(k); ok {
			k.Fmtp = our.Fmtp // we state our own parameters
			res.Codecs = append(res.Codecs, k)
			if !cfg.MultipleCodecs {
				break
			}
		}
	}
	if len(res.Codecs) == 0 {
		names := make([]string, 0, len(offered))
		for _, k := range offered {
			names = append(names, codecName(k))
		}
		return fmt.Errorf("%w: offered %s", ErrNoCommonCodec, strings.Join(names, " "))
	}
	res.Codec = res.Codecs[0]
	res.TelephoneEvent = pickEvents(offered, res.Codec.ClockRate, cfg)
	return nil
}

func codecName(k Codec) string {
	if k.Name == "" {
		return strconv.Itoa(int(k.PayloadType)) + "/?"
	}
	return k.Name + "/" + strconv.FormatUint(uint64(k.ClockRate), 10)
}

// pickEvents returns the telephone-event format of the given clock rate
// that both sides support, with the events common to both (RFC 4733
// §7.1.1), or the zero Codec.
func pickEvents(offered []Codec, clock uint32, cfg *Config) Codec {
	for _, k := range offered {
		if !k.IsTelephoneEvent() || k.ClockRate != clock {
			continue
		}
		our, ok := cfg.match(k)
		if !ok {
			return Codec{}
		}
		k.Events = k.Events.Intersect(ourEvents(our))
		if k.Events.Empty() {
			return Codec{}
		}
		k.Fmtp = k.Events.String()
		return k
	}
	return Codec{}
}

func ourEvents(k Codec) EventSet {
	if k.Events.Empty() {
		return DTMFEvents
	}
	return k.Events
}

// remote returns where to send RTP and RTCP for a stream.
func remote(s *Stream, mux bool) (rtp, rtcp netip.AddrPort) {
	if s.Addr.IsUnspecified() {
		return netip.AddrPort{}, netip.AddrPort{}
	}
	rtp = netip.AddrPortFrom(s.Addr, uint16(s.Port))
	switch {
	case mux:
		rtcp = rtp
	case s.RTCPPort != 0 && s.RTCPAddr.IsValid() && !s.RTCPAddr.IsUnspecified():
		rtcp = netip.AddrPortFrom(s.RTCPAddr, uint16(s.RTCPPort))
	case s.RTCPPort != 0:
		rtcp = netip.AddrPortFrom(s.Addr, uint16(s.RTCPPort))
	case s.Port < 65535:
		rtcp = netip.AddrPortFrom(s.Addr, uint16(s.Port+1))
	}
	return rtp, rtcp
}

// answerCrypto applies the SRTP policy to an offered stream.
func answerCrypto(res *Result, s *Stream, cfg *Config) error {
	secure := strings.Contains(s.Proto, "SAVP")
	mustEncrypt := secure || strings.EqualFold(s.Encryption, "required")
	canEncrypt := cfg.SRTP != SRTPOff && cfg.AnswerCrypto != nil
	switch {
	case mustEncrypt && !canEncrypt:
		return fmt.Errorf("%w: SRTP is off", ErrSRTPUnsupported)
	case mustEncrypt && len(s.Crypto) == 0:
		// Typically DTLS-SRTP (a=fingerprint) without SDES keys.
		return fmt.Errorf("%w: %s offer without a=crypto", ErrSRTPUnsupported, s.Proto)
	case len(s.Crypto) == 0 || !canEncrypt:
		if cfg.SRTP == SRTPRequired {
			return fmt.Errorf("%w: offer has no a=crypto", ErrSRTPRequired)
		}
		return nil
	}
	line, err := cfg.AnswerCrypto(s.Crypto)
	if err != nil {
		if mustEncrypt || cfg.SRTP == SRTPRequired {
			return fmt.Errorf("%w: %w", ErrSRTPUnsupported, err)
		}
		return nil // best-effort SRTP declined: plain RTP
	}
	line = strings.TrimSpace(line)
	tag := cryptoTag(line)
	for _, v := range s.Crypto {
		if tag != "" && cryptoTag(v) == tag && !strings.ContainsAny(line, "\r\n") {
			res.SRTP, res.Crypto, res.RemoteCrypto = true, line, v
			return nil
		}
	}
	return fmt.Errorf("%w: AnswerCrypto returned %.40q, whose tag was not offered", ErrConfig, line)
}

// checkAddr reports why a stream's connection address cannot be used.
func checkAddr(s *Stream) error {
	switch {
	case s.Addr.IsValid():
		return nil
	case s.Host == "":
		return fmt.Errorf("%w: no c= line for the stream", ErrMalformed)
	}
	return fmt.Errorf("%w: connection address %q is not a unicast IP address", ErrMalformed, s.Host)
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IP4"
	}
	return "IP6"
}

// newDescription returns the session-level part of our descriptions.
func newDescription(cfg *Config, addr netip.Addr) *sdp.SessionDescription {
	name := cfg.SessionName
	if name == "" {
		name = "-"
	}
	return &sdp.SessionDescription{
		Origin: sdp.Origin{
			NetworkType:    "IN",
			AddressType:    family(addr),
			UnicastAddress: addr.String(),
		},
		SessionName: sdp.SessionName(name),
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: family(addr),
			Address:     &sdp.Address{Address: addr.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
}

// audioMedia renders our accepted or offered audio m= section.
func audioMedia(res *Result, cfg *Config, proto string) *sdp.MediaDescription {
	md := &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media:  "audio",
		Port:   sdp.RangedPort{Value: cfg.Port},
		Protos: strings.Split(proto, "/"),
	}}
	codecs := res.Codecs
	if res.TelephoneEvent.Name != "" {
		codecs = append(codecs[:len(codecs):len(codecs)], res.TelephoneEvent)
	}
	for _, k := range codecs {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(k.PayloadType)))
	}
	for _, k := range codecs {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", k.String()))
		if k.Fmtp != "" {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("fmtp", strconv.Itoa(int(k.PayloadType))+" "+k.Fmtp))
		}
	}
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("ptime", strconv.Itoa(res.Ptime)),
		sdp.NewPropertyAttribute(res.Direction.String()))
	if res.RTCPMux {
		md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute("rtcp-mux"))
	} else if cfg.RTCPPort != 0 && cfg.RTCPPort != cfg.Port+1 {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtcp", strconv.Itoa(cfg.RTCPPort)))
	}
	if res.SRTP {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", res.Crypto))
	}
	return md
}

// rejectedMedia echoes an m= line with port 0 (RFC 3264 §6). RFC 4566
// needs at least one format, so an empty list gets a placeholder.
func rejectedMedia(media, proto string, formats []string) *sdp.MediaDescription {
	if len(formats) == 0 {
		formats = []string{"0"}
	}
	return &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media:   media,
		Port:    sdp.RangedPort{Value: 0},
		Protos:  strings.Split(proto, "/"),
		Formats: formats,
	}}
}

// stamp adds the o= line from the configured Session, or a throwaway one.
func stamp(cfg *Config, sd *sdp.SessionDescription, audio int) ([]byte, error) {
	s := cfg.Session
	if s == nil {
		s = NewSession("")
	}
	body, err := s.stamp(sd, audio)
	if err != nil {
		return nil, fmt.Errorf("sdpoa: marshal: %w", err)
	}
	return body, nil
}
