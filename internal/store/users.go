package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

const userColumns = `uri, COALESCE(display_name, ''), pool, enabled, enterprise_voice,
	COALESCE(line_uri, ''), COALESCE(extension, ''), COALESCE(location_profile, ''),
	COALESCE(meeting_policy, ''), COALESCE(conference_id, ''), COALESCE(realm, ''),
	COALESCE(ha1_md5, ''), COALESCE(ha1_sha256, ''), COALESCE(ha1b_md5, ''), COALESCE(ha1b_sha256, ''),
	COALESCE(pin_hash, ''), COALESCE(pin_set_at, 0), pin_failed_attempts, pin_locked_out`

func scanUser(r scanner) (directory.User, error) {
	var u directory.User
	var setAt int64
	err := r.Scan(&u.URI, &u.DisplayName, &u.Pool, &u.Enabled, &u.EnterpriseVoice,
		&u.LineURI, &u.Extension, &u.LocationProfile,
		&u.MeetingPolicy, &u.ConferenceID, &u.Credential.Realm,
		&u.Credential.HA1MD5, &u.Credential.HA1SHA256, &u.Credential.HA1bMD5, &u.Credential.HA1bSHA256,
		&u.PIN.Hash, &setAt,
		&u.PIN.FailedAttempts, &u.PIN.LockedOut)
	u.PIN.SetAt = fromUnixNano(setAt)
	return u, err
}

// lineNumber is a line URI without its parameters, the value of the
// line_number column: tel:+14255550100;ext=100 → tel:+14255550100 (RFC 3966
// §3: parameters follow the number, each introduced by ";").
func lineNumber(lineURI string) string {
	if lineURI == "" {
		return ""
	}
	n, _, _ := strings.Cut(lineURI, ";")
	if len(n) >= 4 && strings.EqualFold(n[:4], "tel:") {
		n = "tel:" + n[4:]
	}
	return n
}

// The prepared lookups (see DB.prepare).
const (
	userByURIQuery        = `SELECT ` + userColumns + ` FROM users WHERE uri = $1`
	userByExtensionQuery  = `SELECT ` + userColumns + ` FROM users WHERE extension = $1`
	userByLineNumberQuery = `SELECT ` + userColumns + ` FROM users WHERE line_number = $1 ORDER BY uri`
)

// User returns the user whose SIP URI is uri.
func (s *DB) User(ctx context.Context, uri string) (directory.User, error) {
	return oneRow("user", uri, s.userByURI.QueryRowContext(ctx, uri), scanUser)
}

// UserByExtension returns the user whose extension is ext.
func (s *DB) UserByExtension(ctx context.Context, ext string) (directory.User, error) {
	return oneRow("user with extension", ext, s.userByExtension.QueryRowContext(ctx, ext), scanUser)
}

// UserByLineURI returns the user whose line URI, parameters aside, is the
// number of lineURI. When several users share the number with different
// extensions (tel:+14255550100;ext=100 and ;ext=101), the one whose line URI
// is exactly lineURI wins; if none is, the number is ambiguous and counts as
// not found.
func (s *DB) UserByLineURI(ctx context.Context, lineURI string) (directory.User, error) {
	n := lineNumber(lineURI)
	rows, err := s.userByLineNumber.QueryContext(ctx, n)
	us, err := scanAll("users by line URI", rows, err, scanUser)
	if err != nil {
		return directory.User{}, err
	}
	for _, u := range us {
		if u.LineURI == lineURI {
			return u, nil
		}
	}
	switch len(us) {
	case 0:
		return directory.User{}, fmt.Errorf("%w: user with line URI %s", directory.ErrNotFound, lineURI)
	case 1:
		return us[0], nil
	}
	return directory.User{}, fmt.Errorf("%w: line URI %s is ambiguous: %d users have number %s",
		directory.ErrNotFound, lineURI, len(us), n)
}

// Users returns every user, ordered by SIP URI.
func (s *DB) Users(ctx context.Context) ([]directory.User, error) {
	return list(ctx, s, "users", `SELECT `+userColumns+` FROM users ORDER BY uri`+s.dialect.collate(), scanUser)
}

// UsersUpdatedSince returns the users written after since, for caches
// that follow the directory without reloading all of it. Deleted users are
// not reported: a cache learns of them by a full reload.
func (s *DB) UsersUpdatedSince(ctx context.Context, since time.Time) ([]directory.User, error) {
	return list(ctx, s, "users", `SELECT `+userColumns+` FROM users WHERE updated_at > $1`, scanUser, since.UnixNano())
}

// CreateUser adds a user; ErrExists when the URI is taken.
func (s *DB) CreateUser(ctx context.Context, u directory.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.checkUserRefs(ctx, tx, u); err != nil {
			return err
		}
		now := s.now().UnixNano()
		_, err := tx.ExecContext(ctx, `INSERT INTO users (uri, display_name, pool, enabled, enterprise_voice,
				line_uri, line_number, extension, location_profile, meeting_policy, conference_id,
				realm, ha1_md5, ha1_sha256, ha1b_md5, ha1b_sha256, pin_hash, pin_set_at, pin_failed_attempts,
				pin_locked_out, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
				$21, $21)`,
			u.URI, nullable(u.DisplayName), u.Pool, u.Enabled, u.EnterpriseVoice,
			nullable(u.LineURI), nullable(lineNumber(u.LineURI)), nullable(u.Extension),
			nullable(u.LocationProfile), nullable(u.MeetingPolicy), nullable(u.ConferenceID),
			nullable(u.Credential.Realm), nullable(u.Credential.HA1MD5), nullable(u.Credential.HA1SHA256),
			nullable(u.Credential.HA1bMD5), nullable(u.Credential.HA1bSHA256),
			nullable(u.PIN.Hash), unixNano(u.PIN.SetAt), u.PIN.FailedAttempts, u.PIN.LockedOut, now)
		return err
	})
	if err != nil {
		return s.userWriteError(ctx, err, u, "create")
	}
	return nil
}

// UpdateUser reads the user, lets fn change it, validates the result and
// writes it, all in one transaction that holds the user's row (on SQLite,
// the database) locked, so concurrent updates apply one after the other.
// When fn fails, its error is returned unchanged and nothing is written. fn
// must not change the URI, and must not call the store: on SQLite the write
// lock it runs under is not reentrant.
func (s *DB) UpdateUser(ctx context.Context, uri string, fn func(*directory.User) error) (directory.User, error) {
	var out directory.User
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, userByURIQuery+s.dialect.forUpdate(), uri))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: user %s", directory.ErrNotFound, uri)
		}
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return &fnError{err}
		}
		if u.URI != uri {
			return invalid("uri", "cannot be changed from %s to %s", uri, u.URI)
		}
		if err := u.Validate(); err != nil {
			return err
		}
		if err := s.checkUserRefs(ctx, tx, u); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET display_name = $2, pool = $3, enabled = $4,
				enterprise_voice = $5, line_uri = $6, line_number = $7, extension = $8, location_profile = $9,
				meeting_policy = $10, conference_id = $11, realm = $12, ha1_md5 = $13, ha1_sha256 = $14,
				ha1b_md5 = $15, ha1b_sha256 = $16, pin_hash = $17, pin_set_at = $18, pin_failed_attempts = $19,
				pin_locked_out = $20, updated_at = $21
			WHERE uri = $1`,
			u.URI, nullable(u.DisplayName), u.Pool, u.Enabled, u.EnterpriseVoice,
			nullable(u.LineURI), nullable(lineNumber(u.LineURI)), nullable(u.Extension),
			nullable(u.LocationProfile), nullable(u.MeetingPolicy), nullable(u.ConferenceID),
			nullable(u.Credential.Realm), nullable(u.Credential.HA1MD5), nullable(u.Credential.HA1SHA256),
			nullable(u.Credential.HA1bMD5), nullable(u.Credential.HA1bSHA256),
			nullable(u.PIN.Hash), unixNano(u.PIN.SetAt), u.PIN.FailedAttempts, u.PIN.LockedOut,
			s.now().UnixNano())
		out = u
		return err
	})
	if fe, ok := errors.AsType[*fnError](err); ok {
		return directory.User{}, fe.err
	}
	if err != nil {
		return directory.User{}, s.userWriteError(ctx, err, out, "update")
	}
	return out, nil
}

// fnError carries the error of UpdateUser's fn out of the transaction, so
// that it is returned exactly as fn made it.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// DeleteUser deletes a user.
func (s *DB) DeleteUser(ctx context.Context, uri string) error {
	return s.deleteRow(ctx, "user", "users", "uri", uri, nil)
}

// checkUserRefs checks that the user's pool, location profile and meeting
// policy exist.
func (s *DB) checkUserRefs(ctx context.Context, tx *sql.Tx, u directory.User) error {
	if err := s.checkRef(ctx, tx, "pool", "pool", "pools", "fqdn", u.Pool); err != nil {
		return err
	}
	if u.LocationProfile != "" {
		if err := s.checkRef(ctx, tx, "location_profile", "location profile", "location_profiles", "name",
			u.LocationProfile); err != nil {
			return err
		}
	}
	if u.MeetingPolicy != "" {
		if err := s.checkRef(ctx, tx, "meeting_policy", "meeting policy", "meeting_policies", "name",
			u.MeetingPolicy); err != nil {
			return err
		}
	}
	return nil
}

// userWriteError turns a unique violation into ErrExists (the URI) or a
// *directory.ValidationError naming the field and the user holding the
// value, and wraps anything else.
func (s *DB) userWriteError(ctx context.Context, err error, u directory.User, op string) error {
	d := s.dialect
	switch {
	case d.isUnique(err, "users", "uri"):
		return fmt.Errorf("%w: user %s", directory.ErrExists, u.URI)
	case d.isUnique(err, "users", "extension"):
		return taken("extension", u.Extension, "assigned to",
			s.holder(ctx, `SELECT uri FROM users WHERE extension = $1`, u.Extension))
	case d.isUnique(err, "users", "line_uri"):
		return taken("line_uri", u.LineURI, "assigned to",
			s.holder(ctx, `SELECT uri FROM users WHERE line_uri = $1`, u.LineURI))
	case d.isUnique(err, "users", "conference_id"):
		return taken("conference_id", u.ConferenceID, "assigned to",
			s.holder(ctx, `SELECT uri FROM users WHERE conference_id = $1`, u.ConferenceID))
	}
	return wrapWrite(err, "%s user %s", op, u.URI)
}
