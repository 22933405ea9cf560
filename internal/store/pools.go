package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/directory"
)

// poolReferrers are the rows that keep a pool from being deleted.
var poolReferrers = []referrer{
	{"users", "pool", "user", "users"},
	{"servers", "pool", "server", "servers"},
	{"access_numbers", "pool", "access number", "access numbers"},
}

const poolColumns = `fqdn, pool_id, min_pin_length, max_pin_attempts, pin_expiry_days,
	COALESCE(web_internal_url, ''), COALESCE(web_external_url, '')`

func scanPool(r scanner) (directory.Pool, error) {
	var p directory.Pool
	err := r.Scan(&p.FQDN, &p.ID, &p.PSTN.MinPINLength, &p.PSTN.MaxPINAttempts, &p.PSTN.PINExpiryDays,
		&p.WebInternalURL, &p.WebExternalURL)
	return p, err
}

// Pool returns the pool whose FQDN is fqdn.
func (s *DB) Pool(ctx context.Context, fqdn string) (directory.Pool, error) {
	return one(ctx, s, "pool", fqdn, `SELECT `+poolColumns+` FROM pools WHERE fqdn = $1`, scanPool)
}

// Pools returns every pool, ordered by FQDN.
func (s *DB) Pools(ctx context.Context) ([]directory.Pool, error) {
	return list(ctx, s, "pools", `SELECT `+poolColumns+` FROM pools ORDER BY fqdn`+s.dialect.collate(), scanPool)
}

// PutPool creates or replaces a pool. Another pool's ID is refused.
func (s *DB) PutPool(ctx context.Context, p directory.Pool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pools (fqdn, pool_id, min_pin_length, max_pin_attempts,
				pin_expiry_days, web_internal_url, web_external_url)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (fqdn) DO UPDATE SET pool_id = excluded.pool_id,
				min_pin_length = excluded.min_pin_length, max_pin_attempts = excluded.max_pin_attempts,
				pin_expiry_days = excluded.pin_expiry_days, web_internal_url = excluded.web_internal_url,
				web_external_url = excluded.web_external_url`,
			p.FQDN, p.ID, p.PSTN.MinPINLength, p.PSTN.MaxPINAttempts, p.PSTN.PINExpiryDays,
			nullable(p.WebInternalURL), nullable(p.WebExternalURL))
		return err
	})
	if s.dialect.isUnique(err, "pools", "pool_id") {
		return taken("id", "pool ID "+p.ID, "used by pool",
			s.holder(ctx, `SELECT fqdn FROM pools WHERE pool_id = $1`, p.ID))
	}
	if err != nil {
		return fmt.Errorf("store: put pool %s: %w", p.FQDN, err)
	}
	return nil
}

// DeletePool deletes a pool that no user, server or access number uses.
func (s *DB) DeletePool(ctx context.Context, fqdn string) error {
	return s.deleteRow(ctx, "pool", "pools", "fqdn", fqdn, poolReferrers)
}

func scanServer(r scanner) (directory.Server, error) {
	var v directory.Server
	err := r.Scan(&v.FQDN, &v.Pool)
	return v, err
}

// Servers returns every front-end server, ordered by FQDN.
func (s *DB) Servers(ctx context.Context) ([]directory.Server, error) {
	return list(ctx, s, "servers", `SELECT fqdn, pool FROM servers ORDER BY fqdn`+s.dialect.collate(), scanServer)
}

// PutServer creates or replaces a server; its pool must exist.
func (s *DB) PutServer(ctx context.Context, v directory.Server) error {
	if err := v.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.checkRef(ctx, tx, "pool", "pool", "pools", "fqdn", v.Pool); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO servers (fqdn, pool) VALUES ($1, $2)
			ON CONFLICT (fqdn) DO UPDATE SET pool = excluded.pool`, v.FQDN, v.Pool)
		return err
	})
	if err != nil {
		return wrapWrite(err, "put server %s", v.FQDN)
	}
	return nil
}

// DeleteServer deletes a server.
func (s *DB) DeleteServer(ctx context.Context, fqdn string) error {
	return s.deleteRow(ctx, "server", "servers", "fqdn", fqdn, nil)
}

func scanTrustedService(r scanner) (directory.TrustedService, error) {
	var v directory.TrustedService
	err := r.Scan(&v.FQDN, &v.Type, &v.Port)
	return v, err
}

// TrustedServices returns every trusted service, ordered by FQDN and type.
func (s *DB) TrustedServices(ctx context.Context) ([]directory.TrustedService, error) {
	c := s.dialect.collate()
	return list(ctx, s, "trusted services",
		`SELECT fqdn, type, port FROM trusted_services ORDER BY fqdn`+c+`, type`+c, scanTrustedService)
}

// PutTrustedService creates or replaces the trusted service keyed by its
// FQDN and type.
func (s *DB) PutTrustedService(ctx context.Context, v directory.TrustedService) error {
	if err := v.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO trusted_services (fqdn, type, port) VALUES ($1, $2, $3)
			ON CONFLICT (fqdn, type) DO UPDATE SET port = excluded.port`, v.FQDN, v.Type, v.Port)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put trusted service %s %s: %w", v.FQDN, v.Type, err)
	}
	return nil
}

// DeleteTrustedService deletes the trusted service of type typ on fqdn.
func (s *DB) DeleteTrustedService(ctx context.Context, fqdn, typ string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM trusted_services WHERE fqdn = $1 AND type = $2`, fqdn, typ)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: trusted service %s on %s", directory.ErrNotFound, typ, fqdn)
		}
		return nil
	})
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("store: delete trusted service %s on %s: %w", typ, fqdn, err)
	}
	return err
}

// wrapWrite passes validation and directory errors through unchanged and
// wraps anything else.
func wrapWrite(err error, format string, args ...any) error {
	var ve *directory.ValidationError
	if errors.As(err, &ve) || errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrExists) ||
		errors.Is(err, directory.ErrInUse) {
		return err
	}
	return fmt.Errorf("store: "+format+": %w", append(args, err)...)
}
