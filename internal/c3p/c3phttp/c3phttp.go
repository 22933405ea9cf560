// Package c3phttp is C3P's HTTP binding, the transport of the Focus's
// commands to its MCUs. It sits above the protocol layer (which does no
// HTTP) so that every MCU serves it the same way without importing another.
package c3phttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/c3p"
)

// C3P over HTTP: the Focus commands its MCUs by POSTing a C3P request and
// reading the C3P response from the HTTP answer ([MS-CONFBAS]; seed 004,
// step 2: "The Focus then sends an HTTP request to the designated
// conferencing server asking it to expect a new participant"). Every MCU
// serves it the same way, so the transport is here and only the commands
// are the MCU's.

// ErrUntrusted reports a C3P request over HTTP whose sender Serve's
// verify refused.
var ErrUntrusted = errors.New("c3p: sender not trusted")

// ErrNotC3P reports an HTTP request that is not a C3P request: not a POST,
// or not an application/cccp+xml body.
var ErrNotC3P = errors.New("c3p: not a C3P request")

// Serve answers one C3P request carried in an HTTP POST. It refuses,
// with an HTTP error and nothing else done, a method other than POST (405,
// with Allow as RFC 9110 §15.5.6 requires), a body that is not C3P (415),
// one larger than c3p.MaxBodySize (413), a sender verify refuses (403: verify
// is given the request and its whole body, to check a signature over both;
// nil accepts any sender), and a body that does not parse far enough to be
// answered in C3P (400). A request that parses far enough to name its
// command but not further is answered with the C3P failure c3p.FailureFor
// builds. Otherwise answer runs the command and its response is sent with
// 200 and Content-Type c3p.ContentType.
//
// The error is nil when answer ran, else why it did not: ErrNotC3P,
// c3p.ErrTooLarge, ErrUntrusted (wrapping verify's error), the *c3p.Error of the
// parser, or a reading error. The caller decides what to log; the HTTP
// answer has been written either way.
func Serve(w http.ResponseWriter, r *http.Request, verify func(*http.Request, []byte) error, answer func(context.Context, *c3p.Request) *c3p.Response) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a C3P request", http.StatusMethodNotAllowed)
		return fmt.Errorf("%w: method %s", ErrNotC3P, r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !isC3PMediaType(ct) {
		http.Error(w, "the body must be "+c3p.ContentType, http.StatusUnsupportedMediaType)
		return fmt.Errorf("%w: Content-Type %q", ErrNotC3P, ct)
	}
	// One byte more than allowed tells a body at the limit from a larger
	// one without reading the rest of it.
	body, err := io.ReadAll(io.LimitReader(r.Body, c3p.MaxBodySize+1))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return fmt.Errorf("c3p: reading the request body: %w", err)
	}
	if len(body) > c3p.MaxBodySize {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return fmt.Errorf("%w: more than %d bytes", c3p.ErrTooLarge, c3p.MaxBodySize)
	}
	if verify != nil {
		if err := verify(r, body); err != nil {
			http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
			return fmt.Errorf("%w: %w", ErrUntrusted, err)
		}
	}
	req, err := c3p.ParseRequest(body)
	if err != nil {
		fail, ok := c3p.FailureFor(err)
		if !ok {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return err
		}
		writeHTTPResponse(w, fail.Response)
		return err
	}
	writeHTTPResponse(w, answer(r.Context(), req))
	return nil
}

// isC3PMediaType reports whether a Content-Type names C3P, whatever its
// case and parameters (media types are case-insensitive, RFC 9110 §8.3.1).
func isC3PMediaType(ct string) bool {
	t, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(t), c3p.ContentType)
}

// writeHTTPResponse sends a C3P response as the answer to an HTTP request.
// A nil one, which no command should produce, is a server error rather
// than an empty success.
func writeHTTPResponse(w http.ResponseWriter, res *c3p.Response) {
	if res == nil {
		http.Error(w, "the command produced no response", http.StatusInternalServerError)
		return
	}
	b, err := res.Marshal()
	if err != nil {
		http.Error(w, "encoding the response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", c3p.ContentType)
	_, _ = w.Write(b)
}
