package attendant

import (
	"testing"
	"time"
)

func TestRejoins(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	j := newRejoins(time.Minute, func() time.Time { return now })
	j.remember("", Recent{Meeting: open})
	j.remember(caller, Recent{Meeting: withPasscode, Lang: "fr-FR"})
	tests := []struct {
		at     time.Duration
		caller string
		want   *Recent
	}{
		{0, "", nil},
		{0, "+19995550000", nil},
		{30 * time.Second, caller, &Recent{Meeting: withPasscode, Lang: "fr-FR"}},
		{time.Minute, caller, &Recent{Meeting: withPasscode, Lang: "fr-FR"}},
		{time.Minute + time.Second, caller, nil},
	}
	for _, tc := range tests {
		now = start.Add(tc.at)
		got := j.lookup(tc.caller)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("lookup(%q) at %s = %+v, want %+v", tc.caller, tc.at, got, tc.want)
		}
	}
}
