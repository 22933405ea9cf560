package focus

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
)

// Unit tests of the package's small pieces; the behaviour is tested
// through SIP in the focus_test package.

func TestCallerIDText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+14255550123", "+14255550123"},
		{"tel:+14255550123", "+14255550123"},
		{"TEL:+14255550123;phone-context=redmond", "+14255550123"},
		{"sip:+14255550124@gw.parley.test;user=phone", "+14255550124"},
		{"  4255550125 ", "4255550125"},
		{"tel:+1\x00425", "+1425"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := callerIDText(tt.in); got != tt.want {
			t.Errorf("callerIDText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanDisplayName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bob Brown", "Bob Brown"},
		{" Bob\r\nBrown\t", "BobBrown"},
		{"Zoë \xff", "Zoë"},
		{strings.Repeat("é", 100), strings.Repeat("é", 64)},
	}
	for _, tt := range tests {
		if got := cleanDisplayName(tt.in); got != tt.want {
			t.Errorf("cleanDisplayName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMuteOf(t *testing.T) {
	tests := []struct {
		filter, status string
		muted, ok      bool
	}{
		{"block", "", true, true},
		{"unblock", "recvonly", false, true}, // the filter decides
		{"", "recvonly", true, true},
		{"", "inactive", true, true},
		{"", "sendrecv", false, true},
		{"", "sendonly", false, true},
		{"", "", false, false},
		{"sometimes", "", false, false},
	}
	for _, tt := range tests {
		muted, ok := muteOf(&c3p.Media{IngressFilter: tt.filter, Status: tt.status})
		if muted != tt.muted || ok != tt.ok {
			t.Errorf("muteOf(%q, %q) = %v, %v; want %v, %v", tt.filter, tt.status, muted, ok, tt.muted, tt.ok)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, tt := range []struct {
		role     Role
		wire     string
		controls bool
	}{
		{RoleOrganizer, "presenter", true},
		{RolePresenter, "presenter", true},
		{RoleAttendee, "attendee", false},
	} {
		if tt.role.wire() != tt.wire || tt.role.controls() != tt.controls {
			t.Errorf("%s: wire %q controls %v", tt.role, tt.role.wire(), tt.role.controls())
		}
	}
	if RoleOrganizer.rank() <= RolePresenter.rank() || RolePresenter.rank() <= RoleAttendee.rank() {
		t.Error("roles are not ranked organizer > presenter > attendee")
	}
}

func TestSplitDocument(t *testing.T) {
	v := uint64(1)
	doc := &c3p.ConferenceInfo{Entity: `sip:o@x;gruu;opaque=app:conf:focus:id:K1234567`, State: c3p.StatePartial, Version: &v}
	name := `version="18446744073709551615"` // a display name that looks like the mark
	doc.Users = &c3p.Users{Entries: []c3p.User{{Entity: "sip:u@x", DisplayText: &name}}}
	d, err := split(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(d.body(nil, 42))
	// Only the root's version is replaced; the lookalike text stays.
	if !strings.Contains(got, ` state="partial" version="42">`) || !strings.Contains(got, `<display-text>version="18446744073709551615"</display-text>`) {
		t.Errorf("body = %s", got)
	}
	buf := d.body(nil, 7)
	again := d.body(buf, 1234567)
	if strings.Contains(string(again), `version="7"`) || !strings.Contains(string(again), `version="1234567"`) {
		t.Errorf("reused buffer: %s", again)
	}
}

func TestSubscribeHeaders(t *testing.T) {
	req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", User: "o", Host: "x"})
	req.AppendHeader(sip.NewHeader("Supported", "com.microsoft.autoextend, ms-benotify"))
	req.AppendHeader(sip.NewHeader("Proxy-Require", "ms-piggyback-first-notify"))
	req.AppendHeader(sip.NewHeader("Accept", "application/pidf+xml, application/conference-info+xml;q=0.5"))
	if !supports(req, "ms-benotify") || !supports(req, "MS-PIGGYBACK-FIRST-NOTIFY") || supports(req, "timer") {
		t.Error("supports reads Supported and Proxy-Require option tags")
	}
	if !acceptsConferenceInfo(req) {
		t.Error("Accept lists conference-info")
	}
	if got := eventPackage(" conference ;id=3"); got != "conference" {
		t.Errorf("eventPackage = %q", got)
	}
}

func TestSubscriptionVersions(t *testing.T) {
	s := &subscription{base: 41, expires: time.Unix(1000, 0)}
	if s.versionAt(42) != 1 || s.versionAt(50) != 9 {
		t.Errorf("versions %d %d", s.versionAt(42), s.versionAt(50))
	}
	if got := s.activeState(time.Unix(400, 500)); got != "active;expires=599" {
		t.Errorf("activeState = %q", got)
	}
	if got := s.activeState(time.Unix(2000, 0)); got != "active;expires=0" {
		t.Errorf("activeState after expiry = %q", got)
	}
}

// snapshotSeed is a valid snapshot.
const snapshotSeed = `{"format":1,"conference":"sip:a@x;gruu;opaque=app:conf:focus:id:K1234567","organizer":"sip:a@x","key":"K1234567",` +
	`"version":3,"seq":1,"activated_at":"2026-11-21T09:00:00Z","last_join":"2026-11-21T09:00:00Z",` +
	`"participants":[{"entity":"sip:a@x","role":"organizer","enterprise":true,"joined_at":"2026-11-21T09:00:00Z","seq":1,` +
	`"session":{"dialog":{"id":"c__t__r","call_id":"c","local_tag":"t","remote_tag":"r","local":"sip:a@x","remote":"sip:a@x",` +
	`"target":"sip:a@192.0.2.1:5060","transport":"UDP","peer":"192.0.2.1:5060","local_cseq":1,"remote_cseq":2},"endpoint":"{E}"}}]}`

func TestDecodeSnapshot(t *testing.T) {
	s, err := decodeSnapshot([]byte(snapshotSeed))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Participants) != 1 || s.Participants[0].Session.d.RemoteCSeq() != 2 {
		t.Errorf("snapshot = %+v", s)
	}
	for _, bad := range []string{
		`{`,
		strings.Replace(snapshotSeed, `"format":1`, `"format":2`, 1),
		strings.Replace(snapshotSeed, `"role":"organizer"`, `"role":"king"`, 1),
		strings.Replace(snapshotSeed, `"call_id":"c"`, `"call_id":""`, 1),
		strings.Replace(snapshotSeed, `"target":"sip:a@192.0.2.1:5060"`, `"target":"::"`, 1),
		strings.Replace(snapshotSeed, `"version":3`, `"version":3,"mcus":[{"type":"chat","url":"","uri":"sip:a@x"}]`, 1),
		strings.Replace(snapshotSeed, `"version":3`, `"version":3,"mcus":[{"type":"","url":"https://m","uri":"sip:a@x"}]`, 1),
		strings.Replace(snapshotSeed, `"id":"c__t__r"`, `"id":"c__t__x"`, 1),
		strings.Replace(snapshotSeed, `"remote":"sip:a@x",`, ``, 1),
		// A session without its dialog.
		withoutDialog(snapshotSeed),
	} {
		if _, err := decodeSnapshot([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("decodeSnapshot(%.60q...) = %v, want ErrInvalid", bad, err)
		}
	}
}

// withoutDialog is a snapshot with one session, its dialog left out.
func withoutDialog(snapshot string) string {
	before, _, _ := strings.Cut(snapshot, `"dialog":`)
	return before + `"endpoint":"{E}"}}]}`
}

// TestOldSnapshotRoundTrip: a snapshot written before the Focus used
// sipx/dialog decodes, and encodes again to the very same JSON: the
// dialogs keep their field names and counters (TestResumeOldSnapshot
// resumes it).
func TestOldSnapshotRoundTrip(t *testing.T) {
	golden, err := os.ReadFile("testdata/snapshot-v1-old-dialogs.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeSnapshot(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Subscriptions[0].d; d.LocalCSeq() != 3 || d.RemoteCSeq() != 1 || len(s.Participants[1].Session.d.RouteSet) != 1 {
		t.Errorf("dialogs read: subscription CSeqs %d/%d, bob's route set %q", d.LocalCSeq(), d.RemoteCSeq(), s.Participants[1].Session.d.RouteSet)
	}
	got, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, golden); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("re-encoded snapshot differs from the golden:\n got %s\nwant %s", got, want.Bytes())
	}
}

// snapshotWithMCUs is snapshotSeed with the meeting's MCUs and an IM
// session.
var snapshotWithMCUs = strings.Replace(strings.Replace(snapshotSeed,
	`"version":3`, `"version":3,"mcus":[{"type":"audio-video","url":"https://m/av","uri":"sip:a@x;gruu;opaque=app:conf:audio-video:id:K1234567"},`+
		`{"type":"chat","url":"https://m/im","uri":"sip:a@x;gruu;opaque=app:conf:chat:id:K1234567"}]`, 1),
	`"seq":1,"session"`, `"seq":1,"chats":[{"id":"im-1","endpoint":"{C}"}],"chat_allowed":true,"session"`, 1)

func TestDecodeSnapshotMCUs(t *testing.T) {
	s, err := decodeSnapshot([]byte(snapshotWithMCUs))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.MCUs) != 2 || s.MCUs[1].Type != c3p.MCUTypeChat || s.MCUs[1].URL != "https://m/im" {
		t.Errorf("MCUs = %+v", s.MCUs)
	}
	p := s.Participants[0]
	if len(p.Chats) != 1 || p.Chats[0].ID != "im-1" || !p.ChatAllowed {
		t.Errorf("participant = %+v, want his IM session and chat_allowed", p)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(snapshotSeed))
	f.Add([]byte(snapshotWithMCUs))
	f.Add([]byte(`{"format":1,"subscriptions":[{"dialog":{"id":"x"}}]}`))
	f.Add([]byte(`{"format":1,"services":[{"dialog":null,"endpoint":"{S}"}]}`))
	if golden, err := os.ReadFile("testdata/snapshot-v1-old-dialogs.json"); err == nil {
		f.Add(golden)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Resuming reads every dialog without checking it again.
		for _, p := range s.Participants {
			if p.Session != nil && p.Session.d == nil {
				t.Fatal("a decoded session without its dialog")
			}
		}
		for _, v := range s.Services {
			if v.d == nil {
				t.Fatal("a decoded service without its dialog")
			}
		}
		for _, v := range s.Subscriptions {
			if v.d == nil {
				t.Fatal("a decoded subscription without its dialog")
			}
		}
		out, err := s.encode()
		if err != nil {
			t.Fatalf("a decoded snapshot does not encode: %v", err)
		}
		if _, err := decodeSnapshot(out); err != nil {
			t.Fatalf("an encoded snapshot does not decode: %v\n%s", err, out)
		}
	})
}

func TestMCUTargetOK(t *testing.T) {
	f := &Focus{}
	c := &conference{f: f, organizer: "sip:alice@parley.test", key: "K1234567"}
	c.av = &mcuLink{typ: c3p.MCUTypeAudioVideo}
	c.chat = &mcuLink{typ: c3p.MCUTypeChat}
	for uri, ok := range map[string]bool{
		"": true,
		"sip:alice@parley.test;gruu;opaque=app:conf:focus:id:K1234567":              true,
		"sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:K1234567":        true,
		"sip:alice@parley.test;gruu;opaque=app:conf:chat:id:K1234567":               true,
		"sip:alice@parley.test;gruu;opaque=app:conf:applicationsharing:id:K1234567": false,
		"sip:alice@parley.test;gruu;opaque=app:conf:chat:id:OTHER1234":              false,
		"sip:bob@parley.test;gruu;opaque=app:conf:chat:id:K1234567":                 false,
		"sip:alice@parley.test": false,
	} {
		if got := c.mcuTargetOK(c3p.MCUTarget{URI: uri}) == nil; got != ok {
			t.Errorf("mcuTargetOK(%q) accepts: %v, want %v", uri, got, ok)
		}
	}
}

func TestConfURIsElement(t *testing.T) {
	if e := confURIsElement(nil); e != nil {
		t.Errorf("no MCU: %+v, want no element", e)
	}
	e := confURIsElement([]c3p.URIEntry{{URI: "sip:a@x;gruu;opaque=app:conf:chat:id:K1234567", Purpose: c3p.MCUTypeChat}})
	entry := e.Child(c3p.NamespaceConferenceInfo, "entry")
	if e.Name.Space != c3p.NamespaceParley || e.Name.Local != "conf-uris" || entry == nil ||
		entry.Child(c3p.NamespaceConferenceInfo, "purpose").Text != "chat" ||
		entry.Child(c3p.NamespaceConferenceInfo, "uri").Text != "sip:a@x;gruu;opaque=app:conf:chat:id:K1234567" {
		t.Errorf("element = %+v", e)
	}
}

func TestNewNeedsItsParts(t *testing.T) {
	ok := Config{Meetings: nopMeetings{}, Directory: nopDirectory{}, Client: &sipgo.Client{},
		Contact: func(string) sip.ContactHeader { return sip.ContactHeader{} }}
	for name, tweak := range map[string]func(*Config){
		"meetings":  func(c *Config) { c.Meetings = nil },
		"directory": func(c *Config) { c.Directory = nil },
		"client":    func(c *Config) { c.Client = nil },
		"contact":   func(c *Config) { c.Contact = nil },
	} {
		cfg := ok
		tweak(&cfg)
		if _, err := New(cfg, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("without %s: %v, want ErrInvalid", name, err)
		}
	}
	f, err := New(ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.IdleTimeout != 24*time.Hour || f.cfg.NoEnterpriseTimeout != 10*time.Minute || f.cfg.DefaultMaxSize != 250 {
		t.Errorf("defaults: %+v", f.cfg)
	}
	fired := make(chan struct{})
	f.cfg.Clock.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	if d := time.Since(f.cfg.Clock.Now()); d < 0 || d > time.Minute {
		t.Errorf("the system clock is %v off", d)
	}
}

func TestHandles(t *testing.T) {
	for uri, want := range map[string]bool{
		"sip:alice@parley.test;gruu;opaque=app:conf:focus:id:K1234567":       true,
		"sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:K1234567": false,
		"sip:alice@parley.test;gruu;opaque=app:conf:focusfactory":            false,
		"sip:alice@parley.test":                                   false,
		"sip:alice@parley.test;opaque=app:conf:focus:id:K1234567": false, // no gruu
	} {
		var u sip.Uri
		if err := sip.ParseUri(uri, &u); err != nil {
			t.Fatal(err)
		}
		if got := Handles(sip.NewRequest(sip.INVITE, u)); got != want {
			t.Errorf("Handles(%s) = %v, want %v", uri, got, want)
		}
	}
	r := refuse(ErrFull, 486, reasonFull, 0, "%d participants", 3)
	if r.Error() != "focus: the meeting is full: 3 participants" || r.Phrase != "Busy Here" || !errors.Is(r, ErrFull) {
		t.Errorf("refusal %q %q", r.Error(), r.Phrase)
	}
}
