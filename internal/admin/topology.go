package admin

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

// Organization returns the organization. Its ConferenceKey is always nil:
// the key never leaves the server.
func (s *Service) Organization(ctx context.Context) (directory.Organization, error) {
	o, err := s.organization(ctx)
	if err != nil {
		return directory.Organization{}, err
	}
	o.ConferenceKey = nil
	return o, nil
}

// OrganizationPatch changes some fields of the organization; nil fields
// stay as they are.
type OrganizationPatch struct {
	Name *string `json:"name,omitempty"`
	// Domains replaces the list of SIP domains; the first is primary.
	Domains        []string `json:"domains,omitempty"`
	WebInternalURL *string  `json:"web_internal_url,omitempty"`
	WebExternalURL *string  `json:"web_external_url,omitempty"`
}

// SetOrganization applies p. The primary domain is the digest realm of
// every user's stored credential and the domain of every access number's
// URI, so it cannot change while users or access numbers exist; a secondary
// domain cannot be removed while a user's URI is in it.
func (s *Service) SetOrganization(ctx context.Context, p OrganizationPatch) (directory.Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.organization(ctx)
	if err != nil {
		return directory.Organization{}, err
	}
	if p.Name == nil && p.Domains == nil && p.WebInternalURL == nil && p.WebExternalURL == nil {
		return directory.Organization{}, invalid("", "nothing to change")
	}
	next := o
	if p.Name != nil {
		next.Name = strings.TrimSpace(*p.Name)
	}
	if p.WebInternalURL != nil {
		next.WebInternalURL = *p.WebInternalURL
	}
	if p.WebExternalURL != nil {
		next.WebExternalURL = *p.WebExternalURL
	}
	if p.Domains != nil {
		next.Domains = nil
		for _, d := range p.Domains {
			d = strings.ToLower(strings.TrimSpace(d))
			if !slices.Contains(next.Domains, d) {
				next.Domains = append(next.Domains, d)
			}
		}
	}
	if err := next.Validate(); err != nil {
		return directory.Organization{}, err
	}
	if p.Domains != nil {
		if err := s.checkDomainChange(ctx, o, next); err != nil {
			return directory.Organization{}, err
		}
	}
	if err := s.store.PutOrganization(ctx, next); err != nil {
		return directory.Organization{}, storeErr(err, "update", "organization")
	}
	s.log.InfoContext(ctx, "organization updated", "name", next.Name, "domains", strings.Join(next.Domains, ","))
	next.ConferenceKey = nil
	return next, nil
}

func (s *Service) checkDomainChange(ctx context.Context, old, next directory.Organization) error {
	users, err := s.store.Users(ctx)
	if err != nil {
		return storeErr(err, "list", "users")
	}
	if next.PrimaryDomain() != old.PrimaryDomain() {
		nums, err := s.store.AccessNumbers(ctx)
		if err != nil {
			return storeErr(err, "list", "access numbers")
		}
		if len(users) > 0 || len(nums) > 0 {
			return invalid("domains",
				"the primary domain %q is the realm of %d users' passwords and the domain of %d access numbers; it cannot change while they exist",
				old.PrimaryDomain(), len(users), len(nums))
		}
	}
	for _, u := range users {
		if _, host, ok := directory.SplitSIPURI(u.URI); ok && !next.HasDomain(host) {
			return invalid("domains", "domain %q is still used by %s", host, u.URI)
		}
	}
	return nil
}

// Pools returns every pool.
func (s *Service) Pools(ctx context.Context) ([]directory.Pool, error) {
	ps, err := s.store.Pools(ctx)
	return ps, storeErr(err, "list", "pools")
}

// Pool returns the pool fqdn.
func (s *Service) Pool(ctx context.Context, fqdn string) (directory.Pool, error) {
	fqdn = strings.ToLower(fqdn)
	p, err := s.store.Pool(ctx, fqdn)
	return p, storeErr(err, "read", "pool "+fqdn)
}

// AddPool creates a pool. A zero PSTN field takes DefaultPSTNSettings'
// value, so a caller may give only FQDN and ID.
func (s *Service) AddPool(ctx context.Context, p directory.Pool) (directory.Pool, error) {
	p.FQDN = strings.ToLower(strings.TrimSpace(p.FQDN))
	def := directory.DefaultPSTNSettings()
	if p.PSTN.MinPINLength == 0 {
		p.PSTN.MinPINLength = def.MinPINLength
	}
	if p.PSTN.MaxPINAttempts == 0 {
		p.PSTN.MaxPINAttempts = def.MaxPINAttempts
	}
	if err := p.Validate(); err != nil {
		return directory.Pool{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pools, err := s.store.Pools(ctx)
	if err != nil {
		return directory.Pool{}, storeErr(err, "list", "pools")
	}
	for _, q := range pools {
		if q.FQDN == p.FQDN {
			return directory.Pool{}, exists("pool %s already exists", p.FQDN)
		}
		if q.ID == p.ID {
			return directory.Pool{}, invalid("id", "pool ID %s is already used by pool %s", p.ID, q.FQDN)
		}
	}
	if err := s.store.PutPool(ctx, p); err != nil {
		return directory.Pool{}, storeErr(err, "add", "pool "+p.FQDN)
	}
	s.log.InfoContext(ctx, "pool added", "pool", p.FQDN, "pool_id", p.ID)
	return p, nil
}

// PoolPatch changes a pool's PSTN conferencing settings and web URLs; nil
// fields stay as they are, and an empty URL removes the override.
type PoolPatch struct {
	MinPINLength   *int    `json:"min_pin_length,omitempty"`
	MaxPINAttempts *int    `json:"max_pin_attempts,omitempty"`
	PINExpiryDays  *int    `json:"pin_expiry_days,omitempty"`
	WebInternalURL *string `json:"web_internal_url,omitempty"`
	WebExternalURL *string `json:"web_external_url,omitempty"`
}

// SetPool applies p to the pool fqdn. Raising the minimum PIN length does
// not invalidate existing PINs; it applies when a PIN is next set.
func (s *Service) SetPool(ctx context.Context, fqdn string, p PoolPatch) (directory.Pool, error) {
	fqdn = strings.ToLower(fqdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	pool, err := s.store.Pool(ctx, fqdn)
	if err != nil {
		return directory.Pool{}, storeErr(err, "read", "pool "+fqdn)
	}
	if p == (PoolPatch{}) {
		return directory.Pool{}, invalid("", "nothing to change")
	}
	setIf(&pool.PSTN.MinPINLength, p.MinPINLength)
	setIf(&pool.PSTN.MaxPINAttempts, p.MaxPINAttempts)
	setIf(&pool.PSTN.PINExpiryDays, p.PINExpiryDays)
	setIf(&pool.WebInternalURL, p.WebInternalURL)
	setIf(&pool.WebExternalURL, p.WebExternalURL)
	if err := pool.Validate(); err != nil {
		return directory.Pool{}, err
	}
	if err := s.store.PutPool(ctx, pool); err != nil {
		return directory.Pool{}, storeErr(err, "update", "pool "+fqdn)
	}
	s.log.InfoContext(ctx, "pool updated", "pool", fqdn)
	return pool, nil
}

// setIf stores *v in *dst when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeletePool deletes the pool fqdn, which must have no users, servers or
// access numbers left.
func (s *Service) DeletePool(ctx context.Context, fqdn string) error {
	fqdn = strings.ToLower(fqdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeletePool(ctx, fqdn); err != nil {
		return storeErr(err, "delete", "pool "+fqdn)
	}
	s.log.InfoContext(ctx, "pool deleted", "pool", fqdn)
	return nil
}

// Servers returns every front-end server.
func (s *Service) Servers(ctx context.Context) ([]directory.Server, error) {
	ss, err := s.store.Servers(ctx)
	return ss, storeErr(err, "list", "servers")
}

// AddServer adds a front-end server to an existing pool.
func (s *Service) AddServer(ctx context.Context, srv directory.Server) (directory.Server, error) {
	srv.FQDN = strings.ToLower(strings.TrimSpace(srv.FQDN))
	srv.Pool = strings.ToLower(strings.TrimSpace(srv.Pool))
	if err := srv.Validate(); err != nil {
		return directory.Server{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requirePool(ctx, srv.Pool); err != nil {
		return directory.Server{}, err
	}
	servers, err := s.store.Servers(ctx)
	if err != nil {
		return directory.Server{}, storeErr(err, "list", "servers")
	}
	for _, x := range servers {
		if x.FQDN == srv.FQDN {
			return directory.Server{}, exists("server %s already exists in pool %s", x.FQDN, x.Pool)
		}
	}
	if err := s.store.PutServer(ctx, srv); err != nil {
		return directory.Server{}, storeErr(err, "add", "server "+srv.FQDN)
	}
	s.log.InfoContext(ctx, "server added", "server", srv.FQDN, "pool", srv.Pool)
	return srv, nil
}

// DeleteServer removes a front-end server.
func (s *Service) DeleteServer(ctx context.Context, fqdn string) error {
	fqdn = strings.ToLower(fqdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteServer(ctx, fqdn); err != nil {
		return storeErr(err, "delete", "server "+fqdn)
	}
	s.log.InfoContext(ctx, "server deleted", "server", fqdn)
	return nil
}

// TrustedServices returns every trusted service entry.
func (s *Service) TrustedServices(ctx context.Context) ([]directory.TrustedService, error) {
	ts, err := s.store.TrustedServices(ctx)
	return ts, storeErr(err, "list", "trusted services")
}

// AddTrustedService marks an FQDN as running a trusted application.
func (s *Service) AddTrustedService(ctx context.Context, t directory.TrustedService) (directory.TrustedService, error) {
	t.FQDN = strings.ToLower(strings.TrimSpace(t.FQDN))
	if err := t.Validate(); err != nil {
		return directory.TrustedService{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.store.TrustedServices(ctx)
	if err != nil {
		return directory.TrustedService{}, storeErr(err, "list", "trusted services")
	}
	for _, x := range ts {
		if x.FQDN == t.FQDN && x.Type == t.Type {
			return directory.TrustedService{}, exists("trusted service %s on %s already exists (port %d)", t.Type, t.FQDN, x.Port)
		}
	}
	if err := s.store.PutTrustedService(ctx, t); err != nil {
		return directory.TrustedService{}, storeErr(err, "add", "trusted service "+t.Type+" on "+t.FQDN)
	}
	s.log.InfoContext(ctx, "trusted service added", "fqdn", t.FQDN, "type", t.Type, "port", t.Port)
	return t, nil
}

// DeleteTrustedService removes the trusted service typ on fqdn.
func (s *Service) DeleteTrustedService(ctx context.Context, fqdn, typ string) error {
	fqdn = strings.ToLower(fqdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteTrustedService(ctx, fqdn, typ); err != nil {
		return storeErr(err, "delete", "trusted service "+typ+" on "+fqdn)
	}
	s.log.InfoContext(ctx, "trusted service deleted", "fqdn", fqdn, "type", typ)
	return nil
}

// requirePool checks that pool exists, naming the pools that do when not.
func (s *Service) requirePool(ctx context.Context, fqdn string) error {
	_, err := s.store.Pool(ctx, fqdn)
	if err == nil {
		return nil
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return storeErr(err, "read", "pool "+fqdn)
	}
	pools, err := s.store.Pools(ctx)
	if err != nil {
		return storeErr(err, "list", "pools")
	}
	return invalid("pool", "pool %q does not exist; pools: %s", fqdn,
		quoted(nameList(pools, func(p directory.Pool) string { return p.FQDN })))
}

// resolvePool returns the pool named fqdn, or the only pool when fqdn is
// empty.
func (s *Service) resolvePool(ctx context.Context, fqdn string) (directory.Pool, error) {
	if fqdn != "" {
		fqdn = strings.ToLower(fqdn)
		if err := s.requirePool(ctx, fqdn); err != nil {
			return directory.Pool{}, err
		}
		p, err := s.store.Pool(ctx, fqdn)
		return p, storeErr(err, "read", "pool "+fqdn)
	}
	pools, err := s.store.Pools(ctx)
	if err != nil {
		return directory.Pool{}, storeErr(err, "list", "pools")
	}
	switch len(pools) {
	case 0:
		return directory.Pool{}, invalid("pool", "there is no pool yet; add one first")
	case 1:
		return pools[0], nil
	}
	return directory.Pool{}, invalid("pool", "there are several pools; choose one of %s",
		quoted(nameList(pools, func(p directory.Pool) string { return p.FQDN })))
}
