package focusfactory

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
)

// Each user has an assigned conference ID ("My Meeting"): the conference ID
// of his personal meeting, a meeting of kind directory.KindPersonal that the
// store keeps in step with User.ConferenceID. The user can reset it, and an
// addConference asking for pl:personal-id reuses it.

// personal returns the user's personal meeting, if he has one.
func (f *Factory) personal(ctx context.Context, u directory.User) (directory.Meeting, bool, error) {
	if u.ConferenceID == "" {
		return directory.Meeting{}, false, nil
	}
	m, err := f.meetings.MeetingByConferenceID(ctx, u.ConferenceID)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return directory.Meeting{}, false, nil
	case err != nil:
		return directory.Meeting{}, false, err
	case m.Kind != directory.KindPersonal || !sameURI(m.Organizer, u.URI):
		return directory.Meeting{}, false, nil
	}
	return m, true, nil
}

// createPersonal stores m as the organizer's new personal meeting under a
// fresh key and conference ID.
func (f *Factory) createPersonal(ctx context.Context, o organizer, m directory.Meeting) (directory.Meeting, *failure) {
	key, err := newMeetingKey()
	if err != nil {
		return m, f.internal("meeting key", err)
	}
	old := m
	m.Key = key
	m.AccessKey = f.resealAccessKey(old, m)
	for attempt := 0; ; attempt++ {
		if m.ID, err = confid.NewMeetingID(rand.Reader); err != nil {
			return m, f.internal("meeting ID", err)
		}
		if m.ConferenceID, err = f.ids.reserve(ctx, o.pool); err != nil {
			return m, f.internal("conference ID", err)
		}
		err = f.meetings.CreateMeeting(ctx, m)
		if err == nil {
			f.log.InfoContext(ctx, "personal conference ID assigned", "user", m.Organizer)
			return m, nil
		}
		f.ids.release(m.Pool, m.ConferenceID)
		if !errors.Is(err, directory.ErrExists) || attempt+1 == idAttempts {
			return m, f.internal("storing personal meeting", err)
		}
	}
}

// AssignPersonalID gives a user his personal conference ID if he has none
// yet, and returns it. Admin tooling calls it when a user is created.
func (f *Factory) AssignPersonalID(ctx context.Context, uri string) (string, error) {
	o, fail := f.organizer(ctx, uri)
	if fail != nil {
		return "", errors.New(fail.detail)
	}
	unlock := f.lock(o.user.URI)
	defer unlock()
	if m, found, err := f.personal(ctx, o.user); err != nil {
		return "", err
	} else if found {
		return m.ConferenceID, nil
	}
	now := f.cfg.Now().UTC()
	m := directory.Meeting{
		Organizer: o.user.URI, Pool: o.user.Pool, Kind: directory.KindPersonal,
		Admission: directory.AdmitOpen, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	m.ExpiresAt = Expiry(m)
	m, fail = f.createPersonal(ctx, o, m)
	if fail != nil {
		return "", errors.New(fail.detail)
	}
	return m.ConferenceID, nil
}

// ResetPersonalID gives a user a new personal conference ID (the old one
// stops working at once and becomes free for reuse) and returns it.
func (f *Factory) ResetPersonalID(ctx context.Context, uri string) (string, error) {
	o, fail := f.organizer(ctx, uri)
	if fail != nil {
		return "", errors.New(fail.detail)
	}
	unlock := f.lock(o.user.URI)
	cur, found, err := f.personal(ctx, o.user)
	unlock()
	if err != nil {
		return "", err
	}
	if !found {
		return f.AssignPersonalID(ctx, uri)
	}
	unlock = f.lock(o.user.URI)
	defer unlock()
	return f.reissue(ctx, cur, o.pool)
}

// reissue gives meeting m a new conference ID in pool and frees its old
// one.
func (f *Factory) reissue(ctx context.Context, m directory.Meeting, pool directory.Pool) (string, error) {
	for attempt := 0; ; attempt++ {
		id, err := f.ids.reserve(ctx, pool)
		if err != nil {
			return "", err
		}
		_, err = f.meetings.UpdateMeeting(ctx, m.Organizer, m.Key, func(cur *directory.Meeting) error {
			cur.ConferenceID, cur.Pool = id, pool.FQDN
			cur.UpdatedAt, cur.Version = f.cfg.Now().UTC(), cur.Version+1
			return nil
		})
		if err == nil {
			f.ids.release(m.Pool, m.ConferenceID)
			return id, nil
		}
		f.ids.release(pool.FQDN, id)
		if !errors.Is(err, directory.ErrExists) || attempt+1 == idAttempts {
			return "", fmt.Errorf("reissuing the conference ID of %s: %w", m.Key, err)
		}
	}
}

// Rehome moves a user's meetings to his current pool: when an organizer
// moves to another pool, his meetings' conference IDs are released and
// reissued in the new pool (seed 000, "Focus Factory"), since a conference
// ID names the pool that hosts the meeting. It returns how many meetings
// moved.
func (f *Factory) Rehome(ctx context.Context, uri string) (int, error) {
	u, err := f.dir.User(ctx, uri)
	if err != nil {
		return 0, fmt.Errorf("rehoming %s: %w", uri, err)
	}
	pool, err := f.dir.Pool(ctx, u.Pool)
	if err != nil {
		return 0, fmt.Errorf("rehoming %s: %w", uri, err)
	}
	unlock := f.lock(u.URI)
	defer unlock()
	list, err := f.meetings.Meetings(ctx, u.URI)
	if err != nil {
		return 0, fmt.Errorf("rehoming %s: %w", uri, err)
	}
	moved := 0
	for _, m := range list {
		if m.Pool == pool.FQDN {
			continue
		}
		if m.ConferenceID == "" {
			if _, err := f.meetings.UpdateMeeting(ctx, m.Organizer, m.Key, func(cur *directory.Meeting) error {
				cur.Pool = pool.FQDN
				return nil
			}); err != nil {
				return moved, fmt.Errorf("rehoming %s: %w", m.Key, err)
			}
		} else if _, err := f.reissue(ctx, m, pool); err != nil {
			return moved, err
		}
		moved++
	}
	if moved > 0 {
		f.log.InfoContext(ctx, "meetings moved to the organizer's new pool", "user", u.URI, "pool", pool.FQDN, "count", moved)
	}
	return moved, nil
}

// keyAlphabet is what meeting keys are made of: upper-case letters and
// digits without the look-alikes 0/O and 1/I, as OCS keys such as TPDD8VYG.
const keyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newMeetingKey returns a random 10-character meeting key (50 bits).
func newMeetingKey() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return string(b[:]), nil
}
