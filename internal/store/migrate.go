package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFS holds the schema migrations, migrations/NNNN_name.sql. A
// migration is never edited once released; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew reports a database migrated by a newer Parley than this
// one, whose schema this binary does not know.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this program")

// migrationLockID is the PostgreSQL advisory lock that serialises servers
// of a pool migrating the same database at once ("parley" in ASCII).
const migrationLockID int64 = 0x7061726c6579

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the migrations in fsys, rejecting badly
// named files and duplicate versions.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || v < 1 || name == "" {
			return nil, fmt.Errorf("store: migration %s: want NNNN_name.sql", n)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", n, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("store: two migrations have version %d", out[i].version)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction together with its row in schema_migrations, so that a failed
// migration leaves no trace and a finished one is never applied twice.
// Concurrent Opens of one database take turns: on PostgreSQL through an
// advisory lock held for the whole run, on SQLite through BEGIN IMMEDIATE,
// after which each transaction checks again whether its migration is due.
func (s *DB) migrate(ctx context.Context) error {
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer func() { _ = conn.Close() }() // back to the pool; it cannot fail here
	if s.dialect == dialectPostgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
		defer func() {
			// An unlock that fails leaves the lock to die with the
			// connection, which Close discards below.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID); err != nil {
				s.log.WarnContext(ctx, "migration unlock failed", "err", err)
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // do not reuse it
			}
		}()
	}
	if err := createVersionTable(ctx, conn); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var newest sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if latest := migs[len(migs)-1].version; int(newest.Int64) > latest {
		return fmt.Errorf("%w: database at version %d, this program knows up to %d", ErrSchemaTooNew, newest.Int64, latest)
	}
	for _, m := range migs {
		if err := s.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// createVersionTable creates schema_migrations in a transaction of its own:
// on SQLite that makes it BEGIN IMMEDIATE, which waits for a concurrent
// Open's write instead of failing when its read snapshot turns out stale.
func createVersionTable(ctx context.Context, conn *sql.Conn) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func (s *DB) apply(ctx context.Context, conn *sql.Conn, m migration) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %04d: %w", m.version, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that matters is err
		}
	}()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("store: migration %04d: %w", m.version, err)
	}
	if n > 0 { // another server applied it first
		if err := tx.Rollback(); err != nil {
			return fmt.Errorf("store: migration %04d: %w", m.version, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, s.now().UnixNano()); err != nil {
		return fmt.Errorf("store: migration %04d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %04d: commit: %w", m.version, err)
	}
	s.log.InfoContext(ctx, "applied schema migration", "version", m.version, "name", m.name, "dialect", string(s.dialect))
	return nil
}
