package attendant

import (
	"fmt"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	type try struct {
		at     time.Duration // since the start
		caller string
		number string
		want   Verdict
	}
	small := GuardConfig{
		Window:    time.Minute,
		PerCaller: Limits{Slow: 2, HangUp: 4},
		PerNumber: Limits{Slow: 3, HangUp: 6},
		Global:    Limits{Slow: 5, HangUp: 8},
		Tarpit:    time.Second, MaxTarpit: 3 * time.Second,
	}
	tests := []struct {
		name  string
		cfg   GuardConfig
		tries []try
	}{
		{
			name: "one caller: slower, then hung up",
			cfg:  small,
			tries: []try{
				{0, "+1", "n", Verdict{}},
				{1, "+1", "n", Verdict{Delay: time.Second, Scope: ScopeCaller, Count: 2}},
				{2, "+1", "n", Verdict{Delay: 2 * time.Second, Scope: ScopeCaller, Count: 3}},
				{3, "+1", "n", Verdict{HangUp: true, Scope: ScopeCaller, Count: 4}},
			},
		},
		{
			name: "the window slides",
			cfg:  small,
			tries: []try{
				{0, "+1", "n", Verdict{}},
				{30 * time.Second, "+1", "n", Verdict{Delay: time.Second, Scope: ScopeCaller, Count: 2}},
				{61 * time.Second, "+1", "n", Verdict{Delay: time.Second, Scope: ScopeCaller, Count: 2}},
				{200 * time.Second, "+1", "n", Verdict{}},
			},
		},
		{
			name: "many caller IDs on one number",
			cfg:  small,
			tries: []try{
				{0, "+1", "n", Verdict{}},
				{0, "+2", "n", Verdict{}},
				{0, "+3", "n", Verdict{Delay: time.Second, Scope: ScopeNumber, Count: 3}},
				{0, "+4", "n", Verdict{Delay: 2 * time.Second, Scope: ScopeNumber, Count: 4}},
				{0, "+5", "n", Verdict{Delay: 3 * time.Second, Scope: ScopeNumber, Count: 5}}, // capped; global is at 1 s
				{0, "", "n", Verdict{HangUp: true, Scope: ScopeNumber, Count: 6}},
				{0, "+6", "m", Verdict{Delay: 3 * time.Second, Scope: ScopeGlobal, Count: 7}},
				{0, "+7", "m", Verdict{HangUp: true, Scope: ScopeGlobal, Count: 8}},
			},
		},
		{
			name: "withheld numbers count by access number only",
			cfg:  small,
			tries: []try{
				{0, "", "n", Verdict{}},
				{0, "", "n", Verdict{}},
				{0, "", "n", Verdict{Delay: time.Second, Scope: ScopeNumber, Count: 3}},
			},
		},
		{
			name: "forgotten callers start over",
			cfg:  GuardConfig{PerCaller: Limits{Slow: 2, HangUp: 3}, MaxKeys: 2},
			tries: []try{
				{0, "+1", "n", Verdict{}},
				{0, "+2", "n", Verdict{}},
				{0, "+3", "n", Verdict{}}, // evicts +1
				{0, "+1", "n", Verdict{}}, // evicts +2
				{0, "+3", "n", Verdict{Delay: DefaultTarpit, Scope: ScopeCaller, Count: 2}},
			},
		},
		{
			name: "defaults",
			cfg:  GuardConfig{},
			tries: func() []try {
				var out []try
				for i := 1; i <= DefaultCallerLimit; i++ {
					var v Verdict
					switch {
					case i == DefaultCallerLimit:
						v = Verdict{HangUp: true, Scope: ScopeCaller, Count: i}
					case i >= DefaultCallerSlow:
						v = Verdict{Delay: min(DefaultTarpit<<(i-DefaultCallerSlow), DefaultMaxTarpit), Scope: ScopeCaller, Count: i}
					}
					out = append(out, try{time.Duration(i) * time.Second, "+1", "n", v})
				}
				return out
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			var now time.Time
			cfg := tc.cfg
			cfg.Now = func() time.Time { return now }
			g := NewGuard(cfg)
			for i, tr := range tc.tries {
				now = start.Add(tr.at)
				if got := g.Failure(tr.caller, tr.number); got != tr.want {
					t.Fatalf("try %d (%s on %s at %s): %+v, want %+v", i, tr.caller, tr.number, tr.at, got, tr.want)
				}
			}
		})
	}
}

func TestGuardBounded(t *testing.T) {
	g := NewGuard(GuardConfig{MaxKeys: 100})
	for i := range 1000 {
		g.Failure(fmt.Sprintf("+1%09d", i), "n")
	}
	if n := g.callers.len(); n != 100 {
		t.Errorf("%d callers remembered, want 100", n)
	}
}
