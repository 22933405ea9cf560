package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

const numberColumns = `line_uri, COALESCE(display_name, ''), uri, pool, region, primary_language,
	COALESCE(secondary_languages, '')`

func scanNumber(r scanner) (directory.AccessNumber, error) {
	var a directory.AccessNumber
	var secondary string
	err := r.Scan(&a.LineURI, &a.DisplayName, &a.URI, &a.Pool, &a.Region, &a.PrimaryLanguage, &secondary)
	a.SecondaryLanguages = splitList(secondary)
	return a, err
}

// AccessNumber returns the access number whose line URI is lineURI.
func (s *DB) AccessNumber(ctx context.Context, lineURI string) (directory.AccessNumber, error) {
	return one(ctx, s, "access number", lineURI,
		`SELECT `+numberColumns+` FROM access_numbers WHERE line_uri = $1`, scanNumber)
}

// AccessNumbers returns every access number, ordered by line URI.
func (s *DB) AccessNumbers(ctx context.Context) ([]directory.AccessNumber, error) {
	return list(ctx, s, "access numbers",
		`SELECT `+numberColumns+` FROM access_numbers ORDER BY line_uri`+s.dialect.collate(), scanNumber)
}

// PutAccessNumber creates or replaces an access number. Its pool and region
// must exist, and its SIP URI must not be another number's.
func (s *DB) PutAccessNumber(ctx context.Context, a directory.AccessNumber) error {
	// Validate also guarantees that no language tag holds the comma that
	// separates them in the secondary_languages column.
	if err := a.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.checkRef(ctx, tx, "pool", "pool", "pools", "fqdn", a.Pool); err != nil {
			return err
		}
		if err := s.checkRef(ctx, tx, "region", "region", "regions", "name", a.Region); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO access_numbers
				(line_uri, display_name, uri, pool, region, primary_language, secondary_languages)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (line_uri) DO UPDATE SET display_name = excluded.display_name, uri = excluded.uri,
				pool = excluded.pool, region = excluded.region, primary_language = excluded.primary_language,
				secondary_languages = excluded.secondary_languages`,
			a.LineURI, nullable(a.DisplayName), a.URI, a.Pool, a.Region, a.PrimaryLanguage,
			nullable(strings.Join(a.SecondaryLanguages, ",")))
		return err
	})
	if s.dialect.isUnique(err, "access_numbers", "uri") {
		return taken("uri", a.URI, "the URI of access number",
			s.holder(ctx, `SELECT line_uri FROM access_numbers WHERE uri = $1`, a.URI))
	}
	if err != nil {
		return wrapWrite(err, "put access number %s", a.LineURI)
	}
	return nil
}

// DeleteAccessNumber deletes an access number.
func (s *DB) DeleteAccessNumber(ctx context.Context, lineURI string) error {
	return s.deleteRow(ctx, "access number", "access_numbers", "line_uri", lineURI, nil)
}
