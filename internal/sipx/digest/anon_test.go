package digest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The anonymous join of [MS-SIPAE] §4.5: realm the organizer's address,
// the anonymous From user as username, the conference key as password.
const (
	keyRealm = "bob@contoso.com"
	keyUser  = "6551156d569c4b7d945f310ff10943c5"
	confKey  = "K3y-0f-the-m33ting"
)

var testKey = KeyCheck{Realm: keyRealm, Username: keyUser, Password: confKey}

// sessAnswer is the test's own computation of an MD5-sess answer
// (RFC 7616 §3.4.2), independent of the package's.
type sessAnswer struct {
	user, realm, password, nonce, uri, method, nc, cnonce string
	alg                                                   string // default MD5-sess
	qop                                                   string // default auth
}

func (s sessAnswer) response() string {
	ha1 := md5hex(md5hex(s.user+":"+s.realm+":"+s.password) + ":" + s.nonce + ":" + s.cnonce)
	return md5hex(ha1 + ":" + s.nonce + ":" + s.nc + ":" + s.cnonce + ":auth:" + md5hex(s.method+":"+s.uri))
}

func (s sessAnswer) header() string {
	alg, qop := s.alg, s.qop
	if alg == "" {
		alg = MD5Sess
	}
	if qop == "" {
		qop = "auth"
	}
	return fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=%s, nc=%s, cnonce="%s", opaque="0C1D4536", response="%s"`,
		s.user, s.realm, s.nonce, s.uri, alg, qop, s.nc, s.cnonce, s.response())
}

// keyChallengeOf reads the nonce of a key challenge and checks its form.
func keyChallengeOf(t *testing.T, res *sip.Response) (nonce string, stale bool) {
	t.Helper()
	return keyChallengeIn(t, res, keyRealm)
}

// keyChallengeIn is keyChallengeOf for a challenge in realm.
func keyChallengeIn(t *testing.T, res *sip.Response, realm string) (nonce string, stale bool) {
	t.Helper()
	if res == nil || res.StatusCode != 401 {
		t.Fatalf("got %v, want a 401 challenge", res)
	}
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 1 {
		t.Fatalf("%d WWW-Authenticate headers, want 1", len(hs))
	}
	c, err := parseCredentials(hs[0].Value()) // a challenge has the same syntax
	if err != nil {
		t.Fatalf("challenge %q: %v", hs[0].Value(), err)
	}
	if c.realm != realm || c.algorithm != MD5Sess || c.qop != "auth" || c.nonce == "" {
		t.Errorf("challenge %q: want realm %q, algorithm=MD5-sess, qop=\"auth\"", hs[0].Value(), realm)
	}
	if !strings.Contains(hs[0].Value(), `opaque="`) {
		t.Errorf("challenge %q has no opaque", hs[0].Value())
	}
	return c.nonce, strings.Contains(hs[0].Value(), "stale=true")
}

// TestSessHA1DraftVector checks MD5-sess against the SIP example of
// draft-smith-sipping-auth-examples-01 §3.4 (bob/zanzibar).
func TestSessHA1DraftVector(t *testing.T) {
	c := credentials{nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", uri: "sip:bob@biloxi.com", qop: "auth", nc: "00000001", cnonce: "0a4f113b"}
	got := response(MD5, sessHA1("bob", "biloxi.com", "zanzibar", c.nonce, c.cnonce), c, "INVITE")
	if want := "e4e4ea61d186d07a92c9e1f6919902e9"; got != want {
		t.Errorf("MD5-sess response = %s, want %s", got, want)
	}
	indep := sessAnswer{user: "bob", realm: "biloxi.com", password: "zanzibar", nonce: c.nonce, uri: c.uri, method: "INVITE", nc: c.nc, cnonce: c.cnonce}
	if indep.response() != got {
		t.Errorf("the test's own MD5-sess = %s, the package's %s", indep.response(), got)
	}
}

func TestAuthenticateKey(t *testing.T) {
	clk := newClock()
	a, st := newTestAuth(t, clk, nil)
	ctx := context.Background()
	challenge := func(t *testing.T) string {
		t.Helper()
		nonce, stale := keyChallengeOf(t, a.AuthenticateKey(ctx, request(t, "INVITE"), testKey, "192.0.2.1"))
		if stale {
			t.Error("a first challenge is stale")
		}
		return nonce
	}
	right := func(nonce, nc string) sessAnswer {
		return sessAnswer{user: keyUser, realm: keyRealm, password: confKey, nonce: nonce, uri: "sip:bob@contoso.com", method: "INVITE", nc: nc, cnonce: "c1"}
	}

	t.Run("right key", func(t *testing.T) {
		nonce := challenge(t)
		if res := a.AuthenticateKey(ctx, request(t, "INVITE", right(nonce, "00000001").header()), testKey, "192.0.2.1"); res != nil {
			t.Fatalf("right key: %v", res)
		}
		// The next request on the same nonce counts up.
		sub := right(nonce, "00000002")
		sub.method = "SUBSCRIBE"
		if res := a.AuthenticateKey(ctx, request(t, "SUBSCRIBE", sub.header()), testKey, "192.0.2.1"); res != nil {
			t.Fatalf("nc 2: %v", res)
		}
		// A replay of either is refused with a fresh nonce.
		for _, nc := range []string{"00000001", "00000002"} {
			_, stale := keyChallengeOf(t, a.AuthenticateKey(ctx, request(t, "INVITE", right(nonce, nc).header()), testKey, "192.0.2.1"))
			if !stale {
				t.Errorf("replay of nc %s: not stale", nc)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		nonce := challenge(t)
		other := testKey
		other.Realm = "carol@contoso.com"
		otherNonce, _ := keyChallengeIn(t, a.AuthenticateKey(ctx, request(t, "INVITE"), other, "192.0.2.1"), other.Realm)
		// Another meeting of the same organizer: same realm, another key.
		sibling := testKey
		sibling.Scope = "sip:bob@contoso.com;gruu;opaque=app:conf:focus:id:OTHER001"
		siblingNonce, _ := keyChallengeOf(t, a.AuthenticateKey(ctx, request(t, "INVITE"), sibling, "192.0.2.1"))
		mod := func(f func(*sessAnswer)) string {
			s := right(nonce, "00000001")
			f(&s)
			return s.header()
		}
		tests := []struct {
			name   string
			header string
			want   int
			stale  bool
		}{
			{"no credentials", "", 401, false},
			{"wrong key", mod(func(s *sessAnswer) { s.password = "guess" }), 401, false},
			{"another realm's credentials are ignored", mod(func(s *sessAnswer) { s.realm = "alice@contoso.com" }), 401, false},
			{"plain MD5 was not offered", mod(func(s *sessAnswer) { s.alg = MD5 }), 401, false},
			{"auth-int was not offered", mod(func(s *sessAnswer) { s.qop = "auth-int" }), 401, false},
			{"not the From user", mod(func(s *sessAnswer) { s.user = "someoneelse" }), 403, false},
			{"nonce of another organizer's meeting", mod(func(s *sessAnswer) { s.nonce = otherNonce }), 401, true},
			{"nonce of another meeting of the organizer", mod(func(s *sessAnswer) { s.nonce = siblingNonce }), 401, true},
			{"nonce we never issued", mod(func(s *sessAnswer) { s.nonce = "made-up" }), 401, true},
			{"malformed", `Authorization: Digest username="x", realm="` + keyRealm + `", nonce=`, 400, false},
			{"no cnonce", fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="u", algorithm=MD5-sess, qop=auth, nc=00000001, response="00"`, keyUser, keyRealm, nonce), 400, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var extra []string
				if tt.header != "" {
					extra = append(extra, tt.header)
				}
				res := a.AuthenticateKey(ctx, request(t, "INVITE", extra...), testKey, "198.51.100.1")
				if res == nil || res.StatusCode != tt.want {
					t.Fatalf("got %v, want %d", res, tt.want)
				}
				if tt.want == 401 {
					if _, stale := keyChallengeOf(t, res); stale != tt.stale {
						t.Errorf("stale = %v, want %v", stale, tt.stale)
					}
				}
			})
		}
	})

	t.Run("expired nonce", func(t *testing.T) {
		nonce := challenge(t)
		clk.Advance(6 * time.Minute)
		_, stale := keyChallengeOf(t, a.AuthenticateKey(ctx, request(t, "INVITE", right(nonce, "00000001").header()), testKey, "192.0.2.1"))
		if !stale {
			t.Error("an expired nonce is not stale")
		}
	})

	t.Run("unusable check", func(t *testing.T) {
		for _, k := range []KeyCheck{{Realm: keyRealm, Username: keyUser}, {Realm: "a\r\nb", Username: keyUser, Password: "k"}, {Username: keyUser, Password: "k"}} {
			if res := a.AuthenticateKey(ctx, request(t, "INVITE"), k, "192.0.2.1"); res == nil || res.StatusCode != 500 {
				t.Errorf("%v: got %v, want 500", k, res)
			}
		}
	})
	if st.calls != 0 {
		t.Errorf("the key check looked up %d user credentials", st.calls)
	}
}

// TestAuthenticateKeyThrottle: wrong keys count against the meeting (403
// for everybody once it has seen too many) and the source (503, for every
// kind of digest), not against other meetings or sources.
func TestAuthenticateKeyThrottle(t *testing.T) {
	clk := newClock()
	a, _ := newTestAuth(t, clk, func(c *Config) { c.MaxFailures = 3; c.Window = time.Minute })
	ctx := context.Background()
	try := func(k KeyCheck, password, source string) *sip.Response {
		t.Helper()
		res := a.AuthenticateKey(ctx, request(t, "INVITE"), k, source)
		if res == nil || res.StatusCode != 401 {
			return res
		}
		nonce, _ := keyChallengeIn(t, res, k.Realm)
		ans := sessAnswer{user: k.Username, realm: k.Realm, password: password, nonce: nonce, uri: "sip:x", method: "INVITE", nc: "00000001", cnonce: "c"}
		return a.AuthenticateKey(ctx, request(t, "INVITE", ans.header()), k, source)
	}
	for i := range 3 {
		if res := try(testKey, "guess", fmt.Sprintf("198.51.100.%d", i+1)); res == nil || res.StatusCode != 401 {
			t.Fatalf("wrong key %d: %v, want 401", i, res)
		}
	}
	res := try(testKey, confKey, "198.51.100.99")
	if res == nil || res.StatusCode != 403 || !strings.Contains(res.GetHeader("Warning").Value(), "too many wrong conference keys") {
		t.Fatalf("throttled meeting, right key: %v, want 403", res)
	}
	// Another meeting of the same organizer has its own count.
	other := KeyCheck{Realm: keyRealm, Username: keyUser, Password: "other key", Scope: "sip:bob@contoso.com;gruu;opaque=app:conf:focus:id:OTHER001"}
	if res := try(other, "other key", "198.51.100.99"); res != nil {
		t.Fatalf("another meeting: %v", res)
	}
	clk.Advance(time.Minute)
	if res := try(testKey, confKey, "198.51.100.99"); res != nil {
		t.Fatalf("after the window: %v", res)
	}

	// One source guessing at several meetings.
	for i := range 3 {
		k := KeyCheck{Realm: fmt.Sprintf("m%d@contoso.com", i), Username: keyUser, Password: "k"}
		if res := try(k, "guess", "203.0.113.7"); res == nil || res.StatusCode != 401 {
			t.Fatalf("wrong key %d: %v, want 401", i, res)
		}
	}
	res = try(testKey, confKey, "203.0.113.7")
	if res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("throttled source: %v, want 503 with Retry-After", res)
	}
	// The source is throttled for ordinary digest too.
	if _, res := a.Authenticate(ctx, request(t, "REGISTER"), WWW, "203.0.113.7:5060"); res == nil || res.StatusCode != 503 {
		t.Fatalf("ordinary digest from the throttled source: %v, want 503", res)
	}
}

// TestAuthenticateKeyNoSecretsLogged: neither the key, nor hashes of it,
// nor the response reach the log, and KeyCheck hides its password.
func TestAuthenticateKeyNoSecretsLogged(t *testing.T) {
	var buf strings.Builder
	clk := newClock()
	a, err := New(Config{Realm: testRealm, Secret: make([]byte, 32), Now: clk.Now}, &store{},
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var secrets []string
	for _, pw := range []string{"guess", confKey, confKey} {
		nonce, _ := keyChallengeOf(t, a.AuthenticateKey(ctx, request(t, "INVITE"), testKey, "192.0.2.1"))
		ans := sessAnswer{user: keyUser, realm: keyRealm, password: pw, nonce: nonce, uri: "u", method: "INVITE", nc: "00000001", cnonce: "c"}
		secrets = append(secrets, pw, md5hex(keyUser+":"+keyRealm+":"+pw), ans.response())
		a.AuthenticateKey(ctx, request(t, "INVITE", ans.header()), testKey, "192.0.2.1")
	}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("check", "key", testKey)
	buf.WriteString(fmt.Sprint(testKey) + fmt.Sprintf("%v %+v", testKey, testKey))
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log contains secret %q:\n%s", s, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "wrong conference key") {
		t.Errorf("log lacks the failure:\n%s", buf.String())
	}
}

// FuzzAuthenticateKey: any Authorization value gets an answer, never a
// panic, and only the right one passes.
func FuzzAuthenticateKey(f *testing.F) {
	for _, s := range []string{
		`Digest username="6551156d569c4b7d945f310ff10943c5", realm="bob@contoso.com", nonce="abc", uri="u", algorithm=MD5-sess, qop=auth, nc=00000001, cnonce="c", response="00"`,
		`Digest username="x", realm="bob@contoso.com", algorithm=md5-SESS, qop=AUTH`,
		`Digest realm="bob@contoso.com"`,
		`Digest ,`,
	} {
		f.Add(s)
	}
	clk := newClock()
	a, err := New(Config{Realm: testRealm, Secret: make([]byte, 16), Now: clk.Now, MaxFailures: 1 << 30}, &store{}, discard())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return // cannot be a header value
		}
		req := request(t, "INVITE")
		req.AppendHeader(sip.NewHeader("Authorization", v))
		res := a.AuthenticateKey(context.Background(), req, testKey, "192.0.2.1")
		if res == nil {
			t.Fatalf("AuthenticateKey(%q) passed without a nonce we issued", v)
		}
		switch res.StatusCode {
		case 400, 401, 403:
		default:
			t.Fatalf("AuthenticateKey(%q) = %d", v, res.StatusCode)
		}
	})
}
