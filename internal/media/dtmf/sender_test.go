package dtmf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func newTestSender(t *testing.T, interval uint32, volume uint8) *Sender {
	t.Helper()
	s, err := NewSender(interval, volume)
	if err != nil {
		t.Fatalf("NewSender(%d, %d): %v", interval, volume, err)
	}
	return s
}

// describe renders packets one a line for golden files and messages.
func describe(pkts []OutPacket) string {
	var b strings.Builder
	for _, p := range pkts {
		var ev Event
		if err := ev.Unmarshal(p.Payload[:]); err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "ts=%d m=%t payload=% x (event=%d end=%t volume=%d duration=%d)\n",
			p.Timestamp, p.Marker, p.Payload[:], ev.Code, ev.End, ev.Volume, ev.Duration)
	}
	return b.String()
}

// TestSenderDigit checks one 100 ms digit against RFC 4733 §2.5.1 and a
// golden wire dump: marker on the first packet only, one timestamp, the
// duration growing by 20 ms, three end reports.
func TestSenderDigit(t *testing.T) {
	s := newTestSender(t, 160, 10)
	pkts, err := s.AppendPackets(nil, 5, 123456, 800)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sender_digit5.golden", describe(pkts))
	if s.Busy() {
		t.Errorf("Busy() after the last packet = true")
	}
	if p, ok := s.Next(); ok {
		t.Errorf("Next() after the event = %+v, want none", p)
	}
}

func TestSenderDurations(t *testing.T) {
	tests := []struct {
		name     string
		interval uint32
		duration uint32
		want     []uint16 // durations; the last three are the end reports
	}{
		{name: "multiple of interval", interval: 160, duration: 480, want: []uint16{160, 320, 480, 480, 480}},
		{name: "not a multiple", interval: 160, duration: 500, want: []uint16{160, 320, 480, 500, 500, 500}},
		{name: "shorter than interval", interval: 160, duration: 100, want: []uint16{100, 100, 100}},
		{name: "50 ms updates", interval: 400, duration: 1600, want: []uint16{400, 800, 1200, 1600, 1600, 1600}},
		{name: "exactly the maximum", interval: 65535, duration: MaxDuration, want: []uint16{MaxDuration, MaxDuration, MaxDuration}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSender(t, tc.interval, 7)
			pkts, err := s.AppendPackets(nil, 9, 1000, tc.duration)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != len(tc.want) {
				t.Fatalf("got %d packets, want %d:\n%s", len(pkts), len(tc.want), describe(pkts))
			}
			for i, p := range pkts {
				var ev Event
				if err := ev.Unmarshal(p.Payload[:]); err != nil {
					t.Fatal(err)
				}
				wantEnd := i >= len(pkts)-EndRepeats
				if ev.Code != 9 || ev.Volume != 7 || ev.Duration != tc.want[i] || ev.End != wantEnd ||
					p.Timestamp != 1000 || p.Marker != (i == 0) {
					t.Errorf("packet %d = %s, want duration %d end %t", i, describe([]OutPacket{p}), tc.want[i], wantEnd)
				}
			}
		})
	}
}

// TestSenderSegments sends an event longer than MaxDuration as segments
// (RFC 4733 §2.5.1.3).
func TestSenderSegments(t *testing.T) {
	const total = 2*MaxDuration + 1000
	s := newTestSender(t, 160, 10)
	pkts, err := s.AppendPackets(nil, 11, 4_294_000_000, total) // the timestamp wraps
	if err != nil {
		t.Fatal(err)
	}
	segs := map[uint32]uint16{} // segment timestamp -> longest duration
	var order []uint32
	ends, markers := 0, 0
	for i, p := range pkts {
		var ev Event
		if err := ev.Unmarshal(p.Payload[:]); err != nil {
			t.Fatal(err)
		}
		if _, ok := segs[p.Timestamp]; !ok {
			order = append(order, p.Timestamp)
		}
		segs[p.Timestamp] = max(segs[p.Timestamp], ev.Duration)
		if ev.End {
			ends++
			if p.Timestamp != order[len(order)-1] || len(order) != 3 {
				t.Errorf("packet %d: end report outside the last segment", i)
			}
		}
		if p.Marker {
			markers++
		}
	}
	wantOrder := []uint32{4_294_000_000, 4_294_000_000 + MaxDuration, 4_294_000_000 + 2*MaxDuration}
	if fmt.Sprint(order) != fmt.Sprint(wantOrder) {
		t.Errorf("segment timestamps = %v, want %v", order, wantOrder)
	}
	if segs[wantOrder[0]] != MaxDuration || segs[wantOrder[1]] != MaxDuration || segs[wantOrder[2]] != 1000 {
		t.Errorf("segment durations = %v, want %d, %d, 1000", segs, MaxDuration, MaxDuration)
	}
	if ends != EndRepeats || markers != 1 {
		t.Errorf("%d end reports and %d markers, want %d and 1", ends, markers, EndRepeats)
	}
	// One packet per interval of each segment (the last one of a segment
	// may be short), then the repeated end reports.
	if want := 2*((MaxDuration+159)/160) + (1000+159)/160 + EndRepeats - 1; len(pkts) != want {
		t.Errorf("got %d packets, want %d", len(pkts), want)
	}
}

func TestSenderErrors(t *testing.T) {
	for _, tc := range []struct {
		interval uint32
		volume   uint8
	}{{0, 10}, {MaxDuration + 1, 10}, {160, 64}} {
		if _, err := NewSender(tc.interval, tc.volume); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSender(%d, %d) error = %v, want %v", tc.interval, tc.volume, err, ErrConfig)
		}
	}
	s := newTestSender(t, 160, 10)
	if err := s.Start(1, 0, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("Start(duration 0) error = %v, want %v", err, ErrConfig)
	}
	if s.Busy() {
		t.Errorf("Busy() after a failed Start = true")
	}
	if err := s.Start(1, 0, 800); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Next()
	if err := s.Start(2, 0, 800); !errors.Is(err, ErrBusy) {
		t.Errorf("Start while busy error = %v, want %v", err, ErrBusy)
	}
	second, _ := s.Next()
	if first.Payload[0] != 1 || second.Payload[0] != 1 || second.Marker {
		t.Errorf("a refused Start disturbed the event: %s", describe([]OutPacket{first, second}))
	}
}
