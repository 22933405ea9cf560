package focus

import (
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

// In-call keys: what a participant on a telephone does with his keypad
// (OCS R2 technical reference, dial-in conferencing: callers "use DTMF
// commands" in the meeting; Parley's keys are its own, as the catalog's
// help prompt reads them out). A command is * and one digit:
//
//	*1  help: the keys again (the leaders' keys too, to leaders)
//	*6  mute or unmute himself; a leader's mute he cannot undo
//	*7  lock or unlock the meeting, organizer and presenters only
//
// Each runs through the same code as the C3P command a client would send
// (modifyEndpointMedia, modifyConferenceLock), with the same rules,
// roster updates and MCU commands, and is answered by a prompt to the
// presser's legs only. Like the announcements (announce.go), this is the
// Conference Announcement Service's part that will move to its own role.

// keyTimeout is how long after * the digit may come: longer, and the * is
// forgotten, so that a stray * does not turn a later digit into a
// command.
const keyTimeout = 3 * time.Second

// keyState is a participant's key sequence in progress.
type keyState struct {
	star bool      // * pressed
	at   time.Time // when
}

// DTMF takes a key a participant pressed on one of his audio legs, as
// the A/V MCU reports it (avmcu.Notifier.DTMF): conference is the focus
// URI, user the leg's user, digit one of 0-9, *, #, A-D. Keys of legs the
// roster does not know are ignored.
func (f *Focus) DTMF(conference, user, legID string, digit rune) {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok {
		return
	}
	if c := f.active(conf); c != nil {
		// The time is the key's, not its turn's on the conference.
		u, at := f.canonical(user), f.cfg.Clock.Now()
		c.post(func() { c.keyPressed(u, legID, digit, at) })
	}
}

// keyPressed advances a participant's key sequence and runs the command
// it completes. On the conference goroutine.
func (c *conference) keyPressed(user, legID string, digit rune, now time.Time) {
	if c.stopping {
		return
	}
	p := c.participants[user]
	if p == nil || p.legIndex(legID) < 0 {
		return
	}
	if digit == '*' {
		p.keys = keyState{star: true, at: now}
		return
	}
	pending := p.keys.star && now.Sub(p.keys.at) <= keyTimeout
	p.keys = keyState{}
	if !pending {
		// A digit alone is no command.
		return
	}
	c.log.Debug("in-call key command", "user", p.Entity, "key", "*"+string(digit))
	switch digit {
	case '1':
		if p.Role.controls() {
			c.announcePrompts(p, prompts.Help, prompts.HelpLeader)
		} else {
			c.announcePrompts(p, prompts.Help)
		}
	case '6':
		c.keyMute(p)
	case '7':
		c.keyLock(p)
	default:
		c.announcePrompts(p, prompts.InvalidOption)
	}
}

// keyMute is *6: the participant's own modifyEndpointMedia. Its answer is
// the mute announcement when the state changes (setMuted), or the
// refusal.
func (c *conference) keyMute(p *participant) {
	status, filter := "recvonly", "block"
	if p.Muted {
		status, filter = "sendrecv", "unblock"
	}
	res := c.modifyMedia(p, &c3p.ModifyEndpointMedia{
		Keys:  &c3p.MediaKeys{ConfEntity: c.uri, UserEntity: p.Entity},
		Media: &c3p.Media{ID: audioMediaID, Type: "audio", Status: status, IngressFilter: filter},
	})
	if res.refusal == nil {
		return
	}
	if errors.Is(res.refusal, ErrUnauthorized) {
		c.announcePrompts(p, prompts.CannotUnmute)
		return
	}
	c.log.Info("in-call mute refused", "user", p.Entity, "err", res.refusal)
}

// keyLock is *7: the participant's modifyConferenceLock, toggling the
// lock.
func (c *conference) keyLock(p *participant) {
	locked := !c.locked
	res := c.modifyLock(p, &c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}, Locked: &locked})
	switch {
	case res.refusal == nil && locked:
		c.announcePrompts(p, prompts.MeetingLockedNow)
	case res.refusal == nil:
		c.announcePrompts(p, prompts.MeetingUnlockedNow)
	case errors.Is(res.refusal, ErrUnauthorized):
		c.announcePrompts(p, prompts.LeaderOnly)
	default:
		c.log.Info("in-call lock refused", "user", p.Entity, "err", res.refusal)
	}
}
