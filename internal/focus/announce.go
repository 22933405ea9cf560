package focus

import (
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

// Answers to in-call keys (keys.go): help, a refused unmute, the lock.
// They answer what one caller pressed, so the Focus, which took the key,
// plays them to him through the A/V MCU (c3p.PlayAnnouncement, rendered
// to that participant's legs only). What follows from the roster (entry
// and exit tones, "you are muted/unmuted") is the Conference Announcement
// Service's (internal/announcement), which watches the roster as a
// trusted subscriber: seed 001 step 12.

// language is the language a participant hears prompts in: the one he
// chose at the Conferencing Attendant, else the catalog's fallback.
func (p *participant) language() string {
	if p.DialIn != nil && p.DialIn.Language != "" {
		return p.DialIn.Language
	}
	return prompts.Fallback
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
		if mcus == nil || c.av.state.URL == "" {
			// No MCU, no legs to play to.
			return
		}
		ctx, cancel := c.mcuContext()
		defer cancel()
		res, err := mcus.Command(ctx, c.av.state.URL, cmd)
		if err := mcuOutcome(res, err); err != nil {
			c.log.Debug("announcement not played", "user", cmd.Keys.UserEntity, "err", err)
		}
	})
}
