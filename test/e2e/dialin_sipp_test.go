package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// The dial-in flow with SIPp as the PSTN gateway: the keys are RFC 4733
// telephone-events replayed from the captures of test/sipp/pcap/dtmf (see
// test/sipp/pcap), so that the attendant's receiver and the Mediation
// Server's relay see a gateway that is not baresip.

// dialInMeeting creates an anonymous meeting with a passcode, organized by
// u, and returns `meeting create --json`'s answer.
func dialInMeeting(t *testing.T, srv *parleyServer, u user) (key, confID, passcode string) {
	t.Helper()
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:"+u.name+"@"+srv.domain, "--password", u.password,
		"--subject", "SIPp dial-in", "--anonymous", "--passcode", "--json")
	var inv struct {
		Key          string `json:"key"`
		ConferenceID string `json:"conference_id"`
		Passcode     string `json:"passcode"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.ConferenceID == "" || inv.Passcode == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}
	// The scenario types at most 12 digits per entry (pcap.MaxDigits).
	if len(inv.ConferenceID) > 12 || len(inv.Passcode) > 12 {
		t.Fatalf("conference ID %q or passcode of %d digits: longer than dialin_call.xml can type", inv.ConferenceID, len(inv.Passcode))
	}
	return inv.Key, inv.ConferenceID, inv.Passcode
}

// requireRoot skips (or, with PARLEY_E2E=1, fails) a test whose SIPp
// scenario plays captures: play_pcap_audio sends from a raw socket.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("PARLEY_E2E") == "1" {
		t.Fatal("SIPp's play_pcap_audio needs a raw socket: run as root (PARLEY_E2E=1 makes this a failure)")
	}
	t.Skip("SIPp's play_pcap_audio needs a raw socket: run as root")
}

// TestSIPpDialIn: a SIPp gateway dials the access number, types the
// conference ID and the passcode, and is held; a SIPp SIP client (alice,
// the organizer) joins the meeting's audio on the A/V MCU, which ends the
// hold: the Focus adds the caller, the MCU takes his audio from the
// Mediation Server (INVITE with Replaces) and the attendant's leg ends.
// The gateway then stays a few seconds and hangs up.
func TestSIPpDialIn(t *testing.T) {
	requireTools(t, "sipp", "sox")
	requireRoot(t)
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	key, confID, passcode := dialInMeeting(t, srv, dialInAlice)

	gw := startSIPp(t, sippOptions{
		name: "dialin-gateway", scenario: "dialin_call.xml", remote: srv.mediation, timeout: 60 * time.Second,
		args: []string{"-s", "5550100", "-key", "confid", confID, "-key", "passcode", passcode, "-m", "1", "-d", "16000"},
	})
	// The keys take about 2 + 0.3 x (digits + 2) s; then the caller is
	// on hold, since nobody leads the meeting.
	time.Sleep(time.Duration(2000+300*(len(confID)+len(passcode)+2)+3000) * time.Millisecond)
	if srv.logContains("the caller's audio moved to the A/V MCU") {
		t.Fatalf("the caller joined before anyone led the meeting:\n%s", srv.logTail(40))
	}

	host, port := srv.sipHostPort(t)
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + key
	aliceDir := t.TempDir()
	gatewayTone(t, aliceDir, 700)
	alice := startSIPp(t, sippOptions{
		name: "alice", scenario: "mcu_join.xml", remote: srv.run.SIPUDP, workDir: aliceDir,
		args: []string{"-inf", writeUsersCSV(t, aliceDir, "alice.csv", dialInAlice), "-key", "target", target,
			"-m", "1", "-d", "10000"},
	})
	deadline := time.Now().Add(15 * time.Second)
	for !srv.logContains("the caller's audio moved to the A/V MCU") {
		if time.Now().After(deadline) {
			gw.kill()
			alice.kill()
			t.Fatalf("the caller's audio never reached the A/V MCU:\n%s", srv.logTail(80))
		}
		time.Sleep(200 * time.Millisecond)
	}
	res := gw.wait(t)
	res.expect(t, 1)
	alice.wait(t).expect(t, 1)
	if !srv.logContains("mediation: the front-end dialog was replaced") {
		t.Errorf("the Mediation Server logged no hand-off (INVITE with Replaces from the A/V MCU)")
	}
	if !strings.Contains(res.messages, "telephone-event/8000") || strings.Contains(res.messages, "RTP/SAVP") {
		t.Errorf("the gateway side must be plain RTP with telephone-event; messages:\n%s", lastBytes(res.messages, 3000))
	}
}

// TestSIPpDialInWrongID: a SIPp gateway types a conference ID that names
// no meeting three times; the attendant says so each time, then goodbye,
// and hangs up: the BYE reaches the gateway through the Mediation Server.
func TestSIPpDialInWrongID(t *testing.T) {
	requireTools(t, "sipp")
	requireRoot(t)
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	// A meeting exists, with an ID other than the scenario's.
	if _, confID, _ := dialInMeeting(t, srv, dialInAlice); confID == "0000000" {
		t.Fatalf("the meeting has the scenario's wrong conference ID %s", confID)
	}
	res := runSIPp(t, sippOptions{
		name: "dialin-wrong-id", scenario: "dialin_wrong_id.xml", remote: srv.mediation, timeout: 60 * time.Second,
		args: []string{"-s", "5550100", "-m", "1"},
	})
	res.expect(t, 1)
	if !strings.Contains(res.messages, "BYE sip:") {
		t.Errorf("the gateway received no BYE:\n%s", lastBytes(res.messages, 3000))
	}
	if srv.logContains("attendant: the caller's audio moved") {
		t.Errorf("a caller with a wrong conference ID joined a meeting")
	}
	// The attendant hung up (not the gateway), and soon: three wrong
	// entries take about 23 s; an attendant that heard no keys would
	// wait for them three times (10 s each after its question) and end
	// the call after some 50 s, past the scenario's wait for the BYE.
	log, _ := os.ReadFile(srv.logPath)
	var ended string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "mediation: call ended") {
			ended = l
		}
	}
	if !strings.Contains(ended, "kind=attendant") || !strings.Contains(ended, `reason="the front end hung up"`) {
		t.Errorf("want the attendant's hang-up in the Mediation Server's log, got %q", ended)
	}
}
