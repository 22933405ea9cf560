package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// An enterprise user calls the access number from his own registered
// phone (seed 001, end of "Connecting to the Meeting"): the front end
// asserts who he is, so the attendant asks only for the conference ID, no
// passcode, never holds him, and hands his phone to the A/V MCU by REFER.

// dialInBob is the enterprise caller.
var dialInBob = user{name: "dave", password: "dave-Secret-9", extension: "1004", display: "Dave Davis"}

func TestDialInEnterprisePhone(t *testing.T) {
	requireTools(t, "baresip", "sox")
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice, dialInBob)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	// The meeting asks anonymous callers for a passcode: bob is not asked.
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", dialInAlice.password,
		"--subject", "Enterprise dial-in", "--anonymous", "--passcode", "--json")
	var inv struct {
		Key          string `json:"key"`
		ConferenceID string `json:"conference_id"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.ConferenceID == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}

	const bobHz, aliceHz = 1100, 700
	work := t.TempDir()
	// His phone is set up as an enterprise phone: his domain, Parley as
	// its outbound proxy; the REFER's target is a domain URI.
	bob := startBaresipWith(t, "dave", srv.run.SIPUDP, dialInBob.password, longTone(t, work, "bob", bobHz, "0.5"),
		baresipOptions{Domain: srv.domain})
	alice := startBaresip(t, "alice", srv.run.SIPUDP, dialInAlice.password, makeTone(t, work, "alice", aliceHz))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	bob.waitRegistered(ctx, t)
	alice.waitRegistered(ctx, t)

	// bob dials the access number as a number; reverse number lookup
	// finds its contact object.
	if _, err := bob.ctrl.command(ctx, "dial", "sip:+14255550100@"+srv.domain); err != nil {
		t.Fatalf("bob dial: %v", err)
	}
	if err := bob.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("bob: %v\n%s", err, srv.logTail(40))
	}
	// The conference ID, typed ahead during the welcome.
	time.Sleep(2 * time.Second)
	for _, k := range inv.ConferenceID + "#" {
		if _, err := bob.ctrl.command(ctx, "sndcode", string(k)); err != nil {
			t.Fatalf("bob sndcode %c: %v", k, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Nobody else is in the meeting, yet he is not held: his phone is
	// referred to the A/V MCU and joins it.
	waitLog(t, srv, "the enterprise phone joined the A/V MCU", "bob's phone at the A/V MCU", 40*time.Second)

	// alice joins the audio from her client: both hear each other.
	host, port := srv.sipHostPort(t)
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key
	if _, err := alice.ctrl.command(ctx, "dial", target); err != nil {
		t.Fatalf("alice dial: %v", err)
	}
	if err := alice.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("alice: %v\n%s", err, srv.logTail(40))
	}
	time.Sleep(6 * time.Second)
	for _, c := range []*baresipClient{alice, bob} {
		if _, err := c.ctrl.command(ctx, "hangup", ""); err != nil {
			t.Fatalf("%s hangup: %v", c.name, err)
		}
	}
	alice.stop(t)
	bob.stop(t)

	checkHeard(t, alice, bobHz, aliceHz)
	// His phone made two calls: to the attendant, then (referred) to the
	// A/V MCU.
	files, _ := filepath.Glob(filepath.Join(bob.recDir, "dump-*-dec.wav"))
	if len(files) != 2 {
		t.Fatalf("bob: %d decoded recordings, want 2 (attendant, MCU): %v", len(files), files)
	}
	sort.Strings(files)
	rec, err := readWAV(files[0])
	if err != nil {
		t.Fatal(err)
	}
	atMCU, err := readWAV(files[1])
	if err != nil {
		t.Fatal(err)
	}
	// He heard the welcome, and never the hold music.
	welcome, err := prompts.PCM("en-US", prompts.Welcome)
	if err != nil {
		t.Fatal(err)
	}
	if at, score := findClip(rec.samples, welcome, rec.rate, 0, 5); score < 0.6 {
		t.Errorf("bob did not hear the welcome prompt: best match %.2f at %.1f s", score, at)
	}
	end := float64(len(rec.samples)) / float64(rec.rate)
	if at, score := findClip(rec.samples, prompts.HoldMusic(), rec.rate, 0, end); score >= 0.5 {
		t.Errorf("bob was held: hold music at %.1f s (match %.2f)", at, score)
	}
	tail := wavAudio{rate: atMCU.rate, samples: atMCU.samples[max(0, len(atMCU.samples)-4*atMCU.rate):]}
	if r := analyzeTone(tail, aliceHz, bobHz); r.blocks < 20 || r.toneShare < 0.9 || r.wrongMax > 0.05 {
		t.Errorf("bob did not hear alice in the conference: %v", r)
	}
}
