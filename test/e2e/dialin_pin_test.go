package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/test/sipp/pcap"
)

// The leader's path of the dial-in with wrong PINs (issue 6: "wrong PINs
// and lockout behave as specified"). A leader presses * after the
// conference ID and gives his extension and PIN (seed 001 step 8); the
// attendant allows three tries a call (attendant.DefaultMaxAttempts), the
// front end counts wrong PINs on the user and locks the PIN at the pool's
// retry count (seed 000: "PIN lockout after the pool's retry count"), and
// only an administrator's new PIN unlocks it.

// pinBob organizes the meeting and dials in as its leader.
var pinBob = user{name: "bob", password: "bob-Secret-8", extension: pcap.PINExtension, display: "Bob Brown"}

// pinRetries is the pool's retry count in this test: more than one call's
// three tries, so that the first call ends on the attendant's limit and
// the second on the lockout.
const pinRetries = 4

// pinStatus is the PIN part of `parley user list --json`.
type pinStatus struct {
	Set            bool `json:"set"`
	FailedAttempts int  `json:"failed_attempts"`
	LockedOut      bool `json:"locked_out"`
}

// TestDialInWrongPINLockout: a SIPp gateway calls the access number as
// bob, the meeting's organizer, four times:
//  1. three wrong PINs: the attendant hangs up after the third (not
//     before: the scenario would take an early BYE as unexpected), and
//     the CLI shows 3 failed attempts, not locked;
//  2. one wrong PIN: the fourth, the pool's retry count, locks the PIN and
//     the attendant hangs up;
//  3. the right PIN: refused, the PIN is locked; no join, and the count
//     stays;
//  4. after `parley user set-pin` (the same PIN: an administrator's reset
//     is what unlocks), the same right-PIN capture joins the meeting: the
//     refusal of call 3 was the lockout, not a mistyped PIN.
func TestDialInWrongPINLockout(t *testing.T) {
	requireTools(t, "sipp")
	requireRoot(t)
	srv := startParley(t, serverOptions{})
	srv.cli(t, "location-profile", "set", "Default", "--rule", `(\d{7})=>+1425$1`, "--rule", `\+(\d+)=>+$1`)
	bobURI := "sip:bob@" + srv.domain
	srv.cli(t, "user", "add", bobURI, "--password", pinBob.password, "--display-name", pinBob.display,
		"--extension", pinBob.extension, "--pin", pcap.RightPIN)
	var pools []struct {
		FQDN string `json:"fqdn"`
	}
	if out := srv.cli(t, "pool", "list", "--json"); json.Unmarshal([]byte(out), &pools) != nil || len(pools) != 1 {
		t.Fatalf("pool list --json: want one pool, got:\n%s", out)
	}
	srv.cli(t, "pool", "set", pools[0].FQDN, "--max-pin-attempts", strconv.Itoa(pinRetries))
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	_, confID, _ := dialInMeeting(t, srv, pinBob)

	status := func() pinStatus {
		t.Helper()
		var users []struct {
			URI string    `json:"uri"`
			PIN pinStatus `json:"pin"`
		}
		out := srv.cli(t, "user", "list", "--json")
		if err := json.Unmarshal([]byte(out), &users); err != nil {
			t.Fatalf("user list --json: %v\n%s", err, out)
		}
		for _, u := range users {
			if u.URI == bobURI {
				return u.PIN
			}
		}
		t.Fatalf("user list --json has no %s:\n%s", bobURI, out)
		return pinStatus{}
	}
	check := func(after string, want pinStatus) {
		t.Helper()
		if got := status(); got != want {
			t.Errorf("after %s: PIN %+v, want %+v", after, got, want)
		}
	}
	// call dials in and types attempts PINs of kind ("wrong" or "right");
	// ending is "bye" (the attendant must hang up) or "stay" (in the
	// meeting for 3 s, then the gateway hangs up).
	call := func(name, kind string, attempts int, ending string) {
		t.Helper()
		res := runSIPp(t, sippOptions{
			name: name, scenario: "dialin_pin.xml", remote: srv.mediation, timeout: 60 * time.Second,
			args: []string{"-s", "5550100", "-key", "confid", confID, "-key", "pinkind", kind,
				"-key", "attempts", strconv.Itoa(attempts), "-key", "ending", ending, "-m", "1", "-d", "3000"},
		})
		res.expect(t, 1)
		if ending == "bye" && !strings.Contains(res.messages, "BYE sip:") {
			t.Errorf("%s: the gateway received no BYE", name)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	lockedLog := "dial-in PIN locked out after wrong attempts"
	joinedLog := "attendant: the caller's audio moved to the A/V MCU"

	check("user add --pin", pinStatus{Set: true})

	call("three-wrong", "wrong", pcap.PINAttempts, "bye")
	check("three wrong PINs in one call", pinStatus{Set: true, FailedAttempts: 3})
	if srv.logContains(lockedLog) {
		t.Errorf("the PIN locked before the pool's %d retries", pinRetries)
	}

	call("fourth-wrong", "wrong", 1, "bye")
	check("the fourth wrong PIN", pinStatus{Set: true, FailedAttempts: pinRetries, LockedOut: true})
	if !srv.logContains(lockedLog) {
		t.Errorf("no %q in the server's log", lockedLog)
	}

	call("right-but-locked", "right", 1, "bye")
	check("the right PIN while locked", pinStatus{Set: true, FailedAttempts: pinRetries, LockedOut: true})
	if srv.logContains(joinedLog) {
		t.Fatalf("a caller with a locked PIN joined the meeting:\n%s", grepLog(srv, "attendant", 20))
	}
	if n := strings.Count(grepLog(srv, "mediation: call ended", 100), `kind=attendant reason="the front end hung up"`); n != 3 {
		t.Errorf("want 3 calls the attendant hung up, the Mediation Server logged %d:\n%s", n, grepLog(srv, "mediation: call ended", 10))
	}

	srv.cli(t, "user", "set-pin", bobURI, pcap.RightPIN)
	check("user set-pin", pinStatus{Set: true})

	call("right-after-reset", "right", 1, "stay")
	if !srv.logContains(joinedLog) {
		t.Errorf("the leader with the right PIN did not join after set-pin:\n%s", grepLog(srv, "attendant", 20))
	}
	check("the right PIN", pinStatus{Set: true})
}
