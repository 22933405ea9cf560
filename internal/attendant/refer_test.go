package attendant

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/prompts"
)

// phone plays an enterprise user's SIP phone whose call the front end
// relays to the attendant, signed as "frontend" with the user asserted:
// it places the call as the Mediation Server bench does, answers REFERs
// with referCode and sends the refer subscription's NOTIFYs.
type phone struct {
	*mediation
	refers    chan *sip.Request
	referCode atomic.Int32
}

const aliceURI = "sip:alice@example.com"

func newPhone(t *testing.T, target string) *phone {
	t.Helper()
	ua := quietUA(t)
	t.Cleanup(func() { _ = ua.Close() })
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{mediation: &mediation{target: target, byes: make(chan *sip.Request, 16)}, refers: make(chan *sip.Request, 4)}
	p.referCode.Store(202)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.byes <- req
	})
	srv.OnRefer(func(req *sip.Request, tx sip.ServerTransaction) {
		code := int(p.referCode.Load())
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Refer answer", nil))
		p.refers <- req
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	if p.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	u := sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	p.contact = sip.ContactHeader{Address: u}
	return p
}

// enterpriseCall is Alice's call as the front end relays it: plain RTP
// from her phone, her identity asserted.
func enterpriseCall() callOpts {
	return callOpts{
		service: "frontend", from: aliceURI, plain: true,
		headers: []sip.Header{sip.NewHeader("P-Asserted-Identity", `"Alice Anders" <`+aliceURI+`>`)},
	}
}

// refer waits for the attendant's REFER.
func (p *phone) refer(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case r := <-p.refers:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no REFER from the attendant")
		return nil
	}
}

// notify sends a NOTIFY in the call's dialog and returns the answer.
func (c *medCall) notify(t *testing.T, event, state, contentType, body string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.NOTIFY, c.d.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody([]byte(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.d.Do(ctx, req)
	if err != nil {
		t.Fatalf("NOTIFY: %v", err)
	}
	return res
}

// enterpriseJoin takes Alice's call through the conference ID of a
// meeting that requires a passcode and returns the caller the Focus got
// and the REFER that followed.
func enterpriseJoin(t *testing.T, b *bench, p *phone) (*medCall, *fakeLeg, Caller, *sip.Request) {
	t.Helper()
	c, res := p.invite(t, enterpriseCall())
	if c == nil {
		t.Fatalf("call refused: %v", res.StartLine())
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2) // welcome, conference ID question
	leg.press("123#")
	var callers []Caller
	eventually(t, "AddDialIn", func() bool { callers = b.confs.callers(); return len(callers) == 1 })
	return c, leg, callers[0], p.refer(t)
}

func TestEnterprisePhoneJoinsByRefer(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(false)) // no leader yet: he is not held
	p := newPhone(t, b.srv.Addr())
	c, leg, got, refer := enterpriseJoin(t, b, p)

	// Plain RTP is fine from a phone on the trusted network.
	if leg.spec.SRTP != nil || !strings.Contains(string(c.d.InviteResponse.Body()), "RTP/AVP") {
		t.Errorf("enterprise leg SRTP = %v, answer:\n%s", leg.spec.SRTP, c.d.InviteResponse.Body())
	}
	// Only the conference ID was asked: no passcode, no hold.
	if want := (Caller{User: aliceURI, DisplayName: "Alice Anders", Language: en}); got != want {
		t.Errorf("caller = %+v, want %+v (authenticated, no ReferTo)", got, want)
	}
	if q := b.backend.questions(); !slices.Equal(q, []string{"resolve 123"}) {
		t.Errorf("front end asked %v, want the conference ID only", q)
	}
	h := leg.waitPlays(t, 3)
	if h[2].samples != promptLen(t, prompts.Joining) {
		t.Errorf("third play %d samples, want joining (%d)", h[2].samples, promptLen(t, prompts.Joining))
	}
	b.confs.mu.Lock()
	waits := b.confs.waits
	b.confs.mu.Unlock()
	if waits != 0 {
		t.Errorf("WaitEnterprise asked %d times for an enterprise user", waits)
	}

	// REFER in the call's dialog, to the meeting's A/V MCU.
	if refer.CallID().Value() != c.req.CallID().Value() {
		t.Errorf("REFER in call %s", refer.CallID().Value())
	}
	if h := refer.GetHeader("Refer-To"); h == nil || h.Value() != "<sip:org@example.com;gruu;opaque=app:conf:audio-video:id:K1>" {
		t.Errorf("Refer-To = %v", h)
	}
	if h := refer.GetHeader("Referred-By"); h == nil || h.Value() != "<"+accessURI+">" {
		t.Errorf("Referred-By = %v", h)
	}
	if refer.Contact() == nil {
		t.Error("REFER without Contact")
	}

	// Trying: still on the line. 200: joined, the attendant hangs up.
	if res := c.notify(t, "refer", "active;expires=60", sipfragType, "SIP/2.0 100 Trying\r\n"); res.StatusCode != 200 {
		t.Fatalf("NOTIFY 100: %v", res.StartLine())
	}
	p.noBye(t)
	if res := c.notify(t, "refer;id="+refer.CSeq().Value()[:strings.IndexByte(refer.CSeq().Value(), ' ')], "terminated;reason=noresource", sipfragType+";version=2.0", "SIP/2.0 200 OK\r\n"); res.StatusCode != 200 {
		t.Fatalf("NOTIFY 200: %v", res.StartLine())
	}
	if bye := p.byeFrom(t); bye.CallID().Value() != c.req.CallID().Value() {
		t.Errorf("BYE for call %s", bye.CallID().Value())
	}
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
	if r := b.confs.removals(); len(r) != 0 {
		t.Errorf("removed %v after a good hand-off", r)
	}
	if st := b.srv.Stats(); st.Calls != 1 || st.Joined != 1 {
		t.Errorf("Stats = %+v", st)
	}
	if !strings.Contains(b.log.String(), "phone joined the A/V MCU") {
		t.Errorf("log lacks the hand-off:\n%s", b.log)
	}
}

// handOffFailed checks that a failed hand-off took the caller back out of
// the meeting, told him so and hung up.
func handOffFailed(t *testing.T, b *bench, p *phone, leg *fakeLeg) {
	t.Helper()
	p.byeFrom(t)
	eventually(t, "RemoveDialIn", func() bool { return slices.Equal(b.confs.removals(), []string{"sip:dialin-1@example.com"}) })
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
	h := leg.heard()
	if last := h[len(h)-1]; last.samples != goodbyeLen(t, prompts.TechnicalProblem, prompts.Goodbye) {
		t.Errorf("last play %d samples, want the technical problem and goodbye", last.samples)
	}
}

func TestEnterpriseReferRefused(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	p.referCode.Store(405)
	_, leg, _, _ := enterpriseJoin(t, b, p)
	handOffFailed(t, b, p, leg)
}

func TestEnterpriseReferFails(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	c, leg, _, _ := enterpriseJoin(t, b, p)
	if res := c.notify(t, "refer", "terminated", sipfragType, "SIP/2.0 403 Forbidden\r\n"); res.StatusCode != 200 {
		t.Fatalf("NOTIFY: %v", res.StartLine())
	}
	handOffFailed(t, b, p, leg)
}

func TestEnterpriseReferTimeout(t *testing.T) {
	b := newBench(t, ServerConfig{HandoffTimeout: 300 * time.Millisecond}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	_, leg, _, _ := enterpriseJoin(t, b, p)
	handOffFailed(t, b, p, leg)
}

// TestEnterprisePhoneHangsUpFirst: a phone may end its call to the
// attendant before its NOTIFY; the subscription outlives the call.
func TestEnterprisePhoneHangsUpFirst(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	c, leg, _, _ := enterpriseJoin(t, b, p)
	c.hangUp(t, "")
	p.noBye(t)
	if b.srv.Calls() != 1 {
		t.Fatal("the call ended with the phone's BYE, before its NOTIFY")
	}
	if res := c.notify(t, "refer", "terminated", sipfragType, "SIP/2.0 200 OK"); res.StatusCode != 200 {
		t.Fatalf("NOTIFY: %v", res.StartLine())
	}
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 && leg.isClosed() })
	p.noBye(t)
	if r := b.confs.removals(); len(r) != 0 {
		t.Errorf("removed %v after a good hand-off", r)
	}
}

func TestEnterpriseNotifyRefusals(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	c, res := p.invite(t, enterpriseCall())
	if c == nil {
		t.Fatalf("call refused: %v", res.StartLine())
	}
	// No REFER yet: no subscription to report on.
	if res := c.notify(t, "refer", "active", sipfragType, "SIP/2.0 200 OK"); res.StatusCode != 481 {
		t.Errorf("NOTIFY before the REFER: %v, want 481", res.StartLine())
	}
	leg := b.media.leg(t, 0)
	leg.waitPlays(t, 2)
	leg.press("123#")
	p.refer(t)
	tests := []struct {
		name, event, state, ctype, body string
		code                            int
	}{
		{"other event", "presence", "active", sipfragType, "SIP/2.0 200 OK", 489},
		{"not sipfrag", "refer", "active", "text/plain", "SIP/2.0 200 OK", 415},
		{"garbled sipfrag", "refer", "active", sipfragType, "SIP/2.0 OK", 400},
		{"no status, still active", "refer", "active", "", "", 400},
	}
	for _, tc := range tests {
		if res := c.notify(t, tc.event, tc.state, tc.ctype, tc.body); res.StatusCode != tc.code || res.GetHeader("Warning") == nil {
			t.Errorf("%s: %v, want %d with a Warning", tc.name, res.StartLine(), tc.code)
		}
	}
	// Another subscription's NOTIFY changes nothing either.
	if res := c.notify(t, "refer;id=999999", "terminated", sipfragType, "SIP/2.0 200 OK"); res.StatusCode != 200 {
		t.Errorf("NOTIFY of another id: %v", res.StartLine())
	}
	p.noBye(t)
	if b.srv.Calls() != 1 || len(b.confs.removals()) != 0 {
		t.Fatal("a refused NOTIFY changed the call")
	}
	c.notify(t, "refer", "terminated", sipfragType, "SIP/2.0 200 OK")
	p.byeFrom(t)
}

func TestEnterpriseIdentityRequired(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	tests := []struct {
		name   string
		pai    string
		detail string
	}{
		{"none", "", "asserted no enterprise user: no P-Asserted-Identity"},
		{"tel only", "<tel:+14255550123>", "names no SIP user"},
		{"garbled", "<sip:aliceURI@example.com", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := enterpriseCall()
			o.headers = nil
			if tc.pai != "" {
				o.headers = []sip.Header{sip.NewHeader("P-Asserted-Identity", tc.pai)}
			}
			c, res := p.invite(t, o)
			if c != nil {
				t.Fatal("the call was answered")
			}
			w := res.GetHeader("Warning")
			if res.StatusCode != 403 || w == nil || !strings.Contains(w.Value(), tc.detail) {
				t.Errorf("answer %d, Warning %v; want 403 with %q", res.StatusCode, w, tc.detail)
			}
		})
	}
	if len(b.media.legs) != 0 || b.srv.Stats().Refused != uint64(len(tests)) {
		t.Errorf("legs %d, stats %+v", len(b.media.legs), b.srv.Stats())
	}
}

// TestAssertedIdentityFromMediationIgnored: only EnterpriseServices are
// trusted to assert users (RFC 3325 §4); a Mediation Server's caller with
// a user in P-Asserted-Identity is still asked for the passcode.
func TestAssertedIdentityFromMediationIgnored(t *testing.T) {
	b := newBench(t, ServerConfig{}, newConfs(true))
	c, res := b.med.invite(t, callOpts{headers: []sip.Header{sip.NewHeader("P-Asserted-Identity", `"Alice Anders" <`+aliceURI+`>`)}})
	if c == nil {
		t.Fatalf("call refused: %v", res.StartLine())
	}
	leg := b.media.leg(t, 0)
	got := joinMeeting(t, b, leg, 1)
	if got.User != "" || got.DisplayName != "" || got.ReferTo == "" {
		t.Errorf("caller = %+v, want an anonymous dial-in fetched by Replaces", got)
	}
	if q := b.backend.questions(); !slices.Equal(q, []string{"resolve 123", "passcode 123"}) {
		t.Errorf("front end asked %v, want the conference ID and the passcode", q)
	}
	c.hangUp(t, `SIP;text="replaced"`)
	eventually(t, "the call to end", func() bool { return b.srv.Calls() == 0 })
}

// TestEnterpriseServicesOff: with no enterprise service, "frontend" is
// just another service that may not call.
func TestEnterpriseServicesOff(t *testing.T) {
	b := newBench(t, ServerConfig{EnterpriseServices: []string{}}, newConfs(true))
	p := newPhone(t, b.srv.Addr())
	if c, res := p.invite(t, enterpriseCall()); c != nil || res.StatusCode != 403 {
		t.Fatalf("call answered or %v, want 403", res.StartLine())
	}
}
