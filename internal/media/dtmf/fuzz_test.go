package dtmf

import (
	"encoding/binary"
	"testing"
	"time"
)

func FuzzEventUnmarshal(f *testing.F) {
	f.Add([]byte{0x05, 0x0a, 0x00, 0xa0})
	f.Add([]byte{0x0b, 0xca, 0x03, 0x20, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		err := ev.Unmarshal(b)
		if len(b) < PayloadSize {
			if err == nil {
				t.Fatalf("Unmarshal(% x) accepted a short payload", b)
			}
			return
		}
		if err != nil {
			t.Fatalf("Unmarshal(% x): %v", b, err)
		}
		out, err := ev.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", ev, err)
		}
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]} // the R bit is dropped
		if string(out) != string(want) {
			t.Fatalf("round trip of % x = % x, want % x", b[:4], out, want)
		}
	})
}

// fuzzPackets decodes fuzz input into packets: per packet a flags byte
// (bit 0 marker, bits 1-2 SSRC choice, bits 3-5 payload blocks, bits 6-7
// arrival step), a sequence number, a timestamp and the payload blocks.
func fuzzPackets(b []byte) (pkts []Packet, steps []time.Duration) {
	for len(b) >= 7 {
		flags := b[0]
		p := Packet{
			Marker:    flags&1 != 0,
			SSRC:      uint32(flags>>1&3) * 0x10001,
			Sequence:  binary.BigEndian.Uint16(b[1:3]),
			Timestamp: binary.BigEndian.Uint32(b[3:7]),
		}
		b = b[7:]
		n := min(int(flags>>3&7)*PayloadSize+int(flags>>3&1)*2, len(b)) // odd block counts add 2 stray bytes
		p.Payload = b[:n]
		b = b[n:]
		pkts = append(pkts, p)
		steps = append(steps, time.Duration(flags>>6)*400*time.Millisecond)
	}
	return pkts, steps
}

func FuzzReceiver(f *testing.F) {
	seed := func(pkts ...[]byte) []byte {
		var out []byte
		for _, p := range pkts {
			out = append(out, p...)
		}
		return out
	}
	pkt := func(flags byte, seq uint16, ts uint32, payload ...byte) []byte {
		b := []byte{flags}
		b = binary.BigEndian.AppendUint16(b, seq)
		b = binary.BigEndian.AppendUint32(b, ts)
		return append(b, payload...)
	}
	f.Add(seed(
		pkt(1|1<<3, 1, 8000, 1, 10, 0, 160),
		pkt(1<<3, 2, 8000, 1, 10, 1, 64),
		pkt(1<<3, 3, 8000, 1, 0x8a, 1, 224),
		pkt(1<<3, 4, 8000, 1, 0x8a, 1, 224),
		pkt(1|1<<3|1<<6, 5, 9000, 2, 0x8a, 0, 160),
	))
	f.Add(seed(
		pkt(2<<3, 1, 100, 1, 0x80, 3, 32, 2, 0, 0, 160),
		pkt(2|1<<3, 9, 50, 4, 0, 0, 0),
		pkt(4|1<<3|3<<6, 500, 150, 4, 0x80, 0, 0),
	))
	f.Add(seed(pkt(1<<3, 7, 0, 0, 0, 0xff, 0xff), pkt(1<<3, 8, 0xffff, 0, 0, 0, 160)))
	f.Fuzz(checkReceiver)
}

// checkReceiver runs fuzz input through a Receiver: no panic, bad packets
// change nothing, every press comes from an event of the input, and no event
// is reported twice.
func checkReceiver(t *testing.T, data []byte) {
	// A few hundred packets reach every state; longer inputs only slow
	// the search down.
	pkts, steps := fuzzPackets(data[:min(len(data), 4096)])
	r, err := NewReceiver(ReceiverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		ssrc, ts uint32
		code     uint8
	}
	keys := map[key]bool{}
	starts := map[[2]uint32]bool{} // timestamp and code of every event
	now := epoch
	var presses []Press
	for i, p := range pkts {
		now = now.Add(steps[i])
		before := *r
		presses, err = r.Receive(presses, p, now)
		if len(p.Payload) < PayloadSize {
			if err == nil || *r != before {
				t.Fatalf("short payload: error %v, state changed %t", err, *r != before)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Receive(%+v): %v", p, err)
		}
		ts := p.Timestamp
		for b := p.Payload; len(b) >= PayloadSize; b = b[PayloadSize:] {
			keys[key{p.SSRC, ts, b[0]}] = true
			starts[[2]uint32{ts, uint32(b[0])}] = true
			if b[1]&0x80 == 0 {
				break
			}
			ts += uint32(binary.BigEndian.Uint16(b[2:4]))
		}
		r.Expire(now)
	}
	for _, p := range presses {
		if !starts[[2]uint32{p.Timestamp, uint32(p.Code)}] {
			t.Fatalf("press %+v matches no event in the input", p)
		}
	}
	if len(keys) <= historySize && len(presses) > len(keys) {
		t.Fatalf("%d presses from %d distinct events", len(presses), len(keys))
	}
	if st := r.Stats(); st.Presses != uint64(len(presses)) {
		t.Fatalf("Stats().Presses = %d, reported %d", st.Presses, len(presses))
	}
}

func FuzzDetector(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, uint8(160))
	tone := newSignal(8000).digit(f, '7', 0.06, -8, -6, 0).pcm()
	b := make([]byte, 2*len(tone))
	for i, v := range tone {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	f.Add(b, uint8(37))
	f.Fuzz(func(t *testing.T, data []byte, frame uint8) {
		data = data[:min(len(data), 32000)] // up to 2 s of audio
		pcm := make([]int16, len(data)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		d, err := NewDetector(DetectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		got := detectAll(d, pcm, max(1, int(frame)))
		for i := range len(got) {
			if _, ok := Code(got[i]); !ok {
				t.Fatalf("detected %q, not a digit", got[i])
			}
		}
		// A digit needs MinOn of tone plus a window; a repeat needs a pause.
		if maxDigits := len(pcm)/(d.onNeeded*d.half) + 1; len(got) > maxDigits {
			t.Fatalf("%d digits from %d samples", len(got), len(pcm))
		}
	})
}
