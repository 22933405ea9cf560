package avmcu

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/tone"
)

func TestPlayIsHeardByOneLegOnly(t *testing.T) {
	for _, cd := range []codec.Codec{codec.PCMU, codec.G722} {
		t.Run(cd.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newMemHarness(t, Config{})
				defer h.stop()
				conf := h.e.Conference("c")
				a, b := h.newPeer("a", peerOpt{codec: cd}), h.newPeer("b", peerOpt{})
				a.join(conf)
				b.join(conf)
				talk([]*peer{a, b}, 300*time.Millisecond)

				const prompt = 1900
				a.leg.Play(sine(cd.SampleRate, prompt, 3000))
				time.Sleep(600 * time.Millisecond)
				// Mixed over the conference: a hears the prompt and b.
				hears(t, a, tail(a), map[float64]bool{prompt: true, tones[1]: true})
				hears(t, b, tail(b), map[float64]bool{prompt: false, tones[0]: true})

				a.leg.StopPlay()
				time.Sleep(600 * time.Millisecond)
				hears(t, a, tail(a), map[float64]bool{prompt: false, tones[1]: true})

				// A finite source stops by itself.
				clip := make([]int16, cd.SampleRate/5)
				copy(clip, sineSamples(cd.SampleRate, prompt, 3000, len(clip)))
				a.leg.Play(tone.NewClip(clip, false))
				time.Sleep(100 * time.Millisecond)
				mark := a.mark()
				time.Sleep(200 * time.Millisecond)
				if amp := amplitude(a.since(mark), cd.SampleRate, prompt); amp < 300 {
					t.Errorf("clip not heard: amplitude %.0f", amp)
				}
				time.Sleep(500 * time.Millisecond)
				hears(t, a, tail(a), map[float64]bool{prompt: false})
			})
		})
	}
}

func sineSamples(rate int, f, amp float64, n int) []int16 {
	src := sine(rate, f, amp)
	out := make([]int16, n)
	src.Read(out)
	return out
}

func TestUpdateRemoteMovesTheLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
		a.join(conf)
		b.join(conf)
		talk([]*peer{a, b}, 400*time.Millisecond)

		// a moves (a re-INVITE with a new c= and m= port): a fresh endpoint
		// takes over its stream.
		moved := h.newPeer("a2", peerOpt{})
		a.mu.Lock()
		moved.ssrc, moved.seq, moved.ts = a.ssrc, a.seq, a.ts
		a.mu.Unlock()
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: moved.addr}); err != nil {
			t.Fatal(err)
		}
		if got := a.leg.Remote(); got != moved.addr {
			t.Errorf("Remote() = %v, want %v", got, moved.addr)
		}
		moved.setSource(sine(8000, tones[2], 3000))
		moved.start()
		time.Sleep(100 * time.Millisecond)
		before := a.received()
		unknown := h.e.Load().Unknown
		time.Sleep(time.Second)
		if got := a.received() - before; got != 0 {
			t.Errorf("old address got %d packets after the move", got)
		}
		if moved.received() < 45 {
			t.Errorf("new address got %d packets, want ~55", moved.received())
		}
		if h.e.Load().Unknown <= unknown {
			t.Error("the old address's datagrams were not dropped as unknown")
		}
		hears(t, b, tail(b), map[float64]bool{tones[2]: true, tones[0]: false})
		hears(t, moved, tail(moved), map[float64]bool{tones[1]: true})
		// The address is free for another leg again.
		c := h.newPeer("c", peerOpt{})
		c.spec.Remote = a.addr
		if _, err := conf.AddLeg(c.spec); err != nil {
			t.Errorf("AddLeg at the address a left: %v", err)
		}
		// And a leg cannot move onto another's address.
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: b.addr}); err == nil {
			t.Error("UpdateRemote onto b's address succeeded")
		}
	})
}

func TestHoldStopsSendingAndResumeContinuesTheStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
		a.join(conf)
		b.join(conf)
		talk([]*peer{a, b}, 400*time.Millisecond)

		// a holds (a=sendonly): the MCU answers recvonly and stops sending.
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, Direction: RecvOnly}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		n := a.received()
		a.mu.Lock()
		lastSeq := a.seqs[len(a.seqs)-1]
		a.mu.Unlock()
		mark := b.mark()
		time.Sleep(time.Second)
		if got := a.received(); got != n {
			t.Errorf("held leg got %d packets on hold", got-n)
		}
		hears(t, b, b.since(mark), map[float64]bool{tones[0]: true}) // still mixed

		// SendOnly from the MCU's side: it sends, but a's audio is ignored.
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, Direction: SendOnly}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		mark = b.mark()
		time.Sleep(500 * time.Millisecond)
		hears(t, b, b.since(mark), map[float64]bool{tones[0]: false})
		a.mu.Lock()
		seqs := append([]uint16(nil), a.seqs...)
		a.mu.Unlock()
		if seqs[n] != lastSeq+1 {
			t.Errorf("first sequence after hold = %d, want %d: the stream continues", seqs[n], lastSeq+1)
		}
		hears(t, a, tail(a), map[float64]bool{tones[1]: true})
	})
}

func TestRekeyByUpdateRemote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b := h.newPeer("a", peerOpt{suite: sdes.SuiteAESCM80}), h.newPeer("b", peerOpt{})
		a.join(conf)
		b.join(conf)
		talk([]*peer{a, b}, 400*time.Millisecond)

		offer, _ := sdes.Offer([]sdes.Suite{sdes.SuiteGCM128})
		mcu, _ := sdes.Answer([]string{offer[0].String()}, nil)
		mine, _ := sdes.AcceptAnswer(offer, mcu.Local.String())
		sess, err := sdes.NewSession(mine)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, SRTP: &mcu}); err != nil {
			t.Fatal(err)
		}
		a.mu.Lock()
		a.rxMu.Lock()
		a.srtp = sess
		a.rxMu.Unlock()
		a.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		mark, markB := a.mark(), b.mark()
		time.Sleep(time.Second)
		hears(t, a, a.since(mark), map[float64]bool{tones[1]: true})
		hears(t, b, b.since(markB), map[float64]bool{tones[0]: true})
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, SRTP: &sdes.Negotiated{}}); err == nil {
			t.Error("UpdateRemote with unusable keys succeeded")
		}
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, Direction: 7}); err == nil {
			t.Error("UpdateRemote with a bad direction succeeded")
		}
	})
}

func TestRTCPReportsByeAndRTT(t *testing.T) {
	for _, opt := range []peerOpt{{}, {mux: true}, {suite: sdes.SuiteAESCM80}, {suite: sdes.SuiteGCM128, mux: true}} {
		name := "plain"
		if opt.suite != 0 {
			name = opt.suite.String()
		}
		if opt.mux {
			name += "/mux"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newMemHarness(t, Config{})
				defer h.stop()
				// 3 ms each way, so the round trip is measurable.
				h.net.delay = 3 * time.Millisecond
				conf := h.e.Conference("c")
				var rec recorder
				a := h.newPeer("a", opt)
				a.spec.Events = rec.events()
				a.join(conf)
				a.setSource(sine(8000, 500, 2000))
				a.start()
				time.Sleep(12 * time.Second)
				a.mu.Lock()
				srs := a.rtcpTypes[200]
				lastSR := a.lastSR
				a.mu.Unlock()
				if srs == 0 {
					t.Fatalf("no sender report from the MCU in 12 s")
				}
				// Answer the last SR with a receiver report (RFC 3550
				// §6.4.2) whose LSR and DLSR let the MCU time the trip.
				a.sendRTCP(receiverReport(a.ssrc, lastSR.ssrc, lastSR.ntpMiddle, time.Since(lastSR.at)))
				time.Sleep(100 * time.Millisecond)
				st := a.leg.Stats()
				if st.RTT < 5*time.Millisecond || st.RTT > 8*time.Millisecond {
					t.Errorf("RTT = %v, want about 6 ms", st.RTT)
				}
				if st.RxRTCP != 1 {
					t.Errorf("RxRTCP = %d, want 1", st.RxRTCP)
				}
				a.sendRTCP(bye(a.ssrc))
				time.Sleep(100 * time.Millisecond)
				if got := rec.snapshot().bye; got != 1 {
					t.Errorf("%d OnBye, want 1", got)
				}
			})
		})
	}
}

// receiverReport builds an RR with one report block (RFC 3550 §6.4.2).
func receiverReport(ssrc, about, lsr uint32, dlsr time.Duration) []byte {
	b := []byte{0x81, 201, 0, 7}
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = binary.BigEndian.AppendUint32(b, about)
	b = append(b, 0, 0, 0, 0)                                            // fraction and cumulative lost
	b = binary.BigEndian.AppendUint32(b, 0)                              // extended highest sequence
	b = binary.BigEndian.AppendUint32(b, 0)                              // jitter
	b = binary.BigEndian.AppendUint32(b, lsr)                            // LSR
	b = binary.BigEndian.AppendUint32(b, uint32(dlsr*65536/time.Second)) // DLSR
	return b
}

// bye builds an RTCP BYE for ssrc, after an empty RR as RFC 3550 §6.1
// wants of a compound packet.
func bye(ssrc uint32) []byte {
	b := []byte{0x80, 201, 0, 1}
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = append(b, 0x81, 203, 0, 1)
	return binary.BigEndian.AppendUint32(b, ssrc)
}

func TestSpeakingEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		var rec recorder
		a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
		a.spec.Events = rec.events()
		a.join(conf)
		b.join(conf)
		a.start()
		b.start()
		time.Sleep(500 * time.Millisecond)
		a.setSource(sine(8000, 500, 3000))
		time.Sleep(time.Second)
		a.setSource(nil)
		time.Sleep(time.Second)
		if got := rec.snapshot().speaking; len(got) != 2 || !got[0] || got[1] {
			t.Errorf("speaking events = %v, want [true false]", got)
		}
	})
}

func TestUpdateRemoteSwitchesRTCPMux(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		var rec recorder
		a := h.newPeer("a", peerOpt{})
		a.spec.Events = rec.events()
		a.join(conf)
		a.start()
		time.Sleep(200 * time.Millisecond)
		// From separate RTCP to rtcp-mux (RFC 5761 §5.1.3 in a re-offer).
		if err := a.leg.UpdateRemote(RemoteUpdate{Remote: a.addr, RTCPMux: true}); err != nil {
			t.Fatal(err)
		}
		a.opt.mux = true
		time.Sleep(100 * time.Millisecond)
		a.sendRTCP(bye(a.ssrc)) // now on the RTP port
		time.Sleep(100 * time.Millisecond)
		if got := rec.snapshot().bye; got != 1 {
			t.Errorf("%d OnBye for a BYE on the RTP port after the switch, want 1", got)
		}
		// The old RTCP address is no longer the leg's.
		old := netip.AddrPortFrom(a.addr.Addr(), a.addr.Port()+1)
		if h.e.rtcp.lookup(old) != nil {
			t.Errorf("RTCP address %v still routed after rtcp-mux", old)
		}
		// Reports now come to the RTP port: wait for one.
		a.mu.Lock()
		before := a.rtcpTypes[200] + a.rtcpTypes[201]
		a.mu.Unlock()
		time.Sleep(10 * time.Second)
		a.mu.Lock()
		after := a.rtcpTypes[200] + a.rtcpTypes[201]
		a.mu.Unlock()
		if after <= before {
			t.Errorf("no report on the RTP port in 10 s after switching to rtcp-mux")
		}
	})
}

func TestInactiveDirectionNeitherSendsNorMixes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b, c := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{codec: codec.PCMA}), h.newPeer("c", peerOpt{codec: codec.G722})
		a.spec.Direction = Inactive
		for _, p := range []*peer{a, b, c} {
			p.join(conf)
		}
		talk([]*peer{a, b, c}, time.Second)
		if got := a.received(); got != 0 {
			t.Errorf("inactive leg got %d packets", got)
		}
		// b (A-law, resampled from the 16 kHz mix) hears c but not a.
		hears(t, b, tail(b), map[float64]bool{tones[0]: false, tones[2]: true})
		hears(t, c, tail(c), map[float64]bool{tones[0]: false, tones[1]: true})
		// Stats still count what a sends.
		if st := a.leg.Stats(); st.RxPackets < 45 || st.TxPackets != 0 {
			t.Errorf("inactive leg stats %+v, want packets in and none out", st)
		}
	})
}
