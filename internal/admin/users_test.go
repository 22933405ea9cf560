package admin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/directory"
)

func TestAddUser(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddLocationProfile(ctx, directory.LocationProfile{Name: "Redmond"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.AddUser(ctx, AddUser{
		URI: "Alice@Example.COM", Password: "correct horse", DisplayName: " Alice Anderson ",
		Extension: "1001", LineURI: "+14255551001", PIN: "80613", LocationProfile: "Redmond",
		EnterpriseVoice: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := User{
		URI: "sip:alice@example.com", DisplayName: "Alice Anderson", Pool: "pool.example.com", Enabled: true,
		EnterpriseVoice: true, LineURI: "tel:+14255551001", Extension: "1001", LocationProfile: "Redmond",
		MeetingPolicy: "Default", Realm: "example.com",
		PIN: PINStatus{Set: true, SetAt: e.svc.now()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AddUser (-want +got):\n%s", diff)
	}
	if shown, err := e.svc.User(ctx, "sip:ALICE@example.com"); err != nil || !cmp.Equal(shown, want) {
		t.Errorf("User = %+v, %v; want %+v", shown, err, want)
	}

	// The store keeps the HA1s of the password in the primary domain's
	// realm, over "alice" and over "alice@example.com", and a hash of the
	// PIN that verifies.
	u, err := e.store.User(ctx, "sip:alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c := directory.NewCredential("alice@example.com", "example.com", "correct horse"); u.Credential != c {
		t.Errorf("credential = %+v; want %+v", u.Credential, c)
	}
	if ok, err := directory.VerifySecret(u.PIN.Hash, "80613"); !ok || err != nil {
		t.Errorf("VerifySecret(stored PIN hash, PIN) = %v, %v; want true", ok, err)
	}
}

func TestAddUserRejects(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.SetOrganization(ctx, OrganizationPatch{Domains: []string{"example.com", "example.org"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:bob@example.com", Password: "bob-password", Extension: "1002", LineURI: "tel:+14255551002"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddAccessNumber(ctx, AddAccessNumber{Number: "+14255550100", Region: "R"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	ok := AddUser{URI: "sip:carol@example.com", Password: "carol-password"}
	tests := []struct {
		name   string
		change func(*AddUser)
		field  string
		msg    string
	}{
		{"not a URI", func(a *AddUser) { a.URI = "carol" }, "uri", "not a SIP URI"},
		{"sips", func(a *AddUser) { a.URI = "sips:carol@example.com" }, "uri", "not sips:"},
		{"foreign domain", func(a *AddUser) { a.URI = "sip:carol@example.net" }, "uri", `"example.com", "example.org"`},
		{"no password", func(a *AddUser) { a.Password = "" }, "password", "required"},
		{"short password", func(a *AddUser) { a.Password = "1234567" }, "password", "at least 8"},
		{"long password", func(a *AddUser) { a.Password = strings.Repeat("x", 129) }, "password", "at most 128"},
		{"control character", func(a *AddUser) { a.Password = "pass\nword" }, "password", "control"},
		{"unknown pool", func(a *AddUser) { a.Pool = "p.example.com" }, "pool", `pools: "pool.example.com"`},
		{"unknown policy", func(a *AddUser) { a.MeetingPolicy = "Gold" }, "meeting_policy", `policies: "Default"`},
		{"unknown profile", func(a *AddUser) { a.LocationProfile = "Paris" }, "location_profile", `location profiles: "Default"`},
		{"bad extension", func(a *AddUser) { a.Extension = "12a" }, "extension", "digits"},
		{"taken extension", func(a *AddUser) { a.Extension = "1002" }, "extension", "sip:bob@example.com"},
		{"bad line URI", func(a *AddUser) { a.LineURI = "4255551003" }, "line_uri", "E.164"},
		{"taken line URI", func(a *AddUser) { a.LineURI = "tel:+14255551002;ext=2" }, "line_uri", "sip:bob@example.com"},
		{"access number", func(a *AddUser) { a.LineURI = "+14255550100" }, "line_uri", "access number"},
		{"short PIN", func(a *AddUser) { a.PIN = "9182" }, "pin", "at least 5 digits"},
		{"weak PIN", func(a *AddUser) { a.PIN = "12345" }, "pin", "run"},
		{"letters in PIN", func(a *AddUser) { a.PIN = "91a27" }, "pin", "digits only"},
		{"long name", func(a *AddUser) { a.DisplayName = strings.Repeat("n", 257) }, "display_name", "256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.change(&in)
			_, err := e.svc.AddUser(ctx, in)
			wantValidation(t, err, tt.field, tt.msg)
			e.unchanged(t, before)
		})
	}
	_, err := e.svc.AddUser(ctx, AddUser{URI: "sip:BOB@example.com", Password: "another-password"})
	if !errors.Is(err, directory.ErrExists) || err.Error() != "user sip:bob@example.com already exists" {
		t.Errorf("AddUser(duplicate) error = %v; want ErrExists", err)
	}
	e.unchanged(t, before)
}

func TestAddUserNeedsPoolChoice(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddPool(ctx, directory.Pool{FQDN: "pool2.example.com", ID: "20"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1"})
	wantValidation(t, err, "pool", `choose one of "pool.example.com", "pool2.example.com"`)
	u, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1", Pool: "POOL2.example.com"})
	if err != nil || u.Pool != "pool2.example.com" {
		t.Errorf("AddUser with pool = %+v, %v", u, err)
	}
}

func TestAddUserBeforeBootstrap(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.AddUser(t.Context(), AddUser{URI: "sip:a@example.com", Password: "password1"})
	wantValidation(t, err, "organization", "parley serve")
}

func TestSetPassword(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	wantValidation(t, e.svc.SetPassword(ctx, "sip:a@example.com", "short"), "password", "at least 8")
	if err := e.svc.SetPassword(ctx, "sip:b@example.com", "password2"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetPassword(unknown) error = %v; want ErrNotFound", err)
	}
	e.unchanged(t, before)
	if err := e.svc.SetPassword(ctx, "a@example.com", "password2"); err != nil {
		t.Fatal(err)
	}
	u, _ := e.store.User(ctx, "sip:a@example.com")
	if c := directory.NewCredential("a@example.com", "example.com", "password2"); u.Credential != c {
		t.Errorf("credential = %+v; want %+v", u.Credential, c)
	}
}

func TestSetPINAndUnlock(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.SetPool(ctx, "pool.example.com", PoolPatch{MinPINLength: ptr(6), PINExpiryDays: ptr(30)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	lock := func() {
		t.Helper()
		_, err := e.store.UpdateUser(ctx, "sip:a@example.com", func(u *directory.User) error {
			u.PIN.FailedAttempts, u.PIN.LockedOut = 10, true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lock()
	before := e.snapshot(t)
	_, err := e.svc.SetPIN(ctx, "sip:a@example.com", "90817")
	wantValidation(t, err, "pin", "at least 6 digits")
	if _, err := e.svc.SetPIN(ctx, "sip:nobody@example.com", "908172"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetPIN(unknown) error = %v; want ErrNotFound", err)
	}
	e.unchanged(t, before)

	u, err := e.svc.SetPIN(ctx, "sip:a@example.com", "908172")
	want := PINStatus{Set: true, SetAt: e.svc.now()}
	if err != nil || u.PIN != want {
		t.Fatalf("SetPIN = %+v, %v; want PIN %+v", u.PIN, err, want)
	}
	lock()
	u, err = e.svc.UnlockPIN(ctx, "sip:a@example.com")
	if err != nil || u.PIN != want {
		t.Errorf("UnlockPIN = %+v, %v; want PIN %+v", u.PIN, err, want)
	}
	stored, _ := e.store.User(ctx, "sip:a@example.com")
	if ok, _ := directory.VerifySecret(stored.PIN.Hash, "908172"); !ok {
		t.Error("UnlockPIN lost the PIN")
	}

	// 31 days later the PIN shows as expired.
	e.svc.now = func() time.Time { return want.SetAt.Add(31 * 24 * time.Hour) }
	if u, _ := e.svc.User(ctx, "sip:a@example.com"); !u.PIN.Expired {
		t.Errorf("PIN = %+v; want expired", u.PIN)
	}
	if us, _ := e.svc.Users(ctx); len(us) != 1 || !us[0].PIN.Expired {
		t.Errorf("Users = %+v; want one with an expired PIN", us)
	}
}

func TestSetUser(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1", Extension: "1001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:b@example.com", Password: "password1", Extension: "1002"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddPool(ctx, directory.Pool{FQDN: "pool2.example.com", ID: "20"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	tests := []struct {
		name  string
		patch UserPatch
		field string
		msg   string
	}{
		{"nothing", UserPatch{}, "", "nothing to change"},
		{"taken extension", UserPatch{Extension: ptr("1002")}, "extension", "sip:b@example.com"},
		{"bad line", UserPatch{LineURI: ptr("tel:123")}, "line_uri", "E.164"},
		{"unknown policy", UserPatch{MeetingPolicy: ptr("Gold")}, "meeting_policy", "does not exist"},
		{"unknown profile", UserPatch{LocationProfile: ptr("Paris")}, "location_profile", "does not exist"},
		{"unknown pool", UserPatch{Pool: ptr("pool3.example.com")}, "pool", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SetUser(ctx, "sip:a@example.com", tt.patch)
			wantValidation(t, err, tt.field, tt.msg)
			e.unchanged(t, before)
		})
	}
	if _, err := e.svc.SetUser(ctx, "sip:z@example.com", UserPatch{Enabled: ptr(false)}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetUser(unknown) error = %v; want ErrNotFound", err)
	}

	got, err := e.svc.SetUser(ctx, "sip:a@example.com", UserPatch{
		DisplayName: ptr("A"), Extension: ptr(""), LineURI: ptr("+14255551001;ext=1"), Enabled: ptr(false),
		EnterpriseVoice: ptr(true), MeetingPolicy: ptr(""), LocationProfile: ptr("Default"), Pool: ptr("pool2.example.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := User{URI: "sip:a@example.com", DisplayName: "A", Pool: "pool2.example.com", EnterpriseVoice: true,
		LineURI: "tel:+14255551001;ext=1", LocationProfile: "Default", Realm: "example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SetUser (-want +got):\n%s", diff)
	}
	// Setting a user's own extension again is not a conflict.
	if _, err := e.svc.SetUser(ctx, "sip:b@example.com", UserPatch{Extension: ptr("1002")}); err != nil {
		t.Errorf("SetUser(own extension) error = %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteUser(ctx, "sip:a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteUser(ctx, "sip:a@example.com"); !errors.Is(err, directory.ErrNotFound) ||
		err.Error() != "user sip:a@example.com does not exist" {
		t.Errorf("DeleteUser(deleted) error = %v; want ErrNotFound", err)
	}
	if us, err := e.svc.Users(ctx); err != nil || len(us) != 0 {
		t.Errorf("Users = %+v, %v; want none", us, err)
	}
}
