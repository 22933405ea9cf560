// Package dtmf carries telephone keypad digits in both of the ways a
// conferencing leg meets them: as RFC 4733 telephone-events in their own RTP
// payload type, and as dual tones inside the audio itself.
//
// The package has four parts:
//
//   - Event, Marshal and Unmarshal: the 4-byte telephone-event payload
//     (RFC 4733 §2.3) and the mapping between event codes and keypad
//     characters (RFC 4733 §3.2).
//   - Receiver: a per-leg state machine that turns a stream of
//     telephone-event packets into key presses, each reported exactly once,
//     whatever the sender's quirks (missing marker bits, lost or repeated end
//     packets, odd durations, reordering, restarts).
//   - Sender: the packet sequence that sends one key press (RFC 4733 §2.5.1).
//   - Detector: an in-band DTMF detector (Goertzel filters over 8 or 16 kHz
//     linear PCM) with the level, twist, purity, harmonic and timing checks
//     that keep speech and music from being taken for digits.
//
// Nothing here does I/O or keeps time on its own: callers pass packets,
// frames and the current time, so the same code serves the MCU's 20 ms tick,
// the attendant and tests.
package dtmf
