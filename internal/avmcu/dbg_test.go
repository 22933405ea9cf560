package avmcu

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/media/mix"
)

func TestDebugAmps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMemHarness(t, Config{Speakers: mix.AllSpeakers})
		defer h.stop()
		conf := h.e.Conference("c")
		var ps []*peer
		for i := range 3 {
			p := h.newPeer(string(rune('a'+i)), peerOpt{})
			p.join(conf)
			ps = append(ps, p)
		}
		talk(ps, time.Second)
		for _, p := range ps {
			a := tail(p)
			t.Logf("%s: n=%d pk=%d sent=%d amps %.0f %.0f %.0f stats %+v", p.name, len(p.audio), p.packets, p.sent, amplitude(a, 8000, tones[0]), amplitude(a, 8000, tones[1]), amplitude(a, 8000, tones[2]), p.leg.Stats())
		}
		t.Logf("%+v", h.e.Load())
	})
}
