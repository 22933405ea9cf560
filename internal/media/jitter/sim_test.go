package jitter

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The tests drive a Buffer with simulated time: a sender emits one 20 ms
// packet per period, the network delays (or loses) each one, and the mixer
// ticks every 20 ms exactly. Nothing sleeps.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const frame = 20 * time.Millisecond

// pkt is one packet as it reaches the buffer.
type pkt struct {
	ssrc   uint32
	seq    uint16
	ts     uint32
	at     time.Duration // arrival, since t0
	silent bool
}

// netFunc returns the network delay of packet i, and whether it is lost.
type netFunc func(i int) (time.Duration, bool)

func constDelay(d time.Duration) netFunc { return func(int) (time.Duration, bool) { return d, false } }

// uniformJitter delays packets by base plus a uniform random part.
func uniformJitter(seed uint64, base, spread time.Duration) netFunc {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int) (time.Duration, bool) {
		return base + time.Duration(rng.Int64N(int64(spread)+1)), false
	}
}

// stream makes n packets of one sender starting at start with the given
// send period (20 ms, or slightly more or less to model clock drift).
func stream(ssrc uint32, seq uint16, ts uint32, n int, start, period time.Duration, net netFunc) []pkt {
	var out []pkt
	for i := range n {
		d, lost := net(i)
		if lost {
			continue
		}
		out = append(out, pkt{
			ssrc: ssrc, seq: seq + uint16(i), ts: ts + uint32(i)*160,
			at: start + time.Duration(i)*period + d,
		})
	}
	return out
}

// result is what one simulation produced.
type result struct {
	frames []Frame
	stats  Stats
	errs   map[error]int
	maxDly time.Duration // largest Stats.Delay seen after the first second
	// delays holds Stats.Delay at each tick.
	delays []time.Duration
}

func (r *result) count(s Status) int {
	n := 0
	for _, f := range r.frames {
		if f.Status == s {
			n++
		}
	}
	return n
}

func (r *result) firstReady() int {
	for k, f := range r.frames {
		if f.Status == Ready {
			return k
		}
	}
	return -1
}

func (r *result) lastReady() int {
	for k := len(r.frames) - 1; k >= 0; k-- {
		if r.frames[k].Status == Ready {
			return k
		}
	}
	return -1
}

// play pushes the packets in arrival order and pops once per tick, ticks
// at phase + k·20 ms. The payload of a packet carries its sequence number.
func play(t *testing.T, b *Buffer, pkts []pkt, ticks int, phase time.Duration) *result {
	t.Helper()
	slices.SortStableFunc(pkts, func(a, b pkt) int { return int(a.at - b.at) })
	r := &result{errs: map[error]int{}}
	payload, dst := make([]byte, 160), make([]byte, DefaultMaxPayload)
	j := 0
	for k := range ticks {
		now := phase + time.Duration(k)*frame
		for ; j < len(pkts) && pkts[j].at <= now; j++ {
			p := pkts[j]
			binary.BigEndian.PutUint16(payload, p.seq)
			payload[2] = 1
			if p.silent {
				payload[2] = 0
			}
			if err := b.Push(p.ssrc, p.seq, p.ts, payload, t0.Add(p.at)); err != nil {
				r.errs[err]++
			}
		}
		f := b.Pop(t0.Add(now), dst)
		if f.Status == Ready {
			if f.N != 160 || binary.BigEndian.Uint16(dst) != f.Seq {
				t.Fatalf("tick %d: frame seq %d carries payload of %d (%d bytes)", k, f.Seq, binary.BigEndian.Uint16(dst), f.N)
			}
		}
		r.frames = append(r.frames, f)
		st := b.Stats()
		r.delays = append(r.delays, st.Delay)
		if now > time.Second && st.Delay > r.maxDly {
			r.maxDly = st.Delay
		}
	}
	r.stats = b.Stats()
	checkOrder(t, r.frames)
	return r
}

// checkOrder verifies that played frames never go back in time or repeat
// within one SSRC.
func checkOrder(t *testing.T, frames []Frame) {
	t.Helper()
	var last Frame
	for k, f := range frames {
		if f.Status != Ready {
			continue
		}
		// A step back of more than 2^24 units (35 min at 8 kHz) is a
		// timestamp restart, which the buffer may follow.
		if d := int32(f.TS - last.TS); last.Status == Ready && last.SSRC == f.SSRC && d <= 0 && d > -1<<24 {
			t.Fatalf("tick %d: ts %d played after %d", k, f.TS, last.TS)
		}
		last = f
	}
}

func newBuffer(tb testing.TB, mutate func(*Config)) *Buffer {
	tb.Helper()
	var cfg Config
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 2)) }
