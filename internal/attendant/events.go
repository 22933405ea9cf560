package attendant

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// Event is something that happened to the call; the driver hands it to
// Flow.Handle.
type Event interface{ event() }

// Answered reports that the attendant answered a call to an access number.
type Answered struct {
	// Primary is the access number's language; Secondary the others it
	// offers (at most nine get a key).
	Primary   string
	Secondary []string
	// CallerID is the caller's number, for the roster.
	CallerID string
	// Authenticated is set for an enterprise phone whose user the front
	// end already knows (seed 001, end): it is asked only the conference
	// ID and never held. User names him.
	Authenticated bool
	User          User
	// Rejoin, when set, is the meeting this caller ID was handed to
	// minutes ago: the flow offers it back with one key (Config.RejoinOffer).
	Rejoin *Recent
}

// Recent is a meeting a caller was recently handed to, and the language
// he heard then.
type Recent struct {
	Meeting Meeting
	Lang    string
}

// Blocked reports that the driver's abuse guard ends the call: the caller
// hears that there were too many attempts, then goodbye. It stands in for
// the answer that tipped the guard.
type Blocked struct{}

// Digit reports that the caller pressed a key ('0'-'9', '*', '#'; RFC 4733 events).
type Digit struct{ Key byte }

// PromptDone reports that the Play (or PlayHold) with this ID finished. A play that
// Stop ended reports nothing.
type PromptDone struct{ ID uint64 }

// TimerFired reports that the StartTimer with this ID expired.
type TimerFired struct{ ID uint64 }

// Resolved answers Resolve with the meeting, or an error (ErrInvalidID,
// ErrNotFound, other).
type Resolved struct {
	Meeting Meeting
	Err     error
}

// PasscodeChecked answers CheckPasscode with nil, ErrWrongPasscode,
// ErrTooManyAttempts or other.
type PasscodeChecked struct{ Err error }

// PINChecked answers CheckPIN with the user, or ErrAuthFailed, ErrPINLocked,
// ErrPINExpired or other.
type PINChecked struct {
	User User
	Err  error
}

// JoinResult answers Join with Waiting while the caller must be held (no
// authenticated enterprise user in the meeting yet; it may come more than
// once), then a final result: nil when he is in the meeting, or
// ErrMeetingLocked, ErrMeetingFull or other.
type JoinResult struct {
	Waiting bool
	Err     error
}

func (Answered) event()        {}
func (Digit) event()           {}
func (PromptDone) event()      {}
func (TimerFired) event()      {}
func (Resolved) event()        {}
func (PasscodeChecked) event() {}
func (PINChecked) event()      {}
func (JoinResult) event()      {}
func (Blocked) event()         {}

// Action is something the driver must do.
type Action interface{ action() }

// Prompt is one clip: a catalog key, the digits its placeholders speak
// (prompts.Compose) and, when it differs from the Play's, its language.
type Prompt struct {
	Key    prompts.Key
	Lang   string
	Digits string
}

// Play asks the driver to play the prompts in order in Lang (each
// Prompt's own Lang when set), replacing whatever plays, and to report
// PromptDone{ID} at the end.
type Play struct {
	ID      uint64
	Lang    string
	Prompts []Prompt
}

// PlayHold asks the driver to loop the hold music (prompts.HoldMusic)
// until the next Play, Stop or Hangup. It reports nothing.
type PlayHold struct{ ID uint64 }

// Stop asks the driver to silence the current play at once, without PromptDone.
type Stop struct{}

// StartTimer asks the driver to report TimerFired{ID} after After. A new
// timer replaces the previous one; the flow ignores stale ones, so
// cancelling is optional.
type StartTimer struct {
	ID    uint64
	After time.Duration
}

// Resolve asks the front end which meeting ConferenceID names
// (Backend.ResolveConference); the driver answers with Resolved.
type Resolve struct{ ConferenceID string }

// CheckPasscode asks the front end to verify the passcode
// (Backend.VerifyPasscode); the driver answers with PasscodeChecked. Passcode is a
// secret: never log it (LogValue and String leave it out).
type CheckPasscode struct {
	ConferenceID string
	Passcode     string
}

// CheckPIN asks the front end to verify the extension (or phone number)
// and PIN (Backend.VerifyPIN); the driver answers with PINChecked. PIN is a secret.
type CheckPIN struct {
	Extension string
	PIN       string
}

// Join asks the driver to add the caller to the meeting's Focus, which
// adds him to the A/V MCU, and to answer with JoinResult. A caller who is not Authenticated is held
// until an authenticated enterprise user is in the meeting.
type Join struct {
	Lang    string
	Meeting Meeting
	// Leader: he pressed * and gave a good PIN.
	Leader bool
	// Authenticated: a PIN or his enterprise phone proved who he is; User
	// names him. Otherwise CallerID stands for him in the roster.
	Authenticated bool
	User          User
	CallerID      string
}

// Hangup asks the driver to play the prompts in Lang (the last is always
// goodbye), then to end the call.
type Hangup struct {
	Lang    string
	Prompts []Prompt
}

func (Play) action()          {}
func (PlayHold) action()      {}
func (Stop) action()          {}
func (StartTimer) action()    {}
func (Resolve) action()       {}
func (CheckPasscode) action() {}
func (CheckPIN) action()      {}
func (Join) action()          {}
func (Hangup) action()        {}

// String hides the passcode.
func (a CheckPasscode) String() string {
	return fmt.Sprintf("CheckPasscode{%s, %d digits}", a.ConferenceID, len(a.Passcode))
}

// LogValue hides the passcode.
func (a CheckPasscode) LogValue() slog.Value {
	return slog.GroupValue(slog.String("conference_id", a.ConferenceID))
}

// String hides the PIN.
func (a CheckPIN) String() string { return fmt.Sprintf("CheckPIN{%s}", a.Extension) }

// LogValue hides the PIN.
func (a CheckPIN) LogValue() slog.Value {
	return slog.GroupValue(slog.String("extension", a.Extension))
}
