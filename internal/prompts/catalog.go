package prompts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrCatalog reports a malformed catalog file.
var ErrCatalog = errors.New("prompts: bad catalog")

// entry is one "key = text" line of a catalog file.
type entry struct {
	key  Key
	text string
	line int
}

// parseCatalog reads the catalog format of tools/prompts/catalog: UTF-8, one
// "key = text" a line, keys of [a-z0-9_], blank lines and lines starting with
// # ignored, spaces and tabs around key and text trimmed, CRLF accepted, no
// control characters but tab in the text. It is the format
// tools/prompts/mkprompts.sh reads too (its entries function), so both must
// change together.
func parseCatalog(data []byte) ([]entry, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrCatalog)
	}
	var out []entry
	seen := make(map[Key]int)
	for n, line := range bytes.Split(data, []byte("\n")) {
		n++
		s := strings.TrimSuffix(string(line), "\r")
		if t := strings.TrimLeft(s, " \t"); t == "" || t[0] == '#' {
			continue
		}
		k, text, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want \"key = text\"", ErrCatalog, n)
		}
		key := Key(strings.TrimRight(k, " \t"))
		if !validKey(key) {
			return nil, fmt.Errorf("%w: line %d: key %q: want [a-z0-9_]+ at the start of the line", ErrCatalog, n, key)
		}
		text = strings.Trim(text, " \t")
		if text == "" {
			return nil, fmt.Errorf("%w: line %d: %s has no text", ErrCatalog, n, key)
		}
		if i := strings.IndexFunc(text, isControl); i >= 0 {
			return nil, fmt.Errorf("%w: line %d: %s has control character %q", ErrCatalog, n, key, text[i])
		}
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("%w: line %d: %s already defined on line %d", ErrCatalog, n, key, first)
		}
		seen[key] = n
		out = append(out, entry{key: key, text: text, line: n})
	}
	return out, nil
}

// isControl reports the characters a prompt text may not hold: C0 controls
// but tab, and DEL. A stray carriage return would not survive a rewrite.
func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

func validKey(k Key) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// verbRE matches a printf-style verb, for comparing the placeholders of a
// translation with those of the reference.
var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]`)

// placeholders returns the printf-style verbs of text, in order.
func placeholders(text string) []string { return verbRE.FindAllString(text, -1) }

// segments splits a spoken text at its %s placeholders: n placeholders give
// n+1 segments, some perhaps without anything to say ("." after the last).
func segments(text string) []string { return strings.Split(text, "%s") }

// speakable reports whether a segment has something to say, the rule by
// which mkprompts.sh decides to render it: a letter or a digit.
func speakable(seg string) bool {
	return strings.ContainsFunc(seg, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// language is the catalog of one language: written texts, and the spoken
// forms that differ from them (say/<lang>.txt).
type language struct {
	tag    string
	text   map[Key]string
	spoken map[Key]string
	segs   map[Key][]string // the spoken text of each key, split at %s
}

// say returns the text the synthesizer spoke for key.
func (l *language) say(key Key) string {
	if s, ok := l.spoken[key]; ok {
		return s
	}
	return l.text[key]
}

// loadCatalogs reads every <lang>.txt under dir of fsys, with its spoken
// forms from dir/say/<lang>.txt when present.
func loadCatalogs(fsys fs.FS, dir string) (map[string]*language, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.txt"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	langs := make(map[string]*language, len(names))
	for _, name := range names {
		tag := strings.TrimSuffix(path.Base(name), ".txt")
		if canonical(tag) != tag {
			return nil, fmt.Errorf("%w: %s: name the file by its canonical tag %q", ErrCatalog, name, canonical(tag))
		}
		l := &language{tag: tag}
		if l.text, err = readCatalog(fsys, name); err != nil {
			return nil, err
		}
		say := path.Join(dir, "say", tag+".txt")
		if _, err := fs.Stat(fsys, say); err == nil {
			if l.spoken, err = readCatalog(fsys, say); err != nil {
				return nil, err
			}
		}
		l.segs = make(map[Key][]string, len(l.text))
		for key := range l.text {
			l.segs[key] = segments(l.say(key))
		}
		langs[tag] = l
	}
	return langs, nil
}

func readCatalog(fsys fs.FS, name string) (map[Key]string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	entries, err := parseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := make(map[Key]string, len(entries))
	for _, e := range entries {
		m[e.key] = e.text
	}
	return m, nil
}
