package digest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		in   string
		want credentials
		err  bool
	}{
		{
			in: `Digest username="alice", realm="parley.test", nonce="abc", uri="sip:parley.test", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", algorithm=MD5`,
			want: credentials{username: "alice", realm: "parley.test", nonce: "abc", uri: "sip:parley.test", hasURI: true,
				qop: "auth", nc: "00000001", cnonce: "0a4f113b", response: "6629fae49393a05397450978507c4ef1", algorithm: "MD5"},
		},
		{
			// Case-insensitive scheme and names, tabs, no spaces after commas,
			// escapes inside quoted strings, unknown parameters ignored.
			in:   "digest\tUserName = \"a\\\"b\",REALM=\"r\",opaque=\"o\",uri=\"(null)\",x-ext=tok",
			want: credentials{username: `a"b`, realm: "r", uri: "(null)", hasURI: true},
		},
		{in: `Digest nc="1", username="bob"`, want: credentials{nc: "1", username: "bob"}},
		{in: `Digest`, err: true},
		{in: `Digest username="alice", username="mallory"`, err: true},
		{in: `Digest username="alice",`, err: true},
		{in: `Digest username="alice" realm="r"`, err: true},
		{in: `Digest username=`, err: true},
		{in: `Digest username="unterminated`, err: true},
		{in: `Digest username="a\`, err: true},
		{in: "Digest username=\"a\r\nb\"", err: true},
		{in: `Digest =x`, err: true},
		{in: `Basic dXNlcjpwYXNz`, err: true},
		{in: `Digest a="` + strings.Repeat("x", maxHeaderLen) + `"`, err: true},
	}
	for _, tt := range tests {
		got, err := parseCredentials(tt.in)
		if tt.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("parseCredentials(%q) error = %v, want ErrMalformed", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCredentials(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseCredentials(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got, want := quote(`a"b\c`), `"a\"b\\c"`; got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}
	v, rest, err := cutQuoted(quote(`a"b\c`) + "tail")
	if err != nil || v != `a"b\c` || rest != "tail" {
		t.Errorf("cutQuoted(quote(x)) = %q, %q, %v", v, rest, err)
	}
}

// FuzzParseCredentials feeds arbitrary header values to the parser and to
// Authenticate: neither may panic, and what parses must survive a
// round trip through quoting.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="parley.test", nonce="abc", uri="(null)", qop=auth, nc=00000001, cnonce="c", response="00"`,
		`Digest username="alice", realm="parley.test", nonce="abc", uri="u", nc="1", response="00"`,
		`digest a=b,c="d\"e"`,
		`Digest ,,,`,
		`NTLM gssapi-data=""`,
		"Digest username=\"\xff\xfe\"",
	} {
		f.Add(s)
	}
	clk := newClock()
	st := &store{passwords: map[string]string{testUser: testPassword}}
	a, err := New(Config{Realm: testRealm, Secret: make([]byte, 16), Now: clk.Now, MaxFailures: 1 << 30}, st, discard())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseCredentials(v)
		if err == nil && c.username != "" {
			back, err := parseCredentials("Digest username=" + quote(c.username))
			if err != nil || back.username != c.username {
				t.Fatalf("username %q does not round-trip: %q, %v", c.username, back.username, err)
			}
		}
		if strings.ContainsAny(v, "\r\n") {
			return // cannot be a header value
		}
		req := request(t, "REGISTER")
		req.AppendHeader(sip.NewHeader("Authorization", v))
		user, res := a.Authenticate(context.Background(), req, WWW, "192.0.2.1")
		if (user == "") == (res == nil) {
			t.Fatalf("Authenticate(%q) = %q, %v: want exactly one of user and response", v, user, res)
		}
	})
}
