package digest

import (
	"context"
	"crypto/md5" //nolint:gosec // test vectors
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

const (
	testRealm    = "parley.test"
	testUser     = "alice"
	testPassword = "wonderland"
)

// fakeClock is a settable clock.
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

// md5hex and sha256hex are the test's own, independent digest helpers.
func md5hex(s string) string    { return fmt.Sprintf("%x", md5.Sum([]byte(s))) } //nolint:gosec // test
func sha256hex(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

func hx(alg, s string) string {
	if alg == SHA256 {
		return sha256hex(s)
	}
	return md5hex(s)
}

// store is a Credentials map of username to password.
type store struct {
	passwords map[string]string
	err       error
	calls     int
	mu        sync.Mutex
}

func (s *store) HA1(_ context.Context, username, realm, alg string) (string, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	pw, ok := s.passwords[username]
	if !ok {
		return "", ErrUnknownUser
	}
	return hx(alg, username+":"+realm+":"+pw), nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestAuth(t *testing.T, clk *fakeClock, mod func(*Config)) (*Authenticator, *store) {
	t.Helper()
	st := &store{passwords: map[string]string{testUser: testPassword, "bob": "builder"}}
	cfg := Config{Realm: testRealm, Secret: []byte("0123456789abcdef0123456789abcdef"), Now: clk.Now,
		Algorithms: []string{SHA256, MD5}}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg, st, discard())
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// request parses a REGISTER carrying the given extra header lines.
func request(tb testing.TB, method string, extra ...string) *sip.Request {
	tb.Helper()
	lines := []string{
		method + " sip:parley.test SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
		"Max-Forwards: 70",
		"To: <sip:alice@parley.test>",
		"From: <sip:alice@parley.test>;tag=1928301774",
		"Call-ID: a84b4c76e66710@pc33.parley.test",
		"CSeq: 2 " + method,
	}
	lines = append(lines, extra...)
	lines = append(lines, "Content-Length: 0", "", "")
	msg, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return msg.(*sip.Request)
}

// challengeNonce extracts the nonce of the first challenge, and reports
// whether it was marked stale.
func challengeNonce(t *testing.T, res *sip.Response, kind Kind) (nonce string, stale bool) {
	t.Helper()
	hs := res.GetHeaders(kind.challengeHeader())
	if len(hs) != 2 {
		t.Fatalf("%d %s headers, want 2: %v", len(hs), kind.challengeHeader(), res)
	}
	v := hs[0].Value()
	i := strings.Index(v, `nonce="`)
	if i < 0 {
		t.Fatalf("no nonce in %q", v)
	}
	rest := v[i+len(`nonce="`):]
	return rest[:strings.IndexByte(rest, '"')], strings.Contains(v, "stale=true")
}

// answer is an independent computation of a qop=auth answer.
type answer struct {
	alg, user, password, nonce, uri, method, nc, cnonce string
	noQOP                                               bool
	realm                                               string
}

func (a answer) header(kind Kind) string {
	realm := a.realm
	if realm == "" {
		realm = testRealm
	}
	ha1 := hx(a.alg, a.user+":"+realm+":"+a.password)
	ha2 := hx(a.alg, a.method+":"+a.uri)
	algParam := ""
	if a.alg == SHA256 {
		algParam = ", algorithm=SHA-256"
	}
	if a.noQOP {
		resp := hx(a.alg, ha1+":"+a.nonce+":"+ha2)
		return fmt.Sprintf(`%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"%s`,
			kind.CredentialsHeader(), a.user, realm, a.nonce, a.uri, resp, algParam)
	}
	resp := hx(a.alg, ha1+":"+a.nonce+":"+a.nc+":"+a.cnonce+":auth:"+ha2)
	return fmt.Sprintf(`%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, nc=%s, cnonce="%s", response="%s"%s`,
		kind.CredentialsHeader(), a.user, realm, a.nonce, a.uri, a.nc, a.cnonce, resp, algParam)
}

func TestResponseRFCVectors(t *testing.T) {
	// RFC 2617 §3.5 and RFC 7616 §3.9.1 examples.
	tests := []struct {
		name, alg, user, realm, pw string
		c                          credentials
		method, want               string
	}{
		{"RFC 2617", MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
			credentials{nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", uri: "/dir/index.html", qop: "auth", nc: "00000001", cnonce: "0a4f113b"},
			"GET", "6629fae49393a05397450978507c4ef1"},
		{"RFC 7616 MD5", MD5, "Mufasa", "http-auth@example.org", "Circle of Life",
			credentials{nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri: "/dir/index.html", qop: "auth", nc: "00000001", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"},
			"GET", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 SHA-256", SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
			credentials{nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri: "/dir/index.html", qop: "auth", nc: "00000001", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"},
			"GET", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha1 := hx(tt.alg, tt.user+":"+tt.realm+":"+tt.pw)
			if got := response(tt.alg, ha1, tt.c, tt.method); got != tt.want {
				t.Errorf("response = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAuthenticateSuccess(t *testing.T) {
	for _, kind := range []Kind{WWW, Proxy} {
		for _, alg := range []string{MD5, SHA256} {
			for _, noQOP := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%s/noqop=%v", kind, alg, noQOP), func(t *testing.T) {
					clk := newClock()
					a, _ := newTestAuth(t, clk, nil)
					user, res := a.Authenticate(context.Background(), request(t, "REGISTER"), kind, "192.0.2.10:5060")
					if user != "" || res == nil {
						t.Fatalf("no credentials: got user %q, response %v", user, res)
					}
					code, _ := kind.status()
					if res.StatusCode != code {
						t.Fatalf("status %d, want %d", res.StatusCode, code)
					}
					hs := res.GetHeaders(kind.challengeHeader())
					if len(hs) != 2 || !strings.Contains(hs[0].Value(), "algorithm=SHA-256") || !strings.Contains(hs[1].Value(), "algorithm=MD5") {
						t.Fatalf("challenges %v, want SHA-256 then MD5", hs)
					}
					if !strings.Contains(hs[0].Value(), `qop="auth"`) || !strings.Contains(hs[0].Value(), `realm="parley.test"`) {
						t.Fatalf("challenge %q lacks qop or realm", hs[0].Value())
					}
					nonce, stale := challengeNonce(t, res, kind)
					if stale {
						t.Fatal("first challenge is stale")
					}
					// SIPE's quirk: the digest uri is the literal "(null)".
					ans := answer{alg: alg, user: testUser, password: testPassword, nonce: nonce, uri: "(null)",
						method: "REGISTER", nc: "00000001", cnonce: "0a4f113b", noQOP: noQOP}
					user, res = a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(kind)), kind, "192.0.2.10:5060")
					if res != nil || user != testUser {
						t.Fatalf("got user %q, response %v; want %q", user, res, testUser)
					}
				})
			}
		}
	}
}

func TestAuthenticateNonceCount(t *testing.T) {
	clk := newClock()
	a, _ := newTestAuth(t, clk, nil)
	_, res := a.Authenticate(context.Background(), request(t, "REGISTER"), WWW, "192.0.2.10")
	nonce, _ := challengeNonce(t, res, WWW)
	ans := answer{alg: MD5, user: testUser, password: testPassword, nonce: nonce, uri: "sip:parley.test", method: "REGISTER", cnonce: "c"}
	steps := []struct {
		nc     string
		ok     bool
		detail string
	}{
		{"00000001", true, "first use"},
		{"00000001", false, "same nc replayed"},
		{"00000003", true, "nc may skip"},
		{"00000002", false, "nc went back"},
		{"00000004", true, "nc increases"},
	}
	for _, s := range steps {
		ans.nc = s.nc
		user, res := a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(WWW)), WWW, "192.0.2.10")
		if (res == nil) != s.ok {
			t.Fatalf("%s (nc=%s): got user %q response %v, want ok=%v", s.detail, s.nc, user, res, s.ok)
		}
		if !s.ok {
			if _, stale := challengeNonce(t, res, WWW); !stale {
				t.Errorf("%s: replay challenge not stale", s.detail)
			}
		}
	}

	// A qop-less answer is good exactly once.
	_, res = a.Authenticate(context.Background(), request(t, "REGISTER"), WWW, "192.0.2.10")
	nonce, _ = challengeNonce(t, res, WWW)
	legacy := answer{alg: MD5, user: testUser, password: testPassword, nonce: nonce, uri: "sip:parley.test", method: "REGISTER", noQOP: true}
	if _, res := a.Authenticate(context.Background(), request(t, "REGISTER", legacy.header(WWW)), WWW, "192.0.2.10"); res != nil {
		t.Fatalf("first qop-less use refused: %v", res)
	}
	if _, res := a.Authenticate(context.Background(), request(t, "REGISTER", legacy.header(WWW)), WWW, "192.0.2.10"); res == nil {
		t.Fatal("second qop-less use accepted")
	}
	legacy.noQOP, legacy.nc, legacy.cnonce = false, "00000001", "x"
	if _, res := a.Authenticate(context.Background(), request(t, "REGISTER", legacy.header(WWW)), WWW, "192.0.2.10"); res == nil {
		t.Fatal("qop use of a spent qop-less nonce accepted")
	}
}

func TestAuthenticateStaleNonce(t *testing.T) {
	clk := newClock()
	a, _ := newTestAuth(t, clk, nil)
	_, res := a.Authenticate(context.Background(), request(t, "REGISTER"), Proxy, "192.0.2.10")
	nonce, _ := challengeNonce(t, res, Proxy)
	clk.Advance(5*time.Minute + time.Second)
	ans := answer{alg: MD5, user: testUser, password: testPassword, nonce: nonce, uri: "(null)", method: "REGISTER", nc: "00000001", cnonce: "abc"}
	user, res := a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(Proxy)), Proxy, "192.0.2.10")
	if res == nil || res.StatusCode != 407 {
		t.Fatalf("expired nonce: got user %q, response %v; want 407", user, res)
	}
	fresh, stale := challengeNonce(t, res, Proxy)
	if !stale || fresh == nonce {
		t.Fatalf("stale=%v, fresh nonce %v; want stale=true and a new nonce", stale, fresh != nonce)
	}
	// An expired nonce with a wrong password is a failure, not stale.
	ans.password = "guess"
	_, res = a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(Proxy)), Proxy, "192.0.2.10")
	if _, stale := challengeNonce(t, res, Proxy); stale {
		t.Error("wrong password with an expired nonce got stale=true")
	}
	// A nonce we did not mint, with a correct digest, is stale too.
	ans.password, ans.nonce = testPassword, "bm90LW91ci1ub25jZQ"
	_, res = a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(Proxy)), Proxy, "192.0.2.10")
	if _, stale := challengeNonce(t, res, Proxy); !stale {
		t.Error("foreign nonce with a correct digest: want stale=true")
	}
	// The fresh nonce works.
	ans.nonce = fresh
	if user, res := a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(Proxy)), Proxy, "192.0.2.10"); res != nil || user != testUser {
		t.Fatalf("fresh nonce: got %q, %v", user, res)
	}
}

func TestAuthenticateWrongPasswordAndThrottle(t *testing.T) {
	clk := newClock()
	a, st := newTestAuth(t, clk, func(c *Config) { c.MaxFailures = 3; c.Window = time.Minute })
	try := func(user, pw, source string) *sip.Response {
		t.Helper()
		_, res := a.Authenticate(context.Background(), request(t, "REGISTER"), WWW, source)
		if res.StatusCode != 401 {
			return res
		}
		nonce, _ := challengeNonce(t, res, WWW)
		ans := answer{alg: SHA256, user: user, password: pw, nonce: nonce, uri: "sip:parley.test", method: "REGISTER", nc: "00000001", cnonce: "1"}
		_, res = a.Authenticate(context.Background(), request(t, "REGISTER", ans.header(WWW)), WWW, source)
		return res
	}
	for i := range 3 {
		res := try(testUser, "guess", fmt.Sprintf("198.51.100.%d:5060", i+1))
		if res == nil || res.StatusCode != 401 {
			t.Fatalf("wrong password %d: %v, want 401", i, res)
		}
	}
	// The user is now locked, even with the right password from a new place.
	calls := st.calls
	res := try(testUser, testPassword, "198.51.100.99:5060")
	if res == nil || res.StatusCode != 403 {
		t.Fatalf("throttled user: %v, want 403", res)
	}
	if st.calls != calls {
		t.Error("a throttled user's HA1 was looked up")
	}
	// Other users are not affected.
	if res := try("bob", "builder", "198.51.100.99:5060"); res != nil {
		t.Fatalf("bob: %v", res)
	}
	clk.Advance(time.Minute)
	if res := try(testUser, testPassword, "198.51.100.99:5060"); res != nil {
		t.Fatalf("after the window: %v", res)
	}

	// Per source: unknown users from one address.
	for i := range 3 {
		if res := try(fmt.Sprintf("nobody%d", i), "x", "203.0.113.7:5070"); res == nil || res.StatusCode != 401 {
			t.Fatalf("unknown user %d: %v, want 401", i, res)
		}
	}
	res = try("bob", "builder", "203.0.113.7:5999")
	if res == nil || res.StatusCode != 503 {
		t.Fatalf("throttled source: %v, want 503", res)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "60" {
		t.Errorf("Retry-After = %v, want 60", ra)
	}
}

func TestAuthenticateOther(t *testing.T) {
	clk := newClock()
	a, st := newTestAuth(t, clk, func(c *Config) { c.MatchFrom = true })
	_, res := a.Authenticate(context.Background(), request(t, "INVITE"), Proxy, "192.0.2.1")
	nonce, _ := challengeNonce(t, res, Proxy)

	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"other realm is ignored", answer{alg: MD5, user: testUser, password: testPassword, nonce: nonce, uri: "x", method: "INVITE", nc: "00000001", cnonce: "c", realm: "elsewhere"}.header(Proxy), 407},
		{"NTLM is ignored", `Proxy-Authorization: NTLM qop="auth", realm="SIP Communications Service", gssapi-data=""`, 407},
		{"malformed", `Proxy-Authorization: Digest username="alice", realm="parley.test", nonce=`, 400},
		{"no uri", `Proxy-Authorization: Digest username="alice", realm="parley.test", nonce="n", response="00"`, 400},
		{"bad nc", `Proxy-Authorization: Digest username="alice", realm="parley.test", nonce="n", uri="x", qop=auth, nc=1, cnonce="c", response="00"`, 400},
		{"unsupported algorithm", `Proxy-Authorization: Digest username="alice", realm="parley.test", nonce="n", uri="x", algorithm=SHA-512-256, response="00"`, 407},
		{"auth-int", `Proxy-Authorization: Digest username="alice", realm="parley.test", nonce="n", uri="x", qop=auth-int, nc=00000001, cnonce="c", response="00"`, 407},
		{"From mismatch", answer{alg: MD5, user: "bob", password: "builder", nonce: nonce, uri: "x", method: "INVITE", nc: "00000001", cnonce: "c"}.header(Proxy), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := a.Authenticate(context.Background(), request(t, "INVITE", tt.header), Proxy, "192.0.2.1")
			if res == nil || res.StatusCode != tt.want {
				t.Fatalf("got %v, want %d", res, tt.want)
			}
		})
	}

	st.err = errors.New("database down")
	ans := answer{alg: MD5, user: testUser, password: testPassword, nonce: nonce, uri: "x", method: "INVITE", nc: "00000002", cnonce: "c"}
	_, res = a.Authenticate(context.Background(), request(t, "INVITE", ans.header(Proxy)), Proxy, "192.0.2.1")
	if res == nil || res.StatusCode != 500 {
		t.Fatalf("store failure: %v, want 500", res)
	}
}

func TestNewValidates(t *testing.T) {
	st := &store{}
	for _, cfg := range []Config{
		{Realm: "", Secret: make([]byte, 16)},
		{Realm: `a"b`, Secret: make([]byte, 16)},
		{Realm: "parley.test", Secret: make([]byte, 15)},
	} {
		if _, err := New(cfg, st, discard()); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) error = %v, want ErrConfig", cfg, err)
		}
	}
}

// TestNoSecretsLogged checks that failed and successful attempts never put
// the password, the HA1 or the response into the log.
func TestNoSecretsLogged(t *testing.T) {
	var buf strings.Builder
	clk := newClock()
	st := &store{passwords: map[string]string{testUser: testPassword}}
	a, err := New(Config{Realm: testRealm, Secret: make([]byte, 32), Now: clk.Now, Algorithms: []string{SHA256, MD5}}, st,
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	_, res := a.Authenticate(context.Background(), request(t, "REGISTER"), WWW, "192.0.2.1")
	nonce, _ := challengeNonce(t, res, WWW)
	var secrets []string
	for _, pw := range []string{"guess", testPassword, testPassword} {
		ans := answer{alg: MD5, user: testUser, password: pw, nonce: nonce, uri: "u", method: "REGISTER", nc: "00000001", cnonce: "c"}
		h := ans.header(WWW)
		secrets = append(secrets, pw, md5hex(testUser+":"+testRealm+":"+pw), h[strings.Index(h, `response="`)+10:][:32])
		a.Authenticate(context.Background(), request(t, "REGISTER", h), WWW, "192.0.2.1")
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log contains secret %q:\n%s", s, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "authentication failed") {
		t.Errorf("log lacks the failure:\n%s", buf.String())
	}
}

// TestDefaultAlgorithms checks that only MD5 is offered unless SHA-256 is
// asked for (deployed clients give up on a SHA-256 challenge), that a
// SHA-256 answer is still verified, and that unknown algorithms are refused.
func TestDefaultAlgorithms(t *testing.T) {
	clk := newClock()
	st := &store{passwords: map[string]string{testUser: testPassword}}
	a, err := New(Config{Realm: testRealm, Secret: make([]byte, 32), Now: clk.Now}, st, discard())
	if err != nil {
		t.Fatal(err)
	}
	_, res := a.Authenticate(context.Background(), request(t, "REGISTER"), WWW, "192.0.2.10:5060")
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), "algorithm=MD5") {
		t.Fatalf("default challenges %v; want MD5 only", hs)
	}
	for _, bad := range [][]string{{"SHA-512"}, {""}, {MD5, "md4"}} {
		if _, err := New(Config{Realm: testRealm, Secret: make([]byte, 32), Algorithms: bad}, st, discard()); !errors.Is(err, ErrConfig) {
			t.Errorf("New with Algorithms %q = %v; want ErrConfig", bad, err)
		}
	}
}
