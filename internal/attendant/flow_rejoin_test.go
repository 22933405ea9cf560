package attendant

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/prompts"
)

// offer stands in for the re-join prompt, which the catalog lacks.
const offer = prompts.PleaseWait

func TestFlowRejoinAndBlocked(t *testing.T) {
	back := &Recent{Meeting: withPasscode, Lang: "de-DE"}
	offered := Play{ID: 1, Lang: "de-DE", Prompts: []Prompt{{Key: prompts.Welcome}, {Key: offer}}}
	tests := []struct {
		name  string
		cfg   Config
		steps []line
		done  bool
		lang  string
	}{
		{
			name: "pound rejoins without ID or passcode",
			cfg:  Config{RejoinOffer: offer},
			steps: []line{
				on(Answered{Primary: en, Secondary: []string{"fr-FR"}, CallerID: caller, Rejoin: back}, offered),
				on(PromptDone{ID: 1}, timer(2, ni)),
				keys("#", play(3, "de-DE", prompts.WelcomeBack)),
				keys("12#"), // the joining prompt plays on
				on(PromptDone{ID: 3}, Join{Lang: "de-DE", Meeting: withPasscode, CallerID: caller}),
				on(JoinResult{}),
			},
			done: true, lang: "de-DE",
		},
		{
			name: "digits start another conference ID",
			cfg:  Config{RejoinOffer: offer},
			steps: []line{
				on(Answered{Primary: en, CallerID: caller, Rejoin: back}, offered),
				keys("77#", Stop{}, timer(2, gap), timer(3, gap), Resolve{ConferenceID: "77"}),
				on(Resolved{Meeting: open}, play(4, "de-DE", prompts.PressStarIfLeader)),
			},
			lang: "de-DE",
		},
		{
			name: "star and silence decline the offer",
			cfg:  Config{RejoinOffer: offer},
			steps: []line{
				on(Answered{Primary: en, CallerID: caller, Rejoin: back}, offered),
				keys("*", Stop{}, play(2, "de-DE", prompts.EnterConferenceID)),
				on(PromptDone{ID: 2}, timer(3, ni)),
				keys("#", play(4, "de-DE", prompts.InvalidConferenceID, prompts.TryAgain, prompts.EnterConferenceID)),
			},
			lang: "de-DE",
		},
		{
			name: "silence is no wrong answer",
			cfg:  Config{RejoinOffer: offer, MaxAttempts: 1},
			steps: []line{
				on(Answered{Primary: en, CallerID: caller, Rejoin: back}, offered),
				on(PromptDone{ID: 1}, timer(2, ni)),
				on(TimerFired{ID: 2}, play(3, "de-DE", prompts.EnterConferenceID)),
				keys("5#", Stop{}, timer(4, gap), Resolve{ConferenceID: "5"}),
			},
			lang: "de-DE",
		},
		{
			name: "no offer without its prompt",
			steps: []line{
				on(Answered{Primary: en, CallerID: caller, Rejoin: back}, play(1, en, prompts.Welcome)),
			},
			lang: en,
		},
		{
			name: "blocked while the front end checks",
			steps: script(toConfID, []line{
				keys("5#", timer(4, gap), Resolve{ConferenceID: "5"}),
				on(Blocked{}, hangup(prompts.TooManyAttempts, prompts.Goodbye)),
				on(Resolved{Err: ErrNotFound}),
				on(Blocked{}),
			}),
			done: true, lang: en,
		},
		{
			name: "blocked while a prompt plays",
			steps: []line{
				on(Blocked{}), // not answered yet
				on(anonymous, play(1, en, prompts.Welcome)),
				on(Blocked{}, Stop{}, hangup(prompts.TooManyAttempts, prompts.Goodbye)),
			},
			done: true, lang: en,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New(tc.cfg)
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
			if f.Done() != tc.done || f.Language() != tc.lang {
				t.Errorf("Done() = %v, Language() = %q; want %v, %q", f.Done(), f.Language(), tc.done, tc.lang)
			}
		})
	}
}
