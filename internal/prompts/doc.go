// Package prompts holds the spoken prompts of the Conferencing Attendant and
// the Conference Announcement Service, in fourteen languages, and the hold
// music, all compiled into the binary.
//
// # Catalog
//
// Every prompt has a stable Key and a text per language. The source of truth
// is one file per language under tools/prompts/catalog (en-US.txt is the
// reference), in a "key = text" line format rather than TOML or JSON: the
// standard library and a shell script both read it without a dependency,
// translators edit plain sentences without escaping, and each language's
// history is its own file. Written texts may differ from what the synthesizer
// is given (kanji, "PIN"); the spoken forms live in catalog/say/<lang>.txt.
// A text may hold "%s" where digits are spoken (LanguageOption: "For
// American English, press %s."); Compose fills it.
//
// # Languages
//
// The fourteen are the dial-in languages an OCS 2007 R2 deployment would
// offer: en-US, en-GB, fr-FR, fr-CA, de-DE, it-IT, es-ES, es-US, pt-BR, nl-NL,
// ja-JP, ko-KR, zh-CN and zh-TW. None was dropped, but espeak-ng 1.51 lacks
// some regional voices, so a neighbour speaks the regional text: fr-CA is
// spoken by the French voice (Québécois words such as "NIP", "carré" and
// "faites le", with a French accent), es-US by the Latin American Spanish
// voice, and zh-TW (traditional characters, Taiwanese terms) by the same
// Mandarin voice as zh-CN. Best picks the nearest language for a caller or an
// access number (exact tag, then the same language in the nearest region,
// then Fallback).
//
// # Audio
//
// tools/prompts/mkprompts.sh renders the catalog with espeak-ng and sox into
// audio/ (not run by CI; its output is committed). Speech is 8 kHz mono IMA
// ADPCM (4 bits a sample: G.711 would have taken 14 MB for the 700 clips,
// ADPCM takes 7.5 MB), at -20 dBFS RMS (about -14 dBm0) or less where a
// clip's peaks would pass -2 dBFS, silence trimmed, faded in and out. The hold music is a 32-second loop of
// our own, synthesized by the same script, stored as G.711 µ-law. PCM,
// Compose, Digits and HoldMusic decode to 16-bit linear PCM at Rate on first
// use and cache the result. Verify checks every clip's presence, length and
// level and the hold music's loop point; the tests run it.
//
// To change a prompt: edit the catalog (every language), run
// tools/prompts/mkprompts.sh, and commit tools/prompts and internal/prompts
// together; a test fails while the audio is older than the text.
//
// espeak-ng is a formant synthesizer: every language is intelligible but
// robotic. Japanese, Korean and Chinese are the weakest: the Japanese voice
// reads kana only (hence the spoken forms) with no pitch accent, the Korean
// one is monotone, and Mandarin tones are there but stiff (its plain cmn
// voice is broken in 1.51, so cmn-latn-pinyin speaks). Recorded voices can
// replace any clip later: the package only needs a file per key.
package prompts
