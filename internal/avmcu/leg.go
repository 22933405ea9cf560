package avmcu

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/dtmf"
	"github.com/parleyhq/parley/internal/media/jitter"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/rtpsess"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/tone"
)

// Direction is the MCU's side of a leg's media direction, as written in
// its SDP answer (RFC 3264 §6.1): a remote that puts the call on hold with
// a=sendonly is answered a=recvonly, and the MCU stops sending.
type Direction uint8

const (
	// SendRecv means the MCU sends the mix and takes the leg's audio. The
	// zero value.
	SendRecv Direction = iota
	// SendOnly means the MCU sends but ignores the leg's audio.
	SendOnly
	// RecvOnly means the MCU takes the leg's audio but sends nothing (the
	// remote is on hold, a=sendonly on its side).
	RecvOnly
	// Inactive means the MCU neither sends nor takes audio.
	Inactive
)

func (d Direction) sends() bool    { return d == SendRecv || d == SendOnly }
func (d Direction) receives() bool { return d == SendRecv || d == RecvOnly }

// String returns the SDP attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// LegSpec describes a leg as SDP offer/answer negotiated it.
type LegSpec struct {
	// Remote is where the endpoint receives RTP, and the address its RTP
	// comes from (symmetric RTP, RFC 4961): inbound datagrams are told
	// apart by it.
	Remote netip.AddrPort
	// RemoteRTCP is the endpoint's RTCP address; zero means Remote's port
	// plus one (RFC 3550 §11). Ignored with RTCPMux.
	RemoteRTCP netip.AddrPort
	// RTCPMux sends and takes RTCP on the RTP port (RFC 5761).
	RTCPMux bool
	// Codec is the negotiated audio codec; only 20 ms packets are taken.
	Codec codec.Codec
	// PayloadType is its RTP payload type (static or dynamic).
	PayloadType uint8
	// TelephoneEvent is the RFC 4733 payload type, 96-127; 0 means none
	// (digits are then only found in-band, and SendDTMF plays tones).
	TelephoneEvent uint8
	// SRTP, if set, protects the leg's RTP and RTCP (RFC 3711) with the
	// keys SDES negotiated.
	SRTP *sdes.Negotiated
	// Direction is the MCU's direction (default SendRecv).
	Direction Direction
	// DetectInBand runs an in-band DTMF detector over the leg's decoded
	// audio: for gateways that send digits as tones. It costs about as
	// much as decoding, so it is off by default.
	DetectInBand bool
	// Muted starts the leg muted (see Leg.SetMuted).
	Muted bool
	// Events receives the leg's events.
	Events LegEvents
}

// RemoteUpdate is what a re-INVITE may change on a leg.
type RemoteUpdate struct {
	Remote, RemoteRTCP netip.AddrPort // as in LegSpec
	RTCPMux            bool
	Direction          Direction
	// SRTP, if not nil, replaces the keys (a re-keying re-INVITE). Nil
	// keeps the current ones: a protected leg cannot become plain.
	SRTP *sdes.Negotiated
}

// LegStats are a leg's counters and estimates.
type LegStats struct {
	RxPackets uint64        // authentic RTP packets received
	RxRTCP    uint64        // authentic RTCP packets received
	TxPackets uint64        // RTP packets sent
	Lost      int64         // cumulative loss, RFC 3550 A.3 (negative with duplicates)
	Late      uint64        // packets that came after their playout time
	Concealed uint64        // frames concealed (PLC) because the packet was missing
	Jitter    time.Duration // interarrival jitter, RFC 3550 A.8
	RTT       time.Duration // round-trip time from RTCP, 0 if unknown (RFC 3550 §6.4.1)
	Restarts  uint32        // SSRC or sequence restarts of the remote
	// Dropped counts datagrams discarded before the jitter buffer: not RTP,
	// failed SRTP authentication or replay, unknown payload type, or over
	// the per-leg rate cap.
	Dropped uint64
}

// Per-leg bounds of the inbound path.
const (
	// maxPerFrame caps the datagrams a leg may have processed per 20 ms
	// window (one RTP packet is normal; a burst after a network stall a
	// few more; RTCP adds one every few seconds). A flood from one address
	// costs a lock and a counter per datagram beyond it, not decryption.
	maxPerFrame = 12
	// maxFramePayload bounds payloads: one 20 ms frame of the codecs here.
	maxFramePayload = 160
)

// Codec indexes for per-conference tables.
const (
	idxPCMU = iota
	idxPCMA
	idxG722
	numCodecs
)

func codecIndex(c codec.Codec) (int, bool) {
	switch c {
	case codec.PCMU:
		return idxPCMU, true
	case codec.PCMA:
		return idxPCMA, true
	case codec.G722:
		return idxG722, true
	}
	return 0, false
}

// Leg is one participant's media: an RTP session between the MCU and an
// endpoint, a slot in its conference's mixer.
type Leg struct {
	e    *Engine
	conf *Conference
	spec LegSpec // as given; Events, Codec, PayloadType and TelephoneEvent never change
	ci   int     // codec index

	removed atomic.Bool
	ctlMu   sync.Mutex       // serializes UpdateRemote and Remove
	keyRTP  netip.AddrPort   // registered in e.rtp (under ctlMu)
	keyRTCP netip.AddrPort   // registered in e.rtcp, if valid
	rtpsess *rtpsess.Session // receive side under rxMu; Sender owned by the tick
	snd     *rtpsess.Sender  // owned by the tick
	jb      *jitter.Buffer   // Push by readers, Pop by the tick (own lock)

	// Inbound state, guarded by rxMu.
	rxMu    sync.Mutex
	rxSRTP  *sdes.Session
	dtmfRx  *dtmf.Receiver
	rxWin   int64
	rxInWin int
	rx      rxCounters

	// Tick state, owned by the conference goroutine and its workers.
	slot      int
	attached  bool
	txSRTP    *sdes.Session
	dest      netip.AddrPort
	destRTCP  netip.AddrPort
	mux       bool
	dir       Direction
	muted     bool
	dec       codec.Decoder
	enc       codec.Encoder
	plc       *jitter.PLC
	inUp      mix.Upsampler
	outDown   mix.Downsampler
	det       *dtmf.Detector
	play      tone.Source
	dtmfTx    *dtmf.Sender
	dtmfQueue []uint8
	dtmfDur   uint32
	dtmfGap   int
	nextRTCP  time.Time
	started   bool // first packet sent (marker bit)
	speaking  bool
	inactive  bool

	txPackets atomic.Uint64
	concealed atomic.Uint64
}

// rxCounters are the inbound counters, under rxMu.
type rxCounters struct {
	rtp, rtcp                       uint64
	garbage, auth, wrongPT, flooded uint64
}

// dtmfGapTicks is the pause between two RFC 4733 digits SendDTMF sends:
// 100 ms, the usual inter-digit time (ITU-T Q.24 asks for at least 40).
const dtmfGapTicks = 5

// validate checks a spec against the engine and fills its defaults.
func (e *Engine) validate(spec *LegSpec) error {
	if _, ok := codecIndex(spec.Codec); !ok {
		return fmt.Errorf("%w: codec %v", ErrLegSpec, spec.Codec)
	}
	if spec.PayloadType > 127 {
		return fmt.Errorf("%w: payload type %d", ErrLegSpec, spec.PayloadType)
	}
	if spec.TelephoneEvent != 0 && (spec.TelephoneEvent < 96 || spec.TelephoneEvent > 127 || spec.TelephoneEvent == spec.PayloadType) {
		return fmt.Errorf("%w: telephone-event payload type %d", ErrLegSpec, spec.TelephoneEvent)
	}
	if spec.Direction > Inactive {
		return fmt.Errorf("%w: direction %d", ErrLegSpec, spec.Direction)
	}
	return e.validateRemote(&spec.Remote, &spec.RemoteRTCP, spec.RTCPMux)
}

func (e *Engine) validateRemote(remote, remoteRTCP *netip.AddrPort, mux bool) error {
	*remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !remote.IsValid() || remote.Port() == 0 || remote.Addr().IsUnspecified() {
		return fmt.Errorf("%w: remote address %v", ErrLegSpec, *remote)
	}
	if remote.Addr().Is4() != e.rtpAddr.Addr().Is4() {
		return fmt.Errorf("%w: remote %v is not of the family of %v", ErrLegSpec, *remote, e.rtpAddr)
	}
	if mux {
		*remoteRTCP = netip.AddrPort{}
		return nil
	}
	if !remoteRTCP.IsValid() {
		if remote.Port() == 65535 {
			return fmt.Errorf("%w: no RTCP port after %v", ErrLegSpec, *remote)
		}
		*remoteRTCP = netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
	}
	*remoteRTCP = netip.AddrPortFrom(remoteRTCP.Addr().Unmap(), remoteRTCP.Port())
	if remoteRTCP.Port() == 0 || remoteRTCP.Addr().Is4() != remote.Addr().Is4() {
		return fmt.Errorf("%w: remote RTCP address %v", ErrLegSpec, *remoteRTCP)
	}
	return nil
}

// newLeg builds a leg's state; it registers nothing.
func newLeg(e *Engine, c *Conference, spec LegSpec, now time.Time) (*Leg, error) {
	ci, _ := codecIndex(spec.Codec)
	l := &Leg{
		e: e, conf: c, spec: spec, ci: ci,
		dest: spec.Remote, destRTCP: spec.RemoteRTCP, mux: spec.RTCPMux,
		dir: spec.Direction, muted: spec.Muted,
	}
	clock := uint32(spec.Codec.ClockRate)
	var err error
	if l.snd, err = rtpsess.NewSender(clock); err != nil {
		return nil, fmt.Errorf("avmcu: RTP sender: %w", err)
	}
	if l.rtpsess, err = rtpsess.NewSession(l.snd, rtpsess.Config{CNAME: e.cname}, now); err != nil {
		return nil, fmt.Errorf("avmcu: RTP session: %w", err)
	}
	if l.jb, err = jitter.New(jitter.Config{ClockRate: spec.Codec.ClockRate, Capacity: 16, MaxPayload: maxFramePayload}); err != nil {
		return nil, fmt.Errorf("avmcu: jitter buffer: %w", err)
	}
	if l.plc, err = jitter.NewPLC(spec.Codec.SampleRate, codecFrame); err != nil {
		return nil, fmt.Errorf("avmcu: PLC: %w", err)
	}
	if l.dec, err = codec.NewDecoder(spec.Codec); err != nil {
		return nil, fmt.Errorf("avmcu: decoder: %w", err)
	}
	if l.enc, err = codec.NewEncoder(spec.Codec); err != nil {
		return nil, fmt.Errorf("avmcu: encoder: %w", err)
	}
	if spec.TelephoneEvent != 0 {
		if l.dtmfRx, err = dtmf.NewReceiver(dtmf.ReceiverConfig{ClockRate: spec.Codec.ClockRate}); err != nil {
			return nil, fmt.Errorf("avmcu: DTMF receiver: %w", err)
		}
		if l.dtmfTx, err = dtmf.NewSender(spec.Codec.TicksPerFrame(), 10); err != nil {
			return nil, fmt.Errorf("avmcu: DTMF sender: %w", err)
		}
	}
	if spec.DetectInBand {
		if l.det, err = dtmf.NewDetector(dtmf.DetectorConfig{SampleRate: spec.Codec.SampleRate}); err != nil {
			return nil, fmt.Errorf("avmcu: DTMF detector: %w", err)
		}
	}
	if spec.SRTP != nil {
		s, err := sdes.NewSession(*spec.SRTP)
		if err != nil {
			return nil, fmt.Errorf("%w: SRTP: %w", ErrLegSpec, err)
		}
		l.rxSRTP, l.txSRTP = s, s
	}
	return l, nil
}

// Conference returns the leg's conference.
func (l *Leg) Conference() *Conference { return l.conf }

// Remote returns the remote RTP address the leg was last given.
func (l *Leg) Remote() netip.AddrPort {
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	return l.keyRTP
}

// SetMuted mutes or unmutes the leg from the next tick. Muting filters the
// leg's input out of everyone's mix at the server (mix.Mixer.SetMuted);
// the leg still hears the conference.
func (l *Leg) SetMuted(muted bool) {
	l.conf.do(func() {
		l.muted = muted
		if l.attached {
			_ = l.conf.mix.SetMuted(l.slot, muted)
		}
	})
}

// Play plays src to this leg only, mixed over what it hears of the
// conference, from the next tick until src is done or StopPlay; it
// replaces a source still playing. src must produce PCM at the leg's
// codec sample rate (Codec.SampleRate: 8000, or 16000 for G.722), and is
// read from the tick, so it must not be read elsewhere meanwhile.
func (l *Leg) Play(src tone.Source) {
	l.conf.do(func() { l.play = src })
}

// StopPlay stops what Play started.
func (l *Leg) StopPlay() {
	l.conf.do(func() { l.play = nil })
}

// SendDTMF sends digits to the leg, each lasting d (at least one frame):
// as RFC 4733 telephone-events when the leg negotiated them, 100 ms apart,
// or else as in-band tones through Play (which replaces what was playing).
// Digits queue behind ones still being sent.
func (l *Leg) SendDTMF(digits string, d time.Duration) error {
	codes := make([]uint8, 0, len(digits))
	for i := range len(digits) {
		c, ok := dtmf.Code(digits[i])
		if !ok {
			return fmt.Errorf("%w: %q", ErrDTMF, digits[i])
		}
		codes = append(codes, c)
	}
	d = max(d, codecFrame)
	if l.dtmfTx == nil {
		p, err := tone.DTMF(digits, d, dtmfGapTicks*codecFrame, -8)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDTMF, err)
		}
		g, err := tone.NewGenerator(l.spec.Codec.SampleRate, p)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDTMF, err)
		}
		l.Play(g)
		return nil
	}
	units := uint32(d / codecFrame * time.Duration(l.spec.Codec.TicksPerFrame()))
	l.conf.do(func() {
		l.dtmfDur = units
		l.dtmfQueue = append(l.dtmfQueue, codes...)
	})
	return nil
}

// Remove takes the leg out of its conference: its datagrams are dropped at
// once, its slot is freed at the next tick, after an RTCP BYE (RFC 3550
// §6.6). Removing twice does nothing.
func (l *Leg) Remove() {
	l.ctlMu.Lock()
	if l.removed.Swap(true) {
		l.ctlMu.Unlock()
		return
	}
	l.unregister()
	l.ctlMu.Unlock()
	l.e.release()
	l.conf.detachLater(l)
}

// unregister drops the leg's addresses from the demultiplexer.
func (l *Leg) unregister() {
	l.e.rtp.remove(l.keyRTP, l)
	if l.keyRTCP.IsValid() {
		l.e.rtcp.remove(l.keyRTCP, l)
	}
}

// UpdateRemote applies a re-INVITE: a new remote address, RTCP
// multiplexing, direction or keys. The outbound side changes at the next
// tick; the RTP stream the MCU sends continues (same SSRC, sequence and
// timestamps), as RFC 3264 §8 expects of a modified stream.
func (l *Leg) UpdateRemote(u RemoteUpdate) error {
	if u.Direction > Inactive {
		return fmt.Errorf("%w: direction %d", ErrLegSpec, u.Direction)
	}
	if err := l.e.validateRemote(&u.Remote, &u.RemoteRTCP, u.RTCPMux); err != nil {
		return err
	}
	var keys *sdes.Session
	if u.SRTP != nil {
		s, err := sdes.NewSession(*u.SRTP)
		if err != nil {
			return fmt.Errorf("%w: SRTP: %w", ErrLegSpec, err)
		}
		keys = s
	}
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	if l.removed.Load() {
		return ErrClosed
	}
	if err := l.e.register(l, u.Remote, u.RemoteRTCP); err != nil {
		return err
	}
	if l.keyRTP != u.Remote {
		l.e.rtp.remove(l.keyRTP, l)
	}
	if l.keyRTCP.IsValid() && l.keyRTCP != u.RemoteRTCP {
		l.e.rtcp.remove(l.keyRTCP, l)
	}
	l.keyRTP, l.keyRTCP = u.Remote, u.RemoteRTCP
	if keys != nil {
		l.rxMu.Lock()
		l.rxSRTP = keys
		l.rxMu.Unlock()
	}
	l.conf.do(func() {
		l.dest, l.destRTCP, l.mux, l.dir = u.Remote, u.RemoteRTCP, u.RTCPMux, u.Direction
		if keys != nil {
			l.txSRTP = keys
		}
	})
	return nil
}

// register claims the remote addresses of l, atomically: on a conflict
// nothing is claimed.
func (e *Engine) register(l *Leg, rtp, rtcp netip.AddrPort) error {
	if !e.rtp.add(rtp, l) {
		return fmt.Errorf("%w: %v", ErrAddressInUse, rtp)
	}
	if rtcp.IsValid() && !e.rtcp.add(rtcp, l) {
		if l.keyRTP != rtp {
			e.rtp.remove(rtp, l)
		}
		return fmt.Errorf("%w: %v", ErrAddressInUse, rtcp)
	}
	return nil
}

// Stats returns the leg's counters.
func (l *Leg) Stats() LegStats {
	js := l.jb.Stats()
	l.rxMu.Lock()
	rs := l.rtpsess.Receiver().Stats()
	rtt, _ := l.rtpsess.RTT()
	rx := l.rx
	l.rxMu.Unlock()
	return LegStats{
		RxPackets: rx.rtp,
		RxRTCP:    rx.rtcp,
		TxPackets: l.txPackets.Load(),
		Lost:      int64(rs.Lost),
		Late:      js.Late,
		Concealed: l.concealed.Load(),
		Jitter:    time.Duration(uint64(rs.Jitter) * uint64(time.Second) / uint64(l.spec.Codec.ClockRate)),
		RTT:       rtt,
		Restarts:  rs.Restarts,
		Dropped:   rx.garbage + rx.auth + rx.wrongPT + rx.flooded,
	}
}
