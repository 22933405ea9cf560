package avmcu

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/sdes"
)

func TestRestartMidCallKeepsAudio(t *testing.T) {
	cases := []struct {
		name    string
		restart func(p *peer)
	}{
		{"new SSRC and sequence", func(p *peer) { p.ssrc, p.seq, p.ts = 0xABCDEF, 40000, 900000 }},
		{"sequence jump", func(p *peer) { p.seq += 30000 }},
		{"timestamp jump", func(p *peer) { p.ts += 8000 * 60 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newMemHarness(t, Config{})
				defer h.stop()
				conf := h.e.Conference("c")
				a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
				a.join(conf)
				b.join(conf)
				talk([]*peer{a, b}, 500*time.Millisecond)
				a.mu.Lock()
				tc.restart(a)
				a.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
				mark := b.mark()
				time.Sleep(time.Second)
				hears(t, b, b.since(mark), map[float64]bool{tones[0]: true})
				st := a.leg.Stats()
				if st.Lost > 2 || st.Lost < -2 {
					t.Errorf("after the restart Lost = %d, want about 0", st.Lost)
				}
				if st.Concealed > 5 {
					t.Errorf("Concealed = %d frames, want at most a few", st.Concealed)
				}
			})
		})
	}
}

// junk returns garbage datagrams of every kind the inbound path refuses.
func junk(p *peer) [][]byte {
	var out [][]byte
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		b := make([]byte, rnd.IntN(300))
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		out = append(out, b)
	}
	out = append(out, []byte{}, []byte{0x80}, make([]byte, 11), make([]byte, maxDatagram-1))
	p.mu.Lock()
	defer p.mu.Unlock()
	// Wrong payload type, padding longer than the packet, a CSRC count
	// past the end, an extension past the end.
	bad := p.packet(33, false, p.ts, make([]byte, 160))
	out = append(out, bad)
	pad := p.packet(0, false, p.ts, []byte{1, 2, 200})
	pad[0] |= 0x20
	cc := p.packet(0, false, p.ts, nil)
	cc[0] |= 0x0F
	ext := p.packet(0, false, p.ts, nil)
	ext[0] |= 0x10
	out = append(out, pad, cc, ext)
	return out
}

func TestHostileLegDoesNotDisturbOthers(t *testing.T) {
	for _, suite := range []sdes.Suite{0, sdes.SuiteAESCM80} {
		t.Run(suite.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newMemHarness(t, Config{Speakers: mix.AllSpeakers})
				defer h.stop()
				conf := h.e.Conference("c")
				good := []*peer{h.newPeer("a", peerOpt{suite: suite}), h.newPeer("b", peerOpt{}), h.newPeer("c", peerOpt{suite: suite})}
				bad := h.newPeer("bad", peerOpt{suite: suite})
				stranger := h.newPeer("stranger", peerOpt{}) // never joins
				for _, p := range good {
					p.join(conf)
				}
				bad.join(conf)
				talk(append(good, bad), 500*time.Millisecond)
				before := make([]LegStats, len(good))
				got := make([]int, len(good))
				for i, p := range good {
					before[i], got[i] = p.leg.Stats(), p.received()
				}

				// One second of abuse, interleaved with normal traffic.
				flood := junk(bad)
				for range 50 {
					for _, pkt := range flood {
						bad.sendRaw(pkt)
						stranger.sendRaw(pkt)
					}
					bad.mu.Lock()
					// A flood of well-formed packets: a stray SSRC and
					// many copies of the leg's own stream.
					ssrc := bad.ssrc
					bad.ssrc = 0xBAD
					stray := bad.packet(0, false, 1, make([]byte, 160))
					bad.ssrc = ssrc
					var dup [][]byte
					for range 40 {
						dup = append(dup, bad.packet(0, false, bad.ts, make([]byte, 160)))
					}
					bad.mu.Unlock()
					bad.sendRaw(stray)
					for _, d := range dup {
						bad.sendRaw(d)
					}
					time.Sleep(codecFrame)
				}
				time.Sleep(100 * time.Millisecond)

				for i, p := range good {
					st := p.leg.Stats()
					if d := st.RxPackets - before[i].RxPackets; d < 54 || d > 56 {
						t.Errorf("%s: received %d packets in 1.1 s, want 55", p.name, d)
					}
					if st.Dropped != 0 || st.Lost != 0 || st.Concealed != before[i].Concealed || st.Late != 0 {
						t.Errorf("%s: stats %+v, want no drops, loss, concealment or late packets", p.name, st)
					}
					if d := p.received() - got[i]; d < 54 || d > 56 {
						t.Errorf("%s: got %d packets from the MCU in 1.1 s, want 55", p.name, d)
					}
					want := map[float64]bool{}
					for j := range good {
						want[tones[j]] = i != j
					}
					hears(t, p, tail(p), want)
				}
				if st := bad.leg.Stats(); st.Dropped == 0 {
					t.Errorf("hostile leg: stats %+v, want drops counted", st)
				}
				if l := h.e.Load(); l.Unknown == 0 {
					t.Errorf("Load().Unknown = 0, want the stranger's datagrams counted")
				}
			})
		})
	}
}

func TestErrFullRefusesNewLegsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{MaxLegs: 3})
		defer h.stop()
		c1, c2 := h.e.Conference("c1"), h.e.Conference("c2")
		a, b, c := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{}), h.newPeer("c", peerOpt{})
		a.join(c1)
		b.join(c1)
		c.join(c2)
		talk([]*peer{a, b, c}, 300*time.Millisecond)
		d := h.newPeer("d", peerOpt{})
		if _, err := c1.AddLeg(d.spec); !errors.Is(err, ErrFull) {
			t.Fatalf("AddLeg past MaxLegs: %v, want ErrFull", err)
		}
		if _, err := h.e.Conference("c3").AddLeg(d.spec); !errors.Is(err, ErrFull) {
			t.Fatalf("AddLeg past MaxLegs in another conference: %v, want ErrFull", err)
		}
		if l := h.e.Load(); l.Legs != 3 || l.MaxLegs != 3 {
			t.Errorf("Load() = %+v, want 3 of 3 legs", l)
		}
		mark := b.mark()
		time.Sleep(500 * time.Millisecond)
		hears(t, b, b.since(mark), map[float64]bool{tones[0]: true})

		c.leg.Remove()
		c.leg.Remove() // twice is harmless
		if _, err := c1.AddLeg(d.spec); err != nil {
			t.Fatalf("AddLeg after a Remove: %v", err)
		}
	})
}

func TestAddLegRefusesBadSpecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		p := h.newPeer("a", peerOpt{})
		p.join(conf)
		cases := []struct {
			name   string
			change func(s *LegSpec)
			want   error
		}{
			{"no codec", func(s *LegSpec) { s.Codec.Name = "" }, ErrLegSpec},
			{"payload type", func(s *LegSpec) { s.PayloadType = 128 }, ErrLegSpec},
			{"static telephone-event", func(s *LegSpec) { s.TelephoneEvent = 8 }, ErrLegSpec},
			{"telephone-event equals audio", func(s *LegSpec) { s.PayloadType, s.TelephoneEvent = 101, 101 }, ErrLegSpec},
			{"direction", func(s *LegSpec) { s.Direction = 9 }, ErrLegSpec},
			{"no remote", func(s *LegSpec) { s.Remote = netipMust("0.0.0.0:0") }, ErrLegSpec},
			{"port zero", func(s *LegSpec) { s.Remote = netipMust("10.0.0.9:0") }, ErrLegSpec},
			{"other family", func(s *LegSpec) { s.Remote = netipMust("[2001:db8::1]:4000") }, ErrLegSpec},
			{"RTCP family", func(s *LegSpec) {
				s.Remote = netipMust("10.0.0.9:4000")
				s.RemoteRTCP = netipMust("[2001:db8::1]:4001")
			}, ErrLegSpec},
			{"no RTCP port", func(s *LegSpec) { s.Remote = netipMust("10.0.0.9:65535") }, ErrLegSpec},
			{"bad keys", func(s *LegSpec) { s.Remote = netipMust("10.0.0.9:4000"); s.SRTP = &sdes.Negotiated{} }, ErrLegSpec},
			{"address in use", func(_ *LegSpec) {}, ErrAddressInUse},
			{"RTCP address in use", func(s *LegSpec) { s.Remote = netipMust("10.0.0.9:4000"); s.RemoteRTCP = netipMust("10.0.0.2:6001") }, ErrAddressInUse},
		}
		for _, tc := range cases {
			s := p.spec
			tc.change(&s)
			l, err := conf.AddLeg(s)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: AddLeg: %v, want %v", tc.name, err, tc.want)
			}
			if l != nil {
				t.Errorf("%s: AddLeg returned a leg with the error", tc.name)
			}
		}
		if got := h.e.Load().Legs; got != 1 {
			t.Errorf("Load().Legs = %d after refused specs, want 1", got)
		}
		if got := len(conf.Legs()); got != 1 {
			t.Errorf("Legs() has %d, want 1", got)
		}
	})
}

func TestInactivityFiresOncePerSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{InactivityTimeout: 3 * time.Second})
		defer h.stop()
		conf := h.e.Conference("c")
		var silentRec, talkRec, holdRec recorder
		silent, talker, held := h.newPeer("silent", peerOpt{}), h.newPeer("talker", peerOpt{}), h.newPeer("held", peerOpt{})
		silent.spec.Events, talker.spec.Events, held.spec.Events = silentRec.events(), talkRec.events(), holdRec.events()
		for _, p := range []*peer{silent, talker, held} {
			p.join(conf)
		}
		silent.mute, held.mute = true, true
		for _, p := range []*peer{silent, talker, held} {
			p.start()
		}
		// The held leg sends only RTCP, every 2 s.
		rr := []byte{0x80, 201, 0, 1, 0, 0, 0x10, 2}
		for range 3 {
			held.sendRTCP(rr)
			time.Sleep(2 * time.Second)
		}
		if got := silentRec.snapshot().inactive; got != 1 {
			t.Errorf("silent leg: %d OnInactive after 6 s, want 1", got)
		}
		if got := holdRec.snapshot().inactive; got != 0 {
			t.Errorf("leg sending RTCP only: %d OnInactive, want 0", got)
		}
		time.Sleep(4 * time.Second)
		if got := silentRec.snapshot().inactive; got != 1 {
			t.Errorf("silent leg: %d OnInactive after 10 s, want still 1", got)
		}
		if got := holdRec.snapshot().inactive; got != 1 {
			t.Errorf("leg whose RTCP stopped at 4 s: %d OnInactive at 10 s, want 1", got)
		}
		if got := talkRec.snapshot().inactive; got != 0 {
			t.Errorf("talking leg: %d OnInactive, want 0", got)
		}
		// Media resumes, then stops again: reported again.
		silent.mu.Lock()
		silent.mute = false
		silent.mu.Unlock()
		time.Sleep(2 * time.Second)
		silent.mu.Lock()
		silent.mute = true
		silent.mu.Unlock()
		time.Sleep(5 * time.Second)
		if got := silentRec.snapshot().inactive; got != 2 {
			t.Errorf("silent leg: %d OnInactive after a second silence, want 2", got)
		}
	})
}

func TestHeldLegWithRTCPIsNotInactive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{InactivityTimeout: 3 * time.Second})
		defer h.stop()
		conf := h.e.Conference("c")
		var rec recorder
		held := h.newPeer("held", peerOpt{mux: true})
		held.spec.Events = rec.events()
		held.join(conf)
		held.mute = true
		held.start()
		rr := []byte{0x80, 201, 0, 1, 0, 0, 0x10, 2}
		for range 5 {
			held.sendRTCP(rr)
			time.Sleep(2 * time.Second)
		}
		if got := rec.snapshot().inactive; got != 0 {
			t.Errorf("leg sending RTCP only: %d OnInactive, want 0", got)
		}
		if st := held.leg.Stats(); st.RxRTCP != 5 {
			t.Errorf("RxRTCP = %d, want 5", st.RxRTCP)
		}
	})
}

func TestIdleConferenceStopsTicking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		if l := h.e.Load(); l.Ticking != 0 || l.Conferences != 1 {
			t.Fatalf("empty conference: Load() = %+v, want 1 conference, none ticking", l)
		}
		a := h.newPeer("a", peerOpt{})
		a.join(conf)
		time.Sleep(time.Second)
		synctest.Wait()
		if l := h.e.Load(); l.Ticking != 1 || l.SendLag.Ticks < 49 {
			t.Fatalf("one leg: Load() = %+v, want 1 ticking, ~50 ticks", l)
		}
		a.leg.Remove()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		ticks := h.e.Load().SendLag.Ticks
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if l := h.e.Load(); l.Ticking != 0 || l.SendLag.Ticks != ticks || l.Legs != 0 {
			t.Errorf("after the last leg left: Load() = %+v, want nothing ticking and %d ticks", l, ticks)
		}
		// It ticks again for a new leg.
		b := h.newPeer("b", peerOpt{})
		b.join(conf)
		time.Sleep(time.Second)
		if l := h.e.Load(); l.Ticking != 1 || l.SendLag.Ticks <= ticks {
			t.Errorf("new leg: Load() = %+v, want ticking again", l)
		}
	})
}

func TestCloseRemovesEveryLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
		a.join(conf)
		b.join(conf)
		a.start()
		b.start()
		time.Sleep(200 * time.Millisecond)
		conf.Close()
		if _, err := conf.AddLeg(h.newPeer("c", peerOpt{}).spec); !errors.Is(err, ErrClosed) {
			t.Errorf("AddLeg on a closed conference: %v, want ErrClosed", err)
		}
		if n := len(conf.Legs()); n != 0 {
			t.Errorf("Legs() after Close has %d", n)
		}
		if h.e.Conference("c") == conf {
			t.Error("Conference after Close returned the closed one")
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		got := a.received()
		time.Sleep(time.Second)
		if a.received() != got {
			t.Error("a removed leg still receives packets")
		}
		if l := h.e.Load(); l.Legs != 0 || l.Ticking != 0 || l.Conferences != 1 {
			t.Errorf("Load() after Close = %+v, want no legs and one (new, empty) conference", l)
		}
		// The MCU said BYE (RFC 3550 §6.6) on each leg's RTCP port.
		for _, p := range []*peer{a, b} {
			p.mu.Lock()
			byes := p.rtcpTypes[203]
			p.mu.Unlock()
			if byes != 1 {
				t.Errorf("%s: %d RTCP BYE after Close, want 1", p.name, byes)
			}
		}
	})
}

func TestEngineLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		conf := h.e.Conference("c")
		a := h.newPeer("a", peerOpt{})
		a.join(conf)
		time.Sleep(100 * time.Millisecond)
		if err := h.e.Run(h.ctx); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run: %v, want ErrRunning", err)
		}
		h.stop()
		if _, err := conf.AddLeg(h.newPeer("b", peerOpt{}).spec); !errors.Is(err, ErrClosed) {
			t.Errorf("AddLeg after Run ended: %v, want ErrClosed", err)
		}
		a.leg.SetMuted(true) // harmless after the end
		a.leg.Remove()
	})
}

// rtpWithCSRC builds an RTP packet with n CSRCs, an extension of ext words
// and pad octets of padding around payload.
func rtpWithCSRC(n, ext, pad int, payload []byte) []byte {
	b := []byte{0x80 | byte(n), 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}
	for i := range n {
		b = binary.BigEndian.AppendUint32(b, uint32(i))
	}
	if ext >= 0 {
		b[0] |= 0x10
		b = append(b, 0xBE, 0xDE, byte(ext>>8), byte(ext))
		b = append(b, make([]byte, 4*ext)...)
	}
	b = append(b, payload...)
	if pad > 0 {
		b[0] |= 0x20
		b = append(b, make([]byte, pad-1)...)
		b = append(b, byte(pad))
	}
	return b
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
