package announcement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
)

// The player sends a meeting's announcements to the A/V MCU, one at a
// time and in order, each a pl:playAnnouncement in an INFO within the
// MCU's dialog. It is a goroutine of its own so that a slow MCU holds up
// the announcements only, never the roster: its queue is bounded, and what
// does not fit is dropped and counted. An announcement is a courtesy: one
// the MCU refuses (the caller just left) is logged at debug and not
// played again; one unanswered is sent once more.

// errDialogGone is a dialog the MCU no longer knows (RFC 3261 §12.2.1.2:
// a 481 or 408 to a request within a dialog ends it).
var errDialogGone = errors.New("announcement: the MCU's dialog is gone")

// player is one MCU dialog's sender.
type player struct {
	s     *Server
	dlg   *sipgo.DialogServerSession
	focus string
	mcu   string
	log   *slog.Logger
	queue chan *c3p.PlayAnnouncement
	// gone is told once when the dialog turns out to be dead.
	gone func(id string, err error)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newPlayer(s *Server, dlg *sipgo.DialogServerSession, focus, mcu string, log *slog.Logger, gone func(string, error)) *player {
	p := &player{
		s: s, dlg: dlg, focus: focus, mcu: mcu, log: log, gone: gone,
		queue: make(chan *c3p.PlayAnnouncement, s.cfg.MaxPending),
		done:  make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// enqueue queues an announcement without waiting.
func (p *player) enqueue(cmd *c3p.PlayAnnouncement) {
	select {
	case p.queue <- cmd:
	default:
		p.s.stats.dropped.Add(1)
		p.log.Warn("announcement dropped: queue full", "user", cmd.Keys.UserEntity)
	}
}

// stop ends the player and waits for it; what is still queued is dropped.
// Afterwards the caller may send in the dialog itself.
func (p *player) stop() {
	p.cancel()
	<-p.done
	for {
		select {
		case <-p.queue:
			p.s.stats.dropped.Add(1)
		default:
			return
		}
	}
}

func (p *player) run() {
	defer close(p.done)
	for {
		select {
		case <-p.ctx.Done():
			return
		case cmd := <-p.queue:
			if err := p.play(cmd); errors.Is(err, errDialogGone) {
				p.gone(p.dlg.ID, err)
				return
			}
		}
	}
}

// play sends one announcement, and once more if it went unanswered.
func (p *player) play(cmd *c3p.PlayAnnouncement) error {
	var err error
	for attempt := range 2 {
		err = p.send(cmd)
		var fail *playFailure
		switch {
		case err == nil:
			p.s.stats.played.Add(1)
			return nil
		case p.ctx.Err() != nil:
			p.s.stats.dropped.Add(1)
			return nil
		case errors.As(err, &fail):
			// The MCU answered: retrying would get the same answer.
			p.s.stats.failed.Add(1)
			p.log.Debug("announcement not played", "user", cmd.Keys.UserEntity, "err", err)
			return nil
		case errors.Is(err, errDialogGone):
			p.s.stats.failed.Add(1)
			return err
		}
		p.log.Debug("announcement unanswered", "user", cmd.Keys.UserEntity, "attempt", attempt+1, "err", err)
	}
	p.s.stats.failed.Add(1)
	// Twice without an answer: as good as a 408 (RFC 3261 §12.2.1.2).
	return fmt.Errorf("%w: %w", errDialogGone, err)
}

// playFailure is an answer of the MCU that refuses an announcement.
type playFailure struct {
	status int
	reason string
}

func (f *playFailure) Error() string {
	return fmt.Sprintf("announcement: MCU refused: %d %s", f.status, f.reason)
}

// send sends one INFO and reads its answer.
func (p *player) send(cmd *c3p.PlayAnnouncement) error {
	creq := &c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: p.s.reqID.Add(1), From: p.focus, To: p.mcu},
		Command: cmd,
	}
	body, err := creq.Marshal()
	if err != nil {
		return &playFailure{reason: "encoding: " + err.Error()}
	}
	req, err := p.s.inDialog(p.dlg, sip.INFO, body)
	if err != nil {
		return &playFailure{reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.s.cfg.RequestTimeout)
	defer cancel()
	res, err := p.dlg.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("announcement: INFO: %w", err)
	}
	switch {
	case res.StatusCode == 481 || res.StatusCode == 408:
		return fmt.Errorf("%w: INFO answered %d", errDialogGone, res.StatusCode)
	case !res.IsSuccess():
		return &playFailure{status: res.StatusCode, reason: res.Reason}
	case len(res.Body()) == 0:
		return nil
	}
	cres, err := c3p.ParseResponse(res.Body())
	if err != nil {
		return &playFailure{status: res.StatusCode, reason: "C3P response: " + err.Error()}
	}
	if cres.Code != c3p.CodeSuccess {
		return &playFailure{status: res.StatusCode, reason: "C3P " + cres.Reason}
	}
	return nil
}
