package attendant

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/media/tone"
	"github.com/parleyhq/parley/internal/sipx"
)

// Media is the attendant's media plane: one RTP leg per call that plays
// prompts and music and hears the caller's keys. The attendant declares
// what it needs; the server gives it a media engine of its own (the A/V
// MCU's, with one leg per conference), so that the attendant never mixes
// and never touches a socket.
type Media interface {
	// Addr is the local RTP address legs share (rtcp-mux).
	Addr() netip.AddrPort
	// Open makes a leg for a negotiated call. id names it uniquely.
	Open(id string, spec LegSpec) (Leg, error)
}

// Leg is one call's audio.
type Leg interface {
	// Play plays src to the caller from the next frame, replacing what
	// plays; src is 8 kHz PCM and is read on the media clock.
	Play(src tone.Source)
	// StopPlay silences what Play started.
	StopPlay()
	// Close releases the leg.
	Close()
}

// LegSpec is a negotiated leg.
type LegSpec struct {
	Remote, RemoteRTCP netip.AddrPort
	RTCPMux            bool
	Codec              codec.Codec
	PayloadType        uint8
	// TelephoneEvent is the RFC 4733 payload type; 0 means none, and keys
	// are then found in-band.
	TelephoneEvent uint8
	// SRTP protects the leg when set (the Mediation Server's front-end
	// side speaks SRTP, seed 001 step 6).
	SRTP *sdes.Negotiated
	// OnDTMF reports a key, on the media engine's event goroutine.
	OnDTMF func(key byte)
	// OnInactive reports that media stopped: the caller is gone.
	OnInactive func()
}

// The attendant plays 8 kHz prompts, so it answers with G.711 only: a
// wideband codec would only resample them.
var answerCodecs = []sdpoa.Codec{
	{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
	{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	{PayloadType: 101, Name: "telephone-event", ClockRate: 8000},
}

// maxSDP bounds an offer.
const maxSDP = sdpoa.MaxSize

// negotiate answers an INVITE's offer and describes the leg.
func negotiate(req *sip.Request, local netip.AddrPort, srtp sdpoa.SRTPPolicy, session *sdpoa.Session, host string) ([]byte, LegSpec, *sip.Response) {
	ct := req.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), "application/sdp") {
		res := sipx.Reject(req, 415, "Unsupported Media Type", host, "an SDP offer is required")
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		return nil, LegSpec{}, res
	}
	if len(req.Body()) > maxSDP {
		return nil, LegSpec{}, sipx.Reject(req, 413, "Request Entity Too Large", host, "SDP larger than "+strconv.Itoa(maxSDP)+" bytes")
	}
	offer, err := sdpoa.Parse(req.Body())
	if err != nil {
		return nil, LegSpec{}, sipx.Reject(req, 400, "Bad Request", host, "SDP: "+err.Error())
	}
	cfg := sdpoa.Config{
		Session: session, SessionName: "Parley Conferencing Attendant",
		Addrs: []netip.Addr{local.Addr()}, Port: int(local.Port()), RTCPMux: true,
		SRTP: srtp, Codecs: answerCodecs,
	}
	var neg *sdes.Negotiated
	cfg.AnswerCrypto = func(offered []string) (string, error) {
		n, err := sdes.Answer(offered, nil)
		if err != nil {
			return "", err
		}
		neg = &n
		return n.Local.String(), nil
	}
	answer, res, err := sdpoa.Answer(offer, cfg)
	if err != nil {
		return nil, LegSpec{}, sipx.Reject(req, 488, "Not Acceptable Here", host, err.Error())
	}
	c, ok := codec.Lookup(res.Codec.Name, int(res.Codec.ClockRate))
	if !ok || c.SampleRate != 8000 {
		return nil, LegSpec{}, sipx.Reject(req, 488, "Not Acceptable Here", host, fmt.Sprintf("codec %s/%d is not supported", res.Codec.Name, res.Codec.ClockRate))
	}
	spec := LegSpec{
		Remote: res.Remote, RemoteRTCP: res.RemoteRTCP, RTCPMux: res.RTCPMux,
		Codec: c, PayloadType: res.Codec.PayloadType,
	}
	if res.TelephoneEvent.Name != "" {
		spec.TelephoneEvent = res.TelephoneEvent.PayloadType
	}
	if res.SRTP {
		if neg == nil {
			return nil, LegSpec{}, sipx.Reject(req, 488, "Not Acceptable Here", host, "SRTP negotiated without keys")
		}
		spec.SRTP = neg
	}
	return answer, spec, nil
}

// played wraps a source to report its end once: the flow's PromptDone.
type played struct {
	src  tone.Source
	done func()
	sent bool
}

// Read implements tone.Source.
func (p *played) Read(frame []int16) (int, bool) {
	n, done := p.src.Read(frame)
	if done && !p.sent {
		p.sent = true
		p.done()
	}
	return n, done
}
