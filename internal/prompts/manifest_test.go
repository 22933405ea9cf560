package prompts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// source is the catalog the embedded copy is made from, relative to this
// package.
const source = "../../tools/prompts/catalog"

// TestCatalogCopyMatchesSource: internal/prompts/catalog is a byte-for-byte
// copy of tools/prompts/catalog, made by mkprompts.sh. An edit to either
// alone fails here.
func TestCatalogCopyMatchesSource(t *testing.T) {
	src := os.DirFS(source)
	if _, err := fs.Stat(src, "en-US.txt"); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s not present", source)
	}
	copied, err := fs.Sub(files, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	want := listFiles(t, src)
	got := listFiles(t, copied)
	for name, data := range want {
		if c, ok := got[name]; !ok {
			t.Errorf("catalog/%s is missing; run tools/prompts/mkprompts.sh", name)
		} else if !bytes.Equal(c, data) {
			t.Errorf("catalog/%s differs from %s/%s; run tools/prompts/mkprompts.sh", name, source, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("catalog/%s has no source in %s; run tools/prompts/mkprompts.sh", name, source)
		}
	}
}

func listFiles(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		out[name], err = fs.ReadFile(fsys, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestEntry is one rendered key of audio/MANIFEST.
type manifestEntry struct {
	voice, rate, hash string
}

// readManifest parses audio/MANIFEST: tab-separated lang, key, voice, rate
// and the SHA-256 of the spoken text, after # comment lines.
func readManifest(t *testing.T) (entries map[[2]string]manifestEntry, comments []string) {
	t.Helper()
	data, err := fs.ReadFile(files, "audio/MANIFEST")
	if err != nil {
		t.Fatal(err)
	}
	entries = make(map[[2]string]manifestEntry)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			comments = append(comments, line)
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("MANIFEST line %d: %d fields; want 5: %q", n, len(f), line)
		}
		id := [2]string{f[0], f[1]}
		if _, dup := entries[id]; dup {
			t.Errorf("MANIFEST line %d: %s %s twice", n, f[0], f[1])
		}
		entries[id] = manifestEntry{voice: f[2], rate: f[3], hash: f[4]}
	}
	return entries, comments
}

// TestAudioIsCurrent compares the hash of every spoken text with the one the
// audio was rendered from, so that a catalog edit without a new rendering
// fails here rather than playing the old words.
func TestAudioIsCurrent(t *testing.T) {
	entries, comments := readManifest(t)
	header := strings.Join(comments, "\n")
	for _, tool := range []string{"# espeak-ng ", "# sox "} {
		if !strings.Contains(header, tool) {
			t.Errorf("MANIFEST header does not record %q's version:\n%s", strings.TrimPrefix(tool, "# "), header)
		}
	}
	for _, tag := range tags {
		l := langs[tag]
		voice := ""
		for _, key := range allKeys {
			e, ok := entries[[2]string{tag, string(key)}]
			if !ok {
				t.Errorf("%s %s was never rendered; run tools/prompts/mkprompts.sh", tag, key)
				continue
			}
			sum := sha256.Sum256([]byte(l.say(key)))
			if hex.EncodeToString(sum[:]) != e.hash {
				t.Errorf("%s %s: the audio says an older text than %q; run tools/prompts/mkprompts.sh", tag, key, l.say(key))
			}
			if voice == "" {
				voice = e.voice
			} else if e.voice != voice {
				t.Errorf("%s %s: voice %s; the rest of %s uses %s", tag, key, e.voice, tag, voice)
			}
		}
	}
	for id := range entries {
		if l, ok := langs[id[0]]; !ok || l.text[Key(id[1])] == "" {
			t.Errorf("MANIFEST has %s %s, which the catalog does not", id[0], id[1])
		}
	}
}
