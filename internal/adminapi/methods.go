package adminapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

// The methods below mirror admin.Service one for one; see there for what
// each operation checks.

// Organization returns the organization.
func (c *Client) Organization(ctx context.Context) (directory.Organization, error) {
	return get[directory.Organization](ctx, c, "/organization")
}

// SetOrganization changes the organization.
func (c *Client) SetOrganization(ctx context.Context, p admin.OrganizationPatch) (directory.Organization, error) {
	return send[directory.Organization](ctx, c, http.MethodPatch, "/organization", p)
}

// Pools returns every pool.
func (c *Client) Pools(ctx context.Context) ([]directory.Pool, error) {
	return get[[]directory.Pool](ctx, c, "/pools")
}

// Pool returns one pool.
func (c *Client) Pool(ctx context.Context, fqdn string) (directory.Pool, error) {
	return get[directory.Pool](ctx, c, path("pools", fqdn))
}

// AddPool creates a pool.
func (c *Client) AddPool(ctx context.Context, p directory.Pool) (directory.Pool, error) {
	return send[directory.Pool](ctx, c, http.MethodPost, "/pools", p)
}

// SetPool changes a pool's settings.
func (c *Client) SetPool(ctx context.Context, fqdn string, p admin.PoolPatch) (directory.Pool, error) {
	return send[directory.Pool](ctx, c, http.MethodPatch, path("pools", fqdn), p)
}

// DeletePool deletes a pool.
func (c *Client) DeletePool(ctx context.Context, fqdn string) error {
	return c.do(ctx, http.MethodDelete, path("pools", fqdn), nil, nil)
}

// Servers returns every front-end server.
func (c *Client) Servers(ctx context.Context) ([]directory.Server, error) {
	return get[[]directory.Server](ctx, c, "/servers")
}

// AddServer adds a front-end server.
func (c *Client) AddServer(ctx context.Context, s directory.Server) (directory.Server, error) {
	return send[directory.Server](ctx, c, http.MethodPost, "/servers", s)
}

// DeleteServer removes a front-end server.
func (c *Client) DeleteServer(ctx context.Context, fqdn string) error {
	return c.do(ctx, http.MethodDelete, path("servers", fqdn), nil, nil)
}

// TrustedServices returns every trusted service.
func (c *Client) TrustedServices(ctx context.Context) ([]directory.TrustedService, error) {
	return get[[]directory.TrustedService](ctx, c, "/trusted-services")
}

// AddTrustedService adds a trusted service.
func (c *Client) AddTrustedService(ctx context.Context, t directory.TrustedService) (directory.TrustedService, error) {
	return send[directory.TrustedService](ctx, c, http.MethodPost, "/trusted-services", t)
}

// DeleteTrustedService removes a trusted service.
func (c *Client) DeleteTrustedService(ctx context.Context, fqdn, typ string) error {
	return c.do(ctx, http.MethodDelete, path("trusted-services", fqdn, typ), nil, nil)
}

// LocationProfiles returns every location profile.
func (c *Client) LocationProfiles(ctx context.Context) ([]directory.LocationProfile, error) {
	return get[[]directory.LocationProfile](ctx, c, "/location-profiles")
}

// LocationProfile returns one location profile.
func (c *Client) LocationProfile(ctx context.Context, name string) (directory.LocationProfile, error) {
	return get[directory.LocationProfile](ctx, c, path("location-profiles", name))
}

// AddLocationProfile creates a location profile.
func (c *Client) AddLocationProfile(ctx context.Context, l directory.LocationProfile) (directory.LocationProfile, error) {
	return send[directory.LocationProfile](ctx, c, http.MethodPost, "/location-profiles", l)
}

// SetLocationProfile changes a location profile.
func (c *Client) SetLocationProfile(ctx context.Context, name string, p admin.LocationProfilePatch) (directory.LocationProfile, error) {
	return send[directory.LocationProfile](ctx, c, http.MethodPatch, path("location-profiles", name), p)
}

// DeleteLocationProfile deletes a location profile.
func (c *Client) DeleteLocationProfile(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, path("location-profiles", name), nil, nil)
}

// NormalizeNumber shows what a location profile makes of a dialled number.
func (c *Client) NormalizeNumber(ctx context.Context, name, dialled string) (admin.Normalized, error) {
	q := url.Values{"number": {dialled}}
	return get[admin.Normalized](ctx, c, path("location-profiles", name, "normalize")+"?"+q.Encode())
}

// Regions returns every region.
func (c *Client) Regions(ctx context.Context) ([]directory.Region, error) {
	return get[[]directory.Region](ctx, c, "/regions")
}

// Region returns one region.
func (c *Client) Region(ctx context.Context, name string) (directory.Region, error) {
	return get[directory.Region](ctx, c, path("regions", name))
}

// AddRegion creates a region.
func (c *Client) AddRegion(ctx context.Context, r directory.Region) (directory.Region, error) {
	return send[directory.Region](ctx, c, http.MethodPost, "/regions", r)
}

// SetRegion changes a region.
func (c *Client) SetRegion(ctx context.Context, name string, p admin.RegionPatch) (directory.Region, error) {
	return send[directory.Region](ctx, c, http.MethodPatch, path("regions", name), p)
}

// DeleteRegion deletes a region.
func (c *Client) DeleteRegion(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, path("regions", name), nil, nil)
}

// MeetingPolicies returns every meeting policy.
func (c *Client) MeetingPolicies(ctx context.Context) ([]directory.MeetingPolicy, error) {
	return get[[]directory.MeetingPolicy](ctx, c, "/meeting-policies")
}

// MeetingPolicy returns one meeting policy.
func (c *Client) MeetingPolicy(ctx context.Context, name string) (directory.MeetingPolicy, error) {
	return get[directory.MeetingPolicy](ctx, c, path("meeting-policies", name))
}

// AddMeetingPolicy creates a meeting policy.
func (c *Client) AddMeetingPolicy(ctx context.Context, p directory.MeetingPolicy) (directory.MeetingPolicy, error) {
	return send[directory.MeetingPolicy](ctx, c, http.MethodPost, "/meeting-policies", p)
}

// SetMeetingPolicy changes a meeting policy.
func (c *Client) SetMeetingPolicy(ctx context.Context, name string, p admin.MeetingPolicyPatch) (directory.MeetingPolicy, error) {
	return send[directory.MeetingPolicy](ctx, c, http.MethodPatch, path("meeting-policies", name), p)
}

// DeleteMeetingPolicy deletes a meeting policy.
func (c *Client) DeleteMeetingPolicy(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, path("meeting-policies", name), nil, nil)
}

// AccessNumbers returns every access number.
func (c *Client) AccessNumbers(ctx context.Context) ([]directory.AccessNumber, error) {
	return get[[]directory.AccessNumber](ctx, c, "/access-numbers")
}

// AccessNumber returns one access number (+E164 or tel:+E164).
func (c *Client) AccessNumber(ctx context.Context, number string) (directory.AccessNumber, error) {
	return get[directory.AccessNumber](ctx, c, path("access-numbers", number))
}

// AddAccessNumber creates an access number.
func (c *Client) AddAccessNumber(ctx context.Context, a admin.AddAccessNumber) (admin.AddedAccessNumber, error) {
	return send[admin.AddedAccessNumber](ctx, c, http.MethodPost, "/access-numbers", a)
}

// DeleteAccessNumber deletes an access number.
func (c *Client) DeleteAccessNumber(ctx context.Context, number string) error {
	return c.do(ctx, http.MethodDelete, path("access-numbers", number), nil, nil)
}

// Users returns every user.
func (c *Client) Users(ctx context.Context) ([]admin.User, error) {
	return get[[]admin.User](ctx, c, "/users")
}

// User returns one user.
func (c *Client) User(ctx context.Context, uri string) (admin.User, error) {
	return get[admin.User](ctx, c, path("users", uri))
}

// AddUser creates a user.
func (c *Client) AddUser(ctx context.Context, u admin.AddUser) (admin.User, error) {
	return send[admin.User](ctx, c, http.MethodPost, "/users", u)
}

// SetUser changes a user.
func (c *Client) SetUser(ctx context.Context, uri string, p admin.UserPatch) (admin.User, error) {
	return send[admin.User](ctx, c, http.MethodPatch, path("users", uri), p)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, uri string) error {
	return c.do(ctx, http.MethodDelete, path("users", uri), nil, nil)
}

// SetPassword replaces a user's password.
func (c *Client) SetPassword(ctx context.Context, uri, password string) error {
	return c.do(ctx, http.MethodPut, path("users", uri, "password"), PasswordRequest{Password: password}, nil)
}

// SetPIN sets a user's dial-in PIN.
func (c *Client) SetPIN(ctx context.Context, uri, pin string) (admin.User, error) {
	return send[admin.User](ctx, c, http.MethodPut, path("users", uri, "pin"), PINRequest{PIN: pin})
}

// ResetConferenceID gives a user a new personal conference ID.
func (c *Client) ResetConferenceID(ctx context.Context, uri string) (admin.User, error) {
	return send[admin.User](ctx, c, http.MethodPost, path("users", uri, "conference-id", "reset"), nil)
}

// UnlockPIN clears a user's PIN lockout.
func (c *Client) UnlockPIN(ctx context.Context, uri string) (admin.User, error) {
	return send[admin.User](ctx, c, http.MethodPost, path("users", uri, "pin", "unlock"), nil)
}
