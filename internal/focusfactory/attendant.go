package focusfactory

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
)

// The Conferencing Attendant's lookups (seed 001, "Connecting to the
// Meeting", steps 8-9): which meeting a typed conference ID names, and
// whether a passcode, or an extension and PIN, are right. They are
// privileged: only trusted services reach them (ServeTrusted), and every
// guess is counted.

// Guessing limits. A PIN belongs to a user, whose pool says how many wrong
// ones lock it (PSTNSettings.MaxPINAttempts). A passcode belongs to a
// meeting: it is locked for PasscodeLockout after MaxPasscodeFailures wrong
// ones, whoever typed them.
const (
	MaxPasscodeFailures = 10
	PasscodeLockout     = 15 * time.Minute
)

// Failure reasons of the attendant commands.
const (
	reasonInvalidID       = "invalidConferenceId"
	reasonWrongPasscode   = "wrongPasscode"
	reasonTooManyAttempts = "tooManyAttempts"
	reasonAuthFailed      = "authenticationFailed"
	reasonPINLocked       = "pinLockedOut"
	reasonPINExpired      = "pinExpired"
)

// ServeTrusted answers a SERVICE request from a trusted service (the
// Conferencing Attendant of a pool), which the caller has authenticated.
// It serves only the attendant's commands.
func (f *Factory) ServeTrusted(ctx context.Context, req *sip.Request, service string) *sip.Response {
	creq, res := f.parse(req)
	if res != nil {
		return res
	}
	var cmd c3p.Command
	var fail *failure
	switch c := creq.Command.(type) {
	case *c3p.ResolveConference:
		cmd, fail = f.resolve(ctx, c)
	case *c3p.VerifyPasscode:
		cmd, fail = f.verifyPasscode(ctx, c)
	case *c3p.VerifyPIN:
		cmd, fail = f.verifyPIN(ctx, c)
	default:
		fail = refuse(reasonOther, c3p.DiagNotImplemented, "%s is not served to trusted services", creq.Command.CommandName())
	}
	if fail != nil {
		if fail.cmd != nil {
			out := c3p.NewResponse(creq.Header, c3p.CodeFailure, fail.cmd)
			out.Reason = fail.reason
			return f.answer(req, out, fail.diag, fail.detail)
		}
		return f.answer(req, fail.response(creq), fail.diag, fail.detail)
	}
	f.log.DebugContext(ctx, "attendant command", "service", service, "command", creq.Command.CommandName())
	return f.answer(req, c3p.NewResponse(creq.Header, c3p.CodeSuccess, cmd), 0, "")
}

// resolve finds the meeting a dial-in conference ID names. A mistyped ID
// is caught by its check digit before any lookup.
func (f *Factory) resolve(ctx context.Context, c *c3p.ResolveConference) (c3p.Command, *failure) {
	m, fail := f.dialInMeeting(ctx, c.ConferenceID)
	if fail != nil {
		return nil, fail
	}
	required := m.PasscodeHash != ""
	out := &c3p.ResolveConference{
		ConferenceID:     m.ConferenceID,
		FocusURI:         c3p.ConferenceURI(m.Organizer, c3p.ServiceFocus, m.Key),
		MeetingID:        m.ID,
		Organizer:        m.Organizer,
		Subject:          m.Subject,
		Admission:        m.Admission,
		PasscodeRequired: &required,
		Pool:             m.Pool,
	}
	if u, err := f.dir.User(ctx, m.Organizer); err == nil {
		out.OrganizerName = u.DisplayName
	}
	return out, nil
}

// dialInMeeting looks up a live meeting by conference ID.
func (f *Factory) dialInMeeting(ctx context.Context, id string) (directory.Meeting, *failure) {
	if _, _, _, err := f.cfg.Codec.Decode(id); err != nil {
		reason := reasonInvalidID
		if errors.Is(err, confid.ErrMalformed) {
			reason = reasonNotFound // a well-formed ID of no pool of ours
		}
		return directory.Meeting{}, refuse(reason, c3p.DiagInvalidConferenceEntity, "%v", err)
	}
	m, err := f.meetings.MeetingByConferenceID(ctx, id)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return m, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "no meeting has this conference ID")
	case err != nil:
		return m, f.internal("looking up a conference ID", err)
	case !m.Active && m.ExpiresAt.Before(f.cfg.Now()):
		return m, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "the meeting has expired")
	}
	return m, nil
}

// verifyPasscode checks a meeting's passcode.
func (f *Factory) verifyPasscode(ctx context.Context, c *c3p.VerifyPasscode) (c3p.Command, *failure) {
	m, fail := f.dialInMeeting(ctx, c.ConferenceID)
	if fail != nil {
		return nil, fail
	}
	if m.PasscodeHash == "" {
		return &c3p.VerifyPasscode{ConferenceID: m.ConferenceID}, nil // nothing to check
	}
	if f.guesses.locked(m.ID, f.cfg.Now()) {
		return nil, refuse(reasonTooManyAttempts, c3p.DiagAuthorizationFailed, "too many wrong passcodes for this meeting; try again later")
	}
	if c.Passcode == nil {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "no passcode")
	}
	code, err := c.Passcode.OpenPasscode(f.cfg.PasscodeKey)
	if err != nil {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "the passcode cannot be decrypted")
	}
	ok, err := directory.VerifySecret(m.PasscodeHash, code)
	if err != nil {
		return nil, f.internal("checking a passcode", err)
	}
	if !ok {
		f.guesses.fail(m.ID, f.cfg.Now())
		return nil, refuse(reasonWrongPasscode, c3p.DiagAuthorizationFailed, "wrong passcode")
	}
	f.guesses.clear(m.ID)
	return &c3p.VerifyPasscode{ConferenceID: m.ConferenceID}, nil
}

// verifyPIN authenticates a caller by extension or phone number and PIN
// (seed 000: PIN length, lockout after the pool's retry count, aging). A
// wrong PIN is counted on the user, so lockout holds across calls and
// servers; a right one clears the count. Which of user, PIN or extension
// was wrong is not told apart, so that extensions cannot be probed.
func (f *Factory) verifyPIN(ctx context.Context, c *c3p.VerifyPIN) (c3p.Command, *failure) {
	if c.PIN == nil || (c.Extension == "") == (c.PhoneNumber == "") {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "give a PIN and either an extension or a phone number")
	}
	pin, err := c.PIN.OpenPasscode(f.cfg.PasscodeKey)
	if err != nil {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "the PIN cannot be decrypted")
	}
	var u directory.User
	if c.Extension != "" {
		u, err = f.dir.UserByExtension(ctx, c.Extension)
	} else {
		u, err = f.dir.UserByLineURI(ctx, "tel:"+strings.TrimPrefix(c.PhoneNumber, "tel:"))
	}
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return nil, refuse(reasonAuthFailed, c3p.DiagAuthorizationFailed, "wrong extension or PIN")
	case err != nil:
		return nil, f.internal("looking up a caller", err)
	case !u.Enabled || !u.PIN.IsSet():
		return nil, refuse(reasonAuthFailed, c3p.DiagAuthorizationFailed, "wrong extension or PIN")
	case u.PIN.LockedOut:
		return nil, refuse(reasonPINLocked, c3p.DiagAuthorizationFailed, "the PIN is locked out after too many wrong attempts; the user must set a new one")
	}
	pool, err := f.dir.Pool(ctx, u.Pool)
	if err != nil {
		return nil, f.internal("loading the caller's pool", err)
	}
	ok, err := directory.VerifySecret(u.PIN.Hash, pin)
	if err != nil {
		return nil, f.internal("checking a PIN", err)
	}
	if !ok {
		left := uint64(0)
		_, err := f.dir.UpdateUser(ctx, u.URI, func(cur *directory.User) error {
			cur.PIN.FailedAttempts++
			if max := pool.PSTN.MaxPINAttempts; max > 0 && cur.PIN.FailedAttempts >= max {
				cur.PIN.LockedOut = true
			} else if max > 0 {
				left = uint64(max - cur.PIN.FailedAttempts)
			}
			return nil
		})
		if err != nil {
			return nil, f.internal("counting a wrong PIN", err)
		}
		if left == 0 {
			f.log.WarnContext(ctx, "dial-in PIN locked out after wrong attempts", "user", u.URI)
			return nil, refuse(reasonPINLocked, c3p.DiagAuthorizationFailed, "the PIN is now locked out")
		}
		fail := refuse(reasonAuthFailed, c3p.DiagAuthorizationFailed, "wrong extension or PIN")
		fail.cmd = &c3p.VerifyPIN{AttemptsLeft: &left}
		return nil, fail
	}
	if u.PIN.Expired(f.cfg.Now(), pool.PSTN.PINExpiryDays) {
		return nil, refuse(reasonPINExpired, c3p.DiagAuthorizationFailed, "the PIN has expired; the user must set a new one")
	}
	if u.PIN.FailedAttempts > 0 {
		if _, err := f.dir.UpdateUser(ctx, u.URI, func(cur *directory.User) error {
			cur.PIN.FailedAttempts = 0
			return nil
		}); err != nil {
			return nil, f.internal("clearing PIN attempts", err)
		}
	}
	return &c3p.VerifyPIN{User: u.URI, DisplayName: u.DisplayName}, nil
}

// guessLimiter counts wrong passcodes per meeting. It is per server: a
// pool of N front ends allows N times the guesses, still far fewer than a
// passcode's space.
type guessLimiter struct {
	mu sync.Mutex
	m  map[string]*guesses
}

type guesses struct {
	n     int
	first time.Time
}

// maxTrackedMeetings bounds the limiter's memory; when full, the oldest
// windows are dropped first by the next sweep.
const maxTrackedMeetings = 100_000

func (g *guessLimiter) locked(id string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.m[id]
	if e != nil && now.Sub(e.first) > PasscodeLockout {
		delete(g.m, id)
		return false
	}
	return e != nil && e.n >= MaxPasscodeFailures
}

func (g *guessLimiter) fail(id string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[string]*guesses)
	}
	if len(g.m) >= maxTrackedMeetings {
		for k, e := range g.m {
			if now.Sub(e.first) > PasscodeLockout {
				delete(g.m, k)
			}
		}
	}
	e := g.m[id]
	if e == nil {
		if len(g.m) >= maxTrackedMeetings {
			return
		}
		e = &guesses{first: now}
		g.m[id] = e
	}
	e.n++
}

func (g *guessLimiter) clear(id string) {
	g.mu.Lock()
	delete(g.m, id)
	g.mu.Unlock()
}
