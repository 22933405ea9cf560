package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// Default ports of the trusted applications that Bootstrap registers: the
// Conferencing Attendant and the Conferencing Announcement Service.
const (
	DefaultAttendantPort    = 5072
	DefaultAnnouncementPort = 5073
	// DefaultPoolID is the pool ID used when BootstrapConfig gives none.
	DefaultPoolID = "10"
)

// BootstrapConfig describes the Standard Edition deployment that Bootstrap
// sets up on first start.
type BootstrapConfig struct {
	// OrgName names the organization; default: the domain.
	OrgName string
	// Domain is the primary SIP domain (and digest realm).
	Domain string
	// PoolFQDN and PoolID name the pool (PoolID default DefaultPoolID).
	PoolFQDN string
	PoolID   string
	// ServerFQDN is this front-end server; a Standard Edition server is a
	// pool of one, so it defaults to PoolFQDN.
	ServerFQDN string
	// AttendantPort and AnnouncementPort are the trusted services' ports;
	// zero means the defaults 5072 and 5073.
	AttendantPort    int
	AnnouncementPort int
}

// defaultProfile passes E.164 numbers through unchanged: a fresh
// organization has no local dialling habits to translate yet.
func defaultProfile() directory.LocationProfile {
	return directory.LocationProfile{
		Name:        DefaultProfileName,
		Description: "Passes E.164 numbers through",
		Rules:       []dialplan.Rule{{Pattern: `\+(\d{1,15})`, Translation: "+$1", Description: "E.164"}},
	}
}

// defaultPolicy lets users' meetings take PSTN callers, with anonymous
// callers needing the passcode (seed 000, "Global Meeting Policy").
func defaultPolicy() directory.MeetingPolicy {
	return directory.MeetingPolicy{
		Name: DefaultPolicyName, PSTNDialIn: true, PasscodeRequired: true,
		MaxMeetingSize: DefaultMaxMeetingSize, AnonymousAllowed: true,
	}
}

// Bootstrap performs the first-run set-up: the organization, the pool, this
// server, the pool's and the server's trusted services for the Conferencing
// Attendant and Announcement Service (seed 000, "Trusted Services"), the
// "Default" meeting policy and the "Default" location profile. Every object
// that already exists is left as it is, so Bootstrap runs on every start.
// The whole configuration is validated before anything is written.
func (s *Service) Bootstrap(ctx context.Context, cfg BootstrapConfig) error {
	cfg.Domain = strings.ToLower(strings.TrimSpace(cfg.Domain))
	cfg.PoolFQDN = strings.ToLower(strings.TrimSpace(cfg.PoolFQDN))
	cfg.ServerFQDN = strings.ToLower(strings.TrimSpace(cfg.ServerFQDN))
	if cfg.OrgName == "" {
		cfg.OrgName = cfg.Domain
	}
	if cfg.PoolID == "" {
		cfg.PoolID = DefaultPoolID
	}
	if cfg.ServerFQDN == "" {
		cfg.ServerFQDN = cfg.PoolFQDN
	}
	if cfg.AttendantPort == 0 {
		cfg.AttendantPort = DefaultAttendantPort
	}
	if cfg.AnnouncementPort == 0 {
		cfg.AnnouncementPort = DefaultAnnouncementPort
	}

	org := directory.Organization{Name: cfg.OrgName, Domains: []string{cfg.Domain}}
	pool := directory.Pool{FQDN: cfg.PoolFQDN, ID: cfg.PoolID, PSTN: directory.DefaultPSTNSettings()}
	server := directory.Server{FQDN: cfg.ServerFQDN, Pool: cfg.PoolFQDN}
	var services []directory.TrustedService
	for _, fqdn := range []string{cfg.PoolFQDN, cfg.ServerFQDN} {
		services = append(services,
			directory.TrustedService{FQDN: fqdn, Type: directory.ServiceAttendant, Port: cfg.AttendantPort},
			directory.TrustedService{FQDN: fqdn, Type: directory.ServiceAnnouncement, Port: cfg.AnnouncementPort})
		if cfg.ServerFQDN == cfg.PoolFQDN {
			break
		}
	}
	policy, profile := defaultPolicy(), defaultProfile()
	for _, v := range []interface{ Validate() error }{org, pool, server, policy, profile} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	for _, t := range services {
		if err := t.Validate(); err != nil {
			return err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.bootstrapOrg(ctx, org); err != nil {
		return err
	}
	if _, err := s.store.Pool(ctx, pool.FQDN); errors.Is(err, directory.ErrNotFound) {
		if err := s.store.PutPool(ctx, pool); err != nil {
			return storeErr(err, "add", "pool "+pool.FQDN)
		}
		s.log.InfoContext(ctx, "pool created", "pool", pool.FQDN, "pool_id", pool.ID)
	} else if err != nil {
		return storeErr(err, "read", "pool "+pool.FQDN)
	}
	if err := s.bootstrapServer(ctx, server); err != nil {
		return err
	}
	if err := s.bootstrapServices(ctx, services); err != nil {
		return err
	}
	if _, err := s.store.MeetingPolicy(ctx, policy.Name); errors.Is(err, directory.ErrNotFound) {
		if err := s.store.PutMeetingPolicy(ctx, policy); err != nil {
			return storeErr(err, "add", "meeting policy "+quote(policy.Name))
		}
		s.log.InfoContext(ctx, "meeting policy created", "policy", policy.Name)
	} else if err != nil {
		return storeErr(err, "read", "meeting policy "+quote(policy.Name))
	}
	if _, err := s.store.LocationProfile(ctx, profile.Name); errors.Is(err, directory.ErrNotFound) {
		if err := s.store.PutLocationProfile(ctx, profile); err != nil {
			return storeErr(err, "add", "location profile "+quote(profile.Name))
		}
		s.log.InfoContext(ctx, "location profile created", "profile", profile.Name)
	} else if err != nil {
		return storeErr(err, "read", "location profile "+quote(profile.Name))
	}
	return nil
}

// bootstrapOrg names the organization and gives it its domain when it has
// none. The store may already hold the conference key, made when the
// database was created; it is kept, or made here when missing.
func (s *Service) bootstrapOrg(ctx context.Context, org directory.Organization) error {
	cur, err := s.store.Organization(ctx)
	switch {
	case err != nil && !errors.Is(err, directory.ErrNotFound):
		return storeErr(err, "read", "organization")
	case err == nil && len(cur.Domains) > 0:
		if !cur.HasDomain(org.Domains[0]) {
			s.log.WarnContext(ctx, "configured domain is not one of the organization's; keeping the organization",
				"domain", org.Domains[0], "primary_domain", cur.PrimaryDomain())
		}
		return nil
	}
	org.ConferenceKey = cur.ConferenceKey
	org.WebInternalURL, org.WebExternalURL = cur.WebInternalURL, cur.WebExternalURL
	if len(org.ConferenceKey) == 0 {
		org.ConferenceKey = make([]byte, 32)
		_, _ = rand.Read(org.ConferenceKey) // never fails (Go ≥ 1.24)
	}
	if err := s.store.PutOrganization(ctx, org); err != nil {
		return storeErr(err, "create", "organization")
	}
	s.log.InfoContext(ctx, "organization created", "name", org.Name, "domain", org.Domains[0])
	return nil
}

func (s *Service) bootstrapServer(ctx context.Context, server directory.Server) error {
	servers, err := s.store.Servers(ctx)
	if err != nil {
		return storeErr(err, "list", "servers")
	}
	for _, x := range servers {
		if x.FQDN == server.FQDN {
			if x.Pool != server.Pool {
				s.log.WarnContext(ctx, "server belongs to another pool; keeping it",
					"server", x.FQDN, "pool", x.Pool, "configured_pool", server.Pool)
			}
			return nil
		}
	}
	if err := s.store.PutServer(ctx, server); err != nil {
		return storeErr(err, "add", "server "+server.FQDN)
	}
	s.log.InfoContext(ctx, "server registered", "server", server.FQDN, "pool", server.Pool)
	return nil
}

func (s *Service) bootstrapServices(ctx context.Context, want []directory.TrustedService) error {
	have, err := s.store.TrustedServices(ctx)
	if err != nil {
		return storeErr(err, "list", "trusted services")
	}
	type key struct{ fqdn, typ string }
	seen := make(map[key]bool, len(have))
	for _, t := range have {
		seen[key{t.FQDN, t.Type}] = true
	}
	for _, t := range want {
		if seen[key{t.FQDN, t.Type}] {
			continue
		}
		if err := s.store.PutTrustedService(ctx, t); err != nil {
			return storeErr(err, "add", "trusted service "+t.Type+" on "+t.FQDN)
		}
		s.log.InfoContext(ctx, "trusted service registered", "fqdn", t.FQDN, "type", t.Type, "port", t.Port)
	}
	return nil
}
