// Package store keeps the directory in a SQL database: an embedded SQLite
// file for a Standard Edition server, or a shared PostgreSQL database for a
// pool of servers. One schema, written in the SQL both accept, serves both;
// the few places where they differ (row locks, error codes, the migration
// lock, collation) are isolated in dialect.go.
//
// *DB implements directory.Store. Every write runs in one transaction and
// validates the object and the objects it refers to first, so a failed write
// changes nothing.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the database/sql driver "sqlite"

	"github.com/parleyhq/parley/internal/directory"
)

// ErrBadDSN reports a data source name Open does not understand.
var ErrBadDSN = errors.New("store: bad data source name")

// DB is the directory database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect dialect
	log     *slog.Logger
	// writeSem serialises write transactions on SQLite, which allows one
	// writer at a time: queueing them here, instead of letting them race
	// for the file lock, keeps them in arrival order and never ends in
	// SQLITE_BUSY. nil on PostgreSQL, whose row locks do the job.
	writeSem chan struct{}
	now      func() time.Time
	// Prepared lookups of the SIP request path, which otherwise spends
	// about half its time compiling the statement.
	userByURI, userByExtension, userByLineNumber *sql.Stmt
	// The attendant's lookup of a typed conference ID, likewise.
	meetingByConferenceID *sql.Stmt
}

var _ directory.Store = (*DB)(nil)

// SQLite connection settings, applied to every connection of the pool:
// NORMAL synchronisation is durable in WAL mode (see enableWAL) except
// across power loss; the busy timeout covers other processes holding the
// lock (our own writers queue on writeSem); _txlock=immediate takes the
// write lock at BEGIN so that a transaction never has to upgrade a read
// lock, which SQLite refuses with SQLITE_BUSY rather than wait.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// walTimeout bounds how long Open retries the switch to WAL mode.
const walTimeout = 10 * time.Second

// sqliteMaxConns bounds the SQLite connection pool: readers are concurrent
// in WAL mode, and each connection holds its own page cache.
const sqliteMaxConns = 8

// memSeq numbers in-memory databases so that each Open gets its own.
var memSeq atomic.Uint64

// Open connects to the database named by dsn, applies pending migrations and
// makes sure the organization's conference key exists. dsn is one of
//
//	sqlite:/var/lib/parley/parley.db   a SQLite file, created if absent
//	sqlite::memory:                    a private in-memory SQLite database
//	postgres://user:pass@host/db       PostgreSQL (also postgresql://)
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &DB{log: log, now: time.Now}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		err = s.openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = s.openPostgres(dsn)
	default:
		// The DSN may hold a password: name only its scheme.
		scheme, _, _ := strings.Cut(dsn, ":")
		return nil, fmt.Errorf("%w: scheme %q; want sqlite: or postgres://", ErrBadDSN, scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("store: connect to %s: %w", s.dialect, err), s.db.Close())
	}
	if s.dialect == dialectSQLite && dsn != "sqlite::memory:" {
		if err := s.enableWAL(ctx); err != nil {
			return nil, errors.Join(err, s.db.Close())
		}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(err, s.db.Close())
	}
	if err := s.ensureConferenceKey(ctx); err != nil {
		return nil, errors.Join(err, s.db.Close())
	}
	if err := s.prepare(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// prepare prepares the hot lookups; the statements' SQL is in users.go.
func (s *DB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.userByURI, userByURIQuery},
		{&s.userByExtension, userByExtensionQuery},
		{&s.userByLineNumber, userByLineNumberQuery + s.dialect.collate()},
		{&s.meetingByConferenceID, meetingByConferenceIDQuery},
	} {
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		*p.stmt = st
	}
	return nil
}

func (s *DB) openSQLite(path string) error {
	var source string
	if path == ":memory:" {
		// A named shared-cache database lives as long as a connection
		// to it is open; one connection keeps it alive and makes every
		// statement see the same data.
		source = fmt.Sprintf("file:parley-mem-%d-%d?mode=memory&cache=shared&_pragma=foreign_keys(1)",
			time.Now().UnixNano(), memSeq.Add(1))
	} else {
		if path == "" || strings.ContainsAny(path, "?#") {
			return fmt.Errorf("%w: SQLite path %q must be non-empty and contain no ? or #", ErrBadDSN, path)
		}
		source = path + "?" + sqlitePragmas
	}
	db, err := sql.Open("sqlite", source)
	if err != nil {
		return fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(sqliteMaxConns)
		db.SetMaxIdleConns(sqliteMaxConns)
	}
	s.db, s.dialect, s.writeSem = db, dialectSQLite, make(chan struct{}, 1)
	return nil
}

func (s *DB) openPostgres(dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: pgx's parse errors quote the DSN, and although
		// they mask the password, a malformed DSN may hide it elsewhere.
		return fmt.Errorf("%w: the PostgreSQL URL does not parse", ErrBadDSN)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.db, s.dialect = db, dialectPostgres
	return nil
}

// enableWAL switches a SQLite file to write-ahead logging, which lets
// readers run beside the writer. The mode is a property of the file, so
// setting it once serves every connection. The switch needs the exclusive
// lock, and SQLite refuses it at once with SQLITE_BUSY, without waiting out
// the busy timeout, while another connection is in a transaction, as when
// servers open a new database together; so it is retried for a while.
func (s *DB) enableWAL(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, walTimeout)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		var mode string
		err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("store: SQLite kept journal mode %q instead of WAL", mode)
		case !isBusy(err):
			return fmt.Errorf("store: enable WAL: %w", err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("store: enable WAL: %w", err)
		}
	}
}

// Close closes the database.
func (s *DB) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.userByURI, s.userByExtension, s.userByLineNumber, s.meetingByConferenceID} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Dialect names the database behind the store: "sqlite" or "postgres".
func (s *DB) Dialect() string { return string(s.dialect) }

// write runs fn in a read-write transaction and commits it when fn returns
// nil; otherwise it rolls back and returns fn's error unchanged, so callers
// can classify constraint violations after the transaction has ended.
func (s *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.writeSem != nil {
		select {
		case s.writeSem <- struct{}{}:
			defer func() { <-s.writeSem }()
		case <-ctx.Done():
			return fmt.Errorf("store: waiting to write: %w", ctx.Err())
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			s.log.WarnContext(ctx, "rollback failed", "err", rbErr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ensureConferenceKey creates the organization row with a fresh random
// conference key on first Open. A concurrent Open that loses the race keeps
// the winner's key: the insert does nothing when the row exists.
func (s *DB) ensureConferenceKey(ctx context.Context) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("store: conference key: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.now().UnixNano()
		if _, err := tx.ExecContext(ctx, `INSERT INTO organization (id, name, domains, conference_key, updated_at)
			VALUES (1, '', '', $1, $2) ON CONFLICT (id) DO NOTHING`, key, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE organization SET conference_key = $1, updated_at = $2
			WHERE id = 1 AND conference_key IS NULL`, key, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: conference key: %w", err)
	}
	return nil
}

// invalid builds the *directory.ValidationError for field.
func invalid(field, format string, args ...any) error {
	return &directory.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// nullable maps the empty string to SQL NULL, so that optional UNIQUE
// columns (extension, line URI, conference ID) may be unset for many rows.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// unixNano stores t as nanoseconds since 1970, or NULL for the zero time.
func unixNano(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano, with NULL read as 0.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
