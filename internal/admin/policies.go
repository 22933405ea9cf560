package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

// DefaultPolicyName names the meeting policy Bootstrap creates and AddUser
// assigns when none is given.
const DefaultPolicyName = "Default"

// DefaultMaxMeetingSize is the meeting size cap of a new policy when the
// caller gives none.
const DefaultMaxMeetingSize = 250

// MeetingPolicies returns every meeting policy.
func (s *Service) MeetingPolicies(ctx context.Context) ([]directory.MeetingPolicy, error) {
	ps, err := s.store.MeetingPolicies(ctx)
	return ps, storeErr(err, "list", "meeting policies")
}

// MeetingPolicy returns the meeting policy name.
func (s *Service) MeetingPolicy(ctx context.Context, name string) (directory.MeetingPolicy, error) {
	p, err := s.store.MeetingPolicy(ctx, name)
	return p, storeErr(err, "read", "meeting policy "+quote(name))
}

// AddMeetingPolicy creates a meeting policy. A zero MaxMeetingSize means
// DefaultMaxMeetingSize.
func (s *Service) AddMeetingPolicy(ctx context.Context, p directory.MeetingPolicy) (directory.MeetingPolicy, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.MaxMeetingSize == 0 {
		p.MaxMeetingSize = DefaultMaxMeetingSize
	}
	if err := p.Validate(); err != nil {
		return directory.MeetingPolicy{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.store.MeetingPolicy(ctx, p.Name)
	if err := absent(err, "meeting policy "+quote(p.Name)); err != nil {
		return directory.MeetingPolicy{}, err
	}
	if err := s.store.PutMeetingPolicy(ctx, p); err != nil {
		return directory.MeetingPolicy{}, storeErr(err, "add", "meeting policy "+quote(p.Name))
	}
	s.log.InfoContext(ctx, "meeting policy added", "policy", p.Name)
	return p, nil
}

// MeetingPolicyPatch changes some settings of a meeting policy; nil fields
// stay as they are.
type MeetingPolicyPatch struct {
	PSTNDialIn       *bool `json:"pstn_dial_in,omitempty"`
	PasscodeRequired *bool `json:"passcode_required,omitempty"`
	MaxMeetingSize   *int  `json:"max_meeting_size,omitempty"`
	AnonymousAllowed *bool `json:"anonymous_allowed,omitempty"`
}

// SetMeetingPolicy applies p to the policy name.
func (s *Service) SetMeetingPolicy(ctx context.Context, name string, p MeetingPolicyPatch) (directory.MeetingPolicy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, err := s.store.MeetingPolicy(ctx, name)
	if err != nil {
		return directory.MeetingPolicy{}, storeErr(err, "read", "meeting policy "+quote(name))
	}
	if p == (MeetingPolicyPatch{}) {
		return directory.MeetingPolicy{}, invalid("", "nothing to change")
	}
	setIf(&pol.PSTNDialIn, p.PSTNDialIn)
	setIf(&pol.PasscodeRequired, p.PasscodeRequired)
	setIf(&pol.MaxMeetingSize, p.MaxMeetingSize)
	setIf(&pol.AnonymousAllowed, p.AnonymousAllowed)
	if err := pol.Validate(); err != nil {
		return directory.MeetingPolicy{}, err
	}
	if err := s.store.PutMeetingPolicy(ctx, pol); err != nil {
		return directory.MeetingPolicy{}, storeErr(err, "update", "meeting policy "+quote(name))
	}
	s.log.InfoContext(ctx, "meeting policy updated", "policy", name)
	return pol, nil
}

// DeleteMeetingPolicy deletes the policy name, which no user may have.
func (s *Service) DeleteMeetingPolicy(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteMeetingPolicy(ctx, name); err != nil {
		return storeErr(err, "delete", "meeting policy "+quote(name))
	}
	s.log.InfoContext(ctx, "meeting policy deleted", "policy", name)
	return nil
}

// requirePolicy checks that the policy exists, naming those that do when not.
func (s *Service) requirePolicy(ctx context.Context, name string) error {
	_, err := s.store.MeetingPolicy(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return storeErr(err, "read", "meeting policy "+quote(name))
	}
	all, err := s.store.MeetingPolicies(ctx)
	if err != nil {
		return storeErr(err, "list", "meeting policies")
	}
	return invalid("meeting_policy", "meeting policy %q does not exist; policies: %s", name,
		quoted(nameList(all, func(p directory.MeetingPolicy) string { return p.Name })))
}

// absent interprets the error of a lookup made before a create: nil when the
// object was not found, an ErrExists error when it was, and the store's error
// otherwise.
func absent(err error, what string) error {
	switch {
	case err == nil:
		return exists("%s already exists", what)
	case errors.Is(err, directory.ErrNotFound):
		return nil
	}
	return storeErr(err, "read", what)
}

// quote renders a name for a message: "US West".
func quote(name string) string { return `"` + name + `"` }
