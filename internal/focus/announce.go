package focus

import (
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

// Announcements to dial-in callers: the duties seed 001 (step 12) gives
// the Conference Announcement Service, "which plays the entry and exit
// announcements" and confirms what callers do with their keys. A caller
// on a telephone sees no roster, so he hears it: a rising tone when
// somebody joins, a falling one when somebody leaves, and his own mute
// state whenever it changes.
//
// The Focus decides here who hears what and asks the A/V MCU to render it
// to that participant's legs only (c3p.PlayAnnouncement, served by
// internal/avmcu). This is the step before a separate Conference
// Announcement Service role (OCS listens for it on TCP 5073), which would
// subscribe to the roster as a trusted service and send the same command
// itself: the decisions are kept in this file, apart from the roster's, so
// that they can move there whole.

// hearsAnnouncements reports whether a participant is a dial-in caller
// whose audio is at the A/V MCU: the one kind of participant who learns
// of the meeting's changes only by ear.
func (p *participant) hearsAnnouncements() bool {
	return p.DialIn != nil && len(p.Legs) > 0
}

// language is the language a participant hears prompts in: the one he
// chose at the Conferencing Attendant, else the catalog's fallback.
func (p *participant) language() string {
	if p.DialIn != nil && p.DialIn.Language != "" {
		return p.DialIn.Language
	}
	return prompts.Fallback
}

// announceTone plays an entry or exit tone (c3p.ToneEntry, c3p.ToneExit)
// about a participant to every dial-in caller but him.
func (c *conference) announceTone(about *participant, tone string) {
	for _, p := range c.participants {
		if p == about || !p.hearsAnnouncements() {
			continue
		}
		c.announce(&c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: c.uri, UserEntity: p.Entity}, Tone: tone})
	}
}

// announceMute tells a dial-in caller his mute state, and when a leader
// muted him, that a leader did (so that he knows why *6 will not undo it).
func (c *conference) announceMute(p *participant) {
	if !p.hearsAnnouncements() {
		return
	}
	switch {
	case !p.Muted:
		c.announcePrompts(p, prompts.YouAreUnmuted)
	case p.MutedBy == mutedByLeader:
		c.announcePrompts(p, prompts.YouAreMuted, prompts.MutedByPresenter)
	default:
		c.announcePrompts(p, prompts.YouAreMuted)
	}
}

// announcePrompts plays prompts to a participant's legs, in his language.
func (c *conference) announcePrompts(p *participant, keys ...prompts.Key) {
	if len(p.Legs) == 0 {
		return
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = string(k)
	}
	c.announce(&c3p.PlayAnnouncement{
		Keys:    &c3p.UserKeys{ConfEntity: c.uri, UserEntity: p.Entity},
		Prompts: names, Language: p.language(),
	})
}

// announce sends an announcement to the A/V MCU, in order with the other
// commands. An announcement is a courtesy: when it cannot be played (the
// leg just left) nothing else depends on it.
func (c *conference) announce(cmd *c3p.PlayAnnouncement) {
	c.io.submit(func() {
		mcus := c.f.cfg.MCUs
		if mcus == nil || c.ioMCU.URL == "" {
			// No MCU, no legs to play to.
			return
		}
		ctx, cancel := c.mcuContext()
		defer cancel()
		res, err := mcus.Command(ctx, c.ioMCU.URL, cmd)
		if err := mcuOutcome(res, err); err != nil {
			c.log.Debug("announcement not played", "user", cmd.Keys.UserEntity, "err", err)
		}
	})
}
