package avmcu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/sdes"
)

func TestConfigDefaultsAndLimits(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	cfg, err := Config{Addr: lo}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sockets != DefaultSockets || cfg.Workers < 1 || cfg.MaxLegs != DefaultMaxLegs || cfg.InactivityTimeout != DefaultInactivityTimeout || cfg.Log == nil {
		t.Errorf("defaults = %+v", cfg)
	}
	bad := []Config{
		{},
		{Addr: lo, Port: -1},
		{Addr: lo, Port: 65535},
		{Addr: lo, Sockets: 65},
		{Addr: lo, Sockets: -1},
		{Addr: lo, Workers: 100},
		{Addr: lo, MaxLegs: -5},
		{Addr: lo, InactivityTimeout: -time.Second},
		{Addr: lo, Speakers: 40},
		{Addr: lo, Speakers: -2},
	}
	for _, c := range bad {
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
		if _, err := NewEngine(c); !errors.Is(err, ErrConfig) {
			t.Errorf("NewEngine(%+v): %v, want ErrConfig", c, err)
		}
	}
	if _, err := (Config{Addr: lo, Speakers: mix.AllSpeakers}).withDefaults(); err != nil {
		t.Errorf("AllSpeakers: %v", err)
	}
}

func TestNewEnginePortsAndFamilies(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		e, err := NewEngine(Config{Addr: netip.MustParseAddr(addr)})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		p := e.RTPAddr()
		if p.Addr().String() != addr || p.Port()%2 != 0 || p.Port() == 0 {
			t.Errorf("RTPAddr() = %v, want an even port on %s", p, addr)
		}
		// The port is taken: a second engine on it fails; RTCP is port+1.
		if _, err := NewEngine(Config{Addr: p.Addr(), Port: int(p.Port()) + 1}); err == nil {
			t.Errorf("%s: engine on the RTCP port %d succeeded", addr, p.Port()+1)
		}
		for _, c := range e.conns {
			_ = c.close()
		}
		_ = e.rtcpConn.close()
	}
}

func TestDirection(t *testing.T) {
	cases := []struct {
		d          Direction
		name       string
		send, recv bool
	}{
		{SendRecv, "sendrecv", true, true},
		{SendOnly, "sendonly", true, false},
		{RecvOnly, "recvonly", false, true},
		{Inactive, "inactive", false, false},
		{9, "Direction(9)", false, false},
	}
	for _, tc := range cases {
		if tc.d.String() != tc.name || tc.d.sends() != tc.send || tc.d.receives() != tc.recv {
			t.Errorf("%d: %s send %v recv %v, want %s %v %v", tc.d, tc.d, tc.d.sends(), tc.d.receives(), tc.name, tc.send, tc.recv)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if s := h.stats(); s.Ticks != 0 || s.P50 != 0 || s.Max != 0 {
		t.Errorf("empty: %+v", s)
	}
	// 1000 samples: 990 at 1 ms, 9 at 10 ms, 1 at 300 ms.
	for range 990 {
		h.record(time.Millisecond)
	}
	for range 9 {
		h.record(10 * time.Millisecond)
	}
	h.record(300 * time.Millisecond)
	s := h.stats()
	want := LagStats{Ticks: 1000, P50: 1020 * time.Microsecond, P99: 1020 * time.Microsecond, P999: 10020 * time.Microsecond, Max: 300 * time.Millisecond}
	if s != want {
		t.Errorf("stats = %+v, want %+v", s, want)
	}
	h.record(-time.Second) // clock steps count as zero
	h.record(time.Hour)
	if s := h.stats(); s.Ticks != 1002 || s.Max != time.Hour {
		t.Errorf("after extremes: %+v", s)
	}
	h.reset()
	if s := h.stats(); s.Ticks != 0 || s.Max != 0 {
		t.Errorf("after reset: %+v", s)
	}
	for _, d := range []time.Duration{0, 19 * time.Microsecond, 20 * time.Microsecond, 19999 * time.Microsecond, 20 * time.Millisecond, 999 * time.Millisecond, time.Second} {
		if b := bucketOf(d); b < 0 || b >= histBuckets || upper(b) < d {
			t.Errorf("bucketOf(%v) = %d, upper %v", d, b, upper(b))
		}
	}
}

func TestRoutes(t *testing.T) {
	r := newRoutes()
	l1, l2 := &Leg{}, &Leg{}
	a := netip.MustParseAddrPort("192.0.2.1:4000")
	b := netip.MustParseAddrPort("192.0.2.1:4002")
	if !r.add(a, l1) {
		t.Fatal("add of a free address failed")
	}
	if !r.add(a, l1) {
		t.Fatal("add again by its holder failed")
	}
	if r.add(a, l2) {
		t.Error("a second leg took a held address")
	}
	if !r.add(b, l2) || r.lookup(a) != l1 || r.lookup(b) != l2 {
		t.Error("lookup after add")
	}
	r.remove(a, l2) // not the holder: no effect
	if r.lookup(a) != l1 {
		t.Error("remove by a non-holder removed the route")
	}
	r.remove(a, l1)
	if r.lookup(a) != nil {
		t.Error("route still there after remove")
	}
	// Concurrent readers and writers (run with -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 1000 {
				k := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i), byte(j >> 8), byte(j)}), 5000)
				r.add(k, l1)
				_ = r.lookup(k)
				r.remove(k, l1)
			}
		})
	}
	wg.Wait()
	spread := map[*routeShard]int{}
	for j := range 6400 {
		spread[r.shard(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 2, byte(j >> 8), byte(j)}), 30000))]++
	}
	for s, n := range spread {
		if n > 200 {
			t.Errorf("a shard got %d of 6400 addresses (%p): the hash does not spread", n, s)
		}
	}
}

func TestCodecIndex(t *testing.T) {
	for i, c := range []codec.Codec{codec.PCMU, codec.PCMA, codec.G722} {
		if got, ok := codecIndex(c); !ok || got != i {
			t.Errorf("codecIndex(%v) = %d, %v", c, got, ok)
		}
	}
	odd := codec.PCMU
	odd.FrameBytes = 240 // 30 ms
	if _, ok := codecIndex(odd); ok {
		t.Error("a 30 ms PCMU was accepted")
	}
}

// TestLoopbackConference runs a small conference over real sockets: the
// recvmmsg/sendmmsg path, SO_REUSEPORT sockets and RTCP port.
func TestLoopbackConference(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	h := newUDPHarness(t, Config{Speakers: mix.AllSpeakers, Sockets: 2})
	defer h.stop()
	conf := h.e.Conference("loop")
	ps := []*peer{
		h.newPeer("plain", peerOpt{}),
		h.newPeer("srtp", peerOpt{suite: sdes.SuiteAESCM80}),
		h.newPeer("gcm-mux", peerOpt{suite: sdes.SuiteGCM128, mux: true}),
		h.newPeer("g722", peerOpt{codec: codec.G722}),
	}
	for _, p := range ps {
		p.join(conf)
	}
	talk(ps, 1200*time.Millisecond)
	for i, p := range ps {
		want := map[float64]bool{}
		for j := range ps {
			want[tones[j]] = i != j
		}
		hears(t, p, tail(p), want)
		if st := p.leg.Stats(); st.Dropped != 0 || st.RxPackets < 50 {
			t.Errorf("%s: stats %+v", p.name, st)
		}
	}
	l := h.e.Load()
	if l.RxPackets < 200 || l.TxPackets < 200 || l.SendLag.Ticks < 50 || l.SendLag.P50 == 0 {
		t.Errorf("Load() = %+v", l)
	}
	if l.SendLag.P99 > 15*time.Millisecond {
		t.Logf("note: tick lag p99 %v on a busy machine", l.SendLag.P99)
	}
}

// TestLoopbackFloodFromStrangers floods the shared port from addresses no
// leg has; a conference's legs keep every packet.
func TestLoopbackFloodFromStrangers(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	h := newUDPHarness(t, Config{})
	defer h.stop()
	conf := h.e.Conference("loop")
	a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
	a.join(conf)
	b.join(conf)
	talk([]*peer{a, b}, 300*time.Millisecond)
	before := a.leg.Stats()
	strangers := make([]*udpConn, 4)
	for i := range strangers {
		strangers[i], _ = listenLoopback(t)
		defer strangers[i].close()
	}
	wb := newWriteBatch(64)
	junk := make([]byte, 172)
	junk[0] = 0x80
	deadline := time.Now().Add(time.Second)
	sent := 0
	for time.Now().Before(deadline) {
		for _, s := range strangers {
			wb.n = 0
			for range 64 {
				wb.add(junk, h.e.RTPAddr())
			}
			_, _ = s.writeBatch(wb)
			sent += 64
		}
		time.Sleep(time.Millisecond) // about 250,000 datagrams per second
	}
	time.Sleep(100 * time.Millisecond)
	st := a.leg.Stats()
	if got := st.RxPackets - before.RxPackets; got < 50 {
		t.Errorf("a: %d packets in 1.1 s under a flood of %d, want ~55", got, sent)
	}
	if st.Lost != before.Lost || st.Dropped != 0 {
		t.Errorf("a: stats %+v under the flood (before %+v)", st, before)
	}
	if l := h.e.Load(); l.Unknown == 0 {
		t.Errorf("Load().Unknown = 0 after a flood of %d", sent)
	}
	hears(t, b, tail(b), map[float64]bool{tones[0]: true})
}

func TestBatchIOOnLoopback(t *testing.T) {
	rx, raddr := listenLoopback(t)
	defer rx.close()
	tx, taddr := listenLoopback(t)
	defer tx.close()
	const n = 200
	wb := newWriteBatch(n)
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = []byte(fmt.Sprintf("datagram %03d", i))
		wb.add(pkts[i], raddr)
	}
	if refused, err := tx.writeBatch(wb); err != nil || refused != 0 {
		t.Fatalf("writeBatch: %d refused, %v", refused, err)
	}
	rb := newReadBatch(readBatchSize)
	got := 0
	for got < n {
		k, err := rx.readBatch(rb)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rb.msgs[:k] {
			if string(m.buf) != string(pkts[got]) || m.addr != taddr {
				t.Fatalf("datagram %d = %q from %v, want %q from %v", got, m.buf, m.addr, pkts[got], taddr)
			}
			got++
		}
	}
	// An empty batch sends nothing.
	wb.n = 0
	if refused, err := tx.writeBatch(wb); refused != 0 || err != nil {
		t.Errorf("empty writeBatch: %d, %v", refused, err)
	}
}

func TestBatchIOIPv6(t *testing.T) {
	e, err := NewEngine(Config{Addr: netip.MustParseAddr("::1"), Sockets: 1})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	rx := e.conns[0].(*udpConn)
	defer rx.close()
	defer e.rtcpConn.close()
	tx, err := listenUDP6(t)
	if err != nil {
		t.Skip(err)
	}
	defer tx.close()
	wb := newWriteBatch(1)
	wb.add([]byte("hello"), e.RTPAddr())
	if _, err := tx.writeBatch(wb); err != nil {
		t.Fatal(err)
	}
	rb := newReadBatch(4)
	k, err := rx.readBatch(rb)
	if err != nil || k != 1 || string(rb.msgs[0].buf) != "hello" || !rb.msgs[0].addr.Addr().Is6() {
		t.Errorf("readBatch = %d, %q from %v, %v", k, rb.msgs[0].buf, rb.msgs[0].addr, err)
	}
}

func listenUDP6(t *testing.T) (*udpConn, error) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return nil, err
	}
	return newUDPConn(c, true)
}
