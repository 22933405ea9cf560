// Package adminapi is the HTTP/JSON interface of Parley's administrative
// operations (package admin) and its Go client, which the parley CLI uses.
//
// Every request carries the administrator's bearer token (RFC 6750 §2.1).
// Resources live under /api/v1/, one per kind of directory object; request
// bodies are JSON objects whose unknown fields are refused. Errors are JSON
// too:
//
//	{"error": "must be at least 5 digits", "field": "pin", "code": "invalid"}
//
// with status 400 for invalid input, 401 without a valid token, 404 for a
// missing object, 409 for a duplicate or an object still in use, 413 for a
// body over 1 MiB and 500, with a generic message, for anything else.
//
// The resources, each with GET (list) and POST (create) on the collection
// and GET, PATCH and DELETE on one object unless noted:
//
//	/organization                          GET, PATCH only
//	/pools, /pools/{fqdn}
//	/servers, /servers/{fqdn}              no GET or PATCH of one server
//	/trusted-services, /trusted-services/{fqdn}/{type}  DELETE only
//	/location-profiles, /location-profiles/{name}
//	/location-profiles/{name}/normalize?number=N        GET: test the rules
//	/regions, /regions/{name}
//	/meeting-policies, /meeting-policies/{name}
//	/access-numbers, /access-numbers/{number}           no PATCH
//	/users, /users/{uri}
//	/users/{uri}/password                  PUT {"password": ...}
//	/users/{uri}/pin                       PUT {"pin": ...}
//	/users/{uri}/pin/unlock                POST
//
// Creates answer 201 with the object, deletes and password changes 204.
package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

// Prefix is the path under which the API is served.
const Prefix = "/api/v1"

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// Error codes of the "code" member of an error response.
const (
	CodeInvalid      = "invalid"
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	CodeExists       = "exists"
	CodeInUse        = "in_use"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
)

// errorBody is the JSON form of every error response.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Code  string `json:"code"`
}

// handler serves the API over one admin.Service.
type handler struct {
	svc *admin.Service
	// tokenSum is the SHA-256 of the bearer token: comparing fixed-size
	// digests in constant time hides the token's length as well as its
	// bytes.
	tokenSum [sha256.Size]byte
	// noToken is set when the token is empty, which admits nobody.
	noToken bool
	log     *slog.Logger
	mux     *http.ServeMux
}

// NewHandler returns the API handler for svc. Requests must carry token as
// a bearer token; an empty token refuses every request. The handler serves
// paths under Prefix and may be mounted on a larger mux at "/api/".
func NewHandler(svc *admin.Service, token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: svc, tokenSum: sha256.Sum256([]byte(token)), noToken: token == "", log: log,
		mux: http.NewServeMux()}
	if h.noToken {
		log.Error("admin API has no token; every request will be refused")
	}
	h.routes()
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ok, presented := h.authorized(r); !ok {
		// RFC 6750 §3: a request without credentials gets the bare
		// challenge; one with a wrong token gets error="invalid_token".
		challenge := `Bearer realm="parley"`
		if presented {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		h.log.WarnContext(r.Context(), "admin API request refused", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "token_presented", presented)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "a valid bearer token is required", Code: CodeUnauthorized})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	h.mux.ServeHTTP(w, r)
}

// authorized checks the Authorization header; presented reports whether a
// bearer token was there at all.
func (h *handler) authorized(r *http.Request) (ok, presented bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	// The scheme is case-insensitive (RFC 9110 §11.1).
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return !h.noToken && subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1, true
}

// endpoint is one API operation: it returns the status and the value to send
// as JSON (nil for no body), or an error.
type endpoint func(r *http.Request) (int, any, error)

// handle registers fn for pattern, relative to Prefix.
func (h *handler) handle(pattern string, fn endpoint) {
	method, path, _ := strings.Cut(pattern, " ")
	h.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

// badRequest is an error in the request itself (JSON syntax, unknown field,
// missing body), as opposed to invalid values.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// decode reads the request body as one JSON object into a T, refusing
// unknown fields and trailing data.
func decode[T any](r *http.Request) (T, error) {
	var v T
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return v, tooBig
		case errors.Is(err, io.EOF):
			return v, &badRequest{"the request body is empty; a JSON object is required"}
		}
		return v, &badRequest{"malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return v, tooBig
		}
		return v, &badRequest{"malformed JSON: data after the object"}
	}
	return v, nil
}

// writeError maps err to its status and JSON body. Internal errors are
// logged here, once, and answered with a generic message.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve     *directory.ValidationError
		br     *badRequest
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ve):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: ve.Msg, Field: ve.Field, Code: CodeInvalid})
	case errors.As(err, &br):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: br.msg, Code: CodeBadRequest})
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{
			Error: "the request body is larger than 1 MiB", Code: CodeTooLarge})
	case errors.Is(err, directory.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error(), Code: CodeNotFound})
	case errors.Is(err, directory.ErrExists):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), Code: CodeExists})
	case errors.Is(err, directory.ErrInUse):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), Code: CodeInUse})
	default:
		h.log.ErrorContext(r.Context(), "admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal server error; see the server log", Code: CodeInternal})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// list makes a nil slice encode as [] rather than null.
func list[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
