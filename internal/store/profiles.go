package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

var (
	profileReferrers = []referrer{
		{"regions", "location_profile", "region", "regions"},
		{"users", "location_profile", "user", "users"},
	}
	regionReferrers = []referrer{{"access_numbers", "region", "access number", "access numbers"}}
	policyReferrers = []referrer{{"users", "meeting_policy", "user", "users"}}
)

// profileQuery reads profiles with their rules in one statement, so that a
// profile and its rules come from the same snapshot. Rule columns are NULL
// for a profile without rules.
const profileQuery = `SELECT p.name, COALESCE(p.description, ''),
	r.position, COALESCE(r.pattern, ''), COALESCE(r.translation, ''), COALESCE(r.description, '')
	FROM location_profiles p LEFT JOIN location_profile_rules r ON r.profile = p.name`

// scanProfiles folds the rows of profileQuery, ordered by profile and rule
// position, into profiles.
func scanProfiles(rows *sql.Rows) ([]directory.LocationProfile, error) {
	var out []directory.LocationProfile
	for rows.Next() {
		var name, desc string
		var pos sql.NullInt64
		var r dialplan.Rule
		if err := rows.Scan(&name, &desc, &pos, &r.Pattern, &r.Translation, &r.Description); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, directory.LocationProfile{Name: name, Description: desc})
		}
		if pos.Valid {
			l := &out[len(out)-1]
			l.Rules = append(l.Rules, r)
		}
	}
	return out, rows.Err()
}

func (s *DB) queryProfiles(ctx context.Context, where string, args ...any) ([]directory.LocationProfile, error) {
	rows, err := s.db.QueryContext(ctx, profileQuery+where+
		` ORDER BY p.name`+s.dialect.collate()+`, r.position`, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }() // rows.Err reports what matters
	return scanProfiles(rows)
}

// LocationProfile returns the named profile with its rules in order.
func (s *DB) LocationProfile(ctx context.Context, name string) (directory.LocationProfile, error) {
	ls, err := s.queryProfiles(ctx, ` WHERE p.name = $1`, name)
	if err != nil {
		return directory.LocationProfile{}, fmt.Errorf("store: location profile %s: %w", name, err)
	}
	if len(ls) == 0 {
		return directory.LocationProfile{}, fmt.Errorf("%w: location profile %s", directory.ErrNotFound, name)
	}
	return ls[0], nil
}

// LocationProfiles returns every profile, ordered by name.
func (s *DB) LocationProfiles(ctx context.Context) ([]directory.LocationProfile, error) {
	ls, err := s.queryProfiles(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("store: list location profiles: %w", err)
	}
	return ls, nil
}

// PutLocationProfile creates or replaces a profile and all its rules. Rules
// that do not compile are refused, naming the first bad one.
func (s *DB) PutLocationProfile(ctx context.Context, l directory.LocationProfile) error {
	if err := l.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO location_profiles (name, description) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET description = excluded.description`,
			l.Name, nullable(l.Description)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM location_profile_rules WHERE profile = $1`, l.Name); err != nil {
			return err
		}
		for i, r := range l.Rules {
			if _, err := tx.ExecContext(ctx, `INSERT INTO location_profile_rules
				(profile, position, pattern, translation, description) VALUES ($1, $2, $3, $4, $5)`,
				l.Name, i, r.Pattern, r.Translation, nullable(r.Description)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put location profile %s: %w", l.Name, err)
	}
	return nil
}

// DeleteLocationProfile deletes a profile, and its rules, that no region or
// user uses.
func (s *DB) DeleteLocationProfile(ctx context.Context, name string) error {
	return s.deleteRow(ctx, "location profile", "location_profiles", "name", name, profileReferrers)
}

func scanRegion(r scanner) (directory.Region, error) {
	var v directory.Region
	err := r.Scan(&v.Name, &v.LocationProfile)
	return v, err
}

// Region returns the named region.
func (s *DB) Region(ctx context.Context, name string) (directory.Region, error) {
	return one(ctx, s, "region", name, `SELECT name, location_profile FROM regions WHERE name = $1`, scanRegion)
}

// Regions returns every region, ordered by name.
func (s *DB) Regions(ctx context.Context) ([]directory.Region, error) {
	return list(ctx, s, "regions",
		`SELECT name, location_profile FROM regions ORDER BY name`+s.dialect.collate(), scanRegion)
}

// PutRegion creates or replaces a region; its location profile must exist.
func (s *DB) PutRegion(ctx context.Context, r directory.Region) error {
	if err := r.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.checkRef(ctx, tx, "location_profile", "location profile", "location_profiles", "name",
			r.LocationProfile); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO regions (name, location_profile) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET location_profile = excluded.location_profile`, r.Name, r.LocationProfile)
		return err
	})
	if err != nil {
		return wrapWrite(err, "put region %s", r.Name)
	}
	return nil
}

// DeleteRegion deletes a region that no access number uses.
func (s *DB) DeleteRegion(ctx context.Context, name string) error {
	return s.deleteRow(ctx, "region", "regions", "name", name, regionReferrers)
}

const policyColumns = `name, pstn_dial_in, passcode_required, max_meeting_size, anonymous_allowed`

func scanPolicy(r scanner) (directory.MeetingPolicy, error) {
	var m directory.MeetingPolicy
	err := r.Scan(&m.Name, &m.PSTNDialIn, &m.PasscodeRequired, &m.MaxMeetingSize, &m.AnonymousAllowed)
	return m, err
}

// MeetingPolicy returns the named meeting policy.
func (s *DB) MeetingPolicy(ctx context.Context, name string) (directory.MeetingPolicy, error) {
	return one(ctx, s, "meeting policy", name,
		`SELECT `+policyColumns+` FROM meeting_policies WHERE name = $1`, scanPolicy)
}

// MeetingPolicies returns every meeting policy, ordered by name.
func (s *DB) MeetingPolicies(ctx context.Context) ([]directory.MeetingPolicy, error) {
	return list(ctx, s, "meeting policies",
		`SELECT `+policyColumns+` FROM meeting_policies ORDER BY name`+s.dialect.collate(), scanPolicy)
}

// PutMeetingPolicy creates or replaces a meeting policy.
func (s *DB) PutMeetingPolicy(ctx context.Context, m directory.MeetingPolicy) error {
	if err := m.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meeting_policies (`+policyColumns+`) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET pstn_dial_in = excluded.pstn_dial_in,
				passcode_required = excluded.passcode_required, max_meeting_size = excluded.max_meeting_size,
				anonymous_allowed = excluded.anonymous_allowed`,
			m.Name, m.PSTNDialIn, m.PasscodeRequired, m.MaxMeetingSize, m.AnonymousAllowed)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put meeting policy %s: %w", m.Name, err)
	}
	return nil
}

// DeleteMeetingPolicy deletes a meeting policy that no user has.
func (s *DB) DeleteMeetingPolicy(ctx context.Context, name string) error {
	return s.deleteRow(ctx, "meeting policy", "meeting_policies", "name", name, policyReferrers)
}
