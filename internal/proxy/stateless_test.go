package proxy

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestViaAddr(t *testing.T) {
	tests := []struct {
		via  string
		want string
	}{
		{"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1", "192.0.2.1:5070"},
		{"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "192.0.2.1:5060"},
		{"SIP/2.0/TLS host.example;branch=z9hG4bK1", "host.example:5061"},
		{"SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.9", "192.0.2.9:5070"},
		{"SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.9;rport=40000", "192.0.2.9:40000"},
		{"SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1", "[2001:db8::1]:5070"},
	}
	for _, tt := range tests {
		msg := "SIP/2.0 200 OK\r\nVia: " + tt.via + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(msg))
		if err != nil {
			t.Fatalf("%s: %v", tt.via, err)
		}
		if got := viaAddr(m.Via()); got != tt.want {
			t.Errorf("viaAddr(%s) = %s, want %s", tt.via, got, tt.want)
		}
	}
}

func TestUpstreamAddr(t *testing.T) {
	tests := []struct {
		transport, source, via, want string
	}{
		{"UDP", "192.0.2.9:40000", "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1", "192.0.2.9:5070"},
		{"UDP", "192.0.2.9:40000", "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport", "192.0.2.9:40000"},
		{"UDP", "192.0.2.9:40000", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", "192.0.2.9:5060"},
		{"TCP", "192.0.2.9:40000", "SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1", "192.0.2.9:40000"},
	}
	for _, tt := range tests {
		msg := "OPTIONS sip:example.com SIP/2.0\r\nVia: " + tt.via + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetTransport(tt.transport)
		req.SetSource(tt.source)
		if got := upstreamAddr(req); got != tt.want {
			t.Errorf("upstreamAddr(%s via %s) = %s, want %s", tt.source, tt.via, got, tt.want)
		}
	}
}

func strayResponse(t *testing.T, p *testProxy, status string, method string, upstream string) []byte {
	t.Helper()
	return []byte("SIP/2.0 " + status + "\r\n" +
		"Via: SIP/2.0/UDP " + p.udp + ";branch=" + branchPrefix + "abc.def\r\n" +
		"Via: SIP/2.0/UDP " + upstream + ";branch=z9hG4bKup\r\n" +
		"From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\n" +
		"Call-ID: stray@test\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n")
}

func TestStrayResponses(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	up := "192.0.2.7:5070"
	tests := []struct {
		name, status, method string
		forward              bool
	}{
		{"2xx to INVITE", "200 OK", "INVITE", true},
		{"non-2xx to INVITE", "486 Busy Here", "INVITE", false},
		{"2xx to BYE", "200 OK", "BYE", false},
	}
	for _, tt := range tests {
		m, err := sip.ParseMessage(strayResponse(t, p, tt.status, tt.method, up))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.strayForward(m.(*sip.Response))
		if (err == nil) != tt.forward {
			t.Errorf("%s: forwarded = %v (%v), want %v", tt.name, err == nil, err, tt.forward)
			continue
		}
		if out != nil && (viaCount(out) != 1 || out.Destination() != up) {
			t.Errorf("%s: %d Via, destination %s; want 1 and %s", tt.name, viaCount(out), out.Destination(), up)
		}
	}
	// A 2xx whose top Via is someone else's is not ours to forward.
	foreign := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=" + branchPrefix + "x.y\r\n" +
		"Via: SIP/2.0/UDP " + up + ";branch=z9hG4bKup\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(foreign))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.strayForward(m.(*sip.Response)); !errors.Is(err, errNotOurVia) {
		t.Errorf("2xx whose top Via is not ours: error %v, want errNotOurVia", err)
	}
}

// TestStray2xxOnTheWire sends a 2xx that matches no transaction to the
// proxy and expects it upstream with the proxy's Via removed.
func TestStray2xxOnTheWire(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	up, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	to, err := net.ResolveUDPAddr("udp", p.udp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.WriteTo(strayResponse(t, p, "200 OK", "INVITE", up.LocalAddr().String()), to); err != nil {
		t.Fatal(err)
	}
	if err := up.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, err := up.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no forwarded response: %v", err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	res, ok := m.(*sip.Response)
	if !ok || res.StatusCode != 200 || viaCount(res) != 1 {
		t.Fatalf("forwarded %q with %d Via, want a 200 with 1", buf[:n], viaCount(m))
	}
}
