package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store/storetest"
)

// postgresEnv names the PostgreSQL database the tests may use; they create
// and drop a schema of their own in it for every store.
const postgresEnv = "PARLEY_TEST_POSTGRES_DSN"

func testLog(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openT(t *testing.T, dsn string) *DB {
	t.Helper()
	s, err := Open(t.Context(), dsn, testLog(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func sqliteDSN(t *testing.T) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "parley.db")
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store {
		t.Helper()
		return openT(t, sqliteDSN(t))
	})
}

func TestSQLiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store {
		t.Helper()
		return openT(t, "sqlite::memory:")
	})
}

var schemaSeq atomic.Int64

// postgresDSN creates a schema of its own in the database of
// PARLEY_TEST_POSTGRES_DSN, drops it when the test ends, and returns a DSN
// whose search_path puts the store's tables there. It skips the test when
// the variable is unset.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("%s is not set", postgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.Close(); err != nil {
			t.Error(err)
		}
	})
	schema := fmt.Sprintf("parley_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPostgres(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set; run .ci/postgres.sh to start a throwaway server", postgresEnv)
	}
	storetest.Run(t, func(t *testing.T) directory.Store {
		t.Helper()
		return openT(t, postgresDSN(t))
	})
}

// backends make a DSN of a new database that several Opens may share: a
// SQLite file and, when configured, a PostgreSQL schema.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
}{{"sqlite", sqliteDSN}, {"postgres", postgresDSN}}

func TestReopen(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			ctx := t.Context()
			s := openT(t, dsn)
			var key1 []byte
			if err := s.db.QueryRowContext(ctx, `SELECT conference_key FROM organization`).Scan(&key1); err != nil {
				t.Fatal(err)
			}
			if len(key1) != 32 {
				t.Fatalf("conference key after first Open = %x, want 32 bytes", key1)
			}
			org := directory.Organization{Name: "Parley", Domains: []string{"parley.test"}}
			if err := s.PutOrganization(ctx, org); err != nil {
				t.Fatal(err)
			}
			if err := s.PutPool(ctx, directory.Pool{FQDN: "pool.parley.test", ID: "10",
				PSTN: directory.DefaultPSTNSettings()}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openT(t, dsn)
			got, err := s.Organization(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.ConferenceKey, key1) {
				t.Errorf("conference key after reopen = %x, want %x", got.ConferenceKey, key1)
			}
			if _, err := s.Pool(ctx, "pool.parley.test"); err != nil {
				t.Errorf("Pool after reopen: %v", err)
			}
			if s.dialect == dialectSQLite {
				var mode string
				if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
					t.Errorf("journal_mode = %q, %v; want wal", mode, err)
				}
			}
			var n, rows int
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).
				Scan(&rows, &n); err != nil {
				t.Fatal(err)
			}
			migs, err := loadMigrations(migrationFS)
			if err != nil {
				t.Fatal(err)
			}
			if rows != len(migs) || n != len(migs) {
				t.Errorf("schema_migrations has %d rows (%d versions) after reopen, want %d", rows, n, len(migs))
			}
		})
	}
}

// TestConcurrentOpen opens one new database from several goroutines at
// once: the migrations must be applied once and every Open must agree on
// the conference key.
func TestConcurrentOpen(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			const n = 6
			var wg sync.WaitGroup
			keys := make([][]byte, n)
			for i := range n {
				wg.Go(func() {
					s, err := Open(t.Context(), dsn, testLog(t))
					if err != nil {
						t.Errorf("Open %d: %v", i, err)
						return
					}
					defer func() {
						if err := s.Close(); err != nil {
							t.Error(err)
						}
					}()
					if err := s.db.QueryRowContext(t.Context(), `SELECT conference_key FROM organization`).
						Scan(&keys[i]); err != nil {
						t.Errorf("Open %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			for i := 1; i < n; i++ {
				if !bytes.Equal(keys[i], keys[0]) {
					t.Errorf("Open %d saw conference key %x, Open 0 saw %x", i, keys[i], keys[0])
				}
			}
		})
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := t.Context()
	dsn := sqliteDSN(t)
	s := openT(t, dsn)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn, testLog(t))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open(newer schema) error = %v, want %v", err, ErrSchemaTooNew)
	}
}

func TestOpenBadDSN(t *testing.T) {
	for _, dsn := range []string{
		"", "mysql://u:secret@h/db", "sqlite:", "sqlite:/tmp/a.db?x=1", "/var/lib/parley.db",
		"postgres://u:secret@db.parley.test:port/parley", "postgresql://u:secret@h/db?sslmode=sometimes",
	} {
		_, err := Open(t.Context(), dsn, testLog(t))
		if !errors.Is(err, ErrBadDSN) {
			t.Errorf("Open(%q) error = %v, want %v", dsn, err, ErrBadDSN)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("secret")) {
			t.Errorf("Open(%q) error %q shows the password", dsn, err)
		}
	}
}

func TestDialect(t *testing.T) {
	if got := openT(t, "sqlite::memory:").Dialect(); got != "sqlite" {
		t.Errorf("Dialect() = %q, want sqlite", got)
	}
	if os.Getenv(postgresEnv) != "" {
		if got := openT(t, postgresDSN(t)).Dialect(); got != "postgres" {
			t.Errorf("Dialect() = %q, want postgres", got)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migs {
		if m.version != i+1 {
			t.Errorf("migration %d has version %d; versions must run 1, 2, 3 ...", i, m.version)
		}
	}
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":  {"migrations/1_init.sql": {Data: []byte("")}},
		"no name":   {"migrations/0001.sql": {Data: []byte("")}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"version 0": {"migrations/0000_zero.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("loadMigrations(%s) succeeded, want an error", name)
		}
	}
}

func TestLineNumber(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"tel:+14255550100":              "tel:+14255550100",
		"tel:+14255550100;ext=100":      "tel:+14255550100",
		"TEL:+14255550100;ext=1;x=2":    "tel:+14255550100",
		"tel:+1425;phone-context=a.org": "tel:+1425",
	} {
		if got := lineNumber(in); got != want {
			t.Errorf("lineNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteWaitsForContext checks that a writer queued behind another gives
// up when its context ends rather than waiting forever.
func TestWriteWaitsForContext(t *testing.T) {
	s := openT(t, sqliteDSN(t))
	s.writeSem <- struct{}{} // a writer that never finishes
	defer func() { <-s.writeSem }()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := s.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: "P", MaxMeetingSize: 10})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PutMeetingPolicy behind a stuck writer: error = %v, want %v", err, context.DeadlineExceeded)
	}
}
