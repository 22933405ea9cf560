package immcu_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/immcu"
)

// TestControl runs the Focus's commands, good and bad, in order: a refused
// command changes nothing.
func TestControl(t *testing.T) {
	h := newHarness(t, func(c *immcu.Config) { c.MaxConferences = 2 })
	other := c3p.ConferenceURI(bob, c3p.ServiceFocus, "OTHER1")
	third := c3p.ConferenceURI(carol, c3p.ServiceFocus, "THIRD1")
	keys := &c3p.ConferenceKeys{ConfEntity: focusURI}
	user := func(entity string) *c3p.User { return &c3p.User{Entity: entity, Roles: []string{c3p.RolePresenter}} }
	tests := []struct {
		name   string
		cmd    c3p.Command
		reason string // "" for success
	}{
		{"addUser before addConference", &c3p.AddUser{Keys: keys, User: user(bob)}, "conferenceDoesNotExist"},
		{"addConference", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: focusURI}}, ""},
		{"addConference again", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: focusURI}}, ""},
		{"addConference, not a conference URI", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: "sip:bob@parley.test"}}, "requestMalformed"},
		{"addConference without info", &c3p.AddConference{}, "requestMalformed"},
		{"second conference", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: other}}, ""},
		{"past MaxConferences", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: third}}, c3p.ReasonOtherFailure},
		{"addUser", &c3p.AddUser{Keys: keys, User: user(bob)}, ""},
		{"addUser without user", &c3p.AddUser{Keys: keys}, "requestMalformed"},
		{"modifyUserRoles", &c3p.ModifyUserRoles{Keys: &c3p.UserKeys{ConfEntity: focusURI, UserEntity: bob}, Roles: []string{c3p.RoleAttendee}}, ""},
		{"modifyUserRoles of a stranger", &c3p.ModifyUserRoles{Keys: &c3p.UserKeys{ConfEntity: focusURI, UserEntity: carol}, Roles: []string{c3p.RoleAttendee}}, "userDoesNotExist"},
		{"modifyConferenceLock", &c3p.ModifyConferenceLock{Keys: keys, Locked: new(true)}, ""},
		{"deleteUser", &c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: focusURI, UserEntity: bob}}, ""},
		{"deleteUser, no conference", &c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: third, UserEntity: bob}}, "conferenceDoesNotExist"},
		{"unsupported", &c3p.GetConference{}, c3p.ReasonOtherFailure},
		{"deleteConference", &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: other}}, ""},
		{"deleteConference again", &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: other}}, "conferenceDoesNotExist"},
		{"third fits now", &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: third}}, ""},
	}
	for _, tt := range tests {
		res := h.command(tt.cmd)
		switch {
		case tt.reason == "" && res.Code != c3p.CodeSuccess:
			t.Errorf("%s: %s %s", tt.name, res.Code, res.Reason)
		case tt.reason != "" && (res.Code != c3p.CodeFailure || res.Reason != tt.reason):
			t.Errorf("%s: %s %q, want failure %q", tt.name, res.Code, res.Reason, tt.reason)
		}
		if add, ok := res.Command.(*c3p.AddConference); ok && res.Code == c3p.CodeSuccess && tt.name == "addConference" {
			want := c3p.ConferenceURI(alice, c3p.MCUTypeChat, key)
			if d := add.ConferenceInfo.Description; d == nil || len(d.ConfURIs) != 1 || d.ConfURIs[0].URI != want || d.ConfURIs[0].Purpose != "chat" {
				t.Errorf("addConference answer: %+v, want conf-uris %s purpose chat", add.ConferenceInfo.Description, want)
			}
		}
	}
	// bob was deleted: he may not join.
	if code := newChatter(h, bob, "TCP").join(sipeAccepts); code != 403 {
		t.Errorf("join after deleteUser: %d", code)
	}
	if n := h.srv.Metrics().Conferences.Load(); n != 2 {
		t.Errorf("Conferences = %d, want 2", n)
	}
}

// TestControlHTTP checks the HTTP side: methods, types, the caller check,
// and the load report.
func TestControlHTTP(t *testing.T) {
	h := newHarness(t)
	h.provision(alice)
	newChatter(h, alice, "TCP").join(sipeAccepts)
	denied := errors.New("unsigned")
	verify := func(r *http.Request, _ []byte) error {
		if r.Header.Get("X-Signed") == "" {
			return denied
		}
		return nil
	}
	body, err := (&c3p.Request{Header: c3p.Header{Version: c3p.Version, RequestID: 1, From: "sip:focus", To: "immcu"},
		Command: &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: focusURI}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, ct, body string
		signed                       bool
		code                         int
	}{
		{"signed C3P", http.MethodPost, "/c3p", c3p.ContentType, string(body), true, 200},
		{"unsigned", http.MethodPost, "/c3p", c3p.ContentType, string(body), false, 403},
		{"wrong type", http.MethodPost, "/c3p", "application/json", string(body), true, 415},
		{"GET /c3p", http.MethodGet, "/c3p", "", "", true, 405},
		{"not C3P", http.MethodPost, "/c3p", c3p.ContentType, "<hello/>", true, 400},
		{"too large", http.MethodPost, "/c3p", c3p.ContentType, strings.Repeat("x", immcu.MaxControlBody+1), true, 413},
		{"load", http.MethodGet, "/load", "", "", true, 200},
		{"load unsigned", http.MethodGet, "/load", "", "", false, 403},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.ct != "" {
			req.Header.Set("Content-Type", tt.ct)
		}
		if tt.signed {
			req.Header.Set("X-Signed", "yes")
		}
		rec := httptest.NewRecorder()
		h.srv.Handler(verify).ServeHTTP(rec, req)
		if rec.Code != tt.code {
			t.Errorf("%s: HTTP %d, want %d: %s", tt.name, rec.Code, tt.code, rec.Body)
			continue
		}
		if tt.path == "/load" && tt.code == 200 {
			var l immcu.LoadReport
			if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&l); err != nil {
				t.Fatal(err)
			}
			if l.Legs != 1 || l.Conferences != 1 || l.MaxLegs != immcu.DefaultMaxConferences*immcu.DefaultMaxParticipants {
				t.Errorf("load %+v", l)
			}
			for _, field := range []string{`"legs"`, `"max_legs"`, `"conferences"`, `"lag_p99_us"`} {
				if !strings.Contains(rec.Body.String(), field) {
					t.Errorf("load report lacks %s: %s", field, rec.Body)
				}
			}
		}
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := immcu.New(immcu.Config{}, testLogger()); err == nil {
		t.Error("New without Client and Contact succeeded")
	}
}
