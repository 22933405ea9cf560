// Package directory is Parley's model of the configuration data that OCS 2007
// R2 keeps in Active Directory and in the pool's database (seed 000, "Active
// Directory–Based Configuration Data"; seed 003, "Enterprise Voice"): the
// organization and its SIP domains, pools and servers, users, Conferencing
// Attendant contact objects (access numbers), location profiles, regions,
// meeting policies, pool PSTN conferencing settings, trusted services and the
// web URLs handed out by in-band provisioning.
//
// The package holds the types, their validation and the Store interface that
// the store package implements. It does no I/O itself.
package directory

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/dialplan"
)

// Errors returned by Store implementations. Callers match them with errors.Is.
var (
	ErrNotFound = errors.New("directory: not found")
	ErrExists   = errors.New("directory: already exists")
	// ErrInUse reports a delete refused because other objects refer to the
	// object (a pool with users, a region with access numbers, ...).
	ErrInUse = errors.New("directory: in use")
)

// ValidationError reports an object that failed validation. Field names the
// offending field in the JSON form of the object.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Organization is the one organization a Parley deployment serves.
type Organization struct {
	// Name is shown in invitations and web pages.
	Name string `json:"name"`
	// Domains are the SIP domains the organization owns; the first is the
	// primary domain, which is also the digest realm.
	Domains []string `json:"domains"`
	// ConferenceKey is the secret that keys conference-ID obfuscation (seed
	// 000, "Focus Factory"). It is generated once and never shown.
	ConferenceKey []byte `json:"-"`
	// WebInternalURL and WebExternalURL are the global Communicator Web
	// Access-style URLs handed to clients by in-band provisioning; pools may
	// override them.
	WebInternalURL string `json:"web_internal_url,omitempty"`
	WebExternalURL string `json:"web_external_url,omitempty"`
}

// PrimaryDomain returns the first SIP domain, or "" when none is set.
func (o Organization) PrimaryDomain() string {
	if len(o.Domains) == 0 {
		return ""
	}
	return o.Domains[0]
}

// HasDomain reports whether d is one of the organization's SIP domains.
func (o Organization) HasDomain(d string) bool {
	for _, x := range o.Domains {
		if strings.EqualFold(x, d) {
			return true
		}
	}
	return false
}

// Validate checks the organization.
func (o Organization) Validate() error {
	if strings.TrimSpace(o.Name) == "" {
		return invalid("name", "must not be empty")
	}
	if len(o.Domains) == 0 {
		return invalid("domains", "at least one SIP domain is required")
	}
	for _, d := range o.Domains {
		if !validHost(d) {
			return invalid("domains", "%q is not a valid domain name", d)
		}
	}
	if err := validURL("web_internal_url", o.WebInternalURL); err != nil {
		return err
	}
	return validURL("web_external_url", o.WebExternalURL)
}

// PSTNSettings are a pool's PSTN conferencing settings (seed 000: minimum PIN
// length, retry lockout count and PIN aging).
type PSTNSettings struct {
	// MinPINLength is between 3 and 24; OCS's default is 5.
	MinPINLength int `json:"min_pin_length"`
	// MaxPINAttempts is the number of wrong PINs after which a user's PIN is
	// locked out.
	MaxPINAttempts int `json:"max_pin_attempts"`
	// PINExpiryDays is how long a PIN stays valid after it was set; 0 means
	// PINs never expire.
	PINExpiryDays int `json:"pin_expiry_days"`
}

// DefaultPSTNSettings are the settings of a new pool.
func DefaultPSTNSettings() PSTNSettings {
	return PSTNSettings{MinPINLength: 5, MaxPINAttempts: 10, PINExpiryDays: 0}
}

// Validate checks the settings.
func (s PSTNSettings) Validate() error {
	if s.MinPINLength < 3 || s.MinPINLength > 24 {
		return invalid("min_pin_length", "must be between 3 and 24, not %d", s.MinPINLength)
	}
	if s.MaxPINAttempts < 1 || s.MaxPINAttempts > 1000 {
		return invalid("max_pin_attempts", "must be between 1 and 1000, not %d", s.MaxPINAttempts)
	}
	if s.PINExpiryDays < 0 || s.PINExpiryDays > 3650 {
		return invalid("pin_expiry_days", "must be between 0 (never) and 3650, not %d", s.PINExpiryDays)
	}
	return nil
}

// Pool is a pool of front-end servers (a Standard Edition server is a pool of
// one). It hosts the meetings of its users.
type Pool struct {
	FQDN string `json:"fqdn"`
	// ID is the numeric pool ID that prefixes the conference IDs of the
	// pool's meetings: at least two digits (seed 000, "Focus Factory").
	ID   string       `json:"id"`
	PSTN PSTNSettings `json:"pstn"`
	// WebInternalURL and WebExternalURL override the organization's URLs
	// for this pool's users when set.
	WebInternalURL string `json:"web_internal_url,omitempty"`
	WebExternalURL string `json:"web_external_url,omitempty"`
}

var poolIDRe = regexp.MustCompile(`^[0-9]{2,6}$`)

// Validate checks the pool.
func (p Pool) Validate() error {
	if !validHost(p.FQDN) {
		return invalid("fqdn", "%q is not a valid host name", p.FQDN)
	}
	if !poolIDRe.MatchString(p.ID) {
		return invalid("id", "pool ID %q must be 2 to 6 digits", p.ID)
	}
	if err := p.PSTN.Validate(); err != nil {
		return err
	}
	if err := validURL("web_internal_url", p.WebInternalURL); err != nil {
		return err
	}
	return validURL("web_external_url", p.WebExternalURL)
}

// Server is one front-end server of a pool.
type Server struct {
	FQDN string `json:"fqdn"`
	Pool string `json:"pool"`
}

// Validate checks the server.
func (s Server) Validate() error {
	if !validHost(s.FQDN) {
		return invalid("fqdn", "%q is not a valid host name", s.FQDN)
	}
	if !validHost(s.Pool) {
		return invalid("pool", "%q is not a valid pool FQDN", s.Pool)
	}
	return nil
}

// Trusted service types of seed 000 ("Trusted Services").
const (
	ServiceAttendant    = "Microsoft.RTC.Applications.CAA"
	ServiceAnnouncement = "Microsoft.RTC.Applications.CAS"
)

// TrustedService marks a pool or server FQDN as running a trusted
// application. Seed 000 keeps one instance per pool and one per server of the
// pool for each service type.
type TrustedService struct {
	FQDN string `json:"fqdn"`
	Type string `json:"type"`
	Port int    `json:"port"`
}

// Validate checks the trusted service.
func (t TrustedService) Validate() error {
	if !validHost(t.FQDN) {
		return invalid("fqdn", "%q is not a valid host name", t.FQDN)
	}
	if t.Type != ServiceAttendant && t.Type != ServiceAnnouncement {
		return invalid("type", "must be %s or %s", ServiceAttendant, ServiceAnnouncement)
	}
	if t.Port < 1 || t.Port > 65535 {
		return invalid("port", "must be between 1 and 65535")
	}
	return nil
}

// LocationProfile is a named, ordered list of normalization rules (seed 003,
// "Location Profiles").
type LocationProfile struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Rules       []dialplan.Rule `json:"rules"`
}

// Validate checks the profile; a rule that does not compile is reported with
// its position and the compiler's message.
func (l LocationProfile) Validate() error {
	if err := validName("name", l.Name); err != nil {
		return err
	}
	if _, err := dialplan.Compile(l.Rules); err != nil {
		return invalid("rules", "%v", strings.TrimPrefix(err.Error(), "dialplan: "))
	}
	return nil
}

// Region is a group of access numbers belonging to one location profile
// (seed 000, "Location Profile to Access Number Mappings").
type Region struct {
	Name            string `json:"name"`
	LocationProfile string `json:"location_profile"`
}

// Validate checks the region.
func (r Region) Validate() error {
	if err := validName("name", r.Name); err != nil {
		return err
	}
	return validName("location_profile", r.LocationProfile)
}

// MeetingPolicy decides what a user's meetings may do (seed 000, "Global
// Meeting Policy"; seed 003, "Meeting Policy").
type MeetingPolicy struct {
	Name string `json:"name"`
	// PSTNDialIn is "Enable PSTN conference dial-in" (EnablePSTNConferencing).
	PSTNDialIn bool `json:"pstn_dial_in"`
	// PasscodeRequired is "PSTN conference dial-in requires passcode"
	// (TrustedConferencingPinRequired): anonymous dial-in needs a passcode.
	PasscodeRequired bool `json:"passcode_required"`
	// MaxMeetingSize caps the number of participants in a meeting.
	MaxMeetingSize int `json:"max_meeting_size"`
	// AnonymousAllowed lets the user invite anonymous participants.
	AnonymousAllowed bool `json:"anonymous_allowed"`
}

// Validate checks the policy.
func (m MeetingPolicy) Validate() error {
	if err := validName("name", m.Name); err != nil {
		return err
	}
	if m.MaxMeetingSize < 2 || m.MaxMeetingSize > 100000 {
		return invalid("max_meeting_size", "must be between 2 and 100000, not %d", m.MaxMeetingSize)
	}
	return nil
}

// AccessNumber is a Conferencing Attendant contact object: one dial-in access
// number (seed 000, "Contact Objects").
type AccessNumber struct {
	// LineURI is the number as a tel URI in E.164 form, tel:+14255550100.
	LineURI string `json:"line_uri"`
	// DisplayName is shown next to the number in invitations and web pages.
	DisplayName string `json:"display_name,omitempty"`
	// URI is the contact object's SIP URI, sip:caa-<id>@<domain>.
	URI string `json:"uri"`
	// Pool is the FQDN of the pool whose attendant answers the number.
	Pool string `json:"pool"`
	// Region groups the number with others of the same location profile.
	Region string `json:"region"`
	// PrimaryLanguage is played first; SecondaryLanguages (at most four)
	// are offered as alternatives.
	PrimaryLanguage    string   `json:"primary_language"`
	SecondaryLanguages []string `json:"secondary_languages,omitempty"`
}

// MaxSecondaryLanguages is the limit seed 000 sets.
const MaxSecondaryLanguages = 4

var langRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)

// Validate checks the access number.
func (a AccessNumber) Validate() error {
	num, ok := strings.CutPrefix(a.LineURI, "tel:")
	if !ok || !dialplan.IsE164(num) {
		return invalid("line_uri", "%q must be tel:+ followed by an E.164 number", a.LineURI)
	}
	if err := validSIPURI("uri", a.URI); err != nil {
		return err
	}
	if !validHost(a.Pool) {
		return invalid("pool", "%q is not a valid pool FQDN", a.Pool)
	}
	if err := validName("region", a.Region); err != nil {
		return err
	}
	if !langRe.MatchString(a.PrimaryLanguage) {
		return invalid("primary_language", "%q is not a language tag like en-US", a.PrimaryLanguage)
	}
	if len(a.SecondaryLanguages) > MaxSecondaryLanguages {
		return invalid("secondary_languages", "at most %d, not %d", MaxSecondaryLanguages, len(a.SecondaryLanguages))
	}
	seen := map[string]bool{a.PrimaryLanguage: true}
	for _, l := range a.SecondaryLanguages {
		if !langRe.MatchString(l) {
			return invalid("secondary_languages", "%q is not a language tag like es-US", l)
		}
		if seen[l] {
			return invalid("secondary_languages", "%q is listed twice", l)
		}
		seen[l] = true
	}
	return nil
}

// Credential is a user's SIP password, kept only as the digest HA1 values of
// RFC 3261 §22.4 and RFC 8760 §3 for the organization's realm, so the server
// can verify MD5 and SHA-256 digests without holding the password.
//
// An HA1 hashes the digest username exactly as the client sends it (RFC 7616
// §3.4.2: A1 = username ":" realm ":" password), and clients send one of two
// usernames: the user part of the SIP URI ("alice"), or the whole address
// ("alice@example.com"), which is what Pidgin SIPE sends when its login is
// the sign-in address. Without the password the server cannot make one from
// the other, so both are kept: HA1MD5 and HA1SHA256 over the user part,
// HA1bMD5 and HA1bSHA256 over the address (the "ha1b" of SIP servers such as
// Kamailio). None of them is ever serialized.
type Credential struct {
	Realm     string `json:"realm"`
	HA1MD5    string `json:"-"`
	HA1SHA256 string `json:"-"`
	// HA1bMD5 and HA1bSHA256 are over "user@domain", domain being that of
	// the user's own SIP URI. They are empty for a password set before
	// Parley kept them (store migration 0005) until it is set again: until
	// then only the user-part username authenticates.
	HA1bMD5    string `json:"-"`
	HA1bSHA256 string `json:"-"`
}

// PIN is the state of a user's dial-in PIN (seed 000: minimum length, retry
// lockout, aging).
type PIN struct {
	// Hash is the PHC-format argon2id hash; empty when no PIN is set.
	Hash string `json:"-"`
	// SetAt is when the PIN was last set.
	SetAt time.Time `json:"set_at,omitzero"`
	// FailedAttempts counts wrong PINs since the last success.
	FailedAttempts int `json:"failed_attempts"`
	// LockedOut is set when FailedAttempts reached the pool's limit; an
	// administrator (or setting a new PIN) clears it.
	LockedOut bool `json:"locked_out"`
}

// IsSet reports whether the user has a PIN.
func (p PIN) IsSet() bool { return p.Hash != "" }

// Expired reports whether the PIN is older than days (0: never expires).
func (p PIN) Expired(now time.Time, days int) bool {
	return days > 0 && p.IsSet() && now.Sub(p.SetAt) > time.Duration(days)*24*time.Hour
}

// User is an enterprise user.
type User struct {
	// URI is the user's SIP URI, sip:alice@parley.test, lower-cased.
	URI         string `json:"uri"`
	DisplayName string `json:"display_name,omitempty"`
	// Pool is the home pool's FQDN: it registers the user and hosts his
	// meetings.
	Pool    string `json:"pool"`
	Enabled bool   `json:"enabled"`
	// EnterpriseVoice enables calls to and from phone numbers.
	EnterpriseVoice bool `json:"enterprise_voice"`
	// LineURI is tel:+E164 (optionally ;ext=N); Extension is the short
	// number a caller types to the attendant.
	LineURI         string `json:"line_uri,omitempty"`
	Extension       string `json:"extension,omitempty"`
	LocationProfile string `json:"location_profile,omitempty"`
	MeetingPolicy   string `json:"meeting_policy,omitempty"`
	// ConferenceID is the user's assigned ("My Meeting") conference ID.
	ConferenceID string     `json:"conference_id,omitempty"`
	Credential   Credential `json:"credential"`
	PIN          PIN        `json:"pin"`
}

var extRe = regexp.MustCompile(`^[0-9]{1,15}$`)

// Validate checks the user's own fields; references to other objects are
// checked by the store.
func (u User) Validate() error {
	if err := validSIPURI("uri", u.URI); err != nil {
		return err
	}
	if u.URI != strings.ToLower(u.URI) {
		return invalid("uri", "must be lower case")
	}
	if len(u.DisplayName) > 256 {
		return invalid("display_name", "longer than 256 characters")
	}
	if !validHost(u.Pool) {
		return invalid("pool", "%q is not a valid pool FQDN", u.Pool)
	}
	if u.LineURI != "" {
		num, ok := strings.CutPrefix(u.LineURI, "tel:")
		num, _, _ = strings.Cut(num, ";")
		if !ok || !dialplan.IsE164(num) {
			return invalid("line_uri", "%q must be tel:+ followed by an E.164 number", u.LineURI)
		}
	}
	if u.Extension != "" && !extRe.MatchString(u.Extension) {
		return invalid("extension", "%q must be 1 to 15 digits", u.Extension)
	}
	return nil
}

// SplitSIPURI returns the user and host parts of a sip: or sips: URI with no
// parameters, or ok=false.
func SplitSIPURI(uri string) (user, host string, ok bool) {
	rest, found := strings.CutPrefix(uri, "sip:")
	if !found {
		if rest, found = strings.CutPrefix(uri, "sips:"); !found {
			return "", "", false
		}
	}
	user, host, found = strings.Cut(rest, "@")
	if !found || user == "" || host == "" {
		return "", "", false
	}
	return user, host, true
}

var userRe = regexp.MustCompile(`^[A-Za-z0-9._~!$&'*+,;=%-]{1,64}$`)

func validSIPURI(field, uri string) error {
	user, host, ok := SplitSIPURI(uri)
	if !ok || !userRe.MatchString(user) || !validHost(host) || strings.ContainsAny(user, ";") {
		return invalid(field, "%q is not a SIP URI like sip:alice@example.com", uri)
	}
	return nil
}

var hostRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func validHost(h string) bool { return len(h) <= 253 && hostRe.MatchString(h) }

var nameRe = regexp.MustCompile(`^[\pL\pN][\pL\pN _.'()&-]{0,63}$`)

func validName(field, s string) error {
	if !nameRe.MatchString(s) {
		return invalid(field, "%q must be 1 to 64 letters, digits, spaces or ._-'()&, starting with a letter or digit", s)
	}
	return nil
}

func validURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "%q is not an http(s) URL", s)
	}
	return nil
}
