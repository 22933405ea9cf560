package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is the database behind a DB. The schema and the queries are
// shared; the methods below hold the only differences.
type dialect string

const (
	dialectSQLite   dialect = "sqlite"
	dialectPostgres dialect = "postgres"
)

// forUpdate is the clause that locks a row read before it is rewritten.
// SQLite needs none: a write transaction holds the database's only write
// lock from BEGIN IMMEDIATE on.
func (d dialect) forUpdate() string {
	if d == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// forShare is the clause that keeps a referenced row (a user's pool, say)
// from being deleted until the referring write commits.
func (d dialect) forShare() string {
	if d == dialectPostgres {
		return " FOR SHARE"
	}
	return ""
}

// collate makes ORDER BY compare bytes on both databases. SQLite's default
// collation is already binary; PostgreSQL's follows the database's locale,
// which would order lists differently from one server to the next.
func (d dialect) collate() string {
	if d == dialectPostgres {
		return ` COLLATE "C"`
	}
	return ""
}

// violation is a constraint violation reported by the database.
type violation struct {
	// unique is true for a UNIQUE or PRIMARY KEY violation and false for
	// a FOREIGN KEY one.
	unique bool
	// table and column name the violated unique key when the database
	// says which it is (always for unique violations); the first column
	// for a composite key.
	table, column string
}

// classify reports whether err is a constraint violation and which.
func (d dialect) classify(err error) (violation, bool) {
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			// The message is "UNIQUE constraint failed: users.extension"
			// (SQLite's sqlite3UniqueConstraint), with ", t.c" added
			// per column of a composite key.
			v := violation{unique: true}
			const marker = "constraint failed: "
			if msg := le.Error(); strings.Contains(msg, marker) {
				cols := msg[strings.LastIndex(msg, marker)+len(marker):]
				first, _, _ := strings.Cut(cols, ",")
				first, _, _ = strings.Cut(first, " (") // the driver appends the code
				v.table, v.column, _ = strings.Cut(strings.TrimSpace(first), ".")
			}
			return v, true
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return violation{}, true
		}
		return violation{}, false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return violation{unique: true, table: pe.TableName, column: pgColumn(pe)}, true
		case "23503": // foreign_key_violation
			return violation{table: pe.TableName}, true
		}
	}
	return violation{}, false
}

// primaryKeys names the first primary-key column of each table, which is
// what SQLite reports for a primary-key violation.
var primaryKeys = map[string]string{
	"organization":           "id",
	"pools":                  "fqdn",
	"servers":                "fqdn",
	"trusted_services":       "fqdn",
	"location_profiles":      "name",
	"location_profile_rules": "profile",
	"regions":                "name",
	"meeting_policies":       "name",
	"access_numbers":         "line_uri",
	"users":                  "uri",
	"meetings":               "organizer",
	"meeting_ids_used":       "id",
	"schema_migrations":      "version",
}

// pgColumn recovers the column of a unique violation from the constraint
// name. The schema leaves constraints unnamed, so PostgreSQL names them
// <table>_<column>_key, and <table>_pkey for a primary key.
func pgColumn(pe *pgconn.PgError) string {
	name := strings.TrimPrefix(pe.ConstraintName, pe.TableName+"_")
	if name == "pkey" {
		return primaryKeys[pe.TableName]
	}
	return strings.TrimSuffix(name, "_key")
}

// isUnique reports whether err violates the unique key of table whose
// (first) column is column.
func (d dialect) isUnique(err error, table, column string) bool {
	v, ok := d.classify(err)
	return ok && v.unique && v.table == table && v.column == column
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, in any of its
// extended forms.
func isBusy(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && le.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isForeignKey reports whether err violates a foreign key.
func (d dialect) isForeignKey(err error) bool {
	v, ok := d.classify(err)
	return ok && !v.unique
}
