package focusfactory

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
)

// The expiry rules of seed 003, "Meeting Expiration".
const (
	// ScheduledGrace is how long a scheduled meeting outlives its (last)
	// end: "the scheduled end time plus 14 days".
	ScheduledGrace = 14 * 24 * time.Hour
	// AdHocLifetime is the life of an ad hoc IM or A/V conference: "the
	// expiry time is 8 hours".
	AdHocLifetime = 8 * time.Hour
	// OpenEndedMonths is the life of a recurring meeting without an end
	// date after its last activation: "6 months".
	OpenEndedMonths = 6
	// MaxClientExpiry bounds an expiry-time a client sends without a
	// schedule, so that a meeting cannot hold a conference ID forever.
	MaxClientExpiry = 2 * 365 * 24 * time.Hour
	// MaxScheduleAhead bounds how far ahead a meeting may be scheduled.
	MaxScheduleAhead = 5 * 365 * 24 * time.Hour
)

// personalLifetime keeps a personal meeting as long as its user exists: it
// carries his assigned conference ID, which must not be swept. Its expiry
// is still a real time so that the sweeper's index stays simple.
const personalLifetime = 100 * 365 * 24 * time.Hour

// Expiry returns when a meeting expires, from its kind and times (seed 003,
// "Meeting Expiration"). The Focus calls it again when it activates a
// meeting, since open-ended and ad hoc meetings live on from their last
// activation.
func Expiry(m directory.Meeting) time.Time {
	last := m.CreatedAt
	if m.LastActivatedAt.After(last) {
		last = m.LastActivatedAt
	}
	switch m.Kind {
	case directory.KindOneTime:
		return m.EndsAt.Add(ScheduledGrace)
	case directory.KindRecurring:
		if !m.RecursUntil.IsZero() {
			return m.RecursUntil.Add(ScheduledGrace)
		}
		return last.AddDate(0, OpenEndedMonths, 0)
	case directory.KindPersonal:
		return last.Add(personalLifetime)
	default: // KindAdHoc
		return last.Add(AdHocLifetime)
	}
}

// applySchedule sets the kind, times and expiry of m from pl:schedule when
// the client sends one, else from msci:expiry-time as OCS clients do (they
// compute it themselves, seed 003: "based on an expiry time that is received
// from clients"), else as an ad hoc meeting.
func (f *Factory) applySchedule(m *directory.Meeting, d *c3p.ConferenceDescription, now time.Time, create bool) *failure {
	if m.Kind == directory.KindPersonal {
		return nil // its expiry follows its user, not a schedule
	}
	switch s := d.Schedule; {
	case s != nil:
		k := directory.MeetingKind(s.Kind)
		var start, end, until time.Time
		if s.Start != nil {
			start = s.Start.UTC()
		}
		if s.End != nil {
			end = s.End.UTC()
		}
		if s.RecursUntil != nil {
			until = s.RecursUntil.UTC()
		}
		switch k {
		case directory.KindOneTime, directory.KindRecurring:
			if start.IsZero() || end.IsZero() || !end.After(start) {
				return refuse(reasonMalformed, c3p.DiagParseFailed, "a %s meeting needs a start before its end", k)
			}
			if end.Sub(now) > MaxScheduleAhead {
				return refuse(reasonMalformed, c3p.DiagParseFailed, "a meeting may be scheduled at most %v ahead", MaxScheduleAhead)
			}
			if k == directory.KindOneTime && !until.IsZero() {
				return refuse(reasonMalformed, c3p.DiagParseFailed, "a one-time meeting does not recur")
			}
			if !until.IsZero() && (until.Before(end) || until.Sub(now) > MaxScheduleAhead) {
				return refuse(reasonMalformed, c3p.DiagParseFailed, "recurs-until must be after the first end and at most %v ahead", MaxScheduleAhead)
			}
		case directory.KindAdHoc:
			start, end, until = time.Time{}, time.Time{}, time.Time{}
		default:
			return refuse(reasonMalformed, c3p.DiagParseFailed, "unknown schedule kind %q", s.Kind)
		}
		m.Kind, m.StartsAt, m.EndsAt, m.RecursUntil = k, start, end, until
		m.ExpiresAt = Expiry(*m)
		if !m.ExpiresAt.After(now) {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "the meeting would already have expired (%s)", m.ExpiresAt.Format(time.RFC3339))
		}
	case d.ExpiryTime != nil:
		exp := d.ExpiryTime.UTC()
		if !exp.After(now) || exp.Sub(now) > MaxClientExpiry {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "expiry-time must be in the next %v", MaxClientExpiry)
		}
		// A client-chosen expiry reads as a one-time meeting that ended
		// 14 days before it, or ad hoc when that is in the past.
		m.Kind, m.StartsAt, m.EndsAt, m.RecursUntil = directory.KindOneTime, time.Time{}, time.Time{}, time.Time{}
		if exp.Sub(now) <= ScheduledGrace {
			m.Kind = directory.KindAdHoc
		}
		m.ExpiresAt = exp
	case create:
		m.Kind = directory.KindAdHoc
		m.ExpiresAt = Expiry(*m)
	}
	return nil
}

// DefaultSweepBatch is how many expired meetings one sweep deletes at most
// per store query.
const DefaultSweepBatch = 500

// Sweep deletes the meetings that expired before now and are not active
// (seed 003: "deletes the meeting data record from the back-end database
// after the expiry date if the conference is not currently active"), and
// frees their conference IDs for reuse. It returns how many it deleted.
func (f *Factory) Sweep(ctx context.Context) (int, error) {
	now := f.cfg.Now()
	deleted := 0
	for {
		batch, err := f.meetings.ExpiredMeetings(ctx, now, DefaultSweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("listing expired meetings: %w", err)
		}
		for _, m := range batch {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			unlock := f.lock(m.Organizer)
			err := f.meetings.DeleteMeeting(ctx, m.Organizer, m.Key)
			unlock()
			if err != nil {
				return deleted, fmt.Errorf("deleting expired meeting %s of %s: %w", m.Key, m.Organizer, err)
			}
			f.ids.release(m.Pool, m.ConferenceID)
			deleted++
		}
		if len(batch) < DefaultSweepBatch {
			return deleted, nil
		}
	}
}

// RunSweeper sweeps every interval until ctx is done, logging failures
// and carrying on.
func (f *Factory) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := f.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			f.log.ErrorContext(ctx, "sweeping expired meetings", "err", err)
		}
		if n > 0 {
			f.log.InfoContext(ctx, "expired meetings deleted", "count", n)
		}
	}
}
