package jitter

import (
	"errors"
	"testing"
	"time"
)

func TestSteadyNetwork(t *testing.T) {
	for _, phase := range []time.Duration{0, 3 * time.Millisecond, 11 * time.Millisecond, 19 * time.Millisecond} {
		b := newBuffer(t, nil)
		r := play(t, b, stream(7, 100, 1000, 3000, 0, frame, constDelay(35*time.Millisecond)), 3000, phase)
		if r.stats.Late != 0 || r.count(Lost) != 0 || r.stats.Dropped != 0 || len(r.errs) != 0 {
			t.Errorf("phase %v: late %d lost %d dropped %d errors %v", phase, r.stats.Late, r.count(Lost), r.stats.Dropped, r.errs)
		}
		if r.stats.Inserted > 1 {
			t.Errorf("phase %v: %d frames inserted on a steady network", phase, r.stats.Inserted)
		}
		// Playing starts once the first packet has waited MinDelay, and
		// the delay stays within one frame (plus hysteresis) above it.
		if r.maxDly < frame || r.maxDly > 2*frame+frame/4 {
			t.Errorf("phase %v: delay %v, want within [20ms, 45ms]", phase, r.maxDly)
		}
		if got := r.count(Ready); got < 2990 {
			t.Errorf("phase %v: %d frames played of 3000", phase, got)
		}
	}
}

func TestJitterProfiles(t *testing.T) {
	tests := []struct {
		name       string
		net        netFunc
		maxLate    float64 // fraction of packets
		minTarget  time.Duration
		maxTarget  time.Duration
		maxLostPct float64
	}{
		{"uniform 0-10ms", uniformJitter(1, 10*time.Millisecond, 10*time.Millisecond), 0.005, 20 * time.Millisecond, 25 * time.Millisecond, 0.5},
		{"uniform 0-60ms", uniformJitter(2, 10*time.Millisecond, 60*time.Millisecond), 0.03, 55 * time.Millisecond, 70 * time.Millisecond, 3},
		{"uniform 0-150ms", uniformJitter(3, 10*time.Millisecond, 150*time.Millisecond), 0.03, 140 * time.Millisecond, 160 * time.Millisecond, 3},
		{"rare spikes of 100ms", spikes(4, 0.01, 100*time.Millisecond), 0.015, 20 * time.Millisecond, 110 * time.Millisecond, 1.5},
		{"frequent spikes of 100ms", spikes(5, 0.05, 100*time.Millisecond), 0.02, 95 * time.Millisecond, 110 * time.Millisecond, 2},
		{"beyond max delay", uniformJitter(6, 10*time.Millisecond, 400*time.Millisecond), 0.6, 200 * time.Millisecond, 200 * time.Millisecond, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 6000 // two minutes
			b := newBuffer(t, nil)
			r := play(t, b, stream(1, 0, 0, n, 0, frame, tt.net), n, 5*time.Millisecond)
			if late := float64(r.stats.Late) / n; late > tt.maxLate {
				t.Errorf("late: got %.2f%%, want ≤ %.2f%%", 100*late, 100*tt.maxLate)
			}
			if r.stats.Target < tt.minTarget || r.stats.Target > tt.maxTarget {
				t.Errorf("target: got %v, want %v-%v", r.stats.Target, tt.minTarget, tt.maxTarget)
			}
			if lost := 100 * float64(r.count(Lost)) / n; lost > tt.maxLostPct {
				t.Errorf("lost: got %.2f%%, want ≤ %.2f%%", lost, tt.maxLostPct)
			}
			if lim := DefaultMaxDelay + frame + frame/4; r.maxDly > lim {
				t.Errorf("delay reached %v, limit %v", r.maxDly, lim)
			}
			t.Logf("target %v delay %v jitter %v late %d lost %d inserted %d dropped %d",
				r.stats.Target, r.stats.Delay, r.stats.Jitter, r.stats.Late, r.count(Lost), r.stats.Inserted, r.stats.Dropped)
		})
	}
}

// spikes delays a fraction of packets by extra, the others by 10 ms.
func spikes(seed uint64, frac float64, extra time.Duration) netFunc {
	rng := newRand(seed)
	return func(int) (time.Duration, bool) {
		if rng.Float64() < frac {
			return 10*time.Millisecond + extra, false
		}
		return 10 * time.Millisecond, false
	}
}

// TestCalmingNetwork checks that the delay grows quickly with jitter and
// shrinks back, slowly, once the network calms.
func TestCalmingNetwork(t *testing.T) {
	rough := uniformJitter(7, 10*time.Millisecond, 80*time.Millisecond)
	net := func(i int) (time.Duration, bool) {
		if i >= 1500 && i < 3000 { // 30 s of jitter after 30 s of calm
			return rough(i)
		}
		return 10 * time.Millisecond, false
	}
	b := newBuffer(t, nil)
	r := play(t, b, stream(1, 0, 0, 9000, 0, frame, net), 9000, 0)
	at := func(sec int) time.Duration { return r.delays[sec*50] }
	if d := at(29); d > 45*time.Millisecond {
		t.Errorf("calm delay at 29 s: %v", d)
	}
	if d := at(35); d < 70*time.Millisecond {
		t.Errorf("delay 5 s into the jitter: %v, want ≥ 70ms", d)
	}
	if d := at(62); d < 40*time.Millisecond {
		t.Errorf("delay 2 s after calm returns: %v, want still high", d)
	}
	if d := at(175); d > 45*time.Millisecond {
		t.Errorf("delay 2 min after calm returns: %v, want back to ≤ 45ms", d)
	}
	if late := r.stats.Late; late > 1500*3/100 {
		t.Errorf("late: %d", late)
	}
}

func TestLossBursts(t *testing.T) {
	rng := newRand(9)
	lost := 0
	net := func(i int) (time.Duration, bool) {
		l := (i >= 500 && i < 510) || (i >= 2000 && i < 2040) || (i > 100 && rng.Float64() < 0.05)
		if l && i < 2990 {
			lost++
		}
		return 30 * time.Millisecond, l
	}
	b := newBuffer(t, nil)
	r := play(t, b, stream(1, 0, 0, 3000, 0, frame, net), 3000, 7*time.Millisecond)
	// A gap longer than idleFrames turns from Lost to Idle: the buffer
	// cannot tell a long outage from the sender going silent.
	start := r.firstReady()
	if got := r.count(Lost) + r.count(Idle) - start; got != lost {
		t.Errorf("lost and idle frames: got %d, want %d (one per lost packet)", got, lost)
	}
	if got := r.count(Idle) - start; got != 40-idleFrames {
		t.Errorf("idle frames: got %d, want %d", got, 40-idleFrames)
	}
	if r.stats.Late != 0 || r.stats.Inserted > 1 || r.stats.Dropped != 0 {
		t.Errorf("late %d inserted %d dropped %d", r.stats.Late, r.stats.Inserted, r.stats.Dropped)
	}
}

func TestReorder(t *testing.T) {
	// Every tenth packet is held 15 ms, so its successor overtakes it.
	net := func(i int) (time.Duration, bool) {
		if i%10 == 5 {
			return 45 * time.Millisecond, false
		}
		return 30 * time.Millisecond, false
	}
	b := newBuffer(t, nil)
	r := play(t, b, stream(1, 0, 0, 3000, 0, frame, net), 3000, 2*time.Millisecond)
	if r.stats.Late != 0 || r.count(Lost) != 0 {
		t.Errorf("late %d lost %d", r.stats.Late, r.count(Lost))
	}
	if r.count(Ready) < 2990 {
		t.Errorf("played %d of 3000", r.count(Ready))
	}
}

func TestDuplicates(t *testing.T) {
	pkts := stream(1, 0, 0, 500, 0, frame, constDelay(30*time.Millisecond))
	for _, p := range pkts[:len(pkts):len(pkts)] {
		p.at += 3 * time.Millisecond
		pkts = append(pkts, p)
	}
	b := newBuffer(t, nil)
	r := play(t, b, pkts, 520, 0)
	if r.stats.Duplicate+r.stats.Late != 500 || r.errs[ErrDuplicate] != int(r.stats.Duplicate) {
		t.Errorf("duplicates %d late %d errors %v", r.stats.Duplicate, r.stats.Late, r.errs)
	}
	if r.count(Ready) != 500 || r.lastReady() != r.firstReady()+499 {
		t.Errorf("ready %d from tick %d to %d", r.count(Ready), r.firstReady(), r.lastReady())
	}
}

func TestLateAndOversize(t *testing.T) {
	b := newBuffer(t, nil)
	dst := make([]byte, DefaultMaxPayload)
	payload := make([]byte, 160)
	for i := range 10 {
		if err := b.Push(1, uint16(i), uint32(i*160), payload, t0.Add(time.Duration(i)*frame)); err != nil {
			t.Fatal(err)
		}
		b.Pop(t0.Add(time.Duration(i)*frame+frame/2), dst)
	}
	st := b.Stats()
	// Frame 9 was pushed at 180 ms; frames 0-7 have been played by now.
	if err := b.Push(1, 3, 3*160, payload, t0.Add(200*time.Millisecond)); !errors.Is(err, ErrLate) {
		t.Errorf("late push: got %v", err)
	}
	if err := b.Push(1, 10, 10*160, make([]byte, DefaultMaxPayload+1), t0.Add(200*time.Millisecond)); !errors.Is(err, ErrOversize) {
		t.Errorf("oversize push: got %v", err)
	}
	if err := b.Push(1, 9, 9*160, payload, t0.Add(200*time.Millisecond)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate push: got %v", err)
	}
	got := b.Stats()
	if got.Late != st.Late+1 || got.Oversize != 1 || got.Duplicate != 1 || got.Received != 10 {
		t.Errorf("stats: %+v", got)
	}
}

// TestRestart changes the timestamp and sequence bases without a new SSRC,
// then changes the SSRC: playout resumes within a few ticks either way.
func TestRestart(t *testing.T) {
	pkts := stream(1, 100, 5000, 1000, 0, frame, constDelay(30*time.Millisecond))
	pkts = append(pkts, stream(1, 40000, 3_000_000_000, 1000, 1000*frame, frame, constDelay(30*time.Millisecond))...)
	pkts = append(pkts, stream(2, 7, 77, 1000, 2000*frame, frame, constDelay(30*time.Millisecond))...)
	b := newBuffer(t, nil)
	r := play(t, b, pkts, 3000, 4*time.Millisecond)
	if r.stats.Resets != 2 || r.errs[ErrJump] != restartAfter-1 {
		t.Errorf("resets %d, jump errors %d", r.stats.Resets, r.errs[ErrJump])
	}
	for _, at := range []int{1000, 2000} {
		gap := 0
		for k := at; k < at+20 && r.frames[k].Status != Ready; k++ {
			gap++
		}
		if gap > 6 {
			t.Errorf("restart at tick %d: %d ticks without audio", at, gap)
		}
		if f := r.frames[at+20]; f.Status != Ready {
			t.Errorf("tick %d after restart: %v", at+20, f.Status)
		}
	}
	if r.stats.Late != 0 {
		t.Errorf("late: %d", r.stats.Late)
	}
}

// TestStrayPacket checks that one packet far outside the window is
// dropped without disturbing the stream.
func TestStrayPacket(t *testing.T) {
	pkts := stream(1, 0, 0, 500, 0, frame, constDelay(30*time.Millisecond))
	pkts = append(pkts, pkt{ssrc: 1, seq: 9999, ts: 1 << 30, at: 5 * time.Second})
	b := newBuffer(t, nil)
	r := play(t, b, pkts, 500, 0)
	if r.errs[ErrJump] != 1 || r.stats.Resets != 0 || r.count(Lost) != 0 {
		t.Errorf("jumps %d resets %d lost %d", r.errs[ErrJump], r.stats.Resets, r.count(Lost))
	}
}

func TestTimestampWrap(t *testing.T) {
	b := newBuffer(t, nil)
	r := play(t, b, stream(1, 65000, ^uint32(0)-160*300+1, 3000, 0, frame, uniformJitter(3, 10*time.Millisecond, 20*time.Millisecond)), 3000, 0)
	if r.count(Lost) > 3 || r.stats.Resets != 0 || r.count(Ready) < 2950 {
		t.Errorf("lost %d resets %d ready %d", r.count(Lost), r.stats.Resets, r.count(Ready))
	}
}

// TestDrift runs senders 0.5% slow and 0.5% fast for ten simulated
// minutes: the delay stays bounded, nothing arrives late, and the buffer
// absorbs the difference with one inserted or dropped frame per 200.
func TestDrift(t *testing.T) {
	const n = 30000 // ten minutes
	tests := []struct {
		name     string
		period   time.Duration
		inserted [2]uint64
		dropped  [2]uint64
	}{
		{"sender 0.5% slow", frame * 1005 / 1000, [2]uint64{140, 160}, [2]uint64{0, 0}},
		{"sender 0.5% fast", frame * 995 / 1000, [2]uint64{0, 2}, [2]uint64{140, 160}},
		{"no drift", frame, [2]uint64{0, 1}, [2]uint64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuffer(t, nil)
			ticks := int(time.Duration(n) * tt.period / frame)
			r := play(t, b, stream(1, 0, 0, n, 0, tt.period, uniformJitter(11, 20*time.Millisecond, 4*time.Millisecond)), ticks, 0)
			if r.stats.Late != 0 || r.count(Lost) != 0 {
				t.Errorf("late %d lost %d", r.stats.Late, r.count(Lost))
			}
			if got := r.stats.Inserted; got < tt.inserted[0] || got > tt.inserted[1] {
				t.Errorf("inserted: got %d, want %d-%d", got, tt.inserted[0], tt.inserted[1])
			}
			if got := r.stats.Dropped; got < tt.dropped[0] || got > tt.dropped[1] {
				t.Errorf("dropped: got %d, want %d-%d", got, tt.dropped[0], tt.dropped[1])
			}
			if lim := r.stats.Target + frame + frame/4 + frame/10; r.maxDly > lim {
				t.Errorf("delay reached %v, limit %v", r.maxDly, lim)
			}
			t.Logf("target %v max delay %v inserted %d dropped %d", r.stats.Target, r.maxDly, r.stats.Inserted, r.stats.Dropped)
		})
	}
}

// TestInterarrivalJitter checks the RFC 3550 §6.4.1 estimate: for delays
// uniform over [0, a], consecutive transit differences average a/3.
func TestInterarrivalJitter(t *testing.T) {
	for _, spread := range []time.Duration{15 * time.Millisecond, 60 * time.Millisecond} {
		b := newBuffer(t, nil)
		r := play(t, b, stream(1, 0, 0, 5000, 0, frame, uniformJitter(21, 10*time.Millisecond, spread)), 5000, 0)
		want := float64(spread) / 3
		if got := float64(r.stats.Jitter); got < 0.85*want || got > 1.15*want {
			t.Errorf("spread %v: jitter %v, want about %v", spread, r.stats.Jitter, time.Duration(want))
		}
	}
}
