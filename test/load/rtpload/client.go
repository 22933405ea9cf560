//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/g711"
	"github.com/parleyhq/parley/internal/media/sdes"
)

const (
	frame      = 20 * time.Millisecond
	frameBytes = 160
	talkFrames = 50 // a talker talks for 1 s, then is silent for 1 s
	numTones   = 8
)

// participant is one simulated endpoint.
type participant struct {
	idx    int
	addr   netip.Addr // 127.2.x.y: its own source address
	ssrc   uint32
	seq    uint16
	ts     uint32
	off    time.Duration // send time within each frame
	talker int           // tone index, or -1 for a silent participant
	offer  []sdes.Crypto
	srtp   *sdes.Session
	active bool // the MCU took its leg

	sent atomic.Uint64 // during the window

	// Receive side, touched by one reader only: SO_REUSEPORT hashes each
	// flow to one socket.
	rxStarted            bool
	rxSeq                uint16
	rxN, rxLost, rxGaps  uint64
	rxLate               uint64
	rxLast               int64 // kernel receive time, ns
	verified, verifyFail uint64
	rxMu                 sync.Mutex // guards srtp's inbound side during verification
}

// participantAddr is the source address of participant i.
func participantAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 2, byte(i / 250), byte(i%250 + 1)})
}

// participantIndex inverts participantAddr.
func participantIndex(a netip.Addr, n int) (int, bool) {
	b := a.As4()
	if b[0] != 127 || b[1] != 2 || b[3] == 0 || b[3] > 250 {
		return 0, false
	}
	i := int(b[2])*250 + int(b[3]) - 1
	return i, i < n
}

// toneFrames holds numTones one-second µ-law clips, 300 to 1000 Hz, at
// -16 dBm0-ish: what a talker sends, frame by frame.
var toneFrames = func() (t [numTones][talkFrames][frameBytes]byte) {
	for k := range numTones {
		f := 300 + 100*float64(k)
		pcm := make([]int16, talkFrames*frameBytes)
		for i := range pcm {
			pcm[i] = int16(3000 * math.Sin(2*math.Pi*f*float64(i)/8000))
		}
		for j := range talkFrames {
			g711.EncodeUlaw(t[k][j][:], pcm[j*frameBytes:(j+1)*frameBytes])
		}
	}
	return t
}()

// quietFrames are line noise around -66 dBov, below the mixer's noise
// gate: what a PSTN participant who is not talking sends. It is decoded and
// measured like speech, unlike digital silence, which a mixer could skip.
var quietFrames = func() (t [talkFrames][frameBytes]byte) {
	rnd := uint32(1)
	for j := range t {
		for i := range t[j] {
			rnd = rnd*1664525 + 1013904223
			t[j][i] = g711.LinearToUlaw(int16(rnd>>24) - 128)
		}
	}
	return t
}()

// payload returns what p sends in frame f.
func (p *participant) payload(f int) []byte {
	if p.talker < 0 || ((f+p.idx)/talkFrames)%2 == 1 {
		return quietFrames[(f+p.idx)%talkFrames][:]
	}
	return toneFrames[p.talker][f%talkFrames][:]
}

// client drives the participants.
type client struct {
	parts     []*participant
	conns     []*cliConn
	server    netip.AddrPort // the MCU's RTP address
	start     time.Time
	measuring atomic.Bool
	rtcp      atomic.Uint64
	unknown   atomic.Uint64
}

// sendLoop sends the packets of the participants assigned to socket s,
// each at its offset in every frame, until ctx is done.
func (c *client) sendLoop(ctx context.Context, s int) {
	var mine []*participant
	for i := s; i < len(c.parts); i += len(c.conns) {
		if c.parts[i].active {
			mine = append(mine, c.parts[i])
		}
	}
	if len(mine) == 0 {
		return
	}
	conn := c.conns[s]
	m := newMmsg(64, 0)
	bufs := make([][256]byte, 64)
	var plain [12 + frameBytes]byte
	f, j := 0, 0
	for ctx.Err() == nil {
		now := time.Since(c.start)
		for {
			p := mine[j]
			if time.Duration(f)*frame+p.off > now {
				break
			}
			pkt := bufs[m.n][:12+frameBytes]
			out := pkt
			if p.srtp != nil {
				out = plain[:]
			}
			out[0], out[1] = 0x80, 0
			binary.BigEndian.PutUint16(out[2:], p.seq)
			binary.BigEndian.PutUint32(out[4:], p.ts)
			binary.BigEndian.PutUint32(out[8:], p.ssrc)
			copy(out[12:], p.payload(f))
			p.seq++
			p.ts += frameBytes
			if p.srtp != nil {
				var err error
				if out, err = p.srtp.EncryptRTP(bufs[m.n][:0], plain[:], nil); err != nil {
					panic(err)
				}
			}
			if c.measuring.Load() {
				p.sent.Add(1)
			}
			if m.add(out, p.addr, c.server) {
				_ = conn.write(m)
			}
			if j++; j == len(mine) {
				j, f = 0, f+1
			}
		}
		_ = conn.write(m)
		time.Sleep(time.Millisecond)
	}
}

// recvLoop reads socket s until it is closed.
func (c *client) recvLoop(s int) {
	m := newMmsg(64, 2048)
	plain := make([]byte, 2048)
	conn := c.conns[s]
	for {
		n, err := conn.read(m)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		measuring := c.measuring.Load()
		for i := range n {
			pkt := m.bufs[i]
			dst, at, ok := m.info(i)
			if at == 0 {
				at = now
			}
			idx, known := participantIndex(dst, len(c.parts))
			if !ok || !known || len(pkt) < 12 {
				c.unknown.Add(1)
				continue
			}
			if pkt[1] >= 192 && pkt[1] <= 223 {
				c.rtcp.Add(1)
				continue
			}
			c.parts[idx].received(pkt, at, measuring, plain)
		}
		// Let small batches gather (the arrival times are the kernel's).
		if n < 8 {
			time.Sleep(200 * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	}
}

// received accounts for one RTP packet from the MCU.
func (p *participant) received(pkt []byte, now int64, measuring bool, plain []byte) {
	seq := binary.BigEndian.Uint16(pkt[2:])
	if !p.rxStarted {
		// Decrypt the first packet: the SRTP rollover counter starts
		// there, and later samples (under 2^15 packets apart) follow it.
		p.verify(pkt, plain)
		p.rxStarted, p.rxSeq, p.rxLast = true, seq, now
		return
	}
	switch d := seq - p.rxSeq; {
	case d == 0 || d >= 0x8000:
		if measuring {
			p.rxLate++
		}
		return
	case d > 1 && measuring:
		p.rxLost += uint64(d - 1)
	}
	p.rxSeq = seq
	if measuring {
		p.rxN++
		if now-p.rxLast > int64(2*frame) {
			p.rxGaps++
		}
		// Check one packet in 50 end to end: authentic SRTP, or a
		// well-formed PCMU frame.
		if p.rxN%50 == 1 {
			if p.verify(pkt, plain) {
				p.verified++
			} else {
				p.verifyFail++
			}
		}
	}
	p.rxLast = now
}

func (p *participant) verify(pkt, plain []byte) bool {
	if p.srtp != nil {
		p.rxMu.Lock()
		out, err := p.srtp.DecryptRTP(plain, pkt, nil)
		p.rxMu.Unlock()
		if err != nil {
			return false
		}
		pkt = out
	}
	return len(pkt) == 12+frameBytes && pkt[1]&0x7F == 0
}

// clientTotals sums the participants' counters.
type clientTotals struct {
	sent, rx, lost, late, gaps, verified, verifyFail uint64
}

func (c *client) totals() clientTotals {
	var t clientTotals
	for _, p := range c.parts {
		t.sent += p.sent.Load()
		t.rx += p.rxN
		t.lost += p.rxLost
		t.late += p.rxLate
		t.gaps += p.rxGaps
		t.verified += p.verified
		t.verifyFail += p.verifyFail
	}
	return t
}

// newParticipants makes n participants; every talkEvery-th talks (0: none).
func newParticipants(n, talkEvery int, suite sdes.Suite) ([]*participant, error) {
	parts := make([]*participant, n)
	for i := range parts {
		p := &participant{
			idx: i, addr: participantAddr(i), ssrc: 0x10000 + uint32(i), seq: uint16(i * 7), ts: uint32(i) * 1000,
			off: time.Duration(i) * frame / time.Duration(n), talker: -1,
		}
		if talkEvery > 0 && i%talkEvery == 0 {
			p.talker = (i / talkEvery) % numTones
		}
		if suite != 0 {
			offer, err := sdes.Offer([]sdes.Suite{suite})
			if err != nil {
				return nil, fmt.Errorf("SDES offer: %w", err)
			}
			p.offer = offer
		}
		parts[i] = p
	}
	return parts, nil
}
