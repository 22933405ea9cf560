package pcap

import (
	"bytes"
	"fmt"
	"path"
)

// The slot layout of a dial-in call: the conference ID's digits, its #,
// the passcode's digits, its #; then the slots of the wrong-ID entries.
const (
	// MaxDigits is the longest conference ID or passcode the call
	// scenario can type.
	MaxDigits    = 12
	confIDSlot   = 0
	confIDPound  = confIDSlot + MaxDigits
	passcodeSlot = confIDPound + 1
	passPound    = passcodeSlot + MaxDigits
	wrongSlot    = passPound + 1
	// WrongAttempts is how many times dialin_wrong_id.xml types WrongID:
	// the attendant's default attempts (attendant.DefaultMaxAttempts).
	WrongAttempts = 3
	// keyGapMillis is the time from one key press to the next: a press
	// lasts 100 ms and its end reports 40 ms more; people type no faster.
	keyGapMillis = 300
)

// WrongID is the conference ID dialin_wrong_id.xml types: no allocator
// hands out an ID of zeros (its first digits name the pool), so it names
// no meeting.
const WrongID = "0000000"

// Dir is where the captures go, relative to test/sipp (SIPp looks for a
// capture next to the scenario first).
const Dir = "pcap/dtmf"

// slotName is the capture of key in slot.
func slotName(slot int, key byte) string {
	k := string(key)
	if key == '#' {
		k = "pound"
	}
	return path.Join(Dir, fmt.Sprintf("s%02d_%s.pcap", slot, k))
}

// wrongName is the capture of the n-th wrong entry (1-based).
func wrongName(n int) string { return path.Join(Dir, fmt.Sprintf("wrong_id_%d.pcap", n)) }

// Files returns every file this package makes, by path relative to
// test/sipp: the captures and the two scenarios.
func Files() (map[string][]byte, error) {
	out := make(map[string][]byte)
	capture := func(name string, presses []byte, slot0 int) error {
		var pkts []rtpPacket
		for i, k := range presses {
			p, err := pressPacketsFor(slot0+i, k)
			if err != nil {
				return err
			}
			for j := range p {
				p[j].atMillis += i * keyGapMillis
			}
			pkts = append(pkts, p...)
		}
		var b bytes.Buffer
		if err := writeCapture(&b, pkts); err != nil {
			return err
		}
		out[name] = b.Bytes()
		return nil
	}
	for _, base := range []int{confIDSlot, passcodeSlot} {
		for p := range MaxDigits {
			for k := byte('0'); k <= '9'; k++ {
				if err := capture(slotName(base+p, k), []byte{k}, base+p); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, s := range []int{confIDPound, passPound} {
		if err := capture(slotName(s, '#'), []byte{'#'}, s); err != nil {
			return nil, err
		}
	}
	entry := []byte(WrongID + "#")
	for n := range WrongAttempts {
		if err := capture(wrongName(n+1), entry, wrongSlot+n*len(entry)); err != nil {
			return nil, err
		}
	}
	out["dialin_call.xml"] = []byte(callScenario())
	out["dialin_wrong_id.xml"] = []byte(wrongIDScenario())
	return out, nil
}
