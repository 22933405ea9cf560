package directory

import (
	"context"
)

// Store is the persistent directory. The store package implements it on
// SQLite and PostgreSQL; every method is safe for concurrent use.
//
// Put methods create or replace an object by its key. Create methods fail
// with ErrExists when the key is taken. Lookups fail with ErrNotFound.
// Deletes fail with ErrNotFound for a missing key and ErrInUse when another
// object still refers to it. Writes validate references (a user's pool,
// location profile and policy must exist) and return a *ValidationError when
// one does not.
type Store interface {
	Organization(ctx context.Context) (Organization, error)
	PutOrganization(ctx context.Context, o Organization) error

	Pool(ctx context.Context, fqdn string) (Pool, error)
	Pools(ctx context.Context) ([]Pool, error)
	PutPool(ctx context.Context, p Pool) error
	DeletePool(ctx context.Context, fqdn string) error

	Servers(ctx context.Context) ([]Server, error)
	PutServer(ctx context.Context, s Server) error
	DeleteServer(ctx context.Context, fqdn string) error

	TrustedServices(ctx context.Context) ([]TrustedService, error)
	PutTrustedService(ctx context.Context, t TrustedService) error
	DeleteTrustedService(ctx context.Context, fqdn, typ string) error

	LocationProfile(ctx context.Context, name string) (LocationProfile, error)
	LocationProfiles(ctx context.Context) ([]LocationProfile, error)
	PutLocationProfile(ctx context.Context, l LocationProfile) error
	DeleteLocationProfile(ctx context.Context, name string) error

	Region(ctx context.Context, name string) (Region, error)
	Regions(ctx context.Context) ([]Region, error)
	PutRegion(ctx context.Context, r Region) error
	DeleteRegion(ctx context.Context, name string) error

	MeetingPolicy(ctx context.Context, name string) (MeetingPolicy, error)
	MeetingPolicies(ctx context.Context) ([]MeetingPolicy, error)
	PutMeetingPolicy(ctx context.Context, m MeetingPolicy) error
	DeleteMeetingPolicy(ctx context.Context, name string) error

	AccessNumber(ctx context.Context, lineURI string) (AccessNumber, error)
	AccessNumbers(ctx context.Context) ([]AccessNumber, error)
	PutAccessNumber(ctx context.Context, a AccessNumber) error
	DeleteAccessNumber(ctx context.Context, lineURI string) error

	User(ctx context.Context, uri string) (User, error)
	// UserByExtension finds the user whose Extension is ext.
	UserByExtension(ctx context.Context, ext string) (User, error)
	// UserByLineURI finds the user whose line URI, ignoring parameters such
	// as ;ext=, is the tel URI lineURI.
	UserByLineURI(ctx context.Context, lineURI string) (User, error)
	Users(ctx context.Context) ([]User, error)
	CreateUser(ctx context.Context, u User) error
	// UpdateUser reads the user, applies fn and writes the result in one
	// transaction; when fn returns an error nothing is written.
	UpdateUser(ctx context.Context, uri string, fn func(*User) error) (User, error)
	DeleteUser(ctx context.Context, uri string) error
}
