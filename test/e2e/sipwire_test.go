package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A deliberately small SIP reader for the torture test: it must not share
// code with the server it judges, and it only needs the status code, the
// Call-ID and the CSeq method of responses, and stream framing for TCP.

// errNotResponse means bytes received from the server are not a SIP response.
var errNotResponse = errors.New("not a SIP response")

// sipResponse is what the torture test needs from a response.
type sipResponse struct {
	code   int
	reason string
	callID string
	method string // of the CSeq header field
}

func (r sipResponse) String() string {
	return fmt.Sprintf("%d %s (CSeq %s)", r.code, r.reason, r.method)
}

// parseResponse reads the status line and a few header fields of msg.
func parseResponse(msg []byte) (sipResponse, error) {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lines := unfold(string(head))
	if len(lines) == 0 {
		return sipResponse{}, fmt.Errorf("%w: empty", errNotResponse)
	}
	proto, rest, _ := strings.Cut(lines[0], " ")
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if proto != "SIP/2.0" || err != nil || code < 100 || code > 699 {
		return sipResponse{}, fmt.Errorf("%w: status line %q", errNotResponse, lines[0])
	}
	r := sipResponse{code: code, reason: reason}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "call-id", "i":
			r.callID = value
		case "cseq":
			if f := strings.Fields(value); len(f) == 2 {
				r.method = f[1]
			}
		}
	}
	return r, nil
}

// unfold splits a header block into lines, joining continuation lines
// (RFC 3261 §7.3.1).
func unfold(head string) []string {
	var out []string
	for _, l := range strings.Split(head, "\r\n") {
		if len(out) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
	}
	return out
}

// splitStream cuts complete messages off the front of a stream buffer,
// framing them by Content-Length (RFC 3261 §18.3), and returns what is left.
func splitStream(buf []byte) (msgs [][]byte, rest []byte) {
	for {
		buf = bytes.TrimLeft(buf, "\r\n") // keep-alive CRLFs between messages
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end < 0 {
			return msgs, buf
		}
		bodyLen := 0
		for _, l := range unfold(string(buf[:end])) {
			name, value, ok := strings.Cut(l, ":")
			if n := strings.ToLower(strings.TrimSpace(name)); ok && (n == "content-length" || n == "l") {
				bodyLen, _ = strconv.Atoi(strings.TrimSpace(value))
			}
		}
		total := end + 4 + bodyLen
		if len(buf) < total {
			return msgs, buf
		}
		msgs = append(msgs, buf[:total])
		buf = buf[total:]
	}
}

// via is what the torture test needs of a request's first Via value.
type via struct {
	transport string // "UDP", "TCP", "TLS", ...
	port      int    // of the sent-by; 5060 when absent
	branch    string // "" when absent
}

// topVia parses a request's first Via header field value, tolerating the
// LWS RFC 4475 puts everywhere ("SIP / 2.0 / UDP host"). A missing or
// unparsable Via gives UDP and 5060.
func topVia(msg []byte) via {
	v := via{transport: "UDP", port: 5060}
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, l := range unfold(string(head))[1:] {
		name, value, ok := strings.Cut(l, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); !ok || (n != "via" && n != "v") {
			continue
		}
		// First value: sent-protocol and sent-by, then parameters.
		value, _, _ = strings.Cut(value, ",")
		value, params, _ := strings.Cut(value, ";")
		for _, p := range strings.Split(params, ";") {
			k, val, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "branch") {
				v.branch = strings.TrimSpace(val)
			}
		}
		value = strings.Join(strings.Fields(value), " ")
		value = strings.ReplaceAll(strings.ReplaceAll(value, " /", "/"), "/ ", "/")
		proto, sentBy, ok := strings.Cut(value, " ")
		if !ok {
			return v
		}
		if i := strings.LastIndex(proto, "/"); i >= 0 {
			v.transport = strings.ToUpper(proto[i+1:])
		}
		if _, p, err := net.SplitHostPort(strings.TrimSpace(sentBy)); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				v.port = n
			}
		}
		return v
	}
	return v
}

// optionsRequest builds an OPTIONS request to target from a client at
// local (host:port) over transport, with rport so that the answer comes
// back to the sending socket (RFC 3581).
func optionsRequest(target, local, transport string) []byte {
	tag := strconv.FormatUint(rand.Uint64(), 36)
	return []byte("OPTIONS sip:" + target + " SIP/2.0\r\n" +
		"Via: SIP/2.0/" + transport + " " + local + ";rport;branch=z9hG4bK" + tag + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:probe@e2e.invalid>;tag=" + tag + "\r\n" +
		"To: <sip:" + target + ">\r\n" +
		"Call-ID: liveness-" + tag + "\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n")
}

// pingUDP sends OPTIONS over UDP, retransmitting every 500 ms
// (RFC 3261 §17.1.2.2, T1), and returns the first response.
func pingUDP(addr string, timeout time.Duration) (sipResponse, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return sipResponse{}, err
	}
	defer func() { _ = c.Close() }()
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return sipResponse{}, err
	}
	req := optionsRequest(addr, c.LocalAddr().String(), "UDP")
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		if _, err := c.WriteTo(req, dst); err != nil {
			return sipResponse{}, err
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			continue
		}
		return parseResponse(buf[:n])
	}
	return sipResponse{}, fmt.Errorf("no answer to OPTIONS over UDP in %v", timeout)
}

// pingTCP sends OPTIONS over a new TCP connection and returns the answer.
func pingTCP(addr string, timeout time.Duration) (sipResponse, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return sipResponse{}, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(optionsRequest(addr, c.LocalAddr().String(), "TCP")); err != nil {
		return sipResponse{}, err
	}
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if msgs, _ := splitStream(buf); len(msgs) > 0 {
			return parseResponse(msgs[0])
		}
		if err != nil {
			return sipResponse{}, fmt.Errorf("no answer to OPTIONS over TCP: %w", err)
		}
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		in      string
		want    sipResponse
		wantErr bool
	}{
		{"SIP/2.0 401 Unauthorized\r\ni: abc\r\nCSeq: 2 REGISTER\r\n\r\n", sipResponse{401, "Unauthorized", "abc", "REGISTER"}, false},
		{"SIP/2.0 100 \r\nCall-ID:  x@y \r\ncseq:\r\n  7\r\n  INVITE\r\n\r\n", sipResponse{100, "", "x@y", "INVITE"}, false},
		{"SIP/2.0 4294967301 big\r\n\r\n", sipResponse{}, true},
		{"INVITE sip:a@b SIP/2.0\r\n\r\n", sipResponse{}, true},
		{"", sipResponse{}, true},
	}
	for _, tt := range tests {
		got, err := parseResponse([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseResponse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplitStream(t *testing.T) {
	a := "SIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	b := "SIP/2.0 404 Not Found\r\nl: 0\r\n\r\n"
	msgs, rest := splitStream([]byte("\r\n" + a + b + "SIP/2.0 180 Ringing\r\nContent-"))
	if len(msgs) != 2 || string(msgs[0]) != a || string(msgs[1]) != b {
		t.Errorf("splitStream messages = %q, want %q and %q", msgs, a, b)
	}
	if string(rest) != "SIP/2.0 180 Ringing\r\nContent-" {
		t.Errorf("splitStream rest = %q", rest)
	}
	if msgs, rest := splitStream([]byte(a[:len(a)-1])); len(msgs) != 0 || len(rest) != len(a)-1 {
		t.Errorf("splitStream(short body) = %q, %q; want nothing complete", msgs, rest)
	}
}

func TestTopVia(t *testing.T) {
	tests := []struct {
		msg  string
		want via
	}{
		{"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\n\r\n", via{"UDP", 5070, "z9hG4bK1"}},
		{"OPTIONS sip:a SIP/2.0\r\nv: SIP/2.0/TCP h\r\nVia: SIP/2.0/UDP g:9;branch=z9hG4bK2\r\n\r\n", via{"TCP", 5060, ""}},
		{"INVITE sip:a SIP/2.0\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=390skdjuw\r\n\r\n", via{"UDP", 5060, "390skdjuw"}},
		{"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TLS h:5061;branch=z9hG4bKa, SIP/2.0/UDP g:9\r\n\r\n", via{"TLS", 5061, "z9hG4bKa"}},
		{"OPTIONS sip:a SIP/2.0\r\nTo: sip:a\r\n\r\n", via{"UDP", 5060, ""}},
	}
	for _, tt := range tests {
		if got := topVia([]byte(tt.msg)); got != tt.want {
			t.Errorf("topVia(%q) = %+v, want %+v", tt.msg, got, tt.want)
		}
	}
}
