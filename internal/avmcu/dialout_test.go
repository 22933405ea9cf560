package avmcu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

var dialKey = []byte("0123456789abcdef0123456789abcdef")

const (
	dialOrganizer = "sip:alice@parley.test"
	dialUser      = "sip:+14255551234@anonymous.invalid"
	dialReplaces  = "abc@h;to-tag=1;from-tag=2"
)

var dialConf = c3p.ConferenceURI(dialOrganizer, c3p.ServiceFocus, "KEY1")

// sipEnd is a sipgo user agent listening on loopback TCP.
type sipEnd struct {
	srv    *sipgo.Server
	client *sipgo.Client
	port   int
}

func newSIPEnd(t *testing.T, name string) *sipEnd {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	e := &sipEnd{}
	if e.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = e.srv.ServeTCP(ln) }()
	if e.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(e.port), sipgo.WithClientLogger(log)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return e
}

func (e *sipEnd) contact(user string) sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: e.port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tcp")
	return sip.ContactHeader{Address: u}
}

// legNote is one notifier call.
type legNote struct {
	joined            bool
	conf, user, id, r string
}

type noteChan chan legNote

func (n noteChan) LegJoined(conf, user, id string) {
	n <- legNote{joined: true, conf: conf, user: user, id: id}
}
func (n noteChan) LegLeft(conf, user, id, reason string) {
	n <- legNote{conf: conf, user: user, id: id, r: reason}
}
func (n noteChan) DTMF(string, string, string, rune, bool) {}

func (n noteChan) next(t *testing.T) legNote {
	t.Helper()
	select {
	case v := <-n:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no leg notification")
		return legNote{}
	}
}

// dialRig is an MCU with SIP, and a fake Mediation Server it calls.
type dialRig struct {
	t     *testing.T
	m     *MCU
	e     *Engine
	notes noteChan
	fake  *fakeMediation
}

func newDialRig(t *testing.T, cfg Config, sipCfg SIPConfig, action func(*fakeMediation, *sip.Request, sip.ServerTransaction)) *dialRig {
	t.Helper()
	cfg.Addr = netip.MustParseAddr("127.0.0.1")
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	mcuEnd := newSIPEnd(t, "mcu")
	notes := make(noteChan, 16)
	sipCfg.Hostname = "mcu.parley.test"
	sipCfg.Contact = func(string) sip.ContactHeader { return mcuEnd.contact("avmcu") }
	sipCfg.Notify = notes
	sipCfg.Sign = trust.Signer{Key: dialKey, Service: "avmcu", Host: "mcu.parley.test"}.Sign
	m := NewMCU(e, mcuEnd.client, sipCfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mcuEnd.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) { m.ServeINVITE(context.Background(), req, tx, "") })
	mcuEnd.srv.OnAck(m.ServeACK)
	mcuEnd.srv.OnBye(m.ServeBYE)
	mcuEnd.srv.OnInfo(m.ServeINFO)
	r := &dialRig{t: t, m: m, e: e, notes: notes, fake: newFakeMediation(t, action)}
	r.control(&c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: dialConf}})
	return r
}

// control runs a C3P command that must succeed and returns its answer.
func (r *dialRig) control(cmd c3p.Command) c3p.Command {
	r.t.Helper()
	res, reason, err := r.m.control(&c3p.Request{Command: cmd})
	if err != nil {
		r.t.Fatalf("%s: %s: %v", cmd.CommandName(), reason, err)
	}
	return res
}

// addUser adds the dial-in user with an endpoint to call at referTo.
func addUser(referTo string) *c3p.AddUser {
	return &c3p.AddUser{Keys: &c3p.ConferenceKeys{ConfEntity: dialConf}, User: &c3p.User{
		Entity: dialUser, Roles: []string{c3p.RoleAttendee},
		Endpoints: []c3p.Endpoint{{Entity: "{ep-1}", ReferToURI: referTo, JoiningMethod: c3p.JoiningDialedOut}},
	}}
}

// fakeMediation answers the MCU's INVITE with SRTP, and exchanges RTP.
type fakeMediation struct {
	t      *testing.T
	end    *sipEnd
	cache  *sipgo.DialogServerCache
	rtp    *net.UDPConn
	suites []sdes.Suite

	mu      sync.Mutex
	invites []*sip.Request
	dialog  *sipgo.DialogServerSession
	srtp    *sdes.Session
	rx      int     // RTP packets from the MCU that decrypted
	audio   []int16 // their PCMU payloads, decoded
	byes    chan *sip.Request
}

func newFakeMediation(t *testing.T, action func(*fakeMediation, *sip.Request, sip.ServerTransaction)) *fakeMediation {
	t.Helper()
	f := &fakeMediation{t: t, end: newSIPEnd(t, "mediation"), byes: make(chan *sip.Request, 4), suites: []sdes.Suite{sdes.SuiteAESCM80}}
	var err error
	if f.rtp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.rtp.Close() })
	f.cache = sipgo.NewDialogServerCache(f.end.client, f.end.contact("mediation"))
	f.end.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		f.mu.Lock()
		f.invites = append(f.invites, req)
		f.mu.Unlock()
		if action != nil {
			action(f, req, tx)
		}
	})
	f.end.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = f.cache.ReadAck(req, tx) })
	f.end.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = f.cache.ReadBye(req, tx)
		f.byes <- req
	})
	go f.recv()
	return f
}

// uri is the refer-to URI that reaches the fake, with a Replaces header.
func (f *fakeMediation) uri() string {
	return fmt.Sprintf("sip:mediation@127.0.0.1:%d;transport=tcp?Replaces=abc%%40h%%3Bto-tag%%3D1%%3Bfrom-tag%%3D2", f.end.port)
}

// answer accepts the INVITE with an SRTP answer.
func answer(f *fakeMediation, req *sip.Request, tx sip.ServerTransaction) {
	offer, err := sdpoa.Parse(req.Body())
	if err != nil {
		f.t.Errorf("offer: %v", err)
		return
	}
	var neg sdes.Negotiated
	body, _, err := sdpoa.Answer(offer, sdpoa.Config{
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: f.rtp.LocalAddr().(*net.UDPAddr).Port, RTCPMux: true,
		SRTP:   sdpoa.SRTPRequired,
		Codecs: []sdpoa.Codec{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000}},
		AnswerCrypto: func(offered []string) (string, error) {
			n, err := sdes.Answer(offered, f.suites)
			neg = n
			return n.Local.String(), err
		},
	})
	if err != nil {
		f.t.Errorf("answer: %v", err)
		return
	}
	s, err := sdes.NewSession(neg)
	if err != nil {
		f.t.Errorf("SRTP: %v", err)
		return
	}
	dlg, err := f.cache.ReadInvite(req, tx)
	if err != nil {
		f.t.Errorf("ReadInvite: %v", err)
		return
	}
	f.mu.Lock()
	f.srtp, f.dialog = s, dlg
	f.mu.Unlock()
	contact := f.end.contact("mediation")
	// Respond waits for the ACK; a BYE right after it (the MCU refusing
	// the call) may overtake it, so its error is the test's to judge by
	// what follows.
	_ = dlg.Respond(200, "OK", body, sip.NewHeader("Content-Type", "application/sdp"), &contact)
}

// hold re-INVITEs the MCU within the dialed-out call, putting it on hold
// (RFC 3264 §8.4), and checks that the MCU answers a=recvonly.
func (f *fakeMediation) hold(ctx context.Context, t *testing.T, dlg *sipgo.DialogServerSession, invite *sip.Request) {
	t.Helper()
	keys, err := sdes.Offer(f.suites)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sdpoa.Config{
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: f.rtp.LocalAddr().(*net.UDPAddr).Port, RTCPMux: true,
		SRTP: sdpoa.SRTPRequired, Direction: sdpoa.SendOnly,
		Codecs: []sdpoa.Codec{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
	}
	for i := range keys {
		cfg.Crypto = append(cfg.Crypto, keys[i].String())
	}
	body, err := sdpoa.Offer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, *invite.Contact().Address.Clone())
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("re-INVITE answered %d:\n%s", res.StatusCode, res.Body())
	}
}

// recv counts the MCU's RTP packets that decrypt with the answered keys.
func (f *fakeMediation) recv() {
	buf := make([]byte, 1500)
	dec, err := codec.NewDecoder(codec.PCMU)
	if err != nil {
		f.t.Error(err)
		return
	}
	pcm := make([]int16, 1500)
	for {
		n, err := f.rtp.Read(buf)
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.srtp != nil && n > 1 && (buf[1]&0x7f) < 64 {
			var h rtp.Header
			if out, err := f.srtp.DecryptRTP(nil, buf[:n], &h); err == nil {
				f.rx++
				if h.PayloadType == 0 && len(out) >= h.MarshalSize() {
					k := dec.Decode(pcm, out[h.MarshalSize():])
					f.audio = append(f.audio, pcm[:k]...)
				}
			}
		}
		f.mu.Unlock()
	}
}

// send sends n encrypted PCMU packets to the MCU, 20 ms apart.
func (f *fakeMediation) send(to netip.AddrPort, n int) {
	for i := range n {
		pkt := make([]byte, 12, 12+160)
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		binary.BigEndian.PutUint32(pkt[8:], 0x1234)
		pkt = append(pkt, make([]byte, 160)...)
		f.mu.Lock()
		out, err := f.srtp.EncryptRTP(nil, pkt, nil)
		f.mu.Unlock()
		if err != nil {
			f.t.Errorf("EncryptRTP: %v", err)
			return
		}
		if _, err := f.rtp.WriteToUDPAddrPort(out, to); err != nil {
			return // the test is over
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fakeMediation) received() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rx
}

func (f *fakeMediation) invite(t *testing.T) *sip.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.invites) != 1 {
		t.Fatalf("%d INVITEs, want 1", len(f.invites))
	}
	return f.invites[0]
}

func (f *fakeMediation) bye(t *testing.T) {
	t.Helper()
	select {
	case <-f.byes:
	case <-time.After(10 * time.Second):
		t.Fatal("the MCU sent no BYE")
	}
}

// eventually waits for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDialOutJoinsAndFarEndHangsUp(t *testing.T) {
	for _, suite := range []sdes.Suite{sdes.SuiteAESCM80, sdes.SuiteGCM128} {
		t.Run(suite.String(), func(t *testing.T) {
			r := newDialRig(t, Config{}, SIPConfig{}, answer)
			r.fake.suites = []sdes.Suite{suite}
			res := r.control(addUser(r.fake.uri())).(*c3p.AddUser)
			if eps := res.User.Endpoints; len(eps) != 1 || eps[0].Entity != "{ep-1}" || eps[0].JoiningMethod != c3p.JoiningDialedOut {
				t.Errorf("addUser answer endpoints = %+v", eps)
			}
			joined := r.notes.next(t)
			if !joined.joined || joined.conf != dialConf || joined.user != dialUser || joined.id == "" {
				t.Fatalf("notification %+v, want LegJoined", joined)
			}

			req := r.fake.invite(t)
			wantRURI := fmt.Sprintf("sip:mediation@127.0.0.1:%d;transport=tcp", r.fake.end.port)
			if got := req.Recipient.String(); got != wantRURI {
				t.Errorf("Request-URI %q, want %q", got, wantRURI)
			}
			if h := req.GetHeader("Replaces"); h == nil || h.Value() != dialReplaces {
				t.Errorf("Replaces = %v, want %q", h, dialReplaces)
			}
			if h := req.GetHeader("Supported"); h == nil || !strings.Contains(h.Value(), "replaces") {
				t.Errorf("Supported = %v", h)
			}
			wantFrom := c3p.ConferenceURI(dialOrganizer, c3p.MCUTypeAudioVideo, "KEY1")
			if tag, _ := req.From().Params.Get("tag"); req.From().Address.String() != wantFrom || tag == "" {
				t.Errorf("From %q, want %q with a tag", req.From().Value(), wantFrom)
			}
			if req.To().Address.String() != dialUser {
				t.Errorf("To %q, want %q", req.To().Address.String(), dialUser)
			}
			if svc, _, err := trust.Verify(dialKey, req, time.Now()); err != nil || svc != "avmcu" {
				t.Errorf("trust.Verify = %q, %v", svc, err)
			}
			if !strings.Contains(string(req.Body()), "RTP/SAVP") || !strings.Contains(string(req.Body()), "a=rtcp-mux") {
				t.Errorf("offer is not RTP/SAVP with rtcp-mux:\n%s", req.Body())
			}

			r.m.mu.Lock()
			c := r.m.calls[joined.id]
			r.m.mu.Unlock()
			if c == nil {
				t.Fatal("the call is not filed under the LegJoined ID")
			}
			c.leg.Play(sine(8000, 440, 8000))
			go r.fake.send(r.e.RTPAddr(), 25)
			eventually(t, "encrypted RTP from the MCU", func() bool { return r.fake.received() >= 5 })
			eventually(t, "the fake's RTP at the leg", func() bool { return c.leg.Stats().RxPackets >= 5 })

			r.fake.mu.Lock()
			dlg := r.fake.dialog
			r.fake.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r.fake.hold(ctx, t, dlg, req)
			if err := dlg.Bye(ctx); err != nil {
				t.Fatalf("BYE from the far end: %v", err)
			}
			left := r.notes.next(t)
			if left.joined || left.id != joined.id || left.r != "bye" {
				t.Errorf("notification %+v, want LegLeft of %s for bye", left, joined.id)
			}
			if n := r.e.Load().Legs; n != 0 {
				t.Errorf("%d legs after BYE", n)
			}
		})
	}
}

func TestDialOutEndedByMCU(t *testing.T) {
	for _, end := range []string{"deleteConference", "deleteUser"} {
		t.Run(end, func(t *testing.T) {
			r := newDialRig(t, Config{}, SIPConfig{}, answer)
			r.control(addUser(r.fake.uri()))
			if n := r.notes.next(t); !n.joined {
				t.Fatalf("notification %+v, want LegJoined", n)
			}
			if end == "deleteConference" {
				r.control(&c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: dialConf}})
			} else {
				r.control(&c3p.DeleteUser{Keys: &c3p.UserKeys{ConfEntity: dialConf, UserEntity: dialUser}})
			}
			r.fake.bye(t)
			if n := r.notes.next(t); n.joined || n.user != dialUser {
				t.Errorf("notification %+v, want LegLeft", n)
			}
			if n := r.e.Load().Legs; n != 0 {
				t.Errorf("%d legs after %s", n, end)
			}
		})
	}
}

func TestDialOutFails(t *testing.T) {
	busy := func(_ *fakeMediation, req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	}
	// sipgo's transaction sends 100 Trying after 200 ms, and 487 on CANCEL.
	silent := func(_ *fakeMediation, _ *sip.Request, tx sip.ServerTransaction) {
		select {
		case <-tx.Done():
		case <-time.After(3 * time.Second):
		}
	}
	plain := func(f *fakeMediation, req *sip.Request, tx sip.ServerTransaction) {
		dlg, err := f.cache.ReadInvite(req, tx)
		if err != nil {
			t.Errorf("ReadInvite: %v", err)
			return
		}
		body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
		_ = dlg.Respond(200, "OK", []byte(body), sip.NewHeader("Content-Type", "application/sdp"))
	}
	for _, tc := range []struct {
		name    string
		action  func(*fakeMediation, *sip.Request, sip.ServerTransaction)
		timeout time.Duration
		want    string
		bye     bool // the answered call must be hung up
		uri     string
	}{
		{"unreachable", nil, time.Second, "sending the INVITE", false, "sip:mediation@127.0.0.1:1;transport=tcp"},
		{"busy", busy, time.Second, "486 Busy Here", false, ""},
		{"timeout while trying", silent, 500 * time.Millisecond, "no answer within 500ms", false, ""},
		{"timeout before a provisional", silent, 50 * time.Millisecond, "no answer within 50ms", false, ""},
		{"answer without SRTP", plain, time.Second, "answer:", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDialRig(t, Config{}, SIPConfig{DialOutTimeout: tc.timeout}, tc.action)
			if tc.uri == "" {
				tc.uri = r.fake.uri()
			}
			r.control(addUser(tc.uri))
			n := r.notes.next(t)
			if n.joined || n.user != dialUser || n.id != "" || !strings.Contains(n.r, tc.want) {
				t.Errorf("notification %+v, want LegLeft for %q", n, tc.want)
			}
			if tc.bye {
				r.fake.bye(t)
			}
			if n := r.e.Load().Legs; n != 0 {
				t.Errorf("%d legs", n)
			}
		})
	}
}

func TestDialOutFull(t *testing.T) {
	r := newDialRig(t, Config{MaxLegs: 1}, SIPConfig{}, answer)
	if _, err := r.e.Conference("other").AddLeg(LegSpec{Remote: netip.MustParseAddrPort("127.0.0.1:9"), Codec: codec.PCMU}); err != nil {
		t.Fatal(err)
	}
	r.control(addUser(r.fake.uri()))
	n := r.notes.next(t)
	if n.joined || !strings.Contains(n.r, "full") {
		t.Errorf("notification %+v, want LegLeft for a full server", n)
	}
	r.fake.bye(t)
}

func TestAddUserDialOutRefused(t *testing.T) {
	r := newDialRig(t, Config{}, SIPConfig{}, nil)
	for _, uri := range []string{
		"tel:+14255551234",
		"sip:mediation@127.0.0.1?Via=SIP%2F2.0%2FUDP%20evil",
		"sip:mediation@127.0.0.1?Replaces=x%0D%0AVia%3A%20evil;to-tag=1;from-tag=2",
		"sip:",
	} {
		_, reason, err := r.m.control(&c3p.Request{Command: addUser(uri)})
		if !errors.Is(err, ErrDialOut) || reason != reasonMalformed {
			t.Errorf("%q: %q, %v; want requestMalformed", uri, reason, err)
		}
	}
	two := addUser(r.fake.uri())
	two.User.Endpoints = append(two.User.Endpoints, c3p.Endpoint{Entity: "{ep-2}", EndpointURI: r.fake.uri()})
	if _, reason, err := r.m.control(&c3p.Request{Command: two}); reason != reasonMalformed || err == nil {
		t.Errorf("two endpoints: %q, %v; want requestMalformed", reason, err)
	}
	if _, allowed := r.m.admittedByFocus(dialConf, dialUser); allowed {
		t.Error("a refused addUser allowed the user")
	}
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	if n := len(r.fake.invites); n != 0 {
		t.Errorf("%d INVITEs sent", n)
	}
}
