package mcufactory

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// AllocateRequest is the body of POST /allocate.
type AllocateRequest struct {
	Conference string `json:"conference"`
	Type       string `json:"type"`
}

// Handler serves the Focus's requests over HTTP: POST /allocate with an
// AllocateRequest answers an Assignment; GET /assignments lists them.
// verify checks the caller (a trusted role's signature); nil accepts all.
func (f *Factory) Handler(verify func(*http.Request, []byte) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /allocate", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if verify != nil {
			if err := verify(r, body); err != nil {
				http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		var req AllocateRequest
		if err := json.Unmarshal(body, &req); err != nil || req.Conference == "" || req.Type == "" {
			http.Error(w, "want {\"conference\": URI, \"type\": MCU type}", http.StatusBadRequest)
			return
		}
		a, err := f.Allocate(r.Context(), req.Conference, req.Type)
		switch {
		case errors.Is(err, ErrNoMCU):
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	})
	mux.HandleFunc("GET /assignments", func(w http.ResponseWriter, r *http.Request) {
		if verify != nil {
			if err := verify(r, nil); err != nil {
				http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.Assignments())
	})
	return mux
}
