package main

import (
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	rules, err := parseRules([]string{`(\d{4}) => +1425555$1`, `\+(\d+)=>+$1`, `x=>`})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`(\d{4})=>+1425555$1`, `\+(\d+)=>+$1`, `x=>`}
	for i, r := range rules {
		if got := r.String(); got != want[i] {
			t.Errorf("rule %d = %q; want %q", i+1, got, want[i])
		}
	}
	if _, err := parseRules([]string{`\d=>1`, `\d+`}); err == nil || !strings.Contains(err.Error(), "rule 2") {
		t.Errorf("parseRules without => error = %v; want one naming rule 2", err)
	}
}

// FuzzParseRules checks that a rule argument either is refused for lacking
// "=>" or splits at its first "=>" into trimmed halves.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{`(\d{4})=>+1425555$1`, ` a => b `, `=>`, `a=>b=>c`, `no arrow`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := parseRules([]string{s})
		if !strings.Contains(s, "=>") {
			if err == nil {
				t.Fatalf("parseRules(%q) accepted a rule without =>", s)
			}
			return
		}
		if err != nil || len(rules) != 1 {
			t.Fatalf("parseRules(%q) = %v, %v", s, rules, err)
		}
		pat, tr, _ := strings.Cut(s, "=>")
		if rules[0].Pattern != strings.TrimSpace(pat) || rules[0].Translation != strings.TrimSpace(tr) {
			t.Fatalf("parseRules(%q) = %+v", s, rules[0])
		}
	})
}
