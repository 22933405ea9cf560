package avmcu

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/sdes"
)

// discardConn is a socket that sends nowhere and never reads.
type discardConn struct{ done chan struct{} }

func (d *discardConn) readBatch(*batch) (int, error)  { <-d.done; return 0, errClosedConn }
func (d *discardConn) writeBatch(*batch) (int, error) { return 0, nil }
func (d *discardConn) close() error                   { return nil }

// benchConf is a conference of n legs attached by hand, with a worker
// pool, and the packets each leg's endpoint sends.
type benchConf struct {
	e     *Engine
	c     *Conference
	legs  []*Leg
	peers []*sdes.Session
	pkts  [][]byte
	rxs   *rxScratch
	plain []byte
}

func newBenchConf(b *testing.B, n int, suite sdes.Suite, cfg Config) *benchConf {
	b.Helper()
	cfg.Addr = memMCU.Addr()
	cfg.MaxLegs = n + 1
	cfg, err := cfg.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	d := &discardConn{done: make(chan struct{})}
	e := newEngine(cfg, []packetConn{d}, d, memMCU)
	close(e.started)
	for i := range cfg.Workers {
		go e.worker(newScratch(workerBatch, i%len(e.conns)))
	}
	b.Cleanup(func() { close(e.tasks) })
	bc := &benchConf{e: e, c: newConference(e, "bench"), rxs: new(rxScratch), plain: make([]byte, maxPacket)}
	now := time.Now()
	for i := range n {
		spec := LegSpec{
			Remote:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 4000),
			Codec:       codec.PCMU,
			PayloadType: 0,
		}
		var peer *sdes.Session
		if suite != 0 {
			offer, _ := sdes.Offer([]sdes.Suite{suite})
			mcu, _ := sdes.Answer([]string{offer[0].String()}, nil)
			mine, _ := sdes.AcceptAnswer(offer, mcu.Local.String())
			if peer, err = sdes.NewSession(mine); err != nil {
				b.Fatal(err)
			}
			spec.SRTP = &mcu
		}
		if err := e.validate(&spec); err != nil {
			b.Fatal(err)
		}
		l, err := newLeg(e, bc.c, spec, now)
		if err != nil {
			b.Fatal(err)
		}
		bc.c.attach(l)
		bc.legs = append(bc.legs, l)
		bc.peers = append(bc.peers, peer)
		pkt := make([]byte, 12+160, 2*(12+160+32))
		pkt[0] = 0x80
		binary.BigEndian.PutUint32(pkt[8:], uint32(0x5000+i))
		bc.pkts = append(bc.pkts, pkt)
	}
	bc.c.ensureScratch()
	return bc
}

// packet returns leg i's packet for frame k: a 440 Hz-ish pattern for the
// first talkers, silence for the others, protected if SRTP.
func (bc *benchConf) packet(i, k int) []byte {
	pkt := bc.pkts[i][:12+160]
	binary.BigEndian.PutUint16(pkt[2:], uint16(k))
	binary.BigEndian.PutUint32(pkt[4:], uint32(k*160))
	payload := pkt[12:]
	for j := range payload {
		if i < 4 {
			payload[j] = byte(0x20 + (j+k*7+i*13)%64) // loud
		} else {
			payload[j] = 0xFF
		}
	}
	if bc.peers[i] == nil {
		return pkt
	}
	out, err := bc.peers[i].EncryptRTP(bc.pkts[i][12+160+32:12+160+32], pkt, nil)
	if err != nil {
		panic(err)
	}
	return out
}

func BenchmarkReceive(b *testing.B) {
	for _, suite := range []sdes.Suite{0, sdes.SuiteAESCM80, sdes.SuiteGCM128} {
		name := "plain"
		if suite != 0 {
			name = suite.String()
		}
		b.Run(name, func(b *testing.B) {
			bc := newBenchConf(b, 1, suite, Config{})
			l := bc.legs[0]
			base := time.Now()
			pkts := make([][]byte, 1024)
			for k := range pkts {
				pkts[k] = append([]byte(nil), bc.packet(0, k)...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for k := range b.N {
				// Each packet is fresh to the replay window and the
				// statistics: the sequence keeps going.
				if k > 0 && k%len(pkts) == 0 {
					b.StopTimer()
					for j := range pkts {
						pkts[j] = append(pkts[j][:0], bc.packet(0, k+j)...)
					}
					b.StartTimer()
				}
				l.receive(pkts[k%len(pkts)], false, base.Add(time.Duration(k)*codecFrame), bc.rxs)
				if k%8 == 0 {
					l.jb.Pop(base.Add(time.Duration(k)*codecFrame), bc.rxs.plain[:160])
				}
			}
			b.StopTimer()
			if st := l.Stats(); st.Dropped != 0 {
				b.Fatalf("stats %+v", st)
			}
		})
	}
}

// BenchmarkTick measures one 20 ms frame of a conference: every leg's
// packet through the inbound path, then the tick (pop, decode, mix,
// encode, RTP, SRTP, sendmmsg to a discarding socket).
func BenchmarkTick(b *testing.B) {
	cases := []struct {
		n     int
		suite sdes.Suite
		spk   int
	}{
		{10, 0, 0}, {1000, 0, 0}, {1000, 0, mix.AllSpeakers}, {4000, 0, 0}, {1000, sdes.SuiteAESCM80, 0}, {1000, sdes.SuiteGCM128, 0},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("legs=%d", tc.n)
		if tc.suite != 0 {
			name += "/" + tc.suite.String()
		}
		if tc.spk == mix.AllSpeakers {
			name += "/full-mix"
		}
		b.Run(name, func(b *testing.B) {
			bc := newBenchConf(b, tc.n, tc.suite, Config{Speakers: tc.spk})
			base := time.Now().Add(-time.Hour) // slices never wait
			pkts := make([][]byte, tc.n)
			frame := func(k int) {
				for i := range bc.legs {
					pkts[i] = bc.packet(i, k)
				}
			}
			// Warm up: the first packets of a stream set up per-SSRC state
			// in the SRTP contexts, once per leg.
			for k := range 2 {
				at := base.Add(time.Duration(k-2) * codecFrame)
				frame(k - 2)
				for i, l := range bc.legs {
					l.receive(pkts[i], false, at.Add(-5*time.Millisecond), bc.rxs)
				}
				bc.c.tick(at)
			}
			frame(0)
			b.ReportAllocs()
			b.ResetTimer()
			for k := range b.N {
				at := base.Add(time.Duration(k) * codecFrame)
				for i, l := range bc.legs {
					l.receive(pkts[i], false, at.Add(-5*time.Millisecond), bc.rxs)
				}
				bc.c.tick(at)
				b.StopTimer()
				frame(k + 1)
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.n), "ns/leg")
			if got := bc.legs[0].txPackets.Load(); got < uint64(b.N) {
				b.Fatalf("leg 0 sent %d packets in %d ticks", got, b.N)
			}
		})
	}
}

// BenchmarkBatchIO sends and receives 64 datagrams over loopback with one
// sendmmsg and recvmmsg each.
func BenchmarkBatchIO(b *testing.B) {
	rx, raddr := listenLoopback(b)
	defer rx.close()
	tx, _ := listenLoopback(b)
	defer tx.close()
	wb := newWriteBatch(64)
	pkt := make([]byte, 172)
	rb := newReadBatch(64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		wb.n = 0
		for range 64 {
			wb.add(pkt, raddr)
		}
		if _, err := tx.writeBatch(wb); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < 64; {
			k, err := rx.readBatch(rb)
			if err != nil {
				b.Fatal(err)
			}
			got += k
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64, "ns/datagram")
}
