package focus

import (
	"errors"
	"slices"
)

// Group IM (seed 003, "IM Conferencing Server": "Enables group IM by
// relaying IM traffic among all participants"). The Focus allocates the
// meeting's chat MCU beside its A/V MCU (mcu.go) and tells it who may
// join: the participants who joined with a client. The chat MCU reports
// its IM sessions as they start and end, and the roster lists each as an
// endpoint of session-type chat, connected, which is what SIPE lists a
// participant in the chat by (sipe-conf.c, sipe_process_conference: a
// user whose element has no connected chat endpoint leaves the chat).

// maxSessionID bounds the chat MCU's name for an IM session: it is kept in
// the snapshot, never published.
const maxSessionID = 256

// ChatJoined records a participant's IM session at the chat MCU: his
// roster entry gains an endpoint of session-type chat and the subscribers
// get it in a partial notification. It is the chat MCU's participant
// event; conference is the focus URI, user the session's authenticated
// user, endpoint the MCU's identifier of the session (which the roster
// does not show: it names the endpoint itself).
func (f *Focus) ChatJoined(conference, user, endpoint string) {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok || !validSessionID(endpoint) {
		f.log.Debug("chat session event ignored", "conference", conference, "user", user)
		return
	}
	if c := f.active(conf); c != nil {
		u := f.canonical(user)
		c.post(func() { c.chatJoined(u, endpoint) })
	}
}

// ChatLeft removes an IM session from the roster. A participant whose
// presence was that session alone leaves the meeting.
func (f *Focus) ChatLeft(conference, user, endpoint, reason string) {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok || !validSessionID(endpoint) {
		f.log.Debug("chat session event ignored", "conference", conference, "user", user)
		return
	}
	if c := f.active(conf); c != nil {
		u := f.canonical(user)
		c.post(func() { c.chatLeft(u, endpoint, reason) })
	}
}

// validSessionID reports whether an MCU's session identifier can be kept.
func validSessionID(id string) bool {
	return id != "" && len(id) <= maxSessionID
}

// chatJoined adds an IM session the chat MCU reports. On the conference
// goroutine.
func (c *conference) chatJoined(user, id string) {
	p := c.participants[user]
	if p == nil {
		// He left the meeting while his session started; the chat MCU
		// has been told to eject him.
		c.log.Debug("IM session of somebody not in the roster", "user", user)
		return
	}
	if p.chatIndex(id) >= 0 {
		return
	}
	p.Chats = append(p.Chats, leg{ID: id, Endpoint: newEntity()})
	c.publish(c.userDoc(p))
}

// chatLeft removes an IM session the chat MCU reports gone. On the
// conference goroutine.
func (c *conference) chatLeft(user, id, why string) {
	p := c.participants[user]
	if p == nil {
		return
	}
	i := p.chatIndex(id)
	if i < 0 {
		return
	}
	p.Chats = slices.Delete(p.Chats, i, i+1)
	if !p.present() {
		c.remove(p, why)
		return
	}
	c.publish(c.userDoc(p))
}

// chatAdd tells the chat MCU to expect a participant and returns a
// channel closed when that is done or given up: the chat MCU is optional,
// so its outcome is no error of the join's.
func (c *conference) chatAdd(entity string, role Role) <-chan struct{} {
	done := make(chan struct{})
	c.chat.io.submit(func() {
		defer close(done)
		if err := c.mcuAddUser(c.chat, entity, role, nil); err != nil && !errors.Is(err, errMCUAbsent) {
			c.log.Debug("the chat MCU was not told of a participant", "user", entity, "err", err)
		}
	})
	return done
}

// chatEnsure allocates the chat MCU at an activation by somebody who does
// not chat (a dial-in caller), so that the meeting's roster offers group
// IM to the clients who join next. The channel is closed when that is
// done or given up.
func (c *conference) chatEnsure() <-chan struct{} {
	done := make(chan struct{})
	c.chat.io.submit(func() {
		defer close(done)
		_ = c.mcuEnsure(c.chat)
	})
	return done
}
