package avmcu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

// with returns a copy of b changed by f.
func with(b []byte, f func(b []byte) []byte) []byte { return f(append([]byte(nil), b...)) }

func TestParseRTP(t *testing.T) {
	pay := []byte{9, 8, 7, 6}
	good := rtpWithCSRC(0, -1, 0, pay)
	cases := []struct {
		name    string
		pkt     []byte
		wantErr bool
		payload []byte
	}{
		{"plain", good, false, pay},
		{"CSRCs", rtpWithCSRC(3, -1, 0, pay), false, pay},
		{"extension", rtpWithCSRC(0, 2, 0, pay), false, pay},
		{"empty extension", rtpWithCSRC(0, 0, 0, pay), false, pay},
		{"padding", rtpWithCSRC(1, 1, 3, pay), false, pay},
		{"padding is the whole payload", rtpWithCSRC(0, -1, 4, nil), false, []byte{}},
		{"no payload", rtpWithCSRC(0, -1, 0, nil), false, []byte{}},
		{"short", good[:11], true, nil},
		{"version 1", with(good, func(b []byte) []byte { b[0] = 0x40; return b }), true, nil},
		{"version 0", make([]byte, 20), true, nil},
		{"zero padding count", with(good, func(b []byte) []byte { b[0] |= 0x20; return append(b, 0) }), true, nil},
		{"padding past the header", with(good, func(b []byte) []byte { b[0] |= 0x20; b[len(b)-1] = 200; return b }), true, nil},
		{"CSRC count past the end", with(good, func(b []byte) []byte { b[0] |= 0x0F; return b }), true, nil},
		{"extension past the end", rtpWithCSRC(0, 40, 0, pay)[:24], true, nil},
		{"extension bit without its header", with(rtpWithCSRC(0, -1, 0, nil), func(b []byte) []byte { b[0] |= 0x10; return b }), true, nil},
	}
	for _, tc := range cases {
		var h rtpHeader
		got, err := parseRTP(tc.pkt, &h)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && !bytes.Equal(got, tc.payload) {
			t.Errorf("%s: payload = %x, want %x", tc.name, got, tc.payload)
		}
		if err == nil && (h.seq != 1 || h.ts != 2 || h.ssrc != 3) {
			t.Errorf("%s: header %+v, want seq 1, ts 2, ssrc 3", tc.name, h)
		}
	}
}

func TestParseRTPFields(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 101, SequenceNumber: 65535, Timestamp: 0xDEADBEEF, SSRC: 0xCAFEBABE}, Payload: []byte{1, 2}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var h rtpHeader
	payload, err := parseRTP(b, &h)
	want := rtpHeader{marker: true, pt: 101, seq: 65535, ts: 0xDEADBEEF, ssrc: 0xCAFEBABE}
	if err != nil || h != want || !bytes.Equal(payload, p.Payload) {
		t.Errorf("parseRTP = %+v, %x, %v; want %+v, %x", h, payload, err, want, p.Payload)
	}
}

func TestIsRTCP(t *testing.T) {
	cases := []struct {
		b    []byte
		want bool
	}{
		{[]byte{0x80, 200}, true},   // SR
		{[]byte{0x81, 201}, true},   // RR
		{[]byte{0x80, 203}, true},   // BYE
		{[]byte{0x80, 192}, true},   // lowest reserved for RTCP
		{[]byte{0x80, 223}, true},   // highest
		{[]byte{0x80, 0}, false},    // PCMU
		{[]byte{0x80, 0x80}, false}, // PCMU with marker
		{[]byte{0x80, 101}, false},  // telephone-event
		{[]byte{0x80, 0xE5}, false}, // marker and PT 101
		{[]byte{0x40, 200}, false},  // version 1
		{[]byte{0x80}, false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := isRTCP(tc.b); got != tc.want {
			t.Errorf("isRTCP(%x) = %v, want %v", tc.b, got, tc.want)
		}
	}
}

// FuzzParseRTP checks that any datagram parses without panic into a
// payload inside the packet, agreeing with pion on what both accept.
func FuzzParseRTP(f *testing.F) {
	f.Add(rtpWithCSRC(0, -1, 0, []byte{1, 2, 3}))
	f.Add(rtpWithCSRC(2, 1, 2, []byte{1, 2, 3}))
	f.Add(rtpWithCSRC(15, 0, 0, nil))
	f.Add([]byte{0xB0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h rtpHeader
		payload, err := parseRTP(b, &h)
		if err != nil {
			return
		}
		if len(payload) > len(b)-12 {
			t.Fatalf("payload of %d octets in a %d-octet packet", len(payload), len(b))
		}
		var p rtp.Packet
		if perr := p.Unmarshal(b); perr == nil && !bytes.Equal(p.Payload, payload) && p.PaddingSize == 0 {
			t.Fatalf("payload %x, pion says %x", payload, p.Payload)
		}
	})
}
