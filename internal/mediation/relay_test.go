package mediation

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/media/sdes"
)

// srtpPair returns the two ends of one SDES negotiation: ours (the relay's
// front-end side) and the peer's.
func srtpPair(tb testing.TB) (ours, theirs *sdes.Session) {
	tb.Helper()
	offered, err := sdes.Offer([]sdes.Suite{sdes.SuiteAESCM80})
	if err != nil {
		tb.Fatal(err)
	}
	peer, err := sdes.Answer([]string{offered[0].String()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	mine, err := sdes.AcceptAnswer(offered, peer.Local.String())
	if err != nil {
		tb.Fatal(err)
	}
	if ours, err = sdes.NewSession(mine); err != nil {
		tb.Fatal(err)
	}
	if theirs, err = sdes.NewSession(peer); err != nil {
		tb.Fatal(err)
	}
	return ours, theirs
}

var (
	gwAddr = netip.MustParseAddrPort("127.0.0.1:4000")
	feAddr = netip.MustParseAddrPort("127.0.0.1:5000")
)

// testSides are a gateway side (PCMU 0, events 100) and a front-end side
// (PCMU 0, events 101, SRTP), configured as after a call's set-up.
func testSides(tb testing.TB) (gw, fe *side, peerSRTP *sdes.Session) {
	tb.Helper()
	ours, theirs := srtpPair(tb)
	gw, fe = &side{name: "gateway"}, &side{name: "front end"}
	now := time.Now()
	gw.configure(peer{Remote: gwAddr, RemoteRTCP: gwAddr, Mux: true, Send: true, Receive: true,
		AudioPT: 0, EventPT: 100, InAudioPT: 0, InEventPT: 100}, now)
	fe.configure(peer{Remote: feAddr, RemoteRTCP: netip.MustParseAddrPort("127.0.0.1:5001"), Send: true, Receive: true,
		SRTP: ours, AudioPT: 0, EventPT: 96, InAudioPT: 0, InEventPT: 101}, now)
	return gw, fe, theirs
}

func rtpPacket(tb testing.TB, pt uint8, marker bool, seq uint16, payload []byte) []byte {
	tb.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: seq, Timestamp: 160 * uint32(seq), SSRC: 0xabcdef01}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func scratch() (plain, out []byte) {
	return make([]byte, maxPacket), make([]byte, maxPacket+srtpSlack)
}

func TestForwardGatewayToFrontEnd(t *testing.T) {
	gw, fe, peerSRTP := testSides(t)
	plain, out := scratch()
	voice := bytes.Repeat([]byte{0x7f}, 160)
	for i, tc := range []struct {
		name   string
		pt     uint8
		marker bool
		wantPT uint8
	}{
		{"audio", 0, false, 0},
		{"telephone-event with marker", 100, true, 96},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := rtpPacket(t, tc.pt, tc.marker, uint16(7+i), voice)
			send, dst, ok := forward(gw, fe, pkt, gwAddr, 1, plain, out)
			if !ok || dst != feAddr {
				t.Fatalf("forward = %v to %s, want a packet to %s", ok, dst, feAddr)
			}
			dec, err := peerSRTP.DecryptRTP(nil, send, nil)
			if err != nil {
				t.Fatalf("the front end cannot decrypt: %v", err)
			}
			var p rtp.Packet
			if err := p.Unmarshal(dec); err != nil {
				t.Fatal(err)
			}
			if p.PayloadType != tc.wantPT || p.Marker != tc.marker || !bytes.Equal(p.Payload, voice) || p.SSRC != 0xabcdef01 {
				t.Errorf("got PT %d marker %v SSRC %x, want PT %d marker %v, SSRC and payload passed through",
					p.PayloadType, p.Marker, p.SSRC, tc.wantPT, tc.marker)
			}
		})
	}
}

func TestForwardFrontEndToGateway(t *testing.T) {
	gw, fe, peerSRTP := testSides(t)
	plain, out := scratch()
	// The front end sends with our offer's event type, 101.
	for i, pt := range []uint8{0, 101} {
		enc, err := peerSRTP.EncryptRTP(nil, rtpPacket(t, pt, false, uint16(10+i), []byte{1, 2, 3}), nil)
		if err != nil {
			t.Fatal(err)
		}
		send, dst, ok := forward(fe, gw, enc, feAddr, 1, plain, out)
		if !ok || dst != gwAddr {
			t.Fatalf("PT %d: forward = %v to %s", pt, ok, dst)
		}
		want := map[uint8]uint8{0: 0, 101: 100}[pt]
		if got := send[1] & 0x7f; got != want || !bytes.Equal(send[12:], []byte{1, 2, 3}) {
			t.Errorf("PT %d reached the gateway as %d, want %d, plain", pt, got, want)
		}
	}
	// A forged packet does not decrypt: dropped, and the address is not
	// latched.
	forged := append(rtpPacket(t, 0, false, 99, []byte{9, 9, 9}), make([]byte, 10)...)
	if _, _, ok := forward(fe, gw, forged, netip.MustParseAddrPort("192.0.2.1:9"), 1, plain, out); ok {
		t.Fatal("an unauthenticated packet was relayed")
	}
	if fe.remote != feAddr {
		t.Errorf("a forged packet moved the front end's address to %s", fe.remote)
	}
}

func TestForwardLatchesAndDrops(t *testing.T) {
	gw, fe, _ := testSides(t)
	plain, out := scratch()
	moved := netip.MustParseAddrPort("127.0.0.1:4444")
	if _, _, ok := forward(gw, fe, rtpPacket(t, 0, false, 1, []byte{1}), moved, 42, plain, out); !ok {
		t.Fatal("not relayed")
	}
	if gw.remote != moved || gw.remoteRTCP != moved || gw.lastRx.Load() != 42 {
		t.Errorf("after a packet from %s: remote %s, RTCP %s, lastRx %d; want the source latched (mux) and the time", moved, gw.remote, gw.remoteRTCP, gw.lastRx.Load())
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"short", []byte{0x80, 0, 1}},
		{"version 1", append([]byte{0x40}, make([]byte, 20)...)},
		{"unknown payload type", rtpPacket(t, 18, false, 2, []byte{1})},
	} {
		if _, _, ok := forward(gw, fe, tc.pkt, moved, 43, plain, out); ok {
			t.Errorf("%s: relayed", tc.name)
		}
	}
	// Hold: the gateway does not receive; nothing is sent to it.
	gw.configure(peer{Remote: gwAddr, Send: false, Receive: true, AudioPT: 0, EventPT: -1, InAudioPT: 0, InEventPT: -1}, time.Now())
	fe.configure(peer{Remote: feAddr, Send: true, Receive: true, AudioPT: 0, EventPT: -1, InAudioPT: 0, InEventPT: -1}, time.Now())
	if _, _, ok := forward(fe, gw, rtpPacket(t, 0, false, 5, []byte{1}), feAddr, 1, plain, out); ok {
		t.Error("relayed toward a side on hold")
	}
}

func TestForwardRTCP(t *testing.T) {
	gw, fe, peerSRTP := testSides(t)
	plain, out := scratch()
	// A receiver report from the gateway (RFC 3550 §6.4.2), no blocks.
	rr := []byte{0x80, 201, 0, 1, 0xab, 0xcd, 0xef, 0x01}
	rtcpSrc := netip.MustParseAddrPort("127.0.0.1:4001")
	send, dst, ok := forward(gw, fe, append([]byte(nil), rr...), rtcpSrc, 1, plain, out)
	if !ok || dst != netip.MustParseAddrPort("127.0.0.1:5001") {
		t.Fatalf("RTCP forward = %v to %s, want the front end's RTCP port", ok, dst)
	}
	dec, err := peerSRTP.DecryptRTCP(nil, send)
	if err != nil || !bytes.Equal(dec, rr) {
		t.Fatalf("SRTCP = %x, %v; want %x", dec, err, rr)
	}
	if !isRTCP(rr) || isRTCP(rtpPacket(t, 0, true, 1, nil)) {
		t.Error("isRTCP misclassifies")
	}
}

func TestRelayIdle(t *testing.T) {
	gw, fe, _ := testSides(t)
	r := &relay{gw: gw, fe: fe}
	now := time.Now()
	gw.lastRx.Store(now.UnixNano())
	fe.lastRx.Store(now.Add(-2 * time.Second).UnixNano())
	if got := r.idle(now, time.Second); got != "front end" {
		t.Errorf("idle = %q, want front end", got)
	}
	fe.expectRx.Store(false) // on hold: not expected to send
	if got := r.idle(now, time.Second); got != "" {
		t.Errorf("idle with the silent side on hold = %q, want none", got)
	}
}

func BenchmarkForwardGatewayToFrontEnd(b *testing.B) {
	gw, fe, _ := testSides(b)
	plain, out := scratch()
	pkt := rtpPacket(b, 0, false, 1, bytes.Repeat([]byte{0x55}, 160))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, ok := forward(gw, fe, pkt, gwAddr, 1, plain, out); !ok {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkForwardFrontEndToGateway(b *testing.B) {
	gw, fe, peerSRTP := testSides(b)
	plain, out := scratch()
	pkts := make([][]byte, 4096)
	for i := range pkts {
		enc, err := peerSRTP.EncryptRTP(nil, rtpPacket(b, 0, false, uint16(i), bytes.Repeat([]byte{0x55}, 160)), nil)
		if err != nil {
			b.Fatal(err)
		}
		pkts[i] = enc
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// The replay window refuses repeats: re-key once the prepared
		// packets are used up.
		if i == len(pkts) {
			b.StopTimer()
			gw, fe, peerSRTP = testSides(b)
			for j := range pkts {
				pkts[j], _ = peerSRTP.EncryptRTP(nil, rtpPacket(b, 0, false, uint16(j), bytes.Repeat([]byte{0x55}, 160)), nil)
			}
			i = 0
			b.StartTimer()
		}
		if _, _, ok := forward(fe, gw, pkts[i], feAddr, 1, plain, out); !ok {
			b.Fatal("dropped")
		}
		i++
	}
}

func FuzzForward(f *testing.F) {
	f.Add(append([]byte{0x80, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4}, make([]byte, 160)...))
	f.Add([]byte{0x80, 201, 0, 1, 0xab, 0xcd, 0xef, 0x01})
	f.Add([]byte{0x90, 100, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 0, 0, 0, 1, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		gw, fe, _ := testSides(t)
		plain, out := scratch()
		if len(pkt) > maxPacket {
			pkt = pkt[:maxPacket]
		}
		// Plain side: anything goes, nothing panics, output is bounded.
		if send, _, ok := forward(gw, fe, append([]byte(nil), pkt...), gwAddr, 1, plain, out); ok && len(send) > maxPacket+srtpSlack {
			t.Fatalf("output of %d bytes", len(send))
		}
		// SRTP side: random bytes never authenticate.
		if _, _, ok := forward(fe, gw, append([]byte(nil), pkt...), feAddr, 1, plain, out); ok {
			t.Fatal("random bytes passed SRTP authentication")
		}
	})
}
