// Package immcu is Parley's IM Conferencing Server, the chat MCU of an OCS
// 2007 R2 conference (seed 003, "Group IM": "IM Conferencing Server. Enables
// group IM by relaying IM traffic among all participants"; "an IM session
// can include as many as 100 members").
//
// A participant joins a conference's IM by an INVITE to its chat URI,
// sip:ORGANIZER;gruu;opaque=app:conf:chat:id:KEY, which the Focus published
// in the conference's conf-uris with purpose "chat". The offer is the
// signalling-only session of OCS IM, "m=message PORT sip null"; the answer
// is the same, and the dialog is the IM session: every MESSAGE a participant
// sends in it is answered at once and then relayed, in his name, in the
// dialog of every other participant.
//
// The Focus commands the server with C3P over HTTP, as it commands the A/V
// MCU (control.go): addConference provisions a conference, addUser lets a
// user in, deleteUser ejects him, deleteConference ends it all. Only users
// the Focus added join.
//
// # What Pidgin SIPE does (tieto/sipe, src/core)
//
//   - It joins with sipe_im_invite (sipe-im.c): "Supported: ms-sender",
//     a Contact, "Content-Type: application/sdp" and the SDP
//     "m=message <port> sip null" with a=accept-types (SDP_ACCEPT_TYPES:
//     text/plain text/html image/gif [multipart/alternative]
//     application/im-iscomposing+xml application/ms-imdn+xml
//     text/x-msmsgsinvite), "x-ms-message" instead of "message" when it
//     does not run in OCS 2007 mode. Its in-dialog requests have no Via
//     branch (protocols.md §3.3).
//   - It sends chat text with sipe_im_send_message: MESSAGE,
//     "Content-Type: text/plain; charset=UTF-8;msgr=..." (the msgr
//     parameter carries the font), the text as body. It never sends typing
//     in a chat: its typing INFO (application/xml, <KeyboardActivity>) is
//     for two-party IM only.
//   - It reads a relayed MESSAGE in process_incoming_message
//     (sipe-incoming.c): the session by Call-ID, and in a conference the
//     sender from the "Ms-Sender" header (parse_from: the URI inside <>),
//     for text/plain, text/html, multipart/related and
//     multipart/alternative. application/im-iscomposing+xml is shown as the
//     From party typing; anything else is answered 415 and shown as an
//     error. process_incoming_info answers every INFO in a chat with 200
//     and ignores it ("looks like purple lacks typing notification for
//     chat").
//   - A BYE from the chat MCU's URI (process_incoming_bye) closes the
//     chat window: "You have been disconnected from this conference".
//   - ms-imdn delivery reports (sipe_process_imdn, sipe-conf.c) come as
//     NOTIFY/BENOTIFY bodies and name a Message-Id that SIPE learns from
//     the 200 to its MESSAGE; but it looks that session up with
//     sipe_session_find_im, which never finds a conference's, so it cannot
//     pair a report with its message. This server sends no Message-Id and
//     no delivery reports.
//
// So the relayed MESSAGE carries the dialog's own From (the chat URI, with
// our tag) and the sender in Ms-Sender: <sip:user@domain>, the
// Content-Type and the body as the sender sent them.
//
// # Relaying
//
// The state is kept under one mutex; no SIP handler waits for a recipient.
// A MESSAGE is answered 200 once it is accepted, then queued, under the
// mutex, for every other participant whose accept-types take its type: so
// all recipients get a conference's messages in the same order. Each
// participant has a bounded queue and a sender goroutine that sends one
// request at a time and waits for its answer before the next, so his
// messages arrive in order over any transport. A recipient that does not
// answer (timeout, transport error), answers 408, 480 or 481 (RFC 3261
// §12.2.1.2: the dialog is gone), or falls a full queue behind, is removed with a
// BYE and reported Left. Typing notifications are dropped rather than queued
// behind a half-full queue.
//
// sipgo hands each request to its own goroutine, so two MESSAGEs a client
// sends back to back may reach the handlers in either order; a request whose
// CSeq is ahead of the dialog's next waits briefly for the ones before it
// (reorderWait), so that a sender's messages are relayed in his order.
//
// # Not here
//
// Message history for late joiners, delivery reports (ms-imdn), file
// transfer invitations (text/x-msmsgsinvite is refused with 415), and
// persistence across restarts: a restarted server has no participants, and
// their next MESSAGE is answered 481.
package immcu
