package focus_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// phone is a SIP client of the Focus: it joins, sends commands, subscribes
// and records the notifications and BYEs it receives.
type phone struct {
	h         *harness
	t         testing.TB
	user      string // the URI in From
	transport string
	addr      string
	cli       *sipgo.Client
	contact   sip.ContactHeader
	*inbox
}

// inbox is what a phone's user agent receives, shared by the users it
// stands for (as).
type inbox struct {
	reqID atomic.Uint64
	// answerNotify is how NOTIFYs are answered; 200 by default.
	answerNotify atomic.Int32
	// stall, while set, holds NOTIFY answers back (a slow subscriber).
	stall atomic.Bool
	// countOnly makes the phone count notifications (count, counted)
	// instead of keeping them, for benchmarks.
	countOnly bool
	count     atomic.Int64
	counted   chan struct{}
	countGoal atomic.Int64

	mu    sync.Mutex
	notes []notification
	byes  []*sip.Request
}

// as is the phone used by another user: same user agent, same inbox.
func (p *phone) as(user string) *phone {
	q := *p
	q.user = user
	return &q
}

// notification is a NOTIFY or BENOTIFY the phone received.
type notification struct {
	method  string
	callID  string
	cseq    uint32
	state   string
	body    []byte
	version uint64
	at      time.Time
}

func newPhone(h *harness, user string) *phone { return newPhoneT(h.t, h, user, "UDP") }

// newPhoneT makes a phone that reports to tb (a subtest's).
func newPhoneT(tb testing.TB, h *harness, user, transport string) *phone {
	tb.Helper()
	return newPhoneWith(tb, h, user, transport, false)
}

// newCrowd makes a phone for many users over TCP that only counts the
// notifications it gets, and reads messages as large as a 1,000-user
// roster.
func newCrowd(tb testing.TB, h *harness) *phone {
	tb.Helper()
	return newPhoneWith(tb, h, "sip:crowd@fabrikam.test", "TCP", true)
}

func newPhoneWith(tb testing.TB, h *harness, user, transport string, crowd bool) *phone {
	tb.Helper()
	p := &phone{h: h, t: tb, user: user, transport: transport, inbox: &inbox{countOnly: crowd, counted: make(chan struct{}, 1)}}
	p.answerNotify.Store(200)
	parser := sip.NewParser()
	if crowd {
		parser.MaxMessageLength = 8 << 20
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("phone"), sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(h.log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(h.log)))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(h.log))
	if err != nil {
		tb.Fatal(err)
	}
	pc, ln := siptest.ListenPair(tb)
	opts := []sipgo.ClientOption{sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(h.log)}
	if transport == "UDP" {
		opts = append(opts, sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
		p.addr = pc.LocalAddr().String()
	} else {
		p.addr = ln.Addr().String()
	}
	if p.cli, err = sipgo.NewClient(ua, opts...); err != nil {
		tb.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(p.addr)
	pn, _ := strconv.Atoi(port)
	cu := sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: pn, UriParams: sip.NewParams()}
	if transport != "UDP" {
		cu.UriParams.Add("transport", strings.ToLower(transport))
	}
	p.contact = sip.ContactHeader{Address: cu}
	record := func(req *sip.Request) {
		if p.countOnly {
			if p.count.Add(1) == p.countGoal.Load() {
				p.counted <- struct{}{}
			}
			return
		}
		n := notification{method: string(req.Method), callID: req.CallID().Value(), cseq: req.CSeq().SeqNo, body: req.Body(), at: time.Now()}
		if h := req.GetHeader("Subscription-State"); h != nil {
			n.state = h.Value()
		}
		n.version = docVersion(req.Body())
		p.mu.Lock()
		p.notes = append(p.notes, n)
		p.mu.Unlock()
	}
	srv.OnRequest(sip.NOTIFY, func(req *sip.Request, tx sip.ServerTransaction) {
		for p.stall.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		code := int(p.answerNotify.Load())
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Answer", nil))
		if code == 200 {
			record(req)
		}
	})
	srv.OnRequest("BENOTIFY", func(req *sip.Request, _ sip.ServerTransaction) { record(req) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.mu.Lock()
		p.byes = append(p.byes, req)
		p.mu.Unlock()
	})
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	tb.Cleanup(func() {
		ua.Close()
		pc.Close()
		ln.Close()
	})
	siptest.WaitListening(tb, ua, pc.LocalAddr().String())
	return p
}

// docVersion reads the version attribute of a conference-info body.
func docVersion(b []byte) uint64 {
	s := string(b)
	if k := strings.Index(s, "<conference-info"); k >= 0 {
		s = s[k:]
	}
	i := strings.Index(s, ` version="`)
	if i < 0 {
		return 0
	}
	s = s[i+len(` version="`):]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return 0
	}
	v, _ := strconv.ParseUint(s[:j], 10, 64)
	return v
}

// focusURI is the Request-URI of a conference.
func focusURI(tb testing.TB, uri string) sip.Uri {
	tb.Helper()
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		tb.Fatal(err)
	}
	return u
}

// c3pBody builds a C3P request from the phone's user to uri.
func (p *phone) c3pBody(uri string, cmd c3p.Command) []byte {
	p.t.Helper()
	b, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: p.reqID.Add(1), From: p.user, To: uri},
		Command: cmd,
	}).Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// addUser is the join body SIPE sends (protocols.md §3.2).
func addUser(conference, user string) *c3p.AddUser {
	return &c3p.AddUser{
		Keys: &c3p.ConferenceKeys{ConfEntity: conference},
		User: &c3p.User{Entity: user, Roles: []string{c3p.RoleAttendee}, Endpoints: []c3p.Endpoint{{Entity: endpointOf(user)}}},
	}
}

// endpointOf is the endpoint entity a phone of user joins with: a GUID in
// braces, as SIPE makes one, derived from the user so tests can predict it.
func endpointOf(user string) string {
	return fmt.Sprintf("{%08X-0000-4000-8000-000000000001}", crc32.ChecksumIEEE([]byte(user)))
}

// call is a join's outcome: the focus dialog when it succeeded.
type call struct {
	p    *phone
	conf string
	sess *sipgo.DialogClientSession
	res  *sip.Response
	c3p  *c3p.Response
}

// join sends the focus INVITE with an addUser for the phone's user.
func (p *phone) join(conference string, extra ...sip.Header) *call {
	p.t.Helper()
	return p.joinWith(conference, addUser(conference, p.user), extra...)
}

// joinWith sends the focus INVITE with a given command body.
func (p *phone) joinWith(conference string, cmd c3p.Command, extra ...sip.Header) *call {
	p.t.Helper()
	return p.joinBody(conference, c3p.ContentType, p.c3pBody(conference, cmd), extra...)
}

// joinBody sends a focus INVITE with any body.
func (p *phone) joinBody(conference, contentType string, body []byte, extra ...sip.Header) *call {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, focusURI(p.t, conference))
	req.SetDestination(p.h.addr)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{Address: focusURI(p.t, p.user), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: focusURI(p.t, conference), Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	req.SetBody(body)
	dua := sipgo.DialogUA{Client: p.cli, ContactHDR: p.contact}
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		p.t.Fatalf("INVITE: %v", err)
	}
	c := &call{p: p, conf: conference}
	err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{})
	c.res = sess.InviteResponse
	if c.res != nil && len(c.res.Body()) > 0 {
		c.c3p, _ = c3p.ParseResponse(c.res.Body())
	}
	if err != nil {
		if c.res == nil {
			p.t.Fatalf("INVITE: %v", err)
		}
		return c
	}
	if err := sess.Ack(ctx); err != nil {
		p.t.Fatalf("ACK: %v", err)
	}
	c.sess = sess
	return c
}

// ok fails unless the join succeeded, and returns the granted role.
func (c *call) ok() string {
	c.p.t.Helper()
	if c.sess == nil || c.c3p == nil || c.c3p.Code != c3p.CodeSuccess {
		c.p.t.Fatalf("join of %s: got %d %s %s, want success", c.p.user, c.res.StatusCode, c.res.Reason, warning(c.res))
	}
	add, ok := c.c3p.Command.(*c3p.AddUser)
	if !ok || add.User == nil || len(add.User.Roles) != 1 {
		c.p.t.Fatalf("addUser response without exactly one role: %s", c.res.Body())
	}
	return add.User.Roles[0]
}

// refused fails unless the join was refused with code and ms-diagnostics
// diag (0: any).
func (c *call) refused(code int, diag c3p.Diagnostic) {
	c.p.t.Helper()
	if c.sess != nil || c.res.StatusCode != code {
		c.p.t.Fatalf("join of %s: got %d %s %s, want %d", c.p.user, c.res.StatusCode, c.res.Reason, warning(c.res), code)
	}
	if warning(c.res) == "" {
		c.p.t.Errorf("refusal %d without a Warning", code)
	}
	if diag != 0 {
		d := c.res.GetHeader("ms-diagnostics")
		if d == nil || !strings.HasPrefix(d.Value(), strconv.Itoa(int(diag))+";") {
			c.p.t.Errorf("ms-diagnostics = %v, want %d", d, diag)
		}
	}
	if code != 400 && (c.c3p == nil || c.c3p.Code != c3p.CodeFailure) {
		c.p.t.Errorf("refusal %d without a C3P failure body: %q", code, c.res.Body())
	}
}

func warning(res *sip.Response) string {
	if res == nil {
		return ""
	}
	if w := res.GetHeader("Warning"); w != nil {
		return w.Value()
	}
	return ""
}

// result is a command's answer.
type result struct {
	res  *sip.Response
	c3p  *c3p.Response
	diag string
}

// info sends a C3P command in the focus dialog.
func (c *call) info(cmd c3p.Command) result {
	c.p.t.Helper()
	return c.infoBody(c3p.ContentType, c.p.c3pBody(c.conf, cmd))
}

func (c *call) infoBody(contentType string, body []byte) result {
	c.p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req := sip.NewRequest(sip.INFO, c.sess.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.SetBody(body)
	res, err := c.sess.Do(ctx, req)
	if err != nil {
		c.p.t.Fatalf("INFO: %v", err)
	}
	out := result{res: res}
	if d := res.GetHeader("ms-diagnostics"); d != nil {
		out.diag = d.Value()
	} else if d := res.GetHeader("ms-diagnostics-public"); d != nil {
		out.diag = d.Value()
	}
	if len(res.Body()) > 0 {
		out.c3p, _ = c3p.ParseResponse(res.Body())
	}
	return out
}

// ok fails unless the command succeeded.
func (r result) ok(tb testing.TB) c3p.Command {
	tb.Helper()
	if r.res.StatusCode != 200 || r.c3p == nil || r.c3p.Code != c3p.CodeSuccess {
		tb.Fatalf("command: got %d, %s, diag %q, warning %q", r.res.StatusCode, r.res.Body(), r.diag, warning(r.res))
	}
	return r.c3p.Command
}

// failed fails unless the command failed with reason and diagnostic.
func (r result) failed(tb testing.TB, reason string, diag c3p.Diagnostic) {
	tb.Helper()
	if r.res.StatusCode != 200 || r.c3p == nil || r.c3p.Code != c3p.CodeFailure {
		tb.Fatalf("command: got %d %s, want a C3P failure", r.res.StatusCode, r.res.Body())
	}
	if r.c3p.Reason != reason {
		tb.Errorf("reason = %q, want %q (warning %q)", r.c3p.Reason, reason, warning(r.res))
	}
	if diag != 0 && !strings.HasPrefix(r.diag, strconv.Itoa(int(diag))+";") {
		tb.Errorf("ms-diagnostics = %q, want %d", r.diag, diag)
	}
	if warning(r.res) == "" {
		tb.Error("no Warning explaining the failure")
	}
}

// bye leaves.
func (c *call) bye() {
	c.p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.sess.Bye(ctx); err != nil {
		c.p.t.Fatalf("BYE: %v", err)
	}
}

// sub is a subscription of the phone.
type sub struct {
	p       *phone
	conf    string
	callID  string
	fromTag string
	toTag   string
	cseq    uint32
	res     *sip.Response
	opts    subOpts
}

// subOpts are the subscriber's capabilities and wishes.
type subOpts struct {
	benotify  bool
	piggyback bool
	expires   int // -1: no Expires header
	trusted   bool
	event     string // default conference
	accept    string // default application/conference-info+xml
}

// msClient subscribes as Office Communicator and SIPE do.
var msClient = subOpts{benotify: true, piggyback: true, expires: 3600}

// subscribe sends a SUBSCRIBE to a conference's roster.
func (p *phone) subscribe(conference string, o subOpts) *sub {
	p.t.Helper()
	s := &sub{p: p, conf: conference, callID: sip.GenerateTagN(16) + "@phone", fromTag: sip.GenerateTagN(12), cseq: 1, opts: o}
	s.res = s.send(o.expires, "")
	if s.res.StatusCode == 200 {
		s.toTag, _ = s.res.To().Params.Get("tag")
	}
	return s
}

// send sends a SUBSCRIBE of the subscription (in its dialog once it has
// a To tag).
func (s *sub) send(expires int, toTag string) *sip.Response {
	p := s.p
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req := sip.NewRequest(sip.SUBSCRIBE, focusURI(p.t, s.conf))
	req.SetDestination(p.h.addr)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{Address: focusURI(p.t, p.user), Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	to := &sip.ToHeader{Address: focusURI(p.t, s.conf), Params: sip.NewParams()}
	if toTag != "" {
		to.Params.Add("tag", toTag)
	}
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	s.cseq++
	contact := p.contact
	req.AppendHeader(&contact)
	event, accept := s.opts.event, s.opts.accept
	if event == "" {
		event = "conference"
	}
	if accept == "" {
		accept = c3p.ConferenceInfoType
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Accept", accept))
	var supported []string
	if s.opts.benotify {
		supported = append(supported, "ms-benotify")
	}
	if s.opts.piggyback {
		supported = append(supported, "ms-piggyback-first-notify")
	}
	if len(supported) > 0 {
		req.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	if s.opts.trusted {
		req.AppendHeader(sip.NewHeader("X-Test-Trusted", "1"))
	}
	req.SetBody(nil)
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("SUBSCRIBE: %v", err)
	}
	return res
}

// refresh re-subscribes within the dialog.
func (s *sub) refresh(expires int) *sip.Response {
	s.p.t.Helper()
	return s.send(expires, s.toTag)
}

// notes returns the notifications of the subscription received so far,
// in version order.
func (s *sub) notes() []notification {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []notification
	for _, n := range p.notes {
		if n.callID == s.callID {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b notification) int { return int(a.cseq) - int(b.cseq) })
	return out
}

// waitNotes waits until the subscription has n notifications and returns
// them in CSeq order.
func (s *sub) waitNotes(n int) []notification {
	s.p.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := s.notes()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			s.p.t.Fatalf("%s: %d notifications, want %d", s.p.user, len(got), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// last returns the latest notification, waiting for the n-th.
func (s *sub) nth(n int) notification {
	s.p.t.Helper()
	return s.waitNotes(n)[n-1]
}

// waitBye waits for a BYE in the call's dialog.
func (c *call) waitBye() {
	c.p.t.Helper()
	id := c.sess.InviteRequest.CallID().Value()
	siptest.Eventually(c.p.t, "a BYE to "+c.p.user, func() bool {
		c.p.mu.Lock()
		defer c.p.mu.Unlock()
		for _, b := range c.p.byes {
			if b.CallID().Value() == id {
				return true
			}
		}
		return false
	})
}

// roster parses a notification's document.
func (n notification) doc(tb testing.TB) *c3p.ConferenceInfo {
	tb.Helper()
	ci, err := c3p.ParseConferenceInfo(n.body)
	if err != nil {
		tb.Fatalf("conference-info does not parse: %v\n%s", err, n.body)
	}
	return ci
}

// piggyDoc is the document in a SUBSCRIBE's 200 OK.
func (s *sub) piggyDoc() *c3p.ConferenceInfo {
	s.p.t.Helper()
	if s.res.GetHeader("ms-piggyback-cseq") == nil {
		s.p.t.Fatalf("200 OK without ms-piggyback-cseq")
	}
	ci, err := c3p.ParseConferenceInfo(s.res.Body())
	if err != nil {
		s.p.t.Fatalf("piggy-backed conference-info does not parse: %v\n%s", err, s.res.Body())
	}
	return ci
}

// users summarizes a document's users as "entity role" lines (deleted
// users as "entity deleted").
func users(ci *c3p.ConferenceInfo) []string {
	if ci.Users == nil {
		return nil
	}
	var out []string
	for _, u := range ci.Users.Entries {
		if u.State == c3p.StateDeleted {
			out = append(out, u.Entity+" deleted")
			continue
		}
		out = append(out, fmt.Sprintf("%s %s", u.Entity, strings.Join(u.Roles, ",")))
	}
	return out
}

// find returns a user of a document.
func find(ci *c3p.ConferenceInfo, entity string) *c3p.User {
	if ci.Users == nil {
		return nil
	}
	for i := range ci.Users.Entries {
		if ci.Users.Entries[i].Entity == entity {
			return &ci.Users.Entries[i]
		}
	}
	return nil
}
