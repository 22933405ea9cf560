package sipx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func parseRequest(t *testing.T, raw string) *sip.Request {
	t.Helper()
	m, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m.(*sip.Request)
}

func TestValidateRequest(t *testing.T) {
	const head = "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@x.test>;tag=1\r\nTo: <sip:b@x.test>\r\nCall-ID: c1\r\n"
	tests := []struct {
		name, raw string
		code      int
	}{
		{"ok", "OPTIONS sip:b@x.test SIP/2.0\r\n" + head + "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", 0},
		{"cseq mismatch", "OPTIONS sip:b@x.test SIP/2.0\r\n" + head + "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", 400},
		{"two Call-IDs", "OPTIONS sip:b@x.test SIP/2.0\r\n" + head + "Call-ID: c2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", 400},
		{"two Max-Forwards", "OPTIONS sip:b@x.test SIP/2.0\r\n" + head + "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nMax-Forwards: 69\r\nContent-Length: 0\r\n\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateRequest(parseRequest(t, tt.raw))
			if (got == nil) != (tt.code == 0) || (got != nil && got.Code != tt.code) {
				t.Errorf("ValidateRequest = %+v; want code %d", got, tt.code)
			}
		})
	}
}

// TestValidateTorture runs the RFC 4475 messages that parse but are invalid
// for reasons the parser leaves to the element.
func TestValidateTorture(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "rfc4475")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("RFC 4475 messages not found beside the repository")
	}
	for file, want := range map[string]bool{ // true: must be refused
		"mismatch01": true, "mismatch02": true, "multi01": true, "mcl01": true,
		"wsinv": false, "inv2543": false, "intmeth": false, "dblreq": false,
	} {
		b, err := os.ReadFile(filepath.Join(dir, file+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := sip.NewParser().ParseSIP(b)
		if err != nil {
			t.Errorf("%s: parse: %v", file, err)
			continue
		}
		if got := ValidateRequest(m.(*sip.Request)); (got != nil) != want {
			t.Errorf("%s: ValidateRequest = %+v; want refused=%v", file, got, want)
		}
	}
}
