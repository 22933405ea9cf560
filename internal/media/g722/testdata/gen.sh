#!/bin/sh
# Regenerates the G.722 golden files. Not run by the tests or by CI, which
# only read the committed output; kept so the goldens can be reproduced.
#
# Needs Go and ffmpeg (Debian bookworm's 7:5.1.x was used), whose g722 codec
# follows the ITU-T reference and passes its test vectors. The encoder runs
# with its defaults (no trellis search), which is the Recommendation's
# encoder.
#
#   <name>.s16le      input: 16 kHz mono signed 16-bit little-endian PCM
#   <name>.g722       ffmpeg's encoding of it (64 kbit/s, one byte per 2 samples)
#   <name>.dec.s16le  ffmpeg's decoding of <name>.g722
#   random.g722       random bytes, every code included; random.dec.s16le its decoding
#   overload.g722     codes that saturate the predictors; overload.dec.s16le likewise
set -eu
cd "$(dirname "$0")"
go run ./gensignals
for name in sweep twotone bursts silence clipping; do
	ffmpeg -nostdin -v error -y -f s16le -ar 16000 -ac 1 -i "$name.s16le" \
		-c:a g722 -f g722 "$name.g722"
	ffmpeg -nostdin -v error -y -f g722 -i "$name.g722" \
		-c:a pcm_s16le -ar 16000 -ac 1 -f s16le "$name.dec.s16le"
done
for name in random overload; do
	ffmpeg -nostdin -v error -y -f g722 -i "$name.g722" \
		-c:a pcm_s16le -ar 16000 -ac 1 -f s16le "$name.dec.s16le"
done
ffmpeg -version | head -n 1
