package dtmf

import (
	"bytes"
	"errors"
	"testing"
)

func TestEventUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    Event
	}{
		// RFC 4733 §2.3: event | E R volume(6) | duration(16).
		{name: "digit 5 start", payload: []byte{0x05, 0x0a, 0x00, 0xa0}, want: Event{Code: 5, Volume: 10, Duration: 160}},
		{name: "end bit", payload: []byte{0x0b, 0x8a, 0x03, 0x20}, want: Event{Code: 11, End: true, Volume: 10, Duration: 800}},
		{name: "R bit ignored", payload: []byte{0x01, 0x40 | 0x07, 0x00, 0x00}, want: Event{Code: 1, Volume: 7}},
		{name: "all bits", payload: []byte{0xff, 0xff, 0xff, 0xff}, want: Event{Code: 255, End: true, Volume: 63, Duration: 0xffff}},
		{name: "flash", payload: []byte{0x10, 0x80, 0x06, 0x40}, want: Event{Code: EventFlash, End: true, Duration: 1600}},
		{name: "trailing bytes", payload: []byte{0x03, 0x0a, 0x01, 0x40, 0x04, 0x0a, 0x00, 0xa0}, want: Event{Code: 3, Volume: 10, Duration: 320}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Event
			if err := got.Unmarshal(tc.payload); err != nil {
				t.Fatalf("Unmarshal(% x): %v", tc.payload, err)
			}
			if got != tc.want {
				t.Errorf("Unmarshal(% x) = %+v, want %+v", tc.payload, got, tc.want)
			}
		})
	}
}

func TestEventUnmarshalShort(t *testing.T) {
	for n := range PayloadSize {
		e := Event{Code: 9, Volume: 3, Duration: 99}
		err := e.Unmarshal(make([]byte, n))
		if !errors.Is(err, ErrShortPayload) {
			t.Errorf("Unmarshal(%d bytes) error = %v, want %v", n, err, ErrShortPayload)
		}
		if want := (Event{Code: 9, Volume: 3, Duration: 99}); e != want {
			t.Errorf("Unmarshal(%d bytes) changed the event to %+v", n, e)
		}
	}
}

func TestEventMarshal(t *testing.T) {
	tests := []struct {
		ev   Event
		want []byte
	}{
		{ev: Event{Code: 5, Volume: 10, Duration: 160}, want: []byte{0x05, 0x0a, 0x00, 0xa0}},
		{ev: Event{Code: 11, End: true, Volume: 63, Duration: 0xffff}, want: []byte{0x0b, 0xbf, 0xff, 0xff}},
		{ev: Event{}, want: []byte{0, 0, 0, 0}},
	}
	for _, tc := range tests {
		got, err := tc.ev.Marshal()
		if err != nil {
			t.Fatalf("%+v.Marshal(): %v", tc.ev, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%+v.Marshal() = % x, want % x", tc.ev, got, tc.want)
		}
		var back Event
		if err := back.Unmarshal(got); err != nil || back != tc.ev {
			t.Errorf("round trip of %+v = %+v, %v", tc.ev, back, err)
		}
	}
}

func TestEventMarshalErrors(t *testing.T) {
	if _, err := (Event{Volume: 64}).Marshal(); !errors.Is(err, ErrVolume) {
		t.Errorf("Marshal(volume 64) error = %v, want %v", err, ErrVolume)
	}
	buf := []byte{1, 2, 3}
	if _, err := (Event{}).MarshalTo(buf); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("MarshalTo(3 bytes) error = %v, want %v", err, ErrShortBuffer)
	}
	if !bytes.Equal(buf, []byte{1, 2, 3}) {
		t.Errorf("MarshalTo(3 bytes) wrote % x", buf)
	}
}

func TestDigitCode(t *testing.T) {
	for code := range 16 {
		d, ok := Digit(uint8(code))
		if !ok {
			t.Fatalf("Digit(%d) not found", code)
		}
		if want := allDigitsByCode[code]; d != want {
			t.Errorf("Digit(%d) = %q, want %q", code, d, want)
		}
		back, ok := Code(d)
		if !ok || back != uint8(code) {
			t.Errorf("Code(%q) = %d, %v; want %d", d, back, ok, code)
		}
	}
	for _, code := range []uint8{16, 17, 32, 255} {
		if d, ok := Digit(code); ok {
			t.Errorf("Digit(%d) = %q, want none", code, d)
		}
	}
	for _, c := range []byte("abcd") {
		got, ok := Code(c)
		if want := 12 + c - 'a'; !ok || got != want {
			t.Errorf("Code(%q) = %d, %v; want %d", c, got, ok, want)
		}
	}
	for _, c := range []byte("eE+ ,pw") {
		if got, ok := Code(c); ok {
			t.Errorf("Code(%q) = %d, want none", c, got)
		}
	}
}

// allDigitsByCode is RFC 4733 §3.2 table 1, written out independently of the
// package's table.
var allDigitsByCode = [16]byte{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'}

func TestFrequencies(t *testing.T) {
	// ITU-T Q.23 keypad.
	tests := []struct {
		digit     byte
		low, high float64
	}{
		{'1', 697, 1209}, {'2', 697, 1336}, {'3', 697, 1477}, {'A', 697, 1633},
		{'4', 770, 1209}, {'5', 770, 1336}, {'6', 770, 1477}, {'B', 770, 1633},
		{'7', 852, 1209}, {'8', 852, 1336}, {'9', 852, 1477}, {'C', 852, 1633},
		{'*', 941, 1209}, {'0', 941, 1336}, {'#', 941, 1477}, {'D', 941, 1633},
		{'d', 941, 1633},
	}
	for _, tc := range tests {
		low, high, ok := Frequencies(tc.digit)
		if !ok || low != tc.low || high != tc.high {
			t.Errorf("Frequencies(%q) = %v, %v, %v; want %v, %v", tc.digit, low, high, ok, tc.low, tc.high)
		}
	}
	if _, _, ok := Frequencies('x'); ok {
		t.Errorf("Frequencies('x') found, want none")
	}
}
