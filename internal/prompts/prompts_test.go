package prompts

import (
	"errors"
	"slices"
	"testing"
)

// TestVerify runs the full check of the committed catalog and audio: every
// key of every language present, lengths and levels in range, hold music
// looping cleanly.
func TestVerify(t *testing.T) {
	if err := Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		lang string
		key  Key
		want string
	}{
		{"en-US", Welcome, "Welcome to the conferencing service."},
		{"en_us", Pound, "pound"},
		{"en-GB", Pound, "hash"},
		{"fr-CA", EnterPIN, "Veuillez entrer votre NIP, suivi du carré."},
		{"de-DE", Goodbye, "Vielen Dank für Ihren Anruf. Auf Wiederhören."},
		{"ja-JP", Welcome, "会議サービスへようこそ。"}, // the written form, not the kana of say/
		{"en-US", LanguageOption, "For American English, press %s."},
		{"sv-SE", Welcome, ""},
		{"en-US", "no_such_key", ""},
	}
	for _, tt := range tests {
		if got := Text(tt.lang, tt.key); got != tt.want {
			t.Errorf("Text(%q, %q) = %q; want %q", tt.lang, tt.key, got, tt.want)
		}
	}
}

func TestPCM(t *testing.T) {
	pcm, err := PCM("en-US", Welcome)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pcm); n < Rate || n > 4*Rate {
		t.Errorf("PCM(en-US, welcome) = %.2f s; want 1 to 4 s", float64(n)/Rate)
	}
	again, err := PCM("EN_us", Welcome)
	if err != nil {
		t.Fatal(err)
	}
	if &again[0] != &pcm[0] {
		t.Error("PCM decoded the clip twice; want the cached samples")
	}
	other, _ := PCM("fr-FR", Welcome)
	if len(other) == 0 || &other[0] == &pcm[0] {
		t.Error("PCM(fr-FR, welcome) returned the English clip")
	}
}

func TestPCMErrors(t *testing.T) {
	tests := []struct {
		lang string
		key  Key
		want error
	}{
		{"sv-SE", Welcome, ErrUnknownLanguage},
		{"", Welcome, ErrUnknownLanguage},
		{"en-US", "no_such_key", ErrUnknownKey},
		{"en-US", "", ErrUnknownKey},
		{"en-US", LanguageOption, ErrPlaceholders},
		{"ja-JP", LanguageOption, ErrPlaceholders},
	}
	for _, tt := range tests {
		pcm, err := PCM(tt.lang, tt.key)
		if !errors.Is(err, tt.want) || pcm != nil {
			t.Errorf("PCM(%q, %q) = %d samples, %v; want %v", tt.lang, tt.key, len(pcm), err, tt.want)
		}
	}
}

// TestCompose builds "For American English, press two." and "日本語は、二を押して
// ください。" from their pieces and checks the joins sample for sample.
func TestCompose(t *testing.T) {
	for _, lang := range []string{"en-US", "ja-JP", "ko-KR", "zh-CN"} {
		t.Run(lang, func(t *testing.T) {
			segs, err := segmentsOf(nil, lang, LanguageOption)
			if err != nil {
				t.Fatal(err)
			}
			two, _ := PCM(lang, Digit2)
			var want []int16
			for i, seg := range segs {
				if len(seg) > 0 {
					if len(want) > 0 {
						want = append(want, make([]int16, Gap)...)
					}
					want = append(want, seg...)
				}
				if i == 0 {
					want = append(want, make([]int16, Gap)...)
					want = append(want, two...)
				}
			}
			got, err := Compose(lang, LanguageOption, "2")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Compose(%s, language_option, 2) = %d samples; want %d, the segments around digit_2", lang, len(got), len(want))
			}
		})
	}
}

func TestComposeDigitsAndPlainKeys(t *testing.T) {
	one, _ := PCM("en-US", Digit1)
	two, _ := PCM("en-US", Digit2)
	seg, _ := segmentsOf(nil, "en-US", LanguageOption)
	got, err := Compose("en-US", LanguageOption, "12")
	if err != nil {
		t.Fatal(err)
	}
	// en-US has nothing to say after the digits ("."), so the clip ends with them.
	want := append(append(append(append(append([]int16{}, seg[0]...), make([]int16, Gap)...), one...), make([]int16, Gap)...), two...)
	if seg[1] != nil || !slices.Equal(got, want) {
		t.Errorf("Compose(en-US, language_option, 12) = %d samples; want %d", len(got), len(want))
	}

	plain, err := Compose("en-US", Goodbye)
	ref, _ := PCM("en-US", Goodbye)
	if err != nil || !slices.Equal(plain, ref) {
		t.Errorf("Compose(en-US, goodbye) = %d samples, %v; want the clip (%d samples)", len(plain), err, len(ref))
	}
	plain[0]++
	if ref[0] == plain[0] {
		t.Error("Compose returned the shared clip; want a copy the caller owns")
	}
}

func TestComposeErrors(t *testing.T) {
	tests := []struct {
		lang   string
		key    Key
		digits []string
		want   error
	}{
		{"en-US", LanguageOption, nil, ErrPlaceholders},
		{"en-US", LanguageOption, []string{"1", "2"}, ErrPlaceholders},
		{"en-US", Goodbye, []string{"1"}, ErrPlaceholders},
		{"en-US", LanguageOption, []string{"1a"}, ErrNotDigit},
		{"xx-YY", LanguageOption, []string{"1"}, ErrUnknownLanguage},
		{"en-US", "nope", nil, ErrUnknownKey},
	}
	for _, tt := range tests {
		if got, err := Compose(tt.lang, tt.key, tt.digits...); !errors.Is(err, tt.want) || got != nil {
			t.Errorf("Compose(%q, %q, %q) = %d samples, %v; want %v", tt.lang, tt.key, tt.digits, len(got), err, tt.want)
		}
	}
}

func TestDigits(t *testing.T) {
	for _, lang := range Languages() {
		got, err := Digits(lang, "0123456789*#")
		if err != nil {
			t.Fatalf("Digits(%s) error = %v", lang, err)
		}
		keys := []Key{Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Star, Pound}
		if len(got) != len(keys) {
			t.Fatalf("Digits(%s) = %d clips; want %d", lang, len(got), len(keys))
		}
		for i, k := range keys {
			want, _ := PCM(lang, k)
			if len(got[i]) == 0 || &got[i][0] != &want[0] {
				t.Errorf("Digits(%s)[%d] is not the %s clip", lang, i, k)
			}
		}
	}
	if got, err := Digits("en-US", ""); err != nil || len(got) != 0 {
		t.Errorf("Digits(en-US, \"\") = %d clips, %v; want none", len(got), err)
	}
}

func TestDigitsErrors(t *testing.T) {
	for _, tt := range []struct {
		lang, digits string
		want         error
	}{
		{"en-US", "12a", ErrNotDigit},
		{"en-US", "1 2", ErrNotDigit},
		{"en-US", "١٢", ErrNotDigit}, // Arabic-Indic digits are not telephone keys
		{"en-US", "\xff", ErrNotDigit},
		{"sv-SE", "12", ErrUnknownLanguage},
	} {
		if got, err := Digits(tt.lang, tt.digits); !errors.Is(err, tt.want) || got != nil {
			t.Errorf("Digits(%q, %q) = %d clips, %v; want %v", tt.lang, tt.digits, len(got), err, tt.want)
		}
	}
}

func TestKeyFor(t *testing.T) {
	for r, want := range map[rune]Key{'0': Digit0, '5': Digit5, '9': Digit9, '*': Star, '#': Pound} {
		if got, ok := keyFor(r); !ok || got != want {
			t.Errorf("keyFor(%q) = %q, %v; want %q", r, got, ok, want)
		}
	}
	for _, r := range []rune{'a', 'A', '/', ':', ' ', '٣'} {
		if got, ok := keyFor(r); ok {
			t.Errorf("keyFor(%q) = %q; want none", r, got)
		}
	}
}

func TestHoldMusic(t *testing.T) {
	pcm := HoldMusic()
	if len(pcm) != 32*Rate {
		t.Errorf("HoldMusic() = %d samples; want %d (32 s)", len(pcm), 32*Rate)
	}
	if again := HoldMusic(); &again[0] != &pcm[0] {
		t.Error("HoldMusic decoded twice; want the cached samples")
	}
	if errs := checkHold(); len(errs) > 0 {
		t.Error(errs)
	}
}

func BenchmarkPCMCached(b *testing.B) {
	if _, err := PCM("en-US", Welcome); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PCM("en-US", Welcome); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for b.Loop() {
		if err := Verify(); err != nil {
			b.Fatal(err)
		}
	}
}
