package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/directory"
)

// Password length limits, in characters. The floor keeps out the worst
// passwords; the ceiling bounds the work of hashing administrator input.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// User is what administrators see of a user: the directory entry without
// its credential's HA1 values or its PIN hash.
type User struct {
	URI             string `json:"uri"`
	DisplayName     string `json:"display_name,omitempty"`
	Pool            string `json:"pool"`
	Enabled         bool   `json:"enabled"`
	EnterpriseVoice bool   `json:"enterprise_voice"`
	LineURI         string `json:"line_uri,omitempty"`
	Extension       string `json:"extension,omitempty"`
	LocationProfile string `json:"location_profile,omitempty"`
	MeetingPolicy   string `json:"meeting_policy,omitempty"`
	ConferenceID    string `json:"conference_id,omitempty"`
	// Realm is the digest realm of the stored password.
	Realm string    `json:"realm,omitempty"`
	PIN   PINStatus `json:"pin"`
}

// PINStatus describes a user's dial-in PIN without revealing it.
type PINStatus struct {
	Set            bool      `json:"set"`
	SetAt          time.Time `json:"set_at,omitzero"`
	FailedAttempts int       `json:"failed_attempts"`
	LockedOut      bool      `json:"locked_out"`
	// Expired is set when the pool's PIN expiry has passed since SetAt.
	Expired bool `json:"expired"`
}

// view builds the administrator's view of u. expiryDays is the PIN expiry of
// u's pool.
func view(u directory.User, expiryDays int, now time.Time) User {
	return User{
		URI: u.URI, DisplayName: u.DisplayName, Pool: u.Pool, Enabled: u.Enabled,
		EnterpriseVoice: u.EnterpriseVoice, LineURI: u.LineURI, Extension: u.Extension,
		LocationProfile: u.LocationProfile, MeetingPolicy: u.MeetingPolicy,
		ConferenceID: u.ConferenceID, Realm: u.Credential.Realm,
		PIN: PINStatus{
			Set: u.PIN.IsSet(), SetAt: u.PIN.SetAt, FailedAttempts: u.PIN.FailedAttempts,
			LockedOut: u.PIN.LockedOut, Expired: u.PIN.Expired(now, expiryDays),
		},
	}
}

// AddUser is the input of Service.AddUser.
type AddUser struct {
	// URI is the SIP URI; "sip:" may be left out and case does not matter.
	URI string `json:"uri"`
	// Password is the SIP password, kept only as digest HA1 values.
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
	Extension   string `json:"extension,omitempty"`
	// LineURI is tel:+E164 (optionally ;ext=N); "tel:" may be left out.
	LineURI string `json:"line_uri,omitempty"`
	// PIN is the optional dial-in PIN, kept only as an argon2id hash.
	PIN string `json:"pin,omitempty"`
	// Pool defaults to the only pool.
	Pool string `json:"pool,omitempty"`
	// MeetingPolicy defaults to DefaultPolicyName.
	MeetingPolicy   string `json:"meeting_policy,omitempty"`
	LocationProfile string `json:"location_profile,omitempty"`
	// EnterpriseVoice defaults to off.
	EnterpriseVoice *bool `json:"enterprise_voice,omitempty"`
}

// String renders a without its secrets, so that printing it by mistake
// leaks nothing.
func (a AddUser) String() string {
	return fmt.Sprintf("AddUser{URI:%s Password:<redacted> PIN:<redacted> Pool:%s}", a.URI, a.Pool)
}

// LogValue keeps the secrets out of structured logs.
func (a AddUser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("uri", a.URI), slog.String("pool", a.Pool))
}

// Users returns every user.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.store.Users(ctx)
	if err != nil {
		return nil, storeErr(err, "list", "users")
	}
	pools, err := s.store.Pools(ctx)
	if err != nil {
		return nil, storeErr(err, "list", "pools")
	}
	expiry := make(map[string]int, len(pools))
	for _, p := range pools {
		expiry[p.FQDN] = p.PSTN.PINExpiryDays
	}
	now := s.now()
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = view(u, expiry[u.Pool], now)
	}
	return out, nil
}

// User returns the user uri.
func (s *Service) User(ctx context.Context, uri string) (User, error) {
	uri = normalizeURI(uri)
	u, err := s.store.User(ctx, uri)
	if err != nil {
		return User{}, storeErr(err, "read", "user "+uri)
	}
	return s.view(ctx, u)
}

func (s *Service) view(ctx context.Context, u directory.User) (User, error) {
	p, err := s.store.Pool(ctx, u.Pool)
	if err != nil {
		return User{}, storeErr(err, "read", "pool "+u.Pool)
	}
	return view(u, p.PSTN.PINExpiryDays, s.now()), nil
}

// normalizeURI lower-cases a user URI and adds the "sip:" scheme when it is
// missing.
func normalizeURI(uri string) string {
	uri = strings.ToLower(strings.TrimSpace(uri))
	if !strings.HasPrefix(uri, "sip:") && !strings.HasPrefix(uri, "sips:") && strings.Contains(uri, "@") {
		uri = "sip:" + uri
	}
	return uri
}

// normalizeTel adds the "tel:" scheme to a bare +E164 number.
func normalizeTel(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		return "tel:" + s
	}
	return s
}

// AddUser creates a user. The URI must be in one of the organization's
// domains; the password becomes HA1 values for the primary domain, which is
// the digest realm, over both digest usernames clients send (the user part
// and user@domain, see directory.Credential); the PIN is checked against the
// pool's PSTN settings.
func (s *Service) AddUser(ctx context.Context, in AddUser) (User, error) {
	uri := normalizeURI(in.URI)
	if strings.HasPrefix(uri, "sips:") {
		return User{}, invalid("uri", "give the URI with sip:, not sips:; the user can still register over TLS")
	}
	userpart, host, ok := directory.SplitSIPURI(uri)
	if !ok {
		return User{}, invalid("uri", "%q is not a SIP URI like sip:alice@example.com", in.URI)
	}
	if err := checkPassword(in.Password); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org, err := s.organization(ctx)
	if err != nil {
		return User{}, err
	}
	if !org.HasDomain(host) {
		return User{}, invalid("uri", "domain %q is not one of the organization's SIP domains (%s)", host, quoted(org.Domains))
	}
	_, err = s.store.User(ctx, uri)
	if err := absent(err, "user "+uri); err != nil {
		return User{}, err
	}
	pool, err := s.resolvePool(ctx, in.Pool)
	if err != nil {
		return User{}, err
	}
	policy := in.MeetingPolicy
	if policy == "" {
		policy = DefaultPolicyName
	}
	if err := s.requirePolicy(ctx, policy); err != nil {
		return User{}, err
	}
	if in.LocationProfile != "" {
		if err := s.requireProfile(ctx, in.LocationProfile); err != nil {
			return User{}, err
		}
	}
	u := directory.User{
		URI: uri, DisplayName: strings.TrimSpace(in.DisplayName), Pool: pool.FQDN, Enabled: true,
		EnterpriseVoice: in.EnterpriseVoice != nil && *in.EnterpriseVoice,
		LineURI:         normalizeTel(in.LineURI), Extension: strings.TrimSpace(in.Extension),
		LocationProfile: in.LocationProfile, MeetingPolicy: policy,
	}
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	if err := s.checkNumbers(ctx, u); err != nil {
		return User{}, err
	}
	if in.PIN != "" {
		if err := directory.ValidatePIN(in.PIN, pool.PSTN); err != nil {
			return User{}, err
		}
		u.PIN = directory.PIN{Hash: directory.HashSecret(in.PIN), SetAt: s.now()}
	}
	u.Credential = directory.NewCredential(userpart+"@"+host, org.PrimaryDomain(), in.Password)
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, storeErr(err, "add", "user "+uri)
	}
	s.log.InfoContext(ctx, "user added", "uri", uri, "pool", u.Pool, "pin_set", u.PIN.IsSet())
	s.afterAdd(ctx, uri)
	if cur, err := s.store.User(ctx, uri); err == nil {
		u = cur
	}
	return view(u, pool.PSTN.PINExpiryDays, s.now()), nil
}

// checkPassword enforces the password rules. Control characters are refused
// because SIP clients and terminals mangle them.
func checkPassword(p string) error {
	if !utf8.ValidString(p) {
		return invalid("password", "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(p)
	switch {
	case n == 0:
		return invalid("password", "is required")
	case n < MinPasswordLen:
		return invalid("password", "must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return invalid("password", "must be at most %d characters", MaxPasswordLen)
	}
	for _, c := range p {
		if unicode.IsControl(c) {
			return invalid("password", "must not contain control characters")
		}
	}
	return nil
}

// checkNumbers makes sure u's extension and line URI belong to no other
// user and that the line URI is not an access number, so that a number
// dialled to the attendant or the proxy finds one target.
func (s *Service) checkNumbers(ctx context.Context, u directory.User) error {
	if u.Extension != "" {
		other, err := s.store.UserByExtension(ctx, u.Extension)
		switch {
		case err == nil && other.URI != u.URI:
			return invalid("extension", "extension %s is already assigned to %s", u.Extension, other.URI)
		case err != nil && !errors.Is(err, directory.ErrNotFound):
			return storeErr(err, "read", "extension "+u.Extension)
		}
	}
	if u.LineURI != "" {
		number, _, _ := strings.Cut(u.LineURI, ";")
		other, err := s.store.UserByLineURI(ctx, number)
		switch {
		case err == nil && other.URI != u.URI:
			return invalid("line_uri", "%s is already the line URI of %s", number, other.URI)
		case err != nil && !errors.Is(err, directory.ErrNotFound):
			return storeErr(err, "read", "line URI "+number)
		}
		_, err = s.store.AccessNumber(ctx, number)
		switch {
		case err == nil:
			return invalid("line_uri", "%s is a conferencing access number", number)
		case !errors.Is(err, directory.ErrNotFound):
			return storeErr(err, "read", "access number "+number)
		}
	}
	return nil
}

// SetPassword replaces the user's password. The new HA1 values are for the
// current primary domain, and include the user@domain ones that a user added
// before Parley kept them lacks until then.
func (s *Service) SetPassword(ctx context.Context, uri, password string) error {
	uri = normalizeURI(uri)
	if err := checkPassword(password); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org, err := s.organization(ctx)
	if err != nil {
		return err
	}
	_, err = s.store.UpdateUser(ctx, uri, func(u *directory.User) error {
		userpart, host, ok := directory.SplitSIPURI(u.URI)
		if !ok {
			return invalid("uri", "stored URI %q does not parse", u.URI)
		}
		u.Credential = directory.NewCredential(userpart+"@"+host, org.PrimaryDomain(), password)
		return nil
	})
	if err != nil {
		return storeErr(err, "update", "user "+uri)
	}
	s.log.InfoContext(ctx, "user password changed", "uri", uri)
	return nil
}

// SetPIN sets the user's dial-in PIN after checking it against the pool's
// settings. A new PIN also clears a lockout, as an administrator resetting
// a PIN means the user may try again.
func (s *Service) SetPIN(ctx context.Context, uri, pin string) (User, error) {
	uri = normalizeURI(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, uri)
	if err != nil {
		return User{}, storeErr(err, "read", "user "+uri)
	}
	pool, err := s.store.Pool(ctx, u.Pool)
	if err != nil {
		return User{}, storeErr(err, "read", "pool "+u.Pool)
	}
	if err := directory.ValidatePIN(pin, pool.PSTN); err != nil {
		return User{}, err
	}
	// Hash outside the store's transaction: argon2id is slow on purpose.
	state := directory.PIN{Hash: directory.HashSecret(pin), SetAt: s.now()}
	u, err = s.store.UpdateUser(ctx, uri, func(u *directory.User) error {
		u.PIN = state
		return nil
	})
	if err != nil {
		return User{}, storeErr(err, "update", "user "+uri)
	}
	s.log.InfoContext(ctx, "user PIN set", "uri", uri)
	return view(u, pool.PSTN.PINExpiryDays, s.now()), nil
}

// UnlockPIN clears the user's PIN lockout and failed-attempt count, keeping
// the PIN.
func (s *Service) UnlockPIN(ctx context.Context, uri string) (User, error) {
	uri = normalizeURI(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.UpdateUser(ctx, uri, func(u *directory.User) error {
		u.PIN.FailedAttempts, u.PIN.LockedOut = 0, false
		return nil
	})
	if err != nil {
		return User{}, storeErr(err, "update", "user "+uri)
	}
	s.log.InfoContext(ctx, "user PIN unlocked", "uri", uri)
	return s.view(ctx, u)
}

// UserPatch changes some fields of a user; nil fields stay as they are. An
// empty string clears DisplayName, Extension, LineURI or LocationProfile.
type UserPatch struct {
	DisplayName     *string `json:"display_name,omitempty"`
	Extension       *string `json:"extension,omitempty"`
	LineURI         *string `json:"line_uri,omitempty"`
	Enabled         *bool   `json:"enabled,omitempty"`
	EnterpriseVoice *bool   `json:"enterprise_voice,omitempty"`
	MeetingPolicy   *string `json:"meeting_policy,omitempty"`
	LocationProfile *string `json:"location_profile,omitempty"`
	Pool            *string `json:"pool,omitempty"`
}

// SetUser applies p to the user uri.
func (s *Service) SetUser(ctx context.Context, uri string, p UserPatch) (User, error) {
	uri = normalizeURI(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, uri)
	if err != nil {
		return User{}, storeErr(err, "read", "user "+uri)
	}
	if p == (UserPatch{}) {
		return User{}, invalid("", "nothing to change")
	}
	if p.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*p.DisplayName)
	}
	if p.Extension != nil {
		u.Extension = strings.TrimSpace(*p.Extension)
	}
	if p.LineURI != nil {
		u.LineURI = normalizeTel(*p.LineURI)
	}
	setIf(&u.Enabled, p.Enabled)
	setIf(&u.EnterpriseVoice, p.EnterpriseVoice)
	if p.MeetingPolicy != nil {
		u.MeetingPolicy = *p.MeetingPolicy
		if u.MeetingPolicy != "" {
			if err := s.requirePolicy(ctx, u.MeetingPolicy); err != nil {
				return User{}, err
			}
		}
	}
	if p.LocationProfile != nil {
		u.LocationProfile = *p.LocationProfile
		if u.LocationProfile != "" {
			if err := s.requireProfile(ctx, u.LocationProfile); err != nil {
				return User{}, err
			}
		}
	}
	if p.Pool != nil {
		u.Pool = strings.ToLower(*p.Pool)
		if err := s.requirePool(ctx, u.Pool); err != nil {
			return User{}, err
		}
	}
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	if err := s.checkNumbers(ctx, u); err != nil {
		return User{}, err
	}
	want, oldPool := u, ""
	u, err = s.store.UpdateUser(ctx, uri, func(cur *directory.User) error {
		oldPool = cur.Pool
		// Only the fields a patch may change are copied, so a PIN
		// attempt counted since the read above is kept.
		cur.DisplayName, cur.Extension, cur.LineURI = want.DisplayName, want.Extension, want.LineURI
		cur.Enabled, cur.EnterpriseVoice = want.Enabled, want.EnterpriseVoice
		cur.MeetingPolicy, cur.LocationProfile, cur.Pool = want.MeetingPolicy, want.LocationProfile, want.Pool
		return nil
	})
	if err != nil {
		return User{}, storeErr(err, "update", "user "+uri)
	}
	s.log.InfoContext(ctx, "user updated", "uri", uri)
	if !u.Enabled && s.conf != nil {
		if n := s.conf.OrganizerRemoved(uri); n > 0 {
			s.log.InfoContext(ctx, "the disabled user's active meetings were ended", "uri", uri, "meetings", n)
		}
	}
	if oldPool != u.Pool && s.conf != nil {
		// A conference ID names its pool: the user's meetings get new
		// ones in the new pool (seed 000, "Focus Factory").
		if _, err := s.conf.Rehome(ctx, uri); err != nil {
			return User{}, fmt.Errorf("user %s moved to %s, but his meetings could not follow: %w", uri, u.Pool, err)
		}
		if u, err = s.store.User(ctx, uri); err != nil {
			return User{}, storeErr(err, "read", "user "+uri)
		}
	}
	return s.view(ctx, u)
}

// DeleteUser deletes the user uri.
func (s *Service) DeleteUser(ctx context.Context, uri string) error {
	uri = normalizeURI(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteUser(ctx, uri); err != nil {
		return storeErr(err, "delete", "user "+uri)
	}
	s.log.InfoContext(ctx, "user deleted", "uri", uri)
	if s.conf != nil {
		if n := s.conf.OrganizerRemoved(uri); n > 0 {
			s.log.InfoContext(ctx, "the deleted user's active meetings were ended", "uri", uri, "meetings", n)
		}
	}
	return nil
}
