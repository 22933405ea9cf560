package focus

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Role is a participant's role (seed 003, "User Roles").
type Role string

// The roles of a meeting.
const (
	// RoleOrganizer is the user who created the meeting: "by definition
	// also a presenter", with control over all of it.
	RoleOrganizer Role = "organizer"
	// RolePresenter may control the meeting: lock it, mute, eject,
	// promote, end it.
	RolePresenter Role = "presenter"
	// RoleAttendee takes part and controls only his own audio.
	RoleAttendee Role = "attendee"
)

// rank orders roles by power.
func (r Role) rank() int {
	switch r {
	case RoleOrganizer:
		return 2
	case RolePresenter:
		return 1
	}
	return 0
}

// controls reports whether the role may run the meeting.
func (r Role) controls() bool { return r.rank() > 0 }

// wire is the role as rosters and addUser responses write it. OCS writes
// the organizer as a presenter (the roles of [MS-CONFBAS] examples are
// attendee and presenter) and names him in conference-description; SIPE
// makes a user a chat operator when his first roles/entry is "presenter".
func (r Role) wire() string {
	if r == RoleAttendee {
		return string(RoleAttendee)
	}
	return string(RolePresenter)
}

// participant is one user in the roster: a person with his focus dialog,
// his audio legs at the A/V MCU, his IM sessions at the chat MCU, or any
// of these together.
type participant struct {
	Entity      string
	DisplayName string
	Role        Role
	// Authenticated users were authenticated by the server (enterprise
	// or federated); Enterprise ones are users of this organization's
	// directory, who keep the meeting alive (the 10-minute rule).
	Authenticated bool
	Enterprise    bool
	// Muted is the participant's audio mute, applied at the A/V MCU to
	// every leg he has and will have.
	Muted bool
	// MutedBy says who muted him, while Muted: he may undo his own mute,
	// not a leader's.
	MutedBy  muter
	JoinedAt time.Time
	// Seq orders the roster by arrival.
	Seq uint64
	// Session is the focus dialog, nil for a caller who only dialed in.
	Session *session
	// DialIn is set for a caller the Conferencing Attendant added.
	DialIn *dialIn
	// Legs are the A/V MCU's legs of the participant. A resumed
	// meeting drops them (they live and die with the MCU's media) and
	// tells the subscribers.
	Legs []leg
	// Chats are his IM sessions at the chat MCU; like Legs, they end
	// with the MCU's sessions and a resumed meeting drops them.
	Chats []leg
	// ChatAllowed is set once he joined with a client (a focus dialog):
	// the chat MCU was told to expect him, and must be told when he
	// leaves. Telephones do not take part in group IM.
	ChatAllowed bool
	// keys is his in-call key sequence in progress (keys.go); it is not
	// persisted: a restart forgets half a command.
	keys keyState
}

// muter is who muted a participant.
type muter string

const (
	// mutedBySelf is a participant who muted himself.
	mutedBySelf muter = "self"
	// mutedByLeader is one the organizer or a presenter muted, alone or
	// with the whole audience: only a leader may unmute him.
	mutedByLeader muter = "leader"
)

// session is a participant's focus dialog and the endpoint it stands for.
type session struct {
	Dialog   *dialog.Dialog
	Endpoint string
}

// leg is one connection of a participant at an MCU, as the MCU reported
// it: an audio leg at the A/V MCU or an IM session at the chat MCU. ID is
// the MCU's name for it; Endpoint is the roster's endpoint entity, made
// here, so that the MCU's identifiers (a dialog's Call-ID) are never
// published.
type leg struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
}

// dialIn describes a caller added by the Conferencing Attendant.
type dialIn struct {
	CallerID string `json:"caller_id,omitempty"`
	Language string `json:"language,omitempty"`
	// Endpoint is the entity of the caller's audio endpoint before the
	// MCU reports his leg.
	Endpoint string `json:"endpoint"`
	// ReferTo is where the MCU fetches his audio (DialIn.ReferTo); it is
	// only of use while the MCU dials, so it is not persisted.
	ReferTo string `json:"-"`
}

// present reports whether the participant is still connected somehow:
// by his focus dialog, by a call the attendant added (until it is
// removed), or by audio legs or IM sessions alone.
func (p *participant) present() bool {
	return p.Session != nil || p.DialIn != nil || len(p.Legs) > 0 || len(p.Chats) > 0
}

// legIndex returns the index of a leg, or -1.
func (p *participant) legIndex(id string) int { return indexOf(p.Legs, id) }

// chatIndex returns the index of an IM session, or -1.
func (p *participant) chatIndex(id string) int { return indexOf(p.Chats, id) }

// indexOf returns the index of the connection with the MCU's id, or -1.
func indexOf(ls []leg, id string) int {
	return slices.IndexFunc(ls, func(l leg) bool { return l.ID == id })
}

// newEntity returns a random identifier for endpoints and anonymous users:
// 128 bits, in the braced GUID form clients use for endpoint entities.
func newEntity() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "}"
}

// anonymousDomain is where anonymous participants' entities live: the
// host [MS-SIPAE] anonymous users put in their From (RFC 2606 reserves
// .invalid, so it can never be a real user's).
const anonymousDomain = "anonymous.invalid"

// anonymousEntity returns a fresh entity for an anonymous participant. It
// is never what the caller claimed: an unauthenticated caller must not be
// able to take over a roster entry.
func anonymousEntity(kind string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "sip:" + kind + "-" + hex.EncodeToString(b[:]) + "@" + anonymousDomain
}

// maxDisplayName bounds display names taken from requests.
const maxDisplayName = 128

// cleanDisplayName makes a display name from a request safe to publish:
// valid UTF-8 without control characters, trimmed and bounded.
func cleanDisplayName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > maxDisplayName {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// callerIDText is how a caller ID is shown: the number, without a tel:
// scheme or parameters (tel:+14255550100;phone-context=... shows as
// +14255550100).
func callerIDText(id string) string {
	id = strings.TrimSpace(id)
	if rest, ok := strings.CutPrefix(strings.ToLower(id), "tel:"); ok {
		id = id[len(id)-len(rest):]
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(id), "sip:"); ok {
		id = id[len(id)-len(rest):]
		id, _, _ = strings.Cut(id, "@")
	}
	id, _, _ = strings.Cut(id, ";")
	return cleanDisplayName(id)
}
