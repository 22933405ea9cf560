package avmcu

import (
	"errors"
	"runtime"
	"time"

	"github.com/parleyhq/parley/internal/media/dtmf"
	"github.com/parleyhq/parley/internal/media/rtpsess"
)

// readBatchSize is the datagrams one recvmmsg may return (limits.md §1
// measured 64).
const readBatchSize = 64

// readerBackoff is how long a reader pauses between batches while a large
// phase runs: 64 datagrams per 200 µs per socket is still three times the
// traffic of 4,000 legs on two sockets.
const readerBackoff = 200 * time.Microsecond

// rxScratch is a reader's working memory.
type rxScratch struct {
	plain   [maxDatagram]byte // SRTP decrypts here
	presses [4]dtmf.Press
}

// readLoop reads one socket until it is closed.
func (e *Engine) readLoop(c packetConn, rtcpPort bool, idx int) {
	b := newReadBatch(readBatchSize)
	s := new(rxScratch)
	table := e.rtp
	if rtcpPort {
		table = e.rtcp
	}
	var failures int
	for {
		n, err := c.readBatch(b)
		if err != nil {
			if e.stopped() || errors.Is(err, errClosedConn) {
				return
			}
			// A transient error (ENOMEM, a pending ICMP error) must not
			// spin: log the first of a run and back off a little.
			if failures == 0 {
				e.log.Warn("avmcu: read failed", "socket", idx, "err", err)
			}
			failures++
			time.Sleep(time.Millisecond)
			continue
		}
		failures = 0
		now := time.Now()
		var unknown uint64
		for i := range n {
			m := &b.msgs[i]
			l := table.lookup(m.addr)
			if l == nil {
				unknown++
				continue
			}
			at := now
			if m.at != 0 {
				at = time.Unix(0, m.at)
			}
			l.receive(m.buf, rtcpPort, at, s)
		}
		e.rxPackets.Add(uint64(n))
		if unknown > 0 {
			e.unknown.Add(unknown)
		}
		// Under load recvmmsg always finds data, so a reader never blocks
		// and would keep its P until the runtime preempts it (10 ms): a
		// tick whose timer fired would wait that long. So a reader yields
		// after each batch and, while a large conference runs a phase,
		// steps aside for readerBackoff so that the phase's workers get
		// the Ps (Go's scheduler has no priorities). The datagrams wait in
		// the socket buffer meanwhile, with their kernel receive times.
		//
		// A small batch means the socket is drained: waiting a little
		// before the next read lets datagrams gather, so that each
		// recvmmsg and wake-up carries several (interrupt coalescing, as
		// NICs do). Their kernel timestamps keep the jitter statistics
		// exact, and 20 ms frames do not mind a fraction of a millisecond.
		switch {
		case e.phases.Load() > 0 || n < readBatchSize/8:
			time.Sleep(readerBackoff)
		default:
			runtime.Gosched()
		}
	}
}

// receive processes one datagram from the leg's remote address. Work per
// leg is bounded (maxPerFrame per 20 ms), so a flood from one endpoint
// costs the others nothing but the kernel's share.
func (l *Leg) receive(pkt []byte, rtcpPort bool, now time.Time, s *rxScratch) {
	l.rxMu.Lock()
	defer l.rxMu.Unlock()
	if l.removed.Load() {
		return
	}
	if win := now.UnixNano() / int64(codecFrame); win != l.rxWin {
		l.rxWin, l.rxInWin = win, 0
	}
	l.rxInWin++
	if l.rxInWin > maxPerFrame || len(pkt) >= maxDatagram {
		l.rx.flooded++
		return
	}
	// RTCP on the RTP port is taken whether or not rtcp-mux was agreed:
	// some endpoints multiplex regardless, and RFC 5761 §4 keeps the
	// ranges apart.
	if rtcpPort || isRTCP(pkt) {
		l.receiveRTCP(pkt, now, s)
		return
	}
	l.receiveRTP(pkt, now, s)
}

func (l *Leg) receiveRTCP(pkt []byte, now time.Time, s *rxScratch) {
	if len(pkt) > rtpsess.MaxRTCPLen+64 {
		l.rx.garbage++
		return
	}
	plain := pkt
	if l.rxSRTP != nil {
		var err error
		if plain, err = l.rxSRTP.DecryptRTCP(s.plain[:], pkt); err != nil {
			l.rx.auth++
			return
		}
	}
	fb, err := l.rtpsess.HandleRTCP(plain, now)
	if err != nil {
		l.rx.garbage++
		return
	}
	l.rx.rtcp++
	if fb.Bye {
		l.e.emit(event{leg: l, kind: evBye})
	}
}

func (l *Leg) receiveRTP(pkt []byte, now time.Time, s *rxScratch) {
	plain := pkt
	if l.rxSRTP != nil {
		// A cheap look before the costly authentication: SRTP keeps the
		// RTP header in the clear.
		if len(pkt) < 12 || pkt[0]>>6 != 2 {
			l.rx.garbage++
			return
		}
		var err error
		if plain, err = l.rxSRTP.DecryptRTP(s.plain[:], pkt, nil); err != nil {
			l.rx.auth++
			return
		}
	}
	var h rtpHeader
	payload, err := parseRTP(plain, &h)
	if err != nil {
		l.rx.garbage++
		return
	}
	audio := h.pt == l.spec.PayloadType
	if !audio && (l.dtmfRx == nil || h.pt != l.spec.TelephoneEvent) {
		l.rx.wrongPT++
		return
	}
	v := l.rtpsess.Receiver().Update(h.ssrc, h.seq, h.ts, now)
	l.rx.rtp++
	if !audio {
		if v == rtpsess.Jump {
			return
		}
		presses, _ := l.dtmfRx.Receive(s.presses[:0], dtmf.Packet{
			SSRC: h.ssrc, Sequence: h.seq, Timestamp: h.ts, Marker: h.marker, Payload: payload,
		}, now)
		for _, p := range presses {
			if d, ok := p.Digit(); ok {
				l.e.emit(event{leg: l, kind: evDTMF, digit: rune(d)})
			}
		}
		return
	}
	// Packets of a source on probation, of a stray SSRC, or after a jump
	// not yet confirmed carry no usable position: they stay out of the
	// jitter buffer, which would otherwise restart on them.
	if !v.Counted() {
		return
	}
	if v == rtpsess.NewSequence {
		l.jb.Reset()
	}
	_ = l.jb.Push(h.ssrc, h.seq, h.ts, payload, now) // refusals are counted in the buffer's Stats
}
