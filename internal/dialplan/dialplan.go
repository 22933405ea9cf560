// Package dialplan implements the normalization rules of a location profile:
// an ordered list of regular-expression patterns, each with a translation, that
// turns what a person dialled into a canonical number, usually E.164.
//
// The model is the one the OCS 2007 Enterprise Voice documentation describes
// (seed 003, "Location Profiles"): rules are tried in order and the first whose
// pattern matches the whole dialled string wins; its translation may refer to
// the pattern's capture groups as $1, $2 ... A profile whose rules all fail to
// match leaves the number unchanged and reports that nothing matched.
//
// The package is pure: it knows nothing of storage or SIP.
package dialplan

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits on rule text. A location profile is administrator input that runs
// on every call, so it is bounded.
const (
	MaxPatternLen     = 256
	MaxTranslationLen = 64
	MaxRules          = 200
)

// ErrNoMatch reports that no rule of a profile matched the dialled string.
var ErrNoMatch = errors.New("dialplan: no rule matches")

// Rule is one normalization rule as an administrator writes it.
type Rule struct {
	// Pattern is a regular expression (RE2 syntax). It is anchored at both
	// ends when compiled, as OCS rules are meant to match the whole number.
	Pattern string `json:"pattern"`
	// Translation is the replacement, with $1..$9 (or ${name}) naming the
	// pattern's capture groups.
	Translation string `json:"translation"`
	// Description is free text shown to administrators.
	Description string `json:"description,omitempty"`
}

// String renders the rule in the CLI's PATTERN=>TRANSLATION form.
func (r Rule) String() string { return r.Pattern + "=>" + r.Translation }

// ParseRule parses the CLI form "PATTERN=>TRANSLATION".
func ParseRule(s string) (Rule, error) {
	pat, tr, ok := strings.Cut(s, "=>")
	if !ok {
		return Rule{}, fmt.Errorf("dialplan: rule %q: want PATTERN=>TRANSLATION", s)
	}
	r := Rule{Pattern: strings.TrimSpace(pat), Translation: strings.TrimSpace(tr)}
	if _, err := compileRule(r); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// RuleError describes a rule that does not compile. Index is the rule's
// position in its profile (0-based).
type RuleError struct {
	Index int
	Rule  Rule
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("dialplan: rule %d %q: %v", e.Index+1, e.Rule.String(), e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

type compiled struct {
	re   *regexp.Regexp
	rule Rule
}

// Profile is a compiled, ordered rule list, safe for concurrent use.
type Profile struct {
	rules []compiled
}

// Compile validates rules and returns a profile that applies them in order.
// The first error names the offending rule.
func Compile(rules []Rule) (*Profile, error) {
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("dialplan: %d rules; at most %d allowed", len(rules), MaxRules)
	}
	p := &Profile{rules: make([]compiled, 0, len(rules))}
	for i, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			return nil, &RuleError{Index: i, Rule: r, Err: err}
		}
		p.rules = append(p.rules, c)
	}
	return p, nil
}

func compileRule(r Rule) (compiled, error) {
	switch {
	case r.Pattern == "":
		return compiled{}, errors.New("empty pattern")
	case len(r.Pattern) > MaxPatternLen:
		return compiled{}, fmt.Errorf("pattern longer than %d characters", MaxPatternLen)
	case len(r.Translation) > MaxTranslationLen:
		return compiled{}, fmt.Errorf("translation longer than %d characters", MaxTranslationLen)
	}
	pat := r.Pattern
	if !strings.HasPrefix(pat, "^") {
		pat = "^(?:" + pat
	} else {
		pat = "^(?:" + pat[1:]
	}
	if strings.HasSuffix(pat, "$") && !strings.HasSuffix(pat, `\$`) {
		pat = pat[:len(pat)-1]
	}
	pat += ")$"
	re, err := regexp.Compile(pat)
	if err != nil {
		return compiled{}, fmt.Errorf("bad regular expression: %w", err)
	}
	if err := checkGroups(re, r.Translation); err != nil {
		return compiled{}, err
	}
	return compiled{re: re, rule: r}, nil
}

// checkGroups rejects translations that name capture groups the pattern
// does not have; regexp.Expand would silently substitute "" for them.
func checkGroups(re *regexp.Regexp, tr string) error {
	n := re.NumSubexp()
	for i := 0; i < len(tr); i++ {
		if tr[i] != '$' || i+1 >= len(tr) {
			continue
		}
		if tr[i+1] == '$' {
			i++
			continue
		}
		j := i + 1
		if tr[j] == '{' {
			end := strings.IndexByte(tr[j:], '}')
			if end < 0 {
				return errors.New("translation has an unclosed ${")
			}
			name := tr[j+1 : j+end]
			if re.SubexpIndex(name) < 0 && !validIndex(name, n) {
				return fmt.Errorf("translation refers to group %q, which the pattern lacks", name)
			}
			i = j + end
			continue
		}
		k := j
		for k < len(tr) && tr[k] >= '0' && tr[k] <= '9' {
			k++
		}
		if k > j && !validIndex(tr[j:k], n) {
			return fmt.Errorf("translation refers to $%s but the pattern has %d groups", tr[j:k], n)
		}
	}
	return nil
}

func validIndex(s string, n int) bool {
	if s == "" {
		return false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int(c-'0')
		if v > n {
			return false
		}
	}
	return true
}

// Normalize applies the first matching rule to dialled and returns the result
// and the rule that produced it. Visual separators (space, -, ., parentheses)
// are removed first, as RFC 3966 §5.1.1 treats them as insignificant.
func (p *Profile) Normalize(dialled string) (string, Rule, error) {
	d := StripSeparators(dialled)
	for _, c := range p.rules {
		m := c.re.FindStringSubmatchIndex(d)
		if m == nil {
			continue
		}
		out := c.re.ExpandString(nil, c.rule.Translation, d, m)
		return string(out), c.rule, nil
	}
	return d, Rule{}, ErrNoMatch
}

// Rules returns the profile's rules in order.
func (p *Profile) Rules() []Rule {
	out := make([]Rule, len(p.rules))
	for i, c := range p.rules {
		out[i] = c.rule
	}
	return out
}

// StripSeparators removes the visual separators of RFC 3966 §5.1.1.
func StripSeparators(s string) string {
	if !strings.ContainsAny(s, " -.()") {
		return s
	}
	// Byte-wise: the separators are ASCII, and ranging over runes would
	// turn invalid UTF-8 into U+FFFD and change the number.
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '-', '.', '(', ')':
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

// IsE164 reports whether s is "+" followed by 1 to 15 digits, the first not 0
// (ITU-T E.164 §6).
func IsE164(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
