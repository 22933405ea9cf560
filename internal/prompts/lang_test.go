package prompts

import (
	"slices"
	"strings"
	"testing"
)

// wantLanguages is the language set the package documents.
var wantLanguages = []string{
	"de-DE", "en-GB", "en-US", "es-ES", "es-US", "fr-CA", "fr-FR",
	"it-IT", "ja-JP", "ko-KR", "nl-NL", "pt-BR", "zh-CN", "zh-TW",
}

func TestLanguages(t *testing.T) {
	got := Languages()
	if !slices.Equal(got, wantLanguages) {
		t.Errorf("Languages() = %v; want %v", got, wantLanguages)
	}
	got[0] = "xx"
	if Languages()[0] == "xx" {
		t.Error("Languages() returned the package's own slice")
	}
}

func TestHas(t *testing.T) {
	for lang, want := range map[string]bool{
		"en-US": true, "en-us": true, "EN_us": true, "zh_tw": true, "pt-br": true,
		"en": false, "en-AU": false, "sv-SE": false, "": false, "en--US": false, "xx-YY": false,
	} {
		if got := Has(lang); got != want {
			t.Errorf("Has(%q) = %v; want %v", lang, got, want)
		}
	}
}

func TestBest(t *testing.T) {
	tests := []struct {
		preferred []string
		want      string
	}{
		{nil, "en-US"},
		{[]string{""}, "en-US"},
		{[]string{"sv-SE"}, "en-US"},
		{[]string{"garbage!"}, "en-US"},
		// Exact, in any case or separator.
		{[]string{"fr-CA"}, "fr-CA"},
		{[]string{"ja_jp"}, "ja-JP"},
		{[]string{"ZH-tw"}, "zh-TW"},
		// The nearest region or script.
		{[]string{"en-AU"}, "en-GB"},
		{[]string{"en-IN"}, "en-GB"},
		{[]string{"en-CA"}, "en-US"},
		{[]string{"en"}, "en-US"},
		{[]string{"en-US-posix"}, "en-US"},
		{[]string{"fr"}, "fr-FR"},
		{[]string{"fr-BE"}, "fr-FR"},
		{[]string{"fr-CH"}, "fr-FR"},
		{[]string{"es"}, "es-ES"},
		{[]string{"es-MX"}, "es-US"},
		{[]string{"es-419"}, "es-US"},
		{[]string{"es-AR"}, "es-US"},
		{[]string{"pt"}, "pt-BR"},
		{[]string{"pt-PT"}, "pt-BR"},
		{[]string{"zh"}, "zh-CN"},
		{[]string{"zh-SG"}, "zh-CN"},
		{[]string{"zh-HK"}, "zh-TW"},
		{[]string{"zh-Hant"}, "zh-TW"},
		{[]string{"zh-hant-hk"}, "zh-TW"},
		{[]string{"zh-Hans-HK"}, "zh-CN"},
		{[]string{"cmn-Hant-TW"}, "zh-TW"},
		{[]string{"de"}, "de-DE"},
		{[]string{"de-AT"}, "de-DE"},
		{[]string{"de-CH"}, "de-DE"},
		{[]string{"it-CH"}, "it-IT"},
		{[]string{"nl-BE"}, "nl-NL"},
		{[]string{"ja"}, "ja-JP"},
		{[]string{"ko"}, "ko-KR"},
		// The first preference that matches at all wins, even by language only.
		{[]string{"sv-SE", "de-AT", "en-US"}, "de-DE"},
		{[]string{"fr-BE", "en-GB"}, "fr-FR"},
		{[]string{"xx", "", "it"}, "it-IT"},
	}
	for _, tt := range tests {
		if got := Best(tt.preferred...); got != tt.want {
			t.Errorf("Best(%q) = %q; want %q", tt.preferred, got, tt.want)
		}
	}
}

// TestRegionalTargets: every language the regional table names is in the
// catalog, so Best can only return catalog languages.
func TestRegionalTargets(t *testing.T) {
	for from, to := range regional {
		if !Has(to) {
			t.Errorf("regional[%q] = %q, not a catalog language", from, to)
		}
		if canonical(from) != from {
			t.Errorf("regional key %q is not canonical (%q); it would never match", from, canonical(from))
		}
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"en-US":         "en-US",
		"en_us":         "en-US",
		"EN-us":         "en-US",
		"zh-hant-tw":    "zh-Hant-TW",
		"ZH_HANT":       "zh-Hant",
		"es-419":        "es-419",
		"sr-latn-rs":    "sr-Latn-RS",
		"en-US-POSIX":   "en-US-posix",
		"de-CH-1996":    "de-CH-1996",
		"cmn":           "cmn",
		"":              "",
		"-":             "",
		"en-":           "",
		"en--US":        "",
		"e":             "",
		"engl":          "",
		"e1-US":         "",
		"en US":         "",
		"en-US!":        "",
		"fr-ÇA":         "",
		"x-private-use": "",
	} {
		if got := canonical(in); got != want {
			t.Errorf("canonical(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzBest(f *testing.F) {
	for _, s := range []string{"en-US", "zh-Hant-HK", "es_419", "--", "x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		got := Best(tag)
		if !Has(got) {
			t.Fatalf("Best(%q) = %q, not a catalog language", tag, got)
		}
		if c := canonical(tag); c != "" && canonical(c) != c {
			t.Fatalf("canonical(%q) = %q is not canonical itself", tag, c)
		}
	})
}

// TestNames: each language is named in itself, and the names are distinct,
// so a menu listing them is unambiguous.
func TestNames(t *testing.T) {
	want := map[string]string{
		"en-US": "English (United States)",
		"de-DE": "Deutsch (Deutschland)",
		"fr-CA": "Français (Canada)",
		"ja-JP": "日本語（日本）",
		"zh-TW": "中文（繁體）",
	}
	seen := make(map[string]string)
	for _, lang := range Languages() {
		name := Name(lang)
		if name == "" {
			t.Errorf("Name(%q) is empty", lang)
		}
		if w, ok := want[lang]; ok && name != w {
			t.Errorf("Name(%q) = %q; want %q", lang, name, w)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("Name(%q) = Name(%q) = %q", lang, other, name)
		}
		seen[name] = lang
	}
	if got := Name("sv-SE"); got != "" {
		t.Errorf("Name(sv-SE) = %q; want \"\"", got)
	}
}

// TestLanguageOptionNamesItself: the option offering a language must name it
// in that language, so a caller who does not understand the primary language
// still recognises his own. The check is that the option's text contains a
// word of the language's own name, or for the variants of a language shared
// by two catalog entries, a distinguishing word.
func TestLanguageOptionNamesItself(t *testing.T) {
	word := map[string]string{
		"en-US": "American English", "en-GB": "British English",
		"fr-FR": "français de France", "fr-CA": "français canadien",
		"es-ES": "español de España", "es-US": "español",
		"de-DE": "Deutsch", "it-IT": "italiano", "pt-BR": "português", "nl-NL": "Nederlands",
		"ja-JP": "日本語", "ko-KR": "한국어", "zh-CN": "普通话", "zh-TW": "國語",
	}
	for _, lang := range Languages() {
		w, ok := word[lang]
		if !ok {
			t.Errorf("%s: no expected language word in this test; add one", lang)
			continue
		}
		if got := Text(lang, LanguageOption); !strings.Contains(got, w) {
			t.Errorf("Text(%s, language_option) = %q; want it to name %q", lang, got, w)
		}
	}
	seen := make(map[string]string)
	for _, lang := range Languages() {
		opt := Text(lang, LanguageOption)
		if other, dup := seen[opt]; dup {
			t.Errorf("%s and %s offer themselves with the same words %q", lang, other, opt)
		}
		seen[opt] = lang
	}
}
