package avmcu

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
)

// fakeSleep makes large conferences sleep on the fake clock of
// testing/synctest, not with nanosleep.
func fakeSleep(t *testing.T) {
	t.Helper()
	old := sleepFor
	sleepFor = time.Sleep
	t.Cleanup(func() { sleepFor = old })
}

// TestLargeConferenceSharesTheTick runs a conference above parallelMin:
// phases are shared with the workers, output goes out in slices computed
// ahead, and every listener still gets every frame.
func TestLargeConferenceSharesTheTick(t *testing.T) {
	fakeSleep(t)
	const n = 600 // three slices
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Workers: 3, MaxLegs: n})
		defer h.stop()
		conf := h.e.Conference("big")
		ps := make([]*peer, n)
		for i := range ps {
			opt := peerOpt{}
			if i%100 == 7 {
				opt.suite = sdes.SuiteGCM128
			}
			ps[i] = h.newPeer("p", opt)
			ps[i].join(conf)
		}
		// Three talkers, at slots in different slices and parts.
		talkers := []int{5, 250, 590}
		for k, i := range talkers {
			ps[i].setSource(sine(8000, tones[k], 3000))
		}
		for _, p := range ps {
			p.start()
		}
		time.Sleep(time.Second)
		before := make([]int, n)
		for i, p := range ps {
			before[i] = p.received()
		}
		time.Sleep(time.Second)
		for i, p := range ps {
			if got := p.received() - before[i]; got != 50 {
				t.Fatalf("leg %d got %d packets in 1 s, want 50", i, got)
			}
		}
		for _, i := range []int{0, 299, 300, 599, 107} {
			hears(t, ps[i], tail(ps[i]), map[float64]bool{tones[0]: true, tones[1]: true, tones[2]: true})
		}
		for k, i := range talkers {
			want := map[float64]bool{tones[0]: true, tones[1]: true, tones[2]: true}
			want[tones[k]] = false
			hears(t, ps[i], tail(ps[i]), want)
		}
		l := h.e.Load()
		if l.Legs != n || l.Ticking != 1 || l.SkippedTicks != 0 {
			t.Errorf("Load() = %+v", l)
		}
		// Some slices are due after the tick's start, yet none was late in
		// fake time, where work takes none.
		if l.SendLag.Max != 0 {
			t.Errorf("lag %+v in fake time, want zero", l.SendLag)
		}
		for _, p := range ps {
			if st := p.leg.Stats(); st.Dropped != 0 || st.Lost != 0 {
				t.Fatalf("stats %+v", st)
			}
		}
	})
}

func TestLeadFollowsInputTime(t *testing.T) {
	c := &Conference{}
	c.updateLead(parallelMin-1, time.Millisecond)
	if c.lead != 0 {
		t.Errorf("small conference: lead %v, want 0", c.lead)
	}
	c.updateLead(parallelMin, time.Millisecond)
	if c.lead != 1500*time.Microsecond {
		t.Errorf("lead %v after 1 ms of input, want 1.5 ms", c.lead)
	}
	c.updateLead(parallelMin, 10*time.Millisecond)
	if c.lead != maxLead {
		t.Errorf("lead %v after 10 ms of input, want the cap %v", c.lead, maxLead)
	}
	for range 200 {
		c.updateLead(parallelMin, time.Millisecond)
	}
	if c.lead < 1500*time.Microsecond || c.lead > 1600*time.Microsecond {
		t.Errorf("lead %v after input fell back to 1 ms, want it to decay to about 1.5 ms", c.lead)
	}
}

func TestEventsAreDroppedNotBlocking(t *testing.T) {
	e := newEngine(Config{Addr: memMCU.Addr(), Workers: 1, MaxLegs: 1}, nil, nil, memMCU)
	l := &Leg{e: e}
	// Nobody delivers: the queue fills, then events are counted as lost.
	for range eventQueue {
		if !e.emit(event{leg: l, kind: evBye}) {
			t.Fatal("emit refused before the queue was full")
		}
	}
	done := make(chan bool)
	go func() { done <- e.emit(event{leg: l, kind: evBye}) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("emit on a full queue reported success")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("emit blocked on a full queue")
	}
	if got := e.Load().EventsDropped; got != 1 {
		t.Errorf("EventsDropped = %d, want 1", got)
	}
	// Delivery with no callbacks set does nothing.
	(<-e.events).deliver()
}

// FuzzReceive feeds arbitrary datagrams to legs of every kind: nothing may
// panic, and a leg keeps working afterwards.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xFF, 0xFF}, false)
	f.Add([]byte{0x80, 101, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 5, 0x8A, 0, 160}, false)
	f.Add([]byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true)
	f.Add([]byte{0x80, 203, 0, 1, 0, 0, 0, 9}, false)
	f.Add(rtpWithCSRC(2, 1, 3, make([]byte, 160)), false)
	f.Add(make([]byte, 1500), false)
	type legCase struct {
		suite sdes.Suite
		te    uint8
		mux   bool
	}
	legs := []legCase{{0, 101, false}, {sdes.SuiteAESCM80, 101, true}, {sdes.SuiteGCM128, 0, false}}
	f.Fuzz(func(t *testing.T, data []byte, rtcpPort bool) {
		cfg, _ := Config{Addr: memMCU.Addr(), Workers: 1, MaxLegs: 8}.withDefaults()
		e := newEngine(cfg, nil, nil, memMCU)
		c := newConference(e, "fuzz")
		s := new(rxScratch)
		now := time.Now()
		for i, lc := range legs {
			cd := []codec.Codec{codec.PCMU, codec.G722, codec.PCMA}[i]
			spec := LegSpec{Remote: netipMust("10.0.0.2:6000"), Codec: cd, PayloadType: cd.PayloadType, TelephoneEvent: lc.te, RTCPMux: lc.mux, DetectInBand: true}
			if lc.suite != 0 {
				offer, _ := sdes.Offer([]sdes.Suite{lc.suite})
				n, err := sdes.Answer([]string{offer[0].String()}, nil)
				if err != nil {
					t.Fatal(err)
				}
				spec.SRTP = &n
			}
			if err := e.validate(&spec); err != nil {
				t.Fatal(err)
			}
			l, err := newLeg(e, c, spec, now)
			if err != nil {
				t.Fatal(err)
			}
			l.receive(data, rtcpPort, now, s)
			l.receive(data, !rtcpPort, now.Add(time.Millisecond), s)
			_ = l.Stats()
			// The leg still takes its frame into a mix.
			c.attach(l)
			c.ensureScratch()
			c.input(l, c.scr, now.Add(100*time.Millisecond))
		}
	})
}
