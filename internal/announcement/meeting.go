package announcement

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
)

// A meeting's goroutine owns its roster model, its subscription to the
// Focus and the MCU dialog's player: SIP handlers only post events to it.

// Bounds of a meeting's work.
const (
	// eventQueue bounds a meeting's events waiting to be handled.
	eventQueue = 64
	// maxSubscribeTries is how many SUBSCRIBEs in a row may fail before
	// the service gives the meeting up.
	maxSubscribeTries = 5
	// firstRetry and maxRetry bound the back-off between them.
	firstRetry = time.Second
	maxRetry   = 30 * time.Second
	// resyncWait is how long a request for the full roster may go
	// unanswered before it is asked again.
	resyncWait = 10 * time.Second
)

// Events of a meeting, besides notifyEvent.
type (
	// byeEvent is the MCU's BYE on dialog id.
	byeEvent struct{ id string }
	// replaceEvent is a new MCU dialog for the meeting.
	replaceEvent struct {
		dlg *sipgo.DialogServerSession
		mcu string
	}
)

// meeting is the service's work for one meeting.
type meeting struct {
	s     *Server
	key   string
	focus string
	log   *slog.Logger

	events chan any
	// dead receives the ID of an MCU dialog the player found gone.
	dead chan string
	// lost is set when a notification could not be queued: the roster
	// is fetched whole when the goroutine gets to it.
	lost atomic.Bool
	done chan struct{}
	// sub is the current subscription; the NOTIFY handler reads it to
	// match requests, the goroutine replaces it.
	sub atomic.Pointer[subscription]

	// The goroutine's own.
	mcu       string
	dlg       *sipgo.DialogServerSession
	player    *player
	roster    roster
	timer     *time.Timer
	tries     int
	resyncAt  time.Time
	resyncing bool
}

func newMeeting(s *Server, key, focus, mcu string, dlg *sipgo.DialogServerSession) *meeting {
	m := &meeting{
		s: s, key: key, focus: focus, mcu: mcu, dlg: dlg,
		log:    s.log.With("focus", focus),
		events: make(chan any, eventQueue),
		dead:   make(chan string, 1),
		done:   make(chan struct{}),
	}
	return m
}

// post hands an event to the goroutine; false when the meeting has ended.
func (m *meeting) post(ev any) bool {
	select {
	case m.events <- ev:
		return true
	case <-m.done:
		return false
	}
}

// postOrResync hands a notification to the goroutine, waiting a little
// for room; when there is none the document is lost and the roster is
// fetched whole instead.
func (m *meeting) postOrResync(ev notifyEvent) {
	t := time.NewTimer(notifyWait)
	defer t.Stop()
	select {
	case m.events <- ev:
	case <-m.done:
	case <-t.C:
		m.lost.Store(true)
	}
}

// ownsSubscription reports whether a NOTIFY's Call-ID and To tag are the
// meeting's subscription's.
func (m *meeting) ownsSubscription(callID, localTag string) bool {
	sub := m.sub.Load()
	return sub != nil && sub.callID == callID && sub.localTag == localTag
}

// run is the meeting's goroutine.
func (m *meeting) run(ctx context.Context) {
	m.player = newPlayer(m.s, m.dlg, m.focus, m.mcu, m.log, m.dialogGone)
	// Since Go 1.23 Reset discards a pending expiry: the timer is simply
	// reset wherever the next step changes.
	m.timer = time.NewTimer(0) // subscribe at once
	defer m.timer.Stop()
	for {
		var why string
		select {
		case <-ctx.Done():
			m.finish(true, true, "the service is stopping")
			return
		case <-m.timer.C:
			why = m.onTimer(ctx)
		case id := <-m.dead:
			if m.dlg != nil && id == m.dlg.ID {
				m.finish(true, false, "the MCU's dialog is gone")
				return
			}
		case ev := <-m.events:
			why = m.handle(ev)
		}
		if why == "" && m.lost.Swap(false) {
			why = m.resync(ctx)
		}
		if why != "" {
			return
		}
	}
}

// handle handles one event; it returns why the meeting ended, or "".
func (m *meeting) handle(ev any) string {
	switch ev := ev.(type) {
	case byeEvent:
		if m.dlg == nil || ev.id != m.dlg.ID {
			return ""
		}
		why := "the MCU hung up"
		m.finish(true, false, why)
		return why
	case replaceEvent:
		m.player.stop()
		old := m.dlg
		m.dlg, m.mcu = ev.dlg, ev.mcu
		m.player = newPlayer(m.s, m.dlg, m.focus, m.mcu, m.log, m.dialogGone)
		m.log.Info("announcement: the MCU invited the service again; its new dialog replaces the old")
		m.s.bye(old)
	case notifyEvent:
		return m.onNotify(ev)
	}
	return ""
}

// dialogGone is the player's word that the MCU's dialog is dead. It never
// waits: the meeting may be stopping the player at the same time.
func (m *meeting) dialogGone(id string, err error) {
	m.log.Info("announcement: the MCU's dialog is gone", "err", err)
	select {
	case m.dead <- id:
	default:
	}
}

// onTimer subscribes (again) or refreshes.
func (m *meeting) onTimer(ctx context.Context) string {
	sub := m.sub.Load()
	if sub == nil || !sub.established {
		return m.startSubscription(ctx)
	}
	return m.refresh(ctx)
}

// startSubscription subscribes to the Focus in a new dialog.
func (m *meeting) startSubscription(ctx context.Context) string {
	sub := newSubscription()
	m.setSubscription(sub)
	// A new subscription numbers its documents from the start.
	m.roster.restart()
	m.resyncing = false
	expires := m.s.cfg.Expires
	granted, err := m.s.subscribe(ctx, sub, m.focus, expires)
	var serr *subscribeError
	if errors.As(err, &serr) && serr.code == 423 && serr.minExpires > 0 {
		// RFC 6665 §4.1.2.1: too brief; ask for the minimum.
		granted, err = m.s.subscribe(ctx, sub, m.focus, serr.minExpires)
	}
	switch {
	case err == nil:
		m.tries = 0
		m.log.DebugContext(ctx, "announcement: subscribed to the roster", "expires", granted)
		m.timer.Reset(refreshAfter(granted))
		return ""
	case ctx.Err() != nil:
		return ""
	case errors.As(err, &serr) && serr.code >= 400 && serr.code < 500 && serr.code != 408:
		// The Focus will not have the service (no such meeting, not
		// trusted): announcing it is over.
		m.log.WarnContext(ctx, "announcement: the Focus refused the subscription", "err", err)
		why := "the Focus refused the subscription"
		m.finish(false, true, why)
		return why
	}
	m.setSubscription(nil)
	m.tries++
	if m.tries >= maxSubscribeTries {
		m.log.WarnContext(ctx, "announcement: cannot subscribe to the roster; giving up", "err", err)
		why := "no subscription"
		m.finish(false, true, why)
		return why
	}
	wait := min(firstRetry<<(m.tries-1), maxRetry)
	m.log.InfoContext(ctx, "announcement: subscription failed; retrying", "in", wait, "err", err)
	m.timer.Reset(wait)
	return ""
}

// refresh renews the subscription in its dialog; the Focus sends the full
// roster again with the answer (RFC 6665 §4.2.1.2). When the dialog is
// gone, a new subscription takes its place.
func (m *meeting) refresh(ctx context.Context) string {
	sub := m.sub.Load()
	granted, err := m.s.subscribe(ctx, sub, m.focus, m.s.cfg.Expires)
	if err == nil {
		m.timer.Reset(refreshAfter(granted))
		return ""
	}
	if ctx.Err() != nil {
		return ""
	}
	m.log.InfoContext(ctx, "announcement: refresh failed; subscribing again", "err", err)
	m.setSubscription(nil)
	return m.startSubscription(ctx)
}

// resync asks for the full roster: a document was missed. It returns why
// the meeting ended, or "".
func (m *meeting) resync(ctx context.Context) string {
	now := time.Now()
	if m.resyncing && now.Sub(m.resyncAt) < resyncWait {
		return ""
	}
	sub := m.sub.Load()
	if sub == nil || !sub.established {
		// The subscription being made brings a full roster anyway.
		return ""
	}
	m.resyncing, m.resyncAt = true, now
	m.s.stats.resyncs.Add(1)
	m.log.DebugContext(ctx, "announcement: fetching the whole roster again")
	return m.refresh(ctx)
}

// onNotify applies a notification; it returns why the meeting ended, or "".
func (m *meeting) onNotify(ev notifyEvent) string {
	sub := m.sub.Load()
	if sub == nil || sub.callID != ev.callID {
		return "" // an earlier subscription's
	}
	if sub.remoteTag != "" && ev.fromTag != sub.remoteTag {
		return "" // another notifier's (a forked SUBSCRIBE)
	}
	if ev.bad {
		m.lost.Store(true)
	}
	if ev.doc != nil {
		up, err := m.roster.apply(ev.doc)
		switch {
		case errors.Is(err, errStale):
			m.log.Debug("announcement: stale roster document", "err", err)
		case err != nil:
			m.log.Debug("announcement: roster out of sequence", "err", err)
			m.lost.Store(true)
		default:
			if m.roster.synced {
				m.resyncing = false
			}
			for _, p := range decide(up, m.roster.listeners) {
				m.player.enqueue(p.command(m.mcu))
			}
			if up.ended {
				why := "the meeting ended"
				m.finish(false, true, why)
				return why
			}
		}
	}
	if !ev.state.terminated {
		if ev.state.expires > 0 && sub.established && time.Until(sub.expires) > ev.state.expires {
			// The Focus shortened the subscription (RFC 6665 §4.1.3).
			sub.expires = time.Now().Add(ev.state.expires)
			m.timer.Reset(refreshAfter(ev.state.expires))
		}
		return ""
	}
	if !ev.state.resubscribes() {
		why := "the Focus ended the subscription (" + ev.state.reason + ")"
		m.finish(false, true, why)
		return why
	}
	m.setSubscription(nil)
	wait := ev.state.retryAfter
	if ev.state.reason == "probation" && wait == 0 {
		wait = firstRetry
	}
	m.timer.Reset(min(wait, maxRetry))
	return ""
}

// setSubscription makes sub the meeting's (nil: none), so that the
// NOTIFY handler finds the meeting by its Call-ID.
func (m *meeting) setSubscription(sub *subscription) {
	old := m.sub.Swap(sub)
	m.s.mu.Lock()
	if old != nil && m.s.subs[old.callID] == m {
		delete(m.s.subs, old.callID)
	}
	if sub != nil {
		m.s.subs[sub.callID] = m
	}
	m.s.mu.Unlock()
}

// finish ends the meeting's work: the player stops, the subscription ends
// (unsubscribe: RFC 6665 §4.1.2.3, Expires: 0) when it is still up, and the
// MCU's dialog is hung up when hangUp.
func (m *meeting) finish(unsubscribe, hangUp bool, why string) {
	m.player.stop()
	if sub := m.sub.Load(); unsubscribe && sub != nil && sub.established {
		ctx, cancel := context.WithTimeout(context.Background(), m.s.cfg.RequestTimeout)
		if _, err := m.s.subscribe(ctx, sub, m.focus, 0); err != nil {
			m.log.Debug("announcement: unsubscribing", "err", err)
		}
		cancel()
	}
	m.setSubscription(nil)
	if hangUp && m.dlg != nil {
		m.s.bye(m.dlg)
	} else if m.dlg != nil {
		m.s.forgetDialog(m.dlg.ID)
	}
	m.s.mu.Lock()
	if m.s.meetings[m.key] == m {
		delete(m.s.meetings, m.key)
	}
	m.s.mu.Unlock()
	close(m.done)
	m.log.Info("announcement: meeting no longer served", "why", why)
}
