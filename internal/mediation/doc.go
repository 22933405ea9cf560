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
//
// # Hand-off to the A/V Conferencing Server
//
// Seed 001 step 11: the A/V Conferencing Server "invites the Mediation
// Server and establishes an audio connection with it, and tells the
// Mediation Server to drop its connection with the Conferencing
// Attendant". It does so with an INVITE carrying a Replaces header field
// (RFC 3891) that names the call's front-end dialog, sent to the Mediation
// Server's Contact and signed with the trust header (Config.Verify,
// Config.ReplaceServices). Such an INVITE is taken only from an address
// that is not a gateway: a gateway may not replace our dialogs (403).
//
// RFC 3891 §3 matches the header's to-tag against the recipient's local
// tag and its from-tag against the remote tag, "as if they were tags
// present in an incoming request". The recipient is the Mediation Server,
// so for its dialog with the attendant (Call-ID C; the Mediation Server
// placed the INVITE, so its local tag L is that INVITE's From tag; the
// attendant's tag R is the To tag of the attendant's 200) the attendant,
// composing the value from its own view of the dialog, writes its remote
// tag as to-tag and its local tag as from-tag:
//
//	Replaces: C;to-tag=L;from-tag=R
//
// For example, with Call-ID 3f2a@pool, an INVITE from the Mediation Server
// with From tag "med1" and the attendant's 200 with To tag "caa9", the
// A/V MCU sends "Replaces: 3f2a@pool;to-tag=med1;from-tag=caa9". Swapped
// tags match nothing (481). Once an MCU holds the call, its own dialog
// with the Mediation Server (which answered it) is named the same way:
// to-tag is the Mediation Server's tag (the To tag of its 200), from-tag
// the MCU's From tag; so another pool's MCU can take the call over again.
//
// On a match with a confirmed dialog, the Mediation Server answers the
// MCU's offer (SDES keys of its own, or plain RTP if the MCU offers no
// keys) from the same front-end media socket, switches the relay's front
// end to the MCU in one step (the replaced peer's late packets are
// dropped), makes the new dialog the call's front-end dialog, and sends
// the replaced dialog a BYE with "Reason: SIP;cause=200;text="replaced""
// (RFC 3326). The gateway's dialog and media are not touched. No match is
// 481, more than one Replaces 400, early-only against a confirmed dialog
// 486, a call that is ending 603 (RFC 3891 §3). A dialog that is still
// early is not matched (481): RFC 3891 §3 would have an early dialog the
// recipient initiated replaced (and CANCELled), but the attendant answers
// before it takes the conference ID, so a hand-off never meets one.
package mediation
