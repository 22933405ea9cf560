package avmcu

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/dtmf"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/tone"
)

// recorder collects a leg's events.
type recorder struct {
	mu       sync.Mutex
	digits   []rune
	inBand   []bool
	inactive int
	bye      int
	speaking []bool
}

func (r *recorder) events() LegEvents {
	return LegEvents{
		OnDTMF: func(d rune, inBand bool) {
			r.mu.Lock()
			r.digits = append(r.digits, d)
			r.inBand = append(r.inBand, inBand)
			r.mu.Unlock()
		},
		OnInactive: func() { r.mu.Lock(); r.inactive++; r.mu.Unlock() },
		OnBye:      func() { r.mu.Lock(); r.bye++; r.mu.Unlock() },
		OnSpeaking: func(on bool) { r.mu.Lock(); r.speaking = append(r.speaking, on); r.mu.Unlock() },
	}
}

func (r *recorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{
		digits:   append([]rune(nil), r.digits...),
		inBand:   append([]bool(nil), r.inBand...),
		inactive: r.inactive,
		bye:      r.bye,
		speaking: append([]bool(nil), r.speaking...),
	}
}

func TestTelephoneEventsReachOnDTMFInOrder(t *testing.T) {
	for _, suite := range []sdes.Suite{0, sdes.SuiteAESCM80} {
		t.Run(suite.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newMemHarness(t, Config{})
				defer h.stop()
				conf := h.e.Conference("c")
				var rec recorder
				a := h.newPeer("a", peerOpt{te: 101, suite: suite})
				a.spec.Events = rec.events()
				a.join(conf)
				a.setSource(sine(8000, 500, 2000))
				a.start()
				time.Sleep(200 * time.Millisecond)
				const digits = "159#*0D5"
				a.queueDigits(digits, 100*time.Millisecond, 3)
				time.Sleep(3 * time.Second)
				got := rec.snapshot()
				if string(got.digits) != digits {
					t.Errorf("digits = %q, want %q", string(got.digits), digits)
				}
				for i, ib := range got.inBand {
					if ib {
						t.Errorf("digit %d reported in-band", i)
					}
				}
				if st := a.leg.Stats(); st.Dropped != 0 || st.Lost != 0 {
					t.Errorf("stats %+v, want no drops or loss", st)
				}
			})
		})
	}
}

func TestInBandDTMFIsDetected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		var rec, quiet recorder
		a := h.newPeer("a", peerOpt{inBand: true})
		a.spec.Events = rec.events()
		b := h.newPeer("b", peerOpt{}) // no detector: no in-band digits
		b.spec.Events = quiet.events()
		a.join(conf)
		b.join(conf)
		p, err := tone.DTMF("42#", 100*time.Millisecond, 100*time.Millisecond, -10)
		if err != nil {
			t.Fatal(err)
		}
		g, err := tone.NewGenerator(8000, p)
		if err != nil {
			t.Fatal(err)
		}
		a.setSource(g)
		b.setSource(g2(t, "9"))
		a.start()
		b.start()
		time.Sleep(time.Second)
		got := rec.snapshot()
		if string(got.digits) != "42#" {
			t.Errorf("digits = %q, want %q", string(got.digits), "42#")
		}
		for i, ib := range got.inBand {
			if !ib {
				t.Errorf("digit %d not reported in-band", i)
			}
		}
		if q := quiet.snapshot(); len(q.digits) != 0 {
			t.Errorf("leg without a detector reported %q", string(q.digits))
		}
	})
}

// g2 returns an in-band DTMF source at 8 kHz.
func g2(t *testing.T, digits string) tone.Source {
	t.Helper()
	p, err := tone.DTMF(digits, 100*time.Millisecond, 100*time.Millisecond, -10)
	if err != nil {
		t.Fatal(err)
	}
	g, err := tone.NewGenerator(8000, p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSendDTMFAsTelephoneEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a := h.newPeer("a", peerOpt{te: 101, suite: sdes.SuiteGCM128})
		a.join(conf)
		a.start()
		time.Sleep(100 * time.Millisecond)
		if err := a.leg.SendDTMF("5*A", 60*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := a.leg.SendDTMF("x", time.Second); err == nil {
			t.Error("SendDTMF(x) succeeded, want ErrDTMF")
		}
		time.Sleep(2 * time.Second)

		a.mu.Lock()
		events := append([]dtmf.Packet(nil), a.events...)
		seqs := append([]uint16(nil), a.seqs...)
		a.mu.Unlock()
		rx, err := dtmf.NewReceiver(dtmf.ReceiverConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		start := time.Now()
		for i, ev := range events {
			presses, err := rx.Receive(nil, ev, start.Add(time.Duration(i)*codecFrame))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range presses {
				d, _ := p.Digit()
				got = append(got, d)
			}
		}
		if string(got) != "5*A" {
			t.Errorf("peer decoded %q from %d events, want %q", got, len(events), "5*A")
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("sequence %d after %d: events and audio must share one numbering", seqs[i], seqs[i-1])
			}
		}
	})
}

func TestSendDTMFInBandWithoutTelephoneEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a := h.newPeer("a", peerOpt{})
		a.join(conf)
		a.start()
		time.Sleep(100 * time.Millisecond)
		mark := a.mark()
		if err := a.leg.SendDTMF("73", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		det, err := dtmf.NewDetector(dtmf.DetectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if got := det.Detect(nil, a.since(mark)); string(got) != "73" {
			t.Errorf("in-band digits heard = %q, want %q", got, "73")
		}
	})
}
