package c3p

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const announceConf = "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:OPENMEET01"

func announceRequest(cmd *PlayAnnouncement) *Request {
	return &Request{
		Header:  Header{Version: Version, RequestID: 7, From: announceConf, To: "sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:OPENMEET01"},
		Command: cmd,
	}
}

// TestPlayAnnouncementRoundTrip checks that pl:playAnnouncement survives
// Marshal and ParseRequest/ParseResponse as typed fields, in both of its
// forms (prompts with a language, or a tone).
func TestPlayAnnouncementRoundTrip(t *testing.T) {
	two := uint64(2)
	opts := cmp.Options{cmpopts.IgnoreUnexported(Extensions{}), cmpopts.EquateEmpty()}
	for name, cmd := range map[string]*PlayAnnouncement{
		"prompts": {Keys: &UserKeys{ConfEntity: announceConf, UserEntity: "sip:bob@parley.test"},
			Prompts: []string{"help", "help_leader"}, Language: "fr-FR"},
		"tone": {Keys: &UserKeys{ConfEntity: announceConf, UserEntity: "sip:dialin-1@anonymous.invalid"}, Tone: ToneEntry},
	} {
		t.Run(name, func(t *testing.T) {
			req := announceRequest(cmd)
			b, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "<pl:playAnnouncement") {
				t.Errorf("the command is not in the pl namespace:\n%s", b)
			}
			got, err := ParseRequest(b)
			if err != nil {
				t.Fatalf("ParseRequest: %v\n%s", err, b)
			}
			if d := cmp.Diff(req.Command, got.Command, opts); d != "" {
				t.Errorf("round trip (-sent +parsed):\n%s", d)
			}
			answer := *cmd
			answer.Legs = &two
			res := NewResponse(req.Header, CodeSuccess, &answer)
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
			if p, ok := gotRes.Command.(*PlayAnnouncement); !ok || p.Legs == nil || *p.Legs != 2 {
				t.Errorf("legs lost: %+v", gotRes.Command)
			}
		})
	}
}

// playAnnouncementXML wraps the children of a pl:playAnnouncement in a request.
func playAnnouncementXML(inner string) string {
	return `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:pl="` + NamespaceParley +
		`" C3PVersion="1" requestId="1" from="` + announceConf + `" to="` + announceConf +
		`"><pl:playAnnouncement>` + inner + `</pl:playAnnouncement></request>`
}

func TestPlayAnnouncementRefused(t *testing.T) {
	for name, inner := range map[string]string{
		"repeated tone":       `<pl:tone>entry</pl:tone><pl:tone>exit</pl:tone>`,
		"prompt with child":   `<pl:prompts><pl:prompt><pl:x/></pl:prompt></pl:prompts>`,
		"stray in prompts":    `<pl:prompts><pl:other>1</pl:other></pl:prompts>`,
		"bad legs":            `<pl:legs>-1</pl:legs>`,
		"text in the command": `oops`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequest([]byte(playAnnouncementXML(inner)))
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// FuzzPlayAnnouncement checks the round-trip property of the fuzz tests
// (fuzz_test.go) on bodies seeded with pl:playAnnouncement.
func FuzzPlayAnnouncement(f *testing.F) {
	for _, cmd := range []*PlayAnnouncement{
		{Keys: &UserKeys{ConfEntity: announceConf, UserEntity: "sip:bob@parley.test"}, Prompts: []string{"you_are_muted"}, Language: "de-DE"},
		{Keys: &UserKeys{ConfEntity: announceConf, UserEntity: "sip:bob@parley.test"}, Tone: ToneExit},
	} {
		b, err := announceRequest(cmd).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(playAnnouncementXML(`<pl:prompts/><pl:legs>3</pl:legs>`)))
	f.Add([]byte(playAnnouncementXML(`<pl:prompts><pl:prompt>a</pl:prompt><x:y xmlns:x="urn:x"/></pl:prompts>`)))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRoundTrip(t, in, ParseRequest)
		res := strings.Replace(string(in), "<request", `<response code="success"`, 1)
		checkRoundTrip(t, []byte(strings.Replace(res, "</request>", "</response>", 1)), ParseResponse)
	})
}

// TestAnnounceConferenceRoundTrip checks that pl:announceConference, the
// body of the A/V MCU's INVITE to the Conference Announcement Service,
// keeps both URIs through Marshal and ParseRequest.
func TestAnnounceConferenceRoundTrip(t *testing.T) {
	cmd := &AnnounceConference{
		Focus: announceConf,
		MCU:   "sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:OPENMEET01",
	}
	req := &Request{Header: Header{Version: Version, RequestID: 1, From: cmd.MCU, To: cmd.Focus}, Command: cmd}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<pl:announceConference") {
		t.Errorf("the command is not in the pl namespace:\n%s", b)
	}
	got, err := ParseRequest(b)
	if err != nil {
		t.Fatalf("ParseRequest: %v\n%s", err, b)
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(Extensions{}), cmpopts.EquateEmpty()}
	if d := cmp.Diff(req.Command, got.Command, opts); d != "" {
		t.Errorf("round trip (-sent +parsed):\n%s", d)
	}
}
