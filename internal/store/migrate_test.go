package store

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

// openAtVersion makes a database at dsn migrated up to version only, as an
// older Parley would have left it, and returns it open. The caller closes
// it before opening the database with Open.
func openAtVersion(t *testing.T, dsn string, version int) *DB {
	t.Helper()
	ctx := t.Context()
	s := &DB{log: testLog(t), now: time.Now}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		err = s.openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	default:
		err = s.openPostgres(dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := createVersionTable(ctx, conn); err != nil {
		t.Fatal(err)
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.version > version {
			break
		}
		if err := s.apply(ctx, conn, m); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestMigrationAddressHA1 upgrades a database holding a user written by a
// Parley before migration 0005 (no address HA1 columns): the user keeps his
// user-part HA1 values, has NULL address ones, and gets them when his
// password is set again.
func TestMigrationAddressHA1(t *testing.T) {
	const uri = "sip:alice@parley.test"
	old := directory.NewCredential("alice", "parley.test", "old password")
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			ctx := t.Context()
			v4 := openAtVersion(t, dsn, 4)
			if err := v4.PutPool(ctx, directory.Pool{FQDN: "pool.parley.test", ID: "10",
				PSTN: directory.DefaultPSTNSettings()}); err != nil {
				t.Fatal(err)
			}
			// The INSERT of CreateUser before migration 0005.
			if _, err := v4.db.ExecContext(ctx, `INSERT INTO users (uri, pool, enabled, enterprise_voice,
					realm, ha1_md5, ha1_sha256, pin_failed_attempts, pin_locked_out, created_at, updated_at)
				VALUES ($1, 'pool.parley.test', TRUE, FALSE, 'parley.test', $2, $3, 0, FALSE, 1, 1)`,
				uri, old.HA1MD5, old.HA1SHA256); err != nil {
				t.Fatal(err)
			}
			if _, err := v4.db.ExecContext(ctx, `SELECT ha1b_md5 FROM users`); err == nil {
				t.Fatal("the version-4 database already has ha1b_md5; the test does not test the upgrade")
			}
			if err := v4.Close(); err != nil {
				t.Fatal(err)
			}

			s := openT(t, dsn)
			u, err := s.User(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if u.Credential != old {
				t.Errorf("credential after the upgrade = %+v, want the old one %+v", u.Credential, old)
			}
			var md5Null, shaNull bool
			if err := s.db.QueryRowContext(ctx, `SELECT ha1b_md5 IS NULL, ha1b_sha256 IS NULL FROM users
				WHERE uri = $1`, uri).Scan(&md5Null, &shaNull); err != nil {
				t.Fatal(err)
			}
			if !md5Null || !shaNull {
				t.Errorf("old row: ha1b_md5 IS NULL = %v, ha1b_sha256 IS NULL = %v; want both NULL", md5Null, shaNull)
			}

			// A new password brings the address values.
			now := directory.NewCredential("alice@parley.test", "parley.test", "new password")
			if _, err := s.UpdateUser(ctx, uri, func(u *directory.User) error {
				u.Credential = now
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var md5b, shab string
			if err := s.db.QueryRowContext(ctx, `SELECT ha1b_md5, ha1b_sha256 FROM users WHERE uri = $1`, uri).
				Scan(&md5b, &shab); err != nil {
				t.Fatal(err)
			}
			if md5b != now.HA1bMD5 || shab != now.HA1bSHA256 {
				t.Errorf("after a new password the row has %q, %q; want %q, %q", md5b, shab, now.HA1bMD5, now.HA1bSHA256)
			}
		})
	}
}
