package mediation

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// gatewayMedia points the gateway's media end at the answer's address.
func gatewayMedia(t *testing.T, m *mediaEnd, d *sipgo.DialogClientSession) {
	t.Helper()
	desc, err := sdpoa.Parse(d.InviteResponse.Body())
	if err != nil {
		t.Fatalf("the gateway's answer: %v\n%s", err, d.InviteResponse.Body())
	}
	a := desc.Audio()
	if a == nil || len(a.Codecs) == 0 {
		t.Fatalf("the gateway's answer has no audio:\n%s", d.InviteResponse.Body())
	}
	if a.Proto != "RTP/AVP" || len(a.Crypto) != 0 {
		t.Errorf("gateway side proto %s with %d crypto lines, want plain RTP/AVP", a.Proto, len(a.Crypto))
	}
	m.remote = netip.AddrPortFrom(a.Addr, uint16(a.Port))
	m.pt = a.Codecs[0].PayloadType
	if te, ok := a.TelephoneEvent(8000); ok {
		m.ept = te.PayloadType
	}
}

func TestCallToUserRelaysMediaBothWays(t *testing.T) {
	h := newHarness(t, feAction{ring: true}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A local number with a phone-context, as a gateway sends it.
	d, err := h.call(ctx, "sip:5551002;phone-context=+1425@127.0.0.1;user=phone", gatewayOffer(gm),
		sip.NewHeader("P-Asserted-Identity", `"Alice PSTN" <tel:+1-206-555-0199>`))
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	inv := h.fe.invite(t)
	if got, want := inv.Recipient.String(), "sip:bob@parley.test"; got != want {
		t.Errorf("front-end Request-URI = %s, want %s", got, want)
	}
	from := inv.From()
	if got, want := from.Address.User+"@"+from.Address.Host, "+12065550199@parley.test"; got != want || from.DisplayName != "Alice PSTN" {
		t.Errorf("From = %q %s, want \"Alice PSTN\" %s", from.DisplayName, got, want)
	}
	if v, _ := from.Address.UriParams.Get("user"); v != "phone" {
		t.Errorf("From URI %s lacks user=phone", from.Address.String())
	}
	if pai := inv.GetHeader("P-Asserted-Identity"); pai == nil || !strings.Contains(pai.Value(), "<tel:+12065550199>") {
		t.Errorf("P-Asserted-Identity = %v, want <tel:+12065550199>", pai)
	}
	if svc, host, err := trust.Verify(testKey, inv, time.Now()); err != nil || svc != "mediation" || host != "pool.parley.test" {
		t.Errorf("trust.Verify = %s, %s, %v; want mediation, pool.parley.test, nil", svc, host, err)
	}
	offer, err := sdpoa.Parse(inv.Body())
	if err != nil {
		t.Fatal(err)
	}
	if a := offer.Audio(); a.Proto != "RTP/SAVP" || len(a.Crypto) == 0 {
		t.Errorf("front-end offer proto %s with %d crypto lines, want RTP/SAVP with keys", a.Proto, len(a.Crypto))
	}

	gatewayMedia(t, gm, d)
	fm := h.fe.endpoint()
	voice := bytes.Repeat([]byte{0x55}, 160)

	// Gateway to front end: plain in, SRTP out, payload intact.
	gm.send(t, voice, false)
	p, _ := fm.recv(t)
	if !bytes.Equal(p.Payload, voice) || p.PayloadType != fm.pt {
		t.Errorf("front end got PT %d payload %x…, want PT %d and the gateway's payload", p.PayloadType, p.Payload[:4], fm.pt)
	}
	// Front end to gateway, symmetric: to where the gateway sent from.
	fm.send(t, bytes.Repeat([]byte{0x2a}, 160), false)
	p, src := gm.recv(t)
	if p.Payload[0] != 0x2a || p.PayloadType != gm.pt {
		t.Errorf("gateway got PT %d payload %x, want PT %d and 2a", p.PayloadType, p.Payload[0], gm.pt)
	}
	if src != gm.remote {
		t.Errorf("gateway media came from %s, want the answered address %s (symmetric RTP)", src, gm.remote)
	}
	// A telephone-event is translated: PT 100 on the gateway side, the
	// front end's on the other.
	gm.send(t, []byte{5, 0x8a, 0, 160}, true)
	p, _ = fm.recv(t)
	if p.PayloadType != fm.ept || p.Payload[0] != 5 {
		t.Errorf("front end got event PT %d digit %d, want PT %d digit 5", p.PayloadType, p.Payload[0], fm.ept)
	}

	// The gateway hangs up: the front end gets a BYE.
	if err := d.Bye(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	select {
	case <-h.fe.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the front end got no BYE")
	}
	waitNoCalls(t, h.srv)
}

func TestCallToAccessNumberGoesToAttendant(t *testing.T) {
	h := newHarness(t, feAction{}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := h.call(ctx, "tel:+1-425-555-0100", gatewayOffer(gm))
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := h.fe.invite(t).Recipient.String(); got != "sip:caa-1@parley.test" {
		t.Errorf("Request-URI = %s, want the contact object's sip:caa-1@parley.test", got)
	}
	// The caller's From, 4255550123, normalizes by the 10-digit... no
	// rule: the Default test profile has 4 and 7 digits only, so the
	// caller is anonymous by number and keeps the name.
	if from := h.fe.invite(t).From(); from.Address.Host != "anonymous.invalid" || from.DisplayName != "PSTN Caller" {
		t.Errorf("From = %q <%s>, want \"PSTN Caller\" at anonymous.invalid", from.DisplayName, from.Address.String())
	}
	_ = d.Bye(ctx)
}

func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ruri     string
		body     string
		gateways []string
		code     int
		warning  string
	}{
		{name: "unknown number", ruri: "sip:+14255559999@127.0.0.1;user=phone", code: 404, warning: "+14255559999"},
		{name: "user without Enterprise Voice", ruri: "sip:1003@127.0.0.1", code: 404, warning: "+14255551003"},
		{name: "not a number", ruri: "sip:alice@127.0.0.1", code: 404, warning: "not a telephone number"},
		{name: "does not normalize", ruri: "sip:12@127.0.0.1", code: 404, warning: "does not normalize"},
		{name: "not a gateway", ruri: "sip:1002@127.0.0.1", gateways: []string{"192.0.2.7"}, code: 403, warning: "not a configured gateway"},
		{name: "gateway on another port", ruri: "sip:1002@127.0.0.1", gateways: []string{"127.0.0.1:1"}, code: 403},
		{name: "malformed SDP", ruri: "sip:1002@127.0.0.1", body: "v=0\r\nthis is not SDP\r\n", code: 400, warning: "SDP"},
		{name: "no G.711", ruri: "sip:1002@127.0.0.1", code: 488, warning: "G.711",
			body: "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"},
		{name: "SRTP offered to the plain side", ruri: "sip:1002@127.0.0.1", code: 488,
			body: "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, feAction{}, func(c *Config) { c.Gateways = tc.gateways })
			gm := newMediaEnd(t)
			body := []byte(tc.body)
			if tc.body == "" {
				body = gatewayOffer(gm)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := h.call(ctx, tc.ruri, body)
			code, res := statusOf(t, err)
			if code != tc.code {
				t.Fatalf("status = %d, want %d", code, tc.code)
			}
			if w := res.GetHeader("Warning"); tc.warning != "" && (w == nil || !strings.Contains(w.Value(), tc.warning)) {
				t.Errorf("Warning = %v, want it to mention %q", w, tc.warning)
			}
			h.fe.mu.Lock()
			n := len(h.fe.invites)
			h.fe.mu.Unlock()
			if n != 0 {
				t.Errorf("the front end got %d INVITEs, want none", n)
			}
			waitNoCalls(t, h.srv)
		})
	}
}

func TestFrontEndFailureRelayedWithSameCode(t *testing.T) {
	for _, code := range []int{486, 480, 404, 603} {
		h := newHarness(t, feAction{ring: true, code: code}, nil)
		gm := newMediaEnd(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
		cancel()
		if got, _ := statusOf(t, err); got != code {
			t.Errorf("front end %d reached the gateway as %d", code, got)
		}
		waitNoCalls(t, h.srv)
	}
}

func TestFrontEndChallengeBecomes403(t *testing.T) {
	h := newHarness(t, feAction{code: 407}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
	if got, _ := statusOf(t, err); got != 403 {
		t.Errorf("front end 407 reached the gateway as %d, want 403", got)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	h := newHarness(t, feAction{ring: true, delay: time.Minute}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the front end is ringing.
		for range 200 {
			h.fe.mu.Lock()
			n := len(h.fe.invites)
			h.fe.mu.Unlock()
			if n > 0 {
				time.Sleep(200 * time.Millisecond)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	d, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
	if err == nil {
		t.Fatal("the call was answered; want it cancelled")
	}
	if d == nil || d.InviteResponse == nil || d.InviteResponse.StatusCode != 487 {
		var got any = d
		if d != nil {
			got = d.InviteResponse
		}
		t.Fatalf("final response = %v, want 487", got)
	}
	select {
	case <-h.fe.cancels:
	case <-time.After(5 * time.Second):
		t.Fatal("the front end's INVITE was not cancelled")
	}
	waitNoCalls(t, h.srv)
}

func TestFrontEndByeEndsGatewayDialog(t *testing.T) {
	h := newHarness(t, feAction{}, nil)
	byes := make(chan struct{}, 1)
	h.gw.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byes <- struct{}{}
	})
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm)); err != nil {
		t.Fatal(err)
	}
	dlg := h.fe.confirmedDialog(t)
	if err := dlg.Bye(ctx); err != nil {
		t.Fatalf("front end BYE: %v", err)
	}
	select {
	case <-byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway got no BYE")
	}
	waitNoCalls(t, h.srv)
}

func TestMediaInactivityHangsUp(t *testing.T) {
	h := newHarness(t, feAction{}, func(c *Config) { c.MediaTimeout = 300 * time.Millisecond })
	byes := make(chan struct{}, 1)
	h.gw.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byes <- struct{}{}
	})
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan struct{}{byes} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no BYE after the media stopped")
		}
	}
	select {
	case <-h.fe.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the front end got no BYE after the media stopped")
	}
	waitNoCalls(t, h.srv)
}

func TestGatewayHoldAnsweredLocally(t *testing.T) {
	h := newHarness(t, feAction{}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
	if err != nil {
		t.Fatal(err)
	}
	gatewayMedia(t, gm, d)
	fm := h.fe.endpoint()
	fm.send(t, []byte{1, 2, 3}, false)
	gm.recv(t)

	// Hold: the gateway re-offers sendonly; the answer says recvonly and
	// the front end's media no longer reaches the gateway.
	hold := bytes.Replace(gatewayOffer(gm), []byte("a=sendrecv"), []byte("a=sendonly"), 1)
	hold = bytes.Replace(hold, []byte("o=gw 1 1"), []byte("o=gw 1 2"), 1)
	req := sip.NewRequest(sip.INVITE, d.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(hold)
	res, err := d.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	if !bytes.Contains(res.Body(), []byte("a=recvonly")) {
		t.Errorf("hold answer lacks a=recvonly:\n%s", res.Body())
	}
	if err := d.WriteAck(ctx, sip.NewRequest(sip.ACK, d.InviteResponse.Contact().Address)); err != nil {
		t.Fatal(err)
	}
	fm.send(t, []byte{4, 5, 6}, false)
	gm.expectNothing(t, 300*time.Millisecond)
	h.fe.mu.Lock()
	n := len(h.fe.invites)
	h.fe.mu.Unlock()
	if n != 1 {
		t.Errorf("the front end got %d INVITEs, want 1: hold is answered by the mediation server", n)
	}
	_ = d.Bye(ctx)
}

func TestOutOfDialogRequests(t *testing.T) {
	h := newHarness(t, feAction{}, nil)
	conn, err := net.Dial("udp", h.srv.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tc := range []struct {
		method string
		extra  string
		code   string
	}{
		{"OPTIONS", "", "200"},
		{"REGISTER", "", "405"},
		{"MESSAGE", "", "405"},
		{"FROBNICATE", "", "501"},
		{"BYE", "", "481"},
		{"INVITE", "Max-Forwards: 70\r\n", "400"}, // two Max-Forwards
	} {
		msg := tc.method + " sip:1002@127.0.0.1 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK-" + tc.method + "\r\n" +
			"Max-Forwards: 70\r\n" + tc.extra +
			"From: <sip:gw@127.0.0.1>;tag=1\r\nTo: <sip:1002@127.0.0.1>\r\n" +
			"Call-ID: ood-" + tc.method + "\r\nCSeq: 1 " + tc.method + "\r\nContact: <sip:gw@" + conn.LocalAddr().String() + ">\r\nContent-Length: 0\r\n\r\n"
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("%s: no response: %v", tc.method, err)
			}
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			if strings.HasPrefix(line, "SIP/2.0 100") {
				continue
			}
			if !strings.HasPrefix(line, "SIP/2.0 "+tc.code) {
				t.Errorf("%s: %s, want %s", tc.method, line, tc.code)
			}
			if tc.code == "405" && !strings.Contains(string(buf[:n]), "Allow: ") {
				t.Errorf("%s: 405 without Allow", tc.method)
			}
			break
		}
	}
}

func TestFrontEndOverTLS(t *testing.T) {
	h := newHarness(t, feAction{tls: true}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
	if err != nil {
		t.Fatalf("call over a TLS next hop: %v", err)
	}
	inv := h.fe.invite(t)
	if inv.Transport() != "TLS" {
		t.Errorf("the front end got the INVITE over %s, want TLS", inv.Transport())
	}
	if c := inv.Contact(); c == nil || !strings.Contains(c.Address.String(), "transport=tcp") {
		t.Errorf("Contact %v: want our TCP listener, as the mediation server has no TLS one here", c)
	}
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.fe.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the front end got no BYE over TLS")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := New(Config{Listen: "127.0.0.1:0", MediaAddr: loopback, FrontEnd: FrontEnd{Addr: "127.0.0.1:1", Transport: "sctp"}}, newFakeDir(), testLog())
	if err == nil {
		t.Error("New accepted front-end transport sctp")
	}
	for _, cfg := range []Config{
		{Listen: "127.0.0.1:0", FrontEnd: FrontEnd{Addr: "127.0.0.1:1"}},
		{Listen: "127.0.0.1:0", MediaAddr: loopback},
		{Listen: "nonsense", MediaAddr: loopback, FrontEnd: FrontEnd{Addr: "127.0.0.1:1"}},
		{Listen: "127.0.0.1:0", MediaAddr: loopback, FrontEnd: FrontEnd{Addr: "127.0.0.1:1"}, Gateways: []string{"gw.example.com"}},
	} {
		if _, err := New(cfg, newFakeDir(), testLog()); err == nil {
			t.Errorf("New(%+v) accepted a bad configuration", cfg)
		}
	}
}

func TestEarlyMediaRelayedBeforeAnswer(t *testing.T) {
	h := newHarness(t, feAction{earlySDP: true, delay: 500 * time.Millisecond}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var u sip.Uri
	_ = sip.ParseUri("sip:1002@"+h.srv.Addr("udp"), &u)
	req := sip.NewRequest(sip.INVITE, u)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(gatewayOffer(gm))
	ua := &sipgo.DialogUA{Client: h.gw.client, ContactHDR: h.gw.contact("gw", "udp")}
	d, err := ua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var early []byte
	heard := make(chan struct{})
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == 183 && early == nil {
			early = res.Body()
			// Announcements flow before the answer.
			desc, err := sdpoa.Parse(early)
			if err != nil {
				t.Errorf("183 SDP: %v", err)
				return nil
			}
			gm.remote = netip.AddrPortFrom(desc.Audio().Addr, uint16(desc.Audio().Port))
			go func() {
				defer close(heard)
				h.fe.endpoint().send(t, []byte{0x11, 0x22}, false)
				if p, _ := gm.recv(t); p.Payload[0] != 0x11 {
					t.Errorf("early media payload %x, want 11", p.Payload[0])
				}
			}()
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	<-heard
	if early == nil {
		t.Fatal("the gateway got no 183 with SDP")
	}
	if !bytes.Equal(d.InviteResponse.Body(), early) {
		t.Errorf("the 200's SDP differs from the 183's (RFC 3261 §13.2.1):\n%s\n---\n%s", early, d.InviteResponse.Body())
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	_ = d.Bye(ctx)
	waitNoCalls(t, h.srv)
}

func TestFrontEndReinviteAnsweredWithNewKeys(t *testing.T) {
	h := newHarness(t, feAction{}, nil)
	gm := newMediaEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
	if err != nil {
		t.Fatal(err)
	}
	gatewayMedia(t, gm, d)
	dlg := h.fe.confirmedDialog(t)
	// The called party re-offers (a new port and new keys, as after a
	// hold and resume); the mediation server answers it alone.
	offer := h.fe.invite(t).Body()
	answer, m, err := answerAsEndpoint(offer, sdpoa.SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	_ = answer
	t.Cleanup(m.close)
	reoffer, err := sdpoa.Offer(sdpoa.Config{
		Addrs: []netip.Addr{loopback}, Port: m.port(), SRTP: sdpoa.SRTPRequired,
		Codecs: []sdpoa.Codec{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
		Crypto: []string{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, h.fe.invite(t).Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(reoffer)
	res, err := dlg.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("front-end re-INVITE: %v %v", res, err)
	}
	desc, err := sdpoa.Parse(res.Body())
	if err != nil || len(desc.Audio().Crypto) != 1 || desc.Audio().Proto != "RTP/SAVP" {
		t.Fatalf("re-INVITE answer: %v\n%s", err, res.Body())
	}
	ack := sip.NewRequest(sip.ACK, h.fe.invite(t).Contact().Address)
	ack.AppendHeader(sip.HeaderClone(res.CSeq()))
	ack.CSeq().MethodName = sip.ACK
	if err := dlg.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	// The gateway's media now goes to the new port.
	gm.send(t, []byte{0x33}, false)
	buf := make([]byte, 1500)
	_ = m.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, _, err := m.conn.ReadFromUDPAddrPort(buf); err != nil {
		t.Fatalf("no media at the re-offered port: %v", err)
	}
	h.fe.mu.Lock()
	n := len(h.fe.invites)
	h.fe.mu.Unlock()
	if n != 1 {
		t.Errorf("front end got %d INVITEs from the mediation server, want 1", n)
	}
	_ = d.Bye(ctx)
}
