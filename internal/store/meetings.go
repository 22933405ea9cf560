package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

// *DB keeps the pool's meetings (migrations/0002_meetings.sql) beside the
// directory.
var _ directory.MeetingStore = (*DB)(nil)

const meetingColumns = `id, organizer, key, pool, COALESCE(conference_id, ''), kind, COALESCE(subject, ''),
	admission, COALESCE(presenters, ''), COALESCE(attendees, ''), COALESCE(passcode_hash, ''), access_key,
	COALESCE(starts_at, 0), COALESCE(ends_at, 0), COALESCE(recurs_until, 0), expires_at,
	COALESCE(last_activated_at, 0), active, version, created_at, updated_at`

func scanMeeting(r scanner) (directory.Meeting, error) {
	var m directory.Meeting
	var kind, presenters, attendees string
	var starts, ends, until, expires, activated, version, created, updated int64
	err := r.Scan(&m.ID, &m.Organizer, &m.Key, &m.Pool, &m.ConferenceID, &kind, &m.Subject,
		&m.Admission, &presenters, &attendees, &m.PasscodeHash, &m.AccessKey,
		&starts, &ends, &until, &expires,
		&activated, &m.Active, &version, &created, &updated)
	m.Kind = directory.MeetingKind(kind)
	m.Presenters, m.Attendees = splitLines(presenters), splitLines(attendees)
	m.StartsAt, m.EndsAt, m.RecursUntil = fromUnixNano(starts), fromUnixNano(ends), fromUnixNano(until)
	m.ExpiresAt, m.LastActivatedAt = fromUnixNano(expires), fromUnixNano(activated)
	m.Version = uint64(version) // stored bit for bit; see meetingArgs
	m.CreatedAt, m.UpdatedAt = fromUnixNano(created), fromUnixNano(updated)
	return m, err
}

// insertMeetingQuery takes the arguments of meetingArgs.
const insertMeetingQuery = `INSERT INTO meetings (organizer, key, id, pool, conference_id, kind, subject,
		admission, presenters, attendees, passcode_hash, access_key, starts_at, ends_at, recurs_until,
		expires_at, last_activated_at, active, version, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`

// updateMeetingQuery takes the arguments of meetingArgs too; the ID only
// guards the WHERE clause, since it never changes.
const updateMeetingQuery = `UPDATE meetings SET pool = $4, conference_id = $5, kind = $6, subject = $7,
		admission = $8, presenters = $9, attendees = $10, passcode_hash = $11, access_key = $12,
		starts_at = $13, ends_at = $14, recurs_until = $15, expires_at = $16, last_activated_at = $17,
		active = $18, version = $19, created_at = $20, updated_at = $21
	WHERE organizer = $1 AND key = $2 AND id = $3`

// meetingArgs are the column values of m, in the order of
// insertMeetingQuery.
func meetingArgs(m directory.Meeting) []any {
	var accessKey any
	if len(m.AccessKey) > 0 {
		accessKey = m.AccessKey
	}
	return []any{
		m.Organizer, m.Key, m.ID, m.Pool, nullable(m.ConferenceID), string(m.Kind), nullable(m.Subject),
		m.Admission, nullable(joinLines(m.Presenters)), nullable(joinLines(m.Attendees)),
		nullable(m.PasscodeHash), accessKey, unixNano(m.StartsAt), unixNano(m.EndsAt),
		unixNano(m.RecursUntil), m.ExpiresAt.UnixNano(), unixNano(m.LastActivatedAt), m.Active,
		// BIGINT is signed: a version above 1<<63-1 is kept bit for bit
		// as a negative number, which scanMeeting turns back.
		int64(m.Version),
		m.CreatedAt.UnixNano(), m.UpdatedAt.UnixNano(),
	}
}

// joinLines encodes a list of SIP URIs as one column. A SIP URI that passed
// validation holds no newline, so the encoding is unambiguous.
func joinLines(list []string) string { return strings.Join(list, "\n") }

// splitLines is the inverse of joinLines; "" is the empty list.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// The earliest and latest times a meeting can hold: the column is int64
// nanoseconds, and 0 means unset, so 1970-01-01T00:00:00Z itself is out.
var (
	minStoredTime = time.Unix(0, 1).UTC()
	maxStoredTime = time.Unix(0, math.MaxInt64).UTC()
)

// checkTimes refuses a time the columns cannot hold, which would otherwise
// be stored wrapped around or read back as unset.
func checkTimes(m directory.Meeting) error {
	for _, f := range []struct {
		field string
		t     time.Time
	}{
		{"starts_at", m.StartsAt}, {"ends_at", m.EndsAt}, {"recurs_until", m.RecursUntil},
		{"expires_at", m.ExpiresAt}, {"last_activated_at", m.LastActivatedAt}, {"created_at", m.CreatedAt},
	} {
		if !f.t.IsZero() && (f.t.Before(minStoredTime) || f.t.After(maxStoredTime)) {
			return invalid(f.field, "%s is outside the storable range %s to %s", f.t.Format(time.RFC3339),
				minStoredTime.Format(time.RFC3339), maxStoredTime.Format(time.RFC3339))
		}
	}
	return nil
}

// asStored returns m as reading it back would: times in UTC without a
// monotonic reading.
func asStored(m directory.Meeting) directory.Meeting {
	for _, t := range []*time.Time{&m.StartsAt, &m.EndsAt, &m.RecursUntil, &m.ExpiresAt, &m.LastActivatedAt,
		&m.CreatedAt, &m.UpdatedAt} {
		if !t.IsZero() {
			*t = fromUnixNano(t.UnixNano())
		}
	}
	return m
}

const (
	meetingByKeyQuery          = `SELECT ` + meetingColumns + ` FROM meetings WHERE organizer = $1 AND key = $2`
	meetingByConferenceIDQuery = `SELECT ` + meetingColumns + ` FROM meetings WHERE conference_id = $1`
)

// Meeting returns the organizer's meeting whose key is key.
func (s *DB) Meeting(ctx context.Context, organizer, key string) (directory.Meeting, error) {
	return oneRow("meeting", key+" of "+organizer, s.db.QueryRowContext(ctx, meetingByKeyQuery, organizer, key),
		scanMeeting)
}

// MeetingByConferenceID returns the meeting whose PSTN conference ID is
// conferenceID: the lookup of the attendant once a caller has typed it.
func (s *DB) MeetingByConferenceID(ctx context.Context, conferenceID string) (directory.Meeting, error) {
	return oneRow("meeting with conference ID", conferenceID,
		s.meetingByConferenceID.QueryRowContext(ctx, conferenceID), scanMeeting)
}

// Meetings returns the organizer's meetings ordered by key (byte order);
// none for an unknown organizer.
func (s *DB) Meetings(ctx context.Context, organizer string) ([]directory.Meeting, error) {
	return list(ctx, s, "meetings of "+organizer, `SELECT `+meetingColumns+` FROM meetings WHERE organizer = $1
		ORDER BY key`+s.dialect.collate(), scanMeeting, organizer)
}

// ExpiredMeetings returns up to limit inactive meetings whose expiry is
// before now, the earliest expiry first, for the sweeper to delete. A limit
// below 1 returns none.
func (s *DB) ExpiredMeetings(ctx context.Context, now time.Time, limit int) ([]directory.Meeting, error) {
	if limit < 1 {
		return nil, nil
	}
	return list(ctx, s, "expired meetings", `SELECT `+meetingColumns+` FROM meetings
		WHERE expires_at < $1 AND NOT active ORDER BY expires_at LIMIT $2`, scanMeeting, now.UnixNano(), limit)
}

// ConferenceIDs calls fn with each conference ID in use in the pool, once
// and in no particular order: those of the pool's meetings, and the IDs
// assigned to the pool's users that no meeting of the pool holds (an
// administrator may assign one before the personal meeting exists), since
// the allocator must not hand those out either. The first error of fn stops
// the scan and is returned unchanged. fn runs while the query's rows are
// open: it must not call the store.
func (s *DB) ConferenceIDs(ctx context.Context, pool string, fn func(id string) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT conference_id FROM meetings
			WHERE pool = $1 AND conference_id IS NOT NULL
		UNION ALL
		SELECT u.conference_id FROM users u WHERE u.pool = $1 AND u.conference_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM meetings m WHERE m.conference_id = u.conference_id AND m.pool = $1)`,
		pool)
	if err != nil {
		return fmt.Errorf("store: conference IDs of pool %s: %w", pool, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports what matters
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: conference IDs of pool %s: %w", pool, err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: conference IDs of pool %s: %w", pool, err)
	}
	return nil
}

// CreateMeeting stores a new meeting. Version and CreatedAt are stored as
// given, a zero CreatedAt as now; UpdatedAt is always the time of the
// write. A personal meeting's conference ID becomes its organizer's
// assigned one (users.conference_id) in the same transaction.
//
// Besides the clashes directory.MeetingStore names, ErrExists reports a
// meeting ID that a deleted meeting used, a second personal meeting of the
// organizer, and a conference ID assigned to a user other than the
// organizer of the personal meeting that carries it.
func (s *DB) CreateMeeting(ctx context.Context, m directory.Meeting) error {
	if err := m.Validate(); err != nil {
		return err
	}
	now := s.now()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	m.UpdatedAt = now
	if err := checkTimes(m); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		found, err := s.lockOrganizer(ctx, tx, m.Organizer, m.Kind == directory.KindPersonal)
		if err != nil {
			return err
		}
		if !found {
			return invalid("organizer", "user %q does not exist", m.Organizer)
		}
		if err := s.checkRef(ctx, tx, "pool", "pool", "pools", "fqdn", m.Pool); err != nil {
			return err
		}
		if err := checkClaims(ctx, tx, nil, m); err != nil {
			return err
		}
		// The meeting first, so that a live meeting's ID is reported
		// with its holder; then the permanent record of the ID.
		if _, err := tx.ExecContext(ctx, insertMeetingQuery, meetingArgs(m)...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meeting_ids_used (id) VALUES ($1)`, m.ID); err != nil {
			return err
		}
		return s.syncAssignedID(ctx, tx, nil, &m)
	})
	if err != nil {
		return s.meetingWriteError(ctx, err, m, "create")
	}
	return nil
}

// UpdateMeeting reads the meeting, lets fn change it, validates the result
// and writes it, all in one transaction that holds the organizer's and the
// meeting's rows (on SQLite, the database) locked, so concurrent updates
// apply one after the other. When fn fails, its error is returned unchanged and nothing is
// written. The store owns three fields: Version goes up by one, CreatedAt
// keeps its value and UpdatedAt becomes the time of the write, whatever fn
// did to them. Changing the organizer, key or ID is refused with a
// *directory.ValidationError. fn must not call the store: on SQLite the
// write lock it runs under is not reentrant.
func (s *DB) UpdateMeeting(ctx context.Context, organizer, key string,
	fn func(*directory.Meeting) error) (directory.Meeting, error) {
	var m directory.Meeting
	err := s.write(ctx, func(tx *sql.Tx) error {
		found, err := s.lockOrganizer(ctx, tx, organizer, true)
		if err != nil {
			return err
		}
		notFound := fmt.Errorf("%w: meeting %s of %s", directory.ErrNotFound, key, organizer)
		if !found {
			return notFound
		}
		old, err := scanMeeting(tx.QueryRowContext(ctx, meetingByKeyQuery+s.dialect.forUpdate(), organizer, key))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		m = old
		if err := fn(&m); err != nil {
			return &fnError{err}
		}
		switch {
		case m.Organizer != old.Organizer:
			return invalid("organizer", "cannot be changed from %s to %s", old.Organizer, m.Organizer)
		case m.Key != old.Key:
			return invalid("key", "cannot be changed from %s to %s", old.Key, m.Key)
		case m.ID != old.ID:
			return invalid("id", "cannot be changed from %s to %s", old.ID, m.ID)
		}
		if err := m.Validate(); err != nil {
			return err
		}
		m.Version, m.CreatedAt, m.UpdatedAt = old.Version+1, old.CreatedAt, s.now()
		if err := checkTimes(m); err != nil {
			return err
		}
		if m.Pool != old.Pool {
			if err := s.checkRef(ctx, tx, "pool", "pool", "pools", "fqdn", m.Pool); err != nil {
				return err
			}
		}
		if err := checkClaims(ctx, tx, &old, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, updateMeetingQuery, meetingArgs(m)...); err != nil {
			return err
		}
		return s.syncAssignedID(ctx, tx, &old, &m)
	})
	if fe, ok := errors.AsType[*fnError](err); ok {
		return directory.Meeting{}, fe.err
	}
	if err != nil {
		return directory.Meeting{}, s.meetingWriteError(ctx, err, m, "update")
	}
	return asStored(m), nil
}

// DeleteMeeting deletes a meeting. Its ID stays used; its conference ID is
// free again. Deleting a personal meeting clears its organizer's assigned
// conference ID, unless an administrator has assigned him another since.
func (s *DB) DeleteMeeting(ctx context.Context, organizer, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		found, err := s.lockOrganizer(ctx, tx, organizer, true)
		if err != nil {
			return err
		}
		old := directory.Meeting{Organizer: organizer, Key: key}
		var kind string
		if found {
			err = tx.QueryRowContext(ctx, `DELETE FROM meetings WHERE organizer = $1 AND key = $2
				RETURNING kind, COALESCE(conference_id, '')`, organizer, key).Scan(&kind, &old.ConferenceID)
		}
		if !found || errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: meeting %s of %s", directory.ErrNotFound, key, organizer)
		}
		if err != nil {
			return err
		}
		old.Kind = directory.MeetingKind(kind)
		return s.syncAssignedID(ctx, tx, &old, nil)
	})
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("store: delete meeting %s of %s: %w", key, organizer, err)
	}
	return err
}

// lockOrganizer reports whether the organizer exists and, on PostgreSQL,
// locks his row until the transaction ends, so that he cannot be deleted
// before his meeting is written. The lock is exclusive when the write may
// set or clear his assigned conference ID: taking a shared lock first and
// upgrading it then would deadlock against a concurrent write of his that
// holds a shared lock too (and the foreign key of meetings takes one).
// Every write of a meeting locks its organizer before the meeting, the
// order in which deleting a user cascades to his meetings.
func (s *DB) lockOrganizer(ctx context.Context, tx *sql.Tx, organizer string, exclusive bool) (bool, error) {
	lock := s.dialect.forShare()
	if exclusive {
		lock = s.dialect.forUpdate()
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE uri = $1`+lock, organizer).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: look up organizer %s: %w", organizer, err)
	}
	return true, nil
}

// checkClaims checks, before m is written over old (nil for a new meeting),
// the two claims the meeting's unique keys alone cannot settle:
//
//   - a conference ID assigned to a user is his personal meeting's, so no
//     other meeting may take it; it is checked only when the conference ID
//     or the kind changes, so that updates of a meeting that already holds
//     its ID (activation, say) never fail on it;
//   - an organizer has at most one personal meeting; the partial unique
//     index meetings_kind_key enforces it against concurrent writers, this
//     check names the meeting he has.
func checkClaims(ctx context.Context, tx *sql.Tx, old *directory.Meeting, m directory.Meeting) error {
	personal := m.Kind == directory.KindPersonal
	wasPersonal := old != nil && old.Kind == directory.KindPersonal
	if m.ConferenceID != "" && (old == nil || old.ConferenceID != m.ConferenceID || old.Kind != m.Kind) {
		var user string
		err := tx.QueryRowContext(ctx, `SELECT uri FROM users WHERE conference_id = $1`, m.ConferenceID).Scan(&user)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: look up conference ID %s: %w", m.ConferenceID, err)
		case user == m.Organizer && (personal || wasPersonal && old.ConferenceID == m.ConferenceID):
			// His own: the meeting becomes, or was until now, the one
			// that carries it (syncAssignedID clears it in that case).
		default:
			return fmt.Errorf("%w: conference ID %s is assigned to user %s", directory.ErrExists,
				m.ConferenceID, user)
		}
	}
	if personal && !wasPersonal {
		var key string
		// The kind is a literal so that the planners pick the partial
		// index, whose WHERE clause it must match.
		err := tx.QueryRowContext(ctx, `SELECT key FROM meetings WHERE kind = 'personal' AND organizer = $1`,
			m.Organizer).Scan(&key)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: look up personal meeting of %s: %w", m.Organizer, err)
		default:
			return fmt.Errorf("%w: %s already has a personal meeting, %s", directory.ErrExists, m.Organizer, key)
		}
	}
	return nil
}

// syncAssignedID keeps the organizer's assigned conference ID that of his
// personal meeting when the meeting prev (nil: none) becomes next (nil:
// deleted). A meeting that turns personal, or a personal meeting whose
// conference ID changes, sets it; one that stops being personal or is
// deleted clears it if it still is the meeting's.
func (s *DB) syncAssignedID(ctx context.Context, tx *sql.Tx, prev, next *directory.Meeting) error {
	wasPersonal := prev != nil && prev.Kind == directory.KindPersonal
	personal := next != nil && next.Kind == directory.KindPersonal
	now := s.now().UnixNano()
	var err error
	switch {
	case personal && (!wasPersonal || prev.ConferenceID != next.ConferenceID):
		_, err = tx.ExecContext(ctx, `UPDATE users SET conference_id = $2, updated_at = $3 WHERE uri = $1`,
			next.Organizer, nullable(next.ConferenceID), now)
	case wasPersonal && !personal && prev.ConferenceID != "":
		_, err = tx.ExecContext(ctx, `UPDATE users SET conference_id = NULL, updated_at = $3
			WHERE uri = $1 AND conference_id = $2`, prev.Organizer, prev.ConferenceID, now)
	}
	return err
}

// meetingWriteError turns a unique violation into ErrExists naming the
// meeting or user that holds the value, and wraps anything else.
func (s *DB) meetingWriteError(ctx context.Context, err error, m directory.Meeting, op string) error {
	d := s.dialect
	switch {
	case d.isUnique(err, "meetings", "organizer"):
		return fmt.Errorf("%w: %s already has a meeting with key %s", directory.ErrExists, m.Organizer, m.Key)
	case d.isUnique(err, "meetings", "id"):
		return fmt.Errorf("%w: meeting ID %s is already used by %s", directory.ErrExists, m.ID,
			s.meetingHolder(ctx, "id", m.ID))
	case d.isUnique(err, "meeting_ids_used", "id"):
		return fmt.Errorf("%w: meeting ID %s belonged to a deleted meeting; meeting IDs are never reused",
			directory.ErrExists, m.ID)
	case d.isUnique(err, "meetings", "conference_id"):
		return fmt.Errorf("%w: conference ID %s is already used by %s", directory.ErrExists, m.ConferenceID,
			s.meetingHolder(ctx, "conference_id", m.ConferenceID))
	case d.isUnique(err, "meetings", "kind"):
		return fmt.Errorf("%w: %s already has a personal meeting", directory.ErrExists, m.Organizer)
	case d.isUnique(err, "users", "conference_id"):
		return fmt.Errorf("%w: conference ID %s is assigned to user %s", directory.ErrExists, m.ConferenceID,
			s.holder(ctx, `SELECT uri FROM users WHERE conference_id = $1`, m.ConferenceID))
	}
	return wrapWrite(err, "%s meeting %s of %s", op, m.Key, m.Organizer)
}

// meetingHolder names the meeting whose column holds value, for an error
// message: "meeting KEY of ORGANIZER", or "another meeting" when it has
// gone since.
func (s *DB) meetingHolder(ctx context.Context, column, value string) string {
	var organizer, key string
	err := s.db.QueryRowContext(ctx, `SELECT organizer, key FROM meetings WHERE `+column+` = $1`, value).
		Scan(&organizer, &key)
	if err != nil {
		return "another meeting"
	}
	return "meeting " + key + " of " + organizer
}
