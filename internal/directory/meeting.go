package directory

import (
	"context"
	"regexp"
	"time"
)

// MeetingKind says how a meeting was scheduled, which decides its expiry
// (seed 003, "Meeting Expiration").
type MeetingKind string

// Meeting kinds.
const (
	// KindOneTime is a scheduled meeting that happens once: it expires 14
	// days after its end.
	KindOneTime MeetingKind = "one-time"
	// KindRecurring is a recurring scheduled meeting. With an end date it
	// expires 14 days after the end of its last occurrence; without one, 6
	// months after its last activation.
	KindRecurring MeetingKind = "recurring"
	// KindAdHoc is an ad hoc IM or A/V conference (Meet Now): it expires 8
	// hours after it was created or last activated.
	KindAdHoc MeetingKind = "ad-hoc"
	// KindPersonal is a user's "My Meeting": the meeting that carries his
	// assigned conference ID. It is kept while the user exists; its expiry
	// only moves forward.
	KindPersonal MeetingKind = "personal"
)

// Admission policies of a meeting: who may join (the msci:admission-policy
// values of [MS-CONFPRO] §4.1 and UCMA's ConferenceAdmissionPolicy).
const (
	AdmitClosed    = "closedAuthenticated" // listed enterprise users only
	AdmitOpen      = "openAuthenticated"   // any authenticated user
	AdmitAnonymous = "anonymous"           // anyone, dial-in callers included
)

// Lengths a meeting's fields may have. A meeting of maximal size still stays
// well under the 2 KiB per stored meeting the design allows for typical
// ones; the lists are what make a meeting big.
const (
	MaxSubjectLen   = 256
	MaxParticipants = 250 // presenters plus attendees listed by name
)

// Meeting is a scheduled or ad hoc conference as the pool database keeps it
// (seed 003, "Meeting Creation" to "Meeting Expiration"): who organized it,
// who is invited in which role, how it is reached, and when it expires.
type Meeting struct {
	// ID is the meeting ID: 32 hexadecimal characters, never reused.
	ID string `json:"id"`
	// Organizer is the SIP URI of the user who scheduled the meeting.
	Organizer string `json:"organizer"`
	// Key is the msci:conference-id the organizer's client chose: 8 to 32
	// alphanumerics, unique among the organizer's meetings ([MS-CONFPRO]
	// §2.2.1.2). It is the last part of the focus URI.
	Key string `json:"key"`
	// Pool is the FQDN of the pool that hosts the meeting: the organizer's.
	Pool string `json:"pool"`
	// ConferenceID is the numeric PSTN conference ID callers type, or empty
	// when the meeting has no dial-in access. The store keeps it unique.
	ConferenceID string      `json:"conference_id,omitempty"`
	Kind         MeetingKind `json:"kind"`
	Subject      string      `json:"subject,omitempty"`
	Admission    string      `json:"admission"`
	// Presenters and Attendees are the SIP URIs invited in each role;
	// listed presenters join as presenters (seed 003, "Roles").
	Presenters []string `json:"presenters,omitempty"`
	Attendees  []string `json:"attendees,omitempty"`
	// PasscodeHash is the argon2id hash of the dial-in passcode, or empty.
	PasscodeHash string `json:"-"`
	// AccessKey is the anonymous access key (the deprecated
	// conference-key), sealed with a key derived from the organization key:
	// anonymous joins are checked by digest against it, so it must be
	// recoverable, but it is never stored in the clear.
	AccessKey []byte `json:"-"`
	// StartsAt and EndsAt are the scheduled times (zero for ad hoc and
	// personal meetings); for a recurring meeting, the first occurrence.
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// RecursUntil is the end of a recurring meeting's last occurrence, zero
	// when it has no end date.
	RecursUntil time.Time `json:"recurs_until,omitzero"`
	// ExpiresAt is when the sweeper may delete the meeting if it is not
	// active.
	ExpiresAt time.Time `json:"expires_at"`
	// LastActivatedAt is the last time the meeting's Focus started.
	LastActivatedAt time.Time `json:"last_activated_at,omitzero"`
	// Active is set while a Focus runs the meeting; active meetings are
	// never swept.
	Active    bool      `json:"active"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var (
	meetingIDRe  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	meetingKeyRe = regexp.MustCompile(`^[A-Za-z0-9]{8,32}$`)
	confIDRe     = regexp.MustCompile(`^[0-9]{7,29}$`)
)

// ValidMeetingKey reports whether k can be a meeting key (msci:conference-id).
func ValidMeetingKey(k string) bool { return meetingKeyRe.MatchString(k) }

// Validate checks a meeting before it is stored.
func (m Meeting) Validate() error {
	switch {
	case !meetingIDRe.MatchString(m.ID):
		return invalid("id", "must be 32 lower-case hexadecimal characters")
	case !meetingKeyRe.MatchString(m.Key):
		return invalid("key", "must be 8 to 32 letters and digits")
	case m.Pool == "" || !validHost(m.Pool):
		return invalid("pool", "must be a pool FQDN")
	case m.ConferenceID != "" && !confIDRe.MatchString(m.ConferenceID):
		return invalid("conference_id", "must be 7 to 29 digits")
	case len(m.Subject) > MaxSubjectLen:
		return invalid("subject", "longer than %d bytes", MaxSubjectLen)
	case len(m.Presenters)+len(m.Attendees) > MaxParticipants:
		return invalid("presenters", "more than %d people invited", MaxParticipants)
	case m.ExpiresAt.IsZero():
		return invalid("expires_at", "required")
	case !m.EndsAt.IsZero() && m.EndsAt.Before(m.StartsAt):
		return invalid("ends_at", "before starts_at")
	}
	if err := validSIPURI("organizer", m.Organizer); err != nil {
		return err
	}
	switch m.Kind {
	case KindOneTime, KindRecurring, KindAdHoc, KindPersonal:
	default:
		return invalid("kind", "must be one-time, recurring, ad-hoc or personal")
	}
	switch m.Admission {
	case AdmitClosed, AdmitOpen, AdmitAnonymous:
	default:
		return invalid("admission", "must be %s, %s or %s", AdmitClosed, AdmitOpen, AdmitAnonymous)
	}
	for _, list := range [][]string{m.Presenters, m.Attendees} {
		for _, u := range list {
			if err := validSIPURI("presenters", u); err != nil {
				return err
			}
		}
	}
	return nil
}

// MeetingStore is the pool database's meeting table. The store package
// implements it on SQLite and PostgreSQL. Meetings are keyed by organizer
// and key; their conference IDs are unique (ErrExists names the clash).
type MeetingStore interface {
	// CreateMeeting stores a new meeting. It fails with ErrExists when the
	// organizer already has a meeting with that key, the meeting ID is
	// taken, or the conference ID is in use; with a *ValidationError when
	// the organizer does not exist. A personal meeting also becomes the
	// organizer's assigned conference ID (User.ConferenceID).
	CreateMeeting(ctx context.Context, m Meeting) error
	Meeting(ctx context.Context, organizer, key string) (Meeting, error)
	// MeetingByConferenceID finds the meeting a dial-in caller means.
	MeetingByConferenceID(ctx context.Context, conferenceID string) (Meeting, error)
	// Meetings lists an organizer's meetings by key.
	Meetings(ctx context.Context, organizer string) ([]Meeting, error)
	// UpdateMeeting reads the meeting, applies fn and writes the result in
	// one transaction; when fn returns an error nothing is written. The
	// organizer, key and meeting ID cannot change. A new conference ID that
	// is in use fails with ErrExists. Changing a personal meeting's
	// conference ID changes the organizer's assigned one too.
	UpdateMeeting(ctx context.Context, organizer, key string, fn func(*Meeting) error) (Meeting, error)
	DeleteMeeting(ctx context.Context, organizer, key string) error
	// ExpiredMeetings returns up to limit meetings that expired before now
	// and are not active, oldest first.
	ExpiredMeetings(ctx context.Context, now time.Time, limit int) ([]Meeting, error)
	// ConferenceIDs calls fn with every conference ID in use in the pool,
	// for the allocator's view of which IDs are free.
	ConferenceIDs(ctx context.Context, pool string, fn func(id string) error) error
}
