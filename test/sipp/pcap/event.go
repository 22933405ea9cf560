// Package pcap makes the RTP captures that the dial-in SIPp scenarios
// (test/sipp/dialin_*.xml) play as the PSTN gateway's keypad, and the part
// of those scenarios that picks them.
//
// SIPp's play_pcap_audio replays a capture's UDP payloads as they are: it
// rewrites the ports, not the RTP header. A key press sent twice from the
// same capture would carry the same sequence numbers and timestamp, and a
// receiver takes the second one for a retransmission of the first (RFC 4733
// §2.5.1.4), or SRTP's replay check drops it (RFC 3711 §3.3.2) once the
// Mediation Server has protected it for the front end. So each capture is
// one key in one slot: slot s of the call has sequence numbers and an RTP
// timestamp of its own, later than those of every earlier slot, and the
// scenario plays, for the n-th key the caller types, the capture of that
// key in slot n. SIPp takes no variables in file names, so the scenario
// chooses among the ten digit captures of a slot with regular expressions
// on the digits given with -key (see Scenario).
//
// `go test ./test/sipp/pcap -update` rewrites the captures and scenarios;
// without -update the test fails when the committed files differ from
// what this package makes.
package pcap

import (
	"encoding/binary"
	"fmt"
)

// Telephone-event constants of the captures.
const (
	// PayloadType is the dynamic payload type the scenarios' SDP offer
	// binds to telephone-event/8000.
	PayloadType = 101
	// ClockRate is the telephone-event clock (RFC 4733 §2.4, and
	// [MS-RTPDT] fixes it at 8000 Hz).
	ClockRate = 8000
	// SSRC is the gateway's synchronization source in every capture: one
	// stream for the whole call.
	SSRC = 0x6761_7465 // "gate"
	// Volume is the power level, -dBm0 (RFC 4733 §2.3.4).
	Volume = 10
	// packetMillis is the interval between reports of one event.
	packetMillis = 20
	// pressPackets is how many reports cover the key while it is down:
	// the first (with the marker) and the continuations, 20 ms apart.
	pressPackets = 5
	// endPackets is how many times the final report is sent (RFC 4733
	// §2.5.1.4: three, so that one lost packet does not lose the end).
	endPackets = 3
	// seqPerSlot and tsPerSlot space the slots: room for every packet of
	// a press, and a second of media clock between two presses.
	seqPerSlot = 16
	tsPerSlot  = ClockRate
	// firstSeq and firstTS are where slot 0 starts.
	firstSeq = 1000
	firstTS  = 16000
)

// eventCode maps a keypad character to its telephone-event code (RFC 4733
// §3.2, Table 7).
func eventCode(key byte) (byte, error) {
	switch {
	case key >= '0' && key <= '9':
		return key - '0', nil
	case key == '*':
		return 10, nil
	case key == '#':
		return 11, nil
	}
	return 0, fmt.Errorf("pcap: %q is not a keypad key", key)
}

// rtpPacket is one telephone-event packet and when it leaves, relative to
// the start of its capture.
type rtpPacket struct {
	atMillis int
	payload  []byte // RTP header and the event report
}

// pressPacketsFor returns the packets of one key press in slot slot
// (RFC 4733 §2.5.1): the first report with the marker bit, continuation
// reports with a growing duration, all with the event's start as the RTP
// timestamp (§2.3.1 and §2.5.1.2), then the final report with the E bit
// three times, each with a sequence number of its own.
func pressPacketsFor(slot int, key byte) ([]rtpPacket, error) {
	code, err := eventCode(key)
	if err != nil {
		return nil, err
	}
	if slot < 0 || slot > 1000 {
		return nil, fmt.Errorf("pcap: slot %d out of range", slot)
	}
	seq := uint16(firstSeq + slot*seqPerSlot)
	ts := uint32(firstTS + slot*tsPerSlot)
	step := uint16(ClockRate * packetMillis / 1000)
	var out []rtpPacket
	// The final reports follow one another 20 ms apart rather than at
	// once, so that a burst loss takes no more than one.
	for i := range pressPackets + endPackets {
		end := i >= pressPackets
		d := step * uint16(min(i+1, pressPackets))
		out = append(out, rtpPacket{
			atMillis: i * packetMillis,
			payload:  eventPacket(seq, ts, i == 0, code, end, d),
		})
		seq++
	}
	return out, nil
}

// eventPacket builds an RTP packet (RFC 3550 §5.1) carrying one
// telephone-event report (RFC 4733 §2.3): event, E bit, R bit zero,
// volume, duration.
func eventPacket(seq uint16, ts uint32, marker bool, code byte, end bool, duration uint16) []byte {
	b := make([]byte, 16)
	b[0] = 2 << 6 // version 2, no padding, extension or CSRC
	b[1] = PayloadType
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], SSRC)
	b[12] = code
	b[13] = Volume
	if end {
		b[13] |= 0x80
	}
	binary.BigEndian.PutUint16(b[14:], duration)
	return b
}
