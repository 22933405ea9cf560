// Package attendant is the Conferencing Attendant of seed 001 ("Connecting
// to the Meeting", steps 6-10): the service that answers calls to a dial-in
// access number, asks for the conference ID and the passcode, or the
// leader's extension and PIN, checks them at the front end and hands the
// caller to the meeting.
//
// The call flow is a pure state machine, Flow: the media and SIP side feeds
// it events (the call was answered, a key was pressed, a prompt finished, a
// timer fired, the front end answered) and carries out the actions it
// returns (play prompts, start a timer, ask the front end, join, hang up).
// It does no I/O and reads no clock, so every path is a table test. FrontEnd
// is the Backend that asks a pool's front end over signed SIP SERVICE
// requests.
package attendant

import (
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// Outcomes of the front end's answers. A Backend returns them (wrapped or
// not) and the Flow tells them apart with errors.Is; any other error is a
// technical problem that ends the call.
var (
	// ErrInvalidID: the conference ID fails its check digit
	// (invalidConferenceId).
	ErrInvalidID = errors.New("attendant: invalid conference ID")
	// ErrNotFound: no live meeting has this conference ID
	// (conferenceDoesNotExist).
	ErrNotFound = errors.New("attendant: no such meeting")
	// ErrWrongPasscode: the passcode is wrong (wrongPasscode).
	ErrWrongPasscode = errors.New("attendant: wrong passcode")
	// ErrTooManyAttempts: the meeting refuses passcodes for a while after
	// too many wrong ones (tooManyAttempts).
	ErrTooManyAttempts = errors.New("attendant: too many attempts")
	// ErrAuthFailed: the extension or the PIN is wrong
	// (authenticationFailed); which one is not told.
	ErrAuthFailed = errors.New("attendant: wrong extension or PIN")
	// ErrPINLocked: the user's PIN is locked out (pinLockedOut).
	ErrPINLocked = errors.New("attendant: PIN locked out")
	// ErrPINExpired: the user's PIN has expired (pinExpired).
	ErrPINExpired = errors.New("attendant: PIN expired")
	// ErrMeetingLocked and ErrMeetingFull: the Focus refused the join.
	ErrMeetingLocked = errors.New("attendant: meeting locked")
	ErrMeetingFull   = errors.New("attendant: meeting full")
)

// Meeting is what the front end says a conference ID names
// (c3p.ResolveConference).
type Meeting struct {
	ConferenceID     string
	FocusURI         string
	MeetingID        string
	Organizer        string
	PasscodeRequired bool
	// Pool hosts the meeting.
	Pool string
}

// User is a caller the front end authenticated by extension and PIN
// (c3p.VerifyPIN).
type User struct {
	URI         string
	DisplayName string
}

// step is where the flow stands.
type step uint8

const (
	stIdle      step = iota
	stLanguage       // welcome and language options
	stRejoin         // welcome and the offer to rejoin a recent meeting
	stConfID         // entering the conference ID
	stResolving      // waiting for the front end
	stPasscode       // * for leaders, or the passcode
	stCheckingPasscode
	stExtension
	stPIN
	stCheckingPIN
	stJoining // "joining" prompt, then Join
	stAdmitting
	stHolding
	stDone
)

// collecting reports whether the step takes keys.
func (s step) collecting() bool {
	switch s {
	case stLanguage, stRejoin, stConfID, stPasscode, stExtension, stPIN:
		return true
	}
	return false
}

// Flow is one call's attendant dialogue. It is not safe for concurrent
// use: the driver feeds it one event at a time.
type Flow struct {
	cfg       Config
	step      step
	lang      string
	secondary []string
	callerID  string
	// Enterprise phones arrive authenticated.
	authenticated bool
	user          User

	seq     uint64 // last play or timer ID handed out
	playing uint64 // ID of the play in progress, 0 when silent
	timer   uint64 // ID of the armed timer, 0 when none

	typed    []byte // keys not consumed yet (type-ahead)
	entry    []byte // the field being entered
	attempts int    // wrong entries or silences in this step

	meeting   Meeting
	extension string
	leader    bool
}

// New returns a flow waiting for its call to be answered.
func New(cfg Config) *Flow {
	return &Flow{cfg: cfg.withDefaults()}
}

// Done reports whether the flow has ended: the caller was joined or the
// call is being hung up. It takes no more events.
func (f *Flow) Done() bool { return f.step == stDone }

// Language returns the language the caller hears.
func (f *Flow) Language() string { return f.lang }

// Handle advances the flow by one event and returns what the driver must
// do, in order. Events that do not apply (a stale timer, a key after the
// end) return nothing and change nothing.
func (f *Flow) Handle(ev Event) []Action {
	var out []Action
	switch ev := ev.(type) {
	case Answered:
		if f.step == stIdle {
			f.answered(ev, &out)
		}
	case Digit:
		if f.step != stIdle && f.step != stDone && isKey(ev.Key) {
			f.digit(ev.Key, &out)
		}
	case PromptDone:
		if ev.ID != 0 && ev.ID == f.playing {
			f.playing = 0
			f.promptDone(&out)
		}
	case TimerFired:
		if ev.ID != 0 && ev.ID == f.timer {
			f.timer = 0
			f.timeout(&out)
		}
	case Resolved:
		if f.step == stResolving {
			f.resolved(ev, &out)
		}
	case PasscodeChecked:
		if f.step == stCheckingPasscode {
			f.passcodeChecked(ev, &out)
		}
	case PINChecked:
		if f.step == stCheckingPIN {
			f.pinChecked(ev, &out)
		}
	case JoinResult:
		if f.step == stAdmitting || f.step == stHolding {
			f.joinResult(ev, &out)
		}
	case Blocked:
		if f.step != stIdle && f.step != stDone {
			f.hangup(&out, prompts.TooManyAttempts)
		}
	}
	return out
}

func isKey(k byte) bool { return k >= '0' && k <= '9' || k == '*' || k == '#' }

func (f *Flow) answered(ev Answered, out *[]Action) {
	f.lang = prompts.Best(ev.Primary)
	for _, l := range ev.Secondary {
		if len(f.secondary) == 9 {
			break // one key each, 1 to 9
		}
		// An unknown tag would fall back to a language already offered.
		if b := prompts.Best(l); prompts.Has(l) && b != f.lang && !slices.Contains(f.secondary, b) {
			f.secondary = append(f.secondary, b)
		}
	}
	f.callerID = ev.CallerID
	f.authenticated = ev.Authenticated
	f.user = ev.User
	if ev.Rejoin != nil && f.cfg.RejoinOffer != "" && ev.Rejoin.Meeting.FocusURI != "" {
		// He chose his language minutes ago: no menu, one question.
		if ev.Rejoin.Lang != "" {
			f.lang = prompts.Best(ev.Rejoin.Lang)
		}
		f.meeting = ev.Rejoin.Meeting
		f.step = stRejoin
		f.play(out, Prompt{Key: prompts.Welcome}, Prompt{Key: f.cfg.RejoinOffer})
		return
	}
	f.step = stLanguage
	ps := []Prompt{{Key: prompts.Welcome}}
	for i, l := range f.secondary {
		// Each option is spoken in its own language, so that its speakers
		// understand it.
		ps = append(ps, Prompt{Key: prompts.LanguageOption, Lang: l, Digits: strconv.Itoa(i + 1)})
	}
	f.play(out, ps...)
}

// enter starts a collecting step: its prompt, unless the caller has
// already typed ahead, in which case his keys are consumed at once.
func (f *Flow) enter(s step, out *[]Action, ps ...Prompt) {
	f.step = s
	f.entry = f.entry[:0]
	if len(f.typed) > 0 {
		f.drain(out)
		return
	}
	f.play(out, ps...)
}

// retry plays a step's error prompt and starts it over, or ends the call
// when the step has had its attempts. Keys typed before the error are
// dropped: they answered a question that no longer stands.
func (f *Flow) retry(s step, out *[]Action, errKey prompts.Key) {
	f.attempts++
	f.typed = f.typed[:0]
	if f.attempts >= f.cfg.MaxAttempts {
		f.hangup(out, errKey, prompts.TooManyAttempts)
		return
	}
	f.enter(s, out, append([]Prompt{{Key: errKey}, {Key: prompts.TryAgain}}, f.prompt(s)...)...)
}

// prompt is the question a collecting step asks.
func (f *Flow) prompt(s step) []Prompt {
	switch s {
	case stConfID:
		return []Prompt{{Key: prompts.EnterConferenceID}}
	case stPasscode:
		if f.meeting.PasscodeRequired {
			return []Prompt{{Key: prompts.PressStarIfLeader}, {Key: prompts.EnterPasscode}}
		}
		return []Prompt{{Key: prompts.PressStarIfLeader}}
	case stExtension:
		return []Prompt{{Key: prompts.EnterExtension}}
	case stPIN:
		return []Prompt{{Key: prompts.EnterPIN}}
	}
	return nil
}

func (f *Flow) digit(k byte, out *[]Action) {
	if f.playing != 0 && f.step.collecting() {
		// A key interrupts a question: the caller knows what to do. The
		// "joining" and hold announcements play on.
		f.playing = 0
		*out = append(*out, Stop{})
	}
	f.typed = append(f.typed, k)
	if f.step.collecting() {
		f.drain(out)
	}
}

// drain consumes typed keys while the step takes them; keys left over
// wait for the next collecting step.
func (f *Flow) drain(out *[]Action) {
	for len(f.typed) > 0 && f.step.collecting() {
		k := f.typed[0]
		f.typed = f.typed[1:]
		f.key(k, out)
	}
}

// key applies one key to the current step.
func (f *Flow) key(k byte, out *[]Action) {
	switch f.step {
	case stLanguage:
		if n := int(k - '0'); k >= '1' && k <= '9' && n <= len(f.secondary) {
			f.lang = f.secondary[n-1]
			f.enter(stConfID, out, f.prompt(stConfID)...)
			return
		}
		f.step = stConfID // the caller skipped the menu and started typing
		if k == '#' || k == '*' {
			f.enter(stConfID, out, f.prompt(stConfID)...)
			return
		}
		f.key(k, out)
		return
	case stRejoin:
		switch k {
		case '#':
			f.typed = f.typed[:0]
			f.timer = 0
			f.step = stJoining
			f.play(out, Prompt{Key: prompts.WelcomeBack})
			return
		case '*':
			f.meeting = Meeting{}
			f.enter(stConfID, out, f.prompt(stConfID)...)
			return
		}
		// He is typing a conference ID: another meeting.
		f.meeting = Meeting{}
		f.step = stConfID
		f.key(k, out)
		return
	case stPasscode:
		if len(f.entry) == 0 && k == '*' {
			f.leader = true
			f.attempts = 0
			f.enter(stExtension, out, f.prompt(stExtension)...)
			return
		}
		if !f.meeting.PasscodeRequired {
			if k == '#' {
				f.join(out)
			}
			return // digits mean nothing here
		}
	}
	switch k {
	case '#':
		f.submit(out)
	case '*':
		// * starts the entry over, to fix a mistyped key.
		f.enter(f.step, out, f.prompt(f.step)...)
	default:
		f.entry = append(f.entry, k)
		if len(f.entry) >= f.cfg.MaxDigits {
			f.submit(out)
			return
		}
		f.arm(out, f.cfg.InterDigit)
	}
}

// submit hands a finished entry to its step.
func (f *Flow) submit(out *[]Action) {
	f.timer = 0
	v := string(f.entry)
	f.entry = f.entry[:0]
	switch f.step {
	case stConfID:
		if v == "" {
			f.retry(stConfID, out, prompts.InvalidConferenceID)
			return
		}
		f.step = stResolving
		*out = append(*out, Resolve{ConferenceID: v})
	case stPasscode:
		f.step = stCheckingPasscode
		*out = append(*out, CheckPasscode{ConferenceID: f.meeting.ConferenceID, Passcode: v})
	case stExtension:
		if v == "" {
			f.retry(stExtension, out, prompts.InvalidPIN)
			return
		}
		f.extension = v
		f.enter(stPIN, out, f.prompt(stPIN)...)
	case stPIN:
		f.step = stCheckingPIN
		*out = append(*out, CheckPIN{Extension: f.extension, PIN: v})
	}
}

func (f *Flow) promptDone(out *[]Action) {
	switch f.step {
	case stLanguage:
		f.enter(stConfID, out, f.prompt(stConfID)...)
	case stPasscode:
		if !f.meeting.PasscodeRequired {
			f.arm(out, f.cfg.LeaderWait)
			return
		}
		f.arm(out, f.cfg.NoInput)
	case stRejoin, stConfID, stExtension, stPIN:
		f.arm(out, f.cfg.NoInput)
	case stJoining:
		f.step = stAdmitting
		*out = append(*out, f.joinAction())
	case stHolding:
		f.seq++
		f.playing = f.seq
		*out = append(*out, PlayHold{ID: f.seq})
		f.arm(out, f.cfg.StillWait)
	}
}

func (f *Flow) timeout(out *[]Action) {
	switch f.step {
	case stHolding:
		f.play(out, Prompt{Key: prompts.StillWaiting})
		return
	case stPasscode:
		if !f.meeting.PasscodeRequired {
			f.join(out) // no * came: an attendee
			return
		}
	case stRejoin:
		// Silence declines the offer; it is no wrong answer.
		f.meeting = Meeting{}
		f.enter(stConfID, out, f.prompt(stConfID)...)
		return
	}
	if !f.step.collecting() {
		return
	}
	if len(f.entry) > 0 {
		f.submit(out) // a pause ends the entry as # would
		return
	}
	f.retry(f.step, out, prompts.NoInput)
}

func (f *Flow) resolved(ev Resolved, out *[]Action) {
	switch {
	case errors.Is(ev.Err, ErrInvalidID):
		f.retry(stConfID, out, prompts.InvalidConferenceID)
	case errors.Is(ev.Err, ErrNotFound):
		f.retry(stConfID, out, prompts.MeetingNotFound)
	case ev.Err != nil:
		f.hangup(out, prompts.TechnicalProblem)
	default:
		f.meeting = ev.Meeting
		f.attempts = 0
		if f.authenticated {
			f.typed = f.typed[:0]
			f.joining(out) // an enterprise phone: nothing more to ask
			return
		}
		f.enter(stPasscode, out, f.prompt(stPasscode)...)
	}
}

func (f *Flow) passcodeChecked(ev PasscodeChecked, out *[]Action) {
	switch {
	case errors.Is(ev.Err, ErrWrongPasscode):
		f.retry(stPasscode, out, prompts.InvalidPasscode)
	case errors.Is(ev.Err, ErrTooManyAttempts):
		f.hangup(out, prompts.TooManyAttempts)
	case errors.Is(ev.Err, ErrNotFound), errors.Is(ev.Err, ErrInvalidID):
		f.hangup(out, prompts.MeetingEnded) // it ended while the caller typed
	case ev.Err != nil:
		f.hangup(out, prompts.TechnicalProblem)
	default:
		f.join(out)
	}
}

func (f *Flow) pinChecked(ev PINChecked, out *[]Action) {
	switch {
	case errors.Is(ev.Err, ErrAuthFailed):
		f.retry(stExtension, out, prompts.InvalidPIN)
	case errors.Is(ev.Err, ErrPINLocked):
		f.hangup(out, prompts.PINLocked)
	case errors.Is(ev.Err, ErrPINExpired):
		f.hangup(out, prompts.PINExpired)
	case ev.Err != nil:
		f.hangup(out, prompts.TechnicalProblem)
	default:
		f.user = ev.User
		f.authenticated = true
		f.join(out)
	}
}

// join ends the questions; keys typed ahead are of no further use.
func (f *Flow) join(out *[]Action) {
	f.typed = f.typed[:0]
	f.joining(out)
}

// joining tells the caller he is being joined and asks for the join at
// once, without waiting for the prompt to end: the time from his last key
// to the meeting's audio is what he feels, and the A/V MCU's hand-off
// simply cuts the prompt short.
func (f *Flow) joining(out *[]Action) {
	f.timer = 0
	f.play(out, Prompt{Key: prompts.Joining})
	f.step = stAdmitting
	*out = append(*out, f.joinAction())
}

func (f *Flow) joinAction() Join {
	return Join{
		Lang:          f.lang,
		Meeting:       f.meeting,
		Leader:        f.leader,
		Authenticated: f.authenticated,
		User:          f.user,
		CallerID:      f.callerID,
	}
}

func (f *Flow) joinResult(ev JoinResult, out *[]Action) {
	switch {
	case errors.Is(ev.Err, ErrMeetingLocked):
		f.hangup(out, prompts.MeetingLocked)
	case errors.Is(ev.Err, ErrMeetingFull):
		f.hangup(out, prompts.MeetingFull)
	case ev.Err != nil:
		f.hangup(out, prompts.TechnicalProblem)
	case ev.Waiting:
		if f.step != stHolding {
			f.step = stHolding
			f.play(out, Prompt{Key: prompts.WaitingForLeader})
		}
	default:
		// In the meeting: the MCU has the caller's audio, the attendant's
		// leg ends.
		if f.playing != 0 {
			*out = append(*out, Stop{})
		}
		f.playing, f.timer = 0, 0
		f.step = stDone
	}
}

// hangup ends the call politely: the reason, then goodbye.
func (f *Flow) hangup(out *[]Action, keys ...prompts.Key) {
	if f.playing != 0 {
		*out = append(*out, Stop{})
	}
	ps := make([]Prompt, 0, len(keys)+1)
	for _, k := range keys {
		ps = append(ps, Prompt{Key: k})
	}
	ps = append(ps, Prompt{Key: prompts.Goodbye})
	f.step = stDone
	f.playing, f.timer = 0, 0
	f.typed, f.entry = nil, nil
	*out = append(*out, Hangup{Lang: f.lang, Prompts: ps})
}

func (f *Flow) play(out *[]Action, ps ...Prompt) {
	f.seq++
	f.playing = f.seq
	f.timer = 0
	*out = append(*out, Play{ID: f.seq, Lang: f.lang, Prompts: ps})
}

func (f *Flow) arm(out *[]Action, d time.Duration) {
	f.seq++
	f.timer = f.seq
	*out = append(*out, StartTimer{ID: f.seq, After: d})
}

// LogValue lets a Flow be logged without its secrets: the step and the
// language, never the keys typed.
func (f *Flow) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("step", int(f.step)), slog.String("lang", f.lang))
}
