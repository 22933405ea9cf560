package attendant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/media/tone"
	"github.com/parleyhq/parley/internal/prompts"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// This file is the bench the SIP driver's tests run on: the attendant on
// loopback TCP, a sipgo UAC playing the Mediation Server, and fakes of the
// media plane, the front end and the Focus.

// fakeMedia opens fakeLegs.
type fakeMedia struct {
	mu   sync.Mutex
	legs []*fakeLeg
	fail error
}

func (m *fakeMedia) Addr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:40000") }

func (m *fakeMedia) Open(id string, spec LegSpec) (Leg, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	l := &fakeLeg{id: id, spec: spec}
	m.legs = append(m.legs, l)
	return l, nil
}

func (m *fakeMedia) leg(t *testing.T, i int) *fakeLeg {
	t.Helper()
	var l *fakeLeg
	eventually(t, fmt.Sprintf("leg %d", i), func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.legs) > i {
			l = m.legs[i]
		}
		return l != nil
	})
	return l
}

// fakeLeg hears each play out at once: it reads a prompt to its end (the
// driver's played wrapper then reports PromptDone) and the looping hold
// music for a minute's worth of frames. It records the length of each.
type fakeLeg struct {
	id   string
	spec LegSpec

	mu     sync.Mutex
	plays  []heard
	stops  int
	closed bool
}

type heard struct {
	hold    bool
	samples int
}

func (l *fakeLeg) Play(src tone.Source) {
	_, hold := src.(*tone.Clip)
	frame := make([]int16, 160)
	n := 0
	for range 3000 { // 60 s
		k, done := src.Read(frame)
		n += k
		if done {
			break
		}
	}
	l.mu.Lock()
	l.plays = append(l.plays, heard{hold: hold, samples: n})
	l.mu.Unlock()
}

func (l *fakeLeg) StopPlay() {
	l.mu.Lock()
	l.stops++
	l.mu.Unlock()
}

func (l *fakeLeg) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *fakeLeg) heard() []heard {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]heard(nil), l.plays...)
}

func (l *fakeLeg) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// press sends keys as the media engine would report them.
func (l *fakeLeg) press(keys string) {
	for _, k := range []byte(keys) {
		l.spec.OnDTMF(k)
	}
}

// waitPlays waits until the leg has heard n plays and returns them.
func (l *fakeLeg) waitPlays(t *testing.T, n int) []heard {
	t.Helper()
	var h []heard
	eventually(t, fmt.Sprintf("%d plays", n), func() bool { h = l.heard(); return len(h) >= n })
	return h
}

// promptLen is how many samples a Play of keys in en-US lasts.
func promptLen(t *testing.T, keys ...prompts.Key) int {
	t.Helper()
	n := 0
	for _, k := range keys {
		pcm, err := prompts.PCM(en, k)
		if err != nil {
			t.Fatal(err)
		}
		n += len(pcm)
	}
	return n
}

// goodbyeLen is the length of a Hangup's play: its prompts and the pause
// that lets them be heard out.
func goodbyeLen(t *testing.T, keys ...prompts.Key) int {
	t.Helper()
	return promptLen(t, keys...) + prompts.Rate/5
}

// fakeBackend knows meeting 123 (passcode 4242), 77 (no passcode) and 555
// (locked).
type fakeBackend struct {
	mu      sync.Mutex
	asked   []string
	resolve chan struct{} // when set, ResolveConference waits for it
}

var (
	locked = Meeting{ConferenceID: "555", FocusURI: "sip:org@example.com;gruu;opaque=app:conf:focus:id:locked", MeetingID: "locked"}
)

func (b *fakeBackend) ResolveConference(ctx context.Context, id string) (Meeting, error) {
	b.mu.Lock()
	b.asked = append(b.asked, "resolve "+id)
	wait := b.resolve
	b.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return Meeting{}, ctx.Err()
		}
	}
	switch id {
	case "123":
		return withPasscode, nil
	case "77":
		return open, nil
	case "555":
		return locked, nil
	}
	return Meeting{}, ErrNotFound
}

func (b *fakeBackend) VerifyPasscode(_ context.Context, id, passcode string) error {
	b.mu.Lock()
	b.asked = append(b.asked, "passcode "+id)
	b.mu.Unlock()
	if passcode == "4242" {
		return nil
	}
	return ErrWrongPasscode
}

func (b *fakeBackend) VerifyPIN(context.Context, string, string) (User, error) {
	return User{}, ErrAuthFailed
}

func (b *fakeBackend) questions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.asked...)
}

// fakeConfs is the Focus: a meeting has an enterprise user once lead is
// closed; a focus URI ending in "locked" refuses callers.
type fakeConfs struct {
	lead chan struct{}
	once sync.Once

	mu      sync.Mutex
	waits   int
	added   []Caller
	removed []string
}

func newConfs(led bool) *fakeConfs {
	c := &fakeConfs{lead: make(chan struct{})}
	if led {
		c.enter()
	}
	return c
}

func (c *fakeConfs) enter() { c.once.Do(func() { close(c.lead) }) }

func (c *fakeConfs) WaitEnterprise(ctx context.Context, _ string) error {
	c.mu.Lock()
	c.waits++
	c.mu.Unlock()
	select {
	case <-c.lead:
		return nil
	default:
	}
	select {
	case <-c.lead:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *fakeConfs) AddDialIn(_ context.Context, focusURI string, caller Caller) (string, error) {
	if strings.HasSuffix(focusURI, "locked") {
		return "", fmt.Errorf("focus: %w", ErrMeetingLocked)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.added = append(c.added, caller)
	return "sip:dialin-" + strconv.Itoa(len(c.added)) + "@example.com", nil
}

func (c *fakeConfs) RemoveDialIn(_ context.Context, _, entity string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = append(c.removed, entity)
	return nil
}

func (c *fakeConfs) callers() []Caller {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Caller(nil), c.added...)
}

func (c *fakeConfs) removals() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.removed...)
}

// numbers has one access number, sip:caa-1@example.com.
type numbers struct{}

const accessURI = "sip:caa-1@example.com"

func (numbers) AccessNumberByURI(_ context.Context, uri string) (directory.AccessNumber, error) {
	if uri != accessURI {
		return directory.AccessNumber{}, directory.ErrNotFound
	}
	return directory.AccessNumber{LineURI: "tel:+14255550100", URI: accessURI, PrimaryLanguage: en}, nil
}

// syncBuffer is a log sink the test reads while calls write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bench is one attendant under test and its surroundings.
type bench struct {
	srv     *Server
	media   *fakeMedia
	backend *fakeBackend
	confs   *fakeConfs
	log     *syncBuffer
	med     *mediation
	stop    func() error // ends Serve and returns its error
}

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
	return ua
}

func newBench(t *testing.T, cfg ServerConfig, confs *fakeConfs) *bench {
	t.Helper()
	b := &bench{media: &fakeMedia{}, backend: &fakeBackend{}, confs: confs, log: &syncBuffer{}}
	cfg.Listen = "127.0.0.1:0"
	cfg.Hostname = "attendant.test"
	cfg.Verify = func(req *sip.Request) (string, error) {
		service, _, err := trust.Verify(trustKey, req, time.Now())
		return service, err
	}
	cfg.Services = []string{"mediation"}
	cfg.SRTP = sdpoa.SRTPRequired
	srv, err := NewServer(cfg, numbers{}, b.backend, confs, b.media, slog.New(slog.NewTextHandler(b.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	b.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-errc:
			case <-time.After(15 * time.Second):
				serveErr = errors.New("Serve did not return")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	b.srv = srv
	b.med = newMediation(t, srv.Addr())
	return b
}

// mediation plays the Mediation Server's front-end side: it places signed
// calls to the attendant and takes its BYEs.
type mediation struct {
	target  string // the attendant's address
	client  *sipgo.Client
	contact sip.ContactHeader
	byes    chan *sip.Request
}

func newMediation(t *testing.T, target string) *mediation {
	t.Helper()
	ua := quietUA(t)
	t.Cleanup(func() { _ = ua.Close() })
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	m := &mediation{target: target, byes: make(chan *sip.Request, 16)}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		m.byes <- req
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	if m.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	u := sip.Uri{Scheme: "sip", User: "mediation", Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	m.contact = sip.ContactHeader{Address: u}
	return m
}

// callOpts shape an INVITE; the zero value is a good call from caller.
type callOpts struct {
	unsigned bool
	service  string // default "mediation"
	ruri     string // default accessURI
	from     string // default sip:<caller>@gateway.example.com;user=phone
	plain    bool   // RTP/AVP offer without keys
	noSDP    bool
	headers  []sip.Header
}

// call is a placed call as the Mediation Server sees it.
type medCall struct {
	d   *sipgo.DialogClientSession
	req *sip.Request
}

// invite places a call and returns it established, or the final failure
// response.
func (m *mediation) invite(t *testing.T, o callOpts) (*medCall, *sip.Response) {
	t.Helper()
	if o.service == "" {
		o.service = "mediation"
	}
	if o.ruri == "" {
		o.ruri = accessURI
	}
	if o.from == "" {
		o.from = "sip:" + caller + "@gateway.example.com;user=phone"
	}
	var ru, from sip.Uri
	if err := sip.ParseUri(o.ruri, &ru); err != nil {
		t.Fatal(err)
	}
	if err := sip.ParseUri(o.from, &from); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, ru)
	fh := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(10))
	callID := sip.CallIDHeader(sip.GenerateTagN(20))
	maxFwd := sip.MaxForwardsHeader(70)
	contact := m.contact
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: ru})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&contact)
	for _, h := range o.headers {
		req.AppendHeader(h)
	}
	if !o.noSDP {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offerSDP(t, o.plain))
	}
	req.SetTransport("TCP")
	req.SetDestination(m.target)
	if !o.unsigned {
		if err := (trust.Signer{Key: trustKey, Service: o.service, Host: "mediation.example.com"}).Sign(req); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ua := &sipgo.DialogUA{Client: m.client, ContactHDR: contact}
	d, err := ua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var fail *sipgo.ErrDialogResponse
	if errors.As(err, &fail) {
		return nil, fail.Res
	}
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	return &medCall{d: d, req: req}, d.InviteResponse
}

// hangUp sends the Mediation Server's BYE, with a Reason when reason is
// set.
func (c *medCall) hangUp(t *testing.T, reason string) {
	t.Helper()
	bye := sip.NewRequest(sip.BYE, c.d.InviteResponse.Contact().Address)
	if reason != "" {
		bye.AppendHeader(sip.NewHeader("Reason", reason))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.d.WriteBye(ctx, bye); err != nil {
		t.Fatalf("BYE: %v", err)
	}
}

// offerSDP is the Mediation Server's offer: PCMU and telephone-event
// over SRTP with an SDES key, or plain RTP.
func offerSDP(t *testing.T, plain bool) []byte {
	t.Helper()
	lines := []string{"v=0", "o=mediation 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"}
	if plain {
		lines = append(lines, "m=audio 30000 RTP/AVP 0 101")
	} else {
		lines = append(lines, "m=audio 30000 RTP/SAVP 0 101")
		cs, err := sdes.Offer([]sdes.Suite{sdes.SuiteAESCM80})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "a=crypto:"+cs[0].String())
	}
	lines = append(lines, "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=rtcp-mux", "a=sendrecv")
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// byeFrom waits for the attendant's BYE.
func (m *mediation) byeFrom(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case r := <-m.byes:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no BYE from the attendant")
		return nil
	}
}

// noBye checks that the attendant sends no BYE for a while.
func (m *mediation) noBye(t *testing.T) {
	t.Helper()
	select {
	case r := <-m.byes:
		t.Fatalf("unexpected BYE from the attendant: %s", r.StartLine())
	case <-time.After(300 * time.Millisecond):
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
