package c3p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// C3P over HTTP: the Focus commands its MCUs by POSTing a C3P request and
// reading the C3P response from the HTTP answer ([MS-CONFBAS]; seed 004,
// step 2: "The Focus then sends an HTTP request to the designated
// conferencing server asking it to expect a new participant"). Every MCU
// serves it the same way, so the transport is here and only the commands
// are the MCU's.

// ErrUntrusted reports a C3P request over HTTP whose sender ServeHTTP's
// verify refused.
var ErrUntrusted = errors.New("c3p: sender not trusted")

// ErrNotC3P reports an HTTP request that is not a C3P request: not a POST,
// or not an application/cccp+xml body.
var ErrNotC3P = errors.New("c3p: not a C3P request")

// ServeHTTP answers one C3P request carried in an HTTP POST. It refuses,
// with an HTTP error and nothing else done, a method other than POST (405,
// with Allow as RFC 9110 §15.5.6 requires), a body that is not C3P (415),
// one larger than MaxBodySize (413), a sender verify refuses (403: verify
// is given the request and its whole body, to check a signature over both;
// nil accepts any sender), and a body that does not parse far enough to be
// answered in C3P (400). A request that parses far enough to name its
// command but not further is answered with the C3P failure FailureFor
// builds. Otherwise answer runs the command and its response is sent with
// 200 and Content-Type ContentType.
//
// The error is nil when answer ran, else why it did not: ErrNotC3P,
// ErrTooLarge, ErrUntrusted (wrapping verify's error), the *Error of the
// parser, or a reading error. The caller decides what to log; the HTTP
// answer has been written either way.
func ServeHTTP(w http.ResponseWriter, r *http.Request, verify func(*http.Request, []byte) error, answer func(context.Context, *Request) *Response) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a C3P request", http.StatusMethodNotAllowed)
		return fmt.Errorf("%w: method %s", ErrNotC3P, r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !isC3PMediaType(ct) {
		http.Error(w, "the body must be "+ContentType, http.StatusUnsupportedMediaType)
		return fmt.Errorf("%w: Content-Type %q", ErrNotC3P, ct)
	}
	// One byte more than allowed tells a body at the limit from a larger
	// one without reading the rest of it.
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return fmt.Errorf("c3p: reading the request body: %w", err)
	}
	if len(body) > MaxBodySize {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBodySize)
	}
	if verify != nil {
		if err := verify(r, body); err != nil {
			http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
			return fmt.Errorf("%w: %w", ErrUntrusted, err)
		}
	}
	req, err := ParseRequest(body)
	if err != nil {
		fail, ok := FailureFor(err)
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
	return strings.EqualFold(strings.TrimSpace(t), ContentType)
}

// writeHTTPResponse sends a C3P response as the answer to an HTTP request.
// A nil one, which no command should produce, is a server error rather
// than an empty success.
func writeHTTPResponse(w http.ResponseWriter, res *Response) {
	if res == nil {
		http.Error(w, "the command produced no response", http.StatusInternalServerError)
		return
	}
	b, err := res.Marshal()
	if err != nil {
		http.Error(w, "encoding the response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	_, _ = w.Write(b)
}
