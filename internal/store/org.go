package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

// minConferenceKey is the shortest conference key PutOrganization accepts
// in place of the generated one (128 bits).
const minConferenceKey = 16

// Organization returns the organization. Its row exists from the first Open
// on, holding the generated conference key, but the organization counts as
// absent (ErrNotFound) until PutOrganization has given it a name.
func (s *DB) Organization(ctx context.Context) (directory.Organization, error) {
	var o directory.Organization
	var domains string
	err := s.db.QueryRowContext(ctx, `SELECT name, domains, conference_key,
		COALESCE(web_internal_url, ''), COALESCE(web_external_url, '')
		FROM organization WHERE id = 1`).Scan(&o.Name, &domains, &o.ConferenceKey, &o.WebInternalURL, &o.WebExternalURL)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && o.Name == "") {
		return directory.Organization{}, fmt.Errorf("%w: the organization has not been configured", directory.ErrNotFound)
	}
	if err != nil {
		return directory.Organization{}, fmt.Errorf("store: organization: %w", err)
	}
	o.Domains = splitList(domains)
	return o, nil
}

// PutOrganization replaces the organization. An empty ConferenceKey keeps
// the stored key, so that callers may build an Organization from scratch
// without rotating the key, which would change every conference ID.
func (s *DB) PutOrganization(ctx context.Context, o directory.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if n := len(o.ConferenceKey); n != 0 && n < minConferenceKey {
		return invalid("conference_key", "must be at least %d bytes, not %d", minConferenceKey, n)
	}
	var key any
	if len(o.ConferenceKey) > 0 {
		key = o.ConferenceKey
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organization
			(id, name, domains, conference_key, web_internal_url, web_external_url, updated_at)
			VALUES (1, $1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, domains = excluded.domains,
				conference_key = COALESCE(excluded.conference_key, organization.conference_key),
				web_internal_url = excluded.web_internal_url, web_external_url = excluded.web_external_url,
				updated_at = excluded.updated_at`,
			o.Name, strings.Join(o.Domains, ","), key, nullable(o.WebInternalURL), nullable(o.WebExternalURL),
			s.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put organization: %w", err)
	}
	return nil
}

// splitList splits a comma-separated column; "" is the empty list.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
