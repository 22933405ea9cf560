package prompts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// Rate is the sample rate of every clip, in Hz.
const Rate = 8000

// Gap is the silence, in samples (100 ms), that Compose puts between the
// pieces it joins: around the digits it inserts and between two digits.
const Gap = Rate / 10

// Errors of the package.
var (
	// ErrUnknownLanguage: the catalog has no such language (see Best).
	ErrUnknownLanguage = errors.New("prompts: unknown language")
	// ErrUnknownKey: the catalog has no such key.
	ErrUnknownKey = errors.New("prompts: unknown key")
	// ErrPlaceholders: PCM was asked for a key that takes digits, or Compose
	// got a different number of digit strings than the key has placeholders.
	ErrPlaceholders = errors.New("prompts: wrong number of digit strings for key")
	// ErrNotDigit: a string to read out has something other than 0-9, * and #.
	ErrNotDigit = errors.New("prompts: not a telephone key")
)

// files holds the catalog copied from tools/prompts/catalog and the audio
// rendered from it by tools/prompts/mkprompts.sh.
//
//go:embed catalog audio
var files embed.FS

// langs and tags are the catalog, read at start-up. The catalog is compiled
// in and the tests read it the same way, so a malformed one cannot pass them;
// a panic here means a commit skipped the tests.
var (
	langs = mustLoad()
	tags  = slices.Sorted(maps.Keys(langs))
)

func mustLoad() map[string]*language {
	l, err := loadCatalogs(files, "catalog")
	if err != nil {
		panic(err)
	}
	return l
}

// clipID names one piece of audio: segment seg of key in lang.
type clipID struct {
	lang string
	key  Key
	seg  int
}

// path names the file of a clip. A key without placeholders has one segment,
// stored without an index.
func (c clipID) path(segs int) string {
	if segs == 1 {
		return "audio/" + c.lang + "/" + string(c.key) + ".ima"
	}
	return "audio/" + c.lang + "/" + string(c.key) + "." + strconv.Itoa(c.seg) + ".ima"
}

// cache holds decoded clips. Clips are decoded on first use and kept for the
// life of the process: all of them together are 30 MB of PCM, and a server
// plays the few languages of its access numbers. A plain map under a lock,
// not a sync.Map, so that a lookup by struct key does not allocate.
var cache = struct {
	sync.RWMutex
	m map[clipID][]int16
}{m: make(map[clipID][]int16)}

// clip returns the decoded segment id of a key with segs segments, from the
// cache or decoded and cached; nil when it has no audio (a segment with
// nothing to say).
func clip(id clipID, segs int) ([]int16, error) {
	cache.RLock()
	pcm, ok := cache.m[id]
	cache.RUnlock()
	if ok {
		return pcm, nil
	}
	pcm, err := load(id, segs)
	if err != nil || pcm == nil {
		return nil, err
	}
	cache.Lock()
	defer cache.Unlock()
	if first, ok := cache.m[id]; ok { // decoded meanwhile by another caller
		return first, nil
	}
	cache.m[id] = pcm
	return pcm, nil
}

// load decodes a clip without caching it; nil when it has no file.
func load(id clipID, segs int) ([]int16, error) {
	data, err := fs.ReadFile(files, id.path(segs))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	return decodeIMA(data), nil
}

// lookup returns the catalog of lang, without allocating when lang is
// already canonical.
func lookup(lang string) (*language, bool) {
	if l, ok := langs[lang]; ok {
		return l, true
	}
	l, ok := langs[canonical(lang)]
	return l, ok
}

// Text returns the written text of key in lang, with its %s placeholders,
// or "" when the catalog lacks either. lang must be a catalog language (see
// Best), compared as Has compares.
func Text(lang string, key Key) string {
	if l, ok := lookup(lang); ok {
		return l.text[key]
	}
	return ""
}

// segmentsOf returns the decoded segments of key in lang into dst: one for
// a key without placeholders, n+1 for n placeholders. A segment with nothing
// to say ("." after the last placeholder) is nil.
func segmentsOf(dst [][]int16, lang string, key Key) ([][]int16, error) {
	l, ok := lookup(lang)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownLanguage, lang)
	}
	segs, ok := l.segs[key]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	for i := range segs {
		pcm, err := clip(clipID{l.tag, key, i}, len(segs))
		if err != nil {
			return nil, err
		}
		dst = append(dst, pcm)
	}
	return dst, nil
}

// PCM returns the audio of key in lang: 16-bit linear samples at Rate, a
// slice shared by all callers that must not be modified. Keys with
// placeholders (LanguageOption) need Compose instead.
func PCM(lang string, key Key) ([]int16, error) {
	var one [1][]int16
	segs, err := segmentsOf(one[:0], lang, key)
	if err != nil {
		return nil, err
	}
	if len(segs) != 1 {
		return nil, fmt.Errorf("%w %s: takes %d, got 0", ErrPlaceholders, key, len(segs)-1)
	}
	if segs[0] == nil {
		return nil, fmt.Errorf("%w: %s in %s has no audio", ErrAudio, key, lang)
	}
	return segs[0], nil
}

// Compose returns the audio of key in lang with each %s placeholder spoken as
// the telephone keys of the matching digit string, in lang, with Gap of
// silence around each inserted piece and between its keys. It returns a new
// slice, which the caller owns. It works for keys without placeholders too.
func Compose(lang string, key Key, digits ...string) ([]int16, error) {
	segs, err := segmentsOf(nil, lang, key)
	if err != nil {
		return nil, err
	}
	if len(digits) != len(segs)-1 {
		return nil, fmt.Errorf("%w %s: takes %d, got %d", ErrPlaceholders, key, len(segs)-1, len(digits))
	}
	var out []int16
	pause := func() {
		if len(out) > 0 {
			out = append(out, make([]int16, Gap)...)
		}
	}
	for i, seg := range segs {
		if len(seg) > 0 {
			pause()
			out = append(out, seg...)
		}
		if i == len(digits) {
			break
		}
		keys, err := Digits(lang, digits[i])
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			pause()
			out = append(out, k...)
		}
	}
	return out, nil
}

// Digits returns one clip per telephone key of digits ('0'-'9', '*', '#'),
// spoken in lang, for reading numbers back. The clips are shared and must not
// be modified. An empty string gives no clips.
func Digits(lang, digits string) ([][]int16, error) {
	if !Has(lang) {
		return nil, fmt.Errorf("%w %q", ErrUnknownLanguage, lang)
	}
	out := make([][]int16, 0, len(digits))
	for i, r := range digits {
		key, ok := keyFor(r)
		if !ok {
			// Not the string itself: it may be a caller's conference ID.
			return nil, fmt.Errorf("%w: %q at byte %d", ErrNotDigit, r, i)
		}
		pcm, err := PCM(lang, key)
		if err != nil {
			return nil, err
		}
		out = append(out, pcm)
	}
	return out, nil
}

// holdPath is the hold music: 32 s of µ-law, made to loop.
const holdPath = "audio/hold.ul"

// hold decodes the hold music once.
var hold = sync.OnceValues(func() ([]int16, error) {
	data, err := fs.ReadFile(files, holdPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAudio, err)
	}
	return decodeUlaw(data), nil
})

// HoldMusic returns the hold music: a 32-second loop at Rate, composed for
// Parley with sox (royalty-free, ours), whose last sample runs into its first
// without a click. The slice is shared and must not be modified; play it with
// a looping player such as media/tone.Clip.
func HoldMusic() []int16 {
	pcm, err := hold()
	if err != nil {
		// The file is compiled in and checked by the tests, so this is a
		// broken build, like a failed regexp.MustCompile.
		panic(err)
	}
	return pcm
}
