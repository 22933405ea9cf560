package directory_test

import (
	"crypto/md5" //nolint:gosec // digest HA1 values are MD5 (RFC 3261 §22.4)
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// validation is one case of a Validate table: field is the field the
// ValidationError must name, or "" when the value is valid.
type validation struct {
	name  string
	err   error
	field string
}

func checkValidation(t *testing.T, cases []validation) {
	t.Helper()
	for _, tc := range cases {
		var ve *directory.ValidationError
		switch {
		case tc.field == "" && tc.err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, tc.err)
		case tc.field == "":
		case !errors.As(tc.err, &ve):
			t.Errorf("%s: Validate() = %v, want a *ValidationError for %q", tc.name, tc.err, tc.field)
		case ve.Field != tc.field:
			t.Errorf("%s: Validate() names field %q (%v), want %q", tc.name, ve.Field, ve, tc.field)
		case !strings.HasPrefix(ve.Error(), tc.field+": "):
			t.Errorf("%s: Error() = %q, want it to start with %q", tc.name, ve.Error(), tc.field+": ")
		}
	}
}

func TestOrganizationValidate(t *testing.T) {
	good := directory.Organization{Name: "Parley", Domains: []string{"parley.test", "Example.ORG"},
		WebInternalURL: "https://meet.parley.test/", WebExternalURL: "http://meet.example.org:8080/x"}
	with := func(f func(*directory.Organization)) directory.Organization {
		o := good
		o.Domains = append([]string(nil), good.Domains...)
		f(&o)
		return o
	}
	checkValidation(t, []validation{
		{"good", good.Validate(), ""},
		{"no URLs", with(func(o *directory.Organization) { o.WebInternalURL, o.WebExternalURL = "", "" }).Validate(), ""},
		{"blank name", with(func(o *directory.Organization) { o.Name = "  " }).Validate(), "name"},
		{"no domains", with(func(o *directory.Organization) { o.Domains = nil }).Validate(), "domains"},
		{"bad domain", with(func(o *directory.Organization) { o.Domains[1] = "-bad.test" }).Validate(), "domains"},
		{"domain with comma", with(func(o *directory.Organization) { o.Domains[0] = "a.test,b.test" }).Validate(), "domains"},
		{"ftp URL", with(func(o *directory.Organization) { o.WebInternalURL = "ftp://x.test/" }).Validate(), "web_internal_url"},
		{"URL without host", with(func(o *directory.Organization) { o.WebExternalURL = "https:///x" }).Validate(), "web_external_url"},
	})
}

func TestOrganizationDomains(t *testing.T) {
	o := directory.Organization{Domains: []string{"parley.test", "example.org"}}
	if got := o.PrimaryDomain(); got != "parley.test" {
		t.Errorf("PrimaryDomain() = %q, want parley.test", got)
	}
	if got := (directory.Organization{}).PrimaryDomain(); got != "" {
		t.Errorf("PrimaryDomain() of no domains = %q, want empty", got)
	}
	for d, want := range map[string]bool{"parley.test": true, "EXAMPLE.org": true, "other.test": false, "": false} {
		if got := o.HasDomain(d); got != want {
			t.Errorf("HasDomain(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestPSTNSettingsValidate(t *testing.T) {
	s := func(minLen, attempts, days int) error {
		return directory.PSTNSettings{MinPINLength: minLen, MaxPINAttempts: attempts, PINExpiryDays: days}.Validate()
	}
	checkValidation(t, []validation{
		{"default", directory.DefaultPSTNSettings().Validate(), ""},
		{"lowest", s(3, 1, 0), ""},
		{"highest", s(24, 1000, 3650), ""},
		{"PIN too short", s(2, 10, 0), "min_pin_length"},
		{"PIN too long", s(25, 10, 0), "min_pin_length"},
		{"no attempts", s(5, 0, 0), "max_pin_attempts"},
		{"too many attempts", s(5, 1001, 0), "max_pin_attempts"},
		{"negative expiry", s(5, 10, -1), "pin_expiry_days"},
		{"expiry too long", s(5, 10, 3651), "pin_expiry_days"},
	})
}

func TestPoolValidate(t *testing.T) {
	p := func(fqdn, id string, f ...func(*directory.Pool)) error {
		v := directory.Pool{FQDN: fqdn, ID: id, PSTN: directory.DefaultPSTNSettings()}
		for _, f := range f {
			f(&v)
		}
		return v.Validate()
	}
	checkValidation(t, []validation{
		{"good", p("pool1.parley.test", "12"), ""},
		{"six-digit ID", p("pool1", "123456", func(v *directory.Pool) { v.WebExternalURL = "https://x.test" }), ""},
		{"empty FQDN", p("", "12"), "fqdn"},
		{"double dot", p("a..parley.test", "12"), "fqdn"},
		{"underscore", p("a_b.parley.test", "12"), "fqdn"},
		{"label too long", p(strings.Repeat("a", 64)+".test", "12"), "fqdn"},
		{"one-digit ID", p("a.test", "1"), "id"},
		{"seven-digit ID", p("a.test", "1234567"), "id"},
		{"letters in ID", p("a.test", "1a"), "id"},
		{"bad PSTN", p("a.test", "12", func(v *directory.Pool) { v.PSTN.MaxPINAttempts = 0 }), "max_pin_attempts"},
		{"bad internal URL", p("a.test", "12", func(v *directory.Pool) { v.WebInternalURL = "x.test" }), "web_internal_url"},
		{"bad external URL", p("a.test", "12", func(v *directory.Pool) { v.WebExternalURL = "mailto:a@b" }), "web_external_url"},
	})
}

func TestServerValidate(t *testing.T) {
	checkValidation(t, []validation{
		{"good", directory.Server{FQDN: "fe1.parley.test", Pool: "pool1.parley.test"}.Validate(), ""},
		{"bad FQDN", directory.Server{FQDN: "fe1.", Pool: "pool1.parley.test"}.Validate(), "fqdn"},
		{"bad pool", directory.Server{FQDN: "fe1.parley.test", Pool: ""}.Validate(), "pool"},
	})
}

func TestTrustedServiceValidate(t *testing.T) {
	ts := func(fqdn, typ string, port int) error {
		return directory.TrustedService{FQDN: fqdn, Type: typ, Port: port}.Validate()
	}
	checkValidation(t, []validation{
		{"attendant", ts("pool1.parley.test", directory.ServiceAttendant, 5072), ""},
		{"announcement", ts("fe1.parley.test", directory.ServiceAnnouncement, 65535), ""},
		{"port 1", ts("fe1.parley.test", directory.ServiceAnnouncement, 1), ""},
		{"bad FQDN", ts("fe 1", directory.ServiceAttendant, 5072), "fqdn"},
		{"unknown type", ts("fe1.parley.test", "Microsoft.RTC.Applications.Other", 5072), "type"},
		{"lower-case type", ts("fe1.parley.test", strings.ToLower(directory.ServiceAttendant), 5072), "type"},
		{"port 0", ts("fe1.parley.test", directory.ServiceAttendant, 0), "port"},
		{"port too big", ts("fe1.parley.test", directory.ServiceAttendant, 65536), "port"},
	})
}

func TestLocationProfileValidate(t *testing.T) {
	rules := []dialplan.Rule{{Pattern: `(\d{4})`, Translation: "+1425555$1"}, {Pattern: `\+?1?(\d{10})`, Translation: "+1$1"}}
	lp := func(name string, rules ...dialplan.Rule) error {
		return directory.LocationProfile{Name: name, Rules: rules}.Validate()
	}
	checkValidation(t, []validation{
		{"good", lp("Redmond", rules...), ""},
		{"no rules", lp("Empty"), ""},
		{"unicode name", lp("Zürich (HQ) & Bern", rules...), ""},
		{"64-character name", lp(strings.Repeat("n", 64)), ""},
		{"empty name", lp("", rules...), "name"},
		{"leading space", lp(" Redmond"), "name"},
		{"65-character name", lp(strings.Repeat("n", 65)), "name"},
		{"slash in name", lp("a/b"), "name"},
		{"bad regexp", lp("Redmond", rules[0], dialplan.Rule{Pattern: "(12", Translation: "$1"}), "rules"},
		{"missing group", lp("Redmond", dialplan.Rule{Pattern: `\d+`, Translation: "+1$1"}), "rules"},
	})
	err := lp("Redmond", rules[0], dialplan.Rule{Pattern: "(12", Translation: "+1$1"})
	if msg := err.Error(); !strings.Contains(msg, "rule 2") || !strings.Contains(msg, "(12=>+1$1") ||
		strings.Contains(msg, "dialplan:") {
		t.Errorf("bad rule error = %q, want it to show rule 2 as (12=>+1$1 without the package prefix", msg)
	}
}

func TestRegionValidate(t *testing.T) {
	checkValidation(t, []validation{
		{"good", directory.Region{Name: "West", LocationProfile: "Redmond"}.Validate(), ""},
		{"bad name", directory.Region{Name: "", LocationProfile: "Redmond"}.Validate(), "name"},
		{"bad profile", directory.Region{Name: "West", LocationProfile: "-x"}.Validate(), "location_profile"},
	})
}

func TestMeetingPolicyValidate(t *testing.T) {
	mp := func(name string, size int) error {
		return directory.MeetingPolicy{Name: name, MaxMeetingSize: size}.Validate()
	}
	checkValidation(t, []validation{
		{"good", mp("Default", 250), ""},
		{"smallest", mp("Pair", 2), ""},
		{"largest", mp("Town hall", 100000), ""},
		{"bad name", mp("*", 250), "name"},
		{"size 1", mp("Solo", 1), "max_meeting_size"},
		{"too big", mp("Huge", 100001), "max_meeting_size"},
	})
}

func TestAccessNumberValidate(t *testing.T) {
	an := func(f func(*directory.AccessNumber)) error {
		a := directory.AccessNumber{LineURI: "tel:+14255550100", URI: "sip:caa-1@parley.test",
			Pool: "pool1.parley.test", Region: "West", PrimaryLanguage: "en-US",
			SecondaryLanguages: []string{"fr-CA", "es"}}
		f(&a)
		return a.Validate()
	}
	checkValidation(t, []validation{
		{"good", an(func(*directory.AccessNumber) {}), ""},
		{"four secondary", an(func(a *directory.AccessNumber) {
			a.SecondaryLanguages = []string{"fr-CA", "es-US", "de-DE", "ja-JP"}
		}), ""},
		{"no +", an(func(a *directory.AccessNumber) { a.LineURI = "tel:14255550100" }), "line_uri"},
		{"SIP line URI", an(func(a *directory.AccessNumber) { a.LineURI = "sip:+14255550100@parley.test" }), "line_uri"},
		{"extension", an(func(a *directory.AccessNumber) { a.LineURI = "tel:+14255550100;ext=1" }), "line_uri"},
		{"16 digits", an(func(a *directory.AccessNumber) { a.LineURI = "tel:+1425555010012345" }), "line_uri"},
		{"bad URI", an(func(a *directory.AccessNumber) { a.URI = "caa-1@parley.test" }), "uri"},
		{"bad pool", an(func(a *directory.AccessNumber) { a.Pool = "" }), "pool"},
		{"bad region", an(func(a *directory.AccessNumber) { a.Region = "" }), "region"},
		{"bad primary", an(func(a *directory.AccessNumber) { a.PrimaryLanguage = "en-us" }), "primary_language"},
		{"five secondary", an(func(a *directory.AccessNumber) {
			a.SecondaryLanguages = []string{"fr-CA", "es-US", "de-DE", "ja-JP", "it-IT"}
		}), "secondary_languages"},
		{"bad secondary", an(func(a *directory.AccessNumber) { a.SecondaryLanguages = []string{"French"} }), "secondary_languages"},
		{"primary repeated", an(func(a *directory.AccessNumber) { a.SecondaryLanguages = []string{"en-US"} }), "secondary_languages"},
		{"secondary twice", an(func(a *directory.AccessNumber) { a.SecondaryLanguages = []string{"es", "es"} }), "secondary_languages"},
	})
}

func TestUserValidate(t *testing.T) {
	u := func(f func(*directory.User)) error {
		v := directory.User{URI: "sip:alice@parley.test", DisplayName: "Alice", Pool: "pool1.parley.test",
			LineURI: "tel:+14255550100;ext=100", Extension: "100"}
		f(&v)
		return v.Validate()
	}
	checkValidation(t, []validation{
		{"good", u(func(*directory.User) {}), ""},
		{"minimal", u(func(v *directory.User) { v.DisplayName, v.LineURI, v.Extension = "", "", "" }), ""},
		{"sips", u(func(v *directory.User) { v.URI = "sips:alice.o'neil+x@parley.test" }), ""},
		{"15-digit extension", u(func(v *directory.User) { v.Extension = strings.Repeat("9", 15) }), ""},
		{"no scheme", u(func(v *directory.User) { v.URI = "alice@parley.test" }), "uri"},
		{"tel URI", u(func(v *directory.User) { v.URI = "tel:+14255550100" }), "uri"},
		{"upper case", u(func(v *directory.User) { v.URI = "sip:Alice@parley.test" }), "uri"},
		{"parameter", u(func(v *directory.User) { v.URI = "sip:alice;x=1@parley.test" }), "uri"},
		{"bad host", u(func(v *directory.User) { v.URI = "sip:alice@parley..test" }), "uri"},
		{"long display name", u(func(v *directory.User) { v.DisplayName = strings.Repeat("x", 257) }), "display_name"},
		{"bad pool", u(func(v *directory.User) { v.Pool = "pool 1" }), "pool"},
		{"line URI without tel", u(func(v *directory.User) { v.LineURI = "+14255550100" }), "line_uri"},
		{"line URI with 0", u(func(v *directory.User) { v.LineURI = "tel:+04255550100" }), "line_uri"},
		{"letters in extension", u(func(v *directory.User) { v.Extension = "12a" }), "extension"},
		{"16-digit extension", u(func(v *directory.User) { v.Extension = strings.Repeat("9", 16) }), "extension"},
	})
}

func TestSplitSIPURI(t *testing.T) {
	for _, tc := range []struct {
		uri, user, host string
		ok              bool
	}{
		{"sip:alice@parley.test", "alice", "parley.test", true},
		{"sips:bob@example.org", "bob", "example.org", true},
		{"sip:+14255550100@gw.parley.test", "+14255550100", "gw.parley.test", true},
		{"SIP:alice@parley.test", "", "", false},
		{"tel:+14255550100", "", "", false},
		{"sip:parley.test", "", "", false},
		{"sip:@parley.test", "", "", false},
		{"sip:alice@", "", "", false},
		{"alice@parley.test", "", "", false},
		{"", "", "", false},
	} {
		user, host, ok := directory.SplitSIPURI(tc.uri)
		if user != tc.user || host != tc.host || ok != tc.ok {
			t.Errorf("SplitSIPURI(%q) = %q, %q, %v; want %q, %q, %v", tc.uri, user, host, ok, tc.user, tc.host, tc.ok)
		}
	}
}

func TestNewCredential(t *testing.T) {
	// HA1 = H(username ":" realm ":" password), RFC 2617 §3.2.2.2; these
	// values were computed apart from the code, with
	//   printf 'alice:parley.test:secret' | md5sum      (and sha256sum).
	got := directory.NewCredential("alice", "parley.test", "secret")
	want := directory.Credential{
		Realm:     "parley.test",
		HA1MD5:    "9e54d0cede5013916328d06f8795a926",
		HA1SHA256: "642a4c6ac4fd684be0334ee84607c27ec35428b47f31b98c284d6cd2759e4879",
	}
	if got != want {
		t.Errorf("NewCredential = %+v, want %+v", got, want)
	}
	if other := directory.NewCredential("alice", "parley.test", "secreT"); other.HA1MD5 == got.HA1MD5 ||
		other.HA1SHA256 == got.HA1SHA256 {
		t.Error("NewCredential gave the same HA1 for different passwords")
	}
}

// hexMD5 and hexSHA256 hash a literal A1 string, to state the expected HA1
// values of TestNewCredentialAddress independently of NewCredential.
func hexMD5(s string) string {
	h := md5.Sum([]byte(s)) //nolint:gosec // the digest HA1 under test is MD5
	return hex.EncodeToString(h[:])
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestNewCredentialAddress checks which strings NewCredential hashes: the
// user part and, when the address has a domain, the whole "user@domain",
// each with the realm and the password, and nothing for the address form of
// a bare user part.
func TestNewCredentialAddress(t *testing.T) {
	for _, tc := range []struct {
		name, address, realm, password string
		userA1, addrA1                 string // "" for none
	}{
		{"primary domain", "alice@parley.test", "parley.test", "secret",
			"alice:parley.test:secret", "alice@parley.test:parley.test:secret"},
		{"secondary domain, primary realm", "bob@sales.parley.test", "parley.test", "correct horse",
			"bob:parley.test:correct horse", "bob@sales.parley.test:parley.test:correct horse"},
		{"colon and at in the password", "carol@parley.test", "parley.test", "p@ss:w0rd",
			"carol:parley.test:p@ss:w0rd", "carol@parley.test:parley.test:p@ss:w0rd"},
		{"non-ASCII password", "dave@parley.test", "parley.test", "pässwörd",
			"dave:parley.test:pässwörd", "dave@parley.test:parley.test:pässwörd"},
		{"bare user part", "erin", "parley.test", "secret", "erin:parley.test:secret", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := directory.Credential{Realm: tc.realm, HA1MD5: hexMD5(tc.userA1), HA1SHA256: hexSHA256(tc.userA1)}
			if tc.addrA1 != "" {
				want.HA1bMD5, want.HA1bSHA256 = hexMD5(tc.addrA1), hexSHA256(tc.addrA1)
			}
			if got := directory.NewCredential(tc.address, tc.realm, tc.password); got != want {
				t.Errorf("NewCredential(%q, %q, %q)\n got %+v\nwant %+v", tc.address, tc.realm, tc.password, got, want)
			}
		})
	}
	// The address form is the hash of the whole address, not a copy of
	// the user-part one: a client sending "alice" and one sending
	// "alice@parley.test" prove the same password with different HA1s.
	c := directory.NewCredential("alice@parley.test", "parley.test", "secret")
	if c.HA1bMD5 == c.HA1MD5 || c.HA1bSHA256 == c.HA1SHA256 {
		t.Errorf("NewCredential gave equal user-part and address HA1s: %+v", c)
	}
	if len(c.HA1bMD5) != 32 || len(c.HA1bSHA256) != 64 {
		t.Errorf("address HA1 lengths %d, %d; want 32 and 64 hex digits", len(c.HA1bMD5), len(c.HA1bSHA256))
	}
}

// TestCredentialJSON checks that no HA1 value leaves through JSON, which
// is how users are written to logs and to the admin API.
func TestCredentialJSON(t *testing.T) {
	c := directory.NewCredential("alice@parley.test", "parley.test", "secret")
	u := directory.User{URI: "sip:alice@parley.test", Pool: "pool.parley.test", Credential: c}
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{c.HA1MD5, c.HA1SHA256, c.HA1bMD5, c.HA1bSHA256} {
		if secret == "" || strings.Contains(string(b), secret) {
			t.Errorf("JSON of a user %s holds the HA1 %q (or it is empty)", b, secret)
		}
	}
	if !strings.Contains(string(b), `"credential":{"realm":"parley.test"}`) {
		t.Errorf("JSON of a user %s lacks the credential's realm alone", b)
	}
}

func TestValidatePIN(t *testing.T) {
	pool := directory.PSTNSettings{MinPINLength: 5, MaxPINAttempts: 10}
	short := directory.PSTNSettings{MinPINLength: 3, MaxPINAttempts: 10}
	for _, tc := range []struct {
		pin  string
		s    directory.PSTNSettings
		ok   bool
		want string // part of the message
	}{
		{"13579", pool, true, ""},
		{"90123", pool, true, ""}, // 9 → 0 does not continue the run
		{"112233", pool, true, ""},
		{"135", short, true, ""},
		{strings.Repeat("13", 12), pool, true, ""},
		{"1357", pool, false, "at least 5"},
		{"13", short, false, "at least 3"},
		{"", pool, false, "at least 5"},
		{strings.Repeat("13", 12) + "5", pool, false, "at most 24"},
		{"1357a", pool, false, "digits only"},
		{"１３５７９", pool, false, "digits only"}, // full-width digits
		{"13 57", pool, false, "digits only"},
		{"55555", pool, false, "all one digit"},
		{"23456", pool, false, "run"},
		{"987654", pool, false, "run"},
		{"000", short, false, "all one digit"},
	} {
		err := directory.ValidatePIN(tc.pin, tc.s)
		var ve *directory.ValidationError
		switch {
		case tc.ok && err != nil:
			t.Errorf("ValidatePIN(%q) = %v, want nil", tc.pin, err)
		case tc.ok:
		case !errors.As(err, &ve) || ve.Field != "pin":
			t.Errorf("ValidatePIN(%q) = %v, want a *ValidationError for pin", tc.pin, err)
		case !strings.Contains(ve.Msg, tc.want):
			t.Errorf("ValidatePIN(%q) = %q, want a message containing %q", tc.pin, ve.Msg, tc.want)
		}
		if err != nil && tc.pin != "" && strings.Contains(err.Error(), tc.pin) {
			t.Errorf("ValidatePIN(%q) error %q shows the PIN", tc.pin, err)
		}
	}
}

func TestPINExpired(t *testing.T) {
	set := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pin := directory.PIN{Hash: "$argon2id$...", SetAt: set}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		pin  directory.PIN
		now  time.Time
		days int
		want bool
	}{
		{"never expires", pin, set.Add(10000 * day), 0, false},
		{"fresh", pin, set.Add(day), 30, false},
		{"exactly at the limit", pin, set.Add(30 * day), 30, false},
		{"just past the limit", pin, set.Add(30*day + time.Nanosecond), 30, true},
		{"long past", pin, set.Add(365 * day), 30, true},
		{"no PIN", directory.PIN{}, set.Add(365 * day), 30, false},
	} {
		if got := tc.pin.Expired(tc.now, tc.days); got != tc.want {
			t.Errorf("%s: Expired(%v, %d) = %v, want %v", tc.name, tc.now, tc.days, got, tc.want)
		}
	}
	if !pin.IsSet() || (directory.PIN{}).IsSet() {
		t.Error("IsSet is wrong")
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := error(&directory.ValidationError{Field: "extension", Msg: "1001 is already assigned to sip:bob@parley.test"})
	if got, want := err.Error(), "extension: 1001 is already assigned to sip:bob@parley.test"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
