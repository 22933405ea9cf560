// Package announcement is the Conference Announcement Service (seed 000:
// "invites a Conference Announcement Service in its pool to the meeting
// (unless one is already running), which in turn joins the Focus as a
// trusted participant. The Conference Announcement Service monitors the
// Focus, and announces certain state change events to all dial-in
// participants"; OCS listens for it on TCP 5073).
//
// For each meeting with dial-in callers:
//
//  1. The A/V MCU sends the service a signed INVITE whose body is a C3P
//     pl:announceConference naming the meeting's Focus and the MCU's
//     conference (seed 001 step 12: "the A/V Conferencing Server invites a
//     Conferencing Announcement Service ... This step is done only once
//     for any particular meeting"). No media is negotiated: the MCU
//     renders what the service asks for.
//  2. The service subscribes to the Focus's conference event package
//     (RFC 4575 on RFC 6665), signed as a trusted service, through the
//     front end, and keeps a roster model of its own from the full and
//     partial documents (roster.go).
//  3. From the changes it decides who hears what (rules.go) and sends each
//     announcement as a pl:playAnnouncement in an INFO within the MCU's
//     dialog (player.go), which the MCU plays to that participant's legs
//     only.
//
// The MCU's BYE ends the service's work for the meeting (it unsubscribes);
// the end of the meeting (the subscription terminated, or the conference
// no longer active) makes the service hang up the MCU's dialog.
package announcement
