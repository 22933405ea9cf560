package admin

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store"
)

// testBootstrap is the deployment most tests start from.
var testBootstrap = BootstrapConfig{
	OrgName: "Example", Domain: "example.com", PoolFQDN: "pool.example.com", PoolID: "10",
}

// env is a Service over a fresh in-memory SQLite store, with its log kept.
type env struct {
	svc   *Service
	store *store.DB
	log   *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var buf bytes.Buffer
	svc := New(db, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc.now = func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }
	return &env{svc: svc, store: db, log: &buf}
}

// bootstrapped returns an env after Bootstrap(testBootstrap).
func bootstrapped(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	if err := e.svc.Bootstrap(t.Context(), testBootstrap); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	return e
}

// snapshot is everything the store holds, to check that a failed operation
// changed nothing.
type snapshot struct {
	Org      directory.Organization
	Pools    []directory.Pool
	Servers  []directory.Server
	Services []directory.TrustedService
	Profiles []directory.LocationProfile
	Regions  []directory.Region
	Policies []directory.MeetingPolicy
	Numbers  []directory.AccessNumber
	Users    []directory.User
}

func (e *env) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := t.Context()
	var s snapshot
	var err error
	if s.Org, err = e.store.Organization(ctx); err != nil && !errors.Is(err, directory.ErrNotFound) {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	s.Pools, err = e.store.Pools(ctx)
	must(err)
	s.Servers, err = e.store.Servers(ctx)
	must(err)
	s.Services, err = e.store.TrustedServices(ctx)
	must(err)
	s.Profiles, err = e.store.LocationProfiles(ctx)
	must(err)
	s.Regions, err = e.store.Regions(ctx)
	must(err)
	s.Policies, err = e.store.MeetingPolicies(ctx)
	must(err)
	s.Numbers, err = e.store.AccessNumbers(ctx)
	must(err)
	s.Users, err = e.store.Users(ctx)
	must(err)
	return s
}

// unchanged fails the test when the store differs from before.
func (e *env) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	if diff := cmp.Diff(before, e.snapshot(t)); diff != "" {
		t.Errorf("failed operation changed the store (-before +after):\n%s", diff)
	}
}

// wantValidation checks that err is a *directory.ValidationError for field
// whose message contains msg.
func wantValidation(t *testing.T, err error, field, msg string) {
	t.Helper()
	var ve *directory.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v; want a ValidationError for %q", err, field)
	}
	if ve.Field != field || !strings.Contains(ve.Msg, msg) {
		t.Errorf("error = {%q, %q}; want field %q, message containing %q", ve.Field, ve.Msg, field, msg)
	}
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cfg := testBootstrap
	cfg.ServerFQDN = "fe1.example.com"
	if err := e.svc.Bootstrap(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got := e.snapshot(t)
	if got.Org.Name != "Example" || !cmp.Equal(got.Org.Domains, []string{"example.com"}) || len(got.Org.ConferenceKey) < 16 {
		t.Errorf("organization = %+v", got.Org)
	}
	wantPools := []directory.Pool{{FQDN: "pool.example.com", ID: "10", PSTN: directory.DefaultPSTNSettings()}}
	if diff := cmp.Diff(wantPools, got.Pools); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]directory.Server{{FQDN: "fe1.example.com", Pool: "pool.example.com"}}, got.Servers); diff != "" {
		t.Errorf("servers (-want +got):\n%s", diff)
	}
	wantServices := map[directory.TrustedService]bool{
		{FQDN: "pool.example.com", Type: directory.ServiceAttendant, Port: 5072}:    true,
		{FQDN: "pool.example.com", Type: directory.ServiceAnnouncement, Port: 5073}: true,
		{FQDN: "fe1.example.com", Type: directory.ServiceAttendant, Port: 5072}:     true,
		{FQDN: "fe1.example.com", Type: directory.ServiceAnnouncement, Port: 5073}:  true,
	}
	if len(got.Services) != len(wantServices) {
		t.Errorf("trusted services = %+v; want %d", got.Services, len(wantServices))
	}
	for _, s := range got.Services {
		if !wantServices[s] {
			t.Errorf("unexpected trusted service %+v", s)
		}
	}
	if diff := cmp.Diff([]directory.MeetingPolicy{defaultPolicy()}, got.Policies); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	n, err := e.svc.NormalizeNumber(ctx, "Default", "+44 20 7946 0000")
	if err != nil || n.Number != "+442079460000" || !n.Matched {
		t.Errorf("Default profile normalizes to %+v, %v", n, err)
	}

	// A second run, with a changed policy and different settings, keeps
	// everything as it is.
	if _, err := e.svc.SetMeetingPolicy(ctx, "Default", MeetingPolicyPatch{MaxMeetingSize: ptr(20)}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	cfg.OrgName, cfg.PoolID = "Other", "11"
	if err := e.svc.Bootstrap(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e.unchanged(t, before)
}

func TestBootstrapStandardEdition(t *testing.T) {
	e := bootstrapped(t)
	s := e.snapshot(t)
	if len(s.Servers) != 1 || s.Servers[0].FQDN != "pool.example.com" {
		t.Errorf("servers = %+v; want the pool FQDN as the one server", s.Servers)
	}
	if len(s.Services) != 2 {
		t.Errorf("trusted services = %+v; want CAA and CAS once", s.Services)
	}
}

func TestBootstrapInvalid(t *testing.T) {
	tests := []struct {
		name  string
		cfg   BootstrapConfig
		field string
	}{
		{"bad domain", BootstrapConfig{Domain: "exa mple.com", PoolFQDN: "pool.example.com"}, "domains"},
		{"bad pool", BootstrapConfig{Domain: "example.com", PoolFQDN: "pool_1"}, "fqdn"},
		{"bad pool ID", BootstrapConfig{Domain: "example.com", PoolFQDN: "p.example.com", PoolID: "x"}, "id"},
		{"bad port", BootstrapConfig{Domain: "example.com", PoolFQDN: "p.example.com", AttendantPort: 70000}, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot(t)
			err := e.svc.Bootstrap(t.Context(), tt.cfg)
			wantValidation(t, err, tt.field, "")
			e.unchanged(t, before)
		})
	}
}

func TestOrganization(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.Organization(ctx); err == nil {
		t.Fatal("Organization before Bootstrap succeeded")
	}
	if err := e.svc.Bootstrap(ctx, testBootstrap); err != nil {
		t.Fatal(err)
	}
	o, err := e.svc.Organization(ctx)
	if err != nil || o.ConferenceKey != nil {
		t.Fatalf("Organization = %+v, %v; want no conference key", o, err)
	}
	o, err = e.svc.SetOrganization(ctx, OrganizationPatch{
		Name: ptr("Example Inc."), Domains: []string{"Example.com", "example.org", "example.com"},
		WebExternalURL: ptr("https://meet.example.com/"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := directory.Organization{Name: "Example Inc.", Domains: []string{"example.com", "example.org"},
		WebExternalURL: "https://meet.example.com/"}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("SetOrganization (-want +got):\n%s", diff)
	}
	key := e.snapshot(t).Org.ConferenceKey
	if len(key) == 0 {
		t.Error("conference key lost")
	}

	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:carol@example.org", Password: "secret-pass"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	tests := []struct {
		name  string
		patch OrganizationPatch
		field string
		msg   string
	}{
		{"empty", OrganizationPatch{}, "", "nothing to change"},
		{"bad URL", OrganizationPatch{WebInternalURL: ptr("ftp://x")}, "web_internal_url", "http"},
		{"no name", OrganizationPatch{Name: ptr(" ")}, "name", "empty"},
		{"primary change", OrganizationPatch{Domains: []string{"example.net", "example.com", "example.org"}}, "domains", "cannot change"},
		{"remove used", OrganizationPatch{Domains: []string{"example.com"}}, "domains", "sip:carol@example.org"},
		{"no domains", OrganizationPatch{Domains: []string{}}, "domains", "at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SetOrganization(ctx, tt.patch)
			wantValidation(t, err, tt.field, tt.msg)
			e.unchanged(t, before)
		})
	}
}

func TestPools(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	p, err := e.svc.AddPool(ctx, directory.Pool{FQDN: "Pool2.Example.com", ID: "20"})
	if err != nil {
		t.Fatal(err)
	}
	if p.FQDN != "pool2.example.com" || p.PSTN != directory.DefaultPSTNSettings() {
		t.Errorf("AddPool = %+v; want lower-case FQDN and default PSTN settings", p)
	}
	before := e.snapshot(t)
	_, err = e.svc.AddPool(ctx, directory.Pool{FQDN: "pool2.example.com", ID: "30"})
	if !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddPool(duplicate) error = %v; want ErrExists", err)
	}
	_, err = e.svc.AddPool(ctx, directory.Pool{FQDN: "pool3.example.com", ID: "10"})
	wantValidation(t, err, "id", "already used by pool pool.example.com")
	_, err = e.svc.SetPool(ctx, "pool2.example.com", PoolPatch{MinPINLength: ptr(2)})
	wantValidation(t, err, "min_pin_length", "between 3 and 24")
	_, err = e.svc.SetPool(ctx, "pool2.example.com", PoolPatch{})
	wantValidation(t, err, "", "nothing to change")
	_, err = e.svc.SetPool(ctx, "nope.example.com", PoolPatch{MinPINLength: ptr(6)})
	if !errors.Is(err, directory.ErrNotFound) || err.Error() != "pool nope.example.com does not exist" {
		t.Errorf("SetPool(unknown) error = %v", err)
	}
	if err := e.svc.DeletePool(ctx, "pool.example.com"); !errors.Is(err, directory.ErrInUse) ||
		!strings.Contains(err.Error(), "pool pool.example.com is still used by 1 server") {
		t.Errorf("DeletePool(in use) error = %v; want ErrInUse naming the server", err)
	}
	e.unchanged(t, before)

	p, err = e.svc.SetPool(ctx, "pool2.example.com", PoolPatch{
		MinPINLength: ptr(6), MaxPINAttempts: ptr(3), PINExpiryDays: ptr(90), WebInternalURL: ptr("https://intra/"),
	})
	want := directory.Pool{FQDN: "pool2.example.com", ID: "20", WebInternalURL: "https://intra/",
		PSTN: directory.PSTNSettings{MinPINLength: 6, MaxPINAttempts: 3, PINExpiryDays: 90}}
	if err != nil || !cmp.Equal(p, want) {
		t.Errorf("SetPool = %+v, %v; want %+v", p, err, want)
	}
	if got, err := e.svc.Pool(ctx, "POOL2.example.com"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("Pool = %+v, %v; want %+v", got, err, want)
	}
	if err := e.svc.DeletePool(ctx, "pool2.example.com"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := e.svc.Pools(ctx); len(ps) != 1 {
		t.Errorf("Pools after delete = %+v", ps)
	}
}

func TestServersAndTrustedServices(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddServer(ctx, directory.Server{FQDN: "fe2.example.com", Pool: "pool.example.com"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	_, err := e.svc.AddServer(ctx, directory.Server{FQDN: "fe3.example.com", Pool: "other.example.com"})
	wantValidation(t, err, "pool", `pool "other.example.com" does not exist; pools: "pool.example.com"`)
	if _, err := e.svc.AddServer(ctx, directory.Server{FQDN: "fe2.example.com", Pool: "pool.example.com"}); !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddServer(duplicate) error = %v; want ErrExists", err)
	}
	_, err = e.svc.AddTrustedService(ctx, directory.TrustedService{FQDN: "fe2.example.com", Type: "x", Port: 1})
	wantValidation(t, err, "type", "")
	_, err = e.svc.AddTrustedService(ctx, directory.TrustedService{FQDN: "pool.example.com", Type: directory.ServiceAttendant, Port: 6000})
	if !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddTrustedService(duplicate) error = %v; want ErrExists", err)
	}
	if err := e.svc.DeleteServer(ctx, "fe9.example.com"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("DeleteServer(unknown) error = %v; want ErrNotFound", err)
	}
	e.unchanged(t, before)

	ts := directory.TrustedService{FQDN: "fe2.example.com", Type: directory.ServiceAttendant, Port: 5072}
	if _, err := e.svc.AddTrustedService(ctx, ts); err != nil {
		t.Fatal(err)
	}
	if all, _ := e.svc.TrustedServices(ctx); len(all) != 3 {
		t.Errorf("TrustedServices = %+v; want 3", all)
	}
	if err := e.svc.DeleteTrustedService(ctx, ts.FQDN, ts.Type); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteServer(ctx, "fe2.example.com"); err != nil {
		t.Fatal(err)
	}
	if all, _ := e.svc.Servers(ctx); len(all) != 1 {
		t.Errorf("Servers = %+v; want 1", all)
	}
}

func TestMeetingPolicies(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	p, err := e.svc.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Small", PSTNDialIn: true})
	if err != nil || p.MaxMeetingSize != DefaultMaxMeetingSize {
		t.Fatalf("AddMeetingPolicy = %+v, %v; want the default size", p, err)
	}
	before := e.snapshot(t)
	if _, err := e.svc.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Small"}); !errors.Is(err, directory.ErrExists) ||
		err.Error() != `meeting policy "Small" already exists` {
		t.Errorf("AddMeetingPolicy(duplicate) error = %v", err)
	}
	_, err = e.svc.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "/bad"})
	wantValidation(t, err, "name", "")
	_, err = e.svc.SetMeetingPolicy(ctx, "Small", MeetingPolicyPatch{MaxMeetingSize: ptr(1)})
	wantValidation(t, err, "max_meeting_size", "between 2 and 100000")
	e.unchanged(t, before)

	p, err = e.svc.SetMeetingPolicy(ctx, "Small", MeetingPolicyPatch{MaxMeetingSize: ptr(10), AnonymousAllowed: ptr(true)})
	want := directory.MeetingPolicy{Name: "Small", PSTNDialIn: true, MaxMeetingSize: 10, AnonymousAllowed: true}
	if err != nil || p != want {
		t.Errorf("SetMeetingPolicy = %+v, %v; want %+v", p, err, want)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1", MeetingPolicy: "Small"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteMeetingPolicy(ctx, "Small"); !errors.Is(err, directory.ErrInUse) {
		t.Errorf("DeleteMeetingPolicy(in use) error = %v; want ErrInUse", err)
	}
	if err := e.svc.DeleteUser(ctx, "sip:a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteMeetingPolicy(ctx, "Small"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MeetingPolicy(ctx, "Small"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("MeetingPolicy(deleted) error = %v; want ErrNotFound", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestNoSecretsInLogs runs every operation that takes a secret and checks
// that no secret, nor its HA1, reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	demo, err := e.svc.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:carol@parley.test", Password: "carol-password-1", PIN: "918273"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetPassword(ctx, "sip:carol@parley.test", "carol-password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetPIN(ctx, "sip:carol@parley.test", "564738"); err != nil {
		t.Fatal(err)
	}
	_, _ = e.svc.SetPIN(ctx, "sip:carol@parley.test", "1")
	e.svc.log.InfoContext(ctx, "request", "input", AddUser{URI: "sip:x@parley.test", Password: "logged-by-mistake", PIN: "777888"})
	secrets := []string{"carol-password-1", "carol-password-2", "918273", "564738", "logged-by-mistake", "777888"}
	for _, u := range demo.Users {
		c := directory.NewCredential(strings.TrimPrefix(u.URI, "sip:"), "parley.test", u.Password)
		secrets = append(secrets, u.Password, u.PIN, c.HA1MD5, c.HA1bMD5)
	}
	logged := e.log.String()
	if !strings.Contains(logged, "user added") {
		t.Fatalf("log has no user messages:\n%s", logged)
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("log contains secret %q", s)
		}
	}
	if got := (AddUser{URI: "sip:x@y", Password: "p4ssw0rd!", PIN: "13579"}).String(); strings.Contains(got, "p4ssw0rd!") || strings.Contains(got, "13579") {
		t.Errorf("AddUser.String() = %q; leaks a secret", got)
	}
}
