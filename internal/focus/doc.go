// Package focus is the Focus of seed 003: the conference state server of
// every active meeting of this front end. It admits participants, keeps
// the roster and the meeting's roles, lock and mute state, publishes them
// to subscribers, drives the meeting's MCUs and ends the meeting when one
// of the deactivation rules says so.
//
// # Wire formats
//
// A participant joins with an INVITE to the conference URI
// (sip:ORGANIZER;gruu;opaque=app:conf:focus:id:KEY) carrying a C3P addUser
// ([MS-CONFBAS] §2.2.3.4); the 200 OK carries the addUser response and
// opens the focus dialog, in which the participant sends C3P commands in
// INFO requests (modifyConferenceLock, modifyUserRoles, deleteUser,
// modifyEndpointMedia, deleteConference) and leaves with BYE. The roster is
// the conference event package (RFC 4575, RFC 6665): SUBSCRIBE with
// Event: conference, the full conference-info document in the first
// notification (piggy-backed on the 200 OK when the subscriber supports
// ms-piggyback-first-notify, as Office Communicator and SIPE do) and
// partial documents with increasing versions after every change, in
// BENOTIFY ([MS-OCSPROT] §2.5.18: no response expected) when the subscriber
// supports ms-benotify and NOTIFY otherwise.
//
// The meeting's MCUs are its A/V MCU and its chat MCU (the IM
// Conferencing Server), both allocated through the Conferencing Server
// Factory at the activation and released at the deactivation. The roster
// lists each in conf-uris and in the conference-view; the MCUs' participant
// events (LegJoined, ChatJoined and their ends) become endpoints of
// session-type audio-video and chat. A pool without a chat MCU runs its
// meetings without group IM. The addUser answer to a join lists the MCU
// URIs too, in Parley's pl:conf-uris.
//
// Muting the whole audience is Parley's extension: modifyEndpointMedia with
// pl:scope="attendees" and a mediaKeys that names only the conference
// (c3p.ModifyEndpointMedia.Scope). It mutes, or unmutes, every participant
// whose role is attendee, including those who join audio later.
//
// # Concurrency
//
// Each active meeting is a conference: one goroutine owns its state and
// runs the closures SIP handlers and MCU events post to it, in order. It
// never waits for the network. What does wait (the MCUs' HTTP commands,
// the meeting store, snapshot writes) runs on helper goroutines per
// meeting that keep their own order: one worker per MCU (its commands in
// the order the conference issued them; the A/V MCU's also writes the
// meeting store) and the persister (debounced snapshots). Notifications go out through one sender goroutine
// per subscription with a bounded queue; a subscriber whose queue
// overflows is dropped with a final terminated notification rather than
// slowing the meeting down.
//
// # What is not here yet
//
// Anonymous users are admitted on the server's word (an unauthenticated
// caller to an anonymous meeting); the digest against the meeting's
// conference key of seed 003 ("Meeting Security and Access") is not
// checked yet. Which MCU types a meeting gets is not narrowed by the
// conference-view of the client's addConference: the Focus Factory does
// not keep it, so every meeting gets audio and chat.
package focus
