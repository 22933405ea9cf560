package attendant

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/prompts"
)

// line is one line of a script: an event, or keys pressed one by one
// (their actions concatenated), and what the flow must answer.
type line struct {
	ev   Event
	keys string
	want []Action
}

func keys(s string, want ...Action) line { return line{keys: s, want: want} }
func on(ev Event, want ...Action) line   { return line{ev: ev, want: want} }

func play(id uint64, lang string, ks ...prompts.Key) Play {
	p := Play{ID: id, Lang: lang}
	for _, k := range ks {
		p.Prompts = append(p.Prompts, Prompt{Key: k})
	}
	return p
}

func timer(id uint64, d time.Duration) StartTimer { return StartTimer{ID: id, After: d} }

func hangup(ks ...prompts.Key) Hangup {
	h := Hangup{Lang: en}
	for _, k := range ks {
		h.Prompts = append(h.Prompts, Prompt{Key: k})
	}
	return h
}

const (
	en     = "en-US"
	gap    = 5 * time.Second  // DefaultInterDigit
	ni     = 10 * time.Second // DefaultNoInput
	caller = "+14255550100"
)

var (
	withPasscode = Meeting{ConferenceID: "123", FocusURI: "sip:org@example.com;gruu;opaque=app:conf:focus:id:K1", MeetingID: "K1", Organizer: "sip:org@example.com", PasscodeRequired: true}
	open         = Meeting{ConferenceID: "77", FocusURI: "sip:org@example.com;gruu;opaque=app:conf:focus:id:K2", MeetingID: "K2", Organizer: "sip:org@example.com"}
	alice        = User{URI: "sip:alice@example.com", DisplayName: "Alice"}
	anonymous    = Answered{Primary: en, CallerID: caller}
)

// toConfID is the common start: welcome, then the conference ID question
// (plays 1 and 2, no-input timer 3).
var toConfID = []line{
	on(anonymous, play(1, en, prompts.Welcome)),
	on(PromptDone{ID: 1}, play(2, en, prompts.EnterConferenceID)),
	on(PromptDone{ID: 2}, timer(3, ni)),
}

func script(parts ...[]line) []line {
	var out []line
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestFlow(t *testing.T) {
	tests := []struct {
		name  string
		steps []line
		done  bool
		lang  string
	}{
		{
			name: "anonymous with passcode, held until a leader comes",
			steps: script(toConfID, []line{
				keys("123", timer(4, gap), timer(5, gap), timer(6, gap)),
				keys("#", Resolve{ConferenceID: "123"}),
				on(Resolved{Meeting: withPasscode}, play(7, en, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("9", Stop{}, timer(8, gap)),
				keys("#", CheckPasscode{ConferenceID: "123", Passcode: "9"}),
				on(PasscodeChecked{}, play(9, en, prompts.Joining), Join{Lang: en, Meeting: withPasscode, CallerID: caller}),
				keys("5"), // the joining prompt plays on
				on(PromptDone{ID: 9}),
				on(JoinResult{Waiting: true}, play(10, en, prompts.WaitingForLeader)),
				on(JoinResult{Waiting: true}),
				on(PromptDone{ID: 10}, PlayHold{ID: 11}, timer(12, DefaultStillWait)),
				on(TimerFired{ID: 12}, play(13, en, prompts.StillWaiting)),
				on(PromptDone{ID: 13}, PlayHold{ID: 14}, timer(15, DefaultStillWait)),
				on(JoinResult{}, Stop{}),
				keys("1"), // done: nothing more
				on(TimerFired{ID: 15}),
			}),
			done: true, lang: en,
		},
		{
			name: "leader with extension and PIN",
			steps: script(toConfID, []line{
				keys("123#", timer(4, gap), timer(5, gap), timer(6, gap), Resolve{ConferenceID: "123"}),
				on(Resolved{Meeting: withPasscode}, play(7, en, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("*", Stop{}, play(8, en, prompts.EnterExtension)),
				keys("42#", Stop{}, timer(9, gap), timer(10, gap), play(11, en, prompts.EnterPIN)),
				on(PromptDone{ID: 11}, timer(12, ni)),
				keys("2468#", timer(13, gap), timer(14, gap), timer(15, gap), timer(16, gap), CheckPIN{Extension: "42", PIN: "2468"}),
				on(PINChecked{User: alice}, play(17, en, prompts.Joining), Join{Lang: en, Meeting: withPasscode, Leader: true, Authenticated: true, User: alice, CallerID: caller}),
				on(PromptDone{ID: 17}),
				on(JoinResult{}),
			}),
			done: true, lang: en,
		},
		{
			name: "language switch",
			steps: []line{
				on(Answered{Primary: "en-US", Secondary: []string{"fr-FR", "xx-YY", "de-DE", "fr-FR", "en-US"}},
					Play{ID: 1, Lang: en, Prompts: []Prompt{
						{Key: prompts.Welcome},
						{Key: prompts.LanguageOption, Lang: "fr-FR", Digits: "1"},
						{Key: prompts.LanguageOption, Lang: "de-DE", Digits: "2"},
					}}),
				keys("2", Stop{}, play(2, "de-DE", prompts.EnterConferenceID)),
				on(PromptDone{ID: 2}, timer(3, ni)),
				keys("#", play(4, "de-DE", prompts.InvalidConferenceID, prompts.TryAgain, prompts.EnterConferenceID)),
			},
			lang: "de-DE",
		},
		{
			name: "a key that is no language starts the conference ID",
			steps: []line{
				on(Answered{Primary: "fr-FR", Secondary: []string{"en-US"}},
					Play{ID: 1, Lang: "fr-FR", Prompts: []Prompt{{Key: prompts.Welcome}, {Key: prompts.LanguageOption, Lang: "en-US", Digits: "1"}}}),
				keys("27#", Stop{}, timer(2, gap), timer(3, gap), Resolve{ConferenceID: "27"}),
			},
			lang: "fr-FR",
		},
		{
			name: "type-ahead through the welcome and the lookup",
			steps: []line{
				on(anonymous, play(1, en, prompts.Welcome)),
				keys("123#", Stop{}, timer(2, gap), timer(3, gap), timer(4, gap), Resolve{ConferenceID: "123"}),
				keys("42#"), // kept while the front end answers
				on(Resolved{Meeting: withPasscode}, timer(5, gap), timer(6, gap), CheckPasscode{ConferenceID: "123", Passcode: "42"}),
				on(PasscodeChecked{}, play(7, en, prompts.Joining), Join{Lang: en, Meeting: withPasscode, CallerID: caller}),
			},
			lang: en,
		},
		{
			name: "wrong IDs, then goodbye",
			steps: script(toConfID, []line{
				keys("1#", timer(4, gap), Resolve{ConferenceID: "1"}),
				on(Resolved{Err: fmt.Errorf("front end: %w", ErrInvalidID)}, play(5, en, prompts.InvalidConferenceID, prompts.TryAgain, prompts.EnterConferenceID)),
				keys("2#", Stop{}, timer(6, gap), Resolve{ConferenceID: "2"}),
				keys("99"), // typed ahead for a question that will not come
				on(Resolved{Err: ErrNotFound}, play(7, en, prompts.MeetingNotFound, prompts.TryAgain, prompts.EnterConferenceID)),
				on(PromptDone{ID: 7}, timer(8, ni)),
				keys("#", hangup(prompts.InvalidConferenceID, prompts.TooManyAttempts, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "wrong passcodes, then goodbye",
			steps: script(toConfID, []line{
				keys("123#", timer(4, gap), timer(5, gap), timer(6, gap), Resolve{ConferenceID: "123"}),
				on(Resolved{Meeting: withPasscode}, play(7, en, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("1#", Stop{}, timer(8, gap), CheckPasscode{ConferenceID: "123", Passcode: "1"}),
				on(PasscodeChecked{Err: ErrWrongPasscode}, play(9, en, prompts.InvalidPasscode, prompts.TryAgain, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("2#", Stop{}, timer(10, gap), CheckPasscode{ConferenceID: "123", Passcode: "2"}),
				on(PasscodeChecked{Err: ErrWrongPasscode}, play(11, en, prompts.InvalidPasscode, prompts.TryAgain, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("3#", Stop{}, timer(12, gap), CheckPasscode{ConferenceID: "123", Passcode: "3"}),
				on(PasscodeChecked{Err: ErrWrongPasscode}, hangup(prompts.InvalidPasscode, prompts.TooManyAttempts, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "the meeting refuses passcodes for a while",
			steps: script(toConfID, []line{
				keys("123#", timer(4, gap), timer(5, gap), timer(6, gap), Resolve{ConferenceID: "123"}),
				on(Resolved{Meeting: withPasscode}, play(7, en, prompts.PressStarIfLeader, prompts.EnterPasscode)),
				keys("1#", Stop{}, timer(8, gap), CheckPasscode{ConferenceID: "123", Passcode: "1"}),
				on(PasscodeChecked{Err: ErrTooManyAttempts}, hangup(prompts.TooManyAttempts, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "wrong PIN, then PIN locked out",
			steps: script(toConfID, leaderPIN(), []line{
				on(PINChecked{Err: ErrAuthFailed}, play(13, en, prompts.InvalidPIN, prompts.TryAgain, prompts.EnterExtension)),
				keys("4#", Stop{}, timer(14, gap), play(15, en, prompts.EnterPIN)),
				keys("0#", Stop{}, timer(16, gap), CheckPIN{Extension: "4", PIN: "0"}),
				on(PINChecked{Err: ErrPINLocked}, hangup(prompts.PINLocked, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "expired PIN",
			steps: script(toConfID, leaderPIN(), []line{
				on(PINChecked{Err: ErrPINExpired}, hangup(prompts.PINExpired, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "no input three times",
			steps: script(toConfID, []line{
				on(TimerFired{ID: 3}, play(4, en, prompts.NoInput, prompts.TryAgain, prompts.EnterConferenceID)),
				on(TimerFired{ID: 3}), // already fired
				on(PromptDone{ID: 4}, timer(5, ni)),
				on(TimerFired{ID: 5}, play(6, en, prompts.NoInput, prompts.TryAgain, prompts.EnterConferenceID)),
				on(PromptDone{ID: 6}, timer(7, ni)),
				on(TimerFired{ID: 7}, hangup(prompts.NoInput, prompts.TooManyAttempts, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "a pause ends the entry; a stale timer is ignored",
			steps: script(toConfID, []line{
				keys("12", timer(4, gap), timer(5, gap)),
				on(TimerFired{ID: 4}),
				on(TimerFired{ID: 5}, Resolve{ConferenceID: "12"}),
			}),
			lang: en,
		},
		{
			name: "star starts an entry over",
			steps: script(toConfID, []line{
				keys("19*", timer(4, gap), timer(5, gap), play(6, en, prompts.EnterConferenceID)),
				keys("77#", Stop{}, timer(7, gap), timer(8, gap), Resolve{ConferenceID: "77"}),
			}),
			lang: en,
		},
		{
			name: "no passcode: silence joins as an attendee",
			steps: script(toConfID, []line{
				keys("77#", timer(4, gap), timer(5, gap), Resolve{ConferenceID: "77"}),
				on(Resolved{Meeting: open}, play(6, en, prompts.PressStarIfLeader)),
				on(PromptDone{ID: 6}, timer(7, DefaultLeaderWait)),
				keys("5"), // no passcode to type
				on(TimerFired{ID: 7}, play(8, en, prompts.Joining), Join{Lang: en, Meeting: open, CallerID: caller}),
				on(PromptDone{ID: 8}),
				on(JoinResult{Err: ErrMeetingLocked}, hangup(prompts.MeetingLocked, prompts.Goodbye)),
			}),
			done: true, lang: en,
		},
		{
			name: "no passcode: # joins at once",
			steps: script(toConfID, []line{
				keys("77#", timer(4, gap), timer(5, gap), Resolve{ConferenceID: "77"}),
				on(Resolved{Meeting: open}, play(6, en, prompts.PressStarIfLeader)),
				keys("#", Stop{}, play(7, en, prompts.Joining), Join{Lang: en, Meeting: open, CallerID: caller}),
			}),
			lang: en,
		},
		{
			name: "enterprise phone: only the conference ID",
			steps: []line{
				on(Answered{Primary: en, CallerID: "+14255550101", Authenticated: true, User: alice}, play(1, en, prompts.Welcome)),
				keys("123#", Stop{}, timer(2, gap), timer(3, gap), timer(4, gap), Resolve{ConferenceID: "123"}),
				keys("1"), // nothing more is asked
				on(Resolved{Meeting: withPasscode}, play(5, en, prompts.Joining), Join{Lang: en, Meeting: withPasscode, Authenticated: true, User: alice, CallerID: "+14255550101"}),
				on(PromptDone{ID: 5}),
				on(JoinResult{}),
			},
			done: true, lang: en,
		},
		{
			name: "front end failure",
			steps: script(toConfID, []line{
				keys("5#", timer(4, gap), Resolve{ConferenceID: "5"}),
				on(Resolved{Err: errors.New("timeout")}, hangup(prompts.TechnicalProblem, prompts.Goodbye)),
				on(Resolved{Meeting: open}),
			}),
			done: true, lang: en,
		},
		{
			name: "events before the answer and stray results",
			steps: []line{
				keys("1"),
				on(PromptDone{ID: 1}),
				on(Resolved{Meeting: open}),
				on(PINChecked{User: alice}),
				on(anonymous, play(1, en, prompts.Welcome)),
				on(anonymous),
				on(Digit{Key: 'A'}),
				on(PasscodeChecked{}),
				on(JoinResult{}),
			},
			lang: en,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New(Config{})
			for i, s := range tc.steps {
				var got []Action
				if s.ev != nil {
					got = f.Handle(s.ev)
				}
				for _, k := range []byte(s.keys) {
					got = append(got, f.Handle(Digit{Key: k})...)
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Fatalf("step %d (%v%s): actions (-want +got):\n%s", i, s.ev, s.keys, diff)
				}
			}
			if f.Done() != tc.done {
				t.Errorf("Done() = %v, want %v", f.Done(), tc.done)
			}
			if f.Language() != tc.lang {
				t.Errorf("Language() = %q, want %q", f.Language(), tc.lang)
			}
		})
	}
}

// leaderPIN follows toConfID: conference ID 123, *, extension 42, PIN 1;
// the next play or timer is 13.
func leaderPIN() []line {
	return []line{
		keys("123#", timer(4, gap), timer(5, gap), timer(6, gap), Resolve{ConferenceID: "123"}),
		on(Resolved{Meeting: withPasscode}, play(7, en, prompts.PressStarIfLeader, prompts.EnterPasscode)),
		keys("*", Stop{}, play(8, en, prompts.EnterExtension)),
		keys("42#", Stop{}, timer(9, gap), timer(10, gap), play(11, en, prompts.EnterPIN)),
		keys("1#", Stop{}, timer(12, gap), CheckPIN{Extension: "42", PIN: "1"}),
	}
}

func TestSecretsNotLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	pc := CheckPasscode{ConferenceID: "123", Passcode: "918273"}
	pin := CheckPIN{Extension: "42", PIN: "564738"}
	log.Info("x", "a", pc, "b", pin)
	s := buf.String() + fmt.Sprint(pc, pin) + fmt.Sprintf("%v %+v", pc, pin)
	for _, secret := range []string{"918273", "564738"} {
		if strings.Contains(s, secret) {
			t.Errorf("secret %s in output %q", secret, s)
		}
	}
	if !strings.Contains(s, "123") || !strings.Contains(s, "42") {
		t.Errorf("output %q lacks the conference ID or extension", s)
	}
}

func TestMaxDigits(t *testing.T) {
	f := New(Config{MaxDigits: 4})
	f.Handle(anonymous)
	var got []Action
	for _, k := range []byte("123456") {
		got = append(got, f.Handle(Digit{Key: k})...)
	}
	want := []Action{Stop{}, timer(2, gap), timer(3, gap), timer(4, gap), Resolve{ConferenceID: "1234"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	// The surplus keys wait for the next question.
	got = f.Handle(Resolved{Meeting: withPasscode})
	want = []Action{timer(5, gap), timer(6, gap)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after lookup (-want +got):\n%s", diff)
	}
}
