package rtpsess

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func newSession(tb testing.TB, ssrc uint32, cname string) *Session {
	tb.Helper()
	snd, err := ResumeSender(8000, ssrc, 1000, 50_000)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSession(snd, Config{CNAME: cname}, t0)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// send writes n packets from one session and hands them to the other's
// receiver, 20 ms apart, starting at *now.
func send(t *testing.T, from, to *Session, n int, now *time.Time) {
	t.Helper()
	buf := make([]byte, 172)
	for range n {
		if _, err := from.Sender().WriteHeader(buf, 0, false, 160, 160, *now); err != nil {
			t.Fatal(err)
		}
		var h rtp.Header
		if _, err := h.Unmarshal(buf); err != nil {
			t.Fatal(err)
		}
		to.Receiver().UpdateHeader(&h, *now)
		*now = now.Add(20 * time.Millisecond)
	}
}

func TestNewSessionErrors(t *testing.T) {
	snd, _ := ResumeSender(8000, 1, 1, 1)
	for _, cname := range []string{"", strings.Repeat("x", 256)} {
		if _, err := NewSession(snd, Config{CNAME: cname}, t0); !errors.Is(err, ErrCNAME) {
			t.Errorf("CNAME of %d octets: err = %v, want %v", len(cname), err, ErrCNAME)
		}
	}
}

// TestBuildReportRR: nothing sent, nothing received: an empty RR and SDES.
func TestBuildReportRR(t *testing.T) {
	s := newSession(t, 0x11111111, "mcu@example.org")
	buf := make([]byte, MaxReportLen)
	n, err := s.BuildReport(buf, t0)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatalf("pion cannot parse our report: %v", err)
	}
	want := []rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 0x11111111},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
			Source: 0x11111111,
			Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "mcu@example.org"}},
		}}},
	}
	if diff := cmp.Diff(want, pkts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if n%4 != 0 {
		t.Errorf("length %d is not a multiple of 4", n)
	}
}

// TestBuildReportSR: after sending, an SR with our counts and a block
// about the remote, then SDES; a round trip through pion.
func TestBuildReportSR(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu@example.org")
	phone := newSession(t, 0x22222222, "phone")
	now := t0
	send(t, phone, mcu, 11, &now) // the first is the probation packet: 10 counted
	send(t, mcu, phone, 5, &now)
	// Phone loses 2 packets then sends 10 more: loss 2 of 12. Its clock
	// ran on while the MCU sent (5 frames).
	phone.Sender().seq += 2
	phone.Sender().Skip(5 * 160)
	send(t, phone, mcu, 10, &now)

	buf := make([]byte, MaxReportLen)
	n, err := mcu.BuildReport(buf, now)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatalf("pion cannot parse our report: %v", err)
	}
	if len(pkts) != 2 {
		t.Fatalf("got %d packets, want SR and SDES", len(pkts))
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("first packet is %T, want SR", pkts[0])
	}
	// The last MCU packet left 220 ms before now, at timestamp 50000 + 4·160.
	want := &rtcp.SenderReport{
		SSRC:        0x11111111,
		NTPTime:     ntpTime(now),
		RTPTime:     50_000 + 4*160 + 11*160,
		PacketCount: 5,
		OctetCount:  5 * 160,
		Reports: []rtcp.ReceptionReport{{
			SSRC:               0x22222222,
			FractionLost:       2 * 256 / 22,
			TotalLost:          2,
			LastSequenceNumber: 1000 + 22,
		}},
	}
	if diff := cmp.Diff(want, sr); diff != "" {
		t.Errorf("SR (-want +got):\n%s", diff)
	}
	if _, ok := pkts[1].(*rtcp.SourceDescription); !ok {
		t.Errorf("second packet is %T, want SDES", pkts[1])
	}

	// The next report, with nothing sent or received since, is an empty RR.
	n, _ = mcu.BuildReport(buf, now.Add(5*time.Second))
	pkts, _ = rtcp.Unmarshal(buf[:n])
	if rr, ok := pkts[0].(*rtcp.ReceiverReport); !ok || len(rr.Reports) != 0 {
		t.Errorf("second report starts with %+v, want an empty RR", pkts[0])
	}
}

func TestBuildBye(t *testing.T) {
	s := newSession(t, 0x11111111, "mcu")
	buf := make([]byte, MaxReportLen)
	n, err := s.BuildBye(buf, t0)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 3 {
		t.Fatalf("got %d packets, want RR, SDES, BYE", len(pkts))
	}
	if diff := cmp.Diff(&rtcp.Goodbye{Sources: []uint32{0x11111111}}, pkts[2]); diff != "" {
		t.Errorf("BYE (-want +got):\n%s", diff)
	}
}

func TestBuildReportShortBuffer(t *testing.T) {
	mcu := newSession(t, 1, "mcu")
	phone := newSession(t, 2, "phone")
	now := t0
	send(t, phone, mcu, 5, &now)
	send(t, mcu, phone, 5, &now)
	before := *mcu.Receiver()
	if _, err := mcu.BuildReport(make([]byte, 40), now); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("err = %v, want %v", err, ErrShortBuffer)
	}
	if !mcu.Sender().sent || before.cur != mcu.Receiver().cur {
		t.Error("a failed BuildReport changed state")
	}
}

// TestMaxReportLen: the largest report fits MaxReportLen exactly.
func TestMaxReportLen(t *testing.T) {
	snd, _ := ResumeSender(8000, 1, 1, 1)
	mcu, _ := NewSession(snd, Config{CNAME: strings.Repeat("c", 255)}, t0)
	phone := newSession(t, 2, "p")
	now := t0
	send(t, phone, mcu, 5, &now)
	send(t, mcu, phone, 5, &now)
	n, err := mcu.BuildBye(make([]byte, MaxReportLen), now)
	if err != nil || n != MaxReportLen {
		t.Errorf("BuildBye = %d, %v; want %d, nil", n, err, MaxReportLen)
	}
}

// TestRoundTripTime runs two sessions against each other: the MCU's SR
// reaches the phone after 50 ms, the phone reports 200 ms later, the report
// takes 100 ms back. RTT = 150 ms (RFC 3550 §6.4.1).
func TestRoundTripTime(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	phone := newSession(t, 0x22222222, "phone")
	now := t0
	send(t, mcu, phone, 10, &now)
	send(t, phone, mcu, 10, &now)

	buf := make([]byte, MaxReportLen)
	sent := now
	n, err := mcu.BuildReport(buf, sent)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := phone.HandleRTCP(buf[:n], sent.Add(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !fb.SenderReport || fb.HasRTT {
		t.Errorf("phone's feedback = %+v, want an SR and no RTT", fb)
	}

	n, err = phone.BuildReport(buf, sent.Add(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	fb, err = mcu.HandleRTCP(buf[:n], sent.Add(350*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !fb.HasReport || fb.Report.SSRC != 0x11111111 {
		t.Fatalf("mcu's feedback = %+v, want a report about 0x11111111", fb)
	}
	if want := uint32(ntpTime(sent) >> 16); fb.Report.LSR != want {
		t.Errorf("LSR = %#x, want %#x", fb.Report.LSR, want)
	}
	if got, want := fromShortNTP(fb.Report.DLSR), 200*time.Millisecond; absDiff(got, want) > 20*time.Microsecond {
		t.Errorf("DLSR = %v, want %v", got, want)
	}
	if !fb.HasRTT || absDiff(fb.RTT, 150*time.Millisecond) > 40*time.Microsecond {
		t.Errorf("RTT = %v (%v), want 150ms", fb.RTT, fb.HasRTT)
	}
	if rtt, ok := mcu.RTT(); !ok || rtt != fb.RTT {
		t.Errorf("RTT() = %v, %v; want %v, true", rtt, ok, fb.RTT)
	}
	if rb, ok := mcu.RemoteReport(); !ok || rb != fb.Report {
		t.Errorf("RemoteReport() = %+v, %v", rb, ok)
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRoundTripEdges(t *testing.T) {
	now := t0.Add(time.Hour)
	a := uint32(ntpTime(now) >> 16)
	tests := []struct {
		name   string
		b      ReportBlock
		want   time.Duration
		wantOK bool
	}{
		{"no SR seen", ReportBlock{}, 0, false},
		{"exact", ReportBlock{LSR: a - 0x10000, DLSR: 0x8000}, 500 * time.Millisecond, true},
		{"delay exceeds elapsed", ReportBlock{LSR: a - 0x100, DLSR: 0x200}, 0, false},
		{"LSR from the future", ReportBlock{LSR: a + 0x100}, 0, false},
		{"wraps the 32-bit clock", ReportBlock{LSR: a - 0x20000}, 2 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := roundTrip(tt.b, now)
		if ok != tt.wantOK || absDiff(got, tt.want) > 20*time.Microsecond {
			t.Errorf("%s: roundTrip = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestHandleRTCPNegativeLoss: a remote that saw duplicates reports negative
// cumulative loss in 24 bits; it must come back negative.
func TestHandleRTCPNegativeLoss(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	buf := make([]byte, 64)
	putRR(buf, 0x22222222, ReportBlock{SSRC: 0x11111111, CumulativeLost: -3, Jitter: 44, ExtendedMax: 9}, 1)
	fb, err := mcu.HandleRTCP(buf[:rrLen(1)], t0)
	if err != nil {
		t.Fatal(err)
	}
	want := ReportBlock{SSRC: 0x11111111, CumulativeLost: -3, Jitter: 44, ExtendedMax: 9}
	if !fb.HasReport || fb.Report != want {
		t.Errorf("report = %+v, want %+v", fb.Report, want)
	}
}

func TestHandleRTCPIgnoresOtherSSRC(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	buf := make([]byte, 64)
	putRR(buf, 0x22222222, ReportBlock{SSRC: 0x99, FractionLost: 9}, 1)
	fb, err := mcu.HandleRTCP(buf[:rrLen(1)], t0)
	if err != nil || fb.HasReport {
		t.Errorf("feedback = %+v, %v; want no report", fb, err)
	}
}

func TestHandleRTCPBye(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	oldLeg := newSession(t, 0x22222222, "gw1")
	newLeg := newSession(t, 0x33333333, "gw2")
	buf := make([]byte, MaxReportLen)

	// BYE before any RTP: the leg is the only peer, so it is a hint.
	n, _ := oldLeg.BuildBye(buf, t0)
	if fb, err := mcu.HandleRTCP(buf[:n], t0); err != nil || !fb.Bye {
		t.Errorf("BYE with no source yet: %+v, %v; want Bye", fb, err)
	}

	// Gateway failover: the new SSRC took over, then the old one says BYE.
	now := t0
	send(t, oldLeg, mcu, 5, &now)
	send(t, newLeg, mcu, 5, &now)
	n, _ = oldLeg.BuildBye(buf, now)
	if fb, err := mcu.HandleRTCP(buf[:n], now); err != nil || fb.Bye {
		t.Errorf("BYE from a replaced SSRC: %+v, %v; want no Bye", fb, err)
	}
	n, _ = newLeg.BuildBye(buf, now)
	if fb, err := mcu.HandleRTCP(buf[:n], now); err != nil || !fb.Bye {
		t.Errorf("BYE from the current SSRC: %+v, %v; want Bye", fb, err)
	}
}

func TestHandleRTCPErrors(t *testing.T) {
	mcu := newSession(t, 1, "mcu")
	for name, pkt := range map[string][]byte{
		"empty":     {},
		"version 1": {0x40, 201, 0, 1, 0, 0, 0, 1},
		"truncated": {0x81, 201, 0, 7, 0, 0, 0, 1},
		"too long":  make([]byte, MaxRTCPLen+1),
	} {
		if _, err := mcu.HandleRTCP(pkt, t0.Add(time.Second)); !errors.Is(err, ErrBadRTCP) {
			t.Errorf("%s: err = %v, want %v", name, err, ErrBadRTCP)
		}
	}
	if got := mcu.Activity().RTCP; !got.IsZero() {
		t.Errorf("bad packets counted as activity at %v", got)
	}
}

func TestActivity(t *testing.T) {
	mcu := newSession(t, 1, "mcu")
	phone := newSession(t, 2, "phone")
	const timeout = 30 * time.Second
	if mcu.Silent(t0.Add(timeout), timeout) {
		t.Error("silent exactly at the timeout")
	}
	if !mcu.Silent(t0.Add(timeout+1), timeout) {
		t.Error("not silent after the timeout with nothing heard")
	}
	now := t0.Add(10 * time.Second)
	send(t, phone, mcu, 1, &now) // even a probation packet is a sign of life
	if mcu.Silent(t0.Add(timeout+1), timeout) {
		t.Error("silent although RTP arrived 20 s ago")
	}
	// On hold: RTCP only.
	buf := make([]byte, MaxReportLen)
	n, _ := phone.BuildReport(buf, t0.Add(60*time.Second))
	if _, err := mcu.HandleRTCP(buf[:n], t0.Add(60*time.Second)); err != nil {
		t.Fatal(err)
	}
	a := mcu.Activity()
	later := t0.Add(80 * time.Second)
	if a.Silent(later, timeout) {
		t.Error("silent although RTCP arrived 20 s ago")
	}
	if !a.RTPSilent(later, timeout) {
		t.Error("RTPSilent false although RTP stopped 70 s ago")
	}
	if got, want := a.Last(), t0.Add(60*time.Second); !got.Equal(want) {
		t.Errorf("Last() = %v, want %v", got, want)
	}
}

func TestReportInterval(t *testing.T) {
	bw := DefaultBandwidth * 0.05 / 8 // 500 octets/s
	tests := []struct {
		name string
		p    IntervalParams
		u    float64
		want float64 // seconds
	}{
		{"two members, minimum", IntervalParams{Members: 2, Senders: 2, RTCPBandwidth: bw, WeSent: true, AvgRTCPSize: 100}, 0.5, 5 / (math.E - 1.5)},
		{"randomized low end", IntervalParams{Members: 2, Senders: 2, RTCPBandwidth: bw, AvgRTCPSize: 100}, 0, 2.5 / (math.E - 1.5)},
		{"randomized high end", IntervalParams{Members: 2, Senders: 2, RTCPBandwidth: bw, AvgRTCPSize: 100}, 1, 7.5 / (math.E - 1.5)},
		{"initial halves the minimum", IntervalParams{Members: 2, RTCPBandwidth: bw, AvgRTCPSize: 100, Initial: true}, 0.5, 2.5 / (math.E - 1.5)},
		{"many members, we send", IntervalParams{Members: 100, Senders: 10, RTCPBandwidth: bw, WeSent: true, AvgRTCPSize: 200}, 0.5, 200 * 10 / (bw * 0.25) / (math.E - 1.5)},
		{"many members, we listen", IntervalParams{Members: 100, Senders: 10, RTCPBandwidth: bw, AvgRTCPSize: 200}, 0.5, 200 * 90 / (bw * 0.75) / (math.E - 1.5)},
		{"many senders share all", IntervalParams{Members: 100, Senders: 50, RTCPBandwidth: bw, AvgRTCPSize: 200}, 0.5, 200 * 100 / bw / (math.E - 1.5)},
		{"no bandwidth: minimum", IntervalParams{Members: 2}, 0.5, 5 / (math.E - 1.5)},
	}
	for _, tt := range tests {
		got := ReportInterval(tt.p, tt.u).Seconds()
		if math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("%s: %v s, want %v s", tt.name, got, tt.want)
		}
	}
}

func TestSessionReportInterval(t *testing.T) {
	s := newSession(t, 1, "mcu")
	if got, want := s.reportInterval(0.5).Seconds(), 2.5/(math.E-1.5); math.Abs(got-want) > 1e-6 {
		t.Errorf("initial interval %v s, want %v s", got, want)
	}
	buf := make([]byte, MaxReportLen)
	if _, err := s.BuildReport(buf, t0); err != nil {
		t.Fatal(err)
	}
	if got, want := s.reportInterval(0.5).Seconds(), 5/(math.E-1.5); math.Abs(got-want) > 1e-6 {
		t.Errorf("later interval %v s, want %v s", got, want)
	}
	for range 100 {
		if d := s.ReportInterval(); d < 2*time.Second || d > 7*time.Second {
			t.Fatalf("ReportInterval() = %v, outside [0.5, 1.5] × 5 s / 1.218", d)
		}
	}
}

func TestNTP(t *testing.T) {
	// 1970-01-01 is 2208988800 s after the NTP epoch; half a second is 2^31.
	if got, want := ntpTime(time.Unix(0, 500_000_000)), uint64(2208988800)<<32|1<<31; got != want {
		t.Errorf("ntpTime = %#x, want %#x", got, want)
	}
	if got := shortNTP(1500 * time.Millisecond); got != 0x18000 {
		t.Errorf("shortNTP(1.5 s) = %#x, want 0x18000", got)
	}
	if got := shortNTP(-time.Second); got != 0 {
		t.Errorf("shortNTP(-1 s) = %#x, want 0", got)
	}
	if got := fromShortNTP(0x18000); got != 1500*time.Millisecond {
		t.Errorf("fromShortNTP(0x18000) = %v, want 1.5s", got)
	}
}

func TestBuildReportNoAlloc(t *testing.T) {
	mcu := newSession(t, 1, "mcu@example.org")
	phone := newSession(t, 2, "phone")
	now := t0
	send(t, phone, mcu, 5, &now)
	buf := make([]byte, MaxReportLen)
	hdr := make([]byte, HeaderLen)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = mcu.Sender().WriteHeader(hdr, 0, false, 160, 160, now)
		mcu.Receiver().Update(2, phone.Sender().seq, 0, now)
		phone.Sender().seq++
		_, _ = mcu.BuildReport(buf, now)
	})
	if allocs != 0 {
		t.Errorf("BuildReport allocates %v times, want 0", allocs)
	}
}

func BenchmarkBuildReport(b *testing.B) {
	snd, _ := ResumeSender(8000, 1, 0, 0)
	s, _ := NewSession(snd, Config{CNAME: "mcu@example.org"}, t0)
	buf := make([]byte, MaxReportLen)
	hdr := make([]byte, HeaderLen)
	var seq uint16
	b.ReportAllocs()
	for b.Loop() {
		_, _ = snd.WriteHeader(hdr, 0, false, 160, 160, t0)
		s.Receiver().Update(2, seq, 0, t0)
		seq++
		if _, err := s.BuildReport(buf, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandleRTCP(b *testing.B) {
	mcu, _ := NewSession(must(ResumeSender(8000, 1, 0, 0)), Config{CNAME: "mcu"}, t0)
	phone, _ := NewSession(must(ResumeSender(8000, 2, 0, 0)), Config{CNAME: "phone@example.org"}, t0)
	hdr := make([]byte, HeaderLen)
	_, _ = phone.Sender().WriteHeader(hdr, 0, false, 160, 160, t0)
	buf := make([]byte, MaxReportLen)
	n, _ := phone.BuildReport(buf, t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mcu.HandleRTCP(buf[:n], t0); err != nil {
			b.Fatal(err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzHandleRTCP: garbage gives an error, never a panic, and a packet that
// fails changes no state.
func FuzzHandleRTCP(f *testing.F) {
	mcu := newSession(f, 0x11111111, "mcu")
	phone := newSession(f, 0x22222222, "phone@example.org")
	buf := make([]byte, MaxReportLen)
	now := t0
	n, _ := phone.BuildReport(buf, now)
	f.Add(append([]byte(nil), buf[:n]...))
	n, _ = phone.BuildBye(buf, now)
	f.Add(append([]byte(nil), buf[:n]...))
	hdr := make([]byte, HeaderLen)
	_, _ = phone.Sender().WriteHeader(hdr, 0, false, 160, 160, now)
	n, _ = phone.BuildReport(buf, now)
	f.Add(append([]byte(nil), buf[:n]...))
	putRR(buf, 0x22222222, ReportBlock{SSRC: 0x11111111, CumulativeLost: -1, LSR: 1, DLSR: 2}, 1)
	f.Add(append([]byte(nil), buf[:rrLen(1)]...))
	f.Add([]byte{0x81, 203, 0, 1, 0x22, 0x22, 0x22, 0x22})
	f.Add([]byte{0x80, 200, 0, 0})
	_ = mcu
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSession(t, 0x11111111, "mcu")
		before := *s
		rcv, snd := *s.rcv, *s.snd
		fb, err := s.HandleRTCP(data, t0.Add(time.Second))
		if err != nil {
			if !errors.Is(err, ErrBadRTCP) {
				t.Fatalf("error %v does not wrap ErrBadRTCP", err)
			}
			if *s.rcv != rcv || *s.snd != snd || !sessionEqual(&before, s) {
				t.Fatal("a rejected packet changed the session")
			}
			return
		}
		if fb.HasReport && fb.Report.SSRC != 0x11111111 {
			t.Fatalf("report about %#x accepted as ours", fb.Report.SSRC)
		}
		if fb.HasRTT && fb.RTT < 0 {
			t.Fatalf("negative RTT %v", fb.RTT)
		}
	})
}

func sessionEqual(a, b *Session) bool {
	return a.lastRTCP.Equal(b.lastRTCP) && a.avgSize == b.avgSize && a.remote == b.remote &&
		a.hasRemote == b.hasRemote && a.rtt == b.rtt && a.hasRTT == b.hasRTT && a.initial == b.initial
}

// TestLSROnlyForCurrentSource: after the remote's SSRC changes, our report
// must not echo the old source's SR as if the new one had sent it.
func TestLSROnlyForCurrentSource(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	gw1 := newSession(t, 0x22222222, "gw1")
	gw2 := newSession(t, 0x33333333, "gw2")
	now := t0
	send(t, gw1, mcu, 5, &now)
	buf := make([]byte, MaxReportLen)
	n, _ := gw1.BuildReport(buf, now)
	if _, err := mcu.HandleRTCP(buf[:n], now); err != nil {
		t.Fatal(err)
	}
	send(t, gw1, mcu, 2, &now)
	rb, ok := mcu.Receiver().ReportBlock(now)
	if !ok || rb.LSR == 0 || rb.SSRC != 0x22222222 {
		t.Fatalf("report about gw1 = %+v, %v; want one with LSR", rb, ok)
	}

	send(t, gw2, mcu, 5, &now) // failover
	rb, ok = mcu.Receiver().ReportBlock(now)
	if !ok || rb.SSRC != 0x33333333 || rb.LSR != 0 || rb.DLSR != 0 {
		t.Errorf("report about gw2 = %+v, %v; want no LSR", rb, ok)
	}
	if st := mcu.Receiver().Stats(); st.Lost != 0 || st.Restarts != 1 {
		t.Errorf("after failover: %+v, want no loss and one restart", st)
	}
}

// TestHandleRTCPCompound reads a compound packet with SR (carrying a report
// about us), SDES and BYE at once.
func TestHandleRTCPCompound(t *testing.T) {
	mcu := newSession(t, 0x11111111, "mcu")
	phone := newSession(t, 0x22222222, "phone")
	now := t0
	send(t, mcu, phone, 10, &now)
	send(t, phone, mcu, 10, &now)
	buf := make([]byte, MaxReportLen)
	n, _ := phone.BuildBye(buf, now)
	fb, err := mcu.HandleRTCP(buf[:n], now.Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !fb.SenderReport || !fb.HasReport || !fb.Bye || fb.HasRTT {
		t.Errorf("feedback = %+v, want SR, report and BYE without RTT", fb)
	}
	if fb.Report.ExtendedMax != 1009 || fb.Report.FractionLost != 0 || fb.Report.CumulativeLost != 0 {
		t.Errorf("report = %+v, want all 10 packets (1000..1009) received", fb.Report)
	}
	if a := mcu.Activity(); !a.RTCP.Equal(now.Add(time.Millisecond)) {
		t.Errorf("RTCP activity %v", a.RTCP)
	}
}

// TestReportIntervalSpread: the randomization spreads intervals uniformly
// over [0.5, 1.5] of the deterministic value, so the mean is that value.
func TestReportIntervalSpread(t *testing.T) {
	p := IntervalParams{Members: 2, RTCPBandwidth: 500, AvgRTCPSize: 100}
	base := 5 / (math.E - 1.5)
	var sum float64
	const n = 1000
	for i := range n {
		d := ReportInterval(p, (float64(i)+0.5)/n).Seconds()
		if d < base*0.5 || d > base*1.5 {
			t.Fatalf("interval %v s outside [%v, %v]", d, base*0.5, base*1.5)
		}
		sum += d
	}
	if mean := sum / n; math.Abs(mean-base) > 1e-3 {
		t.Errorf("mean interval %v s, want %v s", mean, base)
	}
	// Out-of-range draws are clamped rather than producing nonsense.
	if got := ReportInterval(p, -1).Seconds(); math.Abs(got-base*0.5) > 1e-9 {
		t.Errorf("u = -1: %v s, want %v s", got, base*0.5)
	}
}

// TestSRAfterSkip: timestamps keep counting through frames not sent, and
// the SR's RTP time stays tied to wall-clock time.
func TestSRAfterSkip(t *testing.T) {
	s := newSession(t, 1, "mcu")
	hdr := make([]byte, HeaderLen)
	now := t0
	for range 3 {
		_, _ = s.Sender().WriteHeader(hdr, 0, false, 160, 160, now)
		now = now.Add(20 * time.Millisecond)
	}
	s.Sender().Skip(10 * 160) // 200 ms muted
	now = now.Add(200 * time.Millisecond)
	_, _ = s.Sender().WriteHeader(hdr, 0, false, 160, 160, now)
	if got, want := binary.BigEndian.Uint32(hdr[4:]), uint32(50_000+13*160); got != want {
		t.Errorf("timestamp after skip %d, want %d", got, want)
	}
	buf := make([]byte, MaxReportLen)
	n, _ := s.BuildReport(buf, now.Add(10*time.Millisecond))
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	sr := pkts[0].(*rtcp.SenderReport)
	if want := uint32(50_000 + 13*160 + 80); sr.RTPTime != want || sr.PacketCount != 4 {
		t.Errorf("SR RTP time %d, packets %d; want %d, 4", sr.RTPTime, sr.PacketCount, want)
	}
}

func TestVerdictCounted(t *testing.T) {
	for v, want := range map[Verdict]bool{Accepted: true, Late: true, NewSequence: true, Probation: false, Jump: false} {
		if got := v.Counted(); got != want {
			t.Errorf("%v.Counted() = %v, want %v", v, got, want)
		}
	}
}
