package avmcu

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/dtmf"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/tone"
)

// memNet is an in-memory datagram network. Its reads block on channels,
// which testing/synctest counts as durably blocked, so whole calls run in
// fake time: a second of conference takes milliseconds and no wall clock.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
	// drop, if set, is asked about every datagram; true loses it.
	drop func(from, to netip.AddrPort, data []byte) bool
	// delay is the one-way transit time.
	delay time.Duration
}

type memPkt struct {
	data []byte
	from netip.AddrPort
}

type memConn struct {
	n     *memNet
	local netip.AddrPort
	ch    chan memPkt
	done  chan struct{}
	once  sync.Once
}

func newMemNet() *memNet { return &memNet{conns: make(map[netip.AddrPort]*memConn)} }

func (n *memNet) listen(a netip.AddrPort) *memConn {
	c := &memConn{n: n, local: a, ch: make(chan memPkt, 8192), done: make(chan struct{})}
	n.mu.Lock()
	n.conns[a] = c
	n.mu.Unlock()
	return c
}

func (c *memConn) readBatch(b *batch) (int, error) {
	var p memPkt
	select {
	case p = <-c.ch:
	case <-c.done:
		return 0, errClosedConn
	}
	k := 0
	for {
		m := &b.msgs[k]
		m.buf = m.buf[:cap(m.buf)]
		m.buf = m.buf[:copy(m.buf, p.data)]
		m.addr = p.from
		k++
		if k == len(b.msgs) {
			break
		}
		select {
		case p = <-c.ch:
			continue
		default:
		}
		break
	}
	b.n = k
	return k, nil
}

func (c *memConn) writeBatch(b *batch) (int, error) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	for _, m := range b.msgs[:b.n] {
		if c.n.drop != nil && c.n.drop(c.local, m.addr, m.buf) {
			continue
		}
		dst := c.n.conns[m.addr]
		if dst == nil {
			continue // like UDP: nobody listens, the datagram is lost
		}
		p := memPkt{data: append([]byte(nil), m.buf...), from: c.local}
		deliver := func() {
			select {
			case dst.ch <- p:
			default:
			}
		}
		if c.n.delay > 0 {
			time.AfterFunc(c.n.delay, deliver)
		} else {
			deliver()
		}
	}
	return 0, nil
}

func (c *memConn) close() error {
	c.once.Do(func() {
		close(c.done)
		c.n.mu.Lock()
		delete(c.n.conns, c.local)
		c.n.mu.Unlock()
	})
	return nil
}

// harness runs an engine, on the in-memory network or on loopback UDP,
// with test endpoints.
type harness struct {
	t      testing.TB
	e      *Engine
	net    *memNet // nil on loopback
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	peers  []*peer
	next   uint16
}

var (
	memMCU  = netip.MustParseAddrPort("10.0.0.1:5000")
	memMCUC = netip.MustParseAddrPort("10.0.0.1:5001")
)

// newMemHarness starts an engine on a fresh in-memory network; call it
// inside a synctest bubble.
func newMemHarness(tb testing.TB, cfg Config) *harness {
	tb.Helper()
	cfg.Addr = memMCU.Addr()
	cfg, err := cfg.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	n := newMemNet()
	e := newEngine(cfg, []packetConn{n.listen(memMCU)}, n.listen(memMCUC), memMCU)
	return startHarness(tb, e, n)
}

// newUDPHarness starts an engine on 127.0.0.1 with real sockets.
func newUDPHarness(tb testing.TB, cfg Config) *harness {
	tb.Helper()
	cfg.Addr = netip.MustParseAddr("127.0.0.1")
	e, err := NewEngine(cfg)
	if err != nil {
		tb.Fatalf("NewEngine: %v", err)
	}
	return startHarness(tb, e, nil)
}

func startHarness(tb testing.TB, e *Engine, n *memNet) *harness {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: tb, e: e, net: n, ctx: ctx, cancel: cancel, done: make(chan error, 1), next: 6000}
	go func() { h.done <- e.Run(ctx) }()
	return h
}

// stop ends the peers and the engine and waits for every goroutine.
func (h *harness) stop() {
	h.cancel()
	for _, p := range h.peers {
		p.wg.Wait()
		_ = p.conn.close()
		if p.rtcpConn != nil {
			_ = p.rtcpConn.close()
		}
		p.rwg.Wait()
	}
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
}

// peerOpt tunes a test endpoint.
type peerOpt struct {
	codec  codec.Codec
	te     uint8      // telephone-event payload type, 0 for none
	suite  sdes.Suite // 0 for plain RTP
	mux    bool
	inBand bool // LegSpec.DetectInBand
}

// srSeen is the last sender report a peer received.
type srSeen struct {
	ssrc, ntpMiddle uint32
	at              time.Time
}

// queued is a packet the peer sends in place of a frame of audio; the
// zero value sends audio.
type queued struct {
	pt      uint8
	marker  bool
	ts      uint32
	payload []byte
}

// queueDigits queues the RFC 4733 packets of digits, each lasting d, with
// gap frames of audio between them.
func (p *peer) queueDigits(digits string, d time.Duration, gap int) {
	p.h.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ticks := p.opt.codec.TicksPerFrame()
	snd, err := dtmf.NewSender(ticks, 10)
	if err != nil {
		p.h.t.Fatal(err)
	}
	ts := p.ts + uint32(len(p.queue))*ticks
	for i := range len(digits) {
		code, ok := dtmf.Code(digits[i])
		if !ok {
			p.h.t.Fatalf("digit %q", digits[i])
		}
		ops, err := snd.AppendPackets(nil, code, ts, uint32(d/codecFrame)*ticks)
		if err != nil {
			p.h.t.Fatal(err)
		}
		for _, op := range ops {
			p.queue = append(p.queue, queued{pt: p.opt.te, marker: op.Marker, ts: op.Timestamp, payload: append([]byte(nil), op.Payload[:]...)})
		}
		for range gap {
			p.queue = append(p.queue, queued{})
		}
		ts += uint32(len(ops)+gap) * ticks
	}
}

// peer is a test endpoint: it sends a source's audio every 20 ms and
// decodes what it receives.
type peer struct {
	h        *harness
	name     string
	conn     packetConn
	rtcpConn packetConn
	addr     netip.AddrPort
	opt      peerOpt
	spec     LegSpec
	srtp     *sdes.Session
	enc      codec.Encoder
	dec      codec.Decoder
	leg      *Leg
	wg, rwg  sync.WaitGroup
	rxMu     sync.Mutex // serializes inbound SRTP between the two receivers

	mu        sync.Mutex
	src       tone.Source
	mute      bool     // send nothing
	queue     []queued // sent before audio, one per frame
	ssrc      uint32
	seq       uint16
	ts        uint32
	sent      int
	audio     []int16 // decoded RTP audio, in arrival order
	packets   int
	seqs      []uint16
	ssrcs     map[uint32]int
	events    []dtmf.Packet // telephone-events received
	rtcp      int
	rtcpTypes map[byte]int // RTCP packet types received, by compound part
	lastSR    srSeen
	arrival   []time.Time
}

// newPeer makes an endpoint and the LegSpec the MCU gets for it.
func (h *harness) newPeer(name string, opt peerOpt) *peer {
	h.t.Helper()
	if opt.codec.Name == "" {
		opt.codec = codec.PCMU
	}
	p := &peer{h: h, name: name, opt: opt, ssrc: 0x1000 + uint32(len(h.peers)), seq: 100, ts: 5000, ssrcs: map[uint32]int{}, rtcpTypes: map[byte]int{}}
	var err error
	if p.enc, err = codec.NewEncoder(opt.codec); err != nil {
		h.t.Fatal(err)
	}
	if p.dec, err = codec.NewDecoder(opt.codec); err != nil {
		h.t.Fatal(err)
	}
	if h.net != nil {
		p.addr = netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), h.next)
		p.conn = h.net.listen(p.addr)
		if !opt.mux {
			p.rtcpConn = h.net.listen(netip.AddrPortFrom(p.addr.Addr(), h.next+1))
		}
		h.next += 2
	} else {
		c, a := listenLoopback(h.t)
		p.conn, p.addr = c, a
		if !opt.mux {
			// The RTCP port need not be RTP+1 when SDP says so (RFC 3605).
			rc, ra := listenLoopback(h.t)
			p.rtcpConn = rc
			p.spec.RemoteRTCP = ra
		}
	}
	p.spec.Remote = p.addr
	p.spec.RTCPMux = opt.mux
	p.spec.Codec = opt.codec
	p.spec.PayloadType = opt.codec.PayloadType
	p.spec.TelephoneEvent = opt.te
	p.spec.DetectInBand = opt.inBand
	if opt.suite != 0 {
		offer, err := sdes.Offer([]sdes.Suite{opt.suite})
		if err != nil {
			h.t.Fatal(err)
		}
		lines := []string{offer[0].String()}
		mcu, err := sdes.Answer(lines, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		mine, err := sdes.AcceptAnswer(offer, mcu.Local.String())
		if err != nil {
			h.t.Fatal(err)
		}
		if p.srtp, err = sdes.NewSession(mine); err != nil {
			h.t.Fatal(err)
		}
		p.spec.SRTP = &mcu
	}
	h.peers = append(h.peers, p)
	return p
}

// listenLoopback opens a UDP socket on an ephemeral port of 127.0.0.1.
func listenLoopback(tb testing.TB) (*udpConn, netip.AddrPort) {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	u, err := newUDPConn(c, false)
	if err != nil {
		tb.Fatal(err)
	}
	return u, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// join adds the peer to conf.
func (p *peer) join(conf *Conference) *Leg {
	p.h.t.Helper()
	l, err := conf.AddLeg(p.spec)
	if err != nil {
		p.h.t.Fatalf("%s: AddLeg: %v", p.name, err)
	}
	p.leg = l
	return l
}

// start runs the peer's sender and receivers.
func (p *peer) start() {
	p.wg.Go(p.sendLoop)
	p.rwg.Go(func() { p.recvLoop(p.conn) })
	if p.rtcpConn != nil {
		p.rwg.Go(func() { p.recvLoop(p.rtcpConn) })
	}
}

func (p *peer) setSource(src tone.Source) {
	p.mu.Lock()
	p.src = src
	p.mu.Unlock()
}

func (p *peer) sendLoop() {
	frame := make([]int16, p.opt.codec.FrameSamples)
	payload := make([]byte, p.opt.codec.FrameBytes)
	b := newWriteBatch(1)
	next := time.Now()
	for {
		next = next.Add(codecFrame)
		select {
		case <-p.h.ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		p.mu.Lock()
		var pkt []byte
		var q queued
		if len(p.queue) > 0 {
			q = p.queue[0]
			p.queue = p.queue[1:]
		}
		switch {
		case q.payload != nil:
			pkt = p.packet(q.pt, q.marker, q.ts, q.payload)
			p.ts += p.opt.codec.TicksPerFrame()
		case p.mute:
			p.ts += p.opt.codec.TicksPerFrame()
		default:
			clear(frame)
			if p.src != nil {
				p.src.Read(frame)
			}
			n := p.enc.Encode(payload, frame)
			pkt = p.packet(p.opt.codec.PayloadType, false, p.ts, payload[:n])
			p.ts += p.opt.codec.TicksPerFrame()
		}
		p.sent++
		p.mu.Unlock()
		if pkt != nil {
			p.send(b, pkt, p.h.e.RTPAddr())
		}
	}
}

// packet builds an RTP packet with the next sequence number, protected if
// the peer uses SRTP; p.mu is held.
func (p *peer) packet(pt uint8, marker bool, ts uint32, payload []byte) []byte {
	pkt := make([]byte, 12, 12+len(payload)+32)
	pkt[0] = 0x80
	pkt[1] = pt
	if marker {
		pkt[1] |= 0x80
	}
	binary.BigEndian.PutUint16(pkt[2:], p.seq)
	binary.BigEndian.PutUint32(pkt[4:], ts)
	binary.BigEndian.PutUint32(pkt[8:], p.ssrc)
	p.seq++
	pkt = append(pkt, payload...)
	if p.srtp != nil {
		out, err := p.srtp.EncryptRTP(nil, pkt, nil)
		if err != nil {
			p.h.t.Errorf("%s: EncryptRTP: %v", p.name, err)
			return nil
		}
		return out
	}
	return pkt
}

// send sends one datagram from the peer's RTP address.
func (p *peer) send(b *batch, pkt []byte, to netip.AddrPort) {
	b.n = 0
	b.add(pkt, to)
	_, _ = p.conn.writeBatch(b)
	b.n = 0
}

// sendRaw sends one datagram now.
func (p *peer) sendRaw(pkt []byte) { p.send(newWriteBatch(1), pkt, p.h.e.RTPAddr()) }

// sendRTCP sends a compound RTCP packet (protected if SRTP) to the MCU's
// RTCP port, or its RTP port with rtcp-mux.
func (p *peer) sendRTCP(plain []byte) {
	pkt := plain
	if p.srtp != nil {
		var err error
		p.mu.Lock()
		pkt, err = p.srtp.EncryptRTCP(nil, plain)
		p.mu.Unlock()
		if err != nil {
			p.h.t.Fatal(err)
		}
	}
	to, conn := p.h.e.RTPAddr(), p.conn
	if !p.opt.mux {
		to = netip.AddrPortFrom(to.Addr(), to.Port()+1)
		conn = p.rtcpConn
	}
	b := newWriteBatch(1)
	b.add(pkt, to)
	_, _ = conn.writeBatch(b)
}

func (p *peer) recvLoop(c packetConn) {
	b := newReadBatch(16)
	pcm := make([]int16, p.opt.codec.FrameSamples)
	plainBuf := make([]byte, maxDatagram)
	for {
		n, err := c.readBatch(b)
		if err != nil {
			return
		}
		now := time.Now()
		for _, m := range b.msgs[:n] {
			pkt := m.buf
			p.rxMu.Lock()
			sess := p.srtp
			p.rxMu.Unlock()
			if isRTCP(pkt) {
				plain := pkt
				if sess != nil {
					var err error
					p.rxMu.Lock()
					plain, err = sess.DecryptRTCP(plainBuf, pkt)
					p.rxMu.Unlock()
					if err != nil {
						p.h.t.Errorf("%s: DecryptRTCP: %v", p.name, err)
						continue
					}
				}
				p.mu.Lock()
				p.rtcp++
				for len(plain) >= 4 {
					p.rtcpTypes[plain[1]]++
					if plain[1] == 200 && len(plain) >= 16 {
						p.lastSR = srSeen{
							ssrc:      binary.BigEndian.Uint32(plain[4:]),
							ntpMiddle: binary.BigEndian.Uint32(plain[10:]),
							at:        now,
						}
					}
					plain = plain[min(len(plain), 4+4*int(binary.BigEndian.Uint16(plain[2:]))):]
				}
				p.mu.Unlock()
				continue
			}
			if sess != nil {
				var err error
				p.rxMu.Lock()
				pkt, err = sess.DecryptRTP(plainBuf, pkt, nil)
				p.rxMu.Unlock()
				if err != nil {
					p.h.t.Errorf("%s: DecryptRTP: %v", p.name, err)
					continue
				}
			}
			var hd rtpHeader
			payload, err := parseRTP(pkt, &hd)
			if err != nil {
				p.h.t.Errorf("%s: bad RTP from the MCU: %v", p.name, err)
				continue
			}
			p.mu.Lock()
			p.packets++
			p.seqs = append(p.seqs, hd.seq)
			p.ssrcs[hd.ssrc]++
			p.arrival = append(p.arrival, now)
			switch {
			case hd.pt == p.opt.codec.PayloadType:
				k := p.dec.Decode(pcm, payload)
				p.audio = append(p.audio, pcm[:k]...)
			case p.opt.te != 0 && hd.pt == p.opt.te:
				p.events = append(p.events, dtmf.Packet{SSRC: hd.ssrc, Sequence: hd.seq, Timestamp: hd.ts, Marker: hd.marker, Payload: append([]byte(nil), payload...)})
			default:
				p.h.t.Errorf("%s: payload type %d from the MCU", p.name, hd.pt)
			}
			p.mu.Unlock()
		}
	}
}

// mark returns the length of the received audio, to analyse what comes
// after.
func (p *peer) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.audio)
}

// since returns the audio received after mark.
func (p *peer) since(mark int) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.audio[mark:]...)
}

func (p *peer) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.packets
}

// sine returns a looping tone at f Hz and amplitude amp for a codec rate.
func sine(rate int, f, amp float64) tone.Source {
	n := rate // one second: a whole number of cycles for integer f
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))))
	}
	return tone.NewClip(pcm, true)
}

// amplitude returns the amplitude of the f Hz component of x by the
// Goertzel algorithm.
func amplitude(x []int16, rate int, f float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / float64(len(x))
}

// hears checks which tones are present in the tail of a peer's audio.
func hears(tb testing.TB, p *peer, audio []int16, want map[float64]bool) {
	tb.Helper()
	rate := p.opt.codec.SampleRate
	if len(audio) < rate/4 {
		tb.Fatalf("%s: only %d samples of audio", p.name, len(audio))
	}
	for f, present := range want {
		a := amplitude(audio, rate, f)
		switch {
		case present && a < 400:
			tb.Errorf("%s: %v Hz at amplitude %.0f, want it heard (>= 400)", p.name, f, a)
		case !present && a > 80:
			tb.Errorf("%s: %v Hz at amplitude %.0f, want it absent (<= 80)", p.name, f, a)
		}
	}
}

// sumSource plays the sum of its parts.
type sumSource struct {
	parts []tone.Source
	buf   []int16
}

func mixSources(parts ...tone.Source) tone.Source { return &sumSource{parts: parts} }

func (s *sumSource) Read(frame []int16) (int, bool) {
	if len(s.buf) < len(frame) {
		s.buf = make([]int16, len(frame))
	}
	clear(frame)
	for _, p := range s.parts {
		clear(s.buf)
		n, _ := p.Read(s.buf[:len(frame)])
		for i, v := range s.buf[:n] {
			frame[i] = sat16(int32(frame[i]) + int32(v))
		}
	}
	return len(frame), false
}
