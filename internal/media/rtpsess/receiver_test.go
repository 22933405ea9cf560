package rtpsess

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

var t0 = time.Unix(1_700_000_000, 0)

// pkt is one arriving packet in a table test.
type pkt struct {
	ssrc uint32
	seq  uint16
	want Verdict
}

func newReceiver(tb testing.TB) *Receiver {
	tb.Helper()
	r, err := NewReceiver(8000)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestReceiverSequence walks RFC 3550 Appendix A.1 case by case.
func TestReceiverSequence(t *testing.T) {
	const a, b = 0xA, 0xB
	tests := []struct {
		name string
		pkts []pkt
		want Stats
	}{
		{
			name: "probation then in order",
			pkts: []pkt{{a, 100, Probation}, {a, 101, NewSequence}, {a, 102, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 2, ExtendedMax: 102, Expected: 2},
		},
		{
			name: "probation restarts on a gap",
			pkts: []pkt{{a, 100, Probation}, {a, 105, Probation}, {a, 106, NewSequence}},
			want: Stats{SSRC: a, Valid: true, Received: 1, ExtendedMax: 106, Expected: 1},
		},
		{
			name: "probation across the wrap",
			pkts: []pkt{{a, 65535, Probation}, {a, 0, NewSequence}, {a, 1, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 2, ExtendedMax: 1, Expected: 2},
		},
		{
			name: "wrap at 65535 counts a cycle",
			pkts: []pkt{{a, 65533, Probation}, {a, 65534, NewSequence}, {a, 65535, Accepted}, {a, 0, Accepted}, {a, 1, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 4, ExtendedMax: 65536 + 1, Expected: 4},
		},
		{
			name: "loss across the wrap",
			pkts: []pkt{{a, 65533, Probation}, {a, 65534, NewSequence}, {a, 2, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 2, ExtendedMax: 65536 + 2, Expected: 5, Lost: 3},
		},
		{
			name: "duplicates make loss negative",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {a, 12, Late}, {a, 11, Late}, {a, 13, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 5, ExtendedMax: 13, Expected: 3, Lost: -2},
		},
		{
			name: "reordering is not loss",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 13, Accepted}, {a, 12, Late}, {a, 14, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 4, ExtendedMax: 14, Expected: 4},
		},
		{
			name: "reordering across the wrap",
			pkts: []pkt{{a, 65533, Probation}, {a, 65534, NewSequence}, {a, 0, Accepted}, {a, 65535, Late}, {a, 1, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 4, ExtendedMax: 65536 + 1, Expected: 4},
		},
		{
			name: "gap is loss",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {a, 15, Accepted}, {a, 16, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 4, ExtendedMax: 16, Expected: 6, Lost: 2},
		},
		{
			name: "largest permissible gap",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 11 + 2999, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 2, ExtendedMax: 3010, Expected: 3000, Lost: 2998},
		},
		{
			name: "MAX_DROPOUT is a jump",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 11 + 3000, Jump}},
			want: Stats{SSRC: a, Valid: true, Received: 1, ExtendedMax: 11, Expected: 1},
		},
		{
			name: "confirmed jump restarts the sequence without loss",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {a, 5000, Jump}, {a, 5001, NewSequence}, {a, 5002, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 2, ExtendedMax: 5002, Expected: 2, Restarts: 1},
		},
		{
			name: "unconfirmed jump is ignored",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {a, 5000, Jump}, {a, 13, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 3, ExtendedMax: 13, Expected: 3},
		},
		{
			name: "two different jumps need confirmation each",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 5000, Jump}, {a, 9000, Jump}, {a, 9001, NewSequence}},
			want: Stats{SSRC: a, Valid: true, Received: 1, ExtendedMax: 9001, Expected: 1, Restarts: 1},
		},
		{
			name: "jump to an earlier sequence restarts (re-INVITE)",
			pkts: []pkt{{a, 30000, Probation}, {a, 30001, NewSequence}, {a, 30002, Accepted}, {a, 7, Jump}, {a, 8, NewSequence}},
			want: Stats{SSRC: a, Valid: true, Received: 1, ExtendedMax: 8, Expected: 1, Restarts: 1},
		},
		{
			name: "going back MAX_MISORDER is a jump, one less is late",
			pkts: []pkt{{a, 1000, Probation}, {a, 1001, NewSequence}, {a, 1002, Accepted}, {a, 1002 - 99, Late}, {a, 1002 - 100, Jump}},
			want: Stats{SSRC: a, Valid: true, Received: 3, ExtendedMax: 1002, Expected: 2, Lost: -1},
		},
		{
			name: "new SSRC takes over after probation",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {b, 500, Probation}, {a, 13, Accepted}, {b, 501, NewSequence}, {b, 502, Accepted}},
			want: Stats{SSRC: b, Valid: true, Received: 2, ExtendedMax: 502, Expected: 2, Restarts: 1},
		},
		{
			name: "stray packet of another SSRC changes nothing",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {a, 12, Accepted}, {b, 77, Probation}, {a, 13, Accepted}, {b, 90, Probation}, {a, 14, Accepted}},
			want: Stats{SSRC: a, Valid: true, Received: 4, ExtendedMax: 14, Expected: 4},
		},
		{
			name: "SSRC change during probation replaces the source",
			pkts: []pkt{{a, 10, Probation}, {b, 500, Probation}, {b, 501, NewSequence}},
			want: Stats{SSRC: b, Valid: true, Received: 1, ExtendedMax: 501, Expected: 1},
		},
		{
			name: "old SSRC must pass probation to come back",
			pkts: []pkt{{a, 10, Probation}, {a, 11, NewSequence}, {b, 500, Probation}, {b, 501, NewSequence}, {a, 12, Probation}, {b, 502, Accepted}},
			want: Stats{SSRC: b, Valid: true, Received: 2, ExtendedMax: 502, Expected: 2, Restarts: 1},
		},
		{
			name: "no packet counted yet",
			pkts: []pkt{{a, 10, Probation}},
			want: Stats{SSRC: a},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t)
			now := t0
			for i, p := range tt.pkts {
				now = now.Add(20 * time.Millisecond)
				if got := r.Update(p.ssrc, p.seq, uint32(i)*160, now); got != p.want {
					t.Errorf("packet %d (ssrc %#x seq %d): got %v, want %v", i, p.ssrc, p.seq, got, p.want)
				}
			}
			if got := r.Stats(); got != tt.want {
				t.Errorf("Stats() = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

// feed sends packets seq first..last (inclusive, skipping those in skip)
// at 20 ms spacing with matching timestamps, starting at time *now.
func feed(r *Receiver, ssrc uint32, first, last uint16, skip map[uint16]bool, now *time.Time) {
	for seq := first; ; seq++ {
		if !skip[seq] {
			r.Update(ssrc, seq, uint32(seq)*160, *now)
		}
		*now = now.Add(20 * time.Millisecond)
		if seq == last {
			return
		}
	}
}

// TestReceiverReportBlocks checks RFC 3550 A.3 interval by interval.
func TestReceiverReportBlocks(t *testing.T) {
	r := newReceiver(t)
	now := t0
	if _, ok := r.ReportBlock(now); ok {
		t.Fatal("ReportBlock before any packet: ok = true")
	}
	// 0 is the probation packet; 1..10 counted.
	feed(r, 7, 0, 10, nil, &now)
	b, ok := r.ReportBlock(now)
	want := ReportBlock{SSRC: 7, ExtendedMax: 10}
	if !ok || b != want {
		t.Fatalf("first report = %+v, %v; want %+v, true", b, ok, want)
	}

	// 11..20 with 13, 14, 15 lost: 3 of 10 → 3·256/10 = 76.
	feed(r, 7, 11, 20, map[uint16]bool{13: true, 14: true, 15: true}, &now)
	b, _ = r.ReportBlock(now)
	want = ReportBlock{SSRC: 7, FractionLost: 76, CumulativeLost: 3, ExtendedMax: 20}
	if b != want {
		t.Fatalf("second report = %+v, want %+v", b, want)
	}
	if got, wantF := b.Fraction(), 76.0/256; got != wantF {
		t.Errorf("Fraction() = %v, want %v", got, wantF)
	}

	// Nothing since: no block (§6.4.2).
	if b, ok := r.ReportBlock(now); ok {
		t.Fatalf("report with nothing heard = %+v, want none", b)
	}

	// 21 and a duplicate of it: expected 1, received 2 → fraction 0, and
	// the duplicate offsets one earlier loss.
	r.Update(7, 21, 21*160, now)
	r.Update(7, 21, 21*160, now)
	b, _ = r.ReportBlock(now)
	want = ReportBlock{SSRC: 7, FractionLost: 0, CumulativeLost: 2, ExtendedMax: 21}
	if b != want {
		t.Fatalf("third report = %+v, want %+v", b, want)
	}

	// 22..31 all lost but 31: 9 of 10 → 9·256/10 = 230.
	feed(r, 7, 22, 31, map[uint16]bool{22: true, 23: true, 24: true, 25: true, 26: true, 27: true, 28: true, 29: true, 30: true}, &now)
	b, _ = r.ReportBlock(now)
	if b.FractionLost != 230 || b.CumulativeLost != 11 {
		t.Errorf("fourth report fraction %d lost %d, want 230, 11", b.FractionLost, b.CumulativeLost)
	}
}

func TestReceiverLostClamp(t *testing.T) {
	s := source{valid: true}
	s.initSeq(0)
	s.cycles = 1 << 30 // an absurd number of cycles
	s.received = 1
	if got := s.lost(); got != 0x7fffff {
		t.Errorf("lost() = %#x, want 0x7fffff", got)
	}
	s.cycles = 0
	s.received = 0x900000
	if got := s.lost(); got != -0x800000 {
		t.Errorf("lost() = %d, want %d", got, -0x800000)
	}
}

// TestReceiverJitter checks RFC 3550 A.8 against values computed by hand.
func TestReceiverJitter(t *testing.T) {
	r := newReceiver(t) // 8000 Hz: 20 ms = 160 ticks
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		seq    uint16
		ms     int    // arrival
		jitter uint32 // reported estimate after this packet
	}{
		{0, 0, 0},    // probation
		{1, 20, 0},   // first counted packet: transit only
		{2, 40, 0},   // on time: D = 0
		{3, 70, 5},   // 10 ms late: D = 80 ticks, J = 80/16 = 5
		{4, 80, 9},   // on time again: D = 80, J = 5 + (80-5)/16 = 9.69
		{5, 100, 9},  // D = 0: J = 9.69 - 9.69/16 = 9.08
		{6, 120, 8},  // D = 0: J = 8.51
		{7, 135, 10}, // 5 ms early: D = 40, J = 8.51 + (40-8.51)/16 = 10.48
	}
	for _, s := range steps {
		r.Update(1, s.seq, uint32(s.seq)*160, at(s.ms))
		if got := r.Stats().Jitter; got != s.jitter {
			t.Errorf("after seq %d at %d ms: jitter %d, want %d", s.seq, s.ms, got, s.jitter)
		}
	}
}

func TestReceiverJitterRestartsWithSequence(t *testing.T) {
	r := newReceiver(t)
	now := t0
	feed(r, 1, 0, 5, nil, &now)
	// A confirmed jump with unrelated timestamps must not read as jitter.
	r.Update(1, 40000, 99_999_999, now)
	r.Update(1, 40001, 99_999_999+160, now.Add(20*time.Millisecond))
	r.Update(1, 40002, 99_999_999+320, now.Add(40*time.Millisecond))
	if got := r.Stats().Jitter; got != 0 {
		t.Errorf("jitter after restart = %d, want 0", got)
	}
}

func TestRTPUnits(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rate uint32
		want uint32
	}{
		{20 * time.Millisecond, 8000, 160},
		{time.Second, 48000, 48000},
		{1500 * time.Microsecond, 8000, 12},
		// 100 hours at 48 kHz overflows 32 bits: modular, without int64 overflow.
		{100 * time.Hour, 48000, uint32(uint64(100*3600) * 48000 % (1 << 32))},
	}
	for _, tt := range tests {
		if got := rtpUnits(tt.d, tt.rate); got != tt.want {
			t.Errorf("rtpUnits(%v, %d) = %d, want %d", tt.d, tt.rate, got, tt.want)
		}
	}
}

func TestNewReceiverZeroRate(t *testing.T) {
	if _, err := NewReceiver(0); err == nil {
		t.Error("NewReceiver(0): no error")
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Accepted: "accepted", Late: "late", NewSequence: "new-sequence", Probation: "probation", Jump: "jump", 0: "verdict(0)"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", uint8(v), got, want)
		}
	}
}

func TestReceiverUpdateNoAlloc(t *testing.T) {
	r := newReceiver(t)
	h := rtp.Header{SSRC: 1}
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		h.SequenceNumber++
		h.Timestamp += 160
		now = now.Add(20 * time.Millisecond)
		r.UpdateHeader(&h, now)
	})
	if allocs != 0 {
		t.Errorf("UpdateHeader allocates %v times per packet, want 0", allocs)
	}
}

func BenchmarkReceiverUpdate(b *testing.B) {
	r := newReceiver(b)
	h := rtp.Header{SSRC: 1}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		h.SequenceNumber++
		h.Timestamp += 160
		now = now.Add(20 * time.Millisecond)
		r.UpdateHeader(&h, now)
	}
}

// FuzzReceiver feeds random packet sequences and checks A.1's invariants.
// Each packet takes 5 input bytes: SSRC selector, sequence number delta (2),
// timestamp delta, arrival delta.
func FuzzReceiver(f *testing.F) {
	f.Add([]byte{0, 0, 1, 160, 20, 0, 0, 1, 160, 20, 0, 0, 1, 160, 20})
	f.Add([]byte{0, 0, 1, 160, 20, 1, 0x80, 0, 1, 1, 0, 0xff, 0xff, 0, 0, 1, 0, 1, 5, 5})
	f.Add([]byte{2, 0x20, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0x0b, 0xb8, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReceiver(t)
		var seq uint16
		var ts uint32
		now := t0
		for ; len(data) >= 5; data = data[5:] {
			ssrc := uint32(data[0] % 3)
			seq += uint16(data[1])<<8 | uint16(data[2])
			ts += uint32(data[3]) * 40
			now = now.Add(time.Duration(data[4]) * time.Millisecond)
			before := r.Stats()
			v := r.Update(ssrc, seq, ts, now)
			after := r.Stats()
			switch {
			case v == NewSequence:
				if after.Received != 1 || after.Expected != 1 || after.SSRC != ssrc {
					t.Fatalf("NewSequence left %+v", after)
				}
			case v.Counted():
				if after.Received != before.Received+1 || after.SSRC != before.SSRC {
					t.Fatalf("%v: stats went from %+v to %+v", v, before, after)
				}
			case v == Probation || v == Jump:
				if before.Valid && after.Received != before.Received {
					t.Fatalf("%v counted a packet: %+v -> %+v", v, before, after)
				}
			default:
				t.Fatalf("Update returned %v", v)
			}
			if after.Valid {
				want := min(max(int64(after.Expected)-int64(after.Received), -0x800000), 0x7fffff)
				if int64(after.Lost) != want {
					t.Fatalf("Lost = %d, want %d from %+v", after.Lost, want, after)
				}
			}
			if b, ok := r.ReportBlock(now); ok && b.SSRC != after.SSRC {
				t.Fatalf("report block about %#x, source is %#x", b.SSRC, after.SSRC)
			}
		}
	})
}
