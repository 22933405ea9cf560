package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store"
)

const testToken = "0123456789abcdef0123456789abcdef-test-token"

// env is an API server over a fresh in-memory store.
type env struct {
	srv    *httptest.Server
	client *Client
	store  directory.Store
	log    *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return newEnvOver(t, db)
}

func newEnvOver(t *testing.T, st directory.Store) *env {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	svc := admin.New(st, log)
	if err := svc.Bootstrap(t.Context(), admin.BootstrapConfig{
		OrgName: "Example", Domain: "example.com", PoolFQDN: "pool.example.com",
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc, testToken, log))
	t.Cleanup(srv.Close)
	return &env{srv: srv, client: NewClient(srv.URL, testToken, srv.Client()), store: st, log: &buf}
}

// request sends a raw request with the test token and returns the status
// and the decoded error body (zero for a success).
func (e *env) request(t *testing.T, method, path, body string) (int, errorBody) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	var eb errorBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: %d answer is not a JSON error: %q", method, path, resp.StatusCode, data)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return resp.StatusCode, eb
}

// dump is the whole directory, to check that failed requests change
// nothing.
func dump(t *testing.T, st directory.Store) string {
	t.Helper()
	ctx := t.Context()
	var parts []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			t.Fatal(err)
		}
		parts = append(parts, v)
	}
	add(st.Organization(ctx))
	add(st.Pools(ctx))
	add(st.Servers(ctx))
	add(st.TrustedServices(ctx))
	add(st.LocationProfiles(ctx))
	add(st.Regions(ctx))
	add(st.MeetingPolicies(ctx))
	add(st.AccessNumbers(ctx))
	add(st.Users(ctx))
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	// json:"-" hides the secrets; add them so that a changed hash counts.
	users, _ := st.Users(ctx)
	for _, u := range users {
		b = append(b, u.Credential.HA1MD5+u.Credential.HA1SHA256+u.PIN.Hash...)
	}
	return string(b)
}

// TestClientMirrorsService checks that the client has every operation of
// admin.Service, with the same signature, so that nothing is left out of
// the API.
func TestClientMirrorsService(t *testing.T) {
	svc := reflect.TypeFor[*admin.Service]()
	cl := reflect.TypeFor[*Client]()
	serverOnly := map[string]bool{"Bootstrap": true, "SeedDemo": true, "SetConferencing": true, "AssignMissingConferenceIDs": true}
	for i := range svc.NumMethod() {
		m := svc.Method(i)
		if serverOnly[m.Name] {
			continue
		}
		c, ok := cl.MethodByName(m.Name)
		if !ok {
			t.Errorf("Client has no method %s", m.Name)
			continue
		}
		ms, cs := m.Type, c.Type
		same := ms.NumIn() == cs.NumIn() && ms.NumOut() == cs.NumOut()
		for j := 1; same && j < ms.NumIn(); j++ {
			same = ms.In(j) == cs.In(j)
		}
		for j := 0; same && j < ms.NumOut(); j++ {
			same = ms.Out(j) == cs.Out(j)
		}
		if !same {
			t.Errorf("Client.%s is %v; want the signature of Service.%s, %v", m.Name, cs, m.Name, ms)
		}
	}
}

// TestEndpoints goes through every endpoint with the client.
func TestEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.client
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	org, err := c.Organization(ctx)
	check("Organization", err)
	if org.Name != "Example" || org.PrimaryDomain() != "example.com" || org.ConferenceKey != nil {
		t.Errorf("Organization = %+v", org)
	}
	org, err = c.SetOrganization(ctx, admin.OrganizationPatch{Domains: []string{"example.com", "example.org"}})
	check("SetOrganization", err)
	if len(org.Domains) != 2 {
		t.Errorf("SetOrganization domains = %v", org.Domains)
	}

	_, err = c.AddPool(ctx, directory.Pool{FQDN: "pool2.example.com", ID: "20"})
	check("AddPool", err)
	p, err := c.SetPool(ctx, "pool2.example.com", admin.PoolPatch{MinPINLength: ptr(7)})
	check("SetPool", err)
	if p.PSTN.MinPINLength != 7 {
		t.Errorf("SetPool = %+v", p)
	}
	p, err = c.Pool(ctx, "pool2.example.com")
	check("Pool", err)
	if p.ID != "20" {
		t.Errorf("Pool = %+v", p)
	}
	pools, err := c.Pools(ctx)
	check("Pools", err)
	if len(pools) != 2 {
		t.Errorf("Pools = %+v", pools)
	}

	_, err = c.AddServer(ctx, directory.Server{FQDN: "fe2.example.com", Pool: "pool2.example.com"})
	check("AddServer", err)
	servers, err := c.Servers(ctx)
	check("Servers", err)
	if len(servers) != 2 {
		t.Errorf("Servers = %+v", servers)
	}
	_, err = c.AddTrustedService(ctx, directory.TrustedService{FQDN: "fe2.example.com", Type: directory.ServiceAnnouncement, Port: 5073})
	check("AddTrustedService", err)
	ts, err := c.TrustedServices(ctx)
	check("TrustedServices", err)
	if len(ts) != 3 {
		t.Errorf("TrustedServices = %+v", ts)
	}
	check("DeleteTrustedService", c.DeleteTrustedService(ctx, "fe2.example.com", directory.ServiceAnnouncement))
	check("DeleteServer", c.DeleteServer(ctx, "fe2.example.com"))

	rules := []dialplan.Rule{{Pattern: `(\d{4})`, Translation: "+1425555$1"}}
	_, err = c.AddLocationProfile(ctx, directory.LocationProfile{Name: "Redmond", Rules: rules})
	check("AddLocationProfile", err)
	l, err := c.SetLocationProfile(ctx, "Redmond", admin.LocationProfilePatch{Description: ptr("WA")})
	check("SetLocationProfile", err)
	if l.Description != "WA" || len(l.Rules) != 1 {
		t.Errorf("SetLocationProfile = %+v", l)
	}
	l, err = c.LocationProfile(ctx, "Redmond")
	check("LocationProfile", err)
	ls, err := c.LocationProfiles(ctx)
	check("LocationProfiles", err)
	if len(ls) != 2 || l.Name != "Redmond" {
		t.Errorf("LocationProfiles = %+v", ls)
	}
	n, err := c.NormalizeNumber(ctx, "Redmond", "0100")
	check("NormalizeNumber", err)
	if n.Number != "+14255550100" || n.RuleIndex != 1 {
		t.Errorf("NormalizeNumber = %+v", n)
	}

	_, err = c.AddRegion(ctx, directory.Region{Name: "US West", LocationProfile: "Default"})
	check("AddRegion", err)
	r, err := c.SetRegion(ctx, "US West", admin.RegionPatch{LocationProfile: ptr("Redmond")})
	check("SetRegion", err)
	if r.LocationProfile != "Redmond" {
		t.Errorf("SetRegion = %+v", r)
	}
	r, err = c.Region(ctx, "US West")
	check("Region", err)
	rs, err := c.Regions(ctx)
	check("Regions", err)
	if len(rs) != 1 || rs[0] != r {
		t.Errorf("Regions = %+v", rs)
	}

	_, err = c.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Small", MaxMeetingSize: 10})
	check("AddMeetingPolicy", err)
	mp, err := c.SetMeetingPolicy(ctx, "Small", admin.MeetingPolicyPatch{PSTNDialIn: ptr(true)})
	check("SetMeetingPolicy", err)
	if !mp.PSTNDialIn {
		t.Errorf("SetMeetingPolicy = %+v", mp)
	}
	mp, err = c.MeetingPolicy(ctx, "Small")
	check("MeetingPolicy", err)
	mps, err := c.MeetingPolicies(ctx)
	check("MeetingPolicies", err)
	if len(mps) != 2 || mp.MaxMeetingSize != 10 {
		t.Errorf("MeetingPolicies = %+v", mps)
	}

	an, err := c.AddAccessNumber(ctx, admin.AddAccessNumber{Number: "+14255550100", Region: "US West", Languages: []string{"en-US", "es-US"}, Pool: "pool.example.com"})
	check("AddAccessNumber", err)
	if an.RegionCreated || an.LineURI != "tel:+14255550100" {
		t.Errorf("AddAccessNumber = %+v", an)
	}
	an2, err := c.AddAccessNumber(ctx, admin.AddAccessNumber{Number: "+442079460000", Region: "London", Pool: "pool.example.com"})
	check("AddAccessNumber(new region)", err)
	if !an2.RegionCreated || an2.RegionProfile != "Default" {
		t.Errorf("AddAccessNumber(new region) = %+v", an2)
	}
	a, err := c.AccessNumber(ctx, "+14255550100")
	check("AccessNumber", err)
	if !cmp.Equal(a, an.AccessNumber) {
		t.Errorf("AccessNumber = %+v; want %+v", a, an.AccessNumber)
	}
	as, err := c.AccessNumbers(ctx)
	check("AccessNumbers", err)
	if len(as) != 2 {
		t.Errorf("AccessNumbers = %+v", as)
	}
	check("DeleteAccessNumber", c.DeleteAccessNumber(ctx, "tel:+442079460000"))
	check("DeleteRegion", c.DeleteRegion(ctx, "London"))

	u, err := c.AddUser(ctx, admin.AddUser{URI: "sip:alice@example.org", Password: "alice-password", PIN: "8061397",
		Extension: "1001", Pool: "pool2.example.com", MeetingPolicy: "Small", EnterpriseVoice: ptr(true)})
	check("AddUser", err)
	if !u.PIN.Set || u.Realm != "example.com" || !u.EnterpriseVoice {
		t.Errorf("AddUser = %+v", u)
	}
	u, err = c.SetUser(ctx, "sip:alice@example.org", admin.UserPatch{DisplayName: ptr("Alice"), LocationProfile: ptr("Redmond")})
	check("SetUser", err)
	if u.DisplayName != "Alice" || u.LocationProfile != "Redmond" {
		t.Errorf("SetUser = %+v", u)
	}
	check("SetPassword", c.SetPassword(ctx, "sip:alice@example.org", "new-alice-password"))
	stored, _ := e.store.User(ctx, "sip:alice@example.org")
	// The HA1s are in the primary domain's realm; the address ones hash
	// alice's own, secondary, domain.
	if stored.Credential != directory.NewCredential("alice@example.org", "example.com", "new-alice-password") {
		t.Error("SetPassword did not store the new password's HA1")
	}
	_, err = c.SetPIN(ctx, "sip:alice@example.org", "9081726")
	check("SetPIN", err)
	_, err = e.store.UpdateUser(ctx, "sip:alice@example.org", func(u *directory.User) error {
		u.PIN.LockedOut, u.PIN.FailedAttempts = true, 10
		return nil
	})
	check("lock PIN", err)
	u, err = c.UnlockPIN(ctx, "sip:alice@example.org")
	check("UnlockPIN", err)
	if u.PIN.LockedOut || u.PIN.FailedAttempts != 0 {
		t.Errorf("UnlockPIN = %+v", u.PIN)
	}
	u, err = c.User(ctx, "sip:alice@example.org")
	check("User", err)
	us, err := c.Users(ctx)
	check("Users", err)
	if len(us) != 1 || !cmp.Equal(us[0], u) {
		t.Errorf("Users = %+v; want [%+v]", us, u)
	}

	check("DeleteUser", c.DeleteUser(ctx, "sip:alice@example.org"))
	check("DeleteMeetingPolicy", c.DeleteMeetingPolicy(ctx, "Small"))
	check("DeleteAccessNumber", c.DeleteAccessNumber(ctx, "+14255550100"))
	check("DeleteRegion", c.DeleteRegion(ctx, "US West"))
	check("DeleteLocationProfile", c.DeleteLocationProfile(ctx, "Redmond"))
	check("DeletePool", c.DeletePool(ctx, "pool2.example.com"))
	if us, err := c.Users(ctx); err != nil || us == nil || len(us) != 0 {
		t.Errorf("Users after delete = %#v, %v; want an empty list", us, err)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		header    string
		status    int
		challenge string
	}{
		{"none", "", 401, `Bearer realm="parley"`},
		{"basic", "Basic YWRtaW46YWRtaW4=", 401, `Bearer realm="parley"`},
		{"wrong token", "Bearer " + testToken + "x", 401, `Bearer realm="parley", error="invalid_token"`},
		{"prefix of token", "Bearer " + testToken[:10], 401, `Bearer realm="parley", error="invalid_token"`},
		{"scheme only", "Bearer ", 401, `Bearer realm="parley"`},
		{"right token", "Bearer " + testToken, 200, ""},
		{"scheme in lower case", "bearer " + testToken, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/api/v1/users", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("WWW-Authenticate") != tt.challenge {
				t.Errorf("status %d, WWW-Authenticate %q; want %d, %q",
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
		})
	}

	// The client reports a wrong token as ErrUnauthorized.
	bad := NewClient(e.srv.URL, "wrong", e.srv.Client())
	if _, err := bad.Users(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Users with a wrong token: %v; want ErrUnauthorized", err)
	}
	if strings.Contains(e.log.String(), testToken) {
		t.Error("the log contains the token")
	}
}

func TestEmptyTokenRefusesAll(t *testing.T) {
	db, err := store.Open(t.Context(), "sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	srv := httptest.NewServer(NewHandler(admin.New(db, nil), "", nil))
	defer srv.Close()
	for _, tok := range []string{"", " "} {
		if _, err := NewClient(srv.URL, tok, srv.Client()).Users(t.Context()); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("token %q: %v; want ErrUnauthorized", tok, err)
		}
	}
}

// TestErrorAnswers sends bad requests and checks the status, the error
// body, and that the directory did not change.
func TestErrorAnswers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.client.AddUser(ctx, admin.AddUser{URI: "sip:bob@example.com", Password: "bob-password", Extension: "1002"}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, e.store)
	big := `{"uri": "sip:x@example.com", "password": "` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name         string
		method, path string
		body         string
		status       int
		code, field  string
		msg          string
	}{
		{"unknown field", "POST", "/api/v1/users", `{"uri": "sip:c@example.com", "password": "password1", "admin": true}`,
			400, CodeBadRequest, "", `unknown field "admin"`},
		{"malformed", "POST", "/api/v1/users", `{"uri": `, 400, CodeBadRequest, "", "malformed JSON"},
		{"wrong type", "POST", "/api/v1/users", `{"uri": 5}`, 400, CodeBadRequest, "", "malformed JSON"},
		{"trailing data", "POST", "/api/v1/users", `{"uri": "sip:c@example.com", "password": "password1"} {}`,
			400, CodeBadRequest, "", "data after the object"},
		{"empty body", "POST", "/api/v1/users", ``, 400, CodeBadRequest, "", "empty"},
		{"array body", "POST", "/api/v1/users", `[]`, 400, CodeBadRequest, "", "malformed JSON"},
		{"too large", "POST", "/api/v1/users", big, 413, CodeTooLarge, "", "1 MiB"},
		{"short password", "POST", "/api/v1/users", `{"uri": "sip:c@example.com", "password": "short"}`,
			400, CodeInvalid, "password", "at least 8 characters"},
		{"short PIN", "POST", "/api/v1/users", `{"uri": "sip:c@example.com", "password": "password1", "pin": "1357"}`,
			400, CodeInvalid, "pin", "at least 5 digits"},
		{"taken extension", "POST", "/api/v1/users", `{"uri": "sip:c@example.com", "password": "password1", "extension": "1002"}`,
			400, CodeInvalid, "extension", "sip:bob@example.com"},
		{"duplicate user", "POST", "/api/v1/users", `{"uri": "sip:bob@example.com", "password": "password1"}`,
			409, CodeExists, "", "user sip:bob@example.com already exists"},
		{"unknown user", "GET", "/api/v1/users/sip:nobody@example.com", "", 404, CodeNotFound, "", "does not exist"},
		{"set PIN of unknown user", "PUT", "/api/v1/users/sip:nobody@example.com/pin", `{"pin": "97531"}`,
			404, CodeNotFound, "", "does not exist"},
		{"weak PIN", "PUT", "/api/v1/users/sip:bob@example.com/pin", `{"pin": "11111"}`, 400, CodeInvalid, "pin", "all one digit"},
		{"PIN unknown field", "PUT", "/api/v1/users/sip:bob@example.com/pin", `{"pin": "97531", "force": true}`,
			400, CodeBadRequest, "", `unknown field "force"`},
		{"bad password", "PUT", "/api/v1/users/sip:bob@example.com/password", `{"password": "x"}`, 400, CodeInvalid, "password", "at least 8"},
		{"empty patch", "PATCH", "/api/v1/users/sip:bob@example.com", `{}`, 400, CodeInvalid, "", "nothing to change"},
		{"bad rule", "POST", "/api/v1/location-profiles", `{"name": "Paris", "rules": [{"pattern": "(\\d", "translation": "+33$1"}]}`,
			400, CodeInvalid, "rules", `rule 1 "(\\d=>+33$1": bad regular expression`},
		{"unknown region profile", "POST", "/api/v1/regions", `{"name": "EU", "location_profile": "Paris"}`,
			400, CodeInvalid, "location_profile", `location profile "Paris" does not exist`},
		{"pool in use", "DELETE", "/api/v1/pools/pool.example.com", "", 409, CodeInUse, "", "pool pool.example.com is still used by"},
		{"policy in use", "DELETE", "/api/v1/meeting-policies/Default", "", 409, CodeInUse, "", "still used by 1 user"},
		{"bad access number", "POST", "/api/v1/access-numbers", `{"number": "555-0100", "region": "US West"}`,
			400, CodeInvalid, "number", "E.164"},
		{"normalize without number", "GET", "/api/v1/location-profiles/Default/normalize", "", 400, CodeInvalid, "number", "empty"},
		{"bad pool settings", "PATCH", "/api/v1/pools/pool.example.com", `{"max_pin_attempts": 0}`,
			400, CodeInvalid, "max_pin_attempts", "between 1 and 1000"},
		{"organization unknown field", "PATCH", "/api/v1/organization", `{"conference_key": "AAAA"}`,
			400, CodeBadRequest, "", `unknown field "conference_key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, eb := e.request(t, tt.method, tt.path, tt.body)
			if status != tt.status || eb.Code != tt.code || eb.Field != tt.field || !strings.Contains(eb.Error, tt.msg) {
				t.Errorf("%s %s = %d %+v; want %d, code %q, field %q, message containing %q",
					tt.method, tt.path, status, eb, tt.status, tt.code, tt.field, tt.msg)
			}
			if after := dump(t, e.store); after != before {
				t.Error("the failed request changed the directory")
			}
		})
	}
}

// brokenStore fails every user listing, as a database that went away.
type brokenStore struct{ directory.Store }

func (brokenStore) Users(context.Context) ([]directory.User, error) {
	return nil, errors.New("disk on fire")
}

func TestInternalError(t *testing.T) {
	db, err := store.Open(t.Context(), "sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	e := newEnvOver(t, brokenStore{db})
	status, eb := e.request(t, "GET", "/api/v1/users", "")
	if status != 500 || eb.Code != CodeInternal || strings.Contains(eb.Error, "disk") {
		t.Errorf("GET /users = %d %+v; want 500 with a generic message", status, eb)
	}
	if n := strings.Count(e.log.String(), "disk on fire"); n != 1 {
		t.Errorf("the cause is logged %d times; want once:\n%s", n, e.log.String())
	}
}

func TestClientErrors(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.client.AddUser(ctx, admin.AddUser{URI: "sip:c@example.com", Password: "password1", PIN: "12"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 400 || ae.AsValidation() == nil || err.Error() != "pin: must be at least 5 digits" {
		t.Errorf("AddUser(short PIN) error = %#v; want the server's validation message", err)
	}
	_, err = e.client.User(ctx, "sip:nobody@example.com")
	if !errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrExists) || err.Error() != "user sip:nobody@example.com does not exist" {
		t.Errorf("User(unknown) error = %v; want ErrNotFound with the server's message", err)
	}
	if err := e.client.DeleteMeetingPolicy(ctx, "Default"); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Default"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.AddMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Default"})
	if !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddMeetingPolicy(duplicate) error = %v; want ErrExists", err)
	}

	// A path the API does not have gets the mux's plain 404.
	err = e.client.do(ctx, "GET", "/nothing-here", nil, nil)
	if !errors.As(err, &ae) || ae.Status != 404 || !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GET /nothing-here error = %#v", err)
	}

	// A server that is gone is ErrUnreachable.
	url := e.srv.URL
	e.srv.Close()
	if _, err := NewClient(url, testToken, nil).Users(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Users with the server gone: %v; want ErrUnreachable", err)
	}
}

// TestNoSecretsInAnswers checks that no answer carries a password, PIN or
// their hashes.
func TestNoSecretsInAnswers(t *testing.T) {
	e := newEnv(t)
	body := `{"uri": "sip:carol@example.com", "password": "carol-secret-pw", "pin": "2468013"}`
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/api/v1/users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	created, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /users = %d %s", resp.StatusCode, created)
	}
	u, _ := e.store.User(t.Context(), "sip:carol@example.com")
	for _, path := range []string{"/api/v1/users", "/api/v1/users/sip:carol@example.com"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		for _, s := range []string{"carol-secret-pw", "2468013", u.Credential.HA1MD5, u.Credential.HA1SHA256, u.PIN.Hash, "argon2"} {
			for _, answer := range [][]byte{created, got} {
				if bytes.Contains(answer, []byte(s)) {
					t.Errorf("an answer contains the secret %q: %s", s, answer)
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
