package avmcu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// maxDatagram bounds what a reader accepts. RTP audio packets are under 400
// octets and compound RTCP under rtpsess.MaxRTCPLen; anything longer is
// garbage and is dropped after the read, so a 1500-octet buffer per slot
// is enough and a jumbo datagram is truncated rather than read in full.
const maxDatagram = 1500

// socketBuffer is the kernel buffer asked for on every socket. Linux
// charges a queued datagram its whole buffer (about 1 KiB for a 200-octet
// RTP packet on loopback) and doubles the figure asked for, so 16 MiB holds
// about 32,000 datagrams: with 4,000 legs on two sockets, 300 ms of input.
// That is the longest the process can be kept off the CPU without losing
// a packet, and virtual machines do that: the 1 kHz probe of rtpload saw
// 30-60 ms stalls on an idle 2-core VM. Memory is taken only while
// datagrams wait.
const socketBuffer = 16 << 20

// datagram is one packet of a batch: its bytes and its remote address.
type datagram struct {
	buf  []byte
	addr netip.AddrPort
	at   int64 // kernel receive time, Unix ns; 0 if unknown
}

// batch is a set of datagrams for one readBatch or writeBatch call, with
// the system's scratch to hand them to the kernel without allocating.
// A batch belongs to one goroutine at a time.
type batch struct {
	msgs []datagram
	n    int // datagrams in use (writes) or returned (reads)
	sys  sysBatch
}

// newReadBatch returns a batch of n full-size receive buffers.
func newReadBatch(n int) *batch {
	b := &batch{msgs: make([]datagram, n)}
	mem := make([]byte, n*maxDatagram)
	for i := range b.msgs {
		b.msgs[i].buf = mem[i*maxDatagram : (i+1)*maxDatagram : (i+1)*maxDatagram]
	}
	b.sys.init(n)
	return b
}

// newWriteBatch returns a batch for up to n datagrams whose bytes the
// caller supplies.
func newWriteBatch(n int) *batch {
	b := &batch{msgs: make([]datagram, n)}
	b.sys.init(n)
	return b
}

// add appends a datagram and reports whether the batch is now full.
func (b *batch) add(pkt []byte, to netip.AddrPort) bool {
	b.msgs[b.n] = datagram{buf: pkt, addr: to}
	b.n++
	return b.n == len(b.msgs)
}

// packetConn is the engine's view of a UDP socket: batches in and out.
// The production implementation is udpConn (recvmmsg/sendmmsg on Linux);
// tests substitute an in-memory network so that testing/synctest can
// control time.
type packetConn interface {
	// readBatch blocks until at least one datagram is available, then
	// fills b.msgs[:k] (each buf resliced to the datagram's length) and
	// returns k.
	readBatch(b *batch) (int, error)
	// writeBatch sends b.msgs[:b.n] and returns how many the kernel
	// refused (an unreachable destination, say); the others are sent.
	// The error is for a dead socket only.
	writeBatch(b *batch) (refused int, err error)
	close() error
}

// errClosedConn reports a read on a socket closed by the engine.
var errClosedConn = net.ErrClosed

// udpConn is a UDP socket with batch I/O.
type udpConn struct {
	c  *net.UDPConn
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket: destinations are written as sockaddr_in6
}

func (u *udpConn) close() error { return u.c.Close() }

// listenUDP opens the sockets of an engine: n sockets sharing the RTP port
// with SO_REUSEPORT (where the system has it), and one RTCP socket on the
// next port. With port 0 it picks an even ephemeral port whose successor
// is free too, as RFC 3550 §11 asks of RTP and RTCP ports.
func listenUDP(ctx context.Context, addr netip.Addr, port, n int) (rtp []*udpConn, rtcp *udpConn, err error) {
	if !reusePortSupported {
		n = 1
	}
	attempts := 1
	if port == 0 {
		attempts = 32
	}
	for range attempts {
		rtp, rtcp, err = tryListen(ctx, addr, port, n)
		if err == nil {
			return rtp, rtcp, nil
		}
	}
	return nil, nil, err
}

func tryListen(ctx context.Context, addr netip.Addr, port, n int) (rtp []*udpConn, rtcp *udpConn, err error) {
	network := "udp4"
	if addr.Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: controlRTPSocket}
	closeAll := func() {
		for _, c := range rtp {
			_ = c.close()
		}
		if rtcp != nil {
			_ = rtcp.close()
		}
	}
	for i := range n {
		p := port
		if i > 0 {
			p = rtp[0].c.LocalAddr().(*net.UDPAddr).Port
		}
		pc, err := lc.ListenPacket(ctx, network, netip.AddrPortFrom(addr, uint16(p)).String())
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("avmcu: RTP socket: %w", err)
		}
		u, err := newUDPConn(pc.(*net.UDPConn), addr.Is6())
		if err != nil {
			_ = pc.Close()
			closeAll()
			return nil, nil, err
		}
		rtp = append(rtp, u)
		if i == 0 {
			if got := pc.LocalAddr().(*net.UDPAddr).Port; port == 0 && got%2 != 0 {
				closeAll()
				return nil, nil, errOddPort
			}
		}
	}
	p := rtp[0].c.LocalAddr().(*net.UDPAddr).Port + 1
	pc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(p))))
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("avmcu: RTCP socket: %w", err)
	}
	if rtcp, err = newUDPConn(pc, addr.Is6()); err != nil {
		_ = pc.Close()
		closeAll()
		return nil, nil, err
	}
	return rtp, rtcp, nil
}

var errOddPort = errors.New("avmcu: ephemeral RTP port is odd")

func newUDPConn(c *net.UDPConn, v6 bool) (*udpConn, error) {
	// Buffer sizes are capped by net.core.[rw]mem_max unless the process
	// may exceed it (forceBuffers); a smaller buffer still works, so
	// failures are not fatal.
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("avmcu: raw socket: %w", err)
	}
	forceBuffers(rc, socketBuffer)
	return &udpConn{c: c, rc: rc, v6: v6}, nil
}
