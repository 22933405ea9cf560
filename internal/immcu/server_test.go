package immcu_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/immcu"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// TestJoin admits only users the Focus added to a provisioned conference,
// and only to an IM session.
func TestJoin(t *testing.T) {
	h := newHarness(t)
	anon := "sip:anonymous-0a1b2c@anonymous.invalid"
	tests := []struct {
		name     string
		setup    func()
		user     string
		ct, body string
		code     int
	}{
		{"conference not provisioned", func() {}, bob, "application/sdp", sipeOffer(sipeAccepts), 404},
		{"not added", func() { h.provision(alice) }, bob, "application/sdp", sipeOffer(sipeAccepts), 403},
		{"added", func() { h.addUser(bob) }, bob, "application/sdp", sipeOffer(sipeAccepts), 200},
		{"organizer", func() {}, alice, "application/sdp", sipeOffer(sipeAccepts), 200},
		{"unauthenticated, not anonymous", func() {}, "sip:mallory@fabrikam.test", "application/sdp", sipeOffer(sipeAccepts), 403},
		{"anonymous, not added", func() {}, anon, "application/sdp", sipeOffer(sipeAccepts), 403},
		{"anonymous, added", func() { h.addUser(anon) }, anon, "application/sdp", sipeOffer(sipeAccepts), 200},
		{"audio offer", func() { h.addUser(carol) }, carol, "application/sdp",
			"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", 488},
		{"not SDP", func() {}, carol, "text/plain", "hello", 415},
		{"garbage SDP", func() {}, carol, "application/sdp", "m=message", 488},
		{"no offer", func() {}, carol, "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			c := newChatter(h, tt.user, "TCP")
			if got := c.joinWith(tt.ct, tt.body); got != tt.code {
				t.Fatalf("join = %d, want %d", got, tt.code)
			}
		})
	}
	siptest.Eventually(t, "the joins reported", func() bool { return h.events.count("joined ") == 4 })
	for _, u := range []string{bob, alice, anon, carol} {
		if !h.events.has("joined " + u + " " + focusURI) {
			t.Errorf("no Joined for %s: %q", u, h.events.log)
		}
	}
	if n := h.srv.Metrics().Participants.Load(); n != 4 {
		t.Errorf("Participants = %d, want 4", n)
	}
}

// TestAnswer checks the answer to SIPE's offer: one m=message sip null line
// with the types the server relays.
func TestAnswer(t *testing.T) {
	h := newHarness(t)
	h.provision(bob)
	c := newChatter(h, bob, "UDP")
	if code := c.join(sipeAccepts); code != 200 {
		t.Fatalf("join = %d", code)
	}
	res := c.sess.InviteResponse
	body := string(res.Body())
	for _, want := range []string{"m=message 5060 sip null", "a=accept-types:text/plain text/html text/rtf multipart/alternative application/im-iscomposing+xml", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	if ct := res.ContentType(); ct == nil || ct.Value() != "application/sdp" {
		t.Errorf("Content-Type %v", ct)
	}
	// A re-INVITE gets the same session.
	reinv := c.request(sip.INVITE, "application/sdp", sipeOffer("text/plain"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	r, err := c.sess.Do(ctx, reinv)
	if err != nil || r.StatusCode != 200 || !strings.Contains(string(r.Body()), "m=message 5060 sip null") {
		t.Fatalf("re-INVITE: %v %v", r, err)
	}
}

// TestRelay: A's messages reach B and C, not A, in the order A sent them,
// with A named as SIPE reads the sender, type and body untouched.
func TestRelay(t *testing.T) {
	h := newHarness(t)
	h.provision(alice, bob, carol)
	a, b, c := newChatter(h, alice, "TCP"), newChatter(h, bob, "UDP"), newChatter(h, carol, "TCP")
	for _, x := range []*chatter{a, b, c} {
		if code := x.join(sipeAccepts); code != 200 {
			t.Fatalf("%s join = %d", x.user, code)
		}
	}
	const n = 50
	const ct = "text/plain; charset=UTF-8;msgr=WAAtAE0ATQBTAC0ASQBNAC0ARgBvAHIAbQBhAHQAOgAgAEYATgA9AEEAcgBpAGEAbAA"
	// Pipelined, as SIPE flushes its queue: every MESSAGE is written
	// before any answer is read, so the server's handlers race.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var txs []sip.ClientTransaction
	for i := range n {
		tx, err := a.sess.TransactionRequest(ctx, a.request(sip.MESSAGE, ct, "message "+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	for i, tx := range txs {
		select {
		case res := <-tx.Responses():
			if res.StatusCode != 200 {
				t.Fatalf("MESSAGE %d: %d", i, res.StatusCode)
			}
		case <-ctx.Done():
			t.Fatalf("MESSAGE %d unanswered", i)
		}
		tx.Terminate()
	}
	for _, x := range []*chatter{b, c} {
		got := x.await(sip.MESSAGE, n)
		for i, m := range got {
			if string(m.Body()) != "message "+strconv.Itoa(i) {
				t.Fatalf("%s: message %d is %q: out of order", x.user, i, m.Body())
			}
			if s := m.GetHeader("Ms-Sender"); s == nil || s.Value() != "<"+alice+">" {
				t.Fatalf("%s: Ms-Sender %v", x.user, s)
			}
			if m.ContentType().Value() != ct {
				t.Fatalf("%s: Content-Type %s", x.user, m.ContentType().Value())
			}
			if m.CallID().Value() != x.sess.InviteRequest.CallID().Value() {
				t.Fatalf("%s: relayed outside the dialog (Call-ID %s)", x.user, m.CallID().Value())
			}
		}
	}
	a.quiet(sip.MESSAGE, 0)
	m := h.srv.Metrics()
	if m.Received.Load() != n || m.Relayed.Load() != 2*n || m.RelayFailures.Load() != 0 {
		t.Errorf("metrics received %d relayed %d failures %d", m.Received.Load(), m.Relayed.Load(), m.RelayFailures.Load())
	}
}

// TestTyping relays composing indications: RFC 3994 MESSAGEs to those who
// accept them, Communicator's KeyboardActivity INFO to everyone.
func TestTyping(t *testing.T) {
	h := newHarness(t)
	h.provision(alice, bob, carol)
	a, b, c := newChatter(h, alice, "TCP"), newChatter(h, bob, "TCP"), newChatter(h, carol, "TCP")
	a.join(sipeAccepts)
	b.join(sipeAccepts)
	c.join("text/plain text/html") // no im-iscomposing+xml
	const isComposing = `<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype></isComposing>`
	if code := a.send("application/im-iscomposing+xml", isComposing); code != 200 {
		t.Fatalf("isComposing: %d", code)
	}
	const kbd = `<?xml version="1.0"?><KeyboardActivity><status status="type" /></KeyboardActivity>`
	if code := a.do(a.request(sip.INFO, "application/xml", kbd)); code != 200 {
		t.Fatalf("typing INFO: %d", code)
	}
	got := b.await(sip.INFO, 1)
	if string(got[0].Body()) != kbd || got[0].GetHeader("Ms-Sender").Value() != "<"+alice+">" {
		t.Errorf("bob's INFO: %q %v", got[0].Body(), got[0].GetHeader("Ms-Sender"))
	}
	msgs := b.await(sip.MESSAGE, 1)
	if msgs[0].ContentType().Value() != "application/im-iscomposing+xml" {
		t.Errorf("bob's MESSAGE is %s", msgs[0].ContentType().Value())
	}
	c.await(sip.INFO, 1)
	c.quiet(sip.MESSAGE, 0)
	if h.srv.Metrics().Dropped.Load() != 1 {
		t.Errorf("Dropped = %d, want 1 (carol does not take isComposing)", h.srv.Metrics().Dropped.Load())
	}

	for _, tc := range []struct {
		method   sip.RequestMethod
		ct, body string
		code     int
	}{
		{sip.INFO, "application/x-ms-mim", "<action/>", 415},
		{sip.INFO, "application/xml", "<other/>", 415},
		{sip.INFO, "", "", 200},
		{sip.MESSAGE, "text/x-msmsgsinvite", "Invitation-Command: INVITE", 415},
		{sip.MESSAGE, "application/ms-imdn+xml", "<imdn/>", 415},
		{sip.MESSAGE, "", "", 400},
	} {
		if code := a.do(a.request(tc.method, tc.ct, tc.body)); code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.ct, code, tc.code)
		}
	}
	b.quiet(sip.INFO, 1)
}

// TestOversize refuses a body past MaxBody with 413 and relays nothing.
func TestOversize(t *testing.T) {
	_, a, b := joinedPair(t, "TCP")
	if code := a.send("text/plain", strings.Repeat("x", immcu.DefaultMaxBody+1)); code != 413 {
		t.Errorf("oversize MESSAGE: %d, want 413", code)
	}
	if code := a.send("text/plain", strings.Repeat("x", immcu.DefaultMaxBody)); code != 200 {
		t.Errorf("MESSAGE of MaxBody: %d, want 200", code)
	}
	b.await(sip.MESSAGE, 1)
	b.quiet(sip.MESSAGE, 1)
}

// TestDeleteUser ejects a participant: BYE, Left, no rejoin, no more
// messages.
func TestDeleteUser(t *testing.T) {
	h, a, b := joinedPair(t, "UDP")
	res := h.command(&c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: focusURI, UserEntity: bob}})
	if res.Code != c3p.CodeSuccess {
		t.Fatalf("deleteUser: %s %s", res.Code, res.Reason)
	}
	siptest.Eventually(t, "bob's BYE", func() bool { return b.byeCount() == 1 })
	siptest.Eventually(t, "bob's Left", func() bool { return h.events.has("left " + bob + " " + focusURI + " ejected") })
	if code := a.send("text/plain", "still there?"); code != 200 {
		t.Fatalf("MESSAGE: %d", code)
	}
	b.quiet(sip.MESSAGE, 0)
	if code := newChatter(h, bob, "TCP").join(sipeAccepts); code != 403 {
		t.Errorf("rejoin after deleteUser: %d, want 403", code)
	}
	// His own requests in the ended dialog are refused.
	if code := b.send("text/plain", "hello?"); code != 481 {
		t.Errorf("MESSAGE after ejection: %d, want 481", code)
	}
}

// TestDeadRecipient removes a recipient whose dialog fails, and goes on
// with the others.
func TestDeadRecipient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer int32
	}{{"481", 481}, {"no answer", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *immcu.Config) { c.RequestTimeout = 300 * time.Millisecond })
			h.provision(alice, bob, carol)
			a, b, c := newChatter(h, alice, "TCP"), newChatter(h, bob, "TCP"), newChatter(h, carol, "TCP")
			a.join(sipeAccepts)
			b.join(sipeAccepts)
			c.join(sipeAccepts)
			c.answer.Store(tc.answer)
			a.send("text/plain", "one")
			siptest.Eventually(t, "carol's Left", func() bool { return h.events.has("left " + carol + " " + focusURI + " unreachable") })
			a.send("text/plain", "two")
			got := b.await(sip.MESSAGE, 2)
			if string(got[1].Body()) != "two" {
				t.Errorf("bob got %q", got[1].Body())
			}
			if n := h.srv.Metrics().Participants.Load(); n != 2 {
				t.Errorf("Participants = %d, want 2", n)
			}
			if h.srv.Metrics().RelayFailures.Load() != 1 {
				t.Errorf("RelayFailures = %d, want 1", h.srv.Metrics().RelayFailures.Load())
			}
			if tc.answer != 0 {
				siptest.Eventually(t, "carol's BYE", func() bool { return c.byeCount() == 1 })
			}
		})
	}
}

// TestLimit admits 100 participants, seed 003's limit, and refuses the
// 101st with 486.
func TestLimit(t *testing.T) {
	h := newHarness(t)
	h.provision()
	crowd := newChatter(h, alice, "TCP")
	for i := range immcu.DefaultMaxParticipants + 1 {
		user := "sip:user" + strconv.Itoa(i) + "@" + domain
		h.addUser(user)
		crowd.user = user
		want := 200
		if i == immcu.DefaultMaxParticipants {
			want = 486
		}
		if code := crowd.join(sipeAccepts); code != want {
			t.Fatalf("join %d: %d, want %d", i, code, want)
		}
	}
	if l := h.srv.Load(); l.Legs != 100 || l.Conferences != 1 {
		t.Errorf("Load = %+v", l)
	}
}

// TestBye: a participant who leaves is reported and gets nothing more.
func TestBye(t *testing.T) {
	h, a, b := joinedPair(t, "TCP")
	b.bye()
	siptest.Eventually(t, "bob's Left", func() bool { return h.events.has("left " + bob + " " + focusURI + " bye") })
	a.send("text/plain", "alone")
	b.quiet(sip.MESSAGE, 0)
}

// TestDeleteConference ends everyone's session and the conference.
func TestDeleteConference(t *testing.T) {
	h, a, b := joinedPair(t, "UDP")
	res := h.command(&c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: focusURI}})
	if res.Code != c3p.CodeSuccess {
		t.Fatalf("deleteConference: %s %s", res.Code, res.Reason)
	}
	siptest.Eventually(t, "the BYEs", func() bool { return a.byeCount() == 1 && b.byeCount() == 1 })
	siptest.Eventually(t, "the Lefts", func() bool { return h.events.count("left ") == 2 })
	if code := newChatter(h, alice, "TCP").join(sipeAccepts); code != 404 {
		t.Errorf("join after deleteConference: %d, want 404", code)
	}
	if h.srv.Metrics().Conferences.Load() != 0 || h.srv.Metrics().Participants.Load() != 0 {
		t.Errorf("gauges after deleteConference: %d conferences, %d participants",
			h.srv.Metrics().Conferences.Load(), h.srv.Metrics().Participants.Load())
	}
}

// TestClose ends every session with a BYE.
func TestClose(t *testing.T) {
	h, a, b := joinedPair(t, "TCP")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if a.byeCount() != 1 || b.byeCount() != 1 || h.events.count("left ") != 2 {
		t.Errorf("after Close: BYEs %d %d, events %q", a.byeCount(), b.byeCount(), h.events.log)
	}
	if code := newChatter(h, carol, "TCP").join(sipeAccepts); code != 503 && code != 403 {
		t.Errorf("join after Close: %d", code)
	}
}
