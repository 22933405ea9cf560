package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Mediation Server end to end: SIPp plays the PSTN gateway (plain RTP)
// at the Mediation Server's port, baresip answers as the called user with
// SRTP (SDES), and Parley's front end routes between them.

// mediationBob is the called user: Enterprise Voice, line +1 425 555 1002.
var mediationBob = user{name: "bob", password: "bob-Secret-8", extension: "1002", display: "Bob Brown"}

// setUpMediation starts Parley, makes the Default location profile read
// seven-digit local numbers as Redmond's (+1 425 ...), and adds bob with
// his line URI.
func setUpMediation(t *testing.T, opts serverOptions) *parleyServer {
	t.Helper()
	srv := startParley(t, opts)
	srv.cli(t, "location-profile", "set", "Default",
		"--rule", `(\d{7})=>+1425$1`, "--rule", `\+(\d+)=>+$1`)
	srv.cli(t, "user", "add", "sip:bob@"+srv.domain, "--password", mediationBob.password,
		"--display-name", mediationBob.display, "--extension", mediationBob.extension,
		"--line-uri", "tel:+14255551002", "--enterprise-voice")
	return srv
}

// gatewayTone writes a µ-law WAV of hz for SIPp's rtp_stream.
func gatewayTone(t *testing.T, dir string, hz int) {
	t.Helper()
	if out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law",
		filepath.Join(dir, "tone.wav"), "synth", "30", "sine", strconv.Itoa(hz), "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
}

// TestMediationGatewayCallToUser has a gateway call bob's number in the
// local form 5551002. The Mediation Server normalizes it to +14255551002,
// finds bob by his line URI and calls him through the front end; bob's
// baresip answers with SRTP. The gateway's 1900 Hz tone must reach bob.
// A second call, with SIPp echoing what it receives, proves the other
// direction: bob must hear his own 1300 Hz tone come back through the
// gateway, which happens only if the gateway received it.
func TestMediationGatewayCallToUser(t *testing.T) {
	requireTools(t, "baresip", "sox", "sipp")
	srv := setUpMediation(t, serverOptions{})
	const bobHz, gatewayHz = 1300, 1900
	work := t.TempDir()
	bobTone := makeTone(t, work, "bob", bobHz)

	for _, tc := range []struct {
		name     string
		scenario string
		args     []string
		want     float64
		unwanted float64
	}{
		{name: "gateway-tone", scenario: "gw_call.xml", want: gatewayHz, unwanted: bobHz},
		{name: "gateway-echo", scenario: "gw_call_echo.xml", args: []string{"-rtp_echo"}, want: bobHz, unwanted: gatewayHz},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bob := startBaresipSRTP(t, "bob", srv.run.SIPUDP, mediationBob.password, bobTone, "auto")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			bob.waitRegistered(ctx, t)

			gwDir := t.TempDir()
			gatewayTone(t, gwDir, gatewayHz)
			gw := startSIPp(t, sippOptions{
				name: tc.name, scenario: tc.scenario, remote: srv.mediation, workDir: gwDir,
				args: append([]string{"-s", "5551002", "-m", "1", "-d", "5000"}, tc.args...),
			})
			if err := bob.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
				gw.kill()
				t.Fatalf("bob: %v\n%s", err, srv.logTail(40))
			}
			res := gw.wait(t)
			res.expect(t, 1)
			if err := bob.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
				t.Fatalf("bob: %v (the gateway's BYE did not reach him)", err)
			}
			bob.stop(t)
			checkHeard(t, bob, tc.want, tc.unwanted)

			// Caller ID: the front end's INVITE reached bob with the
			// gateway's E.164 caller, and the media was SRTP.
			log, _ := os.ReadFile(bob.logPath)
			if !strings.Contains(string(log), "+12065550199") {
				t.Errorf("bob's baresip never saw the caller +12065550199:\n%s", bob.logTail(30))
			}
			if !srv.logContains("mediation: call connected") {
				t.Errorf("the Mediation Server logged no connected call")
			}
			if !strings.Contains(res.messages, "m=audio") || strings.Contains(lastBytes(res.messages, 1<<20), "RTP/SAVP") {
				t.Errorf("the gateway side must be plain RTP/AVP; messages:\n%s", lastBytes(res.messages, 3000))
			}
		})
	}
}

// TestMediationRefusals covers the Mediation Server's refusals with SIPp
// as the gateway: an unknown number (404 with a Warning naming it), a
// malformed INVITE (400) and an address that is not a configured gateway
// (403).
func TestMediationRefusals(t *testing.T) {
	requireTools(t, "sipp")
	srv := setUpMediation(t, serverOptions{})

	unknown := runSIPp(t, sippOptions{name: "unknown-number", scenario: "gw_reject.xml", remote: srv.mediation,
		args: []string{"-s", "5559999", "-m", "1"}})
	unknown.expect(t, 1)
	if !strings.Contains(unknown.messages, "SIP/2.0 404") || !strings.Contains(unknown.messages, "+14255559999") {
		t.Errorf("unknown number: want 404 with a Warning naming +14255559999; messages:\n%s", lastBytes(unknown.messages, 3000))
	}

	bad := runSIPp(t, sippOptions{name: "malformed", scenario: "gw_malformed.xml", remote: srv.mediation,
		args: []string{"-s", "5551002", "-m", "1"}})
	bad.expect(t, 1)
	if !strings.Contains(bad.messages, "multiple Max-Forwards") {
		t.Errorf("malformed INVITE: want 400 with a Warning saying why; messages:\n%s", lastBytes(bad.messages, 3000))
	}

	// A second server that takes calls from one documentation address
	// (RFC 5737) only.
	strict := setUpMediation(t, serverOptions{gateways: []string{"192.0.2.10"}})
	refused := runSIPp(t, sippOptions{name: "not-a-gateway", scenario: "gw_reject.xml", remote: strict.mediation,
		args: []string{"-s", "5551002", "-m", "1"}})
	refused.expect(t, 1)
	if !strings.Contains(refused.messages, "SIP/2.0 403") {
		t.Errorf("call from an address that is not a gateway: want 403; messages:\n%s", lastBytes(refused.messages, 3000))
	}
}

// TestMediationCancelBeforeAnswer: bob's phone rings (it does not answer
// by itself), the gateway gives up: 487 to the gateway, and bob's phone
// stops ringing because the Mediation Server cancelled the front-end call.
func TestMediationCancelBeforeAnswer(t *testing.T) {
	requireTools(t, "baresip", "sox", "sipp")
	srv := setUpMediation(t, serverOptions{})
	work := t.TempDir()
	bob := startBaresipSRTP(t, "bob", srv.run.SIPUDP, mediationBob.password, makeTone(t, work, "bob", 1300), "manual")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob.waitRegistered(ctx, t)

	res := runSIPp(t, sippOptions{name: "cancel", scenario: "gw_cancel.xml", remote: srv.mediation,
		args: []string{"-s", "+1-425-555-1002", "-m", "1"}})
	res.expect(t, 1)
	if err := bob.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
		t.Fatalf("bob's phone did not stop ringing: %v\n%s", err, srv.logTail(30))
	}
}

// startBaresipSRTP is a baresip that offers SDES-SRTP only, as the
// Mediation Server's front-end side requires; answerMode "manual" rings
// until told.
func startBaresipSRTP(t *testing.T, name, server, password, sourceWAV, answerMode string) *baresipClient {
	t.Helper()
	return startBaresipWith(t, name, server, password, sourceWAV, baresipOptions{SRTP: true, Manual: answerMode == "manual"})
}
