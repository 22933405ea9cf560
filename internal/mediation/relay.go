package mediation

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/sdes"
)

// maxPacket is the largest RTP or RTCP datagram relayed; larger ones are
// truncated by the read and then fail authentication or are dropped.
const maxPacket = 1500

// srtpSlack is room for an SRTP tag, MKI and SRTCP index on output.
const srtpSlack = 64

// Payload classes: what a payload type carries, the same on both sides.
const (
	classNone  = 0 // not negotiated: dropped
	classAudio = 1 // the one G.711 codec both sides agreed on
	classEvent = 2 // RFC 4733 telephone-event
	numClasses = 3
)

// noPT marks a class the side did not negotiate.
const noPT = 0xff

// peer is what an offer/answer exchange agreed with one side.
type peer struct {
	// Remote and RemoteRTCP are where the peer said to send RTP and RTCP;
	// the zero AddrPort sends nothing (hold by 0.0.0.0, RFC 3264 §8.4).
	Remote, RemoteRTCP netip.AddrPort
	// Mux is RFC 5761 multiplexing: RTCP goes where RTP goes.
	Mux bool
	// Send says we may send to the peer; Receive that it sends to us
	// (RFC 3264 §6.1 directions from our side).
	Send, Receive bool
	// SRTP protects the side's media; nil is plain RTP.
	SRTP *sdes.Session
	// AudioPT is the codec's payload type we send with; EventPT the
	// telephone-event one, or -1 when not negotiated. InAudioPT and
	// InEventPT are those the peer sends with: ours from our offer when we
	// offered (RFC 3264 §6.1: "the offerer's payload type numbers"), the
	// same as AudioPT and EventPT when we answered; -1 for none.
	AudioPT, EventPT     int
	InAudioPT, InEventPT int
}

// side is one half of a call's media: its socket and its peer. The socket
// is read by the side's own goroutine, which also decrypts (the SRTP
// session's inbound half); the other side's goroutine sends on it and
// encrypts (the outbound half), as sdes.Session allows.
type side struct {
	name  string
	conn  *net.UDPConn
	local netip.AddrPort

	mu         sync.Mutex
	remote     netip.AddrPort // the SDP address, then the latched source
	remoteRTCP netip.AddrPort
	mux        bool
	send       bool
	srtp       *sdes.Session
	in         [128]uint8        // payload type → class
	out        [numClasses]uint8 // class → payload type
	configured bool
	// retired and retiredRTCP are where a replaced peer sent from
	// (replace): its late packets are dropped, so that they can neither
	// be relayed nor move the latched address back to it.
	retired, retiredRTCP netip.AddrPort

	// lastRx is when the last authentic packet came (Unix nanoseconds);
	// expectRx says the peer is expected to send.
	lastRx   atomic.Int64
	expectRx atomic.Bool
	// Counters for the call's log line.
	relayed, dropped atomic.Uint64
}

// configure applies a negotiation to the side. A re-negotiation may change
// everything; the latched address is kept only when the SDP address did
// not change, since a new address in SDP is a deliberate move.
func (s *side) configure(p peer, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configureLocked(p, now)
}

// configureLocked is configure with s.mu held.
func (s *side) configureLocked(p peer, now time.Time) {
	s.remote, s.remoteRTCP, s.mux = p.Remote, p.RemoteRTCP, p.Mux
	if s.mux {
		s.remoteRTCP = p.Remote
	}
	s.send = p.Send && p.Remote.IsValid()
	s.srtp = p.SRTP
	s.in = [128]uint8{}
	for i := range s.out {
		s.out[i] = noPT
	}
	// Payload types the peer may send with: the agreed ones, and,
	// tolerantly, the answer's numbers when they differ from the offer's.
	for _, m := range [...]struct {
		pt    int
		class uint8
	}{{p.InAudioPT, classAudio}, {p.InEventPT, classEvent}, {p.AudioPT, classAudio}, {p.EventPT, classEvent}} {
		if m.pt >= 0 && m.pt < 128 && s.in[m.pt] == classNone {
			s.in[m.pt] = m.class
		}
	}
	if p.AudioPT >= 0 && p.AudioPT < 128 {
		s.out[classAudio] = uint8(p.AudioPT)
	}
	if p.EventPT >= 0 && p.EventPT < 128 {
		s.out[classEvent] = uint8(p.EventPT)
	}
	s.configured = true
	if p.Receive && !s.expectRx.Load() {
		s.lastRx.Store(now.UnixNano())
	}
	s.expectRx.Store(p.Receive)
}

// replace applies the negotiation of a new peer that takes the side over
// from the current one (an RFC 3891 hand-off), in one step under the
// side's lock: from then on no packet goes to the old peer and none is
// protected with its keys, and packets still coming from it are dropped.
// undo restores the old peer, for a hand-off that fails after all.
func (s *side) replace(p peer, now time.Time) (undo func()) {
	s.mu.Lock()
	remote, remoteRTCP, mux, send, srtp := s.remote, s.remoteRTCP, s.mux, s.send, s.srtp
	in, out, configured := s.in, s.out, s.configured
	retired, retiredRTCP := s.retired, s.retiredRTCP
	expect := s.expectRx.Load()
	s.configureLocked(p, now)
	if p.Receive {
		s.lastRx.Store(now.UnixNano()) // the new peer gets a whole MediaTimeout
	}
	// A peer that comes back on the same address (it replaced its own
	// dialog) is not a stale one.
	s.retired, s.retiredRTCP = netip.AddrPort{}, netip.AddrPort{}
	if remote != s.remote && remote != s.remoteRTCP {
		s.retired = remote
	}
	if remoteRTCP != s.remote && remoteRTCP != s.remoteRTCP {
		s.retiredRTCP = remoteRTCP
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.remote, s.remoteRTCP, s.mux, s.send, s.srtp = remote, remoteRTCP, mux, send, srtp
		s.in, s.out, s.configured = in, out, configured
		s.retired, s.retiredRTCP = retired, retiredRTCP
		s.lastRx.Store(time.Now().UnixNano())
		s.expectRx.Store(expect)
	}
}

// isRTCP tells RTCP from RTP on one port (RFC 5761 §4): RTCP packet types
// 192-223 fall where RTP would have the marker bit and payload types 64-95,
// which no dynamic assignment uses.
func isRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// forward relays one datagram that arrived on from (from the address src
// at time now) toward to: it authenticates and decrypts on from's SRTP,
// latches from's peer address (RFC 4961), maps the payload type and
// protects with to's SRTP. It returns the datagram to send and where, or
// ok false to drop. plain and out are the caller's scratch buffers of at
// least maxPacket and maxPacket+srtpSlack bytes. It allocates nothing.
func forward(from, to *side, pkt []byte, src netip.AddrPort, now int64, plain, out []byte) (send []byte, dst netip.AddrPort, ok bool) {
	// RFC 3550 §5.1 and §6.4: RTP has a 12-octet header, an RTCP packet
	// at least 8 octets; both are version 2.
	if len(pkt) < 8 || pkt[0]>>6 != 2 {
		return nil, dst, false
	}
	rtcp := isRTCP(pkt)
	if !rtcp && len(pkt) < 12 {
		return nil, dst, false
	}

	from.mu.Lock()
	if !from.configured || src == from.retired || src == from.retiredRTCP {
		from.mu.Unlock()
		return nil, dst, false
	}
	var err error
	msg := pkt
	if from.srtp != nil {
		if rtcp {
			msg, err = from.srtp.DecryptRTCP(plain[:0], pkt)
		} else {
			msg, err = from.srtp.DecryptRTP(plain[:0], pkt, nil)
		}
		if err != nil {
			from.mu.Unlock()
			return nil, dst, false
		}
	}
	class := uint8(classNone)
	if !rtcp {
		class = from.in[msg[1]&0x7f]
		if class == classNone {
			from.mu.Unlock()
			return nil, dst, false
		}
	}
	// Symmetric RTP: the authentic packet's source is where the peer
	// listens (RFC 4961 §3), whatever its SDP said (NAT, a gateway's
	// media blade that answers from another address).
	if rtcp && !from.mux {
		from.remoteRTCP = src
	} else if from.remote != src {
		from.remote = src
		if from.mux {
			from.remoteRTCP = src
		}
	}
	from.mu.Unlock()
	from.lastRx.Store(now)

	to.mu.Lock()
	defer to.mu.Unlock()
	if !to.configured || !to.send {
		return nil, dst, false
	}
	if rtcp {
		dst = to.remoteRTCP
	} else {
		pt := to.out[class]
		if pt == noPT {
			return nil, dst, false
		}
		msg[1] = msg[1]&0x80 | pt
		dst = to.remote
	}
	if !dst.IsValid() {
		return nil, dst, false
	}
	if to.srtp == nil {
		return msg, dst, true
	}
	if rtcp {
		send, err = to.srtp.EncryptRTCP(out[:0], msg)
	} else {
		send, err = to.srtp.EncryptRTP(out[:0], msg, nil)
	}
	if err != nil {
		return nil, dst, false
	}
	return send, dst, true
}

// relay is one call's media: the gateway side and the front-end side.
type relay struct {
	gw, fe *side
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// newRelay binds a UDP socket on addr for each side, on ports the kernel
// chooses.
func newRelay(addr netip.Addr) (*relay, error) {
	r := &relay{done: make(chan struct{})}
	var err error
	if r.gw, err = bindSide("gateway", addr); err != nil {
		return nil, err
	}
	if r.fe, err = bindSide("front end", addr); err != nil {
		_ = r.gw.conn.Close()
		return nil, err
	}
	return r, nil
}

func bindSide(name string, addr netip.Addr) (*side, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		return nil, fmt.Errorf("mediation: %s media socket: %w", name, err)
	}
	s := &side{name: name, conn: conn, local: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	for i := range s.out {
		s.out[i] = noPT
	}
	return s, nil
}

// start runs the two pumps and the inactivity watchdog: when a side that is
// expected to send has been silent for timeout, onIdle is called once
// with the side's name.
func (r *relay) start(timeout time.Duration, onIdle func(side string)) {
	r.wg.Add(3)
	go r.pump(r.gw, r.fe)
	go r.pump(r.fe, r.gw)
	go r.watch(timeout, onIdle)
}

// pump reads from's socket until it is closed and relays each datagram.
func (r *relay) pump(from, to *side) {
	defer r.wg.Done()
	buf := make([]byte, maxPacket)
	plain := make([]byte, maxPacket)
	out := make([]byte, maxPacket+srtpSlack)
	for {
		n, src, err := from.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface here on Linux; the socket is fine
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		pkt, dst, ok := forward(from, to, buf[:n], src, time.Now().UnixNano(), plain, out)
		if !ok {
			from.dropped.Add(1)
			continue
		}
		if _, err := to.conn.WriteToUDPAddrPort(pkt, dst); err == nil {
			from.relayed.Add(1)
		}
	}
}

// watch polls the sides' last reception until the relay closes.
func (r *relay) watch(timeout time.Duration, onIdle func(side string)) {
	defer r.wg.Done()
	t := time.NewTicker(max(timeout/8, 20*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case now := <-t.C:
			if s := r.idle(now, timeout); s != "" {
				onIdle(s)
				return
			}
		}
	}
}

// idle returns the name of a side that should be sending and has been
// silent for timeout, or "".
func (r *relay) idle(now time.Time, timeout time.Duration) string {
	for _, s := range []*side{r.gw, r.fe} {
		if s.expectRx.Load() && now.Sub(time.Unix(0, s.lastRx.Load())) > timeout {
			return s.name
		}
	}
	return ""
}

// close stops the relay and waits for its goroutines.
func (r *relay) close() {
	r.once.Do(func() {
		close(r.done)
		_ = r.gw.conn.Close()
		_ = r.fe.conn.Close()
	})
	r.wg.Wait()
}
