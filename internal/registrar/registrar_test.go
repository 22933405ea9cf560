package registrar

import (
	"context"
	"crypto/md5" //nolint:gosec // test digest
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

const realm = "parley.test"

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// directoryFake is the users of the tests, with their passwords.
type directoryFake struct {
	users     map[string]directory.User
	passwords map[string]string
}

func newDirectory() *directoryFake {
	d := &directoryFake{users: map[string]directory.User{}, passwords: map[string]string{}}
	d.add("alice", "wonderland", true)
	d.add("bob", "builder", true)
	d.add("mallory", "evil", false)
	return d
}

func (d *directoryFake) add(user, password string, enabled bool) {
	uri := "sip:" + user + "@" + realm
	d.users[uri] = directory.User{URI: uri, Pool: "fe.parley.test", Enabled: enabled,
		Credential: directory.NewCredential(user, realm, password)}
	d.passwords[user] = password
}

func (d *directoryFake) User(_ context.Context, uri string) (directory.User, error) {
	u, ok := d.users[uri]
	if !ok {
		return directory.User{}, fmt.Errorf("user %s: %w", uri, directory.ErrNotFound)
	}
	return u, nil
}

// HA1 implements digest.Credentials from the stored credentials.
func (d *directoryFake) HA1(_ context.Context, username, _, alg string) (string, error) {
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

type fixture struct {
	t   *testing.T
	clk *fakeClock
	dir *directoryFake
	r   *Registrar
}

func newFixture(t *testing.T, mod func(*Config, *digest.Config)) *fixture {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := newDirectory()
	cfg := Config{Authenticate: true, Hostname: "fe.parley.test", Now: clk.Now}
	dcfg := digest.Config{Realm: realm, Secret: []byte("registrar-test-secret-0123456789"), Now: clk.Now,
		Algorithms: []string{digest.SHA256, digest.MD5}}
	if mod != nil {
		mod(&cfg, &dcfg)
	}
	auth, err := digest.New(dcfg, dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	local := sipx.NewLocal([]string{realm}, []string{"127.0.0.1", "fe.parley.test"})
	return &fixture{t: t, clk: clk, dir: dir, r: New(cfg, local, dir, auth, discard())}
}

// msg is a REGISTER under construction.
type msg struct {
	to, from, callID, via string
	cseq                  int
	headers               []string
}

func register(user string) *msg {
	return &msg{
		to:     "<sip:" + user + "@parley.test>",
		from:   "<sip:" + user + "@parley.test>;tag=abc123",
		callID: "call-" + user,
		via:    "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK" + fmt.Sprint(time.Now().UnixNano()),
		cseq:   1,
	}
}

func (m *msg) with(h ...string) *msg {
	m.headers = append(m.headers, h...)
	return m
}

func (m *msg) request(tb testing.TB) *sip.Request {
	tb.Helper()
	lines := []string{
		"REGISTER sip:parley.test SIP/2.0",
		"Via: " + m.via,
		"Max-Forwards: 70",
		"To: " + m.to,
		"From: " + m.from,
		"Call-ID: " + m.callID,
		fmt.Sprintf("CSeq: %d REGISTER", m.cseq),
	}
	lines = append(lines, m.headers...)
	lines = append(lines, "Content-Length: 0", "", "")
	parsed, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return parsed.(*sip.Request)
}

// serve passes req through a real sipgo server transaction and returns the
// final response it sent.
func (f *fixture) serve(req *sip.Request) *sip.Response {
	f.t.Helper()
	tx := siptest.NewServerTxRecorder(req)
	defer tx.Terminate()
	f.r.ServeREGISTER(req, tx)
	rs := tx.Result()
	if len(rs) != 1 {
		f.t.Fatalf("%d responses sent, want 1", len(rs))
	}
	return rs[0]
}

// send sends m, answering a 401/407 challenge with password (MD5, qop=auth,
// computed here independently of package digest), and returns the final
// response. m.cseq is advanced as a client would.
func (f *fixture) send(m *msg, user, password string) *sip.Response {
	f.t.Helper()
	res := f.serve(m.request(f.t))
	if res.StatusCode != 401 && res.StatusCode != 407 {
		return res
	}
	name, hdr := "Authorization", "WWW-Authenticate"
	if res.StatusCode == 407 {
		name, hdr = "Proxy-Authorization", "Proxy-Authenticate"
	}
	nonce := between(res.GetHeader(hdr).Value(), `nonce="`)
	h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) } //nolint:gosec // test
	ha1 := h(user + ":" + realm + ":" + password)
	resp := h(ha1 + ":" + nonce + ":00000001:c0ffee:auth:" + h("REGISTER:sip:parley.test"))
	m.cseq++
	retry := *m
	retry.headers = append(append([]string(nil), m.headers...), fmt.Sprintf(
		`%s: Digest username="%s", realm="%s", nonce="%s", uri="sip:parley.test", qop=auth, nc=00000001, cnonce="c0ffee", response="%s"`,
		name, user, realm, nonce, resp))
	res = f.serve(retry.request(f.t))
	m.cseq++
	return res
}

// between returns the text after start up to the next double quote.
func between(s, start string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return s
}

func values(res *sip.Response, name string) []string {
	var out []string
	for _, h := range res.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return out
}

func wantStatus(t *testing.T, res *sip.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("status %d %s, want %d\n%v", res.StatusCode, res.Reason, code, res)
	}
}

func TestRegisterChallengeThenOK(t *testing.T) {
	f := newFixture(t, nil)
	m := register("alice").with("Contact: <sip:alice@192.0.2.10:5060;transport=udp>")

	res := f.serve(m.request(t))
	wantStatus(t, res, 401)
	if ch := values(res, "WWW-Authenticate"); len(ch) != 2 || !strings.Contains(ch[0], "SHA-256") {
		t.Fatalf("challenges %q", ch)
	}
	if f.r.Count() != 0 {
		t.Fatal("a challenged REGISTER created a binding")
	}

	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	if got, want := values(res, "Contact"), []string{"<sip:alice@192.0.2.10:5060;transport=udp>;expires=3600"}; !equal(got, want) {
		t.Errorf("Contact = %q, want %q", got, want)
	}
	for name, want := range map[string]string{
		"Expires":       "3600",
		"Date":          "Sun, 01 Mar 2026 12:00:00 GMT",
		"ms-keep-alive": "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300",
		"Allow-Events":  "presence,vnd-microsoft-provisioning-v2,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-self",
		"Server":        "RTC/3.5 Parley",
	} {
		if got := values(res, name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := values(res, "Supported"); !equal(got, []string{"msrtc-event-categories", "adhoclist"}) {
		t.Errorf("Supported = %q", got)
	}

	bs := f.r.Lookup("sip:Alice@127.0.0.1")
	if len(bs) != 1 {
		t.Fatalf("Lookup = %v", bs)
	}
	b := bs[0]
	if b.AOR != "sip:alice@parley.test" || b.Contact.String() != "sip:alice@192.0.2.10:5060;transport=udp" ||
		b.CallID != "call-alice" || b.CSeq != 2 || b.Q != 1 || b.Source != "192.0.2.10:5060" || b.Transport != "UDP" ||
		!b.Expires.Equal(f.clk.Now().Add(time.Hour)) {
		t.Errorf("binding %+v", b)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestRegisterWrongPasswordThrottled(t *testing.T) {
	f := newFixture(t, func(_ *Config, d *digest.Config) { d.MaxFailures = 3 })
	m := register("alice").with("Contact: <sip:alice@192.0.2.10>")
	for i := range 3 {
		if res := f.send(m, "alice", "guess"); res.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d, want 401", i, res.StatusCode)
		}
	}
	res := f.send(m, "alice", "wonderland")
	wantStatus(t, res, 503)
	if got := values(res, "Retry-After"); len(got) != 1 {
		t.Errorf("Retry-After = %q", got)
	}
	if f.r.Count() != 0 {
		t.Error("binding created while throttled")
	}
	f.clk.Advance(time.Minute)
	wantStatus(t, f.send(m, "alice", "wonderland"), 200)
}

func TestRegisterProxyChallengeForSIPE(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Challenge = digest.Proxy })
	m := register("alice").with(
		`Contact: <sip:192.0.2.10:5061;transport=tls;ms-opaque=d3470f2e1d>;methods="INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY";proxy=replace;+sip.instance="<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>"`,
		"Supported: gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence",
		"Event: registration")
	res := f.serve(m.request(t))
	wantStatus(t, res, 407)
	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	c := values(res, "Contact")
	if len(c) != 1 {
		t.Fatalf("Contact = %q", c)
	}
	// The epid is the one OCS 2007 R2 derives from this instance.
	wantMS := `gruu="sip:alice@parley.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu"`
	if !strings.Contains(c[0], `+sip.instance="<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>"`) || !strings.Contains(c[0], wantMS) {
		t.Fatalf("Contact %q lacks the instance or %s", c[0], wantMS)
	}
	if i := strings.Index(c[0], `gruu="`); c[0][i-1] != ';' {
		t.Errorf("the first gruu=\" in %q is not the Microsoft gruu parameter", c[0])
	}
	if strings.Contains(c[0], "temp-gruu") {
		t.Errorf("temp-gruu without Supported: gruu: %q", c[0])
	}
	b, ok := f.r.LookupGRUU("sip:alice@parley.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu")
	if !ok || b.Contact.Host != "192.0.2.10" {
		t.Errorf("LookupGRUU(ms) = %+v, %v", b, ok)
	}
}

func TestRegisterGRUU(t *testing.T) {
	f := newFixture(t, nil)
	const inst = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
	m := register("bob").with(`Contact: <sip:bob@192.0.2.20:5070>;+sip.instance="<`+inst+`>"`, "Supported: gruu")
	res := f.send(m, "bob", "builder")
	wantStatus(t, res, 200)
	c := values(res, "Contact")[0]
	pub := between(c, `pub-gruu="`)
	temp := between(c, `temp-gruu="`)
	if pub != "sip:bob@parley.test;gr="+inst {
		t.Errorf("pub-gruu = %q", pub)
	}
	if !strings.HasPrefix(temp, "sip:tgruu.") || !strings.HasSuffix(temp, "@parley.test;gr") || strings.Contains(temp, "bob") {
		t.Errorf("temp-gruu = %q", temp)
	}
	if strings.Contains(c, `;gruu="`) {
		t.Errorf("Microsoft gruu without gruu-10: %q", c)
	}
	for _, g := range []string{pub, temp, "sip:bob@127.0.0.1;gr=urn:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6"} {
		if b, ok := f.r.LookupGRUU(g); !ok || b.Instance != inst {
			t.Errorf("LookupGRUU(%q) = %+v, %v", g, b, ok)
		}
	}

	// A refresh under the same Call-ID hands out a new temporary GRUU; the
	// old one keeps working.
	res = f.send(m, "bob", "builder")
	wantStatus(t, res, 200)
	temp2 := between(values(res, "Contact")[0], `temp-gruu="`)
	if temp2 == temp {
		t.Error("refresh returned the same temp-gruu")
	}
	for _, g := range []string{temp, temp2} {
		if _, ok := f.r.LookupGRUU(g); !ok {
			t.Errorf("temp-gruu %q stopped working after a refresh", g)
		}
	}
	// A new Call-ID (a new registration) retires both.
	m.callID = "call-bob-2"
	wantStatus(t, f.send(m, "bob", "builder"), 200)
	for _, g := range []string{temp, temp2} {
		if _, ok := f.r.LookupGRUU(g); ok {
			t.Errorf("temp-gruu %q still works under a new Call-ID", g)
		}
	}
	if _, ok := f.r.LookupGRUU(pub); !ok {
		t.Error("the pub-gruu stopped working")
	}
	for _, g := range []string{
		"sip:bob@parley.test;gr=urn:uuid:00000000-0000-0000-0000-000000000000",
		"sip:bob@parley.test",
		"sip:tgruu.aaaa@parley.test;gr",
		"sip:bob@elsewhere.org;gr=" + inst,
		"not a uri",
	} {
		if b, ok := f.r.LookupGRUU(g); ok {
			t.Errorf("LookupGRUU(%q) = %+v, want none", g, b)
		}
	}
}

func TestRegisterContacts(t *testing.T) {
	f := newFixture(t, nil)
	m := register("alice").with(
		"Contact: <sip:alice@192.0.2.10:5060>;expires=120;q=0.5",
		"Contact: <sip:alice@198.51.100.7:5060>, <sip:alice@203.0.113.9>;q=0.9")
	res := f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	want := []string{
		"<sip:alice@198.51.100.7:5060>;expires=3600",
		"<sip:alice@203.0.113.9>;expires=3600;q=0.9",
		"<sip:alice@192.0.2.10:5060>;expires=120;q=0.5",
	}
	if got := values(res, "Contact"); !equal(got, want) {
		t.Errorf("Contact =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := values(res, "Expires"); !equal(got, []string{"120"}) {
		t.Errorf("Expires = %q, want the first contact's 120", got)
	}

	// Expires header as the default, capped at MaxExpires.
	m2 := register("alice").with("Contact: <sip:alice@192.0.2.50>", "Expires: 100000")
	m2.callID = "other"
	res = f.send(m2, "alice", "wonderland")
	wantStatus(t, res, 200)
	if got := values(res, "Expires"); !equal(got, []string{"7200"}) {
		t.Errorf("capped Expires = %q, want 7200", got)
	}

	// Un-register one contact.
	m.headers = m.headers[:0]
	m.with("Contact: <sip:alice@192.0.2.10:5060>;expires=0")
	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	if got := values(res, "Contact"); len(got) != 3 || strings.Contains(strings.Join(got, ""), "192.0.2.10") {
		t.Errorf("after un-register: %q", got)
	}
	if got := values(res, "Expires"); !equal(got, []string{"0"}) {
		t.Errorf("Expires = %q, want 0", got)
	}

	// A query (no Contact) lists the bindings and changes nothing.
	m.headers = m.headers[:0]
	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	if got := values(res, "Contact"); len(got) != 3 || values(res, "Expires") != nil {
		t.Errorf("query: Contact %q, Expires %q", got, values(res, "Expires"))
	}

	// Too brief.
	m.with("Contact: <sip:alice@192.0.2.99>;expires=30")
	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 423)
	if got := values(res, "Min-Expires"); !equal(got, []string{"60"}) {
		t.Errorf("Min-Expires = %q", got)
	}

	// Contact: * needs Expires: 0 and no other contact.
	for _, hs := range [][]string{
		{"Contact: *"},
		{"Contact: *", "Expires: 10"},
		{"Contact: *, <sip:alice@192.0.2.1>", "Expires: 0"},
	} {
		m.headers = hs
		wantStatus(t, f.send(m, "alice", "wonderland"), 400)
	}
	if n := len(f.r.Lookup("sip:alice@parley.test")); n != 3 {
		t.Fatalf("bad requests changed bindings: %d left", n)
	}
	m.headers = []string{"Contact: *", "Expires: 0"}
	res = f.send(m, "alice", "wonderland")
	wantStatus(t, res, 200)
	if got := values(res, "Contact"); got != nil || f.r.Count() != 0 {
		t.Errorf("after *: Contact %q, Count %d", got, f.r.Count())
	}
}

func TestRegisterCSeqOrder(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	m := register("alice").with("Contact: <sip:alice@192.0.2.10>")
	m.cseq = 10
	wantStatus(t, f.serve(m.request(t)), 200)
	m.cseq = 9
	m.headers = []string{"Contact: <sip:alice@192.0.2.10>;expires=0"}
	wantStatus(t, f.serve(m.request(t)), 500)
	if len(f.r.Lookup("sip:alice@parley.test")) != 1 {
		t.Fatal("an out-of-order un-REGISTER removed the binding")
	}
	m.headers = []string{"Contact: *", "Expires: 0"}
	wantStatus(t, f.serve(m.request(t)), 500)
	// Another Call-ID may do anything.
	m.callID = "elsewhere"
	wantStatus(t, f.serve(m.request(t)), 200)
	if f.r.Count() != 0 {
		t.Error("binding left")
	}
}

func TestRegisterLimit(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false; c.MaxBindingsPerAOR = 3 })
	for i := range 3 {
		m := register("alice").with(fmt.Sprintf("Contact: <sip:alice@192.0.2.%d>;expires=%d", i+1, 100+i))
		m.callID = fmt.Sprint("c", i)
		wantStatus(t, f.serve(m.request(t)), 200)
	}
	m := register("alice").with("Contact: <sip:alice@192.0.2.9>")
	res := f.serve(m.request(t))
	wantStatus(t, res, 200)
	got := values(res, "Contact")
	if len(got) != 3 || strings.Contains(strings.Join(got, ""), "192.0.2.1>") {
		t.Errorf("after the 4th contact: %q; want the soonest-expiring one evicted", got)
	}
	m = register("alice").with("Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>, <sip:a@192.0.2.3>, <sip:a@192.0.2.4>")
	wantStatus(t, f.serve(m.request(t)), 403)
}

func TestRegisterRejects(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	tests := []struct {
		name    string
		m       *msg
		code    int
		warning string
	}{
		{"foreign domain", &msg{to: "<sip:alice@elsewhere.org>", from: "<sip:alice@elsewhere.org>;tag=1", callID: "x", via: "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa", cseq: 1}, 404, "not an address of this domain"},
		{"unknown user", register("nobody").with("Contact: <sip:n@192.0.2.1>"), 404, "no such user"},
		{"disabled user", register("mallory").with("Contact: <sip:m@192.0.2.1>"), 403, "disabled"},
		{"tel contact", register("alice").with("Contact: <tel:+14255550100>"), 400, "sip: and sips:"},
		{"bad q", register("alice").with("Contact: <sip:a@192.0.2.1>;q=2"), 400, "qvalue"},
		{"quote in instance", register("alice").with(`Contact: <sip:a@192.0.2.1>;+sip.instance="<urn:a\"b>"`), 400, "instance"},
		{"required extension", register("alice").with("Require: outbound"), 420, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.serve(tt.m.request(t))
			wantStatus(t, res, tt.code)
			if w := strings.Join(values(res, "Warning"), ""); !strings.Contains(w, tt.warning) || (tt.warning != "" && !strings.HasPrefix(w, "399 fe.parley.test ")) {
				t.Errorf("Warning = %q, want it to mention %q", w, tt.warning)
			}
		})
	}
	if got := values(f.serve(register("alice").with("Require: outbound, gruu").request(t)), "Unsupported"); !equal(got, []string{"outbound"}) {
		t.Errorf("Unsupported = %q", got)
	}
}

func TestRegisterOtherUsersAOR(t *testing.T) {
	f := newFixture(t, nil)
	m := register("alice").with("Contact: <sip:bob@192.0.2.66>")
	m.to = "<sip:bob@parley.test>"
	wantStatus(t, f.send(m, "alice", "wonderland"), 403)
	if f.r.Count() != 0 {
		t.Error("alice registered bob")
	}
}

func TestParseInstance(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"`, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", true},
		{`<urn:x>`, "urn:x", true},
		{`urn:x`, "urn:x", true},
		{`"<>"`, "", false},
		{"\"<urn:a\r\nVia: x>\"", "", false},
		{`"<urn:a"b>"`, "", false},
		{`"<urn:a\b>"`, "", false},
		{`"<urn:a b>"`, "", false},
		{`"<` + strings.Repeat("a", 300) + `>"`, "", false},
	}
	for _, tt := range tests {
		got, err := parseInstance(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseInstance(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestEPID(t *testing.T) {
	// The pair OCS 2007 R2 returned in the trace of protocols.md §1.8.
	if got, want := epid("urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d"), "21nYNIVlkV-jtN6FPBU0fQAA"; got != want {
		t.Errorf("epid = %s, want %s", got, want)
	}
	if a, b := epid("urn:foo:1"), epid("urn:foo:1"); a != b || len(a) != 24 {
		t.Errorf("epid of a non-UUID instance is not stable or not 24 characters: %s %s", a, b)
	}
}

func TestEscapeParam(t *testing.T) {
	for _, s := range []string{"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "urn:x;y=z?w#%", "ü"} {
		e := escapeParam(s)
		if strings.ContainsAny(e, ";?#= \"") {
			t.Errorf("escapeParam(%q) = %q still holds a delimiter", s, e)
		}
		if got := unescapeParam(e); got != s {
			t.Errorf("unescapeParam(escapeParam(%q)) = %q", s, got)
		}
	}
}

func TestMayRegister(t *testing.T) {
	for _, tt := range []struct {
		user string
		ok   bool
	}{{"alice", true}, {"Alice", true}, {"alice@parley.test", true}, {"bob", false}, {"alice@elsewhere", false}, {"", false}} {
		if got := mayRegister(tt.user, "sip:alice@parley.test"); got != tt.ok {
			t.Errorf("mayRegister(%q) = %v", tt.user, got)
		}
	}
}

// TestRegisterRetransmission sends a REGISTER twice, as a client whose
// response was lost does (RFC 3261 §17.1.2.2): the second must get the
// same answer, though RFC 3261 §10.3 step 7 fails a request whose CSeq is
// not higher than the binding's, and must change nothing. A different
// request reusing the CSeq still fails.
func TestRegisterRetransmission(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	m := register("alice").with("Contact: <sip:alice@192.0.2.10>;expires=600")
	first := f.r.Register(context.Background(), m.request(t))
	wantStatus(t, first, 200)
	before := f.r.Lookup("sip:alice@parley.test")

	f.clk.Advance(2 * time.Second)
	again := f.r.Register(context.Background(), m.request(t))
	wantStatus(t, again, 200)
	if got, want := again.To().Params.GetOr("tag", ""), first.To().Params.GetOr("tag", ""); got != want || got == "" {
		t.Errorf("To tag of the retransmission %q, want the first answer's %q", got, want)
	}
	if got, want := values(again, "Contact"), []string{"<sip:alice@192.0.2.10>;expires=598"}; !equal(got, want) {
		t.Errorf("Contact = %q, want %q", got, want)
	}
	after := f.r.Lookup("sip:alice@parley.test")
	if len(after) != 1 || !after[0].Expires.Equal(before[0].Expires) {
		t.Errorf("the retransmission changed the binding: %+v, was %+v", after, before)
	}

	// Same Call-ID and CSeq from another transaction: out of order.
	m.via = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKother"
	wantStatus(t, f.r.Register(context.Background(), m.request(t)), 500)
	// Without an RFC 3261 branch nothing tells a retransmission apart.
	m.via = "SIP/2.0/UDP 192.0.2.10:5060;branch=old"
	m.cseq = 2
	wantStatus(t, f.r.Register(context.Background(), m.request(t)), 200)
	wantStatus(t, f.r.Register(context.Background(), m.request(t)), 500)
}

// TestResponseHeaders checks what every response copies from the request
// and adds to it (RFC 3261 §8.2.6.2, §18.2.1, RFC 3581 §4).
func TestResponseHeaders(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	m := register("bob").with("Contact: <sip:bob@192.0.2.20:5070>")
	m.via = "SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKrp;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinner"
	req := m.request(t)
	req.SetSource("203.0.113.5:40000")
	req.SetTransport("UDP")
	res := f.r.Register(context.Background(), req)
	wantStatus(t, res, 200)
	want := []string{
		"SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKrp;rport=40000;received=203.0.113.5",
		"SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinner",
	}
	if got := values(res, "Via"); !equal(got, want) {
		t.Errorf("Via = %q, want %q", got, want)
	}
	if got := values(res, "Content-Length"); !equal(got, []string{"0"}) {
		t.Errorf("Content-Length = %q, want 0", got)
	}
	if res.Destination() != "203.0.113.5:40000" {
		t.Errorf("destination %q, want the source with rport", res.Destination())
	}
	tag, ok := res.To().Params.Get("tag")
	if !ok || len(tag) != 16 {
		t.Errorf("To tag %q, want 16 hex digits", tag)
	}
	if req.To().Params.Has("tag") {
		t.Error("building the response added a tag to the request's To")
	}
	if got := res.From().Params.GetOr("tag", ""); got != "abc123" {
		t.Errorf("From tag %q", got)
	}

	// Without rport: to the source address and the Via port.
	m.via = "SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKnorport"
	m.cseq = 2
	req = m.request(t)
	req.SetSource("203.0.113.5:40000")
	req.SetTransport("UDP")
	res = f.r.Register(context.Background(), req)
	if res.Destination() != "203.0.113.5:5070" {
		t.Errorf("destination %q, want 203.0.113.5:5070", res.Destination())
	}
	if got, want := values(res, "Via"), []string{"SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKnorport;received=203.0.113.5"}; !equal(got, want) {
		t.Errorf("Via = %q, want %q", got, want)
	}
	if tag2 := res.To().Params.GetOr("tag", ""); tag2 == tag {
		t.Error("two requests got the same To tag")
	}
}
