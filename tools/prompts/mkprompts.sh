#!/usr/bin/env bash
# mkprompts.sh renders the prompt catalog to telephone audio for
# internal/prompts, which embeds the result. CI does not run it: its output is
# committed, so building Parley needs neither espeak-ng nor sox.
#
# Input (the source of truth, edited by translators):
#   tools/prompts/catalog/<lang>.txt      "key = text" lines, en-US.txt is the reference
#   tools/prompts/catalog/say/<lang>.txt  spoken forms, for keys whose written form
#                                         the synthesizer misreads (kanji, "PIN", "ID")
# Output (replaced as a whole, so removed keys leave no files behind):
#   internal/prompts/catalog/             a byte-for-byte copy of the input
#   internal/prompts/audio/<lang>/<key>.ima      one clip per key
#   internal/prompts/audio/<lang>/<key>.<n>.ima  segment n of a key with "%s" placeholders
#                                                (absent when that segment has nothing to say)
#   internal/prompts/audio/hold.ul               the hold music loop
#   internal/prompts/audio/MANIFEST              tool versions, voice and text hash per clip
#
# Formats, chosen for size. The 700 speech clips last about 30 minutes: as
# G.711 µ-law (8 bits a sample) they would take 14 MB, over the 8 MB we allow
# the repository and the binary. So speech is IMA ADPCM (4 bits a sample,
# 32 kbit/s: the class of ADPCM that DECT phones carry as G.726), headerless
# as sox writes "-t ima": one stream per clip starting from step index 0 and
# sample 0, two codes a byte, high nibble first. The hold music is G.711 µ-law
# (.ul, 1 byte a sample), because it is short and music shows ADPCM's noise.
#
# Every clip goes: espeak-ng (22.05 kHz) -> -6 dB headroom -> high-pass 100 Hz
# -> resample to 8 kHz -> trim leading and trailing silence (below -50 dBFS)
# -> gain to an RMS of TARGET_RMS dBFS, or less where that would put a peak
# above PEAK_CEILING -> 5 ms fade in, 20 ms fade out -> ADPCM. Levels are on
# sox's scale, where a full-scale sine reads -3 dBFS; G.711 puts 0 dBm0 3.17 dB
# below that sine, so -20 dBFS RMS is about -14 dBm0, a clear talker level.
# Louder would not fit: espeak-ng's speech has a crest factor of about 18.5 dB,
# so -16 dBFS RMS would need peaks at +2.5 dBFS, clipped or squashed.
#
# The run is deterministic (espeak-ng has no randomness; sox runs with -R for
# fixed seeds and -D for no dither), so re-running it with the tool versions
# below reproduces the committed files byte for byte. Other versions still work
# but will change the audio; the script says so.
#
# Usage: tools/prompts/mkprompts.sh [-j jobs]     (default 2 parallel languages)
# Needs: bash 4, espeak-ng, sox, sha256sum, awk.
set -euo pipefail
export LC_ALL=C.UTF-8

# Versions the committed audio was made with (espeak-ng --version, sox --version).
readonly ESPEAK_VERSION=1.51
readonly SOX_VERSION=14.4.2

readonly TARGET_RMS=-20  # dBFS, speech
readonly HOLD_RMS=-22    # dBFS, music sits under speech
readonly PEAK_CEILING=-2 # dBFS, no peak above it: ADPCM overshoots by up to 1.5 dB

# rate gives espeak-ng's speed (-s, "words a minute", default 175) for a key
# of a language. Prompts go a little slower than conversation. espeak-ng
# counts each Chinese character as a word, so Mandarin needs a higher number
# for about four syllables a second, a calm prompt pace. The names of the
# telephone keys are read back one by one, so they are spoken slowly and
# distinctly, which also keeps one-syllable digits ("six", "二") over 0.2 s.
rate() {
	case $1:$2 in
	zh-*:digit_* | zh-*:star | zh-*:pound) echo 120 ;;
	*:digit_* | *:star | *:pound) echo 100 ;;
	zh-*) echo 230 ;;
	*) echo 160 ;;
	esac
}

jobs=2
while getopts j: opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	*) echo "usage: $0 [-j jobs]" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$here/catalog
pkg=$root/internal/prompts

die() { echo "mkprompts: $*" >&2; exit 1; }

# voice maps a catalog language to the espeak-ng voice that speaks it. Where
# espeak-ng has no voice for the region, the nearest one speaks the regional
# text: fr-CA uses fr-fr (the words are Québécois, the accent is not), es-US
# uses es-419 (Latin American), zh-TW uses Mandarin like zh-CN. Chinese uses
# cmn-latn-pinyin because the plain cmn voice of espeak-ng 1.51 reads the tone
# numbers of its own pinyin aloud in English ("qing three").
voice() {
	case $1 in
	en-US) echo en-us ;;
	en-GB) echo en-gb ;;
	fr-FR | fr-CA) echo fr-fr ;;
	de-DE) echo de ;;
	it-IT) echo it ;;
	es-ES) echo es ;;
	es-US) echo es-419 ;;
	pt-BR) echo pt-br ;;
	nl-NL) echo nl ;;
	ja-JP) echo ja ;;
	ko-KR) echo ko ;;
	zh-CN | zh-TW) echo cmn-latn-pinyin ;;
	*) return 1 ;;
	esac
}

check_tools() {
	local t
	for t in espeak-ng sox sha256sum awk; do
		command -v "$t" >/dev/null || die "$t is not installed"
	done
	local ev sv
	ev=$(espeak-ng --version | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+/) {print $i; exit}}')
	sv=$(sox --version | sed -n 's/.*SoX v\([0-9.]*\).*/\1/p')
	[[ $ev == "$ESPEAK_VERSION" ]] || echo "mkprompts: warning: espeak-ng $ev, audio was made with $ESPEAK_VERSION" >&2
	[[ $sv == "$SOX_VERSION" ]] || echo "mkprompts: warning: sox $sv, audio was made with $SOX_VERSION" >&2
	echo "# espeak-ng $ev"
	echo "# sox $sv"
}

# entries prints "key<TAB>text" for each entry of a catalog file and fails on
# a malformed line. The Go package parses the same format (catalog.go).
entries() {
	local file=$1 line n=0
	# Only space and tab count as blanks, as in Go's strings.Trim(s, " \t").
	local -r skip=$'^[ \t]*(#|$)' pair=$'^([a-z0-9_]+)[ \t]*=[ \t]*(.*[^ \t])[ \t]*$'
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%$'\r'}
		[[ $line =~ $skip ]] && continue
		[[ $line =~ $pair ]] || die "$file:$n: want \"key = text\""
		printf '%s\t%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
	done <"$file"
}

# level prints the gain in dB that brings file to an RMS of target dBFS, or
# less if that would lift its peak above ceiling dBFS. A plain gain, not sox's
# "gain -l" limiter, which also reshapes peaks well below full scale.
level() {
	sox "$1" -n stats 2>&1 | awk -v t="$2" -v c="$3" '
		$1 == "RMS" && $2 == "lev" { rms = $4 }
		$1 == "Pk" && $2 == "lev" { pk = $4 }
		END {
			if (rms == "" || pk == "" || rms == "-inf") exit 1
			g = t - rms
			if (pk + g > c) g = c - pk
			printf "%.2f\n", g
		}'
}

# render speaks one piece of text into an ADPCM file; it writes nothing when
# the text has no letters or digits (the piece of "%s." after a placeholder).
render() {
	local lang=$1 voice=$2 speed=$3 text=$4 out=$5 tmp=$6
	[[ $text =~ [[:alnum:]] ]] || return 0

	# A language switch in the phoneme output, like "(en)", means espeak-ng
	# could not read part of the text in this voice (kanji, Latin letters):
	# fix the text or add a spoken form under say/.
	local ph
	ph=$(printf '%s' "$text" | espeak-ng -q -x -v "$voice" -s "$speed" --stdin)
	[[ $ph != *"("* ]] || die "$lang: voice $voice cannot read \"$text\": $ph"

	printf '%s' "$text" | espeak-ng -v "$voice" -s "$speed" --stdin -w "$tmp/a.wav"
	sox -R -D "$tmp/a.wav" -b 32 -e floating-point "$tmp/b.wav" \
		gain -6 highpass 100 rate -v 8000 \
		silence 1 0.005 -50d reverse silence 1 0.005 -50d reverse
	local gain
	gain=$(level "$tmp/b.wav" "$TARGET_RMS" "$PEAK_CEILING") || die "$lang: no level for \"$text\""
	sox -R -D "$tmp/b.wav" -t ima -r 8000 -c 1 "$out" gain "$gain" fade h 0.005 -0 0.02
}

# render_lang renders every key of one language into $2/audio/<lang> and
# writes its manifest lines to $2/manifest.<lang>.
render_lang() {
	local lang=$1 out=$2 v
	v=$(voice "$lang") || die "$lang: no espeak-ng voice configured; add one to voice()"
	local tmp dir=$out/audio/$lang
	tmp=$(mktemp -d -p "$out")
	mkdir -p "$dir"

	declare -A say=()
	local key text
	if [[ -f $src/say/$lang.txt ]]; then
		while IFS=$'\t' read -r key text; do say[$key]=$text; done < <(entries "$src/say/$lang.txt")
	fi

	while IFS=$'\t' read -r key text; do
		local spoken=${say[$key]:-$text} speed hash
		speed=$(rate "$lang" "$key")
		hash=$(printf '%s' "$spoken" | sha256sum | cut -c1-64)
		printf '%s\t%s\t%s\t%s\t%s\n' "$lang" "$key" "$v" "$speed" "$hash" >>"$out/manifest.$lang"
		if [[ $spoken != *%s* ]]; then
			render "$lang" "$v" "$speed" "$spoken" "$dir/$key.ima" "$tmp"
			continue
		fi
		# Split at each %s; segment n goes to <key>.<n>.ima.
		local rest=$spoken n=0
		while [[ $rest == *%s* ]]; do
			render "$lang" "$v" "$speed" "${rest%%"%s"*}" "$dir/$key.$n.ima" "$tmp"
			rest=${rest#*"%s"}
			n=$((n + 1))
		done
		render "$lang" "$v" "$speed" "$rest" "$dir/$key.$n.ima" "$tmp"
	done < <(entries "$src/$lang.txt")
	rm -rf "$tmp"
}

# hold renders the hold music: eight 4-second bars of a slow I-vi-IV-V style
# progression in C major (pad chord, bass note and an eighth-note arpeggio),
# 32 seconds that loop without a seam. Every note starts and ends at zero, and
# the part of the last bar that rings past 32 s is mixed back onto the start,
# so sample 0 follows the last sample as any two neighbours do.
hold() {
	local dst=$1 tmp
	tmp=$(mktemp -d -p "$out")
	local -r bar=4 len=32
	# Chords as MIDI notes (60 = middle C), lowest first: Cmaj7 Am7 Fmaj7 G6
	# Em7 Am7 Dm7 G7sus4. Four tones each; the bass is the first an octave
	# down, the arpeggio runs over the tones an octave up.
	local -a chords=(
		"60 64 67 71" "57 60 64 67" "53 57 60 64" "55 59 62 64"
		"52 55 59 62" "57 60 64 67" "50 53 57 60" "55 60 62 65"
	)
	local -a arp=(0 1 2 3 2 1 2 1)
	hz() { awk -v m="$1" 'BEGIN {printf "%.4f", 440 * 2 ^ ((m - 69) / 12)}'; }
	local -a mix=()
	local k i
	for k in "${!chords[@]}"; do
		local -a c=(${chords[$k]})
		local start=$((k * bar)) f
		# Pad: the chord in sines, swelling in and out, ringing 1.5 s into the next bar.
		local args=(synth 5.5 sine "$(hz "${c[0]}")")
		for f in "${c[@]:1}"; do args+=(synth 5.5 sine mix "$(hz "$f")"); done
		sox -R -D -n -r 8000 -c 1 -b 32 -e floating-point "$tmp/pad$k.wav" \
			"${args[@]}" fade h 1.5 5.5 2 gain -12 pad "$start"
		mix+=("$tmp/pad$k.wav")
		# Bass: the root an octave down, two soft notes per bar.
		for i in 0 2; do
			sox -R -D -n -r 8000 -c 1 -b 32 -e floating-point "$tmp/bass$k-$i.wav" \
				synth 2 pluck "$(hz $((c[0] - 12)))" fade h 0.01 2 0.6 gain -6 pad "$((start + i))"
			mix+=("$tmp/bass$k-$i.wav")
		done
		# Arpeggio: eighth notes at 120 bpm, each ringing a little over the next,
		# softened by a low-pass (a plucked string is bright).
		for i in "${!arp[@]}"; do
			local at
			at=$(awk -v s="$start" -v i="$i" 'BEGIN {printf "%.3f", s + i * 0.5}')
			sox -R -D -n -r 8000 -c 1 -b 32 -e floating-point "$tmp/arp$k-$i.wav" \
				synth 0.9 pluck "$(hz $((c[arp[i]] + 12)))" lowpass 2000 fade h 0.005 0.9 0.5 gain -9 pad "$at"
			mix+=("$tmp/arp$k-$i.wav")
		done
	done
	local -a inputs=()
	for f in "${mix[@]}"; do inputs+=(-v 1 "$f"); done
	sox -R -D -m "${inputs[@]}" "$tmp/pass.wav"
	# Fold the ring-out past the loop length back onto the start.
	sox -R -D "$tmp/pass.wav" "$tmp/head.wav" trim 0 "$len"
	sox -R -D "$tmp/pass.wav" "$tmp/tail.wav" trim "$len"
	sox -R -D -m -v 1 "$tmp/head.wav" -v 1 "$tmp/tail.wav" "$tmp/loop.wav"
	sox -R -D "$tmp/loop.wav" "$tmp/loop32.wav" lowpass 3400 trim 0 "$len"
	local gain
	gain=$(level "$tmp/loop32.wav" "$HOLD_RMS" "$PEAK_CEILING") || die "hold music: no level"
	sox -R -D "$tmp/loop32.wav" -t ul -r 8000 -c 1 "$dst" gain "$gain"
	rm -rf "$tmp"
}

main() {
	local versions
	versions=$(check_tools)
	[[ -f $src/en-US.txt ]] || die "$src/en-US.txt, the reference catalog, is missing"

	# out is global: the renderers put their scratch directories under it, so
	# the trap clears them whatever way the run ends.
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	mkdir -p "$out/audio"

	local -a langs=() pids=()
	local f lang
	for f in "$src"/*.txt; do
		lang=$(basename "$f" .txt)
		voice "$lang" >/dev/null || die "$lang: no espeak-ng voice configured; add one to voice()"
		langs+=("$lang")
	done
	# Parse every file up front: render_lang reads them through process
	# substitution, where a syntax error could not stop the run.
	for f in "$src"/*.txt "$src"/say/*.txt; do
		[[ -e $f ]] && entries "$f" >/dev/null
	done

	for lang in "${langs[@]}"; do
		render_lang "$lang" "$out" &
		pids+=($!)
		if ((${#pids[@]} >= jobs)); then
			wait "${pids[0]}" || die "rendering failed"
			pids=("${pids[@]:1}")
		fi
	done
	local p
	for p in "${pids[@]}"; do wait "$p" || die "rendering failed"; done
	hold "$out/audio/hold.ul"

	{
		echo "# Rendered by tools/prompts/mkprompts.sh; do not edit."
		echo "$versions"
		echo "# 8 kHz mono; speech IMA ADPCM at $TARGET_RMS dBFS RMS, hold music G.711 mu-law at $HOLD_RMS dBFS RMS; peaks under $PEAK_CEILING dBFS"
		echo "# lang	key	voice	rate	sha256(spoken text)"
		for lang in "${langs[@]}"; do cat "$out/manifest.$lang"; done
	} >"$out/audio/MANIFEST"

	mkdir -p "$pkg"
	rm -rf "$pkg/audio" "$pkg/catalog"
	cp -r "$src" "$pkg/catalog"
	mv "$out/audio" "$pkg/audio"
	echo "mkprompts: ${#langs[@]} languages, $(find "$pkg/audio" -name '*.ima' | wc -l) clips," \
		"$(du -cb "$pkg"/audio/*/*.ima "$pkg/audio/hold.ul" | tail -1 | cut -f1) bytes of audio"
}

main "$@"
