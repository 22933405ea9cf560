package announcement

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

const (
	alice = "sip:alice@example.com"
	bob   = "sip:+14255550101@example.com;user=phone"
	carol = "sip:+14255550102@example.com;user=phone"
	dave  = "sip:+14255550103@example.com;user=phone"
)

func TestInvitationRefusals(t *testing.T) {
	b := newBench(t, nil)
	target := b.srv.Addr().String()
	sdp := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	wrong := &c3p.Request{Header: c3p.Header{Version: c3p.Version, RequestID: 1, From: testMCU, To: "sip:a@example.com"},
		Command: &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: testMCU, UserEntity: bob}, Tone: c3p.ToneEntry}}
	wrongBody, err := wrong.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    inviteOpts
		code int
	}{
		{"unsigned", inviteOpts{unsigned: true}, 403},
		{"signed by a service that may not invite", inviteOpts{service: "mediation"}, 403},
		{"SDP instead of C3P", inviteOpts{contentType: "application/sdp", body: sdp}, 415},
		{"not XML", inviteOpts{body: []byte("<request")}, 400},
		{"another command", inviteOpts{body: wrongBody}, 400},
		{"not a focus URI", inviteOpts{focus: "sip:org@example.com", mcu: testMCU}, 400},
		{"focus and MCU of different meetings", inviteOpts{focus: testFocus, mcu: strings.Replace(testMCU, "K7P2Q9X4", "OTHER123", 1)}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, res := b.mcu.invite(t, target, tt.o)
			if d != nil || res.StatusCode != tt.code {
				t.Fatalf("answered %d, want %d", res.StatusCode, tt.code)
			}
			if res.GetHeader("Warning") == nil {
				t.Error("no Warning saying why")
			}
		})
	}
	if st := b.srv.Stats(); st.Active != 0 || st.Meetings != 0 || st.Refused != uint64(len(tests)) {
		t.Errorf("stats %+v: a refusal changed state", st)
	}
	select {
	case req := <-b.focus.subs:
		t.Errorf("a refused invitation subscribed: %s", req.StartLine())
	default:
	}
}

// TestAnnouncements runs a meeting through the service: entry and exit
// tones to the other connected callers, a leader's mute in the caller's
// language, and the MCU's BYE ending the subscription.
func TestAnnouncements(t *testing.T) {
	b := newBench(t, nil)
	d, res := b.mcu.invite(t, b.srv.Addr().String(), inviteOpts{})
	if d == nil {
		t.Fatalf("INVITE answered %d", res.StatusCode)
	}
	cres, err := c3p.ParseResponse(res.Body())
	if err != nil || cres.Code != c3p.CodeSuccess || cres.Command.CommandName() != "announceConference" {
		t.Fatalf("200 body: %v %+v", err, cres)
	}
	if res.Contact() == nil {
		t.Error("200 without Contact")
	}
	sub := b.focus.nextSubscribe(t)
	if sub.Recipient.String() != testFocus || sub.GetHeader("Event").Value() != c3p.EventConference ||
		sub.GetHeader("Accept").Value() != c3p.ConferenceInfoType || expiresOf(sub) != 3600 {
		t.Fatalf("SUBSCRIBE %s Event=%v Accept=%v Expires=%d", sub.Recipient.String(),
			sub.GetHeader("Event"), sub.GetHeader("Accept"), expiresOf(sub))
	}
	if r := sub.Route(); r == nil || r.Address.Port == 0 {
		t.Errorf("SUBSCRIBE without the front end's Route: %v", r)
	}

	f := b.focus
	ok := func(code int) {
		t.Helper()
		if code != 200 {
			t.Fatalf("NOTIFY answered %d", code)
		}
	}
	ok(f.notify(t, sub, "active;expires=3600", doc(c3p.StateFull, 1, online(alice),
		caller(bob, "fr-FR", statusConnected, false, ""), caller(carol, "", statusConnected, false, ""))))
	b.mcu.noInfo(t)

	ok(f.notify(t, sub, "active;expires=3599", doc(c3p.StatePartial, 2, caller(dave, "", "dialing-in", false, ""))))
	got := []string{describe(b.mcu.nextInfo(t)), describe(b.mcu.nextInfo(t))}
	want := []string{bob + " tone entry", carol + " tone entry"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entry: %q, want %q", got, want)
	}

	ok(f.notify(t, sub, "active;expires=3598", doc(c3p.StatePartial, 3, left(dave))))
	got = []string{describe(b.mcu.nextInfo(t)), describe(b.mcu.nextInfo(t))}
	want = []string{bob + " tone exit", carol + " tone exit"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("exit: %q, want %q", got, want)
	}

	ok(f.notify(t, sub, "active;expires=3597", doc(c3p.StatePartial, 4, caller(bob, "fr-FR", statusConnected, true, "leader"))))
	p := b.mcu.nextInfo(t)
	if p.Keys.UserEntity != bob || p.Language != "fr-FR" ||
		strings.Join(p.Prompts, ",") != string(prompts.YouAreMuted)+","+string(prompts.MutedByPresenter) {
		t.Errorf("mute announcement: %s", describe(p))
	}
	b.mcu.noInfo(t)
	if st := b.srv.Stats(); st.Announcements != 5 || st.Meetings != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}

	// The MCU hangs up: the service unsubscribes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	unsub := f.nextSubscribe(t)
	if expiresOf(unsub) != 0 || unsub.CallID().Value() != sub.CallID().Value() {
		t.Errorf("after BYE: SUBSCRIBE Expires=%d in call %s", expiresOf(unsub), unsub.CallID().Value())
	}
	if tag, _ := unsub.To().Params.Get("tag"); tag != f.tag {
		t.Errorf("unsubscription outside the dialog (To tag %q)", tag)
	}
	eventually(t, "the meeting to be forgotten", func() bool { return b.srv.Stats().Active == 0 })
	// The Focus's last NOTIFY is still answered.
	ok(f.notify(t, sub, "terminated;reason=timeout", nil))
}

// TestMeetingEnds: the Focus's last document (active=false) makes the
// service hang up the MCU's dialog.
func TestMeetingEnds(t *testing.T) {
	b := newBench(t, nil)
	sub := b.join(t)
	b.focus.notify(t, sub, "active;expires=3600", doc(c3p.StateFull, 1, caller(bob, "", statusConnected, false, "")))
	if code := b.focus.notify(t, sub, "terminated;reason=noresource", ended(2)); code != 200 {
		t.Fatalf("last NOTIFY answered %d", code)
	}
	select {
	case bye := <-b.mcu.byes:
		if _, _, err := verifyTrust(bye); err != nil {
			t.Errorf("BYE not signed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE to the MCU")
	}
	eventually(t, "the meeting to be forgotten", func() bool { return b.srv.Stats().Active == 0 })
	select {
	case req := <-b.focus.subs:
		t.Errorf("unsubscribed from an ended subscription: %s", req.StartLine())
	case <-time.After(100 * time.Millisecond):
	}
}

// TestResync: a missed version makes the service refresh within the
// dialog; the full state that follows is compared with what it knew.
func TestResync(t *testing.T) {
	b := newBench(t, nil)
	sub := b.join(t)
	f := b.focus
	f.notify(t, sub, "active;expires=3600", doc(c3p.StateFull, 1,
		caller(bob, "", statusConnected, false, ""), caller(carol, "", statusConnected, false, "")))
	f.notify(t, sub, "active;expires=3600", doc(c3p.StatePartial, 3, left(carol)))
	refresh := f.nextSubscribe(t)
	if tag, _ := refresh.To().Params.Get("tag"); tag != f.tag || expiresOf(refresh) <= 0 {
		t.Fatalf("resync SUBSCRIBE To tag %q Expires %d", tag, expiresOf(refresh))
	}
	b.mcu.noInfo(t)
	// The full state: carol left meanwhile.
	f.notify(t, sub, "active;expires=3600", doc(c3p.StateFull, 4, caller(bob, "", statusConnected, false, "")))
	if p := b.mcu.nextInfo(t); describe(p) != bob+" tone exit" {
		t.Errorf("after the resync: %s", describe(p))
	}
	if st := b.srv.Stats(); st.Resyncs != 1 {
		t.Errorf("resyncs = %d", st.Resyncs)
	}
}

// TestNotifyRefusals: bad notifications get a 4xx and leave the roster.
func TestNotifyRefusals(t *testing.T) {
	b := newBench(t, nil)
	sub := b.join(t)
	f := b.focus
	if code := f.notifyRaw(t, sub, "active", c3p.ConferenceInfoType, []byte("<conference-info")); code != 400 {
		t.Errorf("bad XML answered %d", code)
	}
	if code := f.notifyRaw(t, sub, "active", "text/plain", []byte("hello")); code != 415 {
		t.Errorf("text answered %d", code)
	}
	if code := f.notifyRaw(t, sub, "nonsense", "", nil); code != 400 {
		t.Errorf("bad Subscription-State answered %d", code)
	}
	other := sub.Clone()
	unknown := sip.CallIDHeader("unknown")
	other.ReplaceHeader(&unknown)
	if code := f.notify(t, other, "active", nil); code != 481 {
		t.Errorf("unknown subscription answered %d", code)
	}
}

// TestMaxConferencesAndReplace: past the limit a new meeting gets 503; a
// second invitation for a served meeting replaces the first dialog.
func TestMaxConferencesAndReplace(t *testing.T) {
	b := newBench(t, func(c *Config) { c.MaxConferences = 1 })
	sub := b.join(t)
	other := inviteOpts{
		focus: strings.Replace(testFocus, "K7P2Q9X4", "OTHER123", 1),
		mcu:   strings.Replace(testMCU, "K7P2Q9X4", "OTHER123", 1),
	}
	if d, res := b.mcu.invite(t, b.srv.Addr().String(), other); d != nil || res.StatusCode != 503 {
		t.Fatalf("a second meeting past the limit answered %d", res.StatusCode)
	}
	d2, res := b.mcu.invite(t, b.srv.Addr().String(), inviteOpts{})
	if d2 == nil {
		t.Fatalf("a second invitation for the same meeting answered %d", res.StatusCode)
	}
	select {
	case <-b.mcu.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the replaced dialog was not hung up")
	}
	// The subscription carries on, and announcements go in the new dialog.
	b.focus.notify(t, sub, "active", doc(c3p.StateFull, 1, caller(bob, "", statusConnected, false, "")))
	b.focus.notify(t, sub, "active", doc(c3p.StatePartial, 2, online(alice)))
	if p := b.mcu.nextInfo(t); describe(p) != bob+" tone entry" {
		t.Errorf("after the replacement: %s", describe(p))
	}
	if st := b.srv.Stats(); st.Meetings != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestFocusRefuses: a Focus that will not have the service ends the work
// for the meeting; the MCU's dialog is hung up.
func TestFocusRefuses(t *testing.T) {
	b := newBench(t, nil)
	b.focus.refuse = 404
	if d, res := b.mcu.invite(t, b.srv.Addr().String(), inviteOpts{}); d == nil {
		t.Fatalf("INVITE answered %d", res.StatusCode)
	}
	b.focus.nextSubscribe(t)
	select {
	case <-b.mcu.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE to the MCU")
	}
	eventually(t, "the meeting to be forgotten", func() bool { return b.srv.Stats().Active == 0 })
}

// TestRefusedAnnouncement: the MCU's refusal (a caller who just left) is
// counted and not retried.
func TestRefusedAnnouncement(t *testing.T) {
	b := newBench(t, nil)
	sub := b.join(t)
	b.mcu.mu.Lock()
	b.mcu.refuse = "userDoesNotExist"
	b.mcu.mu.Unlock()
	b.focus.notify(t, sub, "active", doc(c3p.StateFull, 1, caller(bob, "", statusConnected, false, "")))
	b.focus.notify(t, sub, "active", doc(c3p.StatePartial, 2, online(alice)))
	b.mcu.nextInfo(t)
	b.mcu.noInfo(t)
	if st := b.srv.Stats(); st.Failed != 1 || st.Announcements != 0 {
		t.Errorf("stats %+v", st)
	}
}
