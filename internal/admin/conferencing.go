package admin

import (
	"context"
	"fmt"
)

// Conferencing is what administration asks of the conferencing roles: the
// Focus Factory owns conference IDs, so admin hands it the changes to users
// that touch them. The server wires it in with SetConferencing; without it
// users simply get no personal conference ID.
type Conferencing interface {
	// AssignPersonalID gives a user his personal conference ID if he has
	// none.
	AssignPersonalID(ctx context.Context, uri string) (string, error)
	// ResetPersonalID replaces it.
	ResetPersonalID(ctx context.Context, uri string) (string, error)
	// Rehome reissues a user's meetings' conference IDs in his current
	// pool.
	Rehome(ctx context.Context, uri string) (int, error)
	// OrganizerRemoved ends the active meetings a user organizes: he was
	// disabled or deleted (seed 003, "Meeting Deactivation").
	OrganizerRemoved(uri string) int
}

// SetConferencing wires in the conferencing roles. Call it before serving.
func (s *Service) SetConferencing(c Conferencing) { s.conf = c }

// ResetConferenceID gives a user a new personal ("My Meeting") conference
// ID; the old one stops working at once.
func (s *Service) ResetConferenceID(ctx context.Context, uri string) (User, error) {
	uri = normalizeURI(uri)
	if s.conf == nil {
		return User{}, fmt.Errorf("conferencing is not running on this server")
	}
	if _, err := s.store.User(ctx, uri); err != nil {
		return User{}, storeErr(err, "read", "user "+uri)
	}
	if _, err := s.conf.ResetPersonalID(ctx, uri); err != nil {
		return User{}, fmt.Errorf("resetting the conference ID of %s: %w", uri, err)
	}
	s.log.InfoContext(ctx, "personal conference ID reset", "uri", uri)
	return s.User(ctx, uri)
}

// AssignMissingConferenceIDs gives every enabled user without a personal
// conference ID one, for users created before conferencing ran (the demo
// organization, upgrades). It returns how many it assigned.
func (s *Service) AssignMissingConferenceIDs(ctx context.Context) (int, error) {
	if s.conf == nil {
		return 0, nil
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return 0, storeErr(err, "list", "users")
	}
	n := 0
	for _, u := range users {
		if u.ConferenceID != "" || !u.Enabled {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := s.conf.AssignPersonalID(ctx, u.URI); err != nil {
			return n, fmt.Errorf("assigning a conference ID to %s: %w", u.URI, err)
		}
		n++
	}
	return n, nil
}

// afterAdd gives a new user his personal conference ID. A failure does not
// undo the user: it is logged, and the ID is assigned at the next start.
func (s *Service) afterAdd(ctx context.Context, uri string) {
	if s.conf == nil {
		return
	}
	if _, err := s.conf.AssignPersonalID(ctx, uri); err != nil {
		s.log.WarnContext(ctx, "no personal conference ID for the new user yet", "uri", uri, "err", err)
	}
}
