package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// In-call keys end to end (issue 6): a PSTN caller in a meeting presses *6;
// the Focus mutes him at the A/V MCU, so that alice stops hearing him, and
// has the MCU tell him "You are muted" on his leg only.

// longToneSeconds is how long longTone's sine lasts: the dial-in takes
// longer than makeTone's 30 s.
const longToneSeconds = 120

// longTone writes longToneSeconds of a sine at hz Hz (silence at
// amplitude 0) as 8 kHz mono 16-bit WAV.
func longTone(t *testing.T, dir, name string, hz int, vol string) string {
	t.Helper()
	path := filepath.Join(dir, name+".wav")
	out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
		path, "synth", strconv.Itoa(longToneSeconds), "sine", strconv.Itoa(hz), "vol", vol).CombinedOutput()
	if err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	return path
}

func TestInCallMuteKey(t *testing.T) {
	requireTools(t, "baresip", "sox")
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", dialInAlice.password,
		"--subject", "In-call keys", "--anonymous", "--passcode", "--json")
	var inv struct {
		Key          string `json:"key"`
		ConferenceID string `json:"conference_id"`
		Passcode     string `json:"passcode"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.ConferenceID == "" || inv.Passcode == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}

	const phoneHz = 1900
	work := t.TempDir()
	phone := startBaresipWith(t, "+12065550199", srv.mediation, "unused", longTone(t, work, "phone", phoneHz, "0.5"),
		baresipOptions{NoRegister: true})
	// alice says nothing, so that the phone's recording holds the prompt
	// alone.
	alice := startBaresip(t, "alice", srv.run.SIPUDP, dialInAlice.password, longTone(t, work, "alice", 700, "0"))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	alice.waitRegistered(ctx, t)

	if _, err := phone.ctrl.command(ctx, "dial", "sip:5550100@"+srv.mediation); err != nil {
		t.Fatalf("phone dial: %v", err)
	}
	if err := phone.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("phone: %v\n%s", err, srv.logTail(40))
	}
	phoneStart := time.Now()
	press := func(keys string) {
		t.Helper()
		for _, k := range keys {
			if _, err := phone.ctrl.command(ctx, "sndcode", string(k)); err != nil {
				t.Fatalf("phone sndcode %c: %v", k, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	time.Sleep(9 * time.Second)
	press(inv.ConferenceID + "#")
	time.Sleep(4 * time.Second)
	press(inv.Passcode + "#")
	time.Sleep(3 * time.Second)

	host, port := srv.sipHostPort(t)
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key
	if _, err := alice.ctrl.command(ctx, "dial", target); err != nil {
		t.Fatalf("alice dial: %v", err)
	}
	if err := alice.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("alice: %v\n%s", err, srv.logTail(40))
	}
	aliceStart := time.Now()
	deadline := time.Now().Add(15 * time.Second)
	for !srv.logContains("the caller's audio moved to the A/V MCU") {
		if time.Now().After(deadline) {
			t.Fatalf("the caller's audio never reached the A/V MCU:\n%s", srv.logTail(80))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// alice hears the phone for a while, then the phone mutes itself.
	time.Sleep(5 * time.Second)
	muteAt := time.Now()
	press("*6")
	time.Sleep(6 * time.Second)
	for _, c := range []*baresipClient{alice, phone} {
		if _, err := c.ctrl.command(ctx, "hangup", ""); err != nil {
			t.Fatalf("%s hangup: %v", c.name, err)
		}
		if err := c.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	alice.stop(t)
	phone.stop(t)
	if !srv.logContains("in-call") && !srv.logContains("DTMF") {
		t.Logf("server log:\n%s", srv.logTail(80))
	}

	// alice: the phone's tone before *6, none after.
	heard := phoneRecording(t, alice)
	secs := func(d time.Duration) int { return int(d.Seconds() * float64(heard.rate)) }
	muteOff := muteAt.Sub(aliceStart)
	before := heard.samples[max(0, secs(muteOff-4*time.Second)):min(len(heard.samples), secs(muteOff-time.Second))]
	after := heard.samples[min(len(heard.samples), secs(muteOff+2*time.Second)):]
	if len(before) < heard.rate || len(after) < heard.rate {
		t.Fatalf("alice's recording is too short: %d samples, mute at %v", len(heard.samples), muteOff)
	}
	pb, pa := goertzelPower(before, phoneHz, heard.rate), goertzelPower(after, phoneHz, heard.rate)
	t.Logf("alice: phone tone power %.2e before *6, %.2e after", pb, pa)
	if pb < 1e-3 {
		t.Errorf("alice did not hear the phone before *6 (power %.2e)", pb)
	}
	if pa > pb/100 {
		t.Errorf("alice still hears the phone after *6: power %.2e, before %.2e", pa, pb)
	}

	// The phone: "You are muted." after its *6.
	rec := phoneRecording(t, phone)
	clip, err := prompts.PCM("en-US", prompts.YouAreMuted)
	if err != nil {
		t.Fatal(err)
	}
	from := muteAt.Sub(phoneStart).Seconds()
	if at, score := findClip(rec.samples, clip, rec.rate, from, from+5); score < 0.6 {
		t.Errorf("the phone did not hear \"You are muted\": best match %.2f at %.1f s (*6 at %.1f s)", score, at, from)
	} else {
		t.Logf("\"You are muted\" heard at %.1f s (*6 at %.1f s, match %.2f)", at, from, score)
	}
}
