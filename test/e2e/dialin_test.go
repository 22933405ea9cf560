package e2e

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// Dial-in end to end (seed 001, "Connecting to the Meeting"): a PSTN phone
// (baresip, no registration) calls the access number at the Mediation
// Server's gateway port; the front end routes the call to the
// Conferencing Attendant, which greets the caller, takes the conference ID
// and passcode as RFC 4733 digits, holds him with music until an
// enterprise user is in the meeting, and adds him to the Focus; the A/V
// MCU then takes his audio from the Mediation Server (INVITE with
// Replaces) and the attendant's leg ends.

// dialInAlice organizes the meeting and joins it from her SIP client.
var dialInAlice = user{name: "alice", password: "alice-Secret-7", extension: "1001", display: "Alice Anders"}

func TestDialInEndToEnd(t *testing.T) {
	requireTools(t, "baresip", "sox")
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US", "--language", "es-US")
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", dialInAlice.password,
		"--subject", "Dial-in test", "--anonymous", "--passcode", "--json")
	var inv struct {
		Key          string `json:"key"`
		ConferenceID string `json:"conference_id"`
		Passcode     string `json:"passcode"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.ConferenceID == "" || inv.Passcode == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}

	const phoneHz, aliceHz = 1900, 700
	work := t.TempDir()
	phone := startBaresipWith(t, "+12065550199", srv.mediation, "unused", makeTone(t, work, "phone", phoneHz),
		baresipOptions{NoRegister: true})
	alice := startBaresip(t, "alice", srv.run.SIPUDP, dialInAlice.password, makeTone(t, work, "alice", aliceHz))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	alice.waitRegistered(ctx, t)

	if _, err := phone.ctrl.command(ctx, "dial", "sip:5550100@"+srv.mediation); err != nil {
		t.Fatalf("phone dial: %v", err)
	}
	if err := phone.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("phone: %v\n%s", err, srv.logTail(40))
	}
	// The welcome and the language offer, then the question for the
	// conference ID; the keys are typed after it.
	time.Sleep(9 * time.Second)
	press := func(keys string) {
		t.Helper()
		for _, k := range keys {
			if _, err := phone.ctrl.command(ctx, "sndcode", string(k)); err != nil {
				t.Fatalf("phone sndcode %c: %v", k, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	press(inv.ConferenceID + "#")
	time.Sleep(4 * time.Second)
	press(inv.Passcode + "#")
	// Nobody leads the meeting yet: the caller is held with music.
	time.Sleep(8 * time.Second)
	if !srv.logContains("attendant") {
		t.Logf("server log:\n%s", srv.logTail(60))
	}

	// alice joins the meeting's audio from her client: now the caller
	// goes in, and his audio moves to the A/V MCU.
	host, port := srv.sipHostPort(t)
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key
	if _, err := alice.ctrl.command(ctx, "dial", target); err != nil {
		t.Fatalf("alice dial: %v", err)
	}
	if err := alice.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("alice: %v\n%s", err, srv.logTail(40))
	}
	deadline := time.Now().Add(15 * time.Second)
	for !srv.logContains("the caller's audio moved to the A/V MCU") {
		if time.Now().After(deadline) {
			t.Fatalf("the caller's audio never reached the A/V MCU:\n%s", srv.logTail(80))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The roster lists the caller under the caller ID the gateway passed
	// (seed 000), as a dialed-in endpoint: alice reads it from the Focus.
	rosterDir := t.TempDir()
	focusURI := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:focus:id:" + inv.Key
	roster := runSIPp(t, sippOptions{name: "roster", scenario: "focus_subscribe.xml", remote: srv.run.SIPUDP, workDir: rosterDir,
		args: []string{"-inf", writeUsersCSV(t, rosterDir, "alice.csv", dialInAlice), "-key", "target", focusURI, "-m", "1"}})
	roster.expect(t, 1)
	if !strings.Contains(roster.messages, "+12065550199") || !strings.Contains(roster.messages, "dialed-in") {
		t.Errorf("the roster does not list the caller by his caller ID as dialed in:\n%s", lastBytes(roster.messages, 4000))
	}
	// Both hear each other for a while.
	time.Sleep(5 * time.Second)
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

	checkHeard(t, alice, phoneHz, aliceHz)
	rec := phoneRecording(t, phone)
	// The welcome, in the access number's primary language, from the
	// start of the call.
	welcome, err := prompts.PCM("en-US", prompts.Welcome)
	if err != nil {
		t.Fatal(err)
	}
	if at, score := findClip(rec.samples, welcome, rec.rate, 0, 5); score < 0.6 {
		t.Errorf("the phone did not hear the welcome prompt: best match %.2f at %.1f s", score, at)
	} else {
		t.Logf("welcome heard at %.1f s (match %.2f)", at, score)
	}
	// The hold music, after the passcode.
	if at, score := findClip(rec.samples, prompts.HoldMusic(), rec.rate, 12, 40); score < 0.6 {
		t.Errorf("the phone did not hear the hold music: best match %.2f at %.1f s", score, at)
	} else {
		t.Logf("hold music heard from %.1f s (match %.2f)", at, score)
	}
	// alice's tone at the end, from the conference.
	tail := wavAudio{rate: rec.rate, samples: rec.samples[max(0, len(rec.samples)-5*rec.rate):]}
	if r := analyzeTone(tail, aliceHz, phoneHz); r.blocks < 20 || r.toneShare < 0.9 || r.wrongMax > 0.05 {
		t.Errorf("the phone did not hear alice in the conference: %v", r)
	}
}

// phoneRecording reads what a baresip client decoded.
func phoneRecording(t *testing.T, c *baresipClient) wavAudio {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.recDir, "dump-*-dec.wav"))
	if len(files) != 1 {
		t.Fatalf("%s: %d decoded recordings, want 1: %v", c.name, len(files), files)
	}
	a, err := readWAV(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// findClip looks for the first half second of clip (8 kHz PCM) in rec
// between from and to seconds, and returns where it matches best and the
// normalized correlation there (1 is a perfect copy; G.711 keeps it
// above 0.9).
func findClip(rec []float64, clip []int16, rate int, from, to float64) (float64, float64) {
	n := rate / 2
	// Skip the clip's leading silence: correlation needs signal.
	start := 0
	for start < len(clip)-n && math.Abs(float64(clip[start])) < 300 {
		start++
	}
	tpl := make([]float64, n)
	var tplNorm float64
	for i := range n {
		tpl[i] = float64(clip[start+i]) / 32768
		tplNorm += tpl[i] * tpl[i]
	}
	best, bestAt := 0.0, 0
	lo, hi := int(from*float64(rate)), min(int(to*float64(rate)), len(rec)-n)
	for lag := lo; lag < hi; lag++ {
		var dot, norm float64
		w := rec[lag : lag+n]
		for i, v := range w {
			dot += v * tpl[i]
			norm += v * v
		}
		if norm == 0 {
			continue
		}
		if s := dot / math.Sqrt(norm*tplNorm); s > best {
			best, bestAt = s, lag
		}
	}
	return float64(bestAt-start) / float64(rate), best
}
