// Package mediation is the Mediation Server of seed 000: a back-to-back
// user agent between PSTN gateways (or IP-PBXs) and the front end.
//
// The gateway side is a SIP user agent of its own, on the mediation listen
// address (UDP and TCP, TLS optional), that takes INVITEs from the
// configured gateway addresses only and speaks plain RTP. For each call it:
//
//  1. normalizes the called and calling numbers with the Mediation Server's
//     location profile to E.164 (seed 001, "Connecting to the Meeting",
//     step 4);
//  2. looks the called number up in reverse: a user's line URI, or a
//     Conferencing Attendant contact object's line URI (seed 000, "Contact
//     Objects"), giving the SIP URI to call;
//  3. places a new INVITE to that URI at the front end's proxy, signed as a
//     trusted peer (internal/sipx/trust), with the caller ID passed through
//     in From and P-Asserted-Identity (RFC 3325);
//  4. answers the gateway once the front end answered, and relays the media:
//     plain RTP on the gateway side, SRTP keyed with SDES (RFC 4568) on the
//     front-end side (seed 001 step 6: "a Secure Real-time Transport
//     Protocol (SRTP) media connection is established between the Mediation
//     Server and the Conferencing Attendant Service").
//
// The media relay is an RTP translator (RFC 3550 §7.1): SSRC, sequence
// numbers and timestamps pass through; payload types are mapped between
// the two negotiations, which carry the same G.711 codec, so no
// transcoding happens; RFC 4733 telephone-events pass through with their
// payload type mapped; RTCP is relayed and re-protected. Each side is
// symmetric (RFC 4961): media goes back to where the peer's media comes
// from.
//
// Dialogs mirror each other: a BYE on one side ends the other, a CANCEL
// before the answer cancels the front-end INVITE and the gateway gets 487,
// and a front end's failure response reaches the gateway with the same
// code. Re-INVITEs (hold, session refresh, a new media address) are
// answered by the Mediation Server on the side they arrive: the relay
// applies the new address and direction, and the other side is not asked.
// That keeps the far party's SRTP keys and dialog untouched by a gateway's
// hold, which it would not understand in any useful way.
package mediation
