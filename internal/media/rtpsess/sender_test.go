package rtpsess

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestSenderWriteHeader(t *testing.T) {
	s, err := ResumeSender(8000, 0xdeadbeef, 65534, 0xffffff00)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	wants := []rtp.Header{
		{Version: 2, PayloadType: 0, Marker: true, SequenceNumber: 65534, Timestamp: 0xffffff00, SSRC: 0xdeadbeef},
		{Version: 2, PayloadType: 0, SequenceNumber: 65535, Timestamp: 0xffffff00 + 160, SSRC: 0xdeadbeef},
		{Version: 2, PayloadType: 0, SequenceNumber: 0, Timestamp: 0x40, SSRC: 0xdeadbeef}, // both wrap
	}
	for i, want := range wants {
		n, err := s.WriteHeader(buf, 0, i == 0, 160, 160, t0)
		if err != nil || n != HeaderLen {
			t.Fatalf("WriteHeader = %d, %v; want %d, nil", n, err, HeaderLen)
		}
		var got rtp.Header
		if _, err := got.Unmarshal(buf[:n]); err != nil {
			t.Fatalf("pion cannot parse header %d: %v", i, err)
		}
		if got.Version != want.Version || got.Marker != want.Marker || got.PayloadType != want.PayloadType ||
			got.SequenceNumber != want.SequenceNumber || got.Timestamp != want.Timestamp || got.SSRC != want.SSRC ||
			got.Padding || got.Extension || len(got.CSRC) != 0 {
			t.Errorf("header %d = %+v, want %+v", i, got, want)
		}
	}
	if p, o := s.Counts(); p != 3 || o != 480 {
		t.Errorf("Counts() = %d, %d; want 3, 480", p, o)
	}
	s.Skip(800)
	if seq, ts := s.Next(); seq != 1 || ts != 0x40+160+800 {
		t.Errorf("Next() = %d, %#x; want 1, %#x", seq, ts, 0x40+160+800)
	}
}

func TestSenderWriteHeaderErrors(t *testing.T) {
	s, _ := ResumeSender(8000, 1, 10, 100)
	if _, err := s.WriteHeader(make([]byte, 11), 0, false, 160, 0, t0); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short buffer: err = %v, want %v", err, ErrShortBuffer)
	}
	if _, err := s.WriteHeader(make([]byte, 12), 128, false, 160, 0, t0); !errors.Is(err, ErrPayloadType) {
		t.Errorf("pt 128: err = %v, want %v", err, ErrPayloadType)
	}
	if seq, ts := s.Next(); seq != 10 || ts != 100 {
		t.Errorf("failed writes moved the stream to %d, %d", seq, ts)
	}
	if p, _ := s.Counts(); p != 0 {
		t.Errorf("failed writes counted %d packets", p)
	}
	if _, err := ResumeSender(0, 1, 1, 1); !errors.Is(err, ErrClockRate) {
		t.Errorf("ResumeSender(0, ...) err = %v, want %v", err, ErrClockRate)
	}
}

func TestNewSenderRandom(t *testing.T) {
	// 80 random bits in total: equal states mean crypto/rand is not in use.
	a, err := NewSender(8000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSender(8000)
	if err != nil {
		t.Fatal(err)
	}
	as, at := a.Next()
	bs, bt := b.Next()
	if a.SSRC() == b.SSRC() && as == bs && at == bt {
		t.Errorf("two senders share state ssrc %#x seq %d ts %d", a.SSRC(), as, at)
	}
}

func TestSenderRTPTimeAt(t *testing.T) {
	s, _ := ResumeSender(8000, 1, 0, 1000)
	if got := s.rtpTimeAt(t0); got != 1000 {
		t.Errorf("before any packet: %d, want 1000", got)
	}
	buf := make([]byte, HeaderLen)
	_, _ = s.WriteHeader(buf, 0, false, 160, 160, t0)
	if got := s.rtpTimeAt(t0.Add(5 * time.Millisecond)); got != 1040 {
		t.Errorf("5 ms after: %d, want 1040", got)
	}
	if got := s.rtpTimeAt(t0.Add(-5 * time.Millisecond)); got != 960 {
		t.Errorf("5 ms before: %d, want 960", got)
	}
}

func BenchmarkSenderWriteHeader(b *testing.B) {
	s, _ := ResumeSender(8000, 1, 0, 0)
	buf := make([]byte, 172)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(20 * time.Millisecond)
		if _, err := s.WriteHeader(buf, 0, false, 160, 160, now); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSenderWriteHeaderNoAlloc(t *testing.T) {
	s, _ := ResumeSender(8000, 1, 0, 0)
	buf := make([]byte, 172)
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = s.WriteHeader(buf, 8, false, 160, 160, t0)
	})
	if allocs != 0 {
		t.Errorf("WriteHeader allocates %v times, want 0", allocs)
	}
}
