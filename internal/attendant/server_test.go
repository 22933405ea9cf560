package attendant

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/prompts"
)

func TestServerRefuses(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	tests := []struct {
		name   string
		opts   callOpts
		code   int
		detail string
	}{
		{"unsigned", callOpts{unsigned: true}, 403, "trusted services only"},
		{"wrong service", callOpts{service: "avmcu"}, 403, "service avmcu may not call"},
		{"unknown access number", callOpts{ruri: "sip:caa-9@example.com"}, 404, "no access number"},
		{"no SDP", callOpts{noSDP: true}, 415, "SDP offer is required"},
		{"plain RTP", callOpts{plain: true}, 488, "crypto"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, res := b.med.invite(t, tc.opts)
			if c != nil {
				t.Fatal("the call was answered")
			}
			w := res.GetHeader("Warning")
			if res.StatusCode != tc.code || w == nil || !strings.Contains(w.Value(), tc.detail) {
				t.Errorf("answer %d, Warning %v; want %d with %q", res.StatusCode, w, tc.code, tc.detail)
			}
		})
	}
	if n := len(b.media.legs); n != 0 {
		t.Errorf("%d media legs opened for refused calls", n)
	}
	if st := b.srv.Stats(); st.Refused != uint64(len(tests)) || st.Calls != 0 {
		t.Errorf("Stats = %+v, want %d refused and no call", st, len(tests))
	}
}

func TestServerCallLimit(t *testing.T) {
	b := newBench(t, ServerConfig{MaxCalls: 1}, newConfs(true))
	first, _ := b.med.invite(t, callOpts{})
	if first == nil {
		t.Fatal("the first call was refused")
	}
	if c, res := b.med.invite(t, callOpts{}); c != nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("second call: %v, want 503 with Retry-After", res.StartLine())
	}
	first.hangUp(t, "")
	eventually(t, "the first call to end", func() bool { return b.srv.Calls() == 0 })
	if c, res := b.med.invite(t, callOpts{}); c == nil {
		t.Fatalf("a call after the first ended: %v", res.StartLine())
	}
}

// joinMeeting takes a call through conference ID 123 and passcode 4242 to
// the Focus and returns the caller the Focus received.
func joinMeeting(t *testing.T, b *bench, leg *fakeLeg, nth int) Caller {
	t.Helper()
	leg.waitPlays(t, 2) // welcome, conference ID question
	leg.press("123#")
	leg.waitPlays(t, 3) // * if leader, passcode
	leg.press("4242#")
	var callers []Caller
	eventually(t, "AddDialIn", func() bool { callers = b.confs.callers(); return len(callers) >= nth })
	return callers[nth-1]
}

func TestServerJoinAndHandOff(t *testing.T) {
	b := newBench(t, ServerConfig{Flow: Config{RejoinOffer: offer}}, newConfs(true))
	c, res := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatalf("call refused: %v", res.StartLine())
	}
	if ct := res.ContentType(); ct == nil || ct.Value() != "application/sdp" || !strings.Contains(string(res.Body()), "RTP/SAVP") {
		t.Errorf("answer is not an SRTP SDP: %v\n%s", ct, res.Body())
	}
	leg := b.media.leg(t, 0)
	if leg.spec.SRTP == nil || leg.spec.TelephoneEvent != 101 || leg.spec.Codec.Name != "PCMU" || leg.spec.Remote.Port() != 30000 {
		t.Errorf("leg spec = %+v", leg.spec)
	}
	got := joinMeeting(t, b, leg, 1)
	if got.CallerID != caller || got.Language != en || got.User != "" {
		t.Errorf("caller = %+v", got)
	}

	// The ReferTo points the MCU at the Mediation Server's Contact with
	// Replaces naming this dialog from its side (RFC 3891 §3).
	var refer sip.Uri
	if err := sip.ParseUri(got.ReferTo, &refer); err != nil {
		t.Fatalf("ReferTo %q: %v", got.ReferTo, err)
	}
	contact := c.req.Contact().Address
	if refer.User != contact.User || refer.Host != contact.Host || refer.Port != contact.Port {
		t.Errorf("ReferTo %q does not target the Contact %s", got.ReferTo, contact.String())
	}
	raw, _ := refer.Headers.Get("Replaces")
	replaces, err := url.PathUnescape(raw)
	if err != nil {
		t.Fatal(err)
	}
	fromTag, _ := c.req.From().Params.Get("tag")
	toTag, _ := res.To().Params.Get("tag")
	if want := c.req.CallID().Value() + ";to-tag=" + fromTag + ";from-tag=" + toTag; replaces != want || toTag == "" {
		t.Errorf("Replaces = %q, want %q", replaces, want)
	}

	// The MCU took the audio: the Mediation Server drops the attendant.
	c.hangUp(t, `SIP;cause=200;text="replaced"`)
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
	b.med.noBye(t)
	if r := b.confs.removals(); len(r) != 0 {
		t.Errorf("removed %v after a good hand-off", r)
	}
	if !strings.Contains(b.log.String(), "moved to the A/V MCU") {
		t.Errorf("log lacks the hand-off:\n%s", b.log)
	}

	// He drops from the meeting and calls again: one key takes him back,
	// without conference ID or passcode.
	asked := len(b.backend.questions())
	c2, _ := b.med.invite(t, callOpts{})
	if c2 == nil {
		t.Fatal("second call refused")
	}
	leg2 := b.media.leg(t, 1)
	if h := leg2.waitPlays(t, 1); h[0].samples != promptLen(t, prompts.Welcome, offer) {
		t.Errorf("first play %d samples, want the welcome and the offer (%d)", h[0].samples, promptLen(t, prompts.Welcome, offer))
	}
	leg2.press("#")
	again := joinMeeting2(t, b)
	if h := leg2.heard(); h[1].samples != promptLen(t, prompts.WelcomeBack) {
		t.Errorf("second play %d samples, want welcome back", h[1].samples)
	}
	if again.CallerID != caller || len(b.backend.questions()) != asked {
		t.Errorf("rejoin: caller %+v, questions %v", again, b.backend.questions()[asked:])
	}
	if st := b.srv.Stats(); st.Calls != 2 || st.Joined != 2 || st.Refused != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func joinMeeting2(t *testing.T, b *bench) Caller {
	t.Helper()
	var callers []Caller
	eventually(t, "the second AddDialIn", func() bool { callers = b.confs.callers(); return len(callers) >= 2 })
	return callers[1]
}

func TestServerHold(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(false))
	c, _ := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatal("call refused")
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2)
	leg.press("123#")
	leg.waitPlays(t, 3)
	leg.press("4242#")
	// joining, waiting for the leader, then the music.
	h := leg.waitPlays(t, 6)
	if !h[5].hold || h[4].samples != promptLen(t, prompts.WaitingForLeader) {
		t.Fatalf("plays = %+v, want waiting for the leader then music", h)
	}
	if n := len(b.confs.callers()); n != 0 {
		t.Fatalf("%d callers added before a leader came", n)
	}
	b.confs.enter()
	eventually(t, "AddDialIn", func() bool { return len(b.confs.callers()) == 1 })
	c.hangUp(t, `SIP;text="replaced"`)
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 })
}

func TestServerHandOffTimeout(t *testing.T) {
	b := newBench(t, ServerConfig{HandoffTimeout: 200 * time.Millisecond}, newConfs(true))
	c, _ := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatal("call refused")
	}
	leg := b.media.leg(t, 0)
	joinMeeting(t, b, leg, 1)
	bye := b.med.byeFrom(t)
	if bye.CallID().Value() != c.req.CallID().Value() {
		t.Errorf("BYE for call %s", bye.CallID().Value())
	}
	eventually(t, "RemoveDialIn", func() bool { return slices.Equal(b.confs.removals(), []string{"sip:dialin-1@example.com"}) })
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
}

func TestServerCallerHangsUp(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	c, _ := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatal("call refused")
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2)
	leg.press("12")
	c.hangUp(t, "")
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
	b.med.noBye(t)
	if len(b.confs.callers()) != 0 {
		t.Error("a caller who left was added")
	}
}

func TestServerMeetingLocked(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	c, _ := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatal("call refused")
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2)
	leg.press("555#")
	leg.waitPlays(t, 3)
	leg.press("#") // no passcode: join now
	b.med.byeFrom(t)
	h := leg.heard()
	if last := h[len(h)-1]; last.samples != goodbyeLen(t, prompts.MeetingLocked, prompts.Goodbye) {
		t.Errorf("last play %d samples, want meeting locked and goodbye (%d)", last.samples, goodbyeLen(t, prompts.MeetingLocked, prompts.Goodbye))
	}
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 })
}

func TestServerShutdown(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	var calls []*medCall
	for range 2 {
		c, _ := b.med.invite(t, callOpts{})
		if c == nil {
			t.Fatal("call refused")
		}
		calls = append(calls, c)
	}
	b.media.leg(t, 1).waitPlays(t, 1)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	ids := []string{b.med.byeFrom(t).CallID().Value(), b.med.byeFrom(t).CallID().Value()}
	for _, c := range calls {
		if !slices.Contains(ids, c.req.CallID().Value()) {
			t.Errorf("no BYE for %s (got %v)", c.req.CallID().Value(), ids)
		}
	}
	if n := b.srv.Calls(); n != 0 {
		t.Errorf("%d calls left after Serve", n)
	}
}

func TestServerGuard(t *testing.T) {
	b := newBench(t, ServerConfig{Guard: GuardConfig{
		PerCaller: Limits{Slow: 1, HangUp: 2}, Tarpit: 100 * time.Millisecond,
	}}, newConfs(true))
	c, _ := b.med.invite(t, callOpts{})
	if c == nil {
		t.Fatal("call refused")
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2)
	start := time.Now()
	leg.press("98765#")
	h := leg.waitPlays(t, 3)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("the wrong answer was heard after %s, want the tarpit's 100 ms", d)
	}
	if want := promptLen(t, prompts.MeetingNotFound, prompts.TryAgain, prompts.EnterConferenceID); h[2].samples != want {
		t.Errorf("third play %d samples, want not found, try again (%d)", h[2].samples, want)
	}
	leg.press("56789#")
	b.med.byeFrom(t)
	h = leg.heard()
	if last := h[len(h)-1]; last.samples != goodbyeLen(t, prompts.TooManyAttempts, prompts.Goodbye) {
		t.Errorf("last play %d samples, want too many attempts and goodbye", last.samples)
	}
	if st := b.srv.Stats(); st.Throttled != 1 || st.GuessHangups != 1 {
		t.Errorf("Stats = %+v, want 1 throttled, 1 hung up", st)
	}
	log := b.log.String()
	for _, want := range []string{"slowing down a caller", "hanging up a caller for guessing", "caller_id=" + caller, "access_number=tel:+14255550100"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, digits := range []string{"98765", "56789"} {
		if strings.Contains(log, digits) {
			t.Errorf("log shows the digits typed %s:\n%s", digits, log)
		}
	}
}

func TestServerSetUpErrors(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	b.media.fail = errors.New("no ports")
	if c, res := b.med.invite(t, callOpts{}); c != nil || res.StatusCode != 503 {
		t.Fatalf("no media: %v, want 503", res.StartLine())
	}
	if n := b.srv.Calls(); n != 0 {
		t.Errorf("%d calls after a failed set-up", n)
	}
}
