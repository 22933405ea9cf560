package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PayloadSize is the length of one telephone-event report (RFC 4733 §2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const PayloadSize = 4

// MaxVolume is the largest volume field: the power level is expressed in
// dBm0 after dropping the sign, so 63 means -63 dBm0 (RFC 4733 §2.3.4).
const MaxVolume = 63

// MaxDuration is the longest duration one event report can carry, in RTP
// timestamp units; longer events are sent as segments (RFC 4733 §2.5.1.3).
const MaxDuration = 0xFFFF

// EventFlash is the hook-flash event (RFC 4733 §3.2). Office Communicator
// offers it next to the sixteen DTMF events ("a=fmtp:101 0-16", [MS-DTMF]).
const EventFlash uint8 = 16

const (
	endBit     = 0x80
	volumeMask = 0x3F
)

var (
	// ErrShortPayload reports a telephone-event payload shorter than
	// PayloadSize.
	ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")
	// ErrShortBuffer reports a destination too small for PayloadSize bytes.
	ErrShortBuffer = errors.New("dtmf: buffer shorter than 4 bytes")
	// ErrVolume reports a volume that does not fit the 6-bit field.
	ErrVolume = errors.New("dtmf: volume above 63")
)

// Event is one telephone-event report (RFC 4733 §2.3).
type Event struct {
	// Code is the event: 0-9, 10 (*), 11 (#), 12-15 (A-D), 16 (flash), or
	// any other code from the IANA registry.
	Code uint8
	// End is the E bit: this report is the last one of the event.
	End bool
	// Volume is the power level of the tone in -dBm0 (0 to MaxVolume).
	Volume uint8
	// Duration is how long the event has lasted so far, in RTP timestamp
	// units, counted from the packet's RTP timestamp.
	Duration uint16
}

// Unmarshal decodes the first report of payload into e. Bytes after the first
// PayloadSize are not looked at: they are further events packed into the same
// packet (RFC 4733 §2.5.1.5), which the Receiver walks on its own. The R bit
// is ignored as RFC 4733 §2.3.3 requires of receivers. On error e is left
// unchanged.
func (e *Event) Unmarshal(payload []byte) error {
	if len(payload) < PayloadSize {
		return fmt.Errorf("%w: got %d", ErrShortPayload, len(payload))
	}
	*e = Event{
		Code:     payload[0],
		End:      payload[1]&endBit != 0,
		Volume:   payload[1] & volumeMask,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}
	return nil
}

// MarshalTo writes e into the first PayloadSize bytes of b, with the R bit
// zero (RFC 4733 §2.3.3), and returns PayloadSize.
func (e Event) MarshalTo(b []byte) (int, error) {
	if len(b) < PayloadSize {
		return 0, fmt.Errorf("%w: got %d", ErrShortBuffer, len(b))
	}
	if e.Volume > MaxVolume {
		return 0, fmt.Errorf("%w: %d", ErrVolume, e.Volume)
	}
	b[0] = e.Code
	b[1] = e.Volume
	if e.End {
		b[1] |= endBit
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return PayloadSize, nil
}

// Marshal returns e encoded as a new PayloadSize-byte slice. Hot paths use
// MarshalTo with a reused buffer instead.
func (e Event) Marshal() ([]byte, error) {
	b := make([]byte, PayloadSize)
	if _, err := e.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}

// digits lists the keypad characters of events 0-15 (RFC 4733 §3.2, table 1).
const digits = "0123456789*#ABCD"

// Digit returns the keypad character of a DTMF event code: '0'-'9', '*',
// '#' or 'A'-'D'. It reports false for other codes, flash included, which
// have no keypad character.
func Digit(code uint8) (byte, bool) {
	if int(code) >= len(digits) {
		return 0, false
	}
	return digits[code], true
}

// Code returns the event code of a keypad character. Lower-case 'a'-'d' are
// accepted for the fourth column.
func Code(digit byte) (uint8, bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return 12 + digit - 'A', true
	case digit >= 'a' && digit <= 'd':
		return 12 + digit - 'a', true
	}
	return 0, false
}

// Row and column frequencies of the DTMF keypad in Hz (ITU-T Q.23). A digit
// is the sum of one low-group (row) and one high-group (column) tone.
var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
)

// keypad maps (row, column) to the keypad character (ITU-T Q.23).
var keypad = [4][4]byte{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// Frequencies returns the low-group and high-group frequencies of a keypad
// character, in Hz, for generating it in-band.
func Frequencies(digit byte) (low, high float64, ok bool) {
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	for r, row := range keypad {
		for c, d := range row {
			if d == digit {
				return rowFreqs[r], colFreqs[c], true
			}
		}
	}
	return 0, 0, false
}
