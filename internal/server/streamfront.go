package server

import (
	"bytes"
	"net"
	"net/netip"
)

// On TCP and TLS the front end (regfront.go) sits between the connection
// and sipgo: a frontConn frames the byte stream into messages (RFC 3261
// §18.3: Content-Length delimits a message on a stream), takes the
// REGISTERs and passes every other byte to sipgo unchanged. sipgo still
// owns the connection (its pool finds it for requests to the registered
// flow) and sees everything but the REGISTERs, which it would only have
// wrapped in a server transaction on their way to the same queue. The
// responses go back on the connection they came on (RFC 3261 §18.2.2).
//
// A stream the framer cannot follow with certainty (a message without a
// single valid Content-Length, a header block larger than the message
// limit) is handed to sipgo from that point on, which handles it as it
// always did.

// frontListener wraps the TCP or TLS listener sipgo serves.
type frontListener struct {
	net.Listener
	f          *regFront
	transport  string // "TCP" or "TLS", as sipgo names it
	maxMessage int
}

// Accept wraps each connection in a frontConn.
func (l *frontListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &frontConn{Conn: c, f: l.f, transport: l.transport, maxMessage: l.maxMessage}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		fc.src = a.AddrPort()
		fc.src = netip.AddrPortFrom(fc.src.Addr().Unmap(), fc.src.Port())
	}
	fc.source = c.RemoteAddr().String()
	return fc, nil
}

// frontConn is one accepted connection seen through the framer. Read is
// called by sipgo's reader goroutine only; Write (inherited) may be called
// by sipgo and by the front end's workers at once, which net.Conn and
// tls.Conn allow, each Write going out whole.
type frontConn struct {
	net.Conn
	f          *regFront
	transport  string
	source     string // RemoteAddr().String(), as sipgo's pool knows it
	src        netip.AddrPort
	maxMessage int

	in          []byte // read, not yet framed
	out         []byte // framed, for sipgo; out[outOff:] is still to give
	outOff      int
	passthrough bool  // the framer gave up: everything goes to sipgo
	err         error // from the connection, once in is used up
	more        bool  // in may hold messages frame has not looked at
	// The first message in in: how far its header block has been searched
	// for its end, and its length once that end is found. A client
	// sending a message byte by byte costs one pass over it, not one per
	// byte.
	scanned, need int
}

// keepBuffer is the largest buffer an idle connection keeps.
const keepBuffer = 4 << 10

// Read returns the bytes of the stream that are not REGISTERs taken by the
// front end. p, sipgo's read buffer, is also where the connection is read
// into, so a connection costs no buffer of its own while idle.
func (c *frontConn) Read(p []byte) (int, error) {
	for c.outOff == len(c.out) {
		c.out, c.outOff = c.out[:0], 0
		if cap(c.out) > keepBuffer {
			c.out = nil
		}
		if c.more {
			c.more = false
			c.frame()
			continue
		}
		if c.err != nil {
			return 0, c.err
		}
		if c.passthrough && len(c.in) == 0 {
			return c.Conn.Read(p)
		}
		n, err := c.Conn.Read(p)
		c.in = append(c.in, p[:n]...)
		c.err = err
		c.frame()
		if len(c.in) == 0 && cap(c.in) > keepBuffer {
			c.in = nil
		}
	}
	n := copy(p, c.out[c.outOff:])
	c.outOff += n
	return n, nil
}

// frame moves the complete messages at the start of in to the front end
// (REGISTERs) or to out (anything else).
func (c *frontConn) frame() {
	consumed := 0
	defer func() {
		if consumed > 0 {
			c.in = append(c.in[:0], c.in[consumed:]...)
		}
	}()
	for !c.passthrough {
		rest := c.in[consumed:]
		if len(rest) == 0 {
			return
		}
		if c.need == 0 && c.scanned == 0 && (rest[0] == '\r' || rest[0] == '\n') {
			// CRLFs between messages are keep-alives (RFC 5626 §3.5.1).
			// sipgo answers a ping only when a read holds nothing else,
			// so they go to it alone.
			k := 0
			for k < len(rest) && k < 4 && (rest[k] == '\r' || rest[k] == '\n') {
				k++
			}
			if len(c.out) > c.outOff {
				c.more = true
				return
			}
			if k < 4 && k == len(rest) && rest[k-1] == '\r' {
				return // the rest of the CRLF is still to come
			}
			c.out = append(c.out, rest[:k]...)
			consumed += k
			c.more = true
			return
		}
		if c.need == 0 {
			n, found, ok := frameMessage(rest, c.scanned, c.maxMessage)
			switch {
			case !ok:
				c.passthrough = true
				c.out = append(c.out, rest...)
				consumed += len(rest)
				c.scanned = 0
				return
			case !found:
				c.scanned = len(rest)
				return
			}
			c.need = n
		}
		if len(rest) < c.need {
			return
		}
		msg := rest[:c.need]
		consumed += c.need
		c.need, c.scanned = 0, 0
		if !c.f.offerStream(c, msg) {
			c.out = append(c.out, msg...)
		}
	}
}

// frameMessage finds the length of the first message in b, header block
// and body (RFC 3261 §18.3: the Content-Length header gives the body's),
// once b holds the whole header block (found); the first from bytes of b
// are known not to hold its end. ok is false when the message cannot be
// framed: no end of the header block within limit bytes, a message longer
// than limit, or not exactly one valid Content-Length.
func frameMessage(b []byte, from, limit int) (n int, found, ok bool) {
	from = min(max(0, from-3), len(b))
	end := bytes.Index(b[from:], []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false, len(b) <= limit
	}
	end += from
	headers := b[:end+2]
	length, seen := -1, false
	for off, first := 0, true; off < len(headers); first = false {
		i := bytes.Index(headers[off:], []byte("\r\n"))
		line := headers[off : off+i]
		off += i + 2
		if !first && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return 0, false, false // folded: it might continue Content-Length
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !headerIs(bytes.TrimRight(line[:colon], " \t"), "content-length", "l") {
			continue
		}
		v, ok := atoi(bytes.TrimSpace(line[colon+1:]))
		if !ok || seen {
			return 0, false, false
		}
		length, seen = v, true
	}
	if !seen || end+4+length > limit {
		return 0, false, false
	}
	return end + 4 + length, true, true
}

// offerStream takes msg if it is a REGISTER the front end can read, and
// reports whether it did. It queues the request or refuses it at once.
func (f *regFront) offerStream(c *frontConn, msg []byte) bool {
	var s sniffed
	if !sniff(msg, &s) || !s.isRegister(msg) {
		return false
	}
	if !f.overloaded() {
		select {
		case f.queue <- regJob{at: f.now(), data: bytes.Clone(msg), stream: c}:
			f.admitted.Add(1)
			return true
		default:
		}
	}
	f.refused.Add(1)
	bp := refusalBufs.Get().(*[]byte)
	*bp = appendRefusal((*bp)[:0], msg, &s, c.src, f.cache.key(msg, &s), f.retryAfterValue())
	c.write(*bp)
	refusalBufs.Put(bp)
	return true
}

// write sends a response on the connection.
func (c *frontConn) write(b []byte) {
	if _, err := c.Write(b); err != nil {
		c.f.log.Debug("REGISTER response not sent", "transport", c.transport, "destination", c.source, "error", err)
	}
}
