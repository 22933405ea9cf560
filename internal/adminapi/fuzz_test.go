package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/admin"
)

// FuzzDecodeAddUser feeds arbitrary bodies to the decoder of POST /users.
// It must never panic; an accepted body must be exactly one JSON object with
// only AddUser's fields, so that re-encoding the result and decoding it
// again gives the same value; a refused one must be a bad request or too
// large, never anything else.
func FuzzDecodeAddUser(f *testing.F) {
	seeds := []string{
		`{"uri": "sip:alice@example.com", "password": "password1"}`,
		`{"uri": "sip:alice@example.com", "password": "password1", "pin": "80613", "enterprise_voice": true,
		  "display_name": "Alice", "extension": "1001", "line_uri": "tel:+14255551001", "pool": "p.example.com",
		  "meeting_policy": "Default", "location_profile": "Redmond"}`,
		`{"uri": "sip:a@b", "admin": true}`,
		`{"URI": "sip:a@b"}`,
		`{"uri": "\u0000"}`,
		`{"enterprise_voice": null}`,
		`{} {}`,
		`{}   `,
		`[]`,
		`null`,
		`"x"`,
		`{"uri": "sip:a@b", "uri": "sip:c@d"}`,
		``,
		`{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(string(body)))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBodyBytes)
		v, err := decode[admin.AddUser](r)
		if err != nil {
			var br *badRequest
			var tooBig *http.MaxBytesError
			if !errors.As(err, &br) && !errors.As(err, &tooBig) {
				t.Fatalf("decode(%q) error %T %v; want a bad request", body, err, err)
			}
			return
		}
		// Only objects (or null, which decodes to the zero value) pass.
		trimmed := strings.TrimSpace(string(body))
		if !strings.HasPrefix(trimmed, "{") && trimmed != "null" {
			t.Fatalf("decode(%q) accepted a non-object", body)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(string(again)))
		w, err := decode[admin.AddUser](r)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", body, w, err, v)
		}
	})
}
