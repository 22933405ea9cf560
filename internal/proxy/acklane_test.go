package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// laneACK is an ACK inside a dialog the proxy at proxyAddr record-routed,
// toward bob's flow at bobAddr: a Route entry of the proxy's with a valid
// token, as the caller copies it from the 2xx's Record-Route.
func laneACK(p *Proxy, proxyAddr, bobAddr, branch, callID string) string {
	return laneACKOver(p, proxyAddr, bobAddr, branch, callID, "UDP")
}

// laneACKOver is laneACK with bob reached over transport.
func laneACKOver(p *Proxy, proxyAddr, bobAddr, branch, callID, transport string) string {
	fl := flow{transport: transport, addr: bobAddr}.encode()
	route := "<sip:" + proxyAddr + ";transport=udp;lr;" + routeFlowParam + "=" + fl + ";" + routeTokenParam + "=" + p.routeToken(callID, fl) + ">"
	return "ACK sip:bob@" + bobAddr + ";transport=" + strings.ToLower(transport) + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=" + branch + ";rport\r\n" +
		"Route: " + route + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@example.com>;tag=a1\r\n" +
		"To: <sip:bob@example.com>;tag=b1\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 ACK\r\n" +
		"Content-Length: 0\r\n\r\n"
}

// terminatingTx is a server transaction whose end the test triggers.
type terminatingTx struct {
	fakeServerTx
	onTerminate sip.FnTxTerminate
}

func (f *terminatingTx) OnTerminate(fn sip.FnTxTerminate) bool {
	f.onTerminate = fn
	return true
}

func TestReadFilter(t *testing.T) {
	p := startProxy(t, defaultTestConfig(), newLocator())
	bob := newRawUA(t, "bob")
	udp := sip.TransportReadProps{
		Transport:  "UDP",
		LocalAddr:  net.UDPAddrFromAddrPort(bob.addr), // any address: the filter does not look
		RemoteAddr: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5070},
	}

	t.Run("dialog ACK taken and forwarded", func(t *testing.T) {
		ack := []byte(laneACK(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane1", "lane-1@test"))
		got, err := p.ReadFilter(udp, ack)
		if err != nil || got != nil {
			t.Fatalf("ReadFilter = %q, %v; want the ACK taken (nil, nil)", got, err)
		}
		if _, err := bob.read([]byte("lane-1@test"), firstACK, cseqACK); err != nil {
			t.Fatal(err)
		}
		via := header(bob.in, "Via")
		if want := "SIP/2.0/UDP " + p.udp + ";branch=" + branchPrefix; !bytes.HasPrefix(via, []byte(want)) {
			t.Errorf("top Via = %q, want the proxy's (%s...)", via, want)
		}
		if r := header(bob.in, "Route"); r != nil {
			t.Errorf("forwarded ACK still has Route %q", r)
		}
	})

	passed := []struct {
		name  string
		props sip.TransportReadProps
		data  string
	}{
		{name: "TCP", props: sip.TransportReadProps{Transport: "TCP", RemoteAddr: udp.RemoteAddr},
			data: laneACK(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane2", "lane-2@test")},
		{name: "not an ACK", props: udp,
			data: strings.Replace(laneACK(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane3", "lane-3@test"), "ACK ", "BYE ", 1)},
		{name: "forged token", props: udp,
			// The token was made for another Call-ID.
			data: strings.Replace(laneACK(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane4", "lane-4@test"), "Call-ID: lane-4@test", "Call-ID: other@test", 1)},
		{name: "no Route", props: udp,
			data: "ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKlane5\r\n" +
				"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: lane-5@test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"},
		{name: "RFC 2543 branch", props: udp,
			data: laneACK(p.Proxy, p.udp, bob.addr.String(), "old2543", "lane-6@test")},
		{name: "malformed", props: udp, data: "ACK nonsense\r\n\r\n"},
		// Sending on could mean a connection set-up on the read loop.
		{name: "next hop over TCP", props: udp,
			data: laneACKOver(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane8", "lane-8@test", "TCP")},
	}
	for _, tt := range passed {
		t.Run(tt.name+" passed on", func(t *testing.T) {
			data := []byte(tt.data)
			got, err := p.ReadFilter(tt.props, data)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadFilter = %q, %v; want the datagram back unchanged", got, err)
			}
		})
	}

	t.Run("ACK of a live INVITE transaction passed on", func(t *testing.T) {
		inv := parseRequest(t, "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKlane7\n"+
			"From: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: lane-7@test\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
		tx := &terminatingTx{}
		p.laneOn.Store(true) // as the first datagram through ReadFilter does
		p.trackInvite(inv, tx)
		ack := []byte(laneACK(p.Proxy, p.udp, bob.addr.String(), "z9hG4bKlane7", "lane-7@test"))
		if got, _ := p.ReadFilter(udp, ack); !bytes.Equal(got, ack) {
			t.Fatalf("ACK with the branch of a live INVITE transaction: ReadFilter = %q, want it passed on to the transaction", got)
		}
		tx.onTerminate("", nil)
		if got, _ := p.ReadFilter(udp, ack); got != nil {
			t.Fatalf("ACK after the INVITE transaction ended: ReadFilter = %q, want it taken", got)
		}
	})
}

// FuzzReadFilter feeds arbitrary datagrams to the ACK lane: it must never
// panic, and must either take a datagram or hand it back unchanged. The
// proxy has no listener and a resolver that cannot reach any server, so
// nothing leaves the process.
func FuzzReadFilter(f *testing.F) {
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in fuzz tests")
	}}
	ua, err := sipgo.NewUA(sipgo.WithUserAgentDNSResolver(noDNS))
	if err != nil {
		f.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		f.Fatal(err)
	}
	p := New(Config{Hostname: "127.0.0.1", RecordRoute: true, RouteSecret: []byte("fuzz")},
		sipx.NewLocal([]string{"example.com"}, []string{"127.0.0.1"}), anyLocator{}, cli, nil)
	f.Add(laneACK(p, "127.0.0.1:5060", "127.0.0.1:9", "z9hG4bKf1", "fuzz-1@test"))
	f.Add("ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKf2\r\nCSeq: 1 ACK\r\n\r\n")
	f.Add("ACK ")
	props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5070}}
	f.Fuzz(func(t *testing.T, raw string) {
		data := []byte(raw)
		got, err := p.ReadFilter(props, data)
		if err != nil {
			t.Fatalf("ReadFilter failed: %v", err)
		}
		if got != nil && !bytes.Equal(got, []byte(raw)) {
			t.Fatalf("ReadFilter changed the datagram: %q -> %q", raw, got)
		}
	})
}

// TestInviteTracking checks which INVITE transactions the ACK lane leaves
// their ACK to: one answered non-2xx keeps its ACK (it stops the
// retransmissions of the final response, RFC 3261 §17.2.1), one answered
// 2xx does not, from before the 2xx leaves (its ACK is end to end). With
// no lane nothing is tracked.
func TestInviteTracking(t *testing.T) {
	for _, tt := range []struct {
		name   string
		noLane bool
		answer behaviour
		code   int
		live   bool
	}{
		{name: "2xx", answer: answerNow, code: 200, live: false},
		{name: "non-2xx", answer: reject(486, "Busy Here"), code: 486, live: true},
		{name: "non-2xx without the lane", noLane: true, answer: reject(486, "Busy Here"), code: 486, live: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			loc := newLocator()
			p := startProxyLane(t, defaultTestConfig(), loc, !tt.noLane)
			bob := newUA(t, "bob", "UDP", tt.answer)
			loc.bind(bobAOR, bob.target())
			alice := newUA(t, "alice", "UDP", nil)
			inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
			res := final(t, alice.send(inv))
			if res.StatusCode != tt.code {
				t.Fatalf("INVITE: got %d, want %d", res.StatusCode, tt.code)
			}
			key, ok := inviteKey(inv)
			if !ok {
				t.Fatalf("no key for the INVITE's Via %q", inv.Via().Value())
			}
			if got := p.inviteLive(key); got != tt.live {
				t.Errorf("after a %d, inviteLive = %v, want %v", tt.code, got, tt.live)
			}
		})
	}
}
