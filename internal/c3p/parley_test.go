package c3p

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParleyExtensionsRoundTrip checks that Parley's extension elements
// survive Marshal and ParseRequest/ParseResponse as typed fields, not as
// Extensions.
func TestParleyExtensionsRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	until := start.AddDate(0, 3, 0)
	req := &Request{
		Header: Header{Version: Version, RequestID: 9, From: "sip:alice@parley.test", To: "sip:alice@parley.test;gruu;opaque=app:conf:focusfactory"},
		Command: &AddConference{ConferenceInfo: &ConferenceInfo{Description: &ConferenceDescription{
			Subject:         ptr("Budget"),
			ConferenceID:    "ABCDEFGH12",
			AdmissionPolicy: AdmissionAnonymous,
			PSTNAccess: &PSTNAccess{
				Passcode:   &Sealed{Alg: PasscodeAlgorithm, Ciphertext: []byte{1, 2, 3, 250}},
				PersonalID: ptr(true),
			},
			Schedule: &Schedule{Kind: "recurring", Start: &start, End: &end, RecursUntil: &until},
		}}},
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `xmlns:pl="`+NamespaceParley+`"`) {
		t.Errorf("marshalled request does not declare the pl prefix:\n%s", b)
	}
	got, err := ParseRequest(b)
	if err != nil {
		t.Fatalf("ParseRequest: %v\n%s", err, b)
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(Extensions{}), cmpopts.EquateEmpty()}
	if d := cmp.Diff(req.Command, got.Command, opts); d != "" {
		t.Errorf("round trip (-sent +parsed):\n%s", d)
	}

	res := NewResponse(req.Header, CodeSuccess, &GetConferencingCapabilities{
		MCUTypes: []string{MCUTypeChat, MCUTypeAudioVideo},
		PSTNBridging: &PSTNBridging{AccessNumbers: &AccessNumbers{
			Regions: []Region{{Name: "US West", Numbers: []AccessNumber{
				{Number: "+14255550100", Languages: []string{"en-US", "es-US"}},
			}}},
			DefaultRegion: "US West",
		}},
		PasscodeKey:      &PublicKey{Alg: PasscodeAlgorithm, Key: make([]byte, 32)},
		PasscodeRequired: ptr(true),
	})
	b, err = res.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gotRes, err := ParseResponse(b)
	if err != nil {
		t.Fatalf("ParseResponse: %v\n%s", err, b)
	}
	if d := cmp.Diff(res.Command, gotRes.Command, opts); d != "" {
		t.Errorf("response round trip (-sent +parsed):\n%s", d)
	}
}

func TestParleyExtensionsRefused(t *testing.T) {
	const head = `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" xmlns:pl="` +
		NamespaceParley + `" C3PVersion="1" requestId="1" from="sip:a@b.test" to="sip:a@b.test;gruu;opaque=app:conf:focusfactory"><addConference><ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity=""><ci:conference-description><msci:pstn-access>`
	const tail = `</msci:pstn-access></ci:conference-description></ci:conference-info></addConference></request>`
	for name, inner := range map[string]string{
		"no alg":        `<pl:passcode>AAAA</pl:passcode>`,
		"bad base64":    `<pl:passcode alg="x">not base64!</pl:passcode>`,
		"child element": `<pl:passcode alg="x"><pl:y/></pl:passcode>`,
		"unknown attr":  `<pl:passcode alg="x" z="1">AAAA</pl:passcode>`,
		"too long":      `<pl:passcode alg="x">` + strings.Repeat("AAAA", 400) + `</pl:passcode>`,
		"bad boolean":   `<pl:personal-id>maybe</pl:personal-id>`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequest([]byte(head + inner + tail))
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if DiagnosticFor(err) != DiagParseFailed {
				t.Errorf("diagnostic = %d, want %d", DiagnosticFor(err), DiagParseFailed)
			}
		})
	}
}
