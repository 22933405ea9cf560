package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/adminapi"
	"github.com/parleyhq/parley/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testToken = "cli-test-token-0123456789abcdef0123456789abcdef"

// cliEnv is a data directory whose run.json and admin.token point at an
// admin API served in-process over a SQLite file with the demo
// organization.
type cliEnv struct {
	dir  string
	demo admin.Demo
	srv  *httptest.Server
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc := admin.New(db, nil)
	if err := svc.Bootstrap(t.Context(), admin.DemoBootstrap); err != nil {
		t.Fatal(err)
	}
	demo, err := svc.SeedDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adminapi.NewHandler(svc, testToken, nil))
	t.Cleanup(srv.Close)
	writeRunFiles(t, dir, srv.URL, testToken)
	return &cliEnv{dir: dir, demo: demo, srv: srv}
}

func writeRunFiles(t *testing.T, dir, url, token string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"admin_url": url, "sip_udp": "127.0.0.1:5060", "pid": 1})
	if err := os.WriteFile(filepath.Join(dir, runFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tokenFile), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// result is what one run of the CLI printed and returned.
type result struct {
	out, err string
	code     int
}

// parley runs the CLI in-process on e's data directory.
func (e *cliEnv) parley(t *testing.T, args ...string) result {
	t.Helper()
	return e.parleyIn(t, "", args...)
}

func (e *cliEnv) parleyIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), append([]string{"--data", e.dir}, args...), strings.NewReader(stdin), &out, &errb)
	return result{out: out.String(), err: errb.String(), code: code}
}

// ok runs the CLI and fails the test unless it succeeds.
func (e *cliEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := e.parley(t, args...)
	if r.code != 0 {
		t.Fatalf("parley %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.err)
	}
	return r.out
}

// caaURI matches the random part of access numbers' contact URIs.
var caaURI = regexp.MustCompile(`caa-[0-9a-f]{8}@`)

// golden compares got with testdata/name.golden, or rewrites the file
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = caaURI.ReplaceAllString(got, "caa-XXXXXXXX@")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestGoldenOutputs(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "access-number", "add", "+442079460000", "--region", "London", "--language", "en-GB", "--display-name", "London")
	e.ok(t, "policy", "add", "Small", "--pstn-dial-in", "--max-size", "10")
	tests := []struct {
		name string
		args []string
	}{
		{"user_list", []string{"user", "list"}},
		{"access_number_list", []string{"access-number", "list"}},
		{"access_number_show", []string{"access-number", "show", "+14255550100"}},
		{"location_profile_list", []string{"location-profile", "list"}},
		{"location_profile_show", []string{"location-profile", "show", "Redmond"}},
		{"region_list", []string{"region", "list"}},
		{"policy_list", []string{"policy", "list"}},
		{"policy_show", []string{"policy", "show", "Default"}},
		{"pool_list", []string{"pool", "list"}},
		{"pool_show", []string{"pool", "show", "pool.parley.test"}},
		{"pool_servers", []string{"pool", "servers"}},
		{"pool_trusted_services", []string{"pool", "trusted-services"}},
		{"org_show", []string{"org", "show"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, e.ok(t, tt.args...))
		})
	}
}

func TestJSONOutput(t *testing.T) {
	e := newCLIEnv(t)
	var users []admin.User
	if err := json.Unmarshal([]byte(e.ok(t, "--json", "user", "list")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].URI != "sip:alice@parley.test" || !users[0].PIN.Set {
		t.Errorf("user list --json = %+v", users)
	}
	var del struct{ Deleted string }
	if err := json.Unmarshal([]byte(e.ok(t, "--json", "access-number", "delete", "+14255550100")), &del); err != nil || del.Deleted != "+14255550100" {
		t.Errorf("access-number delete --json = %+v, %v", del, err)
	}
}

func TestUserCommands(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok(t, "user", "add", "sip:Carol@parley.test", "--password", "carol-secret-1", "--display-name", "Carol Clark",
		"--extension", "1003", "--line-uri", "tel:+14255551003", "--pin", "5086271", "--location-profile", "Redmond",
		"--enterprise-voice")
	for _, want := range []string{"Added user sip:carol@parley.test.", "Display name:     Carol Clark",
		"Enterprise Voice: yes", "Location profile: Redmond", "PIN:              set"} {
		if !strings.Contains(out, want) {
			t.Errorf("user add output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"carol-secret-1", "5086271"} {
		if strings.Contains(out, secret) {
			t.Errorf("user add echoes the secret %q:\n%s", secret, out)
		}
	}

	if out := e.ok(t, "user", "set-pin", "sip:carol@parley.test", "9517530"); out != "Set the PIN of sip:carol@parley.test.\n" {
		t.Errorf("set-pin output %q", out)
	}
	if out := e.parleyIn(t, "new-carol-secret\n", "user", "set-password", "sip:carol@parley.test", "-"); out.code != 0 ||
		out.out != "Set the password of sip:carol@parley.test.\n" {
		t.Errorf("set-password from stdin = %+v", out)
	}
	if out := e.ok(t, "user", "unlock-pin", "sip:carol@parley.test"); out != "Unlocked the PIN of sip:carol@parley.test.\n" {
		t.Errorf("unlock-pin output %q", out)
	}
	out = e.ok(t, "user", "set", "sip:carol@parley.test", "--display-name", "Carol C.", "--enterprise-voice=false",
		"--extension", "")
	for _, want := range []string{"Updated user sip:carol@parley.test.", "Display name:     Carol C.",
		"Enterprise Voice: no", "Extension:        -"} {
		if !strings.Contains(out, want) {
			t.Errorf("user set output lacks %q:\n%s", want, out)
		}
	}
	if out := e.ok(t, "user", "show", "carol@parley.test"); !strings.Contains(out, "URI:              sip:carol@parley.test") {
		t.Errorf("user show output:\n%s", out)
	}
	if out := e.ok(t, "user", "delete", "sip:carol@parley.test"); out != "Deleted user sip:carol@parley.test.\n" {
		t.Errorf("user delete output %q", out)
	}
	r := e.parley(t, "user", "show", "sip:carol@parley.test")
	if r.code != 1 || r.err != "parley: user sip:carol@parley.test does not exist\n" {
		t.Errorf("user show after delete = %+v", r)
	}

	// A password read from standard input.
	r = e.parleyIn(t, "dave-secret-pw\n", "user", "add", "sip:dave@parley.test", "--password", "-")
	if r.code != 0 || strings.Contains(r.out, "dave-secret-pw") {
		t.Errorf("user add --password - = %+v", r)
	}
}

func TestAccessNumberCommands(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok(t, "access-number", "add", "+14255550199", "--region", "US West", "--language", "en-US", "--language", "es-US")
	if strings.Contains(out, "did not exist") || !strings.Contains(out, "Added access number tel:+14255550199.") ||
		!strings.Contains(out, "Other languages:  es-US") {
		t.Errorf("access-number add output:\n%s", out)
	}
	out = e.ok(t, "access-number", "add", "+33140000000", "--region", "Paris", "--language", "fr-FR")
	if !strings.HasPrefix(out, `Region "Paris" did not exist; created it with location profile "Default".`) {
		t.Errorf("access-number add with a new region:\n%s", out)
	}
	if out := e.ok(t, "access-number", "delete", "+33140000000"); out != "Deleted access number +33140000000.\n" {
		t.Errorf("delete output %q", out)
	}
	if out := e.ok(t, "region", "delete", "Paris"); out != "Deleted region \"Paris\".\n" {
		t.Errorf("region delete output %q", out)
	}
}

func TestLocationProfileCommands(t *testing.T) {
	e := newCLIEnv(t)
	e.ok(t, "location-profile", "add", "Paris", "--description", "Paris", "--rule", `0(\d{9}) => +33$1`, "--rule", `\+(\d+)=>+$1`)
	tests := []struct{ profile, number, want string }{
		{"Redmond", "0100", "+14255550100  (rule 1: (\\d{4})=>+1425555$1)\n"},
		{"Redmond", "(425) 555-0100", "+14255550100  (rule 3: 1?(\\d{10})=>+1$1)\n"},
		{"Paris", "01 40 00 00 00", "+33140000000  (rule 1: 0(\\d{9})=>+33$1)\n"},
		{"Paris", "123", "123  (no rule matches; the number stays as dialled)\n"},
	}
	for _, tt := range tests {
		if got := e.ok(t, "location-profile", "test", tt.profile, tt.number); got != tt.want {
			t.Errorf("location-profile test %s %q = %q; want %q", tt.profile, tt.number, got, tt.want)
		}
	}
	out := e.ok(t, "location-profile", "set", "Paris", "--rule", `00(\d+)=>+$1`)
	if !strings.Contains(out, `00(\d+)`) || strings.Contains(out, `0(\d{9})`) {
		t.Errorf("location-profile set did not replace the rules:\n%s", out)
	}
	e.ok(t, "region", "add", "France", "--location-profile", "Paris")
	if out := e.ok(t, "region", "set", "France", "--location-profile", "Default"); out != "Region \"France\" now uses location profile \"Default\".\n" {
		t.Errorf("region set output %q", out)
	}
	if out := e.ok(t, "location-profile", "delete", "Paris"); out != "Deleted location profile \"Paris\".\n" {
		t.Errorf("location-profile delete output %q", out)
	}
}

func TestPolicyPoolOrgCommands(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok(t, "policy", "set", "Default", "--max-size", "50", "--anonymous=false")
	if !strings.Contains(out, "Max meeting size:  50") || !strings.Contains(out, "Anonymous allowed: no") ||
		!strings.Contains(out, "PSTN dial-in:      yes") {
		t.Errorf("policy set output:\n%s", out)
	}
	out = e.ok(t, "pool", "set", "pool.parley.test", "--min-pin-length", "8", "--pin-expiry-days", "90")
	if !strings.Contains(out, "Minimum PIN length: 8") || !strings.Contains(out, "PIN expiry:         90 days") ||
		!strings.Contains(out, "Max PIN attempts:   10") {
		t.Errorf("pool set output:\n%s", out)
	}
	e.ok(t, "pool", "add", "pool2.parley.test", "--id", "20")
	e.ok(t, "pool", "add-server", "fe.pool2.parley.test", "--pool", "pool2.parley.test")
	if out := e.ok(t, "pool", "servers", "pool2.parley.test"); out != "FQDN                  POOL\nfe.pool2.parley.test  pool2.parley.test\n" {
		t.Errorf("pool servers output %q", out)
	}
	e.ok(t, "pool", "remove-server", "fe.pool2.parley.test")
	e.ok(t, "pool", "delete", "pool2.parley.test")
	out = e.ok(t, "org", "set", "--name", "Parley Test", "--domain", "parley.test", "--domain", "parley.example",
		"--web-external-url", "https://meet.parley.test/")
	if !strings.Contains(out, "Domains:          parley.test, parley.example") || !strings.Contains(out, "Name:             Parley Test") {
		t.Errorf("org set output:\n%s", out)
	}
	e.ok(t, "policy", "add", "Tiny", "--max-size", "3")
	e.ok(t, "policy", "delete", "Tiny")
}

func TestErrors(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"bad regexp", "", []string{"location-profile", "add", "Paris", "--rule", `0(\d{9}=>+33$1`},
			`parley: rules: rule 1 "0(\\d{9}=>+33$1": bad regular expression: error parsing regexp: missing closing ): ` + "`^(?:0(\\d{9})$`\n"},
		{"rule without arrow", "", []string{"location-profile", "add", "Paris", "--rule", `0(\d{9})`},
			`parley: rule 1 "0(\\d{9})": want PATTERN=>TRANSLATION` + "\n"},
		{"short PIN", "", []string{"user", "set-pin", "sip:alice@parley.test", "1357"}, "parley: pin: must be at least 5 digits\n"},
		{"weak PIN on add", "", []string{"user", "add", "sip:carol@parley.test", "--password", "carol-secret", "--pin", "444444"},
			"parley: pin: must not be all one digit or a run such as 12345\n"},
		{"short password", "", []string{"user", "add", "sip:carol@parley.test", "--password", "short"},
			"parley: password: must be at least 8 characters\n"},
		{"missing password", "", []string{"user", "add", "sip:carol@parley.test"},
			"parley: required flag(s) \"password\" not set\n"},
		{"empty stdin password", "", []string{"user", "add", "sip:carol@parley.test", "--password", "-"},
			"parley: standard input is empty; expected the secret on its first line\n"},
		{"foreign domain", "", []string{"user", "add", "sip:carol@example.com", "--password", "carol-secret"},
			"parley: uri: domain \"example.com\" is not one of the organization's SIP domains (\"parley.test\")\n"},
		{"duplicate user", "", []string{"user", "add", "sip:alice@parley.test", "--password", "carol-secret"},
			"parley: user sip:alice@parley.test already exists\n"},
		{"unknown user", "", []string{"user", "unlock-pin", "sip:zed@parley.test"}, "parley: user sip:zed@parley.test does not exist\n"},
		{"unknown region", "", []string{"region", "set", "Atlantis", "--location-profile", "Default"},
			"parley: region \"Atlantis\" does not exist\n"},
		{"unknown region, unknown profile", "", []string{"access-number", "add", "+33140000000", "--region", "Paris",
			"--location-profile", "France"},
			"parley: region: region \"Paris\" does not exist (regions: \"US West\") and cannot be created: location profile \"France\" does not exist; location profiles: \"Default\", \"Redmond\"\n"},
		{"unknown profile for region", "", []string{"region", "add", "EU", "--location-profile", "France"},
			"parley: location_profile: location profile \"France\" does not exist; location profiles: \"Default\", \"Redmond\"\n"},
		{"duplicate access number", "", []string{"access-number", "add", "+14255550100", "--region", "US West"},
			"parley: access number tel:+14255550100 already exists (region \"US West\")\n"},
		{"too many languages", "", []string{"access-number", "add", "+14255550111", "--region", "US West",
			"--language", "en-US,es-US,fr-FR,de-DE,ja-JP,it-IT"},
			"parley: languages: at most 5 languages (one primary, 4 secondary), not 6\n"},
		{"region in use", "", []string{"region", "delete", "US West"}, "parley: region US West is still used by 1 access number\n"},
		{"policy in use", "", []string{"policy", "delete", "Default"}, "parley: meeting policy Default is still used by 2 users\n"},
		{"bad pool setting", "", []string{"pool", "set", "pool.parley.test", "--min-pin-length", "2"},
			"parley: min_pin_length: must be between 3 and 24, not 2\n"},
		{"nothing to change", "", []string{"user", "set", "sip:alice@parley.test"}, "parley: nothing to change\n"},
		{"primary domain", "", []string{"org", "set", "--domain", "example.com"},
			"parley: domains: the primary domain \"parley.test\" is the realm of 2 users' passwords and the domain of 1 access numbers; it cannot change while they exist\n"},
		{"extra argument", "", []string{"user", "show", "a", "b"}, "parley: accepts 1 arg(s), received 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.parleyIn(t, tt.stdin, tt.args...)
			if r.code != 1 || r.err != tt.want || r.out != "" {
				t.Errorf("parley %s = exit %d, stdout %q, stderr %q; want exit 1, stderr %q",
					strings.Join(tt.args, " "), r.code, r.out, r.err, tt.want)
			}
		})
	}
}

func TestServerNotRunning(t *testing.T) {
	want := func(dir string) string {
		return "parley: no Parley server is running for data directory " + dir +
			" (start it with: parley serve --data " + dir + ")\n"
	}
	check := func(t *testing.T, dir string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"--data", dir, "user", "list"}, strings.NewReader(""), &out, &errb)
		if code != 1 || errb.String() != want(dir) {
			t.Errorf("exit %d, stderr %q; want 1, %q", code, errb.String(), want(dir))
		}
	}
	t.Run("no run file", func(t *testing.T) { check(t, t.TempDir()) })
	t.Run("server gone", func(t *testing.T) {
		dir := t.TempDir()
		srv := httptest.NewServer(nil)
		url := srv.URL
		srv.Close()
		writeRunFiles(t, dir, url, testToken)
		check(t, dir)
	})
	t.Run("no token", func(t *testing.T) {
		dir := t.TempDir()
		writeRunFiles(t, dir, "http://127.0.0.1:1", testToken)
		if err := os.Remove(filepath.Join(dir, tokenFile)); err != nil {
			t.Fatal(err)
		}
		check(t, dir)
	})
}

func TestWrongToken(t *testing.T) {
	e := newCLIEnv(t)
	writeRunFiles(t, e.dir, e.srv.URL, "not-the-token")
	r := e.parley(t, "user", "list")
	want := "parley: the server refused the admin token in " + filepath.Join(e.dir, tokenFile) +
		"; was the file replaced while the server runs?\n"
	if r.code != 1 || r.err != want {
		t.Errorf("user list with a wrong token = %+v; want %q", r, want)
	}
}
