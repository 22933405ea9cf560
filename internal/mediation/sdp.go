package mediation

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
)

// Errors of the media negotiation.
var (
	// ErrNoG711 reports a gateway offer without PCMU or PCMA: the relay
	// does not transcode, and the front end's endpoints all take G.711.
	ErrNoG711 = errors.New("mediation: the offer has no G.711 codec")
	// ErrCodecChanged reports a re-offer that drops the codec the call
	// was set up with.
	ErrCodecChanged = errors.New("mediation: the re-offer drops the call's codec")
)

// eventPT is the payload type we offer telephone-event on toward the front
// end: the usual dynamic number.
const eventPT = 101

// frontEndSuites are the SRTP suites offered to the front end, in order:
// AES_CM_128_HMAC_SHA1_80 first, the one every SDES endpoint implements
// (RFC 4568 §6.2.1), then AEAD_AES_128_GCM (RFC 7714 §12).
var frontEndSuites = []sdes.Suite{sdes.SuiteAESCM80, sdes.SuiteGCM128}

// negotiation holds one call's offer/answer state on both sides.
type negotiation struct {
	addr netip.Addr
	// gwSession and feSession keep each side's o= line (RFC 3264 §8).
	gwSession, feSession *sdpoa.Session
	// gwPort and fePort are the relay's sockets.
	gwPort, fePort int
	// codecs are the G.711 codecs the gateway offered, in its order;
	// event says it offered telephone-event.
	codecs []sdpoa.Codec
	event  bool
	// feConfig is our offer to the front end, kept to read its answer.
	feConfig sdpoa.Config
	feCrypto []sdes.Crypto
	// codec is the codec both sides agreed on, once the front end
	// answered; feEvent says the front end took telephone-event.
	codec   sdpoa.Codec
	feEvent bool
	// fePlain says the front-end dialog may carry plain RTP: an A/V MCU
	// that took the call over (handoff.go) without SRTP configured. The
	// dialog we place always requires SRTP.
	fePlain bool
}

func newNegotiation(addr netip.Addr, gwPort, fePort int) *negotiation {
	return &negotiation{
		addr: addr, gwPort: gwPort, fePort: fePort,
		gwSession: sdpoa.NewSession("parley"), feSession: sdpoa.NewSession("parley"),
	}
}

// readGatewayOffer takes the G.711 codecs and telephone-event of the
// gateway's offer. The audio stream must be plain RTP: the gateway side is
// the trusted PSTN trunk, and SRTP toward it is not configured.
func (n *negotiation) readGatewayOffer(offer *sdpoa.Description) error {
	audio := offer.Audio()
	if audio == nil {
		return sdpoa.ErrNoAudio
	}
	if audio.Proto != "RTP/AVP" {
		return fmt.Errorf("%w: %s on the gateway side, which is plain RTP/AVP", sdpoa.ErrTransport, audio.Proto)
	}
	n.codecs = n.codecs[:0]
	for _, c := range audio.Codecs {
		if (strings.EqualFold(c.Name, "PCMU") || strings.EqualFold(c.Name, "PCMA")) && c.ClockRate == 8000 {
			n.codecs = append(n.codecs, sdpoa.Codec{PayloadType: c.PayloadType, Name: strings.ToUpper(c.Name), ClockRate: 8000})
		}
	}
	if len(n.codecs) == 0 {
		return ErrNoG711
	}
	_, n.event = audio.TelephoneEvent(8000)
	return nil
}

// frontEndOffer builds our offer to the front end: the gateway's G.711
// codecs in its order, telephone-event if the gateway has it, over
// RTP/SAVP with fresh SDES keys.
func (n *negotiation) frontEndOffer() ([]byte, error) {
	crypto, err := sdes.Offer(frontEndSuites)
	if err != nil {
		return nil, fmt.Errorf("mediation: SRTP keys: %w", err)
	}
	n.feCrypto = crypto
	cfg := n.frontEndConfig()
	for i := range crypto {
		cfg.Crypto = append(cfg.Crypto, crypto[i].String())
	}
	cfg.Codecs = append(cfg.Codecs, n.codecs...)
	if n.event {
		cfg.Codecs = append(cfg.Codecs, sdpoa.Codec{PayloadType: eventPT, Name: sdpoa.TelephoneEvent, ClockRate: 8000})
	}
	n.feConfig = cfg
	return sdpoa.Offer(cfg)
}

// frontEndConfig is our front-end side without codecs or keys.
func (n *negotiation) frontEndConfig() sdpoa.Config {
	return sdpoa.Config{
		Session: n.feSession, SessionName: "Parley Mediation Server",
		Addrs: []netip.Addr{n.addr}, Port: n.fePort, RTCPPort: n.fePort, RTCPMux: true,
		SRTP: sdpoa.SRTPRequired,
	}
}

// readFrontEndAnswer reads the front end's answer to our offer and returns
// the front-end peer.
func (n *negotiation) readFrontEndAnswer(body []byte) (peer, error) {
	res, err := sdpoa.ParseAnswer(body, n.feConfig)
	if err != nil {
		return peer{}, err
	}
	neg, err := sdes.AcceptAnswer(n.feCrypto, res.RemoteCrypto)
	if err != nil {
		return peer{}, err
	}
	sess, err := sdes.NewSession(neg)
	if err != nil {
		return peer{}, err
	}
	n.codec = res.Codec
	p := peerOf(res, sess)
	// The front end sends with the payload types of our offer.
	for _, c := range n.codecs {
		if c.Is(res.Codec) {
			p.InAudioPT = int(c.PayloadType)
		}
	}
	p.InEventPT = -1
	if res.TelephoneEvent.Name != "" {
		n.feEvent = true
		p.InEventPT = eventPT
	}
	return p, nil
}

// answerFrontEnd answers an offer the front end makes in a re-INVITE, with
// the call's codec and new keys.
func (n *negotiation) answerFrontEnd(offer *sdpoa.Description) ([]byte, peer, error) {
	return n.answerFrontEndWith(offer, n.feSession, n.fePlain)
}

// answerFrontEndWith answers a front-end offer on the dialog whose o= line
// is sess: the call's codec, since the gateway side stays as it is, with
// the offerer's payload type numbers (RFC 3264 §6.1), and new SDES keys
// of ours (RFC 4568 §7.1.2) unless plainOK and the offer has none.
func (n *negotiation) answerFrontEndWith(offer *sdpoa.Description, sess *sdpoa.Session, plainOK bool) ([]byte, peer, error) {
	cfg := n.frontEndConfig()
	cfg.Session = sess
	if plainOK {
		cfg.SRTP = sdpoa.SRTPOptional
	}
	cfg.Codecs = []sdpoa.Codec{n.codec}
	if n.feEvent {
		cfg.Codecs = append(cfg.Codecs, sdpoa.Codec{PayloadType: eventPT, Name: sdpoa.TelephoneEvent, ClockRate: 8000})
	}
	var neg *sdes.Negotiated
	cfg.AnswerCrypto = func(offered []string) (string, error) {
		got, err := sdes.Answer(offered, frontEndSuites)
		if err != nil {
			return "", err
		}
		neg = &got
		return got.Local.String(), nil
	}
	answer, res, err := sdpoa.Answer(offer, cfg)
	if err != nil {
		return nil, peer{}, err
	}
	if !res.Codec.Is(n.codec) {
		return nil, peer{}, ErrCodecChanged
	}
	var srtp *sdes.Session
	switch {
	case neg != nil:
		if srtp, err = sdes.NewSession(*neg); err != nil {
			return nil, peer{}, err
		}
	case !plainOK:
		return nil, peer{}, sdpoa.ErrSRTPRequired
	}
	p := peerOf(res, srtp)
	p.InAudioPT, p.InEventPT = p.AudioPT, p.EventPT
	return answer, p, nil
}

// answerGateway answers the gateway's offer (the first or a re-offer) with
// the codec the front end chose, plain RTP, and telephone-event when both
// sides have it.
func (n *negotiation) answerGateway(offer *sdpoa.Description) ([]byte, peer, error) {
	cfg := sdpoa.Config{
		Session: n.gwSession, SessionName: "Parley Mediation Server",
		Addrs: []netip.Addr{n.addr}, Port: n.gwPort, RTCPPort: n.gwPort, RTCPMux: true,
		SRTP:   sdpoa.SRTPOff,
		Codecs: []sdpoa.Codec{n.codec},
	}
	if n.feEvent {
		cfg.Codecs = append(cfg.Codecs, sdpoa.Codec{PayloadType: eventPT, Name: sdpoa.TelephoneEvent, ClockRate: 8000})
	}
	answer, res, err := sdpoa.Answer(offer, cfg)
	if err != nil {
		return nil, peer{}, err
	}
	if !res.Codec.Is(n.codec) {
		return nil, peer{}, ErrCodecChanged
	}
	p := peerOf(res, nil)
	p.InAudioPT, p.InEventPT = p.AudioPT, p.EventPT
	return answer, p, nil
}

// peerOf turns a negotiation result into the relay's view of the peer.
func peerOf(res sdpoa.Result, sess *sdes.Session) peer {
	p := peer{
		Remote: res.Remote, RemoteRTCP: res.RemoteRTCP, Mux: res.RTCPMux,
		Send: res.Direction.Sends(), Receive: res.Direction.Receives(),
		SRTP: sess, AudioPT: int(res.Codec.PayloadType), EventPT: -1,
	}
	if res.TelephoneEvent.Name != "" {
		p.EventPT = int(res.TelephoneEvent.PayloadType)
	}
	return p
}
