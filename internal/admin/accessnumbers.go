package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// DefaultLanguage is the primary language of an access number added
// without one.
const DefaultLanguage = "en-US"

// AddAccessNumber is the input of Service.AddAccessNumber.
type AddAccessNumber struct {
	// Number is the E.164 number, +14255550100 or tel:+14255550100.
	Number string `json:"number"`
	// Region groups the number with others of the same location profile.
	// A region that does not exist is created, over LocationProfile.
	Region string `json:"region"`
	// LocationProfile is the profile of a region created on the fly;
	// default DefaultProfileName. It is ignored when the region exists.
	LocationProfile string `json:"location_profile,omitempty"`
	// Languages are the prompt languages, the primary first; at most
	// 1+directory.MaxSecondaryLanguages. Default: DefaultLanguage.
	Languages   []string `json:"languages,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	// Pool is the pool whose attendant answers; default the only pool.
	Pool string `json:"pool,omitempty"`
}

// AddedAccessNumber is the result of AddAccessNumber.
type AddedAccessNumber struct {
	directory.AccessNumber
	// RegionCreated reports that the region did not exist and was created
	// over the location profile RegionProfile.
	RegionCreated bool   `json:"region_created,omitempty"`
	RegionProfile string `json:"region_profile,omitempty"`
}

// AccessNumbers returns every access number.
func (s *Service) AccessNumbers(ctx context.Context) ([]directory.AccessNumber, error) {
	as, err := s.store.AccessNumbers(ctx)
	return as, storeErr(err, "list", "access numbers")
}

// AccessNumber returns the access number with the given number (+E164 or
// tel:+E164).
func (s *Service) AccessNumber(ctx context.Context, number string) (directory.AccessNumber, error) {
	line := normalizeTel(number)
	a, err := s.store.AccessNumber(ctx, line)
	return a, storeErr(err, "read", "access number "+line)
}

// AddAccessNumber creates a Conferencing Attendant contact object for an
// E.164 number. Its SIP URI is sip:caa-<8 random hex digits>@<primary
// domain>. When the region does not exist it is created first, so that the
// first access number of a fresh organization needs one command; the
// result says so.
func (s *Service) AddAccessNumber(ctx context.Context, in AddAccessNumber) (AddedAccessNumber, error) {
	line := normalizeTel(in.Number)
	if num, ok := strings.CutPrefix(line, "tel:"); !ok || !dialplan.IsE164(num) {
		return AddedAccessNumber{}, invalid("number", "%q is not an E.164 number like +14255550100", in.Number)
	}
	langs := in.Languages
	if len(langs) == 0 {
		langs = []string{DefaultLanguage}
	}
	if len(langs) > 1+directory.MaxSecondaryLanguages {
		return AddedAccessNumber{}, invalid("languages", "at most %d languages (one primary, %d secondary), not %d",
			1+directory.MaxSecondaryLanguages, directory.MaxSecondaryLanguages, len(langs))
	}
	region := strings.TrimSpace(in.Region)
	if region == "" {
		return AddedAccessNumber{}, invalid("region", "is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org, err := s.organization(ctx)
	if err != nil {
		return AddedAccessNumber{}, err
	}
	pool, err := s.resolvePool(ctx, in.Pool)
	if err != nil {
		return AddedAccessNumber{}, err
	}
	a := directory.AccessNumber{
		LineURI: line, DisplayName: strings.TrimSpace(in.DisplayName), Pool: pool.FQDN, Region: region,
		PrimaryLanguage: langs[0], SecondaryLanguages: langs[1:],
	}
	if len(a.SecondaryLanguages) == 0 {
		a.SecondaryLanguages = nil
	}
	existing, err := s.store.AccessNumbers(ctx)
	if err != nil {
		return AddedAccessNumber{}, storeErr(err, "list", "access numbers")
	}
	uris := make(map[string]bool, len(existing))
	for _, x := range existing {
		if x.LineURI == line {
			return AddedAccessNumber{}, exists("access number %s already exists (region %q)", line, x.Region)
		}
		uris[x.URI] = true
	}
	for a.URI == "" || uris[a.URI] {
		a.URI = "sip:caa-" + randomHex(4) + "@" + org.PrimaryDomain()
	}
	if err := a.Validate(); err != nil {
		return AddedAccessNumber{}, err
	}
	if _, err := s.store.UserByLineURI(ctx, line); err == nil {
		return AddedAccessNumber{}, invalid("number", "%s is the line URI of a user", line)
	} else if !errors.Is(err, directory.ErrNotFound) {
		return AddedAccessNumber{}, storeErr(err, "read", "line URI "+line)
	}

	out := AddedAccessNumber{}
	if _, err := s.store.Region(ctx, region); errors.Is(err, directory.ErrNotFound) {
		profile := in.LocationProfile
		if profile == "" {
			profile = DefaultProfileName
		}
		r := directory.Region{Name: region, LocationProfile: profile}
		if err := r.Validate(); err != nil {
			return AddedAccessNumber{}, err
		}
		if err := s.requireProfile(ctx, profile); err != nil {
			var ve *directory.ValidationError
			if !errors.As(err, &ve) {
				return AddedAccessNumber{}, err
			}
			regions, rerr := s.store.Regions(ctx)
			if rerr != nil {
				return AddedAccessNumber{}, storeErr(rerr, "list", "regions")
			}
			return AddedAccessNumber{}, invalid("region",
				"region %q does not exist (regions: %s) and cannot be created: %s",
				region, quoted(nameList(regions, func(r directory.Region) string { return r.Name })), ve.Msg)
		}
		if err := s.addRegion(ctx, r); err != nil {
			return AddedAccessNumber{}, err
		}
		out.RegionCreated, out.RegionProfile = true, profile
	} else if err != nil {
		return AddedAccessNumber{}, storeErr(err, "read", "region "+quote(region))
	}
	if err := s.store.PutAccessNumber(ctx, a); err != nil {
		err = storeErr(err, "add", "access number "+line)
		if out.RegionCreated {
			// Take back the region made for this number, so that a
			// failed add changes nothing.
			if derr := s.store.DeleteRegion(ctx, region); derr != nil {
				s.log.ErrorContext(ctx, "cannot remove region after failed access number add",
					"region", region, "err", derr)
			}
		}
		return AddedAccessNumber{}, err
	}
	s.log.InfoContext(ctx, "access number added", "number", line, "uri", a.URI, "region", region)
	out.AccessNumber = a
	return out, nil
}

// DeleteAccessNumber deletes the access number (+E164 or tel:+E164).
func (s *Service) DeleteAccessNumber(ctx context.Context, number string) error {
	line := normalizeTel(number)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteAccessNumber(ctx, line); err != nil {
		return storeErr(err, "delete", "access number "+line)
	}
	s.log.InfoContext(ctx, "access number deleted", "number", line)
	return nil
}
