package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// registerFor is a REGISTER of alice from laddr over transport.
func registerFor(transport, laddr, branch string) []byte {
	return sipMessage(
		"REGISTER sip:parley.test SIP/2.0",
		"Via: SIP/2.0/"+transport+" "+laddr+";branch=z9hG4bK"+branch+";rport",
		"Max-Forwards: 70",
		"From: <sip:alice@parley.test>;tag=a1",
		"To: <sip:alice@parley.test>",
		"Call-ID: "+branch+"@test",
		"CSeq: 1 REGISTER",
		"Contact: <sip:alice@"+laddr+">",
		"Content-Length: 0")
}

// TestServerRegisterUDPRetransmission sends a REGISTER and its
// retransmission to a running server: the second answer must be the
// first byte for byte (the digest challenge carries a fresh nonce, so
// handling the request twice would show).
func TestServerRegisterUDPRetransmission(t *testing.T) {
	info, _ := startServer(t, true)
	conn, err := net.Dial("udp", info.SIPUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := registerFor("UDP", conn.LocalAddr().String(), "retrans-1")
	buf := make([]byte, 4096)
	var answers []string
	for range 2 {
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		answers = append(answers, string(buf[:n]))
	}
	if !strings.HasPrefix(answers[0], "SIP/2.0 401 ") {
		t.Fatalf("answer:\n%s\nwant 401", answers[0])
	}
	if answers[1] != answers[0] {
		t.Errorf("retransmission answered\n%s\nwant the first answer again:\n%s", answers[1], answers[0])
	}
}

// TestServerRegisterTCP sends a REGISTER and then an OPTIONS on one TCP
// connection: the REGISTER is answered by the front end, the OPTIONS by
// sipgo's side, both on the connection.
func TestServerRegisterTCP(t *testing.T) {
	info, _ := startServer(t, true)
	conn, err := net.Dial("tcp", info.SIPTCP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	laddr := conn.LocalAddr().String()
	options := sipMessage(
		"OPTIONS sip:"+info.SIPTCP+" SIP/2.0",
		"Via: SIP/2.0/TCP "+laddr+";branch=z9hG4bK-opt-1",
		"Max-Forwards: 70", "From: <sip:probe@example.org>;tag=1", "To: <sip:"+info.SIPTCP+">",
		"Call-ID: options-tcp@test", "CSeq: 1 OPTIONS", "Content-Length: 0")
	if _, err := conn.Write(append(registerFor("TCP", laddr, "tcp-1"), options...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	got := map[string]int{}
	for range 2 {
		res, err := readResponse(r)
		if err != nil {
			t.Fatal(err)
		}
		got[string(res.CSeq().MethodName)] = res.StatusCode
	}
	if got["REGISTER"] != 401 || got["OPTIONS"] != 200 {
		t.Errorf("answers %v, want REGISTER 401 and OPTIONS 200", got)
	}
}

// readResponse reads one response from a stream.
func readResponse(r *bufio.Reader) (*sip.Response, error) {
	var b strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		b.WriteString(line)
		if lower := strings.ToLower(line); strings.HasPrefix(lower, "content-length:") {
			length, _ = strconv.Atoi(strings.TrimSpace(line[len("content-length:"):]))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	b.Write(body)
	m, err := sip.ParseMessage([]byte(b.String()))
	if err != nil {
		return nil, err
	}
	return m.(*sip.Response), nil
}

// TestServerRegisterAmbiguous sends a REGISTER with two Expires headers:
// the front end leaves it to sipgo's path, where it is refused as any
// ambiguous request is (RFC 4475 §3.3.8).
func TestServerRegisterAmbiguous(t *testing.T) {
	info, _ := startServer(t, true)
	conn, err := net.Dial("udp", info.SIPUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := bytes.Replace(registerFor("UDP", conn.LocalAddr().String(), "ambiguous-1"),
		[]byte("Content-Length: 0"), []byte("Expires: 60\r\nExpires: 0\r\nContent-Length: 0"), 1)
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 400 ") {
		t.Errorf("answer:\n%s\nwant 400", got)
	}
}
