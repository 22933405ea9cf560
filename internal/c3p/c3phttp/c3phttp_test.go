package c3phttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
)

// ctxKey marks the request context, to see that answer is given it.
type ctxKey struct{}

// failingBody is a request body whose reading fails.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestServe(t *testing.T) {
	valid, err := (&c3p.Request{
		Header: c3p.Header{Version: c3p.Version, RequestID: 3, From: "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:OPENMEET01",
			To: "sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:OPENMEET01"},
		Command: &c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:OPENMEET01",
			UserEntity: "sip:bob@parley.test"}},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Trailing white space is allowed after the root element (XML 1.0
	// §2.1, Misc), so this is a valid request of exactly the limit.
	atLimit := append(bytes.Clone(valid), bytes.Repeat([]byte(" "), c3p.MaxBodySize-len(valid))...)
	// The envelope and the command's name read, its content not: the
	// answer is the command's C3P failure.
	malformed := []byte(`<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="9" from="sip:a@x" to="sip:b@x">` +
		`<deleteUser><userKeys/><userKeys/></deleteUser></request>`)
	errSig := errors.New("bad signature")
	signed := func(r *http.Request, body []byte) error {
		if r.Header.Get("X-Signature") != "ok" {
			return errSig
		}
		if !bytes.Equal(body, valid) {
			return errors.New("verify was not given the whole body")
		}
		return nil
	}
	unreached := func(*http.Request, []byte) error {
		return errors.New("verify ran on a request refused before it")
	}
	success := func(_ context.Context, req *c3p.Request) *c3p.Response {
		return c3p.NewResponse(req.Header, c3p.CodeSuccess, req.Command)
	}

	tests := []struct {
		name        string
		method      string
		contentType string
		body        io.Reader
		signature   string
		verify      func(*http.Request, []byte) error
		answer      func(context.Context, *c3p.Request) *c3p.Response
		wantStatus  int
		// answered: answer ran, and Serve returned nil. Otherwise
		// its error wraps wantErr, is a parse *Error (wantParseErr), or
		// says wantErrText.
		answered     bool
		wantErr      error
		wantParseErr bool
		wantErrText  string
		wantCode     c3p.Code // of a C3P body, "" when there is none
	}{
		{name: "ok", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(valid),
			wantStatus: 200, answered: true, wantCode: c3p.CodeSuccess},
		{name: "ok, signed, media type with parameters", method: http.MethodPost, contentType: " Application/CCCP+XML ; charset=utf-8",
			body: bytes.NewReader(valid), signature: "ok", verify: signed, wantStatus: 200, answered: true, wantCode: c3p.CodeSuccess},
		{name: "ok at the size limit", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(atLimit),
			wantStatus: 200, answered: true, wantCode: c3p.CodeSuccess},
		{name: "bad method", method: http.MethodGet, contentType: c3p.ContentType, body: bytes.NewReader(valid),
			verify: unreached, wantStatus: 405, wantErr: ErrNotC3P},
		{name: "not C3P", method: http.MethodPost, contentType: "application/xml", body: bytes.NewReader(valid),
			verify: unreached, wantStatus: 415, wantErr: ErrNotC3P},
		{name: "no Content-Type", method: http.MethodPost, body: bytes.NewReader(valid),
			verify: unreached, wantStatus: 415, wantErr: ErrNotC3P},
		{name: "too large", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(append(atLimit, ' ')),
			verify: unreached, wantStatus: 413, wantErr: c3p.ErrTooLarge},
		{name: "body unreadable", method: http.MethodPost, contentType: c3p.ContentType, body: failingBody{},
			verify: unreached, wantStatus: 400, wantErrText: "connection reset"},
		{name: "bad signature", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(valid),
			signature: "forged", verify: signed, wantStatus: 403, wantErr: ErrUntrusted, wantErrText: errSig.Error()},
		{name: "unparsable", method: http.MethodPost, contentType: c3p.ContentType, body: strings.NewReader("<request"),
			wantStatus: 400, wantParseErr: true},
		{name: "malformed command: a C3P failure", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(malformed),
			wantStatus: 200, wantErr: c3p.ErrInvalid, wantParseErr: true, wantCode: c3p.CodeFailure},
		{name: "no answer", method: http.MethodPost, contentType: c3p.ContentType, body: bytes.NewReader(valid),
			answer: func(context.Context, *c3p.Request) *c3p.Response { return nil }, wantStatus: 500, answered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), ctxKey{}, tt.name)
			r := httptest.NewRequestWithContext(ctx, tt.method, "/c3p", tt.body)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.signature != "" {
				r.Header.Set("X-Signature", tt.signature)
			}
			answer := tt.answer
			if answer == nil {
				answer = success
			}
			answered := false
			w := httptest.NewRecorder()
			err := Serve(w, r, tt.verify, func(ctx context.Context, req *c3p.Request) *c3p.Response {
				answered = true
				if ctx.Value(ctxKey{}) != tt.name {
					t.Error("answer was not given the request's context")
				}
				return answer(ctx, req)
			})

			if w.Code != tt.wantStatus {
				t.Errorf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.wantStatus)
			}
			// A command runs only when the request was whole, trusted and
			// understood; a refusal changes nothing.
			if answered != tt.answered || (err == nil) != tt.answered {
				t.Errorf("answer ran: %v, err %v; want answered %v", answered, err, tt.answered)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			var pe *c3p.Error
			if tt.wantParseErr && !errors.As(err, &pe) {
				t.Errorf("err = %v, want a parse *Error", err)
			}
			if tt.wantErrText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrText)) {
				t.Errorf("err = %v, want one saying %q", err, tt.wantErrText)
			}
			if tt.wantStatus == 405 && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("405 with Allow %q, want POST (RFC 9110 §15.5.6)", w.Header().Get("Allow"))
			}
			if tt.wantCode == "" {
				if ct := w.Header().Get("Content-Type"); ct == c3p.ContentType {
					t.Errorf("an HTTP error sent as %s", ct)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != c3p.ContentType {
				t.Errorf("Content-Type %q, want %q", ct, c3p.ContentType)
			}
			res, perr := c3p.ParseResponse(w.Body.Bytes())
			if perr != nil {
				t.Fatalf("the answer is not a C3P response: %v\n%s", perr, w.Body.Bytes())
			}
			if res.Code != tt.wantCode {
				t.Errorf("C3P code %q, want %q", res.Code, tt.wantCode)
			}
		})
	}
}
