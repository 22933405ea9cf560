package admin

import (
	"errors"
	"regexp"
	"testing"

	"github.com/parleyhq/parley/internal/directory"
)

var demoPassword = regexp.MustCompile(`^[a-km-zA-HJ-NP-Z2-9]{12}$`)

func TestSeedDemo(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	demo, err := e.svc.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if demo.Domain != "parley.test" || len(demo.Users) != 2 {
		t.Fatalf("SeedDemo = %+v", demo)
	}
	wantUsers := []struct{ uri, name, ext, line string }{
		{"sip:alice@parley.test", "Alice Anderson", "1001", "tel:+14255551001"},
		{"sip:bob@parley.test", "Bob Brown", "1002", "tel:+14255551002"},
	}
	for i, w := range wantUsers {
		du := demo.Users[i]
		if du.URI != w.uri || du.DisplayName != w.name || du.Extension != w.ext || du.LineURI != w.line {
			t.Errorf("demo user %d = %+v; want %+v", i, du, w)
		}
		if !demoPassword.MatchString(du.Password) {
			t.Errorf("password %q; want 12 unambiguous letters and digits", du.Password)
		}
		if err := directory.ValidatePIN(du.PIN, directory.DefaultPSTNSettings()); err != nil || len(du.PIN) != demoPINMinLen {
			t.Errorf("PIN %q: %v; want a valid %d-digit PIN", du.PIN, err, demoPINMinLen)
		}
		u, err := e.store.User(ctx, du.URI)
		if err != nil {
			t.Fatal(err)
		}
		user, host, _ := directory.SplitSIPURI(du.URI)
		if u.Credential != directory.NewCredential(user+"@"+host, "parley.test", du.Password) {
			t.Errorf("%s: stored credential does not match the returned password", du.URI)
		}
		if ok, _ := directory.VerifySecret(u.PIN.Hash, du.PIN); !ok {
			t.Errorf("%s: stored PIN hash does not match the returned PIN", du.URI)
		}
		if !u.EnterpriseVoice || u.LocationProfile != "Redmond" || u.MeetingPolicy != "Default" || u.Pool != "pool.parley.test" {
			t.Errorf("%s = %+v", du.URI, u)
		}
	}
	if demo.Users[0].Password == demo.Users[1].Password {
		t.Error("alice and bob got the same password")
	}

	a, err := e.svc.AccessNumber(ctx, "+14255550100")
	if err != nil || a.Region != "US West" || a.PrimaryLanguage != "en-US" ||
		len(a.SecondaryLanguages) != 1 || a.SecondaryLanguages[0] != "es-US" {
		t.Errorf("demo access number = %+v, %v", a, err)
	}
	if r, err := e.svc.Region(ctx, "US West"); err != nil || r.LocationProfile != "Redmond" {
		t.Errorf("region US West = %+v, %v", r, err)
	}
	n, err := e.svc.NormalizeNumber(ctx, "Redmond", "1002")
	if err != nil || n.Number != "+14255551002" {
		t.Errorf("Redmond normalizes 1002 to %+v, %v", n, err)
	}

	// Seeding again changes nothing and reveals no secret.
	before := e.snapshot(t)
	again, err := e.svc.SeedDemo(ctx)
	if !errors.Is(err, ErrDemoExists) {
		t.Fatalf("second SeedDemo error = %v; want ErrDemoExists", err)
	}
	for _, u := range again.Users {
		if u.Password != "" || u.PIN != "" {
			t.Errorf("second SeedDemo returned secrets for %s", u.URI)
		}
	}
	e.unchanged(t, before)
}

func TestSeedDemoAfterBootstrap(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.svc.Bootstrap(ctx, DemoBootstrap); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetPool(ctx, "pool.parley.test", PoolPatch{MinPINLength: ptr(8)}); err != nil {
		t.Fatal(err)
	}
	demo, err := e.svc.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range demo.Users {
		if len(u.PIN) != 8 {
			t.Errorf("PIN %q; want the pool's minimum of 8 digits", u.PIN)
		}
	}
}

// TestSeedDemoResumes checks that a seed interrupted before alice, the
// marker, finishes on the next start and hands out working secrets.
func TestSeedDemoResumes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteUser(ctx, "sip:alice@parley.test"); err != nil {
		t.Fatal(err)
	}
	demo, err := e.svc.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.store.User(ctx, "sip:bob@parley.test")
	if err != nil {
		t.Fatal(err)
	}
	if bob.Credential != directory.NewCredential("bob@parley.test", "parley.test", demo.Users[1].Password) {
		t.Error("bob's stored password is not the one SeedDemo returned")
	}
}
