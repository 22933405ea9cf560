// Package jitter holds the per-leg adaptive jitter buffer that feeds the
// mixer tick, and a packet loss concealment helper for PCM.
//
// The MCU pulls exactly one frame per leg per tick (20 ms). A [Buffer]
// takes RTP payloads as they arrive, in any order, and gives back the frame
// due at each tick, or says that it is missing so that the decoder side
// conceals it with [PLC].
//
// # Delay control
//
// The buffer measures two things separately, so that clock drift between
// sender and mixer does not pass for jitter:
//
//   - the transit time of each packet (arrival minus media time) and its
//     deviation from the minimum transit of the last packets; a decaying
//     histogram of deviations gives the delay needed to catch 98% of the
//     packets (the target), between Config.MinDelay and Config.MaxDelay;
//   - the playout delay: how long before a tick a packet of minimum
//     transit would have arrived. It moves only when the buffer adds or
//     drops a frame, and slowly with drift.
//
// When the playout delay falls below the target the buffer inserts a frame
// (a tick without advancing); when it exceeds the target by more than a
// frame it drops one, preferably a silent one (Config.Silent). A sender
// 0.5% slow or fast therefore costs one inserted or dropped frame every
// four seconds, instead of a periodic underrun or an ever-growing delay.
// The target grows within a few packets of new jitter and decays over tens
// of seconds once the network calms (RFC 3550 §6.4.1 jitter is reported
// too, for RTCP).
//
// A new SSRC, or a timestamp jump confirmed by three consecutive packets,
// restarts the buffer; a silence of the sender (DTX) longer than the
// idle time makes it re-anchor on the next talkspurt.
package jitter
