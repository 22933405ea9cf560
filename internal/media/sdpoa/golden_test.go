package sdpoa

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testKey is a fixed SRTP master key and salt (30 bytes) so that answers
// are reproducible.
var testKey = base64.StdEncoding.EncodeToString([]byte("parley-test-master-key+salt!!!"))

// pickAESCM80 stands in for the SRTP layer's suite choice: the first
// AES_CM_128_HMAC_SHA1_80 line, answered with testKey.
func pickAESCM80(offered []string) (string, error) {
	for _, v := range offered {
		f := strings.Fields(v)
		if len(f) >= 3 && f[1] == "AES_CM_128_HMAC_SHA1_80" {
			return f[0] + " AES_CM_128_HMAC_SHA1_80 inline:" + testKey, nil
		}
	}
	return "", errTestNoSuite
}

type testError string

func (e testError) Error() string { return string(e) }

const errTestNoSuite = testError("no acceptable crypto suite")

// mcuCodecs is what the MCU serves: G.711 both laws, G.722 and DTMF.
func mcuCodecs() []Codec {
	return []Codec{
		{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
		{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
		{PayloadType: 9, Name: "G722", ClockRate: 8000},
		{PayloadType: 101, Name: TelephoneEvent, ClockRate: 8000, Events: DTMFEvents},
	}
}

// mcuConfig is the configuration of the golden tests, with a fixed o=
// line.
func mcuConfig() Config {
	return Config{
		Session:      newSession("parley", 4242, 1),
		SessionName:  "parley",
		Addrs:        []netip.Addr{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8::5")},
		Port:         40000,
		RTCPMux:      true,
		Codecs:       mcuCodecs(),
		SRTP:         SRTPOptional,
		AnswerCrypto: pickAESCM80,
	}
}

// TestGolden parses each testdata/*.offer.sdp, answers it with mcuConfig
// and compares the parsed offer, the Result and the answer with the golden
// files beside it. Run with -update to rewrite them after a deliberate
// change, and review the diff.
func TestGolden(t *testing.T) {
	offers, err := filepath.Glob("testdata/*.offer.sdp")
	if err != nil || len(offers) == 0 {
		t.Fatalf("no offers in testdata: %v", err)
	}
	for _, path := range offers {
		name := strings.TrimSuffix(filepath.Base(path), ".offer.sdp")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			answer, res, err := Answer(d, mcuConfig())
			if err != nil {
				t.Fatalf("Answer: %v", err)
			}
			summary, err := json.MarshalIndent(struct {
				Offer  *Description
				Result Result
			}{d, res}, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata/"+name+".result.json", append(summary, '\n'))
			checkGolden(t, "testdata/"+name+".answer.sdp", answer)

			// The answer is valid SDP with one m= line per offered one.
			back, err := Parse(answer)
			if err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			if got, want := len(back.Streams), len(d.Streams); got != want {
				t.Errorf("answer has %d m= lines, offer %d", got, want)
			}
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
