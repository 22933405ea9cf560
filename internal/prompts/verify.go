package prompts

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
)

// ErrAudio reports a clip that fails Verify's checks.
var ErrAudio = errors.New("prompts: bad audio")

// Limits Verify holds every clip to.
const (
	// MinClip and MaxClip bound a clip's length, in samples (0.2 s and 15 s):
	// shorter is a clipped word, longer a prompt too long to listen to.
	MinClip = Rate / 5
	MaxClip = 15 * Rate
	// MaxPeak is the highest sample magnitude allowed: the renderer keeps
	// peaks under -2 dBFS (26028) and ADPCM overshoots by up to 1.5 dB on
	// steep edges, so a clip reaching the 16-bit rails has clipped.
	MaxPeak = 32000
	// MinSpeechRMS and MaxSpeechRMS bound a speech clip's RMS level in dBFS
	// (a full-scale square wave is 0). The renderer aims at -20 and stays
	// lower where a clip's crest factor would push its peaks over the
	// ceiling; espeak-ng's Spanish reaches 23 dB, hence the low bound.
	MinSpeechRMS = -26.0
	MaxSpeechRMS = -19.0
	// MinHoldRMS and MaxHoldRMS bound the hold music's level around its
	// target of -22 dBFS: under speech, but not inaudible.
	MinHoldRMS = -25.0
	MaxHoldRMS = -19.0
)

// Verify decodes every clip and checks the whole catalog: every language has
// text for exactly the keys of the reference (Fallback) with the same
// placeholders; every segment with something to say has audio and no other
// audio exists; every clip lasts MinClip to MaxClip, peaks under MaxPeak and
// has an RMS level within the speech window; and the hold music lasts 20 to
// 40 s, sits in its level window and loops without a click. It returns every
// problem found, joined. A server may call it at start-up: it takes about a
// tenth of a second, and decodes each clip without keeping it.
func Verify() error {
	var errs []error
	ref, ok := langs[Fallback]
	if !ok {
		return fmt.Errorf("%w: no reference language %s", ErrCatalog, Fallback)
	}
	want := make(map[string]bool) // audio paths that should exist
	for _, tag := range tags {
		l := langs[tag]
		errs = append(errs, checkKeys(tag, l, ref)...)
		for _, key := range allKeys {
			segs := l.segs[key]
			for i, seg := range segs {
				id := clipID{tag, key, i}
				name := id.path(len(segs))
				if !speakable(seg) {
					continue
				}
				want[name] = true
				pcm, err := load(id, len(segs))
				switch {
				case err != nil:
					errs = append(errs, err)
				case pcm == nil:
					errs = append(errs, fmt.Errorf("%w: %s: missing (segment %q)", ErrAudio, name, seg))
				default:
					errs = append(errs, checkSpeech(name, pcm)...)
				}
			}
		}
	}
	errs = append(errs, checkStray(want)...)
	errs = append(errs, checkHold()...)
	return errors.Join(errs...)
}

// checkKeys compares one language's keys and placeholders with the reference.
func checkKeys(tag string, l, ref *language) []error {
	var errs []error
	for _, key := range allKeys {
		if _, ok := ref.text[key]; !ok {
			errs = append(errs, fmt.Errorf("%w: %s: key %s of the code is missing from the reference", ErrCatalog, Fallback, key))
		}
	}
	for key := range ref.text {
		if !slices.Contains(allKeys, key) {
			errs = append(errs, fmt.Errorf("%w: %s: key %s has no Go constant", ErrCatalog, Fallback, key))
		}
	}
	for key, text := range ref.text {
		got, ok := l.text[key]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s: missing key %s", ErrCatalog, tag, key))
			continue
		}
		if !slices.Equal(placeholders(got), placeholders(text)) {
			errs = append(errs, fmt.Errorf("%w: %s: %s has placeholders %q; the reference has %q",
				ErrCatalog, tag, key, placeholders(got), placeholders(text)))
		}
		if s, ok := l.spoken[key]; ok && !slices.Equal(placeholders(s), placeholders(text)) {
			errs = append(errs, fmt.Errorf("%w: say/%s: %s has placeholders %q; the reference has %q",
				ErrCatalog, tag, key, placeholders(s), placeholders(text)))
		}
	}
	for key := range l.text {
		if _, ok := ref.text[key]; !ok {
			errs = append(errs, fmt.Errorf("%w: %s: key %s is not in the reference", ErrCatalog, tag, key))
		}
	}
	for key := range l.spoken {
		if _, ok := ref.text[key]; !ok {
			errs = append(errs, fmt.Errorf("%w: say/%s: key %s is not in the reference", ErrCatalog, tag, key))
		}
	}
	return errs
}

// checkSpeech holds one speech clip to the length and level limits.
func checkSpeech(name string, pcm []int16) []error {
	var errs []error
	if n := len(pcm); n < MinClip || n > MaxClip {
		errs = append(errs, fmt.Errorf("%w: %s: %.2f s long; want %.1f to %.0f s",
			ErrAudio, name, float64(n)/Rate, float64(MinClip)/Rate, float64(MaxClip)/Rate))
	}
	peak, rms := levels(pcm)
	if peak > MaxPeak {
		errs = append(errs, fmt.Errorf("%w: %s: peak %d; want at most %d", ErrAudio, name, peak, MaxPeak))
	}
	if rms < MinSpeechRMS || rms > MaxSpeechRMS {
		errs = append(errs, fmt.Errorf("%w: %s: RMS %.1f dBFS; want %.0f to %.0f",
			ErrAudio, name, rms, MinSpeechRMS, MaxSpeechRMS))
	}
	return errs
}

// checkStray reports audio files that no key and segment account for.
func checkStray(want map[string]bool) []error {
	var errs []error
	err := fs.WalkDir(files, "audio", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(name, ".ima") && !want[name] {
			errs = append(errs, fmt.Errorf("%w: %s: no catalog entry speaks it", ErrAudio, name))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("prompts: %w", err))
	}
	return errs
}

// checkHold checks the embedded hold music with checkMusic.
func checkHold() []error {
	pcm, err := hold()
	if err != nil {
		return []error{err}
	}
	return checkMusic(holdPath, pcm)
}

// checkMusic holds a music loop to the hold music's length and level limits,
// and checks its loop point: the step from the last sample to the first, and
// the change of slope across it, must be no larger than the music's own
// 99.9th percentile of those, so the seam is no sharper than the music
// already is. (Not the maximum, which a click can stay under; not a lower
// percentile, which a clean seam at a steep point of the waveform exceeds.)
func checkMusic(name string, pcm []int16) []error {
	var errs []error
	if n := len(pcm); n < 20*Rate || n > 40*Rate {
		errs = append(errs, fmt.Errorf("%w: %s: %.1f s long; want 20 to 40 s", ErrAudio, name, float64(n)/Rate))
		if n < 3 {
			return errs
		}
	}
	peak, rms := levels(pcm)
	if peak > MaxPeak {
		errs = append(errs, fmt.Errorf("%w: %s: peak %d; want at most %d", ErrAudio, name, peak, MaxPeak))
	}
	if rms < MinHoldRMS || rms > MaxHoldRMS {
		errs = append(errs, fmt.Errorf("%w: %s: RMS %.1f dBFS; want %.0f to %.0f", ErrAudio, name, rms, MinHoldRMS, MaxHoldRMS))
	}
	step, bend := seam(pcm)
	steps, bends := roughness(pcm)
	if limit := percentile(steps, 0.999); step > limit {
		errs = append(errs, fmt.Errorf("%w: %s: loop seam steps by %d; the music's 99.9th percentile is %d", ErrAudio, name, step, limit))
	}
	if limit := percentile(bends, 0.999); bend > limit {
		errs = append(errs, fmt.Errorf("%w: %s: loop seam bends by %d; the music's 99.9th percentile is %d", ErrAudio, name, bend, limit))
	}
	return errs
}

// seam returns the first and second difference across the loop point: from
// the last sample x[n-1] to the first x[0], and the change of slope there.
func seam(x []int16) (step, bend int) {
	n := len(x)
	a, b, c := int(x[n-2]), int(x[n-1]), int(x[0])
	return abs(c - b), abs(c - 2*b + a)
}

// roughness returns the magnitudes of the first and second differences of x.
func roughness(x []int16) (steps, bends []int) {
	steps = make([]int, 0, len(x))
	bends = make([]int, 0, len(x))
	for i := 1; i < len(x); i++ {
		steps = append(steps, abs(int(x[i])-int(x[i-1])))
		if i > 1 {
			bends = append(bends, abs(int(x[i])-2*int(x[i-1])+int(x[i-2])))
		}
	}
	return steps, bends
}

// percentile returns the p-quantile of v (which it sorts).
func percentile(v []int, p float64) int {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[min(len(v)-1, int(p*float64(len(v))))]
}

// levels returns the peak magnitude of pcm and its RMS level in dBFS, where a
// full-scale square wave is 0 dBFS (sox's convention); silence is -Inf.
func levels(pcm []int16) (peak int, rms float64) {
	var sum float64
	for _, s := range pcm {
		peak = max(peak, abs(int(s)))
		sum += float64(s) * float64(s)
	}
	if len(pcm) == 0 || sum == 0 {
		return peak, math.Inf(-1)
	}
	return peak, 10 * math.Log10(sum/float64(len(pcm))/(32768*32768))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
