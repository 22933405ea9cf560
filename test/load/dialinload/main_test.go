package main

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name string
		vals []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"median of 4", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p0 is the minimum", ms(5, 6), 0, 5 * time.Millisecond},
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("%s: percentile = %v, want %v", tc.name, got, tc.want)
		}
	}
	s := summarize(ms(30, 10, 20))
	if s.n != 3 || s.p50 != 20 || s.max != 30 {
		t.Errorf("summarize = %+v", s)
	}
}

// TestKeyPackets checks the packets of typed keys against RFC 4733
// §2.5.1: per press, the marker on the first report only, one timestamp,
// growing durations, three final reports; audio between presses; one
// sequence number per packet; the callback at the last key's first final
// report.
func TestKeyPackets(t *testing.T) {
	s, err := newStream(silenceULaw())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	called := 0
	if err := s.typeKeys("4#", func() { called++ }); err != nil {
		t.Fatal(err)
	}
	if err := s.typeKeys("A", nil); err == nil {
		t.Fatal("typeKeys accepted a key that is not on a keypad")
	}
	buf := make([]byte, 12+frameSamples)
	type pkt struct {
		pt             byte
		marker         bool
		seq            uint16
		ts             uint32
		code           byte
		end            bool
		dur            uint16
		callbackBefore int
	}
	var got []pkt
	for range 2*(pressFrames+endReports) + gapFrames + 2 {
		b, done := s.nextPacket(buf)
		p := pkt{pt: b[1] & 0x7f, marker: b[1]&0x80 != 0, seq: binary.BigEndian.Uint16(b[2:]), ts: binary.BigEndian.Uint32(b[4:]), callbackBefore: called}
		if p.pt == ptEvent {
			if len(b) != 16 {
				t.Fatalf("event packet of %d bytes", len(b))
			}
			p.code, p.end, p.dur = b[12], b[13]&0x80 != 0, binary.BigEndian.Uint16(b[14:])
		} else if len(b) != 12+frameSamples {
			t.Fatalf("audio packet of %d bytes", len(b))
		}
		if done != nil {
			done()
		}
		got = append(got, p)
	}
	var keys []byte
	for i, p := range got {
		if i > 0 && p.seq != got[i-1].seq+1 {
			t.Errorf("packet %d: sequence %d after %d", i, p.seq, got[i-1].seq)
		}
		if p.pt != ptEvent {
			continue
		}
		if p.marker {
			keys = append(keys, "0123456789*#"[p.code])
			// A press: its reports share the first one's timestamp.
			for j := i; j < i+pressFrames+endReports; j++ {
				q := got[j]
				if q.pt != ptEvent || q.ts != p.ts || q.code != p.code || (j > i && q.marker) {
					t.Fatalf("press at %d: packet %d is %+v", i, j, q)
				}
				if wantEnd := j-i >= pressFrames; q.end != wantEnd {
					t.Errorf("press at %d: packet %d end=%v", i, j, q.end)
				}
				if j > i && q.dur < got[j-1].dur {
					t.Errorf("press at %d: duration shrinks", i)
				}
			}
			if d := got[i+pressFrames+endReports-1].dur; d != pressFrames*frameSamples {
				t.Errorf("press at %d lasts %d samples", i, d)
			}
		}
	}
	if string(keys) != "4#" {
		t.Errorf("pressed %q, want 4#", keys)
	}
	if got[pressFrames+endReports].pt != ptPCMU {
		t.Errorf("no audio between the presses")
	}
	// The callback fires once, with the '#''s first final report.
	second := pressFrames + endReports + gapFrames
	if called != 1 || got[second+pressFrames].callbackBefore != 0 || got[second+pressFrames+1].callbackBefore != 1 {
		t.Errorf("callback: %d calls, at the wrong packet", called)
	}
	if s.finalEnd.IsZero() || s.lastDown.IsZero() || s.finalEnd.Before(s.lastDown) {
		t.Errorf("finalEnd %v, lastDown %v", s.finalEnd, s.lastDown)
	}
}

func TestReadMeetings(t *testing.T) {
	good := `{"organizer":"sip:org1@x.test","password":"p","meeting":{"key":"K1","conference_id":"123","passcode":"456"}}`
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"one", good + "\n\n", 1, ""},
		{"two", good + "\n" + good, 2, ""},
		{"empty", "\n", 0, "none"},
		{"not json", "{", 0, "line 1"},
		{"no key", `{"organizer":"sip:a@b","meeting":{"conference_id":"1"}}`, 0, "required"},
		{"not sip", `{"organizer":"a@b","meeting":{"key":"K","conference_id":"1"}}`, 0, "required"},
		{"letters in the ID", `{"organizer":"sip:a@b","meeting":{"key":"K","conference_id":"12a"}}`, 0, "not digits"},
		{"letters in the passcode", `{"organizer":"sip:a@b","meeting":{"key":"K","conference_id":"1","passcode":"#"}}`, 0, "not digits"},
	} {
		ms, err := readMeetings(strings.NewReader(tc.in))
		if tc.err == "" && (err != nil || len(ms) != tc.n) {
			t.Errorf("%s: %d meetings, %v", tc.name, len(ms), err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
		}
	}
}

func FuzzReadMeetings(f *testing.F) {
	f.Add(`{"organizer":"sip:org1@x.test","password":"p","meeting":{"key":"K1","conference_id":"123","passcode":"456"}}`)
	f.Add("{\n}")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := readMeetings(strings.NewReader(in))
		if err == nil && len(ms) == 0 {
			t.Fatal("no error and no meetings")
		}
	})
}

func TestAnswerMedia(t *testing.T) {
	answer := func(m string) []byte {
		return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m +
			"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		events bool
		want   string
	}{
		{"pcmu and events", answer("m=audio 4000 RTP/AVP 0 101\r\n"), true, "127.0.0.1:4000"},
		{"no events, not needed", answer("m=audio 4002 RTP/AVP 0\r\n"), false, "127.0.0.1:4002"},
		{"no events, needed", answer("m=audio 4002 RTP/AVP 0\r\n"), true, ""},
		{"no PCMU", answer("m=audio 4002 RTP/AVP 8 101\r\n"), true, ""},
		{"rejected stream", answer("m=audio 0 RTP/AVP 0 101\r\n"), true, ""},
		{"garbage", []byte("hello"), true, ""},
	} {
		got, err := answerMedia(tc.body, tc.events)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: accepted (%v)", tc.name, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s: %v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

func TestLoud(t *testing.T) {
	tone := toneULaw(700)
	if !loud(tone[:frameSamples]) {
		t.Error("a -6 dBFS tone is not loud")
	}
	if loud(silenceULaw()) || loud(nil) {
		t.Error("silence is loud")
	}
}

func TestOfferParses(t *testing.T) {
	if _, err := answerMedia(offer(5004, 1), true); err != nil {
		t.Errorf("our own offer does not parse as a usable description: %v", err)
	}
}

// TestHandOffDetection feeds a stream what a caller receives: the
// attendant's audio, then, after the last key, an RTCP sender report (its
// bytes 8-11 are no SSRC) and the A/V MCU's mix. The switch must be the
// first RTP packet of the new SSRC, and the RTCP socket must be the RTP
// port plus one.
func TestHandOffDetection(t *testing.T) {
	s, err := newStream(silenceULaw())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if s.port()%2 != 0 || s.rtcp.LocalAddr().(*net.UDPAddr).Port != s.port()+1 {
		t.Fatalf("RTP port %d, RTCP %v", s.port(), s.rtcp.LocalAddr())
	}
	stop := make(chan struct{})
	defer close(stop)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	s.start(peer.LocalAddr().(*net.UDPAddr).AddrPort(), stop)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.port()}
	rtp := func(ssrc uint32, payload []byte) []byte {
		b := make([]byte, 12, 12+len(payload))
		b[0], b[1] = 0x80, ptPCMU
		binary.BigEndian.PutUint32(b[8:], ssrc)
		return append(b, payload...)
	}
	send := func(b []byte) {
		if _, err := peer.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tone := toneULaw(700)
	send(rtp(0xa77e, silenceULaw()))
	<-s.rx.firstSeen
	s.markKeysDone(time.Now())
	sr := make([]byte, 28)
	sr[0], sr[1] = 0x80, 200 // RTCP SR (RFC 3550 §6.4.1)
	binary.BigEndian.PutUint32(sr[8:], 0xeeac9329)
	send(sr)
	send(rtp(0xa77e, silenceULaw()))
	send(rtp(0x3c0, tone[:frameSamples]))
	select {
	case <-s.rx.switched:
	case <-time.After(2 * time.Second):
		t.Fatal("no switch")
	}
	s.rx.mu.Lock()
	defer s.rx.mu.Unlock()
	if s.rx.newSSRC != 0x3c0 || s.rx.loud != 1 || s.rx.lastOld.IsZero() || !s.rx.lastOld.Before(s.rx.switchAt) {
		t.Errorf("new SSRC %x, %d loud, last old %v, switch %v", s.rx.newSSRC, s.rx.loud, s.rx.lastOld, s.rx.switchAt)
	}
}
