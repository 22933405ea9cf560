package pcap

import (
	"regexp"
	"strings"
	"testing"
)

// TestPINCallSequence plays, in a leader's call's order, a conference ID
// from the call scenario's captures and then every attempt, and checks
// the keys typed and that sequence numbers and timestamps keep rising
// from one capture to the next.
func TestPINCallSequence(t *testing.T) {
	if last := wrongSlot + WrongAttempts*(len(WrongID)+1); last > pinSlot {
		t.Fatalf("the PIN slots start at %d, inside the call scenario's (up to %d)", pinSlot, last)
	}
	if n := len(pinAttemptKeys(1, RightPIN)); n > pinSlotsPerAttempt {
		t.Fatalf("an attempt of %d keys does not fit %d slots", n, pinSlotsPerAttempt)
	}
	calls, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	pins, err := PINFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"wrong", "right"} {
		t.Run(kind, func(t *testing.T) {
			var all []event
			var typed []byte
			play := func(b []byte) {
				evs := readCapture(t, b)
				typed = append(typed, presses(t, evs)...)
				all = append(all, evs...)
			}
			for i, k := range []byte("7654321") {
				play(calls[slotName(confIDSlot+i, k)])
			}
			play(calls[slotName(confIDPound, '#')])
			for n := 1; n <= PINAttempts; n++ {
				play(pins[pinName(kind, n)])
			}
			pin := pinKinds[kind]
			want := "7654321#*" + strings.Repeat(PINExtension+"#"+pin+"#", PINAttempts)
			if string(typed) != want {
				t.Errorf("typed %q, want %q", typed, want)
			}
			for i := 1; i < len(all); i++ {
				if all[i].seq <= all[i-1].seq || all[i].ts < all[i-1].ts {
					t.Fatalf("packet %d: sequence %d after %d, timestamp %d after %d",
						i, all[i].seq, all[i-1].seq, all[i].ts, all[i-1].ts)
				}
			}
		})
	}
}

// TestPINScenarioPlans checks which captures each plan of the scenario
// plays: for -key pinkind K -key attempts N, the captures of K for
// attempts 1 to N and no others, and each attempt's pause with them.
func TestPINScenarioPlans(t *testing.T) {
	s := pinScenario()
	ereg := regexp.MustCompile(`<ereg regexp="([^"]+)" search_in="var" variable="plan" assign_to="([a-z]+\d)"/>`)
	play := regexp.MustCompile(`<nop condexec="([a-z]+\d)"><action><exec play_pcap_audio="([^"]+)"/>`)
	pause := regexp.MustCompile(`<pause milliseconds="\d+" condexec="(a\d)"/>`)
	flags := map[string]*regexp.Regexp{}
	for _, m := range ereg.FindAllStringSubmatch(s, -1) {
		flags[m[2]] = regexp.MustCompile(m[1])
	}
	if len(flags) != 3*PINAttempts {
		t.Fatalf("%d plan flags, want %d", len(flags), 3*PINAttempts)
	}
	plays := play.FindAllStringSubmatch(s, -1)
	pauses := pause.FindAllStringSubmatch(s, -1)
	for _, kind := range []string{"wrong", "right"} {
		for n := 1; n <= PINAttempts; n++ {
			plan := kind + string(rune('0'+n))
			var got []string
			for _, m := range plays {
				if re := flags[m[1]]; re != nil && re.MatchString(plan) {
					got = append(got, m[2])
				}
			}
			var want []string
			for i := 1; i <= n; i++ {
				want = append(want, pinName(kind, i))
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("plan %s plays %v, want %v", plan, got, want)
			}
			waits := 0
			for _, m := range pauses {
				if flags[m[1]].MatchString(plan) {
					waits++
				}
			}
			if waits != n {
				t.Errorf("plan %s waits after %d attempts, want %d", plan, waits, n)
			}
		}
	}
	for _, bad := range []string{"wrong0", "wrong4", "other1", ""} {
		for f, re := range flags {
			if re.MatchString(bad) {
				t.Errorf("plan %q sets %s", bad, f)
			}
		}
	}
}
