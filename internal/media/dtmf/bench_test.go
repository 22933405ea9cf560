package dtmf

import (
	"testing"
	"time"
)

// BenchmarkDetector measures the detector on one 20 ms frame: the cost the
// MCU pays per leg per tick when in-band detection is on.
func BenchmarkDetector(b *testing.B) {
	digits := newSignal(8000)
	for range 5 {
		digits.digit(b, '5', 0.1, -8, -6, 0).silence(0.1)
	}
	for _, tc := range []struct {
		name string
		rate int
		pcm  []int16
	}{
		{name: "silence", rate: 8000, pcm: make([]int16, 8000)},
		{name: "speech", rate: 8000, pcm: newSignal(8000).speech(1, 100, 200, -15, 1).pcm()},
		{name: "digits", rate: 8000, pcm: digits.pcm()},
		{name: "speech 16kHz", rate: 16000, pcm: newSignal(16000).speech(1, 100, 200, -15, 1).pcm()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := NewDetector(DetectorConfig{SampleRate: tc.rate})
			if err != nil {
				b.Fatal(err)
			}
			frame := tc.rate / 50
			dst := make([]byte, 0, 16)
			off := 0
			b.ReportAllocs()
			for b.Loop() {
				if off+frame > len(tc.pcm) {
					off = 0
				}
				dst = d.Detect(dst[:0], tc.pcm[off:off+frame])
				off += frame
			}
		})
	}
}

// BenchmarkReceiver measures one telephone-event packet through the
// Receiver: mostly updates and end reports of ongoing presses, with a new
// press every ten packets.
func BenchmarkReceiver(b *testing.B) {
	r, err := NewReceiver(ReceiverConfig{})
	if err != nil {
		b.Fatal(err)
	}
	var pkts [10][PayloadSize]byte
	for i := range pkts {
		ev := Event{Code: 5, Volume: 10, Duration: uint16(160 * (i + 1))}
		if i >= 7 {
			ev.End, ev.Duration = true, 1120
		}
		if _, err := ev.MarshalTo(pkts[i][:]); err != nil {
			b.Fatal(err)
		}
	}
	dst := make([]Press, 0, 4)
	now := epoch
	seq := uint16(0)
	ts := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		i := int(seq) % len(pkts)
		if i == 0 {
			ts += 4000
		}
		now = now.Add(20 * time.Millisecond)
		dst, err = r.Receive(dst[:0], Packet{SSRC: 1, Sequence: seq, Timestamp: ts, Marker: i == 0, Payload: pkts[i][:]}, now)
		if err != nil {
			b.Fatal(err)
		}
		seq++
	}
}

// BenchmarkSender measures producing one packet.
func BenchmarkSender(b *testing.B) {
	s, err := NewSender(160, 10)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Next(); !ok {
			if err := s.Start(1, 0, 1600); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEventUnmarshal(b *testing.B) {
	payload := []byte{0x05, 0x8a, 0x03, 0x20}
	var ev Event
	b.ReportAllocs()
	for b.Loop() {
		if err := ev.Unmarshal(payload); err != nil {
			b.Fatal(err)
		}
	}
}
