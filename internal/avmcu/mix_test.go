package avmcu

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/sdes"
)

// tones are whole-Hz frequencies that are whole numbers of cycles in the
// 4000-sample windows analysed, and far apart in the Goertzel sense.
var tones = []float64{500, 700, 1100, 1300, 1700}

// talk starts peers, each with its tone, and runs the conference for d.
func talk(ps []*peer, d time.Duration) {
	for i, p := range ps {
		p.setSource(sine(p.opt.codec.SampleRate, tones[i], 3000))
		p.start()
	}
	time.Sleep(d)
}

// tail is the last quarter second of a peer's audio, well after the
// start-up of the jitter buffers.
func tail(p *peer) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.opt.codec.SampleRate / 2
	if len(p.audio) < n {
		return append([]int16(nil), p.audio...)
	}
	return append([]int16(nil), p.audio[len(p.audio)-n:]...)
}

func TestEveryLegHearsTheOthersNotItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Speakers: mix.AllSpeakers})
		defer h.stop()
		conf := h.e.Conference("c")
		var ps []*peer
		for i := range 5 {
			p := h.newPeer(string(rune('a'+i)), peerOpt{})
			p.join(conf)
			ps = append(ps, p)
		}
		talk(ps, time.Second)
		for i, p := range ps {
			want := map[float64]bool{}
			for j := range ps {
				want[tones[j]] = i != j
			}
			hears(t, p, tail(p), want)
		}
	})
}

func TestTopKMixesTheLoudest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Speakers: 2})
		defer h.stop()
		conf := h.e.Conference("c")
		var ps []*peer
		for i := range 4 {
			p := h.newPeer(string(rune('a'+i)), peerOpt{})
			p.join(conf)
			ps = append(ps, p)
		}
		// a and b are loud, c is quiet, d is silent: only a and b are mixed.
		ps[0].setSource(sine(8000, tones[0], 4000))
		ps[1].setSource(sine(8000, tones[1], 4000))
		ps[2].setSource(sine(8000, tones[2], 300))
		for _, p := range ps {
			p.start()
		}
		time.Sleep(time.Second)
		hears(t, ps[3], tail(ps[3]), map[float64]bool{tones[0]: true, tones[1]: true, tones[2]: false})
		hears(t, ps[2], tail(ps[2]), map[float64]bool{tones[0]: true, tones[1]: true})
		hears(t, ps[0], tail(ps[0]), map[float64]bool{tones[0]: false, tones[1]: true})
	})
}

func TestMuteRemovesALegFromEveryMix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		ps := []*peer{h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{}), h.newPeer("c", peerOpt{})}
		for _, p := range ps {
			p.join(conf)
		}
		talk(ps, 600*time.Millisecond)
		hears(t, ps[1], tail(ps[1]), map[float64]bool{tones[0]: true})

		ps[0].leg.SetMuted(true)
		time.Sleep(time.Second)
		for _, p := range ps[1:] {
			hears(t, p, tail(p), map[float64]bool{tones[0]: false})
		}
		// The muted leg still hears the others.
		hears(t, ps[0], tail(ps[0]), map[float64]bool{tones[1]: true, tones[2]: true})

		ps[0].leg.SetMuted(false)
		time.Sleep(time.Second)
		hears(t, ps[2], tail(ps[2]), map[float64]bool{tones[0]: true})
	})
}

func TestMutedAtJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{})
		defer h.stop()
		conf := h.e.Conference("c")
		a, b := h.newPeer("a", peerOpt{}), h.newPeer("b", peerOpt{})
		a.spec.Muted = true
		a.join(conf)
		b.join(conf)
		talk([]*peer{a, b}, time.Second)
		hears(t, b, tail(b), map[float64]bool{tones[0]: false})
		hears(t, a, tail(a), map[float64]bool{tones[1]: true})
	})
}

func TestSRTPLegsInteroperateWithPlainLegs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Speakers: mix.AllSpeakers})
		defer h.stop()
		conf := h.e.Conference("c")
		ps := []*peer{
			h.newPeer("plain", peerOpt{}),
			h.newPeer("aescm80", peerOpt{suite: sdes.SuiteAESCM80}),
			h.newPeer("aescm32", peerOpt{suite: sdes.SuiteAESCM32, mux: true}),
			h.newPeer("gcm", peerOpt{suite: sdes.SuiteGCM128}),
			h.newPeer("pcma", peerOpt{codec: codec.PCMA}),
		}
		for _, p := range ps {
			p.join(conf)
		}
		talk(ps, time.Second)
		for i, p := range ps {
			want := map[float64]bool{}
			for j := range ps {
				want[tones[j]] = i != j
			}
			hears(t, p, tail(p), want)
			if st := p.leg.Stats(); st.Dropped != 0 || st.RxPackets < 40 {
				t.Errorf("%s: stats %+v, want no drops and >= 40 packets", p.name, st)
			}
		}
	})
}

func TestG722WithG711Legs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Speakers: mix.AllSpeakers})
		defer h.stop()
		conf := h.e.Conference("c")
		w1 := h.newPeer("wide1", peerOpt{codec: codec.G722})
		w2 := h.newPeer("wide2", peerOpt{codec: codec.G722, suite: sdes.SuiteGCM128})
		n1 := h.newPeer("narrow", peerOpt{})
		for _, p := range []*peer{w1, w2, n1} {
			p.join(conf)
		}
		// w1 sends a 5 kHz tone, which only wideband legs can carry, and
		// a 1 kHz one; the narrowband leg sends 700 Hz.
		const hi = 5000
		w1.setSource(mixSources(sine(16000, hi, 3000), sine(16000, 1000, 3000)))
		w2.setSource(sine(16000, 1300, 3000))
		n1.setSource(sine(8000, 700, 3000))
		for _, p := range []*peer{w1, w2, n1} {
			p.start()
		}
		time.Sleep(time.Second)
		hears(t, w2, tail(w2), map[float64]bool{hi: true, 1000: true, 700: true, 1300: false})
		hears(t, w1, tail(w1), map[float64]bool{1300: true, 700: true, 1000: false, hi: false})
		hears(t, n1, tail(n1), map[float64]bool{1000: true, 1300: true, 700: false})

		// When the wideband legs leave, the conference goes back to 8 kHz.
		w1.leg.Remove()
		w2.leg.Remove()
		n2 := h.newPeer("narrow2", peerOpt{})
		n2.join(conf)
		n2.setSource(sine(8000, 1700, 3000))
		n2.start()
		time.Sleep(time.Second)
		hears(t, n1, tail(n1), map[float64]bool{1700: true, 1000: false})
		hears(t, n2, tail(n2), map[float64]bool{700: true})
	})
}
