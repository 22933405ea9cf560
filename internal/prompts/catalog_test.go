package prompts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseCatalog(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []entry
	}{
		{"empty", "", nil},
		{"comments and blanks", "# a comment\n\n   \n\t# indented comment\n", nil},
		{"one", "welcome = Hello.\n", []entry{{"welcome", "Hello.", 1}}},
		{"no final newline", "welcome = Hello.", []entry{{"welcome", "Hello.", 1}}},
		{"CRLF", "# c\r\nwelcome = Hello.\r\ngoodbye = Bye.\r\n", []entry{{"welcome", "Hello.", 2}, {"goodbye", "Bye.", 3}}},
		{"spaces and tabs trimmed", "welcome\t=   Hello there.  \t\n", []entry{{"welcome", "Hello there.", 1}}},
		{"no spaces", "welcome=Hello.", []entry{{"welcome", "Hello.", 1}}},
		{"equals in text", "welcome = a = b", []entry{{"welcome", "a = b", 1}}},
		{"hash in text", "pound = Press # now.", []entry{{"pound", "Press # now.", 1}}},
		{"placeholder", "language_option = For English, press %s.", []entry{{"language_option", "For English, press %s.", 1}}},
		{"unicode", "welcome = 会議サービスへようこそ。", []entry{{"welcome", "会議サービスへようこそ。", 1}}},
		{"ideographic space kept", "welcome = 　はい　", []entry{{"welcome", "　はい　", 1}}},
		{"digits in key", "digit_0 = zero", []entry{{"digit_0", "zero", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCatalog([]byte(tt.in))
			if err != nil {
				t.Fatalf("parseCatalog(%q) error = %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseCatalog(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCatalogErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no equals", "welcome Hello.", "line 1: want \"key = text\""},
		{"empty text", "a = ok\nwelcome =   ", "line 2: welcome has no text"},
		{"empty key", " = Hello.", "key \"\""},
		{"leading space", " welcome = Hello.", "key \" welcome\""},
		{"upper case key", "Welcome = Hello.", "key \"Welcome\""},
		{"dash in key", "enter-pin = Hello.", "key \"enter-pin\""},
		{"space in key", "enter pin = Hello.", "key \"enter pin\""},
		{"duplicate", "welcome = a\n\nwelcome = b", "line 3: welcome already defined on line 1"},
		{"invalid UTF-8", "welcome = \xff\xfe", "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCatalog([]byte(tt.in))
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("parseCatalog(%q) = %v, %v; want an ErrCatalog", tt.in, got, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseCatalog(%q) error = %q; want it to say %q", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzParseCatalog checks that any input parses or fails with ErrCatalog,
// never panics, and that what parses writes back out and parses the same.
func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte("welcome = Hello.\n"))
	f.Add([]byte("# c\r\n\r\nlanguage_option = For English, press %s.\r\n"))
	f.Add([]byte("a=b\nc = d = e\n\t# x\n"))
	f.Add([]byte("welcome = a\nwelcome = b"))
	f.Add(readFile(f, "catalog/ja-JP.txt"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseCatalog(data)
		if err != nil {
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("error %v is not an ErrCatalog", err)
			}
			return
		}
		var b strings.Builder
		for _, e := range entries {
			if !validKey(e.key) || e.text == "" || strings.ContainsAny(e.text, "\n") {
				t.Fatalf("bad entry %+v", e)
			}
			fmt.Fprintf(&b, "%s = %s\n", e.key, e.text)
		}
		again, err := parseCatalog([]byte(b.String()))
		if err != nil {
			t.Fatalf("reparse of %q: %v", b.String(), err)
		}
		if len(again) != len(entries) {
			t.Fatalf("reparse gave %d entries; want %d", len(again), len(entries))
		}
		for i := range again {
			if again[i].key != entries[i].key || again[i].text != entries[i].text {
				t.Fatalf("reparse entry %d = %+v; want %+v", i, again[i], entries[i])
			}
		}
	})
}

// TestCatalogMatchesReference is the translators' test: every language has
// exactly the keys of en-US.txt, with the same placeholders in the same
// order, and so do its spoken forms.
func TestCatalogMatchesReference(t *testing.T) {
	ref := langs[Fallback]
	if ref == nil {
		t.Fatalf("no reference catalog %s", Fallback)
	}
	for _, tag := range tags {
		t.Run(tag, func(t *testing.T) {
			for _, err := range checkKeys(tag, langs[tag], ref) {
				t.Error(err)
			}
		})
	}
}

// TestKeysMatchReference holds the Go constants to the reference file: the
// same keys in the same order.
func TestKeysMatchReference(t *testing.T) {
	entries, err := parseCatalog(readFile(t, "catalog/"+Fallback+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	var file []Key
	for _, e := range entries {
		file = append(file, e.key)
	}
	if got := Keys(); !slices.Equal(got, file) {
		t.Errorf("Keys() = %v\nreference file has %v", got, file)
	}
	if k := Keys(); len(k) > 0 {
		k[0] = "changed"
		if allKeys[0] == "changed" {
			t.Error("Keys() returned the package's own slice")
		}
	}
}

// TestReferencePlaceholders: the audio side can only fill %s, so the
// reference may use no other verb.
func TestReferencePlaceholders(t *testing.T) {
	for key, text := range langs[Fallback].text {
		for _, v := range placeholders(text) {
			if v != "%s" {
				t.Errorf("%s: %q uses %s; only %%s can be spoken", key, text, v)
			}
		}
	}
	if got := placeholders(Text(Fallback, LanguageOption)); !slices.Equal(got, []string{"%s"}) {
		t.Errorf("placeholders of %s = %q; want one %%s", LanguageOption, got)
	}
}

func TestCheckKeysFindsProblems(t *testing.T) {
	ref := &language{tag: "en-US", text: map[Key]string{}}
	for _, k := range allKeys {
		ref.text[k] = "text"
	}
	ref.text[LanguageOption] = "press %s"
	bad := &language{tag: "xx-YY", text: map[Key]string{}, spoken: map[Key]string{"bogus": "x", LanguageOption: "no digit"}}
	for k, v := range ref.text {
		bad.text[k] = v
	}
	delete(bad.text, Welcome)
	bad.text["extra_key"] = "extra"
	bad.text[LanguageOption] = "press %d then %s"
	var got []string
	for _, err := range checkKeys("xx-YY", bad, ref) {
		if !errors.Is(err, ErrCatalog) {
			t.Errorf("checkKeys error %v is not an ErrCatalog", err)
		}
		got = append(got, err.Error())
	}
	for _, want := range []string{
		"xx-YY: missing key welcome",
		"xx-YY: key extra_key is not in the reference",
		`xx-YY: language_option has placeholders ["%d" "%s"]`,
		`say/xx-YY: language_option has placeholders []`,
		"say/xx-YY: key bogus is not in the reference",
	} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("checkKeys errors %q; want one saying %q", got, want)
		}
	}
	if errs := checkKeys("en-US", ref, ref); len(errs) != 0 {
		t.Errorf("checkKeys(reference, reference) = %v; want none", errs)
	}
}

func TestPlaceholdersAndSegments(t *testing.T) {
	tests := []struct {
		text  string
		verbs []string
		segs  []string
	}{
		{"Hello.", nil, []string{"Hello."}},
		{"For English, press %s.", []string{"%s"}, []string{"For English, press ", "."}},
		{"日本語は、%sを押してください。", []string{"%s"}, []string{"日本語は、", "を押してください。"}},
		{"%s and %s", []string{"%s", "%s"}, []string{"", " and ", ""}},
		{"100%% sure, %5.2f or %-3d", []string{"%%", "%5.2f", "%-3d"}, []string{"100%% sure, %5.2f or %-3d"}},
	}
	for _, tt := range tests {
		if got := placeholders(tt.text); !slices.Equal(got, tt.verbs) {
			t.Errorf("placeholders(%q) = %q; want %q", tt.text, got, tt.verbs)
		}
		if got := segments(tt.text); !slices.Equal(got, tt.segs) {
			t.Errorf("segments(%q) = %q; want %q", tt.text, got, tt.segs)
		}
	}
}

func TestSpeakable(t *testing.T) {
	for seg, want := range map[string]bool{
		"": false, ".": false, "。": false, " 、": false, "%": false,
		"a": true, "7": true, "é": true, "を おしてください。": true, "번을": true, "号": true,
	} {
		if got := speakable(seg); got != want {
			t.Errorf("speakable(%q) = %v; want %v", seg, got, want)
		}
	}
}

func TestLoadCatalogs(t *testing.T) {
	fsys := fstest.MapFS{
		"c/en-US.txt":     {Data: []byte("welcome = Hi.\nstar = star\n")},
		"c/ja-JP.txt":     {Data: []byte("welcome = 会議へようこそ。\nstar = 米印\n")},
		"c/say/ja-JP.txt": {Data: []byte("welcome = かいぎへ ようこそ。\n")},
	}
	got, err := loadCatalogs(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	ja := got["ja-JP"]
	if ja == nil || len(got) != 2 {
		t.Fatalf("loadCatalogs = %v; want en-US and ja-JP", got)
	}
	if s := ja.say(Welcome); s != "かいぎへ ようこそ。" {
		t.Errorf("say(welcome) = %q; want the spoken form", s)
	}
	if s := ja.say(Star); s != "米印" {
		t.Errorf("say(star) = %q; want the written form when no spoken one", s)
	}
	if s := ja.text[Welcome]; s != "会議へようこそ。" {
		t.Errorf("text(welcome) = %q; want the written form", s)
	}

	for name, fsys := range map[string]fstest.MapFS{
		"bad line":     {"c/en-US.txt": {Data: []byte("welcome\n")}},
		"bad say":      {"c/en-US.txt": {Data: []byte("welcome = Hi.\n")}, "c/say/en-US.txt": {Data: []byte("x")}},
		"bad tag case": {"c/en-us.txt": {Data: []byte("welcome = Hi.\n")}},
		"bad tag":      {"c/english.txt": {Data: []byte("welcome = Hi.\n")}},
	} {
		if _, err := loadCatalogs(fsys, "c"); !errors.Is(err, ErrCatalog) {
			t.Errorf("%s: loadCatalogs error = %v; want an ErrCatalog", name, err)
		}
	}
}

func TestParseCatalogControl(t *testing.T) {
	for _, in := range []string{"welcome = a\rb", "welcome = a\r\r\n", "welcome = a\x00", "welcome = \x7f"} {
		if _, err := parseCatalog([]byte(in)); !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("parseCatalog(%q) error = %v; want a control character ErrCatalog", in, err)
		}
	}
	if got, err := parseCatalog([]byte("welcome = a\tb")); err != nil || got[0].text != "a\tb" {
		t.Errorf("parseCatalog(tab inside) = %v, %v; want the tab kept", got, err)
	}
}
