//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The client simulates thousands of participants on a few sockets. The MCU
// tells its legs apart by source address, so each participant needs its own:
// participant i is 127.2.x.y (all of 127/8 is local on Linux), and every
// participant shares the client port. Sockets are bound to 0.0.0.0:port
// with SO_REUSEPORT; a datagram's source address is chosen per datagram with
// an IP_PKTINFO control message (ipi_spec_dst), and the destination of a
// received one, which says whose it is, is read from IP_PKTINFO too.

// pktinfoSpace is the control space of an in_pktinfo; ctrlSpace that of a
// received datagram, which also carries its kernel receive time
// (SO_TIMESTAMPNS): the client measures inter-arrival gaps with it, so
// that its own scheduling delays do not count against the MCU.
var (
	pktinfoSpace = unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	ctrlSpace    = pktinfoSpace + unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))
)

// clientBuffer is the kernel buffer of each client socket (see avmcu's
// socketBuffer).
const clientBuffer = 16 << 20

// cliConn is one client socket.
type cliConn struct {
	c  *net.UDPConn
	rc syscall.RawConn
}

// listenClient opens n sockets on 0.0.0.0:port (port 0: one is picked)
// that share the port and report destinations.
func listenClient(n, port int) ([]*cliConn, int, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
			// DF, as the MCU does (internal/avmcu controlRTPSocket): no
			// per-datagram IP identification to draw.
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var out []*cliConn
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
		if err != nil {
			for _, c := range out {
				_ = c.c.Close()
			}
			return nil, 0, err
		}
		c := pc.(*net.UDPConn)
		_ = c.SetReadBuffer(clientBuffer)
		_ = c.SetWriteBuffer(clientBuffer)
		rc, err := c.SyscallConn()
		if err != nil {
			return nil, 0, err
		}
		// Past net.core.rmem_max when allowed, as the MCU does: the
		// generator must not lose what a VM's stall queues up.
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, clientBuffer)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, clientBuffer)
		})
		out = append(out, &cliConn{c: c, rc: rc})
		port = c.LocalAddr().(*net.UDPAddr).Port
	}
	return out, port, nil
}

// mmsg is a batch of datagrams with their system headers, allocated once.
type mmsg struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet4
	ctrl  []byte
	bufs  [][]byte // receive buffers, or the packets to send
	n     int      // in use (send) or received (read)

	count, done int
	errno       syscall.Errno
	readF       func(uintptr) bool
	writeF      func(uintptr) bool
}

func newMmsg(n, bufSize int) *mmsg {
	m := &mmsg{
		hs:    make([]unix.Mmsghdr, n),
		iov:   make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet4, n),
		ctrl:  make([]byte, n*ctrlSpace),
		bufs:  make([][]byte, n),
	}
	for i := range m.hs {
		h := &m.hs[i].Hdr
		h.Iov = &m.iov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Control = &m.ctrl[i*ctrlSpace]
		if bufSize > 0 {
			m.bufs[i] = make([]byte, bufSize)
		}
	}
	m.readF = m.recv
	m.writeF = m.send
	return m
}

func (m *mmsg) recv(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hs[0])), uintptr(m.count), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			m.done, m.errno = int(r), 0
			return true
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			m.done, m.errno = 0, e
			return true
		}
	}
}

func (m *mmsg) send(fd uintptr) bool {
	for m.done < m.count {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hs[m.done])), uintptr(m.count-m.done), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			m.done += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			m.done++ // refused: skip it
		}
	}
	return true
}

// read receives up to len(m.hs) datagrams; for each, bufs[i] is resliced
// to its length and dst(i) is the local address it was sent to.
func (c *cliConn) read(m *mmsg) (int, error) {
	for i := range m.hs {
		b := m.bufs[i][:cap(m.bufs[i])]
		m.bufs[i] = b
		m.iov[i].Base = &b[0]
		m.iov[i].SetLen(len(b))
		h := &m.hs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet4
		h.SetControllen(ctrlSpace)
		h.Flags = 0
	}
	m.count = len(m.hs)
	if err := c.rc.Read(m.readF); err != nil {
		return 0, err
	}
	if m.errno != 0 {
		return 0, m.errno
	}
	for i := range m.done {
		m.bufs[i] = m.bufs[i][:m.hs[i].Len]
	}
	m.n = m.done
	runtime.KeepAlive(m)
	return m.done, nil
}

// info returns the destination address of received datagram i and its
// kernel receive time in ns, from its control messages.
func (m *mmsg) info(i int) (dst netip.Addr, at int64, ok bool) {
	ctrl := m.ctrl[i*ctrlSpace : i*ctrlSpace+int(m.hs[i].Hdr.Controllen)]
	for len(ctrl) >= unix.CmsgLen(0) {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(cm.Len)
		if l < unix.CmsgLen(0) || l > len(ctrl) {
			break
		}
		data := ctrl[unix.CmsgLen(0):l]
		switch {
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			dst, ok = netip.AddrFrom4(pi.Addr), true
		case cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			at = ts.Nano()
		}
		ctrl = ctrl[min(len(ctrl), unix.CmsgSpace(l-unix.CmsgLen(0))):]
	}
	return dst, at, ok
}

// add queues pkt from src to dst; it reports whether the batch is full.
func (m *mmsg) add(pkt []byte, src netip.Addr, dst netip.AddrPort) bool {
	i := m.n
	m.bufs[i] = pkt
	m.iov[i].Base = &pkt[0]
	m.iov[i].SetLen(len(pkt))
	sa := &m.names[i]
	sa.Family = unix.AF_INET
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(dst.Port()>>8), byte(dst.Port())
	sa.Addr = dst.Addr().As4()
	h := &m.hs[i].Hdr
	h.Namelen = unix.SizeofSockaddrInet4
	ctrl := m.ctrl[i*ctrlSpace : i*ctrlSpace+pktinfoSpace]
	clear(ctrl)
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
	cm.Level, cm.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	cm.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
	pi.Spec_dst = src.As4()
	h.SetControllen(pktinfoSpace)
	m.n++
	return m.n == len(m.hs)
}

// write sends the queued datagrams.
func (c *cliConn) write(m *mmsg) error {
	if m.n == 0 {
		return nil
	}
	m.count, m.done = m.n, 0
	err := c.rc.Write(m.writeF)
	runtime.KeepAlive(m)
	m.n = 0
	return err
}

// rusage returns the process's user and system CPU time in microseconds.
func rusage() (user, sys int64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Nano() / 1e3, ru.Stime.Nano() / 1e3
}

// niceAll sets the nice value of every thread of the process: Linux keeps
// it per thread, and threads inherit it from their creator, so after this
// the Go runtime's future threads are niced too.
func niceAll(n int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil {
			return fmt.Errorf("setpriority %d: %w", tid, err)
		}
	}
	return nil
}
