//go:build linux

package avmcu

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSockaddrRoundTrip(t *testing.T) {
	cases := []struct {
		a      string
		v6sock bool
		want   string
		n      uint32
	}{
		{"192.0.2.7:5004", false, "192.0.2.7:5004", unix.SizeofSockaddrInet4},
		{"127.0.0.1:65535", false, "127.0.0.1:65535", unix.SizeofSockaddrInet4},
		{"[2001:db8::9]:1", true, "[2001:db8::9]:1", unix.SizeofSockaddrInet6},
		// An IPv4 destination on an IPv6 socket is v4-mapped, and comes
		// back unmapped.
		{"192.0.2.7:5004", true, "192.0.2.7:5004", unix.SizeofSockaddrInet6},
	}
	for _, tc := range cases {
		var sa unix.RawSockaddrInet6
		n := encodeSockaddr(&sa, netip.MustParseAddrPort(tc.a), tc.v6sock)
		if n != tc.n {
			t.Errorf("%s: length %d, want %d", tc.a, n, tc.n)
		}
		if got := decodeSockaddr(&sa, n); got.String() != tc.want {
			t.Errorf("%s: round trip gives %v, want %s", tc.a, got, tc.want)
		}
	}
	var sa unix.RawSockaddrInet6
	sa.Family = unix.AF_UNIX
	if got := decodeSockaddr(&sa, 28); got.IsValid() {
		t.Errorf("AF_UNIX decoded as %v", got)
	}
	sa.Family = unix.AF_INET6
	if got := decodeSockaddr(&sa, 8); got.IsValid() {
		t.Errorf("short sockaddr decoded as %v", got)
	}
}

// cmsg builds one control message.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestRxTime(t *testing.T) {
	ts := unix.NsecToTimespec(1_700_000_000_123_456_789)
	raw := (*[unsafe.Sizeof(unix.Timespec{})]byte)(unsafe.Pointer(&ts))[:]
	stamp := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, raw)
	other := cmsg(unix.IPPROTO_IP, unix.IP_TTL, []byte{64, 0, 0, 0})
	cases := []struct {
		name string
		ctrl []byte
		want int64
	}{
		{"timestamp", stamp, 1_700_000_000_123_456_789},
		{"after another message", append(append([]byte(nil), other...), stamp...), 1_700_000_000_123_456_789},
		{"none", nil, 0},
		{"other only", other, 0},
		{"truncated", stamp[:unix.CmsgLen(0)+4], 0},
		{"length past the end", func() []byte {
			b := append([]byte(nil), stamp...)
			(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(500)
			return b
		}(), 0},
		{"zero length", make([]byte, 32), 0},
	}
	for _, tc := range cases {
		if got := rxTime(tc.ctrl); got != tc.want {
			t.Errorf("%s: rxTime = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestKernelTimestamps checks that datagrams read from an engine socket
// carry the kernel's receive time.
func TestKernelTimestamps(t *testing.T) {
	e, err := NewEngine(Config{Addr: netip.MustParseAddr("127.0.0.1"), Sockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	rx := e.conns[0].(*udpConn)
	defer rx.close()
	defer e.rtcpConn.close()
	tx, _ := listenLoopback(t)
	defer tx.close()
	before := time.Now()
	wb := newWriteBatch(1)
	wb.add([]byte("x"), e.RTPAddr())
	if _, err := tx.writeBatch(wb); err != nil {
		t.Fatal(err)
	}
	rb := newReadBatch(4)
	if _, err := rx.readBatch(rb); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, rb.msgs[0].at)
	if at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("kernel receive time %v, want about %v", at, before)
	}
}
