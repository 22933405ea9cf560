package c3p

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every example body of the given kind, plus a few broken
// ones, to the fuzz corpus.
func addSeeds(f *testing.F, kind string) {
	f.Helper()
	for _, path := range goldenInputs(f) {
		if strings.HasPrefix(filepath.Base(path), kind+"-") {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY a "b">]><r/>`))
	f.Add([]byte(wrapRequest(`<x:deleteUser xmlns:x="urn:x"/>`)))
	f.Add([]byte(wrapRequest(`<deleteUser><plain xmlns=""><userKeys xmlns="urn:ietf:params:xml:ns:cccp"/></plain></deleteUser>`)))
}

// checkRoundTrip is the fuzz property: a body that parses must marshal, the
// result must parse, and marshalling that must give the same bytes.
func checkRoundTrip[T marshaler](t *testing.T, in []byte, parse func([]byte) (T, error)) {
	t.Helper()
	m, err := parse(in)
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is a %T, not an *Error", err, err)
		}
		return
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal of a parsed message: %v\ninput: %q", err, in)
	}
	m2, err := parse(out)
	if err != nil {
		t.Fatalf("re-parse: %v\ninput:  %q\noutput: %q", err, in, out)
	}
	out2, err := m2.Marshal()
	if err != nil {
		t.Fatalf("second Marshal: %v", err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("encoding not stable:\ninput:  %q\nfirst:  %q\nsecond: %q", in, out, out2)
	}
}

func FuzzParseRequest(f *testing.F) {
	addSeeds(f, "request")
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRoundTrip(t, in, ParseRequest)
	})
}

func FuzzParseResponse(f *testing.F) {
	addSeeds(f, "response")
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRoundTrip(t, in, ParseResponse)
	})
}
