package c3p

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// rosterDoc is a conference-info document as a Focus sends it: full
// state, the msci extensions, an extension element in the description and
// an entity-state in the view.
const rosterDoc = `<?xml version="1.0" encoding="utf-8"?>` +
	`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" entity="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:ABCD1234" state="full" version="3">` +
	`<conference-description><subject>Budget</subject>` +
	`<conf-uris><entry><uri>sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:ABCD1234</uri><purpose>chat</purpose></entry></conf-uris>` +
	`<msci:conference-id>ABCD1234</msci:conference-id>` +
	`<msci:organizer><msci:display-name>Alice</msci:display-name></msci:organizer>` +
	`</conference-description>` +
	`<conference-state><user-count>1</user-count><active>true</active><locked>false</locked></conference-state>` +
	`<users state="full"><user entity="sip:bob@contoso.com" state="full"><display-text>Bob</display-text>` +
	`<roles><entry>presenter</entry></roles>` +
	`<endpoint entity="{8C2C}" session-type="audio-video"><status>connected</status>` +
	`<media id="1"><type>audio</type><status>recvonly</status><msci:media-ingress-filter>block</msci:media-ingress-filter></media>` +
	`</endpoint></user></users>` +
	`<msci:conference-view><msci:entity-view entity="sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:ABCD1234">` +
	`<msci:entity-state><msci:locked>false</msci:locked><msci:media><msci:entry><type>chat</type></msci:entry></msci:media></msci:entity-state>` +
	`</msci:entity-view></msci:conference-view></conference-info>`

func TestParseConferenceInfo(t *testing.T) {
	ci, err := ParseConferenceInfo([]byte(rosterDoc))
	if err != nil {
		t.Fatal(err)
	}
	if ci.Entity != "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:ABCD1234" || ci.State != StateFull || *ci.Version != 3 {
		t.Errorf("root = %q %q %v", ci.Entity, ci.State, ci.Version)
	}
	if got := ci.Description.ConfURIs; len(got) != 1 || got[0].Purpose != "chat" {
		t.Errorf("conf-uris = %+v", got)
	}
	org := ci.Description.Extension(NamespaceMSCI, "organizer")
	if org == nil || org.Child(NamespaceMSCI, "display-name") == nil || org.Child(NamespaceMSCI, "display-name").Text != "Alice" {
		t.Errorf("organizer extension = %+v", org)
	}
	u := ci.Users.Entries[0]
	if u.Entity != "sip:bob@contoso.com" || u.Roles[0] != RolePresenter || u.Endpoints[0].Media[0].IngressFilter != "block" {
		t.Errorf("user = %+v", u)
	}
	state := ci.View.EntityViews[0].Extension(NamespaceMSCI, "entity-state")
	if state == nil || state.Child(NamespaceMSCI, "locked").Text != "false" {
		t.Errorf("entity-state = %+v", state)
	}
	if ci.Description.Extension(NamespaceMSCI, "nothing") != nil || org.Child("", "x") != nil {
		t.Error("lookups of absent elements found something")
	}
}

// TestConferenceInfoRoundTrip: a parsed document marshals to the same
// bytes (the encoder keeps the order and namespaces it read), and the
// result parses to the same value.
func TestConferenceInfoRoundTrip(t *testing.T) {
	ci, err := ParseConferenceInfo([]byte(rosterDoc))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ci.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != rosterDoc {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, rosterDoc)
	}
	again, err := ParseConferenceInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ci, again, cmpopts.IgnoreUnexported(Extensions{}, Element{})); diff != "" {
		t.Errorf("round trip (-first +second):\n%s", diff)
	}
}

// TestConferenceInfoBuilt marshals a document built in Go, with extension
// elements made by ExtensionElement.
func TestConferenceInfoBuilt(t *testing.T) {
	v := uint64(7)
	ci := &ConferenceInfo{Entity: "sip:o@x;gruu;opaque=app:conf:focus:id:K1234567", State: StatePartial, Version: &v,
		Users: &Users{State: StatePartial, Entries: []User{{Entity: "sip:u@x", State: StateDeleted}}}}
	ci.Elements = []*Element{ExtensionElement(NamespaceParley, "note", "hi")}
	b, err := ci.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="utf-8"?><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" ` +
		`xmlns:pl="urn:parleyhq:params:xml:ns:c3p-ext" entity="sip:o@x;gruu;opaque=app:conf:focus:id:K1234567" state="partial" version="7">` +
		`<users state="partial"><user entity="sip:u@x" state="deleted"/></users><pl:note>hi</pl:note></conference-info>`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
	bad := &ConferenceInfo{Entity: "a\x00b"}
	if _, err := bad.Marshal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Marshal of a NUL: %v, want ErrInvalid", err)
	}
}

func TestParseConferenceInfoErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not XML", "<conference-info", ErrSyntax},
		{"C3P request", `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b"><getConference/></request>`, ErrRoot},
		{"no namespace", `<conference-info entity="x"/>`, ErrRoot},
		{"bad state", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" state="half"/>`, ErrInvalid},
		{"bad version", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" version="-1"/>`, ErrInvalid},
		{"two descriptions", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x"><conference-description/><conference-description/></conference-info>`, ErrInvalid},
		{"DTD", `<!DOCTYPE x [<!ENTITY a "b">]><conference-info xmlns="urn:ietf:params:xml:ns:conference-info"/>`, ErrDTD},
		{"too large", "<conference-info>" + strings.Repeat(" ", MaxBodySize) + "</conference-info>", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ci, err := ParseConferenceInfo([]byte(tt.in))
			if !errors.Is(err, tt.want) || ci != nil {
				t.Errorf("ParseConferenceInfo = %v, %v; want nil, %v", ci, err, tt.want)
			}
		})
	}
}

func TestModifyEndpointMediaScope(t *testing.T) {
	cmd := &ModifyEndpointMedia{Keys: &MediaKeys{ConfEntity: "sip:o@x;gruu;opaque=app:conf:focus:id:K1234567"},
		Media: &Media{ID: "1", Type: "audio", Status: "recvonly", IngressFilter: "block"}}
	if cmd.Scope() != "" {
		t.Fatalf("a new command has scope %q", cmd.Scope())
	}
	cmd.SetScope(ScopeAttendees)
	cmd.SetScope(ScopeAttendees) // once only
	req := &Request{Header: Header{Version: Version, RequestID: 5, From: "sip:p@x", To: cmd.Keys.ConfEntity}, Command: cmd}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(`pl:scope="attendees"`)); n != 1 {
		t.Errorf("%d scope attributes in %s", n, b)
	}
	got, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	mem := got.Command.(*ModifyEndpointMedia)
	if mem.Scope() != ScopeAttendees {
		t.Errorf("parsed scope %q", mem.Scope())
	}
	mem.SetScope("")
	if mem.Scope() != "" || len(mem.Attrs) != 0 {
		t.Errorf("after removal: scope %q, attrs %v", mem.Scope(), mem.Attrs)
	}
	// Other extension attributes survive SetScope.
	mem.Attrs = []xml.Attr{{Name: xml.Name{Space: NamespaceMSCP, Local: "other"}, Value: "1"}}
	mem.SetScope(ScopeAttendees)
	if len(mem.Attrs) != 2 {
		t.Errorf("attrs %v", mem.Attrs)
	}
}

func FuzzParseConferenceInfo(f *testing.F) {
	f.Add([]byte(rosterDoc))
	f.Add([]byte(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" state="partial" version="2"><users state="partial"><user entity="u" state="deleted"/></users></conference-info>`))
	f.Add([]byte(`<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity=""/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ci, err := ParseConferenceInfo(b)
		if err != nil {
			return
		}
		out, err := ci.Marshal()
		if err != nil {
			t.Fatalf("a parsed document does not marshal: %v", err)
		}
		again, err := ParseConferenceInfo(out)
		if err != nil {
			t.Fatalf("a marshalled document does not parse: %v\n%s", err, out)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable:\n%s\n%s", out, out2)
		}
	})
}
