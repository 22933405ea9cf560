package server

// In-call keys reach the Focus: the A/V MCU reports every key a
// participant presses on his audio leg (avmcu.Notifier.DTMF), and the
// Focus turns *1, *6 and *7 into help, mute and lock (focus.Focus.DTMF),
// answering with announcements the MCU plays to that participant only
// (c3p.PlayAnnouncement over the signed control channel the Focus already
// drives the MCU with). Until the Conference Announcement Service is a
// role of its own, this is all the wiring it needs.

// DTMF logs a key and passes it to the Focus.
func (f focusLegs) DTMF(conference, user, legID string, digit rune, inBand bool) {
	f.legLog.DTMF(conference, user, legID, digit, inBand)
	f.focus.DTMF(conference, user, legID, digit)
}
