package c3p

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the expected encodings in testdata/encoded")

// goldenInputs lists the example bodies: testdata/spec holds the examples of
// the specifications, testdata/composed the ones we wrote (see
// testdata/README.md).
func goldenInputs(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, dir := range []string{"spec", "composed"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, "*.xml"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Fatal("no golden inputs in testdata")
	}
	return files
}

type marshaler interface{ Marshal() ([]byte, error) }

// parseGolden parses a body as a request or a response, by file name.
func parseGolden(name string, b []byte) (marshaler, error) {
	if strings.HasPrefix(filepath.Base(name), "response-") {
		return ParseResponse(b)
	}
	return ParseRequest(b)
}

// TestGoldenRoundTrip parses every example, encodes it again and checks that
// the result means the same (canonical form), that encoding is idempotent,
// and that the encoding matches the recorded one in testdata/encoded.
func TestGoldenRoundTrip(t *testing.T) {
	for _, path := range goldenInputs(t) {
		rel, _ := filepath.Rel("testdata", path)
		t.Run(rel, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseGolden(path, in)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			out, err := m.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff(canonical(t, in), canonical(t, out)); diff != "" {
				t.Errorf("re-encoding changed the document (-input +output):\n%s", diff)
			}

			m2, err := parseGolden(path, out)
			if err != nil {
				t.Fatalf("parse of our own encoding: %v\n%s", err, out)
			}
			out2, err := m2.Marshal()
			if err != nil {
				t.Fatalf("second Marshal: %v", err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("encoding is not idempotent:\nfirst:  %s\nsecond: %s", out, out2)
			}

			want := filepath.Join("testdata", "encoded", rel)
			if *update {
				if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(want, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := string(out) + "\n"; got != string(golden) {
				t.Errorf("encoding differs from %s:\ngot:  %s\nwant: %s", want, got, golden)
			}
		})
	}
}

// canonical renders a body as a namespace-expanded, attribute-sorted
// outline with trimmed text, so that two bodies compare equal when they mean
// the same whatever their prefixes, attribute order and indentation.
func canonical(tb testing.TB, b []byte) string {
	tb.Helper()
	root, err := parseTree(b)
	if err != nil {
		tb.Fatalf("canonical: %v", err)
	}
	var sb strings.Builder
	var walk func(e *Element, indent string)
	walk = func(e *Element, indent string) {
		sb.WriteString(indent + "{" + e.Name.Space + "}" + e.Name.Local)
		attrs := make([]string, 0, len(e.Attrs))
		for _, a := range e.Attrs {
			attrs = append(attrs, " {"+a.Name.Space+"}"+a.Name.Local+"="+strconv.Quote(a.Value))
		}
		sort.Strings(attrs)
		sb.WriteString(strings.Join(attrs, ""))
		if txt := strings.TrimSpace(e.Text); txt != "" {
			sb.WriteString(" text=" + strconv.Quote(txt))
		}
		sb.WriteByte('\n')
		for _, c := range e.Children {
			walk(c, indent+"  ")
		}
	}
	walk(root, "")
	return sb.String()
}
