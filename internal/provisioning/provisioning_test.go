package provisioning

import (
	"context"
	"crypto/md5" //nolint:gosec // test digest
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const realm = "parley.test"

type fakeDirectory struct {
	users map[string]directory.User
	org   directory.Organization
	pools map[string]directory.Pool
	err   error
}

func newDirectory() *fakeDirectory {
	d := &fakeDirectory{
		users: map[string]directory.User{},
		org: directory.Organization{Name: "Parley Test", Domains: []string{realm},
			WebInternalURL: "https://meet.parley.test/int?a=1&b=<2>", WebExternalURL: "https://meet.parley.test/ext"},
		pools: map[string]directory.Pool{
			"fe.parley.test": {FQDN: "fe.parley.test", ID: "42", WebInternalURL: "https://fe.parley.test/dlx"},
		},
	}
	for _, u := range []struct {
		name    string
		enabled bool
		pool    string
	}{{"alice", true, "fe.parley.test"}, {"bob", true, "gone.parley.test"}, {"mallory", false, "fe.parley.test"}} {
		uri := "sip:" + u.name + "@" + realm
		d.users[uri] = directory.User{URI: uri, Pool: u.pool, Enabled: u.enabled,
			Credential: directory.NewCredential(u.name, realm, "pw-"+u.name)}
	}
	return d
}

func (d *fakeDirectory) User(_ context.Context, uri string) (directory.User, error) {
	if d.err != nil {
		return directory.User{}, d.err
	}
	u, ok := d.users[uri]
	if !ok {
		return directory.User{}, directory.ErrNotFound
	}
	return u, nil
}

func (d *fakeDirectory) Organization(context.Context) (directory.Organization, error) {
	return d.org, nil
}

func (d *fakeDirectory) Pool(_ context.Context, fqdn string) (directory.Pool, error) {
	p, ok := d.pools[fqdn]
	if !ok {
		return directory.Pool{}, directory.ErrNotFound
	}
	return p, nil
}

func (d *fakeDirectory) HA1(_ context.Context, username, _, alg string) (string, error) {
	u, ok := d.users["sip:"+username+"@"+realm]
	if !ok {
		return "", digest.ErrUnknownUser
	}
	if alg == digest.SHA256 {
		return u.Credential.HA1SHA256, nil
	}
	return u.Credential.HA1MD5, nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newService(t *testing.T, withAuth bool) (*Service, *fakeDirectory) {
	t.Helper()
	dir := newDirectory()
	var auth *digest.Authenticator
	if withAuth {
		var err error
		auth, err = digest.New(digest.Config{Realm: realm, Secret: []byte("provisioning-test-secret-0123456")}, dir, discard())
		if err != nil {
			t.Fatal(err)
		}
	}
	local := sipx.NewLocal([]string{realm}, []string{"127.0.0.1"})
	return New(local, dir, auth, discard()), dir
}

// subscribe builds a SUBSCRIBE like the ones SIPE sends (protocols.md §3.3).
func subscribe(tb testing.TB, ruri, from, to, event string, extra ...string) *sip.Request {
	tb.Helper()
	lines := []string{
		"SUBSCRIBE " + ruri + " SIP/2.0",
		"Via: SIP/2.0/TCP 192.0.2.10:49152;branch=z9hG4bK" + fmt.Sprint(time.Now().UnixNano()),
		"Max-Forwards: 70",
		"From: <" + from + ">;tag=f1;epid=abc",
		"To: <" + to + ">",
		"Call-ID: sub-" + event,
		"CSeq: 1 SUBSCRIBE",
		"Event: " + event,
		"Supported: com.microsoft.autoextend, ms-benotify, ms-piggyback-first-notify",
		"Proxy-Require: ms-benotify",
		"Contact: <sip:192.0.2.10:49152;transport=tcp>",
	}
	lines = append(lines, extra...)
	lines = append(lines, "Content-Length: 0", "", "")
	m, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		tb.Fatal(err)
	}
	return m.(*sip.Request)
}

func serve(t *testing.T, s *Service, req *sip.Request) *sip.Response {
	t.Helper()
	tx := siptest.NewServerTxRecorder(req)
	defer tx.Terminate()
	s.ServeSUBSCRIBE(req, tx)
	rs := tx.Result()
	if len(rs) != 1 {
		t.Fatalf("%d responses, want 1", len(rs))
	}
	return rs[0]
}

func header(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestProvisioningWithDigest(t *testing.T) {
	s, _ := newService(t, true)
	const self = "sip:alice@parley.test"
	req := subscribe(t, self, self, self, EventProvisioning,
		"Accept: application/vnd-microsoft-roaming-provisioning-v2+xml", "Expires: 0")
	res := serve(t, s, req)
	if res.StatusCode != 407 {
		t.Fatalf("status %d, want 407", res.StatusCode)
	}
	ch := header(res, "Proxy-Authenticate")
	nonce := ch[strings.Index(ch, `nonce="`)+7:]
	nonce = nonce[:strings.IndexByte(nonce, '"')]
	// SIPE: MD5, qop=auth, uri="(null)" (protocols.md §3.4).
	h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) } //nolint:gosec // test
	resp := h(h("alice:"+realm+":pw-alice") + ":" + nonce + ":00000001:1a2b3c4d:auth:" + h("SUBSCRIBE:(null)"))
	req = subscribe(t, self, self, self, EventProvisioning, "Expires: 0", fmt.Sprintf(
		`Proxy-Authorization: Digest username="alice", realm="%s", nonce="%s", uri="(null)", qop=auth, nc=00000001, cnonce="1a2b3c4d", response="%s"`,
		realm, nonce, resp))
	res = serve(t, s, req)
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s, want 200: %v", res.StatusCode, res.Reason, res)
	}
	for name, want := range map[string]string{
		"Event":             EventProvisioning,
		"Expires":           "0",
		"ms-piggyback-cseq": "1",
		"Content-Type":      "application/vnd-microsoft-roaming-provisioning-v2+xml",
		"Contact":           "<sip:parley.test>",
	} {
		if got := header(res, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	golden(t, "provisioning-v2.xml", res.Body())

	var doc struct {
		XMLName xml.Name
		Groups  []struct {
			Name         string `xml:"name,attr"`
			FocusFactory string `xml:"focusFactoryUri"`
			Internal     string `xml:"dlxInternalUrl"`
			External     string `xml:"dlxExternalUrl"`
			Encryption   string `xml:"ucPC2PCAVEncryption"`
		} `xml:"provisionGroup"`
	}
	if err := xml.Unmarshal(res.Body(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Space != provisioningNS || doc.XMLName.Local != "provisionGroupList" || len(doc.Groups) != 1 {
		t.Fatalf("document %+v", doc)
	}
	g := doc.Groups[0]
	if g.Name != "ServerConfiguration" || g.FocusFactory != "sip:alice@parley.test;gruu;opaque=app:conf:focusfactory" ||
		g.Internal != "https://fe.parley.test/dlx" || g.External != "https://meet.parley.test/ext" || g.Encryption != "SupportEncryption" {
		t.Errorf("group %+v; want the pool's internal URL over the organization's", g)
	}
}

func TestProvisioningOrganizationURLs(t *testing.T) {
	s, _ := newService(t, false)
	const self = "sip:bob@parley.test"
	res := serve(t, s, subscribe(t, self, self, self, EventProvisioning))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// bob's pool is missing: the organization's URLs, escaped.
	body := string(res.Body())
	for _, want := range []string{
		"<dlxInternalUrl>https://meet.parley.test/int?a=1&amp;b=&lt;2&gt;</dlxInternalUrl>",
		"<focusFactoryUri>sip:bob@parley.test;gruu;opaque=app:conf:focusfactory</focusFactoryUri>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
}

func TestOtherEvents(t *testing.T) {
	s, _ := newService(t, false)
	const self = "sip:alice@parley.test"
	for _, tt := range []struct{ event, ctype, root string }{
		{EventRoamingContact, "application/vnd-microsoft-roaming-contacts+xml", "contactList"},
		{EventRoamingSelf, "application/vnd-microsoft-roaming-self+xml", "roamingData"},
		{EventPresence, "application/rlmi+xml", "list"},
	} {
		t.Run(tt.event, func(t *testing.T) {
			req := subscribe(t, self, self, self, tt.event, "Expires: 3600")
			if !s.Handles(req) {
				t.Error("Handles = false")
			}
			res := serve(t, s, req)
			if res.StatusCode != 200 || header(res, "Expires") != "0" || header(res, "Content-Type") != tt.ctype ||
				header(res, "Event") != tt.event || header(res, "ms-piggyback-cseq") == "" {
				t.Fatalf("response %v", res)
			}
			var root struct{ XMLName xml.Name }
			if err := xml.Unmarshal(res.Body(), &root); err != nil || root.XMLName.Local != tt.root {
				t.Errorf("body %q: root %v, %v; want %s", res.Body(), root.XMLName, err, tt.root)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	s, dir := newService(t, false)
	const alice = "sip:alice@parley.test"
	tests := []struct {
		name string
		req  *sip.Request
		code int
	}{
		{"unknown event", subscribe(t, alice, alice, alice, "dialog"), 489},
		{"another user's address", subscribe(t, "sip:bob@parley.test", alice, "sip:bob@parley.test", EventProvisioning), 403},
		{"foreign domain", subscribe(t, "sip:x@elsewhere.org", "sip:x@elsewhere.org", "sip:x@elsewhere.org", EventProvisioning), 404},
		{"unknown user", subscribe(t, "sip:nobody@parley.test", "sip:nobody@parley.test", "sip:nobody@parley.test", EventProvisioning), 404},
		{"disabled user", subscribe(t, "sip:mallory@parley.test", "sip:mallory@parley.test", "sip:mallory@parley.test", EventRoamingSelf), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, s, tt.req)
			if res.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.code)
			}
			if tt.code == 489 && header(res, "Allow-Events") != allowEvents {
				t.Errorf("Allow-Events = %q", header(res, "Allow-Events"))
			}
		})
	}
	dir.err = errors.New("database down")
	if res := serve(t, s, subscribe(t, alice, alice, alice, EventProvisioning)); res.StatusCode != 500 {
		t.Errorf("directory failure: %d, want 500", res.StatusCode)
	}
}

func TestHandles(t *testing.T) {
	s, _ := newService(t, false)
	const alice = "sip:alice@parley.test"
	tests := []struct {
		name string
		req  *sip.Request
		want bool
	}{
		{"provisioning to self", subscribe(t, alice, alice, alice, EventProvisioning), true},
		{"by address", subscribe(t, "sip:alice@127.0.0.1", alice, "sip:Alice@parley.test", EventProvisioning), true},
		{"event parameters", subscribe(t, alice, alice, alice, "Presence;id=1"), true},
		{"unknown event", subscribe(t, alice, alice, alice, "conference"), false},
		{"presence of another user", subscribe(t, "sip:bob@parley.test", alice, "sip:bob@parley.test", EventPresence), false},
		{"request-URI of another user", subscribe(t, "sip:bob@parley.test", alice, alice, EventPresence), false},
		{"foreign", subscribe(t, "sip:x@elsewhere.org", "sip:x@elsewhere.org", "sip:x@elsewhere.org", EventPresence), false},
	}
	for _, tt := range tests {
		if got := s.Handles(tt.req); got != tt.want {
			t.Errorf("%s: Handles = %v, want %v", tt.name, got, tt.want)
		}
	}
	req := subscribe(t, alice, alice, alice, EventProvisioning)
	req.Method = sip.NOTIFY
	if s.Handles(req) {
		t.Error("Handles a NOTIFY")
	}
}

// FuzzEvent feeds arbitrary Event header values: nothing may panic, and
// whatever Handles accepts from a known user is answered with 200.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{EventProvisioning, "presence;id=7", "PRESENCE", " ;", "vnd-microsoft-roaming-self ; x=\"y\""} {
		f.Add(s)
	}
	local := sipx.NewLocal([]string{realm}, nil)
	s := New(local, newDirectory(), nil, discard())
	f.Fuzz(func(t *testing.T, event string) {
		if strings.ContainsAny(event, "\r\n\x00") {
			return
		}
		const alice = "sip:alice@parley.test"
		req := subscribe(t, alice, alice, alice, EventPresence)
		req.RemoveHeader("Event")
		req.AppendHeader(sip.NewHeader("Event", event))
		handles := s.Handles(req)
		res := s.subscribe(context.Background(), req)
		if handles != (res.StatusCode == 200) {
			t.Fatalf("Event %q: Handles %v but status %d", event, handles, res.StatusCode)
		}
	})
}
