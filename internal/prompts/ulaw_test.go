package prompts

import (
	"testing"

	"github.com/parleyhq/parley/internal/media/g711"
)

// TestUlawMatchesMediaG711: the local table agrees with the media engine's
// decoder, which is checked against the ITU-T reference, for all 256 codes.
func TestUlawMatchesMediaG711(t *testing.T) {
	for c := range 256 {
		if got, want := ulawTable[c], g711.UlawToLinear(byte(c)); got != want {
			t.Errorf("ulawTable[%#02x] = %d; want %d", c, got, want)
		}
	}
}

func TestUlawFixedPoints(t *testing.T) {
	for code, want := range map[byte]int16{0xff: 0, 0x7f: 0, 0xfe: 8, 0x80: 32124, 0x00: -32124} {
		if got := ulawValue(code); got != want {
			t.Errorf("ulawValue(%#02x) = %d; want %d", code, got, want)
		}
	}
}

func TestDecodeUlaw(t *testing.T) {
	got := decodeUlaw([]byte{0xff, 0x80, 0x00})
	if len(got) != 3 || got[0] != 0 || got[1] != 32124 || got[2] != -32124 {
		t.Errorf("decodeUlaw = %v; want [0 32124 -32124]", got)
	}
}
