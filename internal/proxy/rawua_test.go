package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// rawUA is a SIP user agent that writes and reads datagrams by hand, for
// benchmarks: unlike testUA it has no sipgo stack of its own, so what a
// benchmark measures in this process is the proxy (with the sipgo layers
// under it) and nearly nothing else. It reuses its buffers and allocates
// almost nothing per call. It speaks just enough SIP for one call flow
// over UDP, with no retransmissions: on loopback a lost datagram fails the
// benchmark rather than hide in a timer.
type rawUA struct {
	user   string
	conn   *net.UDPConn
	addr   netip.AddrPort
	in     []byte   // the last datagram read
	buf    []byte   // read buffer
	out    []byte   // the message being written
	route  []byte   // Route lines of the dialog, built from the 2xx
	toTag  []byte   // the To header line of the dialog, with the callee's tag
	remote []byte   // the callee's Contact URI, the Request-URI inside the dialog
	rrs    [][]byte // scratch for learnDialog
}

// rawTimeout bounds every read: on loopback a missing message is a bug.
const rawTimeout = 5 * time.Second

func newRawUA(tb testing.TB, user string) *rawUA {
	tb.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &rawUA{
		user: user,
		conn: conn,
		addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		buf:  make([]byte, 65535),
		out:  make([]byte, 0, 4096),
	}
}

// target is the binding the location service returns for the UA.
func (u *rawUA) target() Target {
	var t Target
	t.URI.Scheme = "sip"
	t.URI.User = u.user
	t.URI.Host = u.addr.Addr().String()
	t.URI.Port = int(u.addr.Port())
	return t
}

// send writes u.out to addr.
func (u *rawUA) send(to netip.AddrPort) error {
	_, err := u.conn.WriteToUDPAddrPort(u.out, to)
	return err
}

// read waits for a message of this call whose first line starts with
// first and whose CSeq value is cseq (nil matches anything), skipping any
// other (a late 100 Trying, a message of an earlier call), and returns
// where it came from.
func (u *rawUA) read(callID, first, cseq []byte) (netip.AddrPort, error) {
	deadline := time.Now().Add(rawTimeout)
	for {
		if err := u.conn.SetReadDeadline(deadline); err != nil {
			return netip.AddrPort{}, err
		}
		n, from, err := u.conn.ReadFromUDPAddrPort(u.buf)
		if err != nil {
			return from, fmt.Errorf("%s waiting for %q: %w", u.user, first, err)
		}
		u.in = u.buf[:n]
		if !bytes.Equal(header(u.in, "Call-ID"), callID) ||
			(first != nil && !bytes.HasPrefix(u.in, first)) ||
			(cseq != nil && !bytes.Equal(header(u.in, "CSeq"), cseq)) {
			continue
		}
		return from, nil
	}
}

// header returns the value of the first header called name in msg, nil if
// there is none. Names are matched as sipgo writes them.
func header(msg []byte, name string) []byte {
	var v []byte
	eachHeader(msg, func(n, value []byte) bool {
		if string(n) == name {
			v = value
			return false
		}
		return true
	})
	return v
}

// eachHeader calls fn with every header line of msg, until fn returns
// false.
func eachHeader(msg []byte, fn func(name, value []byte) bool) {
	_, rest, _ := bytes.Cut(msg, []byte("\r\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) == 0 {
			return
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if !fn(name, bytes.TrimLeft(value, " ")) {
			return
		}
	}
}

// copyHeaders appends to u.out the header lines of u.in called one of
// names, in their order.
func (u *rawUA) copyHeaders(names ...string) {
	eachHeader(u.in, func(n, value []byte) bool {
		for _, want := range names {
			if string(n) == want {
				u.out = append(append(append(append(u.out, n...), ": "...), value...), "\r\n"...)
				break
			}
		}
		return true
	})
}

// invite sends the INVITE of call n to the proxy.
func (u *rawUA) invite(proxy netip.AddrPort, callee string, n int, callID []byte) error {
	u.out = u.out[:0]
	u.out = append(u.out, "INVITE sip:"...)
	u.out = append(u.out, callee...)
	u.out = append(u.out, "@example.com SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	u.out = u.addr.AppendTo(u.out)
	u.out = append(u.out, ";rport;branch=z9hG4bKi"...)
	u.out = strconv.AppendInt(u.out, int64(n), 10)
	u.out = append(u.out, "\r\nMax-Forwards: 70\r\nFrom: <sip:"...)
	u.out = append(u.out, u.user...)
	u.out = append(u.out, "@elsewhere.test>;tag=f"...)
	u.out = strconv.AppendInt(u.out, int64(n), 10)
	u.out = append(u.out, "\r\nTo: <sip:"...)
	u.out = append(u.out, callee...)
	u.out = append(u.out, "@example.com>\r\nCall-ID: "...)
	u.out = append(u.out, callID...)
	u.out = append(u.out, "\r\nCSeq: 1 INVITE\r\nContact: <sip:"...)
	u.out = append(u.out, u.user...)
	u.out = append(u.out, '@')
	u.out = u.addr.AppendTo(u.out)
	u.out = append(u.out, ">\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"...)
	return u.send(proxy)
}

// answer sends the responses to the request in u.in back to from: the
// INVITE gets 180 and 200 with a To tag, BYE gets 200.
func (u *rawUA) answer(from netip.AddrPort, invite bool, n int) error {
	codes := []string{"200 OK"}
	if invite {
		codes = []string{"180 Ringing", "200 OK"}
	}
	for _, code := range codes {
		u.out = u.out[:0]
		u.out = append(u.out, "SIP/2.0 "...)
		u.out = append(u.out, code...)
		u.out = append(u.out, "\r\n"...)
		u.copyHeaders("Via", "Record-Route", "From")
		to := header(u.in, "To")
		u.out = append(append(u.out, "To: "...), to...)
		if invite {
			u.out = append(u.out, ";tag=t"...)
			u.out = strconv.AppendInt(u.out, int64(n), 10)
		}
		u.out = append(u.out, "\r\n"...)
		u.copyHeaders("Call-ID", "CSeq")
		if invite {
			u.out = append(u.out, "Contact: <sip:"...)
			u.out = append(u.out, u.user...)
			u.out = append(u.out, '@')
			u.out = u.addr.AppendTo(u.out)
			u.out = append(u.out, ">\r\n"...)
		}
		u.out = append(u.out, "Content-Length: 0\r\n\r\n"...)
		if err := u.send(from); err != nil {
			return err
		}
	}
	return nil
}

// learnDialog takes the route set and the remote tag from the 2xx in u.in
// (RFC 3261 §12.1.2: the Record-Route entries in reverse order).
func (u *rawUA) learnDialog() {
	u.rrs = u.rrs[:0]
	eachHeader(u.in, func(n, value []byte) bool {
		if string(n) == "Record-Route" {
			u.rrs = append(u.rrs, value)
		}
		return true
	})
	u.route = u.route[:0]
	for i := len(u.rrs) - 1; i >= 0; i-- {
		u.route = append(append(append(u.route, "Route: "...), u.rrs[i]...), "\r\n"...)
	}
	u.toTag = append(append(u.toTag[:0], "To: "...), header(u.in, "To")...)
	u.remote = append(u.remote[:0], bytes.Trim(header(u.in, "Contact"), "<>")...)
}

// inDialog sends an ACK or BYE of call n to the proxy along the route set.
func (u *rawUA) inDialog(proxy netip.AddrPort, method string, seq int, n int, callID []byte) error {
	u.out = u.out[:0]
	u.out = append(u.out, method...)
	u.out = append(u.out, ' ')
	u.out = append(u.out, u.remote...)
	u.out = append(u.out, " SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	u.out = u.addr.AppendTo(u.out)
	u.out = append(u.out, ";rport;branch=z9hG4bK"...)
	u.out = append(u.out, method...)
	u.out = strconv.AppendInt(u.out, int64(n), 10)
	u.out = append(u.out, "\r\n"...)
	u.out = append(u.out, u.route...)
	u.out = append(u.out, "Max-Forwards: 70\r\nFrom: <sip:"...)
	u.out = append(u.out, u.user...)
	u.out = append(u.out, "@elsewhere.test>;tag=f"...)
	u.out = strconv.AppendInt(u.out, int64(n), 10)
	u.out = append(u.out, "\r\n"...)
	u.out = append(u.out, u.toTag...)
	u.out = append(u.out, "\r\nCall-ID: "...)
	u.out = append(u.out, callID...)
	u.out = append(u.out, "\r\nCSeq: "...)
	u.out = strconv.AppendInt(u.out, int64(seq), 10)
	u.out = append(u.out, ' ')
	u.out = append(u.out, method...)
	u.out = append(u.out, "\r\nContent-Length: 0\r\n\r\n"...)
	return u.send(proxy)
}

// Byte strings the call flow matches on.
var (
	firstINVITE = []byte("INVITE ")
	firstACK    = []byte("ACK ")
	firstBYE    = []byte("BYE ")
	first200    = []byte("SIP/2.0 200 ")
	cseqINVITE  = []byte("1 INVITE")
	cseqACK     = []byte("1 ACK")
	cseqBYE     = []byte("2 BYE")
)

// rawCall runs call n from alice to bob through the proxy: INVITE, 180,
// 200, ACK, BYE, 200, as SIPp's uac_call.xml and uas.xml do.
func rawCall(proxy netip.AddrPort, alice, bob *rawUA, n int, callID []byte) error {
	if err := alice.invite(proxy, bob.user, n, callID); err != nil {
		return err
	}
	from, err := bob.read(callID, firstINVITE, cseqINVITE)
	if err != nil {
		return err
	}
	if err := bob.answer(from, true, n); err != nil {
		return err
	}
	if _, err := alice.read(callID, first200, cseqINVITE); err != nil {
		return err
	}
	alice.learnDialog()
	if len(alice.route) == 0 || len(alice.remote) == 0 {
		return errors.New("the 2xx carries no Record-Route or no Contact")
	}
	if err := alice.inDialog(proxy, "ACK", 1, n, callID); err != nil {
		return err
	}
	if err := alice.inDialog(proxy, "BYE", 2, n, callID); err != nil {
		return err
	}
	// The proxy may deliver the BYE before the ACK; the ACK must arrive
	// either way.
	gotACK := false
	for {
		from, err := bob.read(callID, nil, nil)
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(bob.in, firstACK) && bytes.Equal(header(bob.in, "CSeq"), cseqACK):
			gotACK = true
		case bytes.HasPrefix(bob.in, firstBYE) && bytes.Equal(header(bob.in, "CSeq"), cseqBYE):
			if err := bob.answer(from, false, n); err != nil {
				return err
			}
			if _, err := alice.read(callID, first200, cseqBYE); err != nil {
				return err
			}
			if !gotACK {
				if _, err := bob.read(callID, firstACK, cseqACK); err != nil {
					return err
				}
			}
			return nil
		}
	}
}
