package jitter

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestDTX has the sender stop for two seconds of silence. With timestamps
// that advance over the silence (RFC 3551 §4.1), playout resumes on the
// same timeline; with timestamps that do not, the buffer re-anchors.
// Either way nothing is late and audio is back within a few ticks.
func TestDTX(t *testing.T) {
	for _, advance := range []bool{true, false} {
		first := stream(1, 0, 0, 500, 0, frame, constDelay(30*time.Millisecond))
		ts := uint32(500 * 160)
		if advance {
			ts += 100 * 160
		}
		second := stream(1, 500, ts, 500, 600*frame, frame, constDelay(30*time.Millisecond))
		b := newBuffer(t, nil)
		r := play(t, b, append(first, second...), 1110, 9*time.Millisecond)
		if r.stats.Late != 0 || r.stats.Resets != 0 {
			t.Errorf("advance %v: late %d resets %d", advance, r.stats.Late, r.stats.Resets)
		}
		lost := 0
		for _, f := range r.frames[:1100] { // the stream ends at tick 1100
			if f.Status == Lost {
				lost++
			}
		}
		if lost > idleFrames {
			t.Errorf("advance %v: %d frames concealed, want at most %d", advance, lost, idleFrames)
		}
		if got := r.count(Ready); got != 1000 {
			t.Errorf("advance %v: played %d of 1000", advance, got)
		}
		gap := 0
		for k := 600; r.frames[k].Status != Ready; k++ {
			gap++
		}
		if gap > 4 {
			t.Errorf("advance %v: %d ticks to resume", advance, gap)
		}
	}
}

// TestStall holds packets for 300 ms, then delivers them at once, as a
// congested link or a Wi-Fi roam does.
func TestStall(t *testing.T) {
	net := func(i int) (time.Duration, bool) {
		if i >= 1000 && i < 1015 {
			return 30*time.Millisecond + time.Duration(1015-i)*frame, false
		}
		return 30 * time.Millisecond, false
	}
	b := newBuffer(t, nil)
	r := play(t, b, stream(1, 0, 0, 3000, 0, frame, net), 3000, 0)
	if r.stats.Late < 10 || r.stats.Late > 15 {
		t.Errorf("late: got %d, want the stalled packets that missed their tick", r.stats.Late)
	}
	if lim := DefaultMaxDelay + frame + frame/4; r.maxDly > lim {
		t.Errorf("delay reached %v, limit %v", r.maxDly, lim)
	}
	if r.frames[2999].Status != Ready {
		t.Errorf("last tick: %v", r.frames[2999].Status)
	}
}

// TestNoPops keeps pushing while nobody pops (a leg not being mixed): the
// buffer keeps its newest frames, drops the rest, and plays on when ticks
// resume.
func TestNoPops(t *testing.T) {
	b := newBuffer(t, nil)
	payload, dst := make([]byte, 160), make([]byte, DefaultMaxPayload)
	for i := range 20 {
		at := t0.Add(time.Duration(i) * frame)
		_ = b.Push(1, uint16(i), uint32(i*160), payload, at)
		b.Pop(at.Add(time.Millisecond), dst)
	}
	for i := 20; i < 220; i++ {
		if err := b.Push(1, uint16(i), uint32(i*160), payload, t0.Add(time.Duration(i)*frame)); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	st := b.Stats()
	if st.Dropped < 200-DefaultCapacity || st.Dropped > 200 {
		t.Errorf("dropped: got %d", st.Dropped)
	}
	f := b.Pop(t0.Add(220*frame), dst)
	if f.Status != Ready || f.Seq < 220-DefaultCapacity {
		t.Errorf("first pop after the pause: %+v", f)
	}
}

// TestSilentDrops runs a fast sender whose talkspurts alternate with
// silence every second: frames are dropped during silence only.
func TestSilentDrops(t *testing.T) {
	pkts := stream(1, 0, 0, 15000, 0, frame*995/1000, uniformJitter(5, 20*time.Millisecond, 4*time.Millisecond))
	for i := range pkts {
		pkts[i].silent = (pkts[i].seq/50)%2 == 1
	}
	silent := func(p []byte) bool { return p[2] == 0 }
	b := newBuffer(t, func(c *Config) { c.Silent = silent })
	r := play(t, b, pkts, 14925, 0)
	if r.stats.Dropped < 60 || r.stats.Late != 0 || r.count(Lost) != 0 {
		t.Fatalf("dropped %d late %d lost %d", r.stats.Dropped, r.stats.Late, r.count(Lost))
	}
	// A dropped frame shows as a sequence gap between played frames.
	var last uint16
	for k, f := range r.frames {
		if f.Status != Ready {
			continue
		}
		if k > 0 && f.Seq != last+1 && last != 0 {
			for s := last + 1; s != f.Seq; s++ {
				if (s/50)%2 != 1 {
					t.Fatalf("tick %d: talking frame %d dropped", k, s)
				}
			}
		}
		last = f.Seq
	}
}

func TestConfig(t *testing.T) {
	bad := []Config{
		{Frame: 20*time.Millisecond + 1},
		{ClockRate: 44100, Frame: 15 * time.Millisecond / 7},
		{ClockRate: -8000},
		{Capacity: 24},
		{Capacity: 2},
		{MaxPayload: -1},
		{MinDelay: 100 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		{Capacity: 8, MaxDelay: 200 * time.Millisecond},
	}
	for _, c := range bad {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v): got %v, want ErrConfig", c, err)
		}
	}
	if _, err := New(Config{ClockRate: 48000, Frame: 10 * time.Millisecond, MaxPayload: 1920}); err != nil {
		t.Errorf("48 kHz: %v", err)
	}
}

func TestEmptyAndReset(t *testing.T) {
	b := newBuffer(t, nil)
	dst := make([]byte, 4)
	if f := b.Pop(t0, dst); f.Status != Idle {
		t.Errorf("pop before any packet: %v", f.Status)
	}
	payload := []byte("0123456789")
	for i := range 5 {
		_ = b.Push(9, uint16(i), uint32(i*160), payload, t0.Add(time.Duration(i)*frame))
	}
	f := b.Pop(t0.Add(5*frame), dst)
	if f.Status != Ready || f.N != 4 || string(dst) != "0123" {
		t.Errorf("short dst: %+v %q", f, dst)
	}
	b.Reset()
	if f := b.Pop(t0.Add(6*frame), dst); f.Status != Idle {
		t.Errorf("pop after Reset: %v", f.Status)
	}
	if err := b.Push(9, 5, 5*160, payload, t0.Add(6*frame)); err != nil {
		t.Errorf("push after Reset: %v", err)
	}
	for s, want := range map[Status]string{Idle: "idle", Ready: "ready", Lost: "lost", Inserted: "inserted", 9: "Status(9)"} {
		if s.String() != want || s.Conceal() != (s == Lost || s == Inserted) {
			t.Errorf("%d: %q conceal %v", s, s.String(), s.Conceal())
		}
	}
}

// TestConcurrent pushes from one goroutine while another pops, for the
// race detector; every packet is accounted for exactly once.
func TestConcurrent(t *testing.T) {
	b := newBuffer(t, nil)
	const n = 2000
	var wg sync.WaitGroup
	var accepted, late uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		payload := make([]byte, 160)
		for i := range n {
			binary.BigEndian.PutUint16(payload, uint16(i))
			err := b.Push(1, uint16(i), uint32(i*160), payload, t0.Add(time.Duration(i)*frame))
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, ErrLate):
				late++
			}
		}
	}()
	dst := make([]byte, DefaultMaxPayload)
	ready := uint64(0)
	for k := range n {
		if f := b.Pop(t0.Add(time.Duration(k)*frame+frame/2), dst); f.Status == Ready {
			ready++
			if binary.BigEndian.Uint16(dst) != f.Seq {
				t.Fatalf("frame %d carries %d", f.Seq, binary.BigEndian.Uint16(dst))
			}
		}
	}
	wg.Wait()
	st := b.Stats()
	if st.Received != accepted || st.Late != late || ready > accepted {
		t.Errorf("stats %+v; accepted %d late %d ready %d", st, accepted, late, ready)
	}
}
