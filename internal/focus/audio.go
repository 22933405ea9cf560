package focus

import (
	"context"
	"fmt"
)

// AddAudioUser admits an authenticated user who joins a meeting's audio
// by calling its A/V MCU URI directly, without a focus dialog: a plain
// SIP phone, which cannot speak C3P. OCS clients join the Focus first and
// the MCU second; Parley lets any SIP phone take part, and so the Focus
// must know him: he is admitted by the meeting's rules like any joiner
// (he may activate the meeting, an enterprise user ends the attendant's
// hold), appears in the roster, and leaves it with his last leg. It
// returns when the A/V MCU expects him.
func (f *Focus) AddAudioUser(ctx context.Context, focusURI, user string) error {
	conf, org, key, ok := f.conferenceOf(focusURI)
	if !ok {
		return fmt.Errorf("%w: %q is not a focus URI", ErrInvalid, focusURI)
	}
	j := &joiner{entity: f.canonical(user), authenticated: true}
	enterprise, name, r := f.identify(ctx, j.entity)
	if r != nil {
		return r
	}
	j.enterprise, j.display = enterprise, cleanDisplayName(name)
	c, adm, r := f.admit(ctx, conf, org, key, j)
	if r != nil {
		return r
	}
	select {
	case err := <-adm.mcu:
		if err != nil {
			entity := adm.entity
			c.post(func() {
				if p := c.participants[entity]; p != nil && !p.present() {
					c.remove(p, "the A/V MCU refused him")
				}
			})
			return err
		}
		awaitChat(ctx, adm.chat)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
