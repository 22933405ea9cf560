package e2e

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// A presenter mutes a dial-in caller (issue 6; seed 000: presenters mute
// callers): the caller's audio leaves the mix at the A/V MCU, and the
// caller alone hears that a presenter muted him. The command goes over the
// real protocol: SIPp joins the focus as the organizer and sends C3P
// modifyEndpointMedia in INFO (test/sipp/focus_mute.xml), naming the caller
// by the user and endpoint entities the roster gives.

// TestDialInPresenterMute: a PSTN phone (baresip at the Mediation
// Server's gateway port, playing 1900 Hz) dials in with the conference ID
// and passcode; alice, the organizer, joins the audio from her client
// (silent, so that the phone's recording holds the prompts alone). Then
// alice mutes the caller through the Focus, and unmutes him. The phone
// must hear "You are muted. You were muted by a presenter." after the
// mute and "You are unmuted." after the unmute, and neither before; alice
// must hear the phone before the mute, not while he is muted, and again
// after the unmute.
func TestDialInPresenterMute(t *testing.T) {
	requireTools(t, "baresip", "sox", "sipp")
	srv := setUpMediation(t, serverOptions{})
	srv.addUsers(t, dialInAlice)
	srv.cli(t, "access-number", "add", "+14255550100", "--region", "US West", "--language", "en-US")
	key, confID, passcode := dialInMeeting(t, srv, dialInAlice)

	const phoneHz = 1900
	work := t.TempDir()
	phone := startBaresipWith(t, "+12065550199", srv.mediation, "unused", longTone(t, work, "phone", phoneHz, "0.5"),
		baresipOptions{NoRegister: true})
	alice := startBaresip(t, "alice", srv.run.SIPUDP, dialInAlice.password, longTone(t, work, "alice", 700, "0"))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	alice.waitRegistered(ctx, t)

	// alice, the organizer, is in the meeting's audio first: the caller
	// goes straight in, without the hold.
	host, port := srv.sipHostPort(t)
	avmcuAt := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + key
	if _, err := alice.ctrl.command(ctx, "dial", avmcuAt); err != nil {
		t.Fatalf("alice dial: %v", err)
	}
	if err := alice.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("alice: %v\n%s", err, srv.logTail(40))
	}
	aliceStart := time.Now()

	if _, err := phone.ctrl.command(ctx, "dial", "sip:5550100@"+srv.mediation); err != nil {
		t.Fatalf("phone dial: %v", err)
	}
	if err := phone.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("phone: %v\n%s", err, srv.logTail(40))
	}
	phoneStart := time.Now()
	// The attendant keeps keys typed over its prompts and while the front
	// end answers (type-ahead): the caller types both entries at once,
	// once the welcome has started (his RTP flows).
	time.Sleep(1500 * time.Millisecond)
	for _, k := range confID + "#" + passcode + "#" {
		if _, err := phone.ctrl.command(ctx, "sndcode", string(k)); err != nil {
			t.Fatalf("phone sndcode %c: %v", k, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitLog(t, srv, "the caller's audio moved to the A/V MCU", "", 30*time.Second)
	moved := time.Now()

	// The caller's entities, from the roster alice reads.
	caller, endpoint := dialInEntities(t, srv, dialInAlice, key)
	t.Logf("the caller in the roster: %s, endpoint %s", caller, endpoint)

	// alice hears the phone for a while, then mutes him for 8 s.
	time.Sleep(time.Until(moved.Add(5 * time.Second)))
	const mutedFor = 8 * time.Second
	dir := t.TempDir()
	conf := "sip:alice@" + srv.domain + ";gruu;opaque=app:conf:focus:id:" + key
	mute := runSIPp(t, sippOptions{
		name: "focus-mute", scenario: "focus_mute.xml", remote: srv.run.SIPUDP, workDir: dir,
		args: []string{"-inf", writeUsersCSV(t, dir, "alice.csv", dialInAlice),
			"-key", "target", strings.Replace(avmcuAt, "audio-video", "focus", 1),
			"-key", "conf", conf,
			"-key", "avmcu", strings.Replace(conf, "focus", "audio-video", 1),
			"-key", "user", "sip:alice@" + srv.domain,
			"-key", "victim", caller, "-key", "victim_ep", endpoint,
			"-m", "1", "-d", strconv.Itoa(int(mutedFor.Milliseconds()))},
	})
	mute.expect(t, 1)
	if t.Failed() {
		t.FailNow()
	}
	answers := sippResponseTimes(t, mute.messages, "INFO")
	if len(answers) != 2 {
		t.Fatalf("want the 200s of 2 INFOs in SIPp's trace, got %d:\n%s", len(answers), lastBytes(mute.messages, 4000))
	}
	mutedAt, unmutedAt := answers[0], answers[1]
	t.Logf("muted %.1f s after the hand-off, unmuted %.1f s later", mutedAt.Sub(moved).Seconds(), unmutedAt.Sub(mutedAt).Seconds())

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

	// alice: the phone's tone before the mute, none while muted, and
	// back after the unmute.
	heard := phoneRecording(t, alice)
	window := func(from, to time.Time) []float64 {
		at := func(w time.Time) int {
			return min(len(heard.samples), max(0, int(w.Sub(aliceStart).Seconds()*float64(heard.rate))))
		}
		return heard.samples[at(from):at(to)]
	}
	before := window(mutedAt.Add(-4*time.Second), mutedAt.Add(-time.Second))
	during := window(mutedAt.Add(1500*time.Millisecond), unmutedAt.Add(-500*time.Millisecond))
	after := window(unmutedAt.Add(1500*time.Millisecond), unmutedAt.Add(3500*time.Millisecond))
	if len(before) < 2*heard.rate || len(during) < 5*heard.rate || len(after) < heard.rate {
		t.Fatalf("alice's recording is too short: %d samples (before %d, during %d, after %d)",
			len(heard.samples), len(before), len(during), len(after))
	}
	pb, pd, pa := goertzelPower(before, phoneHz, heard.rate), goertzelPower(during, phoneHz, heard.rate), goertzelPower(after, phoneHz, heard.rate)
	t.Logf("alice: phone tone power %.2e before the mute, %.2e while muted, %.2e after the unmute", pb, pd, pa)
	if pb < 1e-3 {
		t.Errorf("alice did not hear the phone before the mute (power %.2e)", pb)
	}
	if pd > pb/100 {
		t.Errorf("alice still hears the phone while the presenter muted him: power %.2e, before %.2e", pd, pb)
	}
	if pa < pb/4 {
		t.Errorf("alice does not hear the phone again after the unmute: power %.2e, before %.2e", pa, pb)
	}

	// The phone: the prompts after each command, in order, and not before.
	rec := phoneRecording(t, phone)
	since := func(w time.Time) float64 { return w.Sub(phoneStart).Seconds() }
	find := func(key prompts.Key, from, to float64) (float64, float64) {
		t.Helper()
		clip, err := prompts.PCM("en-US", key)
		if err != nil {
			t.Fatal(err)
		}
		return findClip(rec.samples, clip, rec.rate, from, to)
	}
	// The recording starts about when baresip reports the call, and the
	// MCU plays each announcement as it applies the command, just before
	// the Focus answers: slack covers both.
	const heardScore, absentScore, slack = 0.6, 0.5, 1.5
	// Before the mute the caller hears the attendant's prompts (speech)
	// and the conference, never these: a detector that finds them there
	// proves nothing.
	for _, k := range []prompts.Key{prompts.YouAreMuted, prompts.YouAreUnmuted} {
		if at, score := find(k, 0, since(mutedAt)-slack); score > absentScore {
			t.Errorf("%q matches %.2f at %.1f s, before the mute", k, score, at)
		} else {
			t.Logf("%q before the mute: best match %.2f", k, score)
		}
	}
	m := since(mutedAt)
	mutedHeard, score := find(prompts.YouAreMuted, m-slack, m+4)
	if score < heardScore {
		t.Errorf("the phone did not hear \"You are muted\": best match %.2f at %.1f s (mute answered at %.1f s)", score, mutedHeard, m)
	} else {
		t.Logf("\"You are muted\" heard at %.1f s (mute answered at %.1f s, match %.2f)", mutedHeard, m, score)
	}
	if at, score := find(prompts.MutedByPresenter, mutedHeard+0.5, m+8); score < heardScore {
		t.Errorf("the phone did not hear \"You were muted by a presenter\" after \"You are muted\": best match %.2f at %.1f s", score, at)
	} else {
		t.Logf("\"You were muted by a presenter\" heard at %.1f s (match %.2f)", at, score)
	}
	u := since(unmutedAt)
	if at, score := find(prompts.YouAreUnmuted, m, u-slack); score > absentScore {
		t.Errorf("\"You are unmuted\" matches %.2f at %.1f s, before the unmute at %.1f s", score, at, u)
	} else {
		t.Logf("\"You are unmuted\" while muted: best match %.2f", score)
	}
	if at, score := find(prompts.YouAreUnmuted, u-slack, u+4); score < heardScore {
		t.Errorf("the phone did not hear \"You are unmuted\": best match %.2f at %.1f s (unmute answered at %.1f s)", score, at, u)
	} else {
		t.Logf("\"You are unmuted\" heard at %.1f s (unmute answered at %.1f s, match %.2f)", at, u, score)
	}
}

// waitLog waits up to timeout until the server's log has a line
// containing want; on failure it shows the log's lines containing context.
func waitLog(t *testing.T, srv *parleyServer, want, context string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !srv.logContains(want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server's log after %v:\n%s", want, timeout, grepLog(srv, context, 60))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grepLog returns the last n lines of the server's log that contain sub
// (all lines when sub is empty).
func grepLog(srv *parleyServer, sub string, n int) string {
	b, err := os.ReadFile(srv.logPath)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// rosterUser matches a dial-in caller's user element in a conference-info
// document (RFC 4575 §5.6): the Focus names callers
// sip:dialin-HEX@anonymous.invalid; his audio-video endpoint follows.
var rosterUser = regexp.MustCompile(`<user entity="(sip:dialin-[0-9a-f]+@anonymous\.invalid)"[^>]*>.*?<endpoint entity="([^"]+)" session-type="audio-video"`)

// dialInEntities reads the meeting's roster as u (focus_subscribe.xml) and
// returns the dial-in caller's user and audio-video endpoint entities.
func dialInEntities(t *testing.T, srv *parleyServer, u user, key string) (string, string) {
	t.Helper()
	host, port := srv.sipHostPort(t)
	dir := t.TempDir()
	roster := runSIPp(t, sippOptions{name: "roster", scenario: "focus_subscribe.xml", remote: srv.run.SIPUDP, workDir: dir,
		args: []string{"-inf", writeUsersCSV(t, dir, u.name+".csv", u),
			"-key", "target", "sip:" + u.name + "@" + host + ":" + port + ";gruu;opaque=app:conf:focus:id:" + key, "-m", "1"}})
	roster.expect(t, 1)
	m := rosterUser.FindStringSubmatch(roster.messages)
	if m == nil {
		t.Fatalf("no dial-in caller with an audio-video endpoint in the roster:\n%s", lastBytes(roster.messages, 4000))
	}
	return m[1], m[2]
}

// sippTraceHead is the line that precedes each message in SIPp's
// -trace_msg file: a rule, then the local date and time to the
// microsecond.
var sippTraceHead = regexp.MustCompile(`(?m)^-+ (\d{4}-\d{2}-\d{2})[ \t]+(\d{2}:\d{2}:\d{2}\.\d{6})[ \t]*$`)

// sippResponseTimes returns when SIPp received each 200 answering a
// request of method, in order, from its -trace_msg file.
func sippResponseTimes(t *testing.T, messages, method string) []time.Time {
	t.Helper()
	cseq := regexp.MustCompile(`(?mi)^CSeq:\s*\d+\s+` + regexp.QuoteMeta(method) + `\s*$`)
	heads := sippTraceHead.FindAllStringSubmatchIndex(messages, -1)
	var out []time.Time
	for i, h := range heads {
		end := len(messages)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		msg := messages[h[1]:end]
		if !strings.Contains(msg, "message received") || !strings.Contains(msg, "SIP/2.0 200") || !cseq.MatchString(msg) {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", messages[h[2]:h[3]]+" "+messages[h[4]:h[5]], time.Local)
		if err != nil {
			t.Fatalf("SIPp trace time: %v", err)
		}
		out = append(out, at)
	}
	return out
}
