package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMCUConference joins three parties to one meeting's audio on the A/V
// MCU: alice and bob with baresip, carol with SIPp. Each plays its own tone
// (700, 1300 and 1900 Hz). baresip records what it decodes: alice must
// hear bob's and carol's tones and not her own, bob alice's and carol's and
// not his. alice then types 4 7 # and the MCU must report exactly those
// digits, in order, from her RFC 4733 telephone-events.
func TestMCUConference(t *testing.T) {
	requireTools(t, "baresip", "sox", "sipp")
	srv := startParley(t, serverOptions{})
	alice := user{name: "alice", password: "alice-Secret-7", extension: "1001", display: "Alice"}
	bob := user{name: "bob", password: "bob-Secret-8", extension: "1002", display: "Bob"}
	carol := user{name: "carol", password: "carol-Secret-9", extension: "1003", display: "Carol"}
	srv.addUsers(t, alice, bob, carol)

	// alice schedules an open meeting with the scheduling client.
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", alice.password,
		"--subject", "MCU test", "--json")
	var inv struct {
		Key string `json:"key"`
		URI string `json:"conference_uri"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.Key == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}
	host, port := srv.sipHostPort(t)
	// The A/V MCU URI of the meeting, dialed at the server's address.
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key

	const aliceHz, bobHz, carolHz = 700, 1300, 1900
	work := t.TempDir()
	a := startBaresip(t, "alice", srv.run.SIPUDP, alice.password, makeTone(t, work, "alice", aliceHz))
	b := startBaresip(t, "bob", srv.run.SIPUDP, bob.password, makeTone(t, work, "bob", bobHz))

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	a.waitRegistered(ctx, t)
	b.waitRegistered(ctx, t)
	for _, c := range []*baresipClient{a, b} {
		if _, err := c.ctrl.command(ctx, "dial", target); err != nil {
			t.Fatalf("%s dial: %v", c.name, err)
		}
		if err := c.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, srv.logTail(30))
		}
	}

	// carol joins with SIPp, playing a µ-law WAV as RTP for 6 s.
	carolDir := t.TempDir()
	if out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law",
		filepath.Join(carolDir, "tone.wav"), "synth", "30", "sine", strconv.Itoa(carolHz), "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	sipp := startSIPp(t, sippOptions{
		name: "carol", scenario: "mcu_join.xml", remote: srv.run.SIPUDP, workDir: carolDir,
		args: []string{"-inf", writeUsersCSV(t, carolDir, "carol.csv", carol), "-key", "target", target,
			"-m", "1", "-d", "6000"},
	})

	time.Sleep(2 * time.Second)
	for _, d := range []string{"4", "7", "#"} {
		if _, err := a.ctrl.command(ctx, "sndcode", d); err != nil {
			t.Fatalf("alice sndcode %s: %v", d, err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	sipp.wait(t).expect(t, 1)

	for _, c := range []*baresipClient{a, b} {
		if _, err := c.ctrl.command(ctx, "hangup", ""); err != nil {
			t.Fatalf("%s hangup: %v", c.name, err)
		}
		if err := c.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	a.stop(t)
	b.stop(t)

	checkHeardAll(t, a, []float64{bobHz, carolHz}, aliceHz)
	checkHeardAll(t, b, []float64{aliceHz, carolHz}, bobHz)

	// The digits, in order, reported once each.
	var digits []string
	for _, line := range strings.Split(srv.logTail(400), "\n") {
		if strings.Contains(line, "A/V leg DTMF") && strings.Contains(line, "user=sip:alice@") {
			if i := strings.Index(line, "digit="); i >= 0 {
				digits = append(digits, strings.Fields(line[i+len("digit="):])[0])
			}
		}
	}
	if got := strings.Join(digits, ""); got != "47#" {
		t.Errorf("DTMF reported by the MCU = %q, want \"47#\"", got)
	}
}

// checkHeardAll fails the test unless c's recording has every tone of want
// clearly in it and not unwanted (its own: a mix must be N−1).
func checkHeardAll(t *testing.T, c *baresipClient, want []float64, unwanted float64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.recDir, "dump-*-dec.wav"))
	if len(files) != 1 {
		t.Errorf("%s: %d decoded recordings, want 1: %v", c.name, len(files), files)
		return
	}
	audio, err := readWAV(files[0])
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	r := analyzeTones(audio, want, unwanted)
	t.Logf("%s heard: %v", c.name, r)
	for i, f := range want {
		if r.present[i] < 20 {
			t.Errorf("%s heard %v Hz in only %d blocks of 100 ms, want at least 20", c.name, f, r.present[i])
		}
	}
	if r.unwantedMax > 0.05 {
		t.Errorf("%s heard its own %v Hz at %.1f%% of the power: the mix is not N−1", c.name, unwanted, 100*r.unwantedMax)
	}
}
