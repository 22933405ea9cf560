package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// DefaultProfileName names the location profile Bootstrap creates, and the
// profile of a region that AddAccessNumber creates on the fly.
const DefaultProfileName = "Default"

// LocationProfiles returns every location profile.
func (s *Service) LocationProfiles(ctx context.Context) ([]directory.LocationProfile, error) {
	ls, err := s.store.LocationProfiles(ctx)
	return ls, storeErr(err, "list", "location profiles")
}

// LocationProfile returns the location profile name.
func (s *Service) LocationProfile(ctx context.Context, name string) (directory.LocationProfile, error) {
	l, err := s.store.LocationProfile(ctx, name)
	return l, storeErr(err, "read", "location profile "+quote(name))
}

// AddLocationProfile creates a location profile. A rule that does not
// compile is rejected with its position, its text and the compiler's
// message.
func (s *Service) AddLocationProfile(ctx context.Context, l directory.LocationProfile) (directory.LocationProfile, error) {
	l.Name = strings.TrimSpace(l.Name)
	if l.Rules == nil {
		l.Rules = []dialplan.Rule{}
	}
	if err := l.Validate(); err != nil {
		return directory.LocationProfile{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.store.LocationProfile(ctx, l.Name)
	if err := absent(err, "location profile "+quote(l.Name)); err != nil {
		return directory.LocationProfile{}, err
	}
	if err := s.store.PutLocationProfile(ctx, l); err != nil {
		return directory.LocationProfile{}, storeErr(err, "add", "location profile "+quote(l.Name))
	}
	s.log.InfoContext(ctx, "location profile added", "profile", l.Name, "rules", len(l.Rules))
	return l, nil
}

// LocationProfilePatch changes a location profile; nil fields stay as they
// are. Rules, when given, replaces the whole list.
type LocationProfilePatch struct {
	Description *string          `json:"description,omitempty"`
	Rules       *[]dialplan.Rule `json:"rules,omitempty"`
}

// SetLocationProfile applies p to the profile name.
func (s *Service) SetLocationProfile(ctx context.Context, name string, p LocationProfilePatch) (directory.LocationProfile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.store.LocationProfile(ctx, name)
	if err != nil {
		return directory.LocationProfile{}, storeErr(err, "read", "location profile "+quote(name))
	}
	if p.Description == nil && p.Rules == nil {
		return directory.LocationProfile{}, invalid("", "nothing to change")
	}
	setIf(&l.Description, p.Description)
	if p.Rules != nil {
		l.Rules = *p.Rules
		if l.Rules == nil {
			l.Rules = []dialplan.Rule{}
		}
	}
	if err := l.Validate(); err != nil {
		return directory.LocationProfile{}, err
	}
	if err := s.store.PutLocationProfile(ctx, l); err != nil {
		return directory.LocationProfile{}, storeErr(err, "update", "location profile "+quote(name))
	}
	s.log.InfoContext(ctx, "location profile updated", "profile", name, "rules", len(l.Rules))
	return l, nil
}

// DeleteLocationProfile deletes the profile name, which no region or user
// may refer to.
func (s *Service) DeleteLocationProfile(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteLocationProfile(ctx, name); err != nil {
		return storeErr(err, "delete", "location profile "+quote(name))
	}
	s.log.InfoContext(ctx, "location profile deleted", "profile", name)
	return nil
}

// Normalized is the result of running a number through a location profile.
type Normalized struct {
	// Dialled is the number as given.
	Dialled string `json:"dialled"`
	// Number is the normalized number, or the dialled one with visual
	// separators removed when no rule matched.
	Number string `json:"number"`
	// Matched reports whether a rule matched; Rule and RuleIndex (1-based,
	// as administrators count) name it.
	Matched   bool           `json:"matched"`
	Rule      *dialplan.Rule `json:"rule,omitempty"`
	RuleIndex int            `json:"rule_index,omitempty"`
}

// NormalizeNumber shows what the profile name makes of the dialled number,
// without changing anything: the administrator's way of testing rules.
func (s *Service) NormalizeNumber(ctx context.Context, name, dialled string) (Normalized, error) {
	if strings.TrimSpace(dialled) == "" {
		return Normalized{}, invalid("number", "must not be empty")
	}
	if len(dialled) > 64 {
		return Normalized{}, invalid("number", "longer than 64 characters")
	}
	l, err := s.store.LocationProfile(ctx, name)
	if err != nil {
		return Normalized{}, storeErr(err, "read", "location profile "+quote(name))
	}
	p, err := dialplan.Compile(l.Rules)
	if err != nil {
		// Stored rules were validated when written; a failure here means
		// the data changed underneath us.
		return Normalized{}, fmt.Errorf("admin: location profile %q: %w", name, err)
	}
	num, rule, err := p.Normalize(dialled)
	out := Normalized{Dialled: dialled, Number: num}
	switch {
	case errors.Is(err, dialplan.ErrNoMatch):
		return out, nil
	case err != nil:
		return Normalized{}, fmt.Errorf("admin: normalize: %w", err)
	}
	out.Matched, out.Rule = true, &rule
	for i, r := range l.Rules {
		if r == rule {
			out.RuleIndex = i + 1
			break
		}
	}
	return out, nil
}

// requireProfile checks that the location profile exists, naming those that
// do when not.
func (s *Service) requireProfile(ctx context.Context, name string) error {
	_, err := s.store.LocationProfile(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return storeErr(err, "read", "location profile "+quote(name))
	}
	all, err := s.store.LocationProfiles(ctx)
	if err != nil {
		return storeErr(err, "list", "location profiles")
	}
	return invalid("location_profile", "location profile %q does not exist; location profiles: %s", name,
		quoted(nameList(all, func(l directory.LocationProfile) string { return l.Name })))
}

// Regions returns every region.
func (s *Service) Regions(ctx context.Context) ([]directory.Region, error) {
	rs, err := s.store.Regions(ctx)
	return rs, storeErr(err, "list", "regions")
}

// Region returns the region name.
func (s *Service) Region(ctx context.Context, name string) (directory.Region, error) {
	r, err := s.store.Region(ctx, name)
	return r, storeErr(err, "read", "region "+quote(name))
}

// AddRegion creates a region over an existing location profile.
func (s *Service) AddRegion(ctx context.Context, r directory.Region) (directory.Region, error) {
	r.Name = strings.TrimSpace(r.Name)
	if err := r.Validate(); err != nil {
		return directory.Region{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return r, s.addRegion(ctx, r)
}

func (s *Service) addRegion(ctx context.Context, r directory.Region) error {
	_, err := s.store.Region(ctx, r.Name)
	if err := absent(err, "region "+quote(r.Name)); err != nil {
		return err
	}
	if err := s.requireProfile(ctx, r.LocationProfile); err != nil {
		return err
	}
	if err := s.store.PutRegion(ctx, r); err != nil {
		return storeErr(err, "add", "region "+quote(r.Name))
	}
	s.log.InfoContext(ctx, "region added", "region", r.Name, "profile", r.LocationProfile)
	return nil
}

// RegionPatch changes a region; nil fields stay as they are.
type RegionPatch struct {
	LocationProfile *string `json:"location_profile,omitempty"`
}

// SetRegion applies p to the region name.
func (s *Service) SetRegion(ctx context.Context, name string, p RegionPatch) (directory.Region, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.store.Region(ctx, name)
	if err != nil {
		return directory.Region{}, storeErr(err, "read", "region "+quote(name))
	}
	if p.LocationProfile == nil {
		return directory.Region{}, invalid("", "nothing to change")
	}
	r.LocationProfile = *p.LocationProfile
	if err := r.Validate(); err != nil {
		return directory.Region{}, err
	}
	if err := s.requireProfile(ctx, r.LocationProfile); err != nil {
		return directory.Region{}, err
	}
	if err := s.store.PutRegion(ctx, r); err != nil {
		return directory.Region{}, storeErr(err, "update", "region "+quote(name))
	}
	s.log.InfoContext(ctx, "region updated", "region", name, "profile", r.LocationProfile)
	return r, nil
}

// DeleteRegion deletes the region name, which must have no access numbers.
func (s *Service) DeleteRegion(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteRegion(ctx, name); err != nil {
		return storeErr(err, "delete", "region "+quote(name))
	}
	s.log.InfoContext(ctx, "region deleted", "region", name)
	return nil
}
