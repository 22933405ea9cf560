package announcement

import (
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

// The decisions (seed 001 step 12: the service "plays an entry tone for
// other dial-in participants to announce that a participant has just
// joined or left the meeting, and it plays a spoken announcement message
// for each dial-in participant when that participant's line has been
// muted or unmuted"). A caller on a telephone sees no roster, so he hears
// it: a rising tone when somebody joins, a falling one when somebody
// leaves, and his own mute state whenever it changes, in the language he
// chose at the Conferencing Attendant.

// play is one announcement to one participant: a tone, or prompts in a
// language.
type play struct {
	user     string
	tone     string
	prompts  []prompts.Key
	language string
}

// decide turns a document's changes into announcements. Nothing is
// announced for the first full document: it is the meeting as the service
// found it, not news. listeners is the roster after the document.
func decide(up update, listeners func(except string) []string) []play {
	if up.initial {
		return nil
	}
	var out []play
	for _, c := range up.changes {
		switch {
		case !c.before.present && c.after.present:
			for _, l := range listeners(c.entity) {
				out = append(out, play{user: l, tone: c3p.ToneEntry})
			}
		case c.before.present && !c.after.present:
			for _, l := range listeners(c.entity) {
				out = append(out, play{user: l, tone: c3p.ToneExit})
			}
		}
		if p, ok := muteNews(c); ok {
			out = append(out, p)
		}
	}
	return out
}

// muteNews is what a dial-in caller hears of his own mute state: when it
// changes while he is connected, and when his audio connects while he is
// already muted (he joins a muted audience).
func muteNews(c change) (play, bool) {
	a, b := c.after, c.before
	if !a.present || !a.dialIn || !a.connected {
		return play{}, false
	}
	switch {
	case !b.connected && !a.muted:
		// He just connected, unmuted: nothing to say.
		return play{}, false
	case !b.connected:
	case b.muted != a.muted:
	case a.muted && b.mutedBy != a.mutedBy:
		// Still muted, by somebody else now: a leader's mute cannot be
		// undone with *6, which he needs to know.
	default:
		return play{}, false
	}
	lang := a.language
	if lang == "" {
		lang = prompts.Fallback
	}
	p := play{user: c.entity, language: lang}
	switch {
	case !a.muted:
		p.prompts = []prompts.Key{prompts.YouAreUnmuted}
	case a.mutedBy == mutedByLeader:
		p.prompts = []prompts.Key{prompts.YouAreMuted, prompts.MutedByPresenter}
	default:
		p.prompts = []prompts.Key{prompts.YouAreMuted}
	}
	return p, true
}

// command is the pl:playAnnouncement that plays p at the A/V MCU's
// conference mcu.
func (p play) command(mcu string) *c3p.PlayAnnouncement {
	cmd := &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: mcu, UserEntity: p.user}}
	if p.tone != "" {
		cmd.Tone = p.tone
		return cmd
	}
	cmd.Language = p.language
	for _, k := range p.prompts {
		cmd.Prompts = append(cmd.Prompts, string(k))
	}
	return cmd
}
