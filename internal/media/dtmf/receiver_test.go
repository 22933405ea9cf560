package dtmf

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// arrival is a packet and the time it reaches the Receiver.
type arrival struct {
	at time.Duration
	p  Packet
}

// stream builds packet sequences the way a sender would, 20 ms apart.
type stream struct {
	ssrc uint32
	seq  uint16
	at   time.Duration
	out  []arrival
}

func newStream(ssrc uint32, seq uint16) *stream { return &stream{ssrc: ssrc, seq: seq} }

func payload(evs ...Event) []byte {
	var b []byte
	for _, ev := range evs {
		var p [PayloadSize]byte
		if _, err := ev.MarshalTo(p[:]); err != nil {
			panic(err)
		}
		b = append(b, p[:]...)
	}
	return b
}

// send appends one packet and advances the clock by 20 ms.
func (s *stream) send(ts uint32, marker bool, evs ...Event) *stream {
	s.out = append(s.out, arrival{at: s.at, p: Packet{
		SSRC: s.ssrc, Sequence: s.seq, Timestamp: ts, Marker: marker, Payload: payload(evs...),
	}})
	s.seq++
	s.at += 20 * time.Millisecond
	return s
}

// press appends an RFC 4733 event: updates every 160 units with the marker
// on the first if marker is set, then ends end reports.
func (s *stream) press(code uint8, ts uint32, dur uint16, marker bool, ends int) *stream {
	for d := uint32(160); d < uint32(dur); d += 160 {
		s.send(ts, marker && d == 160, Event{Code: code, Volume: 10, Duration: uint16(d)})
	}
	for range ends {
		s.send(ts, false, Event{Code: code, End: true, Volume: 10, Duration: dur})
	}
	return s
}

// wait advances the clock.
func (s *stream) wait(d time.Duration) *stream { s.at += d; return s }

// feed runs arrivals through r and returns the digits it reported.
func feed(t *testing.T, r *Receiver, in []arrival) string {
	t.Helper()
	var got []Press
	var err error
	for _, a := range in {
		if got, err = r.Receive(got, a.p, epoch.Add(a.at)); err != nil {
			t.Fatalf("Receive(%+v): %v", a.p, err)
		}
	}
	var s []byte
	for _, p := range got {
		d, ok := p.Digit()
		if !ok {
			d = '?'
		}
		s = append(s, d)
	}
	return string(s)
}

func newTestReceiver(t *testing.T) *Receiver {
	t.Helper()
	r, err := NewReceiver(ReceiverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceiver(t *testing.T) {
	tests := []struct {
		name  string
		in    []arrival
		want  string
		stats ReceiverStats // compared when Packets is set
	}{
		{
			name: "RFC 4733 presses",
			in: newStream(1, 100).
				press(1, 8000, 800, true, 3).wait(100*time.Millisecond).
				press(2, 16000, 800, true, 3).wait(100*time.Millisecond).
				press(3, 24000, 800, true, 3).out,
			want:  "123",
			stats: ReceiverStats{Packets: 21, Presses: 3, Repeats: 6},
		},
		{
			name: "no marker bits",
			in: newStream(1, 100).
				press(4, 8000, 800, false, 3).wait(100*time.Millisecond).
				press(5, 16000, 800, false, 3).out,
			want: "45",
		},
		{
			name: "same digit twice",
			in: newStream(1, 100).
				press(5, 8000, 800, true, 3).wait(60*time.Millisecond).
				press(5, 8800+480, 800, true, 3).out,
			want: "55",
		},
		{
			name: "lost end reports",
			in: newStream(1, 100).
				press(1, 8000, 800, true, 0).wait(100*time.Millisecond).
				press(2, 16000, 800, true, 0).out,
			want:  "12",
			stats: ReceiverStats{Packets: 8, Presses: 2, LostEnds: 1},
		},
		{
			name: "same digit twice, lost ends, no markers",
			// The pause (60 ms) is longer than the continuation slack.
			in: newStream(1, 100).
				press(7, 8000, 800, false, 0).wait(60*time.Millisecond).
				press(7, 8800+480, 800, false, 0).out,
			want: "77",
		},
		{
			name: "same digit twice, lost ends, close, with marker",
			// Too close to tell apart by timing; the marker bit tells.
			in: newStream(1, 100).
				press(7, 8000, 800, true, 0).
				press(7, 8000+800+160, 800, true, 3).out,
			want: "77",
		},
		{
			name: "only end reports",
			in: newStream(1, 100).
				press(8, 8000, 800, false, 3).
				press(9, 16000, 160, false, 3).out,
			want: "89",
		},
		{
			name: "zero durations",
			in: newStream(1, 100).
				send(8000, true, Event{Code: 3}).
				send(8000, false, Event{Code: 3}).
				send(8000, false, Event{Code: 3, End: true}).
				send(8000, false, Event{Code: 3, End: true}).
				send(16000, false, Event{Code: 3}).
				send(16000, false, Event{Code: 3, End: true}).out,
			want: "33",
		},
		{
			name: "durations jump, stall and shrink",
			in: newStream(1, 100).
				send(8000, true, Event{Code: 6, Duration: 400}).
				send(8000, false, Event{Code: 6, Duration: 400}).
				send(8000, false, Event{Code: 6, Duration: 1200}).
				send(8000, false, Event{Code: 6, Duration: 800}).
				send(8000, false, Event{Code: 6, End: true, Duration: 480}).
				send(8000, false, Event{Code: 6, End: true, Duration: 480}).out,
			want: "6",
		},
		{
			name: "timestamp moves within the event",
			// Some senders restamp every packet, with the duration counted
			// from the new timestamp or from the start.
			in: newStream(1, 100).
				send(8000, true, Event{Code: 9, Duration: 160}).
				send(8160, false, Event{Code: 9, Duration: 160}).
				send(8320, false, Event{Code: 9, Duration: 160}).
				send(8640, false, Event{Code: 9, Duration: 160}). // one packet lost
				send(8800, false, Event{Code: 9, Duration: 960}).
				send(8960, false, Event{Code: 9, End: true, Duration: 160}).
				send(8960, false, Event{Code: 9, End: true, Duration: 160}).out,
			want: "9",
		},
		{
			name: "duplicated packets",
			in: func() []arrival {
				s := newStream(1, 100).press(1, 8000, 480, true, 3).press(2, 9000, 480, true, 3)
				var out []arrival
				for _, a := range s.out {
					out = append(out, a, a)
				}
				return out
			}(),
			want: "12",
		},
		{
			name: "reordered packets",
			in: func() []arrival {
				s := newStream(1, 100).press(1, 8000, 640, true, 3).press(2, 9000, 640, true, 3)
				out := s.out
				// Swap the first two packets and the last end report of "1"
				// with the first packet of "2".
				out[0], out[1] = out[1], out[0]
				out[5], out[6] = out[6], out[5]
				return out
			}(),
			want: "12",
		},
		{
			name: "straggler of an unseen older event",
			in: newStream(1, 100).
				press(1, 8000, 480, true, 3).
				press(2, 16000, 480, true, 1).
				send(12000, false, Event{Code: 3, End: true, Duration: 480}).out,
			want:  "12",
			stats: ReceiverStats{Packets: 9, Presses: 2, Repeats: 2, Late: 1},
		},
		{
			name: "new SSRC reuses timestamp and code",
			in: append(newStream(1, 100).press(4, 8000, 480, true, 3).out,
				newStream(2, 7).wait(time.Second).press(4, 8000, 480, true, 3).out...),
			want: "44",
		},
		{
			name: "straggler from the previous SSRC",
			in: func() []arrival {
				a := newStream(1, 100).press(4, 8000, 480, true, 3).out
				b := newStream(2, 7).wait(100*time.Millisecond).press(5, 500, 480, true, 3).out
				// A's last end report arrives in the middle of B.
				return append(append(append(a[:len(a)-1:len(a)-1], b[:2]...), a[len(a)-1]), b[2:]...)
			}(),
			want: "45",
		},
		{
			name: "sequence restart with older timestamps",
			in: append(newStream(1, 5000).press(4, 80000, 480, true, 3).out,
				newStream(1, 10).wait(time.Second).press(5, 70000, 480, true, 3).out...),
			want: "45",
		},
		{
			name: "events packed in one packet",
			// RFC 4733 §2.5.1.5: "1" (complete) then "2" (ongoing) at
			// 8000+800; then "2" alone at its own timestamp.
			in: newStream(1, 100).
				send(8000, true, Event{Code: 1, End: true, Duration: 800}, Event{Code: 2, Duration: 160}).
				send(8800, false, Event{Code: 2, Duration: 320}).
				send(8800, false, Event{Code: 2, End: true, Duration: 480}).out,
			want: "12",
		},
		{
			name: "padding after an unfinished event",
			in: newStream(1, 100).
				send(8000, true, Event{Code: 1, Duration: 160}, Event{}, Event{}).
				send(8000, false, Event{Code: 1, End: true, Duration: 320}).out,
			want: "1",
		},
		{
			name: "two codes at one timestamp",
			in: newStream(1, 100).
				send(8000, true, Event{Code: 1, End: true, Duration: 160}).
				send(8000, true, Event{Code: 2, End: true, Duration: 160}).out,
			want: "12",
		},
		{
			name: "flash",
			in:   newStream(1, 100).press(EventFlash, 8000, 1600, true, 3).out,
			want: "?",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestReceiver(t)
			if got := feed(t, r, tc.in); got != tc.want {
				t.Errorf("presses = %q, want %q", got, tc.want)
			}
			if tc.stats.Packets != 0 {
				if got := r.Stats(); got != tc.stats {
					t.Errorf("Stats() = %+v, want %+v", got, tc.stats)
				}
			}
		})
	}
}

// TestReceiverSender sends digits with the Sender, including one longer
// than MaxDuration, and receives them with each packet lost, duplicated or
// swapped in turn.
func TestReceiverSender(t *testing.T) {
	s, err := NewSender(160, 10)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		code uint8
		ts   uint32
		dur  uint32
	}
	events := []event{
		{code: 1, ts: 1000, dur: 800},
		{code: 1, ts: 3000, dur: 800},
		{code: 0, ts: 5000, dur: 160},
		{code: 11, ts: 7000, dur: 2*MaxDuration + 1000}, // about 16 s
		{code: 12, ts: 7000 + 2*MaxDuration + 3000, dur: 1600},
	}
	var in []arrival
	seq := uint16(65000) // wraps
	for _, e := range events {
		pkts, err := s.AppendPackets(nil, e.code, e.ts, e.dur)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			in = append(in, arrival{
				at: time.Duration(len(in)) * 20 * time.Millisecond,
				p:  Packet{SSRC: 9, Sequence: seq, Timestamp: p.Timestamp, Marker: p.Marker, Payload: p.Payload[:]},
			})
			seq++
		}
	}
	const want = "110#A"
	r := newTestReceiver(t)
	if got := feed(t, r, in); got != want {
		t.Fatalf("presses = %q, want %q", got, want)
	}
	last, ok := r.Last()
	if !ok || !last.Ended || last.Duration != 1600 {
		t.Errorf("Last() = %+v, %v; want an ended press of 1600", last, ok)
	}
	for i := range in {
		for _, mangle := range []string{"lose", "duplicate", "swap"} {
			mod := append([]arrival(nil), in...)
			switch mangle {
			case "lose":
				mod = append(mod[:i], mod[i+1:]...)
			case "duplicate":
				mod = append(mod[:i+1], mod[i:]...)
			case "swap":
				if i+1 < len(mod) {
					mod[i], mod[i+1] = mod[i+1], mod[i]
				}
			}
			r := newTestReceiver(t)
			if got := feed(t, r, mod); got != want {
				t.Errorf("%s packet %d: presses = %q, want %q", mangle, i, got, want)
			}
		}
	}
}

func TestReceiverLongEventDuration(t *testing.T) {
	s, err := NewSender(160, 10)
	if err != nil {
		t.Fatal(err)
	}
	const total = MaxDuration + 5000
	pkts, err := s.AppendPackets(nil, 5, 100, total)
	if err != nil {
		t.Fatal(err)
	}
	r := newTestReceiver(t)
	var got []Press
	for i, p := range pkts {
		got, err = r.Receive(got, Packet{SSRC: 1, Sequence: uint16(i), Timestamp: p.Timestamp, Marker: p.Marker, Payload: p.Payload[:]}, epoch)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].Code != 5 || got[0].Timestamp != 100 {
		t.Fatalf("presses = %+v, want one press of 5 at 100", got)
	}
	last, _ := r.Last()
	if last.Duration != total || !last.Ended {
		t.Errorf("Last() = %+v, want duration %d, ended", last, total)
	}
}

// TestReceiverSegmentsWithEndBits accepts the other reading of RFC 4733
// §2.5.1.3, where every segment ends with end reports.
func TestReceiverSegmentsWithEndBits(t *testing.T) {
	in := newStream(1, 0).
		press(3, 1000, MaxDuration, true, 3).
		press(3, 1000+MaxDuration, 800, false, 3).out
	r := newTestReceiver(t)
	if got := feed(t, r, in); got != "3" {
		t.Errorf("presses = %q, want %q", got, "3")
	}
	if last, _ := r.Last(); last.Duration != MaxDuration+800 {
		t.Errorf("Last().Duration = %d, want %d", last.Duration, MaxDuration+800)
	}
}

func TestReceiverTimeout(t *testing.T) {
	r, err := NewReceiver(ReceiverConfig{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in := newStream(1, 0).press(2, 8000, 640, true, 0).out // end lost
	if got := feed(t, r, in); got != "2" {
		t.Fatalf("presses = %q, want %q", got, "2")
	}
	lastAt := epoch.Add(in[len(in)-1].at)
	if last, ok := r.Last(); !ok || last.Ended || last.Duration != 480 {
		t.Errorf("Last() = %+v, %v; want an ongoing press of 480", last, ok)
	}
	if r.Expire(lastAt.Add(499 * time.Millisecond)) {
		t.Errorf("Expire before the timeout = true, want false")
	}
	if !r.Expire(lastAt.Add(500 * time.Millisecond)) {
		t.Errorf("Expire at the timeout = false, want true")
	}
	if r.Expire(lastAt.Add(time.Second)) {
		t.Errorf("second Expire = true, want false")
	}
	if last, _ := r.Last(); !last.Ended {
		t.Errorf("Last().Ended = false after the timeout")
	}
	// A report that lengthens the press shows it is still held.
	got, err := r.Receive(nil, Packet{SSRC: 1, Sequence: 3, Timestamp: 8000, Payload: payload(Event{Code: 2, Duration: 560})}, lastAt.Add(time.Second))
	if err != nil || len(got) != 0 {
		t.Errorf("late update: presses %+v, error %v; want none", got, err)
	}
	if last, _ := r.Last(); last.Ended || last.Duration != 560 {
		t.Errorf("Last() after a late update = %+v, want an ongoing press of 560", last)
	}
	// The late end report neither repeats the press nor is an error.
	got, err = r.Receive(nil, Packet{SSRC: 1, Sequence: 4, Timestamp: 8000, Payload: payload(Event{Code: 2, End: true, Duration: 640})}, lastAt.Add(time.Second+100*time.Millisecond))
	if err != nil || len(got) != 0 {
		t.Errorf("late end report: presses %+v, error %v; want none", got, err)
	}
	if last, _ := r.Last(); last.Duration != 640 || !last.Ended {
		t.Errorf("Last() after the late end report = %+v, want an ended press of 640", last)
	}
	if st := r.Stats(); st.TimedOut != 1 || st.LostEnds != 0 {
		t.Errorf("Stats() = %+v, want 1 timed out, 0 lost ends", st)
	}
}

func TestReceiverBadPayload(t *testing.T) {
	r := newTestReceiver(t)
	in := newStream(1, 0).press(2, 8000, 320, true, 0).out
	feed(t, r, in)
	before, beforeStats := *r, r.Stats()
	for n := range PayloadSize {
		got, err := r.Receive(nil, Packet{SSRC: 5, Sequence: 999, Timestamp: 1, Payload: make([]byte, n)}, epoch.Add(time.Hour))
		if !errors.Is(err, ErrShortPayload) || len(got) != 0 {
			t.Errorf("Receive(%d bytes) = %v, %v; want %v", n, got, err, ErrShortPayload)
		}
	}
	if *r != before || r.Stats() != beforeStats {
		t.Errorf("a bad payload changed the Receiver")
	}
}

func TestReceiverReset(t *testing.T) {
	r := newTestReceiver(t)
	in := newStream(1, 0).press(2, 8000, 320, true, 3).out
	if got := feed(t, r, in); got != "2" {
		t.Fatalf("presses = %q, want %q", got, "2")
	}
	r.Reset()
	if _, ok := r.Last(); ok {
		t.Errorf("Last() after Reset reports a press")
	}
	if st := r.Stats(); st != (ReceiverStats{}) {
		t.Errorf("Stats() after Reset = %+v, want zero", st)
	}
	if got := feed(t, r, in); got != "2" {
		t.Errorf("presses after Reset = %q, want %q", got, "2")
	}
}

func TestReceiverConfig(t *testing.T) {
	for _, cfg := range []ReceiverConfig{{ClockRate: -1}, {ClockRate: 2_000_000}, {Timeout: -time.Second}} {
		if _, err := NewReceiver(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewReceiver(%+v) error = %v, want %v", cfg, err, ErrConfig)
		}
	}
	// At 48 kHz the continuation slack is 1920 units: a same-digit press
	// 60 ms (2880 units) after a press whose end was lost is new.
	r, err := NewReceiver(ReceiverConfig{ClockRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	in := newStream(1, 0).
		send(48000, false, Event{Code: 1, Duration: 960}).
		send(48000, false, Event{Code: 1, Duration: 1920}).
		send(48000+1920+2880, false, Event{Code: 1, Duration: 960}).out
	if got := feed(t, r, in); got != "11" {
		t.Errorf("presses = %q, want %q", got, "11")
	}
}

// TestReceiverRandomLoss sends a dialling sequence through random loss,
// duplication and reordering: whatever arrives, no digit is reported twice
// or out of order.
func TestReceiverRandomLoss(t *testing.T) {
	const digits = "0123456789*#ABCD"
	s := newStream(77, 1)
	ts := uint32(0)
	for i := range len(digits) {
		c, _ := Code(digits[i])
		s.press(c, ts, 960, true, 3).wait(100 * time.Millisecond)
		ts += 960 + 800
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		var in []arrival
		for _, a := range s.out {
			switch x := rng.Float64(); {
			case x < 0.15: // lost
			case x < 0.25:
				in = append(in, a, a)
			default:
				in = append(in, a)
			}
		}
		for i := 0; i+1 < len(in); i++ {
			if rng.Float64() < 0.1 {
				in[i], in[i+1] = in[i+1], in[i]
			}
		}
		r := newTestReceiver(t)
		got := feed(t, r, in)
		if !isSubsequence(got, digits) {
			t.Fatalf("trial %d: presses %q are not an ordered subset of %q", trial, got, digits)
		}
		// A digit is lost only if all of its seven packets were.
		if len(got) < len(digits)-2 {
			t.Errorf("trial %d: presses %q lost more than expected", trial, got)
		}
	}
}

// isSubsequence reports whether every byte of s appears in t in order,
// each at most once.
func isSubsequence(s, t string) bool {
	j := 0
	for i := range len(s) {
		for j < len(t) && t[j] != s[i] {
			j++
		}
		if j == len(t) {
			return false
		}
		j++
	}
	return true
}
