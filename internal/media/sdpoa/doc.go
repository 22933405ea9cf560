// Package sdpoa implements the SDP offer/answer model (RFC 3264) for the
// audio legs of the media engine.
//
// pion/sdp/v3 marshals and unmarshals session descriptions; this package
// adds what a telephony MCU needs on top of it:
//
//   - [Parse] checks a remote description against hard limits, tolerates the
//     line-order and lexical quirks of deployed gateways, and reduces it to
//     a [Description]: per m= line the address, port, transport, formats
//     with their rtpmap/fmtp (RFC 3551 static payload types included),
//     telephone-event (RFC 4733), direction, ptime, RTCP port (RFC 3605),
//     rtcp-mux (RFC 5761) and the a=crypto lines (RFC 4568), kept opaque.
//   - [Answer] builds the answer to an offer: one audio stream accepted,
//     every other m= line rejected with port 0, codecs intersected in the
//     offerer's order, direction mirrored (RFC 3264 §6.1).
//   - [Offer] and [ParseAnswer] do the same from the offerer's side.
//   - [Session] keeps our o= line stable across a dialog and bumps its
//     version only when the description changes (RFC 3264 §8).
//
// Failures that a SIP layer should answer with 488 Not Acceptable Here wrap
// one of the sentinel errors ([ErrNoAudio], [ErrNoCommonCodec],
// [ErrSRTPRequired], ...), so callers can use [errors.Is] and give a reason.
package sdpoa
