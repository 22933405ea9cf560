package mediation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// Directory is what the Mediation Server reads from the directory: the
// location profile it normalizes with, and the objects a number can
// belong to. The user cache of internal/server implements it.
type Directory interface {
	LocationProfile(ctx context.Context, name string) (directory.LocationProfile, error)
	// UserByLineURI finds the user whose line URI, ignoring ;ext=, is the
	// tel URI lineURI.
	UserByLineURI(ctx context.Context, lineURI string) (directory.User, error)
	// AccessNumber finds the Conferencing Attendant contact object whose
	// line URI is lineURI.
	AccessNumber(ctx context.Context, lineURI string) (directory.AccessNumber, error)
}

// ErrUnknownNumber reports an E.164 number that is neither a user's line
// URI nor an access number.
var ErrUnknownNumber = errors.New("mediation: number not assigned")

// Kind says what a called number belongs to.
type Kind uint8

// The kinds of destination.
const (
	// KindUser is an Enterprise Voice user's line URI.
	KindUser Kind = iota + 1
	// KindAttendant is a Conferencing Attendant contact object (a dial-in
	// access number).
	KindAttendant
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindAttendant:
		return "attendant"
	}
	return "unknown"
}

// Destination is where a call to a number goes.
type Destination struct {
	Kind Kind
	// URI is the SIP URI to call: the user's, or the contact object's.
	URI string
	// Display names the destination in the To header.
	Display string
}

// router normalizes numbers with the configured location profile and looks
// them up. The compiled profile is kept while its rules are unchanged, so a
// call costs one directory read and no regular-expression compilation.
type router struct {
	dir     Directory
	profile string

	mu       sync.Mutex
	rules    string // the rules the cached profile was compiled from
	compiled *dialplan.Profile
}

// Profile returns the compiled location profile.
func (r *router) Profile(ctx context.Context) (*dialplan.Profile, error) {
	lp, err := r.dir.LocationProfile(ctx, r.profile)
	if err != nil {
		return nil, fmt.Errorf("mediation: location profile %q: %w", r.profile, err)
	}
	var key strings.Builder
	for _, rule := range lp.Rules {
		key.WriteString(rule.String())
		key.WriteByte(0)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.compiled != nil && r.rules == key.String() {
		return r.compiled, nil
	}
	p, err := dialplan.Compile(lp.Rules)
	if err != nil {
		return nil, fmt.Errorf("mediation: location profile %q: %w", r.profile, err)
	}
	r.rules, r.compiled = key.String(), p
	return p, nil
}

// Resolve is the reverse number lookup of seed 001 step 4: the E.164
// number as a user's line URI first, then as an access number's. Users
// must be enabled and enabled for Enterprise Voice; others have no number
// to be called on.
func (r *router) Resolve(ctx context.Context, e164 string) (Destination, error) {
	line := "tel:" + e164
	u, err := r.dir.UserByLineURI(ctx, line)
	switch {
	case err == nil && u.Enabled && u.EnterpriseVoice:
		return Destination{Kind: KindUser, URI: u.URI, Display: u.DisplayName}, nil
	case err != nil && !errors.Is(err, directory.ErrNotFound):
		return Destination{}, fmt.Errorf("mediation: user lookup: %w", err)
	}
	a, err := r.dir.AccessNumber(ctx, line)
	switch {
	case err == nil:
		return Destination{Kind: KindAttendant, URI: a.URI, Display: a.DisplayName}, nil
	case errors.Is(err, directory.ErrNotFound):
		return Destination{}, fmt.Errorf("%w: %s", ErrUnknownNumber, e164)
	}
	return Destination{}, fmt.Errorf("mediation: access number lookup: %w", err)
}
