package mediation

import (
	"errors"
	"testing"
)

func TestParseReplaces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want replaces
		err  bool
	}{
		{in: "425928@bobster.example.org;to-tag=7743;from-tag=6472",
			want: replaces{callID: "425928@bobster.example.org", toTag: "7743", fromTag: "6472"}},
		{in: " abc ; from-tag = F ; TO-TAG=T ; early-only ",
			want: replaces{callID: "abc", toTag: "T", fromTag: "F", earlyOnly: true}},
		{in: `c1;to-tag=a;from-tag=b;x=1;y;z="q;uoted";h=[::1]`,
			want: replaces{callID: "c1", toTag: "a", fromTag: "b"}},
		{in: "c<1>:x;to-tag=a.b~c;from-tag=b'd", want: replaces{callID: "c<1>:x", toTag: "a.b~c", fromTag: "b'd"}},
		{in: "", err: true},
		{in: "c1", err: true},
		{in: "c1;to-tag=a", err: true},
		{in: "c1;from-tag=a", err: true},
		{in: "c1;to-tag=a;from-tag=", err: true},
		{in: "c1;to-tag;from-tag=b", err: true},
		{in: "c1;to-tag=a;to-tag=a;from-tag=b", err: true},
		{in: "c1;to-tag=a;from-tag=b;from-tag=c", err: true},
		{in: "c1;to-tag=a;from-tag=b;early-only;early-only", err: true},
		{in: "c1;to-tag=a;from-tag=b;early-only=yes", err: true},
		{in: "c1;to-tag=a b;from-tag=b", err: true},
		{in: "c1;to-tag=a;from-tag=b;", err: true},
		{in: "c1;;to-tag=a;from-tag=b", err: true},
		{in: "c1;to-tag=a;from-tag=b;x=\"open", err: true},
		{in: "c 1;to-tag=a;from-tag=b", err: true},
		{in: "c1@;to-tag=a;from-tag=b", err: true},
		{in: "@h;to-tag=a;from-tag=b", err: true},
		{in: "a, b;to-tag=a;from-tag=b", err: true},
		{in: "c1;to-tag=\"a\";from-tag=b", err: true},
		{in: "c1;t@g=1;to-tag=a;from-tag=b", err: true},
	} {
		got, err := parseReplaces(tc.in)
		if tc.err {
			if !errors.Is(err, ErrReplacesSyntax) {
				t.Errorf("parseReplaces(%q) = %+v, %v; want ErrReplacesSyntax", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseReplaces(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseReplacesTooLong(t *testing.T) {
	long := make([]byte, maxReplacesLen)
	for i := range long {
		long[i] = 'a'
	}
	if _, err := parseReplaces(string(long) + ";to-tag=a;from-tag=b"); !errors.Is(err, ErrReplacesSyntax) {
		t.Fatalf("err = %v, want ErrReplacesSyntax", err)
	}
}

// FuzzParseReplaces checks that any value either fails with
// ErrReplacesSyntax or parses to fields that format back to a value that
// parses to the same fields.
func FuzzParseReplaces(f *testing.F) {
	for _, s := range []string{
		"425928@bobster.example.org;to-tag=7743;from-tag=6472",
		"abc;from-tag=F;to-tag=T;early-only",
		`c1;to-tag=a;from-tag=b;x="q;\"uoted";h=[::1]`,
		"c1;to-tag=a;from-tag=b;",
		"c1;;",
		`c1;x="`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := parseReplaces(in)
		if err != nil {
			if !errors.Is(err, ErrReplacesSyntax) {
				t.Fatalf("parseReplaces(%q): error %v is not ErrReplacesSyntax", in, err)
			}
			return
		}
		if r.callID == "" || r.toTag == "" || r.fromTag == "" {
			t.Fatalf("parseReplaces(%q) = %+v: empty field", in, r)
		}
		again, err := parseReplaces(r.String())
		if err != nil || again != r {
			t.Fatalf("round trip of %q: %q = %+v, %v; want %+v", in, r.String(), again, err, r)
		}
	})
}
