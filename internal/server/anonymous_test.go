package server

import (
	"context"
	"crypto/md5" //nolint:gosec // the digest of [MS-SIPAE] §4.5 is MD5-sess
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/parleyhq/parley/internal/c3p"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// Anonymous joins through the whole server ([MS-SIPAE] §3.2.4.3,
// §3.3.5.4, §4.5): a client without an account, From
// <random>@anonymous.invalid, proves it knows the conference key of an
// anonymous meeting by digest; the test is that client, computing its
// answers itself.

const (
	anonKeyed  = "ANONKEY001" // anonymous meeting with a conference key
	anonOpen   = "ANONOPEN01" // anonymous meeting without one
	openKeyed  = "OPENKEY001" // openAuthenticated meeting with a key
	anonSecret = "Open Sesame 42"
)

// anonServer is a demo server with alice's meetings of the tests,
// scheduled through her Focus Factory as a client would.
func anonServer(t *testing.T, log *siptest.LogBuffer) (addr string) {
	t.Helper()
	srv := runTestServer(t, t.TempDir(), "127.0.0.1:0", log)
	pw := demoPasswords(t, srv.out())
	alice := newTestPhone(t, srv.info.SIPUDP, "UDP")
	key := anonSecret
	for _, m := range []struct {
		id        string
		admission c3p.AdmissionPolicy
		key       *string
	}{
		{anonKeyed, c3p.AdmissionAnonymous, &key},
		{anonOpen, c3p.AdmissionAnonymous, nil},
		{openKeyed, c3p.AdmissionOpenAuthenticated, &key},
	} {
		alice.schedule(t, restartAlice, pw[restartAlice], &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{
			Description: &c3p.ConferenceDescription{ConferenceID: m.id, AdmissionPolicy: m.admission, ConferenceKey: m.key},
		}})
	}
	return srv.info.SIPUDP
}

// schedule sends a command to user's Focus Factory with his password.
func (p *testPhone) schedule(t *testing.T, user, password string, cmd c3p.Command) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	target := c3p.FocusFactoryURI(user)
	req := sip.NewRequest("SERVICE", parseURI(t, target))
	req.SetDestination(p.server)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{Address: parseURI(t, user), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: parseURI(t, target), Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(p.c3pBody(user, target, cmd))
	res, err := p.cli.Do(ctx, req)
	if err == nil && res.StatusCode == 407 {
		name, _, _ := strings.Cut(strings.TrimPrefix(user, "sip:"), "@")
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: name, Password: password})
	}
	if err != nil {
		t.Fatalf("SERVICE: %v", err)
	}
	if r, perr := c3p.ParseResponse(res.Body()); res.StatusCode != 200 || perr != nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("%s: %d %s\n%s", cmd.CommandName(), res.StatusCode, res.GetHeader("Warning"), res.Body())
	}
}

// keyChallenge is a 401's Digest challenge, read by the digest client
// library the CLI uses (github.com/icholy/digest).
type keyChallenge struct{ realm, nonce, opaque, algorithm, qop string }

// challengeOf reads the challenge of a 401.
func challengeOf(t *testing.T, res *sip.Response) (keyChallenge, bool) {
	t.Helper()
	if res.StatusCode != 401 {
		t.Fatalf("got %d %s %v, want 401", res.StatusCode, res.Reason, res.GetHeader("Warning"))
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil || !digest.IsDigest(h.Value()) {
		t.Fatalf("401 without a Digest challenge: %v", res)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatalf("401 challenge %q: %v", h.Value(), err)
	}
	return keyChallenge{realm: chal.Realm, nonce: chal.Nonce, opaque: chal.Opaque, algorithm: chal.Algorithm,
		qop: strings.Join(chal.QOP, ",")}, chal.Stale
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // MD5-sess
	return hex.EncodeToString(sum[:])
}

// authorization is the client's MD5-sess answer (RFC 7616 §3.4.2) to c
// for req, with key as the password.
func (c keyChallenge) authorization(req *sip.Request, user, key, nc string) string {
	cnonce := "c" + nc
	uri := req.Recipient.String()
	ha1 := md5Hex(md5Hex(user+":"+c.realm+":"+key) + ":" + c.nonce + ":" + cnonce)
	resp := md5Hex(ha1 + ":" + c.nonce + ":" + nc + ":" + cnonce + ":auth:" + md5Hex(string(req.Method)+":"+uri))
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5-sess, qop=auth, nc=%s, cnonce="%s", opaque="%s", response="%s"`,
		user, c.realm, c.nonce, uri, nc, cnonce, c.opaque, resp)
}

// again is req sent again in its transaction's place: same dialog
// identifiers, next CSeq, the given Authorization.
func again(req *sip.Request, server, transport, authorization string) *sip.Request {
	r := req.Clone()
	r.RemoveHeader("Via")
	r.RemoveHeader("Authorization")
	r.CSeq().SeqNo++
	r.SetDestination(server)
	r.SetTransport(transport)
	r.AppendHeader(sip.NewHeader("Authorization", authorization))
	return r
}

// anonymousUser is a fresh anonymous identity: its user part and URI.
func anonymousUser() (string, string) {
	u := strings.ToLower(sip.GenerateTagN(32))
	return u, "sip:" + u + "@anonymous.invalid"
}

func TestAnonymousJoin(t *testing.T) {
	var log siptest.LogBuffer
	addr := anonServer(t, &log)
	keyed := c3p.ConferenceURI(restartAlice, c3p.ServiceFocus, anonKeyed)

	for _, transport := range []string{"UDP", "TCP"} {
		t.Run("right key joins over "+transport, func(t *testing.T) {
			p := newTestPhone(t, addr, transport)
			user, uri := anonymousUser()
			first := p.joinRequest(keyed, uri, uri)
			sess, res := p.invite(first, sipgo.AnswerOptions{})
			if sess != nil {
				t.Fatal("an anonymous caller without credentials joined a meeting with a key")
			}
			c, stale := challengeOf(t, res)
			if c.realm != "alice@parley.test" || c.algorithm != "MD5-sess" || c.qop != "auth" || c.nonce == "" || stale {
				t.Errorf("challenge %+v (stale %v), want realm alice@parley.test, MD5-sess, qop auth ([MS-SIPAE] 4.5)", c, stale)
			}
			second := again(first, addr, transport, c.authorization(first, user, anonSecret, "00000001"))
			sess, res = p.invite(second, sipgo.AnswerOptions{})
			if sess == nil {
				t.Fatalf("right key: %d %s %v", res.StatusCode, res.Reason, res.GetHeader("Warning"))
			}
			if role := grantedRole(t, res); role != c3p.RoleAttendee {
				t.Errorf("anonymous role %q, want attendee", role)
			}

			// The roster subscription is challenged the same way.
			// The client may answer with the nonce it has, counting up
			// (RFC 7616 §3.4).
			s := &testSub{p: p, conf: keyed, from: uri, callID: sip.GenerateTagN(16) + "@test", fromTag: sip.GenerateTagN(12), cseq: 1}
			res = s.send("", nil)
			challengeOf(t, res)
			sub := sip.NewRequest(sip.SUBSCRIBE, parseURI(t, keyed))
			res = s.send("", []sip.Header{sip.NewHeader("Authorization", c.authorization(sub, user, anonSecret, "00000002"))})
			ci := rosterOf(t, res)
			if ci.Users == nil || len(ci.Users.Entries) != 1 || !strings.HasSuffix(ci.Users.Entries[0].Entity, "@anonymous.invalid") {
				t.Errorf("the anonymous subscriber's roster: %s", res.Body())
			}

			// The answer cannot be used again: a third INVITE carrying it
			// gets a fresh nonce.
			third := p.joinRequest(keyed, uri, uri)
			third.AppendHeader(sip.NewHeader("Authorization", second.GetHeader("Authorization").Value()))
			if sess, res := p.invite(third, sipgo.AnswerOptions{}); sess != nil {
				t.Fatal("a replayed answer joined")
			} else if _, stale := challengeOf(t, res); !stale {
				t.Error("the replay's challenge is not stale")
			}
		})
	}

	t.Run("wrong key is challenged again", func(t *testing.T) {
		p := newTestPhone(t, addr, "UDP")
		user, uri := anonymousUser()
		first := p.joinRequest(keyed, uri, uri)
		_, res := p.invite(first, sipgo.AnswerOptions{})
		c, _ := challengeOf(t, res)
		sess, res := p.invite(again(first, addr, "UDP", c.authorization(first, user, "open sesame 42", "00000001")), sipgo.AnswerOptions{})
		if sess != nil {
			t.Fatal("a wrong key joined")
		}
		if _, stale := challengeOf(t, res); stale {
			t.Error("a wrong key is answered stale, as if it were right")
		}
	})

	t.Run("the username must be the From user", func(t *testing.T) {
		p := newTestPhone(t, addr, "UDP")
		_, uri := anonymousUser()
		first := p.joinRequest(keyed, uri, uri)
		_, res := p.invite(first, sipgo.AnswerOptions{})
		c, _ := challengeOf(t, res)
		_, res = p.invite(again(first, addr, "UDP", c.authorization(first, "someoneelse", anonSecret, "00000001")), sipgo.AnswerOptions{})
		if res.StatusCode != 403 {
			t.Fatalf("got %d %v, want 403", res.StatusCode, res.GetHeader("Warning"))
		}
	})

	t.Run("anonymous meeting without a key is open", func(t *testing.T) {
		p := newTestPhone(t, addr, "TCP")
		_, uri := anonymousUser()
		conf := c3p.ConferenceURI(restartAlice, c3p.ServiceFocus, anonOpen)
		sess, res := p.invite(p.joinRequest(conf, uri, uri), sipgo.AnswerOptions{})
		if sess == nil {
			t.Fatalf("got %d %s %v, want a join without credentials", res.StatusCode, res.Reason, res.GetHeader("Warning"))
		}
	})

	t.Run("non-anonymous meeting refuses anonymous callers", func(t *testing.T) {
		p := newTestPhone(t, addr, "UDP")
		_, uri := anonymousUser()
		conf := c3p.ConferenceURI(restartAlice, c3p.ServiceFocus, openKeyed)
		sess, res := p.invite(p.joinRequest(conf, uri, uri), sipgo.AnswerOptions{})
		if sess != nil || res.StatusCode != 403 || res.GetHeader("WWW-Authenticate") != nil {
			t.Fatalf("got %d %s %v, want the Focus's 403 without a challenge", res.StatusCode, res.Reason, res.GetHeader("Warning"))
		}
		d := res.GetHeader("ms-diagnostics")
		if r, err := c3p.ParseResponse(res.Body()); err != nil || r.Code != c3p.CodeFailure || d == nil ||
			!strings.HasPrefix(d.Value(), fmt.Sprintf("%d;", int(c3p.DiagAuthorizationFailed))) {
			t.Errorf("refusal without the Focus's C3P failure: %v %v\n%s", r, d, res.Body())
		}
	})

	if strings.Contains(log.String(), anonSecret) || strings.Contains(strings.ToLower(log.String()), strings.ToLower(anonSecret)) {
		t.Errorf("the conference key is in the server's log:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "wrong conference key") {
		t.Errorf("the wrong key is not in the server's log")
	}
}

// TestAnonymousJoinThrottle: guessing a meeting's key is cut off after a
// few wrong answers, and then the right one is refused too.
func TestAnonymousJoinThrottle(t *testing.T) {
	var log siptest.LogBuffer
	addr := anonServer(t, &log)
	keyed := c3p.ConferenceURI(restartAlice, c3p.ServiceFocus, anonKeyed)
	p := newTestPhone(t, addr, "UDP")
	try := func(key string) *sip.Response {
		t.Helper()
		user, uri := anonymousUser()
		first := p.joinRequest(keyed, uri, uri)
		_, res := p.invite(first, sipgo.AnswerOptions{})
		if res.StatusCode != 401 {
			return res
		}
		c, _ := challengeOf(t, res)
		_, res = p.invite(again(first, addr, "UDP", c.authorization(first, user, key, "00000001")), sipgo.AnswerOptions{})
		return res
	}
	wrong := 0
	var res *sip.Response
	for res = try("guess 0"); res.StatusCode == 401 && wrong < 50; res = try(fmt.Sprintf("guess %d", wrong)) {
		wrong++
	}
	if res.StatusCode != 403 || !strings.Contains(fmt.Sprint(res.GetHeader("Warning")), "too many wrong conference keys") || wrong < 3 {
		t.Fatalf("after %d wrong keys: %d %v, want 403 (too many wrong conference keys)", wrong, res.StatusCode, res.GetHeader("Warning"))
	}
	if res := try(anonSecret); res.StatusCode != 403 {
		t.Errorf("the right key while throttled: %d, want 403", res.StatusCode)
	}
}

// The SIP client of the server tests, shared with restart_test.go.

// testPhone is a SIP user agent of the server tests: it sends requests as
// any From, answers NOTIFY and BYE, and keeps the notifications it gets.
type testPhone struct {
	t         *testing.T
	server    string // the server's SIP address (UDP and TCP)
	transport string
	cli       *sipgo.Client
	contact   sip.ContactHeader
	reqID     atomic.Uint64

	mu    sync.Mutex
	notes []*sip.Request
}

func newTestPhone(t *testing.T, server, transport string) *testPhone {
	t.Helper()
	p := &testPhone{t: t, server: server, transport: transport}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("parley-test-phone"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := siptest.ListenPair(t)
	opts := []sipgo.ClientOption{sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log)}
	addr := ln.Addr().String()
	if transport == "UDP" {
		addr = pc.LocalAddr().String()
		opts = append(opts, sipgo.WithClientConnectionAddr(addr))
	}
	if p.cli, err = sipgo.NewClient(ua, opts...); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	pn, _ := strconv.Atoi(port)
	cu := sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: pn, UriParams: sip.NewParams()}
	if transport != "UDP" {
		cu.UriParams.Add("transport", strings.ToLower(transport))
	}
	p.contact = sip.ContactHeader{Address: cu}
	keep := func(req *sip.Request) {
		p.mu.Lock()
		p.notes = append(p.notes, req)
		p.mu.Unlock()
	}
	srv.OnRequest(sip.NOTIFY, func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		keep(req)
	})
	srv.OnRequest("BENOTIFY", func(req *sip.Request, _ sip.ServerTransaction) { keep(req) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() {
		ua.Close()
		pc.Close()
		ln.Close()
	})
	deadline := time.Now().Add(restartWait)
	for len(ua.TransportLayer().ListenPorts("udp")) == 0 || len(ua.TransportLayer().ListenPorts("tcp")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the phone's listeners are not up")
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

// parseURI parses a SIP URI of the test.
func parseURI(t *testing.T, s string) sip.Uri {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// c3pBody is a C3P request from from to to.
func (p *testPhone) c3pBody(from, to string, cmd c3p.Command) []byte {
	p.t.Helper()
	b, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: p.reqID.Add(1), From: from, To: to},
		Command: cmd,
	}).Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// joinRequest is a focus INVITE from from (a URI) with an addUser for user.
func (p *testPhone) joinRequest(conf, from, user string) *sip.Request {
	p.t.Helper()
	req := sip.NewRequest(sip.INVITE, parseURI(p.t, conf))
	req.SetDestination(p.server)
	req.SetTransport(p.transport)
	fh := &sip.FromHeader{Address: parseURI(p.t, from), Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: parseURI(p.t, conf), Params: sip.NewParams()})
	callID := sip.CallIDHeader(sip.GenerateTagN(16) + "@test")
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(p.c3pBody(user, conf, &c3p.AddUser{
		Keys: &c3p.ConferenceKeys{ConfEntity: conf},
		User: &c3p.User{Entity: user, Roles: []string{c3p.RoleAttendee}, Endpoints: []c3p.Endpoint{{Entity: "{" + strings.ToUpper(sip.GenerateTagN(8)) + "-0000-4000-8000-000000000001}"}}},
	}))
	return req
}

// invite sends a focus INVITE, answering a challenge with opts, and ACKs
// a 2xx. It returns the dialog when the join succeeded and the final
// response in any case.
func (p *testPhone) invite(req *sip.Request, opts sipgo.AnswerOptions) (*sipgo.DialogClientSession, *sip.Response) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	sess, err := (&sipgo.DialogUA{Client: p.cli, ContactHDR: p.contact}).WriteInvite(ctx, req)
	if err != nil {
		p.t.Fatalf("INVITE: %v", err)
	}
	err = sess.WaitAnswer(ctx, opts)
	if sess.InviteResponse == nil {
		p.t.Fatalf("INVITE: no response: %v", err)
	}
	if err != nil {
		return nil, sess.InviteResponse
	}
	if err := sess.Ack(ctx); err != nil {
		p.t.Fatalf("ACK: %v", err)
	}
	p.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = sess.Bye(ctx)
	})
	return sess, sess.InviteResponse
}

// join joins as an enterprise user with his password and checks the
// granted role.
func (p *testPhone) join(conf, user, password, wantRole string) *sipgo.DialogClientSession {
	p.t.Helper()
	name, _, _ := strings.Cut(strings.TrimPrefix(user, "sip:"), "@")
	sess, res := p.invite(p.joinRequest(conf, user, user), sipgo.AnswerOptions{Username: name, Password: password})
	if sess == nil {
		p.t.Fatalf("%s's join: %d %s %v", user, res.StatusCode, res.Reason, res.GetHeader("Warning"))
	}
	if got := grantedRole(p.t, res); got != wantRole {
		p.t.Errorf("%s joined as %q, want %q", user, got, wantRole)
	}
	return sess
}

// grantedRole is the role of a successful addUser response.
func grantedRole(t *testing.T, res *sip.Response) string {
	t.Helper()
	r, err := c3p.ParseResponse(res.Body())
	if err != nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("join answer %v, %v:\n%s", r, err, res.Body())
	}
	add, ok := r.Command.(*c3p.AddUser)
	if !ok || add.User == nil || len(add.User.Roles) != 1 {
		t.Fatalf("addUser response without one role:\n%s", res.Body())
	}
	return add.User.Roles[0]
}
