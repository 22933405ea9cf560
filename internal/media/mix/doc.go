// Package mix is the conference mixer kernel of the audio MCU: it takes one
// 20 ms frame of linear 16-bit PCM from each participant of a conference and
// produces, for each participant, the frame he must hear. It knows nothing of
// codecs, RTP or sockets; the MCU decodes into it and encodes what it returns.
//
// # Mixing
//
// Every output is an "N−1" mix: the sum of the other participants' inputs,
// never the listener's own. The sum of all contributing inputs is taken once
// per tick in an int32 accumulator, and a contributor's output is that sum
// minus his own contribution, so a tick costs O(N), never O(N²).
//
// Only some inputs contribute. With Config.Speakers set to K (3 by default)
// the mixer keeps K speaker seats: the loudest voiced inputs, with hysteresis
// (a seated speaker keeps his seat for Config.Hold after he falls silent, and a
// newcomer must be Config.Margin louder than the weakest speaker to take his
// seat). With AllSpeakers every voiced input contributes. An input is voiced
// when its level is above Config.NoiseGate; it stays active for Config.Hold
// after its last voiced frame so that words are not clipped.
//
// Everyone who contributes nothing (silent, muted, absent, not selected)
// hears the same frame, the Shared mix, so the MCU encodes it once per codec
// and copies the payload. Only contributors get a Personal frame. When nobody
// contributes, or when a contributor is the only one, the output is Silence.
//
// Inputs are scaled by a per-participant gain (fixed, or a slow automatic gain
// control bounded to ±12 dB), and every output passes a soft limiter: samples
// below 0.75 of full scale pass unchanged, louder ones bend smoothly toward
// full scale, so the sum of several loud talkers never wraps or hard-clips.
//
// # A tick
//
// A Mixer runs one conference at one sample rate (8 or 16 kHz). Participants
// are slots, numbered from zero, added and removed between ticks. A tick has
// three phases:
//
//  1. For each participant with a frame this tick, Put(slot, pcm). Then
//     AccumulateRange(lo, hi, acc) over slot ranges that together cover
//     [0, Slots()) once each: it measures levels, advances the voice and gain
//     state and, for a full mix, sums the contributions into acc.
//  2. Mix(accs...): merges the accumulators, picks the speakers and computes
//     the Shared frame.
//  3. For each participant, Output(slot, dst): its Kind and its frame.
//     Status(slot) and Speakers report levels and speaking flags for the
//     roster.
//
// A slot without Put in a tick is absent (silence); an all-zero frame counts
// as absent too. Tick runs phases 1 and 2 on the calling goroutine.
//
// # Concurrency
//
// A Mixer is not safe for unsynchronised use, but its phases are built for
// worker goroutines (the MCU runs one per core). Within phase 1, Put and AccumulateRange may run concurrently as long as
// no two goroutines touch the same slot and each Accumulator is used by one
// goroutine at a time. Within phase 3, Output, Shared, Silent, Status and
// Speakers are read-only and may run concurrently on any slots. Mix, and the
// between-tick calls (Add, Remove, SetMuted, SetGain), must run alone; the
// caller provides the happens-before edges (a sync.WaitGroup per phase).
//
// Resampling helpers (Upsampler, Downsampler) connect an 8 kHz leg to a
// 16 kHz conference: the MCU upsamples the leg's input before Put and
// downsamples its output after Output.
package mix
