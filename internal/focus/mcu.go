package focus

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
)

// The Focus's side of the MCUs (seed 004, step 2: "The Focus then sends an
// HTTP request to the designated conferencing server asking it to expect a
// new participant (addUser)"; issue 5: "The Focus asks the Conferencing
// Server Factory for the MCUs the meeting needs (audio, IM), tells them who
// may join, relays their participant events into the roster, and releases
// them on deactivation"). The conference decides, each MCU's worker talks:
// commands to an MCU leave in the order the conference issued them, so
// that a deleteUser never overtakes the addUser it undoes, and the
// conference never waits for an MCU.
//
// Every meeting gets both MCU types Parley runs. The addConference a
// client sends the Focus Factory names the MCU types it wants in its
// conference-view ([MS-CONFPRO] §4.1: entity-view entity="chat", ...), but
// the Focus Factory does not keep that view (directory.Meeting has no
// field for it), so there is nothing to narrow the choice by.

// mcuRetry is how long the Focus leaves alone an optional MCU type the
// factory could not provide before asking again: a pool without an IM
// Conferencing Server is not asked at every join.
const mcuRetry = 30 * time.Second

// mcuState is where one of the meeting's MCUs serves it: URL is where
// its commands go, URI the conference's URI on it, which clients INVITE.
type mcuState struct {
	URL, URI string
}

// mcuLink is one of the meeting's MCUs, by type.
type mcuLink struct {
	typ string
	// media is the type its entity-view names in entity-state/media/
	// entry/type: SIPE finds the chat MCU's view, and the lock, by "chat".
	media string
	// optional MCUs may be missing: the meeting goes on without them (a
	// meeting without its A/V MCU has no audio, which its joins report).
	optional bool
	// io sends its commands, in order.
	io *worker

	// known is the MCU as the conference knows it and the roster shows
	// it; only the conference's goroutine touches it.
	known mcuState

	// The fields below belong to io.

	// state is the MCU as its worker knows it.
	state mcuState
	// failing is set when the factory could not provide an optional MCU;
	// it is logged once, and asked for again after retryAt.
	failing bool
	retryAt time.Time
}

// mcuLinks are the meeting's MCUs in the order the roster lists them.
func (c *conference) mcuLinks() [2]*mcuLink { return [2]*mcuLink{c.av, c.chat} }

// mcuLink returns the meeting's MCU of a type, nil for a type Parley does
// not run.
func (c *conference) mcuLink(typ string) *mcuLink {
	for _, l := range c.mcuLinks() {
		if l.typ == typ {
			return l
		}
	}
	return nil
}

// errMCUAbsent reports an optional MCU that the factory could not provide
// lately: commands for it are dropped until mcuRetry has passed.
var errMCUAbsent = fmt.Errorf("%w: no such MCU for this meeting for now", ErrMCU)

// The functions below run on an MCU's worker, which alone reads and
// writes the link's state: the conference learns of the MCU by a posted
// closure.

// mcuContext bounds one MCU command.
func (c *conference) mcuContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.f.cfg.MCUTimeout)
}

// mcuEnsure allocates the meeting's MCU of a type and provisions the
// conference on it (addConference) unless that is done.
func (c *conference) mcuEnsure(l *mcuLink) error {
	if c.f.cfg.MCUs == nil || l.state.URL != "" {
		return nil
	}
	if l.failing && c.now().Before(l.retryAt) {
		return errMCUAbsent
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	state, err := c.provision(ctx, l)
	if err != nil {
		c.mcuFailed(l, err)
		return err
	}
	l.state = state
	recovered := l.failing
	l.failing = false
	c.post(func() {
		if l.known != state {
			l.known = state
			c.publish(c.mcuDoc())
		}
		if recovered {
			c.readmit(l)
		}
	})
	c.log.Info("MCU allocated", "type", l.typ, "mcu", state.URL, "mcu_uri", state.URI)
	return nil
}

// provision asks the factory for the MCU and creates the conference on it.
func (c *conference) provision(ctx context.Context, l *mcuLink) (mcuState, error) {
	mcus := c.f.cfg.MCUs
	url, uri, err := mcus.Allocate(ctx, c.uri, l.typ)
	if err != nil {
		return mcuState{}, fmt.Errorf("%w: allocating a %s MCU: %w", ErrMCU, l.typ, err)
	}
	res, err := mcus.Command(ctx, url, &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: c.uri}})
	if err := mcuOutcome(res, err); err != nil {
		// The factory must not keep an MCU that does not serve us.
		mcus.Release(c.uri, l.typ)
		return mcuState{}, fmt.Errorf("provisioning the conference at %s: %w", url, err)
	}
	if add, ok := res.Command.(*c3p.AddConference); ok && uri == "" && add.ConferenceInfo != nil && add.ConferenceInfo.Description != nil {
		for _, e := range add.ConferenceInfo.Description.ConfURIs {
			if e.Purpose == l.typ {
				uri = e.URI
			}
		}
	}
	if uri == "" {
		uri = c3p.ConferenceURI(c.organizer, l.typ, c.key)
	}
	return mcuState{URL: url, URI: uri}, nil
}

// mcuFailed records that an MCU could not be had. An optional one is
// logged once and left alone for mcuRetry. An MCU the roster still shows
// (one a resumed meeting had) is taken out of it: clients must not be
// sent to a conference that no MCU serves.
func (c *conference) mcuFailed(l *mcuLink, err error) {
	if l.optional {
		if !l.failing {
			c.log.Warn("the meeting goes on without its MCU", "type", l.typ, "err", err)
		}
		l.failing, l.retryAt = true, c.now().Add(mcuRetry)
	}
	c.post(func() {
		if l.known != (mcuState{}) {
			gone := l.known.URI
			l.known = mcuState{}
			c.publish(c.mcuDoc(gone))
		}
	})
}

// mcuOutcome turns an MCU's answer into an error.
func mcuOutcome(res *c3p.Response, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrMCU, err)
	case res == nil:
		return fmt.Errorf("%w: no response", ErrMCU)
	case res.Code != c3p.CodeSuccess:
		return fmt.Errorf("%w: %s failed: %s", ErrMCU, res.Command.CommandName(), res.Reason)
	}
	return nil
}

// mcuCommand sends cmd to one of the meeting's MCUs, allocating it first
// if need be.
func (c *conference) mcuCommand(l *mcuLink, cmd c3p.Command) error {
	if c.f.cfg.MCUs == nil {
		return nil
	}
	if err := c.mcuEnsure(l); err != nil {
		return err
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	res, err := c.f.cfg.MCUs.Command(ctx, l.state.URL, cmd)
	if err := mcuOutcome(res, err); err != nil {
		c.log.Warn("MCU command failed", "type", l.typ, "command", cmd.CommandName(), "err", err)
		return err
	}
	return nil
}

// mcuAddUser tells an MCU to expect a participant, with his role. For a
// dial-in caller whose audio the A/V MCU must fetch, it also tells it to
// call him: the endpoint's refer-to URI is where the MCU sends its INVITE
// ([MS-CONFBAS] §2.2.3.15 dial-out; seed 001 step 11: "The A/V
// Conferencing Server invites the Mediation Server").
func (c *conference) mcuAddUser(l *mcuLink, entity string, role Role, d *dialIn) error {
	u := &c3p.User{Entity: entity, Roles: []string{role.wire()}}
	if d != nil && d.ReferTo != "" && l == c.av {
		u.Endpoints = []c3p.Endpoint{{
			Entity: d.Endpoint, ReferToURI: d.ReferTo, JoiningMethod: c3p.JoiningDialedOut,
		}}
	}
	return c.mcuCommand(l, &c3p.AddUser{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}, User: u})
}

// mcuDeleteUser ejects a participant from an MCU: his sessions there are
// hung up and he may not join it again. An MCU that was never allocated
// has nobody to eject.
func (c *conference) mcuDeleteUser(l *mcuLink, entity string) {
	if l.state.URL == "" {
		return
	}
	_ = c.mcuCommand(l, &c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: c.uri, UserEntity: entity}})
}

// mcuMute sets a participant's audio ingress filter at the A/V MCU
// ([MS-CONFAV] §2.2.2.1.2.1): block mutes him, unblock lets him speak
// again.
func (c *conference) mcuMute(entity string, muted bool) error {
	status, filter := "sendrecv", "unblock"
	if muted {
		status, filter = "recvonly", "block"
	}
	return c.mcuCommand(c.av, &c3p.ModifyEndpointMedia{
		MCU:   c3p.MCUTarget{URI: c.av.state.URI},
		Keys:  &c3p.MediaKeys{ConfEntity: c.uri, UserEntity: entity},
		Media: &c3p.Media{ID: audioMediaID, Type: "audio", Status: status, IngressFilter: filter},
	})
}

// mcuEnd ends the conference at an MCU (deleteConference: every session
// there is hung up) and releases it.
func (c *conference) mcuEnd(l *mcuLink) {
	mcus := c.f.cfg.MCUs
	if mcus == nil || l.state.URL == "" {
		return
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	res, err := mcus.Command(ctx, l.state.URL, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}})
	if err := mcuOutcome(res, err); err != nil {
		c.log.Warn("ending the conference at its MCU", "type", l.typ, "err", err)
	}
	mcus.Release(c.uri, l.typ)
	l.state = mcuState{}
}

// The functions below run on the conference's goroutine.

// admits reports whether an MCU is told to expect a participant: the A/V
// MCU everyone, the chat MCU those who joined with a client (a telephone
// cannot take part in group IM).
func (c *conference) admits(l *mcuLink, p *participant) bool {
	return l != c.chat || p.ChatAllowed
}

// readmit tells an MCU that came back (after the factory had none) to
// expect everyone it admits: their joins went by without it.
func (c *conference) readmit(l *mcuLink) {
	for _, p := range c.roster() {
		if c.admits(l, p) {
			entity, role := p.Entity, p.Role
			l.io.submit(func() { _ = c.mcuAddUser(l, entity, role, nil) })
		}
	}
}

// mcuForget ejects a participant who left the meeting from every MCU
// that admitted him.
func (c *conference) mcuForget(p *participant) {
	for _, l := range c.mcuLinks() {
		if c.admits(l, p) {
			entity := p.Entity
			l.io.submit(func() { c.mcuDeleteUser(l, entity) })
		}
	}
}
