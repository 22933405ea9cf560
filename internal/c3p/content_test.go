package c3p

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreLayout leaves the recorded order and namespaces and the parse-time
// prefix hints out of comparisons.
var ignoreLayout = cmpopts.IgnoreUnexported(Extensions{}, Element{})

func ptr[T any](v T) *T { return &v }

func readRequest(t *testing.T, path string) *Request {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRequest(b)
	if err != nil {
		t.Fatalf("ParseRequest(%s): %v", path, err)
	}
	return r
}

func readResponse(t *testing.T, path string) *Response {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseResponse(b)
	if err != nil {
		t.Fatalf("ParseResponse(%s): %v", path, err)
	}
	return r
}

// TestRequestContent checks what the typed model makes of the request
// examples, field by field.
func TestRequestContent(t *testing.T) {
	tests := []struct {
		file       string
		wantHeader Header
		want       Command
	}{
		{
			file:       "spec/request-getAvailableMcuTypes.xml",
			wantHeader: Header{Version: "1", RequestID: 7, From: "sip:alice@contoso.com", To: "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"},
			want:       &GetAvailableMCUTypes{},
		},
		{
			file:       "spec/request-getConference.xml",
			wantHeader: Header{Version: "1", RequestID: 5, From: "sip:alice@contoso.com", To: "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"},
			want: &GetConference{
				Keys:          &ConferenceKeys{ConferenceID: "SDFBSD12"},
				EncryptionKey: &EncryptionKey{X509Certificate: "123213789BC234D"},
			},
		},
		{
			file: "spec/request-addConference.xml",
			wantHeader: Header{Version: "1", RequestID: 68537848,
				From: "sip:mhakim2@clientsemain.rtmp.selfhost.corp.microsoft.com",
				To:   "sip:mhakim2@clientsemain.rtmp.selfhost.corp.microsoft.com;gruu;opaque=app:conf:focusfactory"},
			want: &AddConference{ConferenceInfo: &ConferenceInfo{
				Description: &ConferenceDescription{
					ConferenceID:    "TPDD8VYG",
					AdmissionPolicy: AdmissionOpenAuthenticated,
					PSTNAccess:      &PSTNAccess{},
					AutoPromote:     ptr[uint64](2147483648),
					PSTNLobbyBypass: ptr(true),
				},
				ConferenceState: &ConferenceState{Locked: ptr(false)},
				View:            &ConferenceView{EntityViews: []EntityView{{Entity: "chat"}, {Entity: "audio-video"}}},
			}},
		},
		{
			file:       "spec/request-modifyConference.xml",
			wantHeader: Header{Version: "1", RequestID: 355465752, From: "sip:alice@fabrikam.com", To: "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:TDVDW046"},
			want: &ModifyConference{
				MCU: MCUTarget{URI: "sip:alice@fabrikam.com;gruu;opaque=app:conf:audio-video:id:TDVDW046"},
				ConferenceInfo: &ConferenceInfo{
					Entity: "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:TDVDW046",
					State:  StatePartial,
					View: &ConferenceView{State: StatePartial, EntityViews: []EntityView{{
						Entity: "sip:alice@fabrikam.com;gruu;opaque=app:conf:audio-video:id:TDVDW046",
						State:  StatePartial,
					}}},
				},
			},
		},
		{
			file:       "spec/request-deleteUser.xml",
			wantHeader: Header{Version: "1", RequestID: 63022864, From: "sip:alice@contoso.com", To: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:7ECB5F9BFFB1F343B36775DBA09E8038"},
			want: &DeleteUser{Keys: &UserKeys{
				ConfEntity: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:7ECB5F9BFFB1F343B36775DBA09E8038",
				UserEntity: "sip:carol@contoso.com",
			}},
		},
		{
			file:       "spec/request-addUser-dialout.xml",
			wantHeader: Header{Version: "1", RequestID: 3, From: "sip:alice@fabrikam.com", To: "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C"},
			want: &AddUser{
				MCU:  MCUTarget{URI: "sip:alice@fabrikam.com;gruu;opaque=app:conf:chat:id:5D3747C", Unqualified: true},
				Keys: &ConferenceKeys{ConfEntity: "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C"},
				User: &User{Entity: "sip:cathy@fabrikam.com", DisplayText: ptr("Cathy Baker"), Roles: []string{RoleAttendee}},
			},
		},
		{
			file:       "composed/request-addUser-join.xml",
			wantHeader: Header{Version: "1", RequestID: 2, From: "sip:bob@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
			want: &AddUser{
				Keys: &ConferenceKeys{ConfEntity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
				User: &User{
					Entity:    "sip:bob@example.com",
					Roles:     []string{RoleAttendee},
					Endpoints: []Endpoint{{Entity: "{5C2FB6A0-7E1B-4E0B-9E5A-2D3C4B5A6978}"}},
				},
			},
		},
		{
			file:       "composed/request-addUser-dialin.xml",
			wantHeader: Header{Version: "1", RequestID: 21, From: "sip:attendant@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:K7P2Q9X4"},
			want: &AddUser{
				MCU:  MCUTarget{URI: "sip:alice@example.com;gruu;opaque=app:conf:audio-video:id:K7P2Q9X4"},
				Keys: &ConferenceKeys{ConfEntity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:K7P2Q9X4"},
				User: &User{
					Entity:      "sip:+14255550123@example.com;user=phone",
					DisplayText: ptr("+1 425 555 0123"),
					Roles:       []string{RoleAttendee},
					Endpoints: []Endpoint{{
						Entity:        "{0D8E4C1A-9B7F-4E21-8C3D-6A5B4F3E2D10}",
						EndpointURI:   "tel:+14255550123",
						JoiningMethod: JoiningDialedIn,
						Media:         []Media{{ID: "1", Type: "audio", Status: "sendrecv"}},
					}},
				},
			},
		},
		{
			file:       "composed/request-addConference-dialin.xml",
			wantHeader: Header{Version: "1", RequestID: 12, From: "sip:alice@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focusfactory"},
			want: &AddConference{ConferenceInfo: &ConferenceInfo{
				Description: &ConferenceDescription{
					Subject:         ptr("Budget review & Q3 plan"),
					ConferenceID:    "K7P2Q9X4",
					ConferenceKey:   ptr("4321"),
					ExpiryTime:      ptr(time.Date(2026, 9, 30, 18, 0, 0, 0, time.UTC)),
					AdmissionPolicy: AdmissionAnonymous,
					PSTNAccess:      &PSTNAccess{},
					AutoPromote:     ptr[uint64](2147483648),
					PSTNLobbyBypass: ptr(false),
				},
				Users: &Users{Entries: []User{
					{Entity: "sip:alice@example.com", Roles: []string{RolePresenter}},
					{Entity: "sip:carol@example.com", Roles: []string{RolePresenter}},
					{Entity: "sip:dave@example.com", Roles: []string{RoleAttendee}},
				}},
				View: &ConferenceView{EntityViews: []EntityView{{Entity: "audio-video"}, {Entity: "meeting"}}},
			}},
		},
		{
			file:       "composed/request-modifyUserRoles.xml",
			wantHeader: Header{Version: "1", RequestID: 5, From: "sip:alice@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
			want: &ModifyUserRoles{
				Keys:  &UserKeys{ConfEntity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234", UserEntity: "sip:bob@example.com"},
				Roles: []string{RolePresenter},
			},
		},
		{
			file:       "composed/request-modifyConferenceLock.xml",
			wantHeader: Header{Version: "1", RequestID: 6, From: "sip:alice@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
			want: &ModifyConferenceLock{
				Keys:   &ConferenceKeys{ConfEntity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
				Locked: ptr(true),
			},
		},
		{
			file:       "composed/request-modifyEndpointMedia.xml",
			wantHeader: Header{Version: "1", RequestID: 7, From: "sip:bob@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"},
			want: &ModifyEndpointMedia{
				MCU: MCUTarget{URI: "sip:alice@example.com;gruu;opaque=app:conf:audio-video:id:ABCD1234"},
				Keys: &MediaKeys{
					ConfEntity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234", UserEntity: "sip:bob@example.com",
					EndpointEntity: "{5C2FB6A0-7E1B-4E0B-9E5A-2D3C4B5A6978}", MediaID: "1",
				},
				Media: &Media{ID: "1", Type: "audio", Status: "recvonly", IngressFilter: "block"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := readRequest(t, tt.file)
			if diff := cmp.Diff(tt.wantHeader, r.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, r.Command, ignoreLayout); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResponseContent does the same for responses.
func TestResponseContent(t *testing.T) {
	tests := []struct {
		file       string
		wantCode   Code
		wantReason string
		want       Command
	}{
		{
			file:     "spec/response-getAvailableMcuTypes.xml",
			wantCode: CodeSuccess,
			want:     &GetAvailableMCUTypes{MCUTypes: []string{MCUTypeAudioVideo, MCUTypeChat, MCUTypeMeeting, MCUTypePhoneConf}},
		},
		{
			// §2.2.3.4 writes user, roles and entry unqualified inside the
			// response, and lobby-capable with whitespace around "true".
			file:     "spec/response-addUser.xml",
			wantCode: CodeSuccess,
			want: &AddUser{
				Keys: &ConferenceKeys{ConfEntity: "sip:user@fabrikam.com;gruu;opaque=app:conf:focus:id:BE92"},
				User: &User{
					Entity:     "sip:user@fabrikam.com",
					Roles:      []string{RoleAttendee},
					ClientInfo: &ClientInfo{LobbyCapable: ptr(true)},
				},
			},
		},
		{
			file:     "spec/response-deleteConference.xml",
			wantCode: CodeSuccess,
			want:     &DeleteConference{ConferenceInfo: &ConferenceInfo{Entity: "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C"}},
		},
		{
			file:     "composed/response-addConference.xml",
			wantCode: CodeSuccess,
			want:     &AddConference{ConferenceInfo: &ConferenceInfo{Entity: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:K7P2Q9X4"}},
		},
		{
			file:       "composed/response-failure.xml",
			wantCode:   CodeFailure,
			wantReason: ReasonOtherFailure,
			want:       &AddUser{},
		},
		{
			file:     "composed/response-getConferencingCapabilities.xml",
			wantCode: CodeSuccess,
			want: &GetConferencingCapabilities{
				CapabilityVersion: ptr[uint64](0),
				MCUTypes:          []string{MCUTypeChat, MCUTypeAudioVideo, MCUTypeMeeting, MCUTypePhoneConf},
				PSTNBridging: &PSTNBridging{AccessNumbers: &AccessNumbers{
					Regions: []Region{
						{Name: "Redmond", Numbers: []AccessNumber{{Number: "+1 (425) 555-0100"}, {Number: "+1 (425) 555-0101"}}},
						{Name: "Prague", Numbers: []AccessNumber{{Number: "+420 255 555 010"}}},
					},
					DefaultRegion: "Redmond",
				}},
				Extensions: Extensions{Elements: []*Element{{Name: xml.Name{Space: NamespaceC3P, Local: "anonymous-scheduling"}}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := readResponse(t, tt.file)
			if r.Code != tt.wantCode || r.Reason != tt.wantReason {
				t.Errorf("code, reason = %q, %q; want %q, %q", r.Code, r.Reason, tt.wantCode, tt.wantReason)
			}
			if diff := cmp.Diff(tt.want, r.Command, ignoreLayout); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetConferenceResponse checks the conference-info a getConference
// answer carries, including an unknown child of pstn-access, which is kept.
func TestGetConferenceResponse(t *testing.T) {
	r := readResponse(t, "composed/response-getConference.xml")
	gc, ok := r.Command.(*GetConference)
	if !ok {
		t.Fatalf("command is %T, want *GetConference", r.Command)
	}
	ci := gc.ConferenceInfo
	if ci == nil || ci.Description == nil {
		t.Fatalf("no conference description in %+v", gc)
	}
	if got, want := *ci.Version, uint64(2); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
	d := ci.Description
	wantURIs := []URIEntry{
		{URI: "sip:alice@example.com;gruu;opaque=app:conf:audio-video:id:K7P2Q9X4", Purpose: MCUTypeAudioVideo},
		{URI: "sip:alice@example.com;gruu;opaque=app:conf:chat:id:K7P2Q9X4", DisplayText: ptr("IM"), Purpose: MCUTypeChat},
	}
	if diff := cmp.Diff(wantURIs, d.ConfURIs, ignoreLayout); diff != "" {
		t.Errorf("conf-uris (-want +got):\n%s", diff)
	}
	if got, want := *d.LastUpdate, time.Date(2026, 9, 1, 9, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("last-update = %v, want %v", got, want)
	}
	if d.IsActive == nil || *d.IsActive {
		t.Errorf("is-active = %v, want false", d.IsActive)
	}
	if d.PSTNAccess == nil || d.PSTNAccess.ID != "48213" {
		t.Fatalf("pstn-access = %+v, want id 48213", d.PSTNAccess)
	}
	extra := d.PSTNAccess.Elements
	if len(extra) != 1 || extra[0].Name != (xml.Name{Space: NamespaceMSCI, Local: "x-unknown-child"}) || extra[0].Text != "as is" {
		t.Fatalf("pstn-access extensions = %+v, want the x-unknown-child element", extra)
	}
	if v, ok := extra[0].Attr("", "note"); !ok || v != "kept" {
		t.Errorf(`Attr("", "note") = %q, %v; want "kept", true`, v, ok)
	}
}

// TestMarshalBuilt encodes commands built in Go (no parse history) and
// checks the default layout: schema order, separators before the R2
// additions, conference-info namespaces.
func TestMarshalBuilt(t *testing.T) {
	expiry := time.Date(2026, 9, 30, 18, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	req := &Request{
		Header: Header{Version: Version, RequestID: 9, From: "sip:alice@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focusfactory"},
		Command: &AddConference{ConferenceInfo: &ConferenceInfo{
			Description: &ConferenceDescription{
				PSTNLobbyBypass: ptr(true),
				PSTNAccess:      &PSTNAccess{},
				AdmissionPolicy: AdmissionAnonymous,
				ExpiryTime:      &expiry,
				ConferenceID:    "K7P2Q9X4",
				Subject:         ptr("Weekly <sync>"),
			},
			Users: &Users{Entries: []User{{Entity: "sip:bob@example.com", Roles: []string{RolePresenter}}}},
		}},
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="utf-8"?>` +
		`<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:ci="urn:ietf:params:xml:ns:conference-info" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" xmlns:cis="urn:ietf:params:xml:ns:conference-info-separator" C3PVersion="1" requestId="9" from="sip:alice@example.com" to="sip:alice@example.com;gruu;opaque=app:conf:focusfactory">` +
		`<addConference><ci:conference-info entity=""><ci:conference-description>` +
		`<ci:subject>Weekly &lt;sync&gt;</ci:subject><msci:conference-id>K7P2Q9X4</msci:conference-id>` +
		`<msci:expiry-time>2026-09-30T16:00:00Z</msci:expiry-time><msci:admission-policy>anonymous</msci:admission-policy>` +
		`<cis:separator/><msci:pstn-access/><cis:separator/><msci:pstn-lobby-bypass>true</msci:pstn-lobby-bypass>` +
		`</ci:conference-description><ci:users><ci:user entity="sip:bob@example.com"><ci:roles><ci:entry>presenter</ci:entry></ci:roles></ci:user></ci:users>` +
		`</ci:conference-info></addConference></request>`
	if got := string(b); got != want {
		t.Errorf("Marshal() =\n%s\nwant\n%s", got, want)
	}
	if _, err := ParseRequest(b); err != nil {
		t.Errorf("ParseRequest(Marshal()) error = %v", err)
	}
}

// TestMarshalKeepsUnknownContent parses a command with extension elements
// and attributes it does not model, edits a known field and checks that the
// unknown parts come back in place.
func TestMarshalKeepsUnknownContent(t *testing.T) {
	in := `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:x="urn:example:ext" requestId="1" from="sip:a@example.com" to="sip:b@example.com" x:trace="42">` +
		`<modifyConferenceLock x:flag="on"><x:before>1</x:before><conferenceKeys confEntity="sip:c"/><x:between a="b"><x:deep/></x:between><locked>false</locked><x:after/></modifyConferenceLock></request>`
	r, err := ParseRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r.Command.(*ModifyConferenceLock).Locked = ptr(true)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="utf-8"?><request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:x="urn:example:ext" requestId="1" from="sip:a@example.com" to="sip:b@example.com" x:trace="42">` +
		`<modifyConferenceLock x:flag="on"><x:before>1</x:before><conferenceKeys confEntity="sip:c"/><x:between a="b"><x:deep/></x:between><locked>true</locked><x:after/></modifyConferenceLock></request>`
	if got := string(b); got != want {
		t.Errorf("Marshal() =\n%s\nwant\n%s", got, want)
	}
}

// TestNamespaceEdgeCases covers the writer's handling of elements in no
// namespace, of attributes in the C3P namespace and of foreign prefixes that
// collide with the reserved ones.
func TestNamespaceEdgeCases(t *testing.T) {
	in := `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:ci="urn:example:not-ci" xmlns:c="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b">` +
		`<deleteUser c:hint="x"><plain xmlns=""><back xmlns="urn:ietf:params:xml:ns:cccp"/></plain><ci:foreign xml:lang="en">t</ci:foreign></deleteUser></request>`
	r, err := ParseRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(canonical(t, []byte(in)), canonical(t, b)); diff != "" {
		t.Errorf("meaning changed (-in +out):\n%s\n%s", diff, b)
	}
	for _, want := range []string{`xmlns:cccp="urn:ietf:params:xml:ns:cccp"`, `cccp:hint="x"`, `<plain xmlns="">`, `<back xmlns="urn:ietf:params:xml:ns:cccp"/>`, `xmlns:ns1="urn:example:not-ci"`, `<ns1:foreign xml:lang="en">`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("output lacks %s:\n%s", want, b)
		}
	}
}
