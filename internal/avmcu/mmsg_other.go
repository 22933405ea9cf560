//go:build !linux

package avmcu

import (
	"net/netip"
	"syscall"
)

// reusePortSupported is false off Linux: the engine opens one RTP socket,
// and reads and writes one datagram per system call.
const reusePortSupported = false

func controlRTPSocket(_, _ string, _ syscall.RawConn) error { return nil }

func forceBuffers(syscall.RawConn, int) {}

type sysBatch struct{}

func (*sysBatch) init(int) {}

func (u *udpConn) readBatch(b *batch) (int, error) {
	m := &b.msgs[0]
	n, addr, err := u.c.ReadFromUDPAddrPort(m.buf[:cap(m.buf)])
	if err != nil {
		return 0, err
	}
	m.buf, m.addr, m.at = m.buf[:n], netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), 0
	b.n = 1
	return 1, nil
}

func (u *udpConn) writeBatch(b *batch) (refused int, err error) {
	for i := range b.n {
		if _, werr := u.c.WriteToUDPAddrPort(b.msgs[i].buf, b.msgs[i].addr); werr != nil {
			refused++
		}
	}
	return refused, nil
}
