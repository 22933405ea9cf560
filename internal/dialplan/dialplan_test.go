package dialplan

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	rules := []Rule{
		{Pattern: `(\d{4})`, Translation: "+1425555$1"},
		{Pattern: `^9(\d{10})$`, Translation: "+1$1"},
		{Pattern: `1?(\d{10})`, Translation: "+1$1"},
		{Pattern: `\+(\d+)`, Translation: "+$1"},
	}
	p, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		rule     int
		err      error
	}{
		{"0100", "+14255550100", 0, nil},
		{"94255550100", "+14255550100", 1, nil},
		{"(425) 555-0100", "+14255550100", 2, nil},
		{"14255550100", "+14255550100", 2, nil},
		{"+44 20 7946 0000", "+442079460000", 3, nil},
		{"01001", "01001", -1, ErrNoMatch},
		{"x100", "x100", -1, ErrNoMatch},
	}
	for _, tt := range tests {
		got, rule, err := p.Normalize(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
		if tt.rule >= 0 && rule != rules[tt.rule] {
			t.Errorf("Normalize(%q) used rule %v; want %v", tt.in, rule, rules[tt.rule])
		}
	}
}

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
	}{
		{"bad regexp", Rule{Pattern: `(\d{4}`, Translation: "$1"}},
		{"empty pattern", Rule{Pattern: "", Translation: "+1"}},
		{"missing group", Rule{Pattern: `(\d+)`, Translation: "+$2"}},
		{"missing named group", Rule{Pattern: `(\d+)`, Translation: "+${num}"}},
		{"unclosed brace", Rule{Pattern: `(\d+)`, Translation: "+${1"}},
		{"long translation", Rule{Pattern: `\d`, Translation: string(make([]byte, 65))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]Rule{{Pattern: `\d+`, Translation: "$0"}, tt.rule})
			var re *RuleError
			if !errors.As(err, &re) || re.Index != 1 {
				t.Fatalf("Compile(%v) error = %v; want a RuleError for rule 2", tt.rule, err)
			}
		})
	}
}

func TestParseRule(t *testing.T) {
	r, err := ParseRule(`^(\d{4})$ => +1425555$1`)
	if err != nil || r.Pattern != `^(\d{4})$` || r.Translation != "+1425555$1" {
		t.Fatalf("ParseRule = %+v, %v", r, err)
	}
	if _, err := ParseRule(`(\d{4})`); err == nil {
		t.Fatal("ParseRule without => succeeded")
	}
	if _, err := ParseRule(`([=>x`); err == nil {
		t.Fatal("ParseRule with bad regexp succeeded")
	}
}

func TestIsE164(t *testing.T) {
	for in, want := range map[string]bool{
		"+14255550100": true, "+1": true, "+0123": false, "14255550100": false,
		"+1425555010012345": false, "+1425x": false, "+": false,
	} {
		if got := IsE164(in); got != want {
			t.Errorf("IsE164(%q) = %v; want %v", in, got, want)
		}
	}
}

func FuzzRule(f *testing.F) {
	f.Add(`(\d{4})`, "+1425555$1", "0100")
	f.Add(`^9(\d{10})$`, "+1$1", "94255550100")
	f.Add(`(?P<n>\d+)`, "${n}", "12")
	f.Fuzz(func(t *testing.T, pat, tr, in string) {
		p, err := Compile([]Rule{{Pattern: pat, Translation: tr}})
		if err != nil {
			return
		}
		out, _, _ := p.Normalize(in)
		if len(out) > len(in)*(len(tr)+1)+len(tr) {
			t.Fatalf("output %d bytes from %d-byte input", len(out), len(in))
		}
	})
}

func BenchmarkNormalize50Rules(b *testing.B) {
	var rules []Rule
	for i := 0; i < 49; i++ {
		rules = append(rules, Rule{Pattern: `7` + string(rune('0'+i%10)) + `(\d{6})`, Translation: "+1$1"})
	}
	rules = append(rules, Rule{Pattern: `(\d{4})`, Translation: "+1425555$1"})
	p, err := Compile(rules)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Normalize("0100"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStripSeparatorsKeepsBytes(t *testing.T) {
	in := "\xa0\xbe\xb7\x99 \xb0"
	if got, want := StripSeparators(in), "\xa0\xbe\xb7\x99\xb0"; got != want {
		t.Errorf("StripSeparators(%q) = %q; want %q", in, got, want)
	}
}
