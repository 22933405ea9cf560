package mediation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// testKey signs the test INVITEs.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// testLog is quiet unless MEDIATION_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("MEDIATION_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fakeDir is an in-memory Directory.
type fakeDir struct {
	mu       sync.Mutex
	profiles map[string]directory.LocationProfile
	users    map[string]directory.User         // by line URI
	access   map[string]directory.AccessNumber // by line URI
	fail     error
}

func newFakeDir() *fakeDir {
	return &fakeDir{
		profiles: map[string]directory.LocationProfile{
			"Default": {Name: "Default", Rules: []dialplan.Rule{
				{Pattern: `(\d{4})`, Translation: "+1425555$1"},
				{Pattern: `(\d{7})`, Translation: "+1425$1"},
				{Pattern: `\+(\d+)`, Translation: "+$1"},
			}},
		},
		users: map[string]directory.User{
			"tel:+14255551002": {URI: "sip:bob@parley.test", DisplayName: "Bob Brown", Enabled: true, EnterpriseVoice: true, LineURI: "tel:+14255551002"},
			"tel:+14255551003": {URI: "sip:carol@parley.test", Enabled: true, LineURI: "tel:+14255551003"},
		},
		access: map[string]directory.AccessNumber{
			"tel:+14255550100": {LineURI: "tel:+14255550100", URI: "sip:caa-1@parley.test", DisplayName: "Redmond dial-in"},
		},
	}
}

func (d *fakeDir) LocationProfile(_ context.Context, name string) (directory.LocationProfile, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return directory.LocationProfile{}, d.fail
	}
	p, ok := d.profiles[name]
	if !ok {
		return p, directory.ErrNotFound
	}
	return p, nil
}

func (d *fakeDir) UserByLineURI(_ context.Context, line string) (directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[line]
	if !ok {
		return u, directory.ErrNotFound
	}
	return u, nil
}

func (d *fakeDir) AccessNumber(_ context.Context, line string) (directory.AccessNumber, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.access[line]
	if !ok {
		return a, directory.ErrNotFound
	}
	return a, nil
}

// uaPair is a sipgo user agent with a server and a client, listening on
// loopback.
type uaPair struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	addr   string // host:port of the listener
}

func newUAPair(t *testing.T, name, network string) *uaPair {
	t.Helper()
	log := testLog().With("ua", name)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	p := &uaPair{ua: ua}
	if p.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		t.Fatal(err)
	}
	switch network {
	case "tls":
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{testCert(t)}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		p.addr = ln.Addr().String()
		go func() { _ = p.srv.ServeTLS(ln) }()
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr = pc.LocalAddr().String()
		go func() { _ = p.srv.ServeUDP(pc) }()
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr = ln.Addr().String()
		go func() { _ = p.srv.ServeTCP(ln) }()
	}
	_, port, _ := net.SplitHostPort(p.addr)
	var portN int
	_, _ = fmt.Sscan(port, &portN)
	if p.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(portN), sipgo.WithClientLogger(log)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return p
}

// contact is the pair's Contact header.
func (p *uaPair) contact(user, transport string) sip.ContactHeader {
	host, port, _ := net.SplitHostPort(p.addr)
	var portN int
	_, _ = fmt.Sscan(port, &portN)
	u := sip.Uri{Scheme: "sip", User: user, Host: host, Port: portN, UriParams: sip.NewParams()}
	if transport != "udp" {
		u.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: u}
}

// feAction is what the fake front end does with an INVITE.
type feAction struct {
	ring      bool          // send 180 first
	delay     time.Duration // before the final response
	code      int           // final response; 0 means 200 with an answer
	earlySDP  bool          // send 183 with the answer before the 200
	direction sdpoa.Direction
	tls       bool // listen on TLS instead of TCP
}

// fakeFrontEnd is the front end's proxy and the called party in one: it
// checks the Mediation Server's INVITE and answers it with SRTP.
type fakeFrontEnd struct {
	t *testing.T
	*uaPair
	cache     *sipgo.DialogServerCache
	action    feAction
	transport string

	mu      sync.Mutex
	invites []*sip.Request
	dialogs []*sipgo.DialogServerSession
	// confirmed are the dialogs whose 200 was ACKed, in order: their
	// InviteResponse is then safe to read from the test.
	confirmed []*sipgo.DialogServerSession
	media     *mediaEnd
	byes      chan *sip.Request
	cancels   chan struct{}
}

func newFakeFrontEnd(t *testing.T, action feAction) *fakeFrontEnd {
	t.Helper()
	transport := "tcp"
	if action.tls {
		transport = "tls"
	}
	fe := &fakeFrontEnd{t: t, uaPair: newUAPair(t, "fake front end", transport), action: action, transport: transport,
		byes: make(chan *sip.Request, 4), cancels: make(chan struct{}, 4)}
	fe.cache = sipgo.NewDialogServerCache(fe.client, fe.contact("bob", transport))
	fe.srv.OnInvite(fe.serveINVITE)
	fe.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = fe.cache.ReadAck(req, tx) })
	fe.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := fe.cache.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			t.Errorf("front end: a BYE for no dialog: %v", err)
			return
		}
		fe.byes <- req
	})
	return fe
}

func (fe *fakeFrontEnd) serveINVITE(req *sip.Request, tx sip.ServerTransaction) {
	fe.mu.Lock()
	fe.invites = append(fe.invites, req)
	fe.mu.Unlock()
	dlg, err := fe.cache.ReadInvite(req, tx)
	if err != nil {
		fe.t.Errorf("front end: ReadInvite: %v", err)
		return
	}
	fe.mu.Lock()
	fe.dialogs = append(fe.dialogs, dlg)
	fe.mu.Unlock()
	a := fe.action
	if a.ring {
		_ = dlg.Respond(180, "Ringing", nil)
	}
	if a.code != 0 && a.code != 200 {
		select {
		case <-time.After(a.delay):
		case <-dlg.Context().Done():
			fe.cancels <- struct{}{}
			return
		}
		_ = dlg.Respond(a.code, "Failure", nil)
		return
	}
	answer, m, err := answerAsEndpoint(req.Body(), a.direction)
	if err != nil {
		fe.t.Errorf("front end: cannot answer the offer: %v\n%s", err, req.Body())
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	fe.mu.Lock()
	fe.media = m
	fe.mu.Unlock()
	fe.t.Cleanup(m.close)
	if a.earlySDP {
		_ = dlg.Respond(183, "Session Progress", answer, sip.NewHeader("Content-Type", "application/sdp"))
	}
	select {
	case <-time.After(a.delay):
	case <-dlg.Context().Done():
		fe.cancels <- struct{}{}
		return
	}
	contact := fe.contact("bob", fe.transport)
	if err := dlg.Respond(200, "OK", answer, sip.NewHeader("Content-Type", "application/sdp"), &contact); err != nil {
		fe.t.Logf("front end: 200: %v", err)
		return
	}
	fe.mu.Lock()
	fe.confirmed = append(fe.confirmed, dlg)
	fe.mu.Unlock()
}

// confirmedDialog waits for the first dialog's ACK and returns the dialog.
func (fe *fakeFrontEnd) confirmedDialog(t *testing.T) *sipgo.DialogServerSession {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		fe.mu.Lock()
		if len(fe.confirmed) > 0 {
			d := fe.confirmed[0]
			fe.mu.Unlock()
			return d
		}
		fe.mu.Unlock()
	}
	t.Fatal("the front end's dialog was not confirmed")
	return nil
}

func (fe *fakeFrontEnd) invite(t *testing.T) *sip.Request {
	t.Helper()
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if len(fe.invites) != 1 {
		t.Fatalf("front end got %d INVITEs, want 1", len(fe.invites))
	}
	return fe.invites[0]
}

func (fe *fakeFrontEnd) endpoint() *mediaEnd {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return fe.media
}

// mediaEnd is an endpoint's RTP socket, with SRTP when negotiated.
type mediaEnd struct {
	conn   *net.UDPConn
	remote netip.AddrPort
	srtp   *sdes.Session
	pt     uint8 // audio payload type to send
	ept    uint8 // telephone-event payload type to send
	seq    uint16
}

func newMediaEnd(t *testing.T) *mediaEnd {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &mediaEnd{conn: c}
}

func (m *mediaEnd) port() int { return m.conn.LocalAddr().(*net.UDPAddr).Port }

func (m *mediaEnd) close() { _ = m.conn.Close() }

// answerAsEndpoint answers a Mediation Server offer as an SRTP endpoint
// would, and returns the endpoint's media.
func answerAsEndpoint(body []byte, dir sdpoa.Direction) ([]byte, *mediaEnd, error) {
	offer, err := sdpoa.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		return nil, nil, err
	}
	m := &mediaEnd{conn: c}
	var neg sdes.Negotiated
	cfg := sdpoa.Config{
		Addrs: []netip.Addr{loopback}, Port: m.port(), SRTP: sdpoa.SRTPRequired, Direction: dir,
		Codecs: []sdpoa.Codec{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, {PayloadType: 96, Name: "telephone-event", ClockRate: 8000}},
		AnswerCrypto: func(offered []string) (string, error) {
			n, err := sdes.Answer(offered, nil)
			neg = n
			return n.Local.String(), err
		},
	}
	answer, res, err := sdpoa.Answer(offer, cfg)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if m.srtp, err = sdes.NewSession(neg); err != nil {
		c.Close()
		return nil, nil, err
	}
	m.remote, m.pt = res.Remote, res.Codec.PayloadType
	m.ept = res.TelephoneEvent.PayloadType
	return answer, m, nil
}

// send sends one RTP packet with payload (PCMU when event is false).
func (m *mediaEnd) send(t *testing.T, payload []byte, event bool) {
	t.Helper()
	m.seq++
	pt := m.pt
	if event {
		pt = m.ept
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: m.seq, Timestamp: uint32(m.seq) * 160, SSRC: 0x1234}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if m.srtp != nil {
		if b, err = m.srtp.EncryptRTP(nil, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.conn.WriteToUDPAddrPort(b, m.remote); err != nil {
		t.Fatal(err)
	}
}

// recv waits for one RTP packet and returns it decrypted.
func (m *mediaEnd) recv(t *testing.T) (rtp.Packet, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = m.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, src, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no RTP: %v", err)
		}
		b := buf[:n]
		if isRTCP(b) {
			continue
		}
		if m.srtp != nil {
			if b, err = m.srtp.DecryptRTP(nil, b, nil); err != nil {
				t.Fatalf("SRTP: %v", err)
			}
		}
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		return p, src
	}
}

// expectNothing fails if an RTP packet arrives within d.
func (m *mediaEnd) expectNothing(t *testing.T, d time.Duration) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = m.conn.SetReadDeadline(time.Now().Add(d))
	if n, _, err := m.conn.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("got %d bytes, want no media", n)
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && !ne.Timeout() {
		t.Fatal(err)
	}
}

// harness is a Mediation Server between a fake gateway and a fake front end.
type harness struct {
	t   *testing.T
	srv *Server
	dir *fakeDir
	fe  *fakeFrontEnd
	gw  *uaPair
}

func newHarness(t *testing.T, action feAction, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: newFakeDir(), fe: newFakeFrontEnd(t, action), gw: newUAPair(t, "fake gateway", "udp")}
	cfg := Config{
		Listen: "127.0.0.1:0", MediaAddr: loopback, Domain: "parley.test",
		FrontEnd: FrontEnd{Addr: h.fe.addr, Transport: h.fe.transport},
		Sign:     trust.Signer{Key: testKey, Service: "mediation", Host: "pool.parley.test"}.Sign,
	}
	if action.tls {
		roots := x509.NewCertPool()
		leaf, err := x509.ParseCertificate(testCert(t).Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		roots.AddCert(leaf)
		cfg.FrontEnd.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h.srv = serveMediation(t, cfg, h.dir)
	return h
}

// testCert is a self-signed certificate for 127.0.0.1, made once.
var testCert = func() func(t *testing.T) tls.Certificate {
	var once sync.Once
	var cert tls.Certificate
	var err error
	return func(t *testing.T) tls.Certificate {
		t.Helper()
		once.Do(func() {
			var key *ecdsa.PrivateKey
			if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				return
			}
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			}
			var der []byte
			if der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key); err != nil {
				return
			}
			cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		})
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
}()

// gatewayOffer is a gateway's SDP offer from m: PCMA and PCMU, and
// telephone-event on payload type 100.
func gatewayOffer(m *mediaEnd) []byte {
	return []byte(strings.Join([]string{
		"v=0", "o=gw 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 8 100", m.port()),
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:100 telephone-event/8000", "a=fmtp:100 0-15",
		"a=ptime:20", "a=sendrecv", "",
	}, "\r\n"))
}

// call places a gateway call to ruri with body; the returned session has
// answered, or err is the failure.
func (h *harness) call(ctx context.Context, ruri string, body []byte, headers ...sip.Header) (*sipgo.DialogClientSession, error) {
	var u sip.Uri
	if err := sip.ParseUri(ruri, &u); err != nil {
		h.t.Fatal(err)
	}
	if u.Scheme == "sip" && u.Port == 0 {
		// In-dialog requests and CANCEL go by the Request-URI.
		_, port, _ := net.SplitHostPort(h.srv.Addr("udp"))
		_, _ = fmt.Sscan(port, &u.Port)
	}
	req := sip.NewRequest(sip.INVITE, u)
	from := &sip.FromHeader{DisplayName: "PSTN Caller", Address: sip.Uri{Scheme: "sip", User: "4255550123", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	for _, hd := range headers {
		req.AppendHeader(hd)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	req.SetDestination(h.srv.Addr("udp"))
	ua := &sipgo.DialogUA{Client: h.gw.client, ContactHDR: h.gw.contact("gw", "udp")}
	d, err := ua.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return d, err
	}
	return d, d.Ack(ctx)
}

// statusOf returns the status code of a failed call.
func statusOf(t *testing.T, err error) (int, *sip.Response) {
	t.Helper()
	var e *sipgo.ErrDialogResponse
	if !errors.As(err, &e) {
		t.Fatalf("call error = %v, want a SIP failure response", err)
	}
	return e.Res.StatusCode, e.Res
}

// waitNoCalls waits until the server has no call left.
func waitNoCalls(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Calls() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d calls, want none", s.Calls())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveMediation starts a Mediation Server on cfg and stops it when the
// test ends, failing the test if it does not stop cleanly.
func serveMediation(t *testing.T, cfg Config, dir Directory) *Server {
	t.Helper()
	srv, err := New(cfg, dir, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return srv
}
