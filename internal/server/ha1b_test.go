package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
	"github.com/parleyhq/parley/internal/store"
)

// Digest with the whole address as the username, as Pidgin SIPE sends it
// when its login is the sign-in address: the server verifies it against the
// HA1 over "user@domain" it keeps beside the one over the user part.

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testCredentials is the server's digest credentials over an in-memory
// directory of the organization parley.test (primary) and
// sales.parley.test, whose users exercise each form of stored credential.
func testCredentials(tb testing.TB) credentials {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite::memory:", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	const realm, pool = "parley.test", "pool.parley.test"
	if err := db.PutPool(ctx, directory.Pool{FQDN: pool, ID: "10", PSTN: directory.DefaultPSTNSettings()}); err != nil {
		tb.Fatal(err)
	}
	for _, u := range []directory.User{
		{URI: "sip:alice@parley.test", Enabled: true, Credential: directory.NewCredential("alice@parley.test", realm, "alice-pw")},
		{URI: "sip:bob@sales.parley.test", Enabled: true, Credential: directory.NewCredential("bob@sales.parley.test", realm, "bob-pw")},
		// A password set before the address values existed.
		{URI: "sip:carol@parley.test", Enabled: true, Credential: directory.NewCredential("carol", realm, "carol-pw")},
		{URI: "sip:dave@parley.test", Enabled: false, Credential: directory.NewCredential("dave@parley.test", realm, "dave-pw")},
		// A password of a realm the server no longer uses.
		{URI: "sip:erin@parley.test", Enabled: true, Credential: directory.NewCredential("erin@parley.test", "old.test", "erin-pw")},
	} {
		u.Pool = pool
		if err := db.CreateUser(ctx, u); err != nil {
			tb.Fatal(err)
		}
	}
	return credentials{dir: db, local: sipx.NewLocal([]string{"parley.test", "sales.parley.test"}, nil)}
}

// TestCredentialsHA1 checks which stored HA1 each digest username gets. The
// expected values are hashes of literal A1 strings, so the test also checks
// that what admin-style callers store is over the right text.
func TestCredentialsHA1(t *testing.T) {
	ctx := t.Context()
	creds := testCredentials(t)
	const realm = "parley.test"

	for _, tc := range []struct {
		username, realm, alg string
		want                 string // the HA1, or "" for digest.ErrUnknownUser
	}{
		{"alice", realm, "MD5", md5Hex("alice:parley.test:alice-pw")},
		{"alice", realm, "", md5Hex("alice:parley.test:alice-pw")},
		{"alice", realm, "SHA-256", sha256Hex("alice:parley.test:alice-pw")},
		{"alice@parley.test", realm, "MD5", md5Hex("alice@parley.test:parley.test:alice-pw")},
		{"alice@parley.test", realm, "md5", md5Hex("alice@parley.test:parley.test:alice-pw")},
		{"alice@parley.test", realm, "SHA-256", sha256Hex("alice@parley.test:parley.test:alice-pw")},
		// A user of a secondary domain: his own domain, the primary realm.
		{"bob@sales.parley.test", realm, "MD5", md5Hex("bob@sales.parley.test:parley.test:bob-pw")},
		{"bob@sales.parley.test", realm, "SHA-256", sha256Hex("bob@sales.parley.test:parley.test:bob-pw")},
		// A bare user part is in the primary domain, where bob is not.
		{"bob", realm, "MD5", ""},
		// Another domain of the organization is not alice's: no guessing.
		{"alice@sales.parley.test", realm, "MD5", ""},
		{"bob@parley.test", realm, "MD5", ""},
		{"alice@example.com", realm, "MD5", ""},
		// Text other than the stored address hashes to another HA1.
		{"sip:alice@parley.test", realm, "MD5", ""},
		{"Alice@parley.test", realm, "MD5", ""},
		{"alice@Parley.Test", realm, "MD5", ""},
		{"alice@parley.test:5060", realm, "MD5", ""},
		// No address values stored yet: only the user part works.
		{"carol@parley.test", realm, "MD5", ""},
		{"carol@parley.test", realm, "SHA-256", ""},
		{"carol", realm, "MD5", md5Hex("carol:parley.test:carol-pw")},
		// Disabled, or another realm.
		{"dave@parley.test", realm, "MD5", ""},
		{"dave", realm, "MD5", ""},
		{"erin@parley.test", realm, "MD5", ""},
		{"alice@parley.test", "old.test", "MD5", ""},
		// Malformed usernames.
		{"", realm, "MD5", ""},
		{"@parley.test", realm, "MD5", ""},
		{"alice@", realm, "MD5", ""},
		{"alice@parley.test@parley.test", realm, "MD5", ""},
	} {
		got, err := creds.HA1(ctx, tc.username, tc.realm, tc.alg)
		switch {
		case tc.want == "" && (got != "" || !errors.Is(err, digest.ErrUnknownUser)):
			t.Errorf("HA1(%q, %q, %q) = %q, %v; want %v", tc.username, tc.realm, tc.alg, got, err, digest.ErrUnknownUser)
		case tc.want != "" && (got != tc.want || err != nil):
			t.Errorf("HA1(%q, %q, %q) = %q, %v; want %q", tc.username, tc.realm, tc.alg, got, err, tc.want)
		}
	}

	// An algorithm the digest never offers is an error, not an unknown
	// user, so that a programming mistake does not pass for a bad password.
	if _, err := creds.HA1(ctx, "alice@parley.test", realm, "SHA-512-256"); err == nil || errors.Is(err, digest.ErrUnknownUser) {
		t.Errorf("HA1(SHA-512-256) error = %v; want an unsupported-algorithm error", err)
	}
}

// FuzzCredentialsHA1 checks that no username makes HA1 fail otherwise than
// with ErrUnknownUser, and that a stored HA1 comes back only for the exact
// username it was made with: alice's user-part values for "alice" (the bare
// form is looked up without regard to case, as before the address values),
// her address values for "alice@parley.test", bob's for
// "bob@sales.parley.test", carol's user-part values for "carol".
func FuzzCredentialsHA1(f *testing.F) {
	for _, s := range []string{"alice", "ALICE", "alice@parley.test", "sip:alice@parley.test", "Alice@parley.test",
		"bob@sales.parley.test", "carol@parley.test", "carol", "@", "", "alice@parley.test\x00", "a@b@c", "dave"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	creds := testCredentials(f)
	const realm = "parley.test"
	valid := map[string]string{ // HA1 → the username it was made with
		md5Hex("alice:parley.test:alice-pw"):                  "alice",
		sha256Hex("alice:parley.test:alice-pw"):               "alice",
		md5Hex("alice@parley.test:parley.test:alice-pw"):      "alice@parley.test",
		sha256Hex("alice@parley.test:parley.test:alice-pw"):   "alice@parley.test",
		md5Hex("bob@sales.parley.test:parley.test:bob-pw"):    "bob@sales.parley.test",
		sha256Hex("bob@sales.parley.test:parley.test:bob-pw"): "bob@sales.parley.test",
		md5Hex("carol:parley.test:carol-pw"):                  "carol",
		sha256Hex("carol:parley.test:carol-pw"):               "carol",
	}
	f.Fuzz(func(t *testing.T, username string, sha bool) {
		alg := "MD5"
		if sha {
			alg = "SHA-256"
		}
		got, err := creds.HA1(context.Background(), username, realm, alg)
		if err != nil {
			if got != "" || !errors.Is(err, digest.ErrUnknownUser) {
				t.Fatalf("HA1(%q, %s) = %q, %v; want a HA1 or %v", username, alg, got, err, digest.ErrUnknownUser)
			}
			return
		}
		made, ok := valid[got]
		if !ok {
			t.Fatalf("HA1(%q, %s) = %q, which is none of the stored values", username, alg, got)
		}
		if want := hashLenOf(alg); len(got) != want {
			t.Fatalf("HA1(%q, %s) = %q; want %d hex digits", username, alg, got, want)
		}
		bare := !strings.Contains(made, "@")
		if (bare && strings.ToLower(username) != made) || (!bare && username != made) {
			t.Fatalf("HA1(%q, %s) gave the HA1 made with username %q", username, alg, made)
		}
	})
}

// hashLenOf is the length of an HA1 of alg in hex digits.
func hashLenOf(alg string) int {
	if alg == "SHA-256" {
		return 64
	}
	return 32
}

// register sends a REGISTER of aor from p, answers the challenge with
// username and password, and returns the final answer.
func (p *testPhone) register(t *testing.T, aor, username, password string) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	req := sip.NewRequest(sip.REGISTER, parseURI(t, "sip:parley.test"))
	req.SetDestination(p.server)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{Address: parseURI(t, aor), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: parseURI(t, aor), Params: sip.NewParams()})
	contact := p.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER: %v", err)
	}
	if res.StatusCode != 401 && res.StatusCode != 407 {
		t.Fatalf("REGISTER without credentials answered %d %s; want a challenge", res.StatusCode, res.Reason)
	}
	if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: username, Password: password}); err != nil {
		t.Fatalf("REGISTER with credentials: %v", err)
	}
	return res
}

// TestRegisterWithAddressUsername registers demo users through the whole
// server (front end, registrar, digest, user cache, SQLite) with the
// digest username in both forms.
func TestRegisterWithAddressUsername(t *testing.T) {
	dir := t.TempDir()
	srv := runTestServer(t, dir, "127.0.0.1:0", io.Discard)
	pw := demoPasswords(t, srv.out())

	// A user whose password was set before the address values existed,
	// written beside the running server before it has looked him up.
	const olga, olgaPW = "sip:olga@parley.test", "olga-password-1"
	db := openStore(t, dir)
	if err := db.CreateUser(context.Background(), directory.User{URI: olga, Pool: "pool.parley.test", Enabled: true,
		Credential: directory.NewCredential("olga", "parley.test", olgaPW)}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, transport, aor, username, password string
		want                                     int
	}{
		{"address username", "UDP", restartAlice, "alice@parley.test", pw[restartAlice], 200},
		{"address username over TCP", "TCP", restartBob, "bob@parley.test", pw[restartBob], 200},
		{"user-part username", "UDP", restartAlice, "alice", pw[restartAlice], 200},
		{"address username, wrong password", "UDP", restartAlice, "alice@parley.test", pw[restartAlice] + "x", 401},
		{"another user's address", "UDP", restartAlice, "bob@parley.test", pw[restartBob], 403},
		{"address in a domain that is not alice's", "UDP", restartAlice, "alice@example.com", pw[restartAlice], 401},
		{"address username of a password set before", "UDP", olga, "olga@parley.test", olgaPW, 401},
		{"user-part username of a password set before", "UDP", olga, "olga", olgaPW, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPhone(t, srv.info.SIPUDP, tc.transport)
			res := p.register(t, tc.aor, tc.username, tc.password)
			if res.StatusCode != tc.want {
				t.Errorf("REGISTER %s as %q = %d %s %v; want %d", tc.aor, tc.username, res.StatusCode, res.Reason,
					res.GetHeader("Warning"), tc.want)
			}
			if tc.want == 200 && res.GetHeader("Contact") == nil {
				t.Errorf("200 to REGISTER lists no Contact binding")
			}
		})
	}
}
