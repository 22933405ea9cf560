//go:build linux

package avmcu

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reusePortSupported: Linux spreads the datagrams of one port over the
// sockets that share it with SO_REUSEPORT, by a hash of the 4-tuple, so
// each remote always lands on the same socket (and reader).
const reusePortSupported = true

// controlRTPSocket prepares an RTP socket: shared port, and the kernel's
// receive time on every datagram (SO_TIMESTAMPNS), so that a datagram
// read late, while a tick had the CPU, still gets its true arrival time
// in the jitter statistics.
//
// It also sets the Don't Fragment bit on IPv4 (IP_PMTUDISC_PROBE: DF set,
// path MTU not enforced, RFC 8085 §3.2 — an RTP packet of a few hundred
// bytes never needs fragmenting). Without DF, Linux must draw an IP
// identification for every datagram of an unconnected socket from a
// shared, hashed table (__ip_select_ident): 7 % of the machine's CPU at
// 4,000 legs on loopback. With DF the identification is 0 (RFC 6864 §4.1
// allows it for atomic datagrams). Best effort: a socket that refuses
// still works.
func controlRTPSocket(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		}
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
	})
	if err != nil {
		return err
	}
	return serr
}

// forceBuffers raises the socket's buffers to size past net.core.rmem_max
// and wmem_max when the process has CAP_NET_ADMIN (SO_RCVBUFFORCE, socket(7)),
// as a media server started by root or with that capability may; otherwise
// the sizes SetReadBuffer got stand, and the operator raises the sysctls.
func forceBuffers(c syscall.RawConn, size int) {
	_ = c.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
	})
}

// sysBatch is the recvmmsg/sendmmsg form of a batch: one mmsghdr, iovec
// and sockaddr per datagram, allocated once. x/net's ipv4.PacketConn
// ReadBatch would do the same system call, but it allocates a net.UDPAddr
// for every datagram read; this path allocates nothing.
type sysBatch struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	ctrl  []byte                  // a receive timestamp per datagram

	// State of the call in progress, for the callbacks below, which are
	// bound once so that passing them to RawConn allocates nothing.
	count, done, refused int
	errno                syscall.Errno
	readF, writeF        func(fd uintptr) bool
}

func (s *sysBatch) init(n int) {
	s.hs = make([]unix.Mmsghdr, n)
	s.iov = make([]unix.Iovec, n)
	s.names = make([]unix.RawSockaddrInet6, n)
	s.ctrl = make([]byte, n*ctrlSpace)
	for i := range s.hs {
		s.hs[i].Hdr.Iov = &s.iov[i]
		s.hs[i].Hdr.SetIovlen(1)
		s.hs[i].Hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
	}
	s.readF = s.recv
	s.writeF = s.send
}

// ctrlSpace is the control buffer of one received datagram: room for its
// SCM_TIMESTAMPNS.
var ctrlSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// recv runs recvmmsg once the socket is readable. Returning false asks
// the runtime poller to wait for readability and call again.
func (s *sysBatch) recv(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.hs[0])), uintptr(s.count), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			s.done, s.errno = int(r), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			s.done, s.errno = 0, e
			return true
		}
	}
}

// send runs sendmmsg until every datagram is sent or refused. A datagram
// the kernel refuses (sendmmsg reports the error of the first unsent one)
// is skipped, so one bad destination cannot block the others.
func (s *sysBatch) send(fd uintptr) bool {
	for s.done < s.count {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hs[s.done])), uintptr(s.count-s.done), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			s.done += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			s.done++
			s.refused++
		}
	}
	return true
}

func (u *udpConn) readBatch(b *batch) (int, error) {
	s := &b.sys
	for i := range b.msgs {
		buf := b.msgs[i].buf[:cap(b.msgs[i].buf)]
		b.msgs[i].buf = buf
		s.iov[i].Base = &buf[0]
		s.iov[i].SetLen(len(buf))
		s.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		s.hs[i].Hdr.Control = &s.ctrl[i*ctrlSpace]
		s.hs[i].Hdr.SetControllen(ctrlSpace)
		s.hs[i].Hdr.Flags = 0
		s.hs[i].Len = 0
	}
	s.count = len(b.msgs)
	if err := u.rc.Read(s.readF); err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, s.errno
	}
	for i := range s.done {
		b.msgs[i].buf = b.msgs[i].buf[:s.hs[i].Len]
		b.msgs[i].addr = decodeSockaddr(&s.names[i], s.hs[i].Hdr.Namelen)
		b.msgs[i].at = rxTime(s.ctrl[i*ctrlSpace : i*ctrlSpace+int(s.hs[i].Hdr.Controllen)])
	}
	b.n = s.done
	runtime.KeepAlive(b)
	return s.done, nil
}

func (u *udpConn) writeBatch(b *batch) (int, error) {
	if b.n == 0 {
		return 0, nil
	}
	s := &b.sys
	for i := range b.n {
		m := &b.msgs[i]
		if len(m.buf) == 0 {
			s.iov[i].Base = nil
		} else {
			s.iov[i].Base = &m.buf[0]
		}
		s.iov[i].SetLen(len(m.buf))
		s.hs[i].Hdr.Namelen = encodeSockaddr(&s.names[i], m.addr, u.v6)
		s.hs[i].Hdr.Control = nil
		s.hs[i].Hdr.SetControllen(0)
	}
	s.count, s.done, s.refused = b.n, 0, 0
	err := u.rc.Write(s.writeF)
	runtime.KeepAlive(b)
	return s.refused, err
}

// encodeSockaddr writes a in the socket's family (v4-mapped on an AF_INET6
// socket) and returns its length.
func encodeSockaddr(sa *unix.RawSockaddrInet6, a netip.AddrPort, v6 bool) uint32 {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	binary.BigEndian.PutUint16(port[:], a.Port())
	if !v6 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.Addr().As4()
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Flowinfo = 0
	sa.Addr = a.Addr().As16()
	sa.Scope_id = 0
	return unix.SizeofSockaddrInet6
}

// decodeSockaddr reads a source address; v4-mapped IPv6 addresses are
// unmapped so that they match the IPv4 form legs are registered under.
func decodeSockaddr(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// rxTime returns the SCM_TIMESTAMPNS receive time of a datagram in Unix
// nanoseconds, or 0 if its control messages do not carry one.
func rxTime(ctrl []byte) int64 {
	for len(ctrl) >= unix.CmsgLen(0) {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(cm.Len)
		if l < unix.CmsgLen(0) || l > len(ctrl) {
			return 0
		}
		if cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS && l-unix.CmsgLen(0) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
			return ts.Nano()
		}
		ctrl = ctrl[min(len(ctrl), unix.CmsgSpace(l-unix.CmsgLen(0))):]
	}
	return 0
}
