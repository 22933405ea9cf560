package announcement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// The bench of the SIP tests: the service on loopback TCP, a sipgo UA
// playing the A/V MCU (it invites the service and records the INFOs), and
// one playing the front end and its Focus (it answers SUBSCRIBEs and sends
// the NOTIFYs a test asks for).

var trustKey = []byte("0123456789abcdef0123456789abcdef")

const testMCU = "sip:org@example.com;gruu;opaque=app:conf:audio-video:id:K7P2Q9X4"

func quietUA(t *testing.T) *sipgo.UserAgent {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}

// peer is a sipgo UA with a TCP listener.
type peer struct {
	srv     *sipgo.Server
	client  *sipgo.Client
	contact sip.ContactHeader
	addr    string
}

func newPeer(t *testing.T, user string) *peer {
	t.Helper()
	ua := quietUA(t)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	u := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	return &peer{srv: srv, client: client, contact: sip.ContactHeader{Address: u}, addr: ln.Addr().String()}
}

// fakeMCU invites the service and records what it sends in the dialog.
type fakeMCU struct {
	*peer
	service string // signs as
	infos   chan *c3p.Request
	infoSvc chan string // the signer of each INFO
	byes    chan *sip.Request
	// refuse, when set, answers INFOs with this C3P failure reason.
	mu     sync.Mutex
	refuse string
}

func newFakeMCU(t *testing.T) *fakeMCU {
	t.Helper()
	m := &fakeMCU{peer: newPeer(t, "avmcu"), service: "avmcu",
		infos: make(chan *c3p.Request, 64), infoSvc: make(chan string, 64), byes: make(chan *sip.Request, 8)}
	m.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		svc, _, err := trust.Verify(trustKey, req, time.Now())
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			m.infoSvc <- "unsigned: " + err.Error()
			return
		}
		creq, err := c3p.ParseRequest(req.Body())
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		m.mu.Lock()
		refuse := m.refuse
		m.mu.Unlock()
		var res *c3p.Response
		if refuse != "" {
			res = c3p.NewFailure(creq.Header, creq.Command.CommandName(), refuse, 0).Response
		} else {
			res = c3p.NewResponse(creq.Header, c3p.CodeSuccess, creq.Command)
		}
		body, _ := res.Marshal()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", body))
		m.infoSvc <- svc
		m.infos <- creq
	})
	m.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		m.byes <- req
	})
	m.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	return m
}

// inviteOpts shape an invitation; the zero value is a good one.
type inviteOpts struct {
	unsigned    bool
	service     string
	contentType string
	body        []byte
	focus, mcu  string
}

// invite invites the service; it returns the dialog (nil on failure) and
// the final response.
func (m *fakeMCU) invite(t *testing.T, target string, o inviteOpts) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	if o.focus == "" {
		o.focus, o.mcu = testFocus, testMCU
	}
	if o.body == nil {
		creq := &c3p.Request{Header: c3p.Header{Version: c3p.Version, RequestID: 1, From: o.mcu, To: "sip:announcement@example.com"},
			Command: &c3p.AnnounceConference{Focus: o.focus, MCU: o.mcu}}
		b, err := creq.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		o.body = b
	}
	if o.contentType == "" {
		o.contentType = c3p.ContentType
	}
	if o.service == "" {
		o.service = m.service
	}
	var ru sip.Uri
	if err := sip.ParseUri("sip:announcement@"+target+";transport=tcp", &ru); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, ru)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "avmcu", Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	callID := sip.CallIDHeader(sip.GenerateTagN(20))
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "announcement", Host: "example.com"}})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	contact := m.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Content-Type", o.contentType))
	req.SetBody(o.body)
	req.SetTransport("TCP")
	if !o.unsigned {
		if err := (trust.Signer{Key: trustKey, Service: o.service, Host: "mcu.test"}).Sign(req); err != nil {
			t.Fatal(err)
		}
	}
	ua := &sipgo.DialogUA{Client: m.client, ContactHDR: m.contact}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := ua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var fail *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &fail):
		return nil, fail.Res
	case err != nil:
		t.Fatalf("INVITE: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return d, d.InviteResponse
}

// nextInfo waits for the MCU's next INFO.
func (m *fakeMCU) nextInfo(t *testing.T) *c3p.PlayAnnouncement {
	t.Helper()
	select {
	case svc := <-m.infoSvc:
		if svc != "announcement" {
			t.Fatalf("INFO signed by %q, want announcement", svc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no INFO")
	}
	creq := <-m.infos
	cmd, ok := creq.Command.(*c3p.PlayAnnouncement)
	if !ok {
		t.Fatalf("INFO carries %s", creq.Command.CommandName())
	}
	if creq.From != testFocus || creq.To != testMCU || cmd.Keys == nil || cmd.Keys.ConfEntity != testMCU {
		t.Fatalf("INFO envelope from=%q to=%q keys=%+v", creq.From, creq.To, cmd.Keys)
	}
	return cmd
}

// noInfo checks that no INFO comes for a while.
func (m *fakeMCU) noInfo(t *testing.T) {
	t.Helper()
	select {
	case <-m.infoSvc:
		creq := <-m.infos
		t.Fatalf("unexpected INFO %+v", creq.Command)
	case <-time.After(200 * time.Millisecond):
	}
}

// fakeFocus is the front end with the meeting's Focus.
type fakeFocus struct {
	*peer
	subs chan *sip.Request
	tag  string
	cseq uint32
	// refuse, when not 0, answers new SUBSCRIBEs with it.
	refuse int
}

func newFakeFocus(t *testing.T) *fakeFocus {
	t.Helper()
	f := &fakeFocus{peer: newPeer(t, "focus"), subs: make(chan *sip.Request, 16), tag: sip.GenerateTagN(10)}
	f.srv.OnSubscribe(func(req *sip.Request, tx sip.ServerTransaction) {
		if _, _, err := trust.Verify(trustKey, req, time.Now()); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		f.subs <- req
		if _, inDialog := req.To().Params.Get("tag"); !inDialog && f.refuse != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, f.refuse, "Refused", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if _, inDialog := req.To().Params.Get("tag"); !inDialog {
			res.To().Params.Add("tag", f.tag)
		}
		res.AppendHeader(sip.NewHeader("Expires", req.GetHeader("Expires").Value()))
		contact := f.contact
		res.AppendHeader(&contact)
		_ = tx.Respond(res)
	})
	return f
}

// nextSubscribe waits for the next SUBSCRIBE.
func (f *fakeFocus) nextSubscribe(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case req := <-f.subs:
		return req
	case <-time.After(5 * time.Second):
		t.Fatal("no SUBSCRIBE")
		return nil
	}
}

// notify sends a NOTIFY in the subscription sub started and returns the
// answer's status.
func (f *fakeFocus) notify(t *testing.T, sub *sip.Request, state string, ci *c3p.ConferenceInfo) int {
	t.Helper()
	var body []byte
	if ci != nil {
		b, err := ci.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		body = b
	}
	return f.notifyRaw(t, sub, state, c3p.ConferenceInfoType, body)
}

func (f *fakeFocus) notifyRaw(t *testing.T, sub *sip.Request, state, contentType string, body []byte) int {
	t.Helper()
	req := sip.NewRequest(sip.NOTIFY, *sub.Contact().Address.Clone())
	from := &sip.FromHeader{Address: sub.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", f.tag)
	to := sub.From().AsTo()
	f.cseq++
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(&to)
	req.AppendHeader(sip.HeaderClone(sub.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: f.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(&maxFwd)
	contact := f.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Event", c3p.EventConference))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	req.SetTransport("TCP")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.client.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		t.Fatalf("NOTIFY: %v", err)
	}
	return res.StatusCode
}

// bench is the service under test with its MCU and Focus.
type bench struct {
	srv   *Server
	mcu   *fakeMCU
	focus *fakeFocus
}

func newBench(t *testing.T, tune func(*Config)) *bench {
	t.Helper()
	b := &bench{mcu: newFakeMCU(t), focus: newFakeFocus(t)}
	cfg := Config{
		Listen: "127.0.0.1:0", Hostname: "cas.test", FrontEnd: b.focus.addr,
		Verify: func(req *sip.Request) (string, error) {
			svc, _, err := trust.Verify(trustKey, req, time.Now())
			return svc, err
		},
		Signer:         trust.Signer{Key: trustKey, Service: "announcement", Host: "cas.test"},
		RequestTimeout: 2 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		_ = srv.Close()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	b.srv = srv
	return b
}

// join has the MCU invite the service and the Focus take its SUBSCRIBE,
// which it returns.
func (b *bench) join(t *testing.T) *sip.Request {
	t.Helper()
	if d, res := b.mcu.invite(t, b.srv.Addr().String(), inviteOpts{}); d == nil {
		t.Fatalf("INVITE answered %d %s", res.StatusCode, res.Reason)
	}
	return b.focus.nextSubscribe(t)
}

// eventually waits for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func expiresOf(req *sip.Request) int {
	h := req.GetHeader("Expires")
	if h == nil {
		return -1
	}
	n, err := strconv.Atoi(h.Value())
	if err != nil {
		return -2
	}
	return n
}

func describe(p *c3p.PlayAnnouncement) string {
	if p.Tone != "" {
		return p.Keys.UserEntity + " tone " + p.Tone
	}
	return fmt.Sprintf("%s %v in %s", p.Keys.UserEntity, p.Prompts, p.Language)
}

func verifyTrust(req *sip.Request) (string, string, error) {
	return trust.Verify(trustKey, req, time.Now())
}
