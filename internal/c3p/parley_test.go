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
		PasscodeKey:       &PublicKey{Alg: PasscodeAlgorithm, Key: make([]byte, 32)},
		PasscodeRequired:  ptr(true),
		PasscodeMinLength: ptr[uint64](5),
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

func TestSealPasscode(t *testing.T) {
	key, err := DerivePasscodeKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	pub := &PublicKey{Alg: PasscodeAlgorithm, Key: key.PublicKey().Bytes()}
	s, err := SealPasscode(pub, "482913")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(s.Ciphertext), "482913") {
		t.Fatal("ciphertext contains the passcode")
	}
	got, err := s.OpenPasscode(key)
	if err != nil || got != "482913" {
		t.Fatalf("OpenPasscode = %q, %v; want 482913", got, err)
	}
	other, _ := DerivePasscodeKey([]byte("another secret, also 32 bytes.."))
	if _, err := s.OpenPasscode(other); !errors.Is(err, ErrSealed) {
		t.Errorf("open with another key: %v, want ErrSealed", err)
	}
	tampered := &Sealed{Alg: s.Alg, Ciphertext: append([]byte(nil), s.Ciphertext...)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	if _, err := tampered.OpenPasscode(key); !errors.Is(err, ErrSealed) {
		t.Errorf("open tampered: %v, want ErrSealed", err)
	}
	if _, err := (&Sealed{Alg: "rot13", Ciphertext: s.Ciphertext}).OpenPasscode(key); !errors.Is(err, ErrSealed) {
		t.Errorf("open unknown alg: %v, want ErrSealed", err)
	}
	if _, err := SealPasscode(&PublicKey{Alg: PasscodeAlgorithm, Key: []byte{1, 2}}, "1"); !errors.Is(err, ErrSealed) {
		t.Errorf("seal to a bad key: %v, want ErrSealed", err)
	}
}

func TestConferenceURI(t *testing.T) {
	u := ConferenceURI("sip:alice@parley.test", ServiceFocus, "TPDD8VYG")
	if want := "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:TPDD8VYG"; u != want {
		t.Fatalf("ConferenceURI = %q, want %q", u, want)
	}
	for _, tc := range []struct {
		in                string
		org, service, key string
		ok                bool
	}{
		{u, "sip:alice@parley.test", "focus", "TPDD8VYG", true},
		{"<sip:bob@x.test;gruu;opaque=app:conf:audio-video:id:K1>", "sip:bob@x.test", "audio-video", "K1", true},
		{"sip:bob@x.test;opaque=app:conf:focus:id:K1", "", "", "", false},
		{FocusFactoryURI("sip:bob@x.test"), "", "", "", false},
		{"sip:bob@x.test;gruu;opaque=user:epid:abc", "", "", "", false},
		{"sip:bob@x.test;gruu;opaque=app:conf:focus:id:", "", "", "", false},
		{"tel:+1;gruu;opaque=app:conf:focus:id:K", "", "", "", false},
		{"", "", "", "", false},
	} {
		org, svc, key, ok := ParseConferenceURI(tc.in)
		if org != tc.org || svc != tc.service || key != tc.key || ok != tc.ok {
			t.Errorf("ParseConferenceURI(%q) = %q %q %q %v, want %q %q %q %v", tc.in, org, svc, key, ok, tc.org, tc.service, tc.key, tc.ok)
		}
	}
}
