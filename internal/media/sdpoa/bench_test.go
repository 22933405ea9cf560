package sdpoa

import (
	"os"
	"testing"
)

// BenchmarkParseAnswer measures call setup: parsing a Lync offer (ICE
// candidates, three crypto lines, 13 formats) and answering it. It runs
// once per INVITE, not per packet, so it may allocate.
func BenchmarkParseAnswer(b *testing.B) {
	offer, err := os.ReadFile("testdata/lync.offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	cfg := mcuConfig()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Parse(offer)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := Answer(d, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
