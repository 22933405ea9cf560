package focus

import (
	"context"
	"fmt"
	"sync"

	"github.com/parleyhq/parley/internal/c3p"
)

// The Focus's side of the MCUs (seed 004, step 2: "The Focus then sends an
// HTTP request to the designated conferencing server asking it to expect a
// new participant (addUser)"). The conference decides, the io worker talks:
// commands leave in the order the conference issued them, so that a
// deleteUser never overtakes the addUser it undoes, and the conference
// never waits for an MCU.

// worker runs functions one at a time, in submission order, on its own
// goroutine. Its queue is unbounded: the conference must never block on it.
type worker struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newWorker() *worker {
	return &worker{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// submit queues fn; once the worker is closed, fn is dropped (the
// meeting has ended and its MCU with it).
func (w *worker) submit(fn func()) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, fn)
	w.mu.Unlock()
	w.signal()
}

// close lets the worker finish what is queued and stop.
func (w *worker) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			closed := w.closed
			w.mu.Unlock()
			if closed {
				return
			}
			<-w.wake
			continue
		}
		fn := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		fn()
	}
}

// The functions below run on the io worker, which alone reads and writes
// ioMCU: the conference learns of the MCU by a posted closure.

// mcuContext bounds one MCU command.
func (c *conference) mcuContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.f.cfg.MCUTimeout)
}

// mcuEnsure allocates the conference's A/V MCU and provisions the
// conference on it (addConference) unless that is done.
func (c *conference) mcuEnsure() error {
	mcus := c.f.cfg.MCUs
	if mcus == nil || c.ioMCU.URL != "" {
		return nil
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	url, uri, err := mcus.Allocate(ctx, c.uri, c3p.MCUTypeAudioVideo)
	if err != nil {
		return fmt.Errorf("%w: allocating an A/V MCU: %w", ErrMCU, err)
	}
	res, err := mcus.Command(ctx, url, &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: c.uri}})
	if err := mcuOutcome(res, err); err != nil {
		return fmt.Errorf("provisioning the conference at %s: %w", url, err)
	}
	if add, ok := res.Command.(*c3p.AddConference); ok && uri == "" && add.ConferenceInfo != nil && add.ConferenceInfo.Description != nil {
		for _, e := range add.ConferenceInfo.Description.ConfURIs {
			if e.Purpose == c3p.MCUTypeAudioVideo {
				uri = e.URI
			}
		}
	}
	if uri == "" {
		uri = c3p.ConferenceURI(c.organizer, c3p.MCUTypeAudioVideo, c.key)
	}
	c.ioMCU = mcuState{URL: url, URI: uri}
	state := c.ioMCU
	c.post(func() {
		if c.mcu != state {
			c.mcu = state
			c.publish(c.mcuDoc())
		}
	})
	c.log.Info("A/V MCU allocated", "mcu", url, "mcu_uri", uri)
	return nil
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

// mcuCommand sends cmd to the conference's MCU, allocating it first if
// need be.
func (c *conference) mcuCommand(cmd c3p.Command) error {
	if c.f.cfg.MCUs == nil {
		return nil
	}
	if err := c.mcuEnsure(); err != nil {
		return err
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	res, err := c.f.cfg.MCUs.Command(ctx, c.ioMCU.URL, cmd)
	if err := mcuOutcome(res, err); err != nil {
		c.log.Warn("MCU command failed", "command", cmd.CommandName(), "err", err)
		return err
	}
	return nil
}

// mcuAddUser tells the MCU to expect a participant, with his role.
func (c *conference) mcuAddUser(entity string, role Role) error {
	return c.mcuAddUserAt(entity, role, nil)
}

// mcuAddUserAt tells the MCU to expect a participant and, for a dial-in
// caller whose audio the MCU must fetch, to call him: the endpoint's
// refer-to URI is where the MCU sends its INVITE ([MS-CONFBAS] dial-out;
// seed 001 step 11: "The A/V Conferencing Server invites the Mediation
// Server").
func (c *conference) mcuAddUserAt(entity string, role Role, d *dialIn) error {
	u := &c3p.User{Entity: entity, Roles: []string{role.wire()}}
	if d != nil && d.ReferTo != "" {
		u.Endpoints = []c3p.Endpoint{{
			Entity: d.Endpoint, ReferToURI: d.ReferTo, JoiningMethod: c3p.JoiningDialedOut,
		}}
	}
	return c.mcuCommand(&c3p.AddUser{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}, User: u})
}

// mcuDeleteUser ejects a participant from the MCU: his legs are hung up
// and he may not join again.
func (c *conference) mcuDeleteUser(entity string) {
	if c.ioMCU.URL == "" {
		return
	}
	_ = c.mcuCommand(&c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: c.uri, UserEntity: entity}})
}

// mcuMute sets a participant's audio ingress filter ([MS-CONFAV]
// §2.2.2.1.2.1): block mutes him, unblock lets him speak again.
func (c *conference) mcuMute(entity string, muted bool) error {
	status, filter := "sendrecv", "unblock"
	if muted {
		status, filter = "recvonly", "block"
	}
	return c.mcuCommand(&c3p.ModifyEndpointMedia{
		MCU:   c3p.MCUTarget{URI: c.ioMCU.URI},
		Keys:  &c3p.MediaKeys{ConfEntity: c.uri, UserEntity: entity},
		Media: &c3p.Media{ID: audioMediaID, Type: "audio", Status: status, IngressFilter: filter},
	})
}

// mcuEnd ends the conference at its MCU (deleteConference: every media
// dialog is hung up) and releases it.
func (c *conference) mcuEnd() {
	mcus := c.f.cfg.MCUs
	if mcus == nil || c.ioMCU.URL == "" {
		return
	}
	ctx, cancel := c.mcuContext()
	defer cancel()
	res, err := mcus.Command(ctx, c.ioMCU.URL, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}})
	if err := mcuOutcome(res, err); err != nil {
		c.log.Warn("ending the conference at its MCU", "err", err)
	}
	mcus.Release(c.uri, c3p.MCUTypeAudioVideo)
	c.ioMCU = mcuState{}
}
