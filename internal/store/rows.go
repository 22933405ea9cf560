package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// list runs query and scans every row with scan.
func list[T any](ctx context.Context, s *DB, what, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	return scanAll(what, rows, err, scan)
}

// scanAll scans the rows of a query that returned rows, err.
func scanAll[T any](what string, rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", what, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports what matters
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", what, err)
	}
	return out, nil
}

// one scans the single row of query, mapping no row to ErrNotFound.
func one[T any](ctx context.Context, s *DB, what, key, query string, scan func(scanner) (T, error)) (T, error) {
	return oneRow(what, key, s.db.QueryRowContext(ctx, query, key), scan)
}

// oneRow scans row, the result of looking key up, mapping no row to
// ErrNotFound.
func oneRow[T any](what, key string, row *sql.Row, scan func(scanner) (T, error)) (T, error) {
	v, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%w: %s %s", directory.ErrNotFound, what, key)
	}
	if err != nil {
		return v, fmt.Errorf("store: %s %s: %w", what, key, err)
	}
	return v, nil
}

// checkRef fails with a *directory.ValidationError for field when table has
// no row whose column is key. On PostgreSQL the row stays share-locked
// until the transaction ends, so that it cannot be deleted before the
// referring row is written.
func (s *DB) checkRef(ctx context.Context, tx *sql.Tx, field, what, table, column, key string) error {
	var found int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE "+column+" = $1"+s.dialect.forShare(), key).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return invalid(field, "%s %q does not exist", what, key)
	}
	if err != nil {
		return fmt.Errorf("store: look up %s %q: %w", what, key, err)
	}
	return nil
}

// holder returns the key of the row that already holds a unique value, to
// name it in an error; "" when it cannot be found (it may have gone since).
func (s *DB) holder(ctx context.Context, query, value string) string {
	var key string
	if err := s.db.QueryRowContext(ctx, query, value).Scan(&key); err != nil {
		return ""
	}
	return key
}

// taken builds the *directory.ValidationError for a unique value that
// another object holds.
func taken(field, value, verb, holder string) error {
	if holder == "" {
		return invalid(field, "%s is already %s", value, verb)
	}
	return invalid(field, "%s is already %s %s", value, verb, holder)
}

// referrer is a column that refers to another table's key, with the noun
// for its rows (singular and plural).
type referrer struct {
	table, column string
	one, many     string
}

// deleteRow deletes the row of table whose column is key. It fails with
// ErrNotFound when there is none, and with ErrInUse, naming what still
// refers to it, when a foreign key of refs forbids the delete.
func (s *DB) deleteRow(ctx context.Context, what, table, column, key string, refs []referrer) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE "+column+" = $1", key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: %s %s", directory.ErrNotFound, what, key)
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case s.dialect.isForeignKey(err):
		return s.inUse(ctx, what, key, refs)
	case errors.Is(err, directory.ErrNotFound):
		return err
	}
	return fmt.Errorf("store: delete %s %s: %w", what, key, err)
}

// inUse describes an ErrInUse: "pool a.example.com is still used by 2
// users, 1 server".
func (s *DB) inUse(ctx context.Context, what, key string, refs []referrer) error {
	var uses []string
	for _, r := range refs {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+r.table+" WHERE "+r.column+" = $1", key).Scan(&n); err != nil {
			continue // the error is ErrInUse either way; the count is a courtesy
		}
		switch {
		case n == 1:
			uses = append(uses, "1 "+r.one)
		case n > 1:
			uses = append(uses, fmt.Sprintf("%d %s", n, r.many))
		}
	}
	if len(uses) == 0 {
		return fmt.Errorf("%w: %s %s is still referred to", directory.ErrInUse, what, key)
	}
	return fmt.Errorf("%w: %s %s is still used by %s", directory.ErrInUse, what, key, strings.Join(uses, ", "))
}
