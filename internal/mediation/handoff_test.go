package mediation

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/sdes"
	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// mcuSigner signs as the A/V MCU of a pool.
var mcuSigner = &trust.Signer{Key: testKey, Service: "avmcu", Host: "mcu.parley.test"}

// newHandoffHarness is newHarness with 127.0.0.1 as the only gateway
// address (the fake MCUs connect from 127.0.0.2, see newFakeMCU), and
// with hand-offs from "avmcu" verified with the test key.
func newHandoffHarness(t *testing.T, action feAction) *harness {
	t.Helper()
	h := &harness{t: t, dir: newFakeDir(), fe: newFakeFrontEnd(t, action), gw: newUAPair(t, "fake gateway", "udp")}
	cfg := Config{
		Listen: "127.0.0.1:0", MediaAddr: loopback, Domain: "parley.test",
		Gateways: []string{"127.0.0.1"},
		FrontEnd: FrontEnd{Addr: h.fe.addr, Transport: h.fe.transport},
		Sign:     trust.Signer{Key: testKey, Service: "mediation", Host: "pool.parley.test"}.Sign,
		Verify: func(req *sip.Request) (string, error) {
			service, _, err := trust.Verify(testKey, req, time.Now())
			return service, err
		},
		ReplaceServices: []string{"avmcu"},
	}
	h.srv = serveMediation(t, cfg, h.dir)
	return h
}

// fakeMCU is an A/V MCU: it INVITEs the Mediation Server with Replaces.
type fakeMCU struct {
	*uaPair
	byes chan *sip.Request
}

func newFakeMCU(t *testing.T) *fakeMCU {
	t.Helper()
	m := &fakeMCU{uaPair: newUAPair(t, "fake MCU", "tcp"), byes: make(chan *sip.Request, 4)}
	// Its requests come from another loopback address than the gateway's.
	var err error
	if m.client, err = sipgo.NewClient(m.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr("127.0.0.2:0")); err != nil {
		t.Fatal(err)
	}
	m.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		m.byes <- req
	})
	return m
}

// invite sends the MCU's INVITE to the Mediation Server at addr (TCP) with
// the Replaces values, signed by signer unless nil. ctx cancelled before
// the answer CANCELs it.
func (m *fakeMCU) invite(ctx context.Context, addr string, values []string, signer *trust.Signer, body []byte) (*sipgo.DialogClientSession, error) {
	host, port, _ := net.SplitHostPort(addr)
	var portN int
	_, _ = fmt.Sscan(port, &portN)
	ru := sip.Uri{Scheme: "sip", User: "mediation", Host: host, Port: portN, UriParams: sip.NewParams()}
	ru.UriParams.Add("transport", "tcp")
	req := sip.NewRequest(sip.INVITE, ru)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "avmcu", Host: "mcu.parley.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	callID := sip.CallIDHeader(newCallID())
	maxFwd := sip.MaxForwardsHeader(70)
	contact := m.contact("avmcu", "tcp")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "mediation", Host: host, Port: portN}})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&contact)
	for _, v := range values {
		req.AppendHeader(sip.NewHeader("Replaces", v))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	req.SetTransport("TCP")
	req.SetDestination(addr)
	if signer != nil {
		if err := signer.Sign(req); err != nil {
			return nil, err
		}
	}
	ua := &sipgo.DialogUA{Client: m.client, ContactHDR: contact}
	d, err := ua.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return d, err
	}
	return d, d.Ack(ctx)
}

// mcuOffer is the MCU's offer from m: G.722, PCMA, PCMU and
// telephone-event on 97 (not the attendant's 96 nor the gateway's 100),
// over RTP/SAVP with one SDES key, or plain RTP/AVP.
func mcuOffer(t *testing.T, m *mediaEnd, srtp bool) ([]byte, []sdes.Crypto) {
	t.Helper()
	lines := []string{
		"v=0", "o=mcu 7 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 9 8 0 97", m.port()),
		"a=rtpmap:9 G722/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000",
		"a=rtpmap:97 telephone-event/8000", "a=fmtp:97 0-16", "a=sendrecv",
	}
	var offered []sdes.Crypto
	if srtp {
		var err error
		if offered, err = sdes.Offer([]sdes.Suite{sdes.SuiteAESCM80}); err != nil {
			t.Fatal(err)
		}
		lines[5] = strings.Replace(lines[5], "RTP/AVP", "RTP/SAVP", 1)
		lines = append(lines, "a=crypto:"+offered[0].String())
	}
	return []byte(strings.Join(append(lines, ""), "\r\n")), offered
}

// mcuMedia points the MCU's media end at the Mediation Server's answer and
// keys it; it returns the answer's audio stream.
func mcuMedia(t *testing.T, m *mediaEnd, offered []sdes.Crypto, answer []byte) *sdpoa.Stream {
	t.Helper()
	desc, err := sdpoa.Parse(answer)
	if err != nil {
		t.Fatalf("the MCU's answer: %v\n%s", err, answer)
	}
	a := desc.Audio()
	if a == nil || len(a.Codecs) == 0 {
		t.Fatalf("the MCU's answer has no audio:\n%s", answer)
	}
	m.remote = netip.AddrPortFrom(a.Addr, uint16(a.Port))
	m.pt = a.Codecs[0].PayloadType
	if te, ok := a.TelephoneEvent(8000); ok {
		m.ept = te.PayloadType
	}
	if offered != nil {
		if a.Proto != "RTP/SAVP" || len(a.Crypto) != 1 {
			t.Fatalf("answer to an SRTP offer: %s with %d crypto lines", a.Proto, len(a.Crypto))
		}
		neg, err := sdes.AcceptAnswer(offered, a.Crypto[0])
		if err != nil {
			t.Fatal(err)
		}
		if m.srtp, err = sdes.NewSession(neg); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// handoffCall is a call up between the fake gateway and the fake attendant.
type handoffCall struct {
	h      *harness
	gw     *sipgo.DialogClientSession
	gm, fm *mediaEnd
	att    *sipgo.DialogServerSession // the attendant's dialog
	gwByes chan struct{}
}

func newHandoffCall(ctx context.Context, t *testing.T, h *harness) *handoffCall {
	t.Helper()
	hc := &handoffCall{h: h, gm: newMediaEnd(t), gwByes: make(chan struct{}, 2)}
	h.gw.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		hc.gwByes <- struct{}{}
	})
	var err error
	if hc.gw, err = h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(hc.gm)); err != nil {
		t.Fatalf("call: %v", err)
	}
	gatewayMedia(t, hc.gm, hc.gw)
	hc.fm = h.fe.endpoint()
	hc.att = h.fe.confirmedDialog(t)
	hc.gm.send(t, []byte{1, 2, 3}, false)
	if p, _ := hc.fm.recv(t); !bytes.Equal(p.Payload, []byte{1, 2, 3}) {
		t.Fatalf("the attendant got %x before the hand-off", p.Payload)
	}
	return hc
}

// attendantReplaces is the Replaces value the attendant composes from its
// own view of its dialog (see the package comment): to-tag is the
// Mediation Server's tag (the From tag of its INVITE), from-tag the
// attendant's own (its To tag).
func (hc *handoffCall) attendantReplaces() string {
	inv := hc.att.InviteRequest
	mediationTag, _ := inv.From().Params.Get("tag")
	attendantTag, _ := inv.To().Params.Get("tag")
	return inv.CallID().Value() + ";to-tag=" + mediationTag + ";from-tag=" + attendantTag
}

// mcuReplaces is the Replaces value that names an MCU's dialog with the
// Mediation Server, which answered it: to-tag is the Mediation Server's
// tag (the MCU's To tag), from-tag the MCU's (its From tag).
func mcuReplaces(d *sipgo.DialogClientSession) string {
	ourTag, _ := d.InviteResponse.To().Params.Get("tag")
	mcuTag, _ := d.InviteRequest.From().Params.Get("tag")
	return d.InviteRequest.CallID().Value() + ";to-tag=" + ourTag + ";from-tag=" + mcuTag
}

// expectBye waits for a BYE on byes and checks its Reason when want is set.
func expectBye(t *testing.T, who string, byes chan *sip.Request, want string) {
	t.Helper()
	select {
	case bye := <-byes:
		if want == "" {
			return
		}
		if r := bye.GetHeader("Reason"); r == nil || r.Value() != want {
			t.Errorf("%s's BYE has Reason %v, want %s", who, r, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s got no BYE", who)
	}
}

// checkMedia checks both directions between the gateway and an MCU's end,
// payloads and payload types: PCMU keeps 0, telephone-event is the
// gateway's 100 on one side and the MCU's 97 on the other.
func checkMedia(t *testing.T, gm, mm *mediaEnd) {
	t.Helper()
	voice := bytes.Repeat([]byte{0x5a}, 160)
	gm.send(t, voice, false)
	if p, _ := mm.recv(t); !bytes.Equal(p.Payload, voice) || p.PayloadType != 0 {
		t.Errorf("MCU got PT %d payload %x…, want PT 0 and the gateway's voice", p.PayloadType, p.Payload[:min(4, len(p.Payload))])
	}
	gm.send(t, []byte{7, 0x8a, 0, 160}, true)
	if p, _ := mm.recv(t); p.PayloadType != 97 || p.Payload[0] != 7 {
		t.Errorf("MCU got event PT %d digit %d, want PT 97 digit 7", p.PayloadType, p.Payload[0])
	}
	back := bytes.Repeat([]byte{0x33}, 160)
	mm.send(t, back, false)
	if p, _ := gm.recv(t); !bytes.Equal(p.Payload, back) || p.PayloadType != gm.pt {
		t.Errorf("gateway got PT %d payload %x…, want PT %d and the MCU's voice", p.PayloadType, p.Payload[:min(4, len(p.Payload))], gm.pt)
	}
	mm.send(t, []byte{9, 0x8a, 0, 160}, true)
	if p, _ := gm.recv(t); p.PayloadType != 100 || p.Payload[0] != 9 {
		t.Errorf("gateway got event PT %d digit %d, want PT 100 digit 9", p.PayloadType, p.Payload[0])
	}
}

// handOff has a new MCU replace the dialog named by value and checks the
// answer; it returns the MCU, its dialog and its media end.
func handOff(ctx context.Context, t *testing.T, h *harness, value string, srtp bool) (*fakeMCU, *sipgo.DialogClientSession, *mediaEnd) {
	t.Helper()
	mcu := newFakeMCU(t)
	mm := newMediaEnd(t)
	body, offered := mcuOffer(t, mm, srtp)
	d, err := mcu.invite(ctx, h.srv.Addr("tcp"), []string{value}, mcuSigner, body)
	if err != nil {
		t.Fatalf("the MCU's INVITE: %v", err)
	}
	a := mcuMedia(t, mm, offered, d.InviteResponse.Body())
	feOffer, err := sdpoa.Parse(h.fe.invite(t).Body())
	if err != nil {
		t.Fatal(err)
	}
	if a.Port != feOffer.Audio().Port {
		t.Errorf("answer on port %d, want the relay's front-end port %d", a.Port, feOffer.Audio().Port)
	}
	if ct := d.InviteResponse.Contact(); ct == nil || ct.Address.User != "mediation" {
		t.Errorf("200 Contact = %v, want the mediation listener", ct)
	}
	return mcu, d, mm
}

func TestHandoffToMCU(t *testing.T) {
	h := newHandoffHarness(t, feAction{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := newHandoffCall(ctx, t, h)

	_, d, mm := handOff(ctx, t, h, hc.attendantReplaces(), true)
	expectBye(t, "the attendant", h.fe.byes, reasonReplaced)
	checkMedia(t, hc.gm, mm)
	// The attendant is off the media path: the gateway's voice does not
	// reach it, and its late packets do not reach the gateway.
	hc.gm.send(t, []byte{4, 4, 4}, false)
	_, _ = mm.recv(t)
	hc.fm.expectNothing(t, 200*time.Millisecond)
	hc.fm.send(t, []byte{6, 6, 6}, false)
	hc.gm.expectNothing(t, 200*time.Millisecond)

	// The MCU hangs up: the gateway gets a BYE.
	if err := d.Bye(ctx); err != nil {
		t.Fatalf("MCU BYE: %v", err)
	}
	select {
	case <-hc.gwByes:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway got no BYE")
	}
	waitNoCalls(t, h.srv)
}

func TestGatewayByeAfterHandoffReachesMCU(t *testing.T) {
	h := newHandoffHarness(t, feAction{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := newHandoffCall(ctx, t, h)
	mcu, _, mm := handOff(ctx, t, h, hc.attendantReplaces(), true)
	expectBye(t, "the attendant", h.fe.byes, reasonReplaced)
	checkMedia(t, hc.gm, mm)
	if err := hc.gw.Bye(ctx); err != nil {
		t.Fatalf("gateway BYE: %v", err)
	}
	expectBye(t, "the MCU", mcu.byes, "")
	waitNoCalls(t, h.srv)
}

// TestSecondHandoffReplacesMCU moves the call from one MCU to another
// (the replaced dialog is then one the Mediation Server answered), the
// second over plain RTP.
func TestSecondHandoffReplacesMCU(t *testing.T) {
	h := newHandoffHarness(t, feAction{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := newHandoffCall(ctx, t, h)
	mcu1, d1, mm1 := handOff(ctx, t, h, hc.attendantReplaces(), true)
	expectBye(t, "the attendant", h.fe.byes, reasonReplaced)
	checkMedia(t, hc.gm, mm1)

	mcu2, d2, mm2 := handOff(ctx, t, h, mcuReplaces(d1), false)
	expectBye(t, "the first MCU", mcu1.byes, reasonReplaced)
	checkMedia(t, hc.gm, mm2)
	// The first MCU's SRTP would pass for plain RTP: its address is
	// retired, so nothing of it reaches the gateway.
	mm1.send(t, []byte{6, 6, 6}, false)
	hc.gm.expectNothing(t, 200*time.Millisecond)

	// A re-INVITE from the second MCU is answered on its dialog.
	if res, err := reinviteMCU(ctx, d2, mm2); err != nil || res.StatusCode != 200 {
		t.Fatalf("MCU re-INVITE = %v, %v; want 200", res, err)
	}
	checkMedia(t, hc.gm, mm2)

	if err := hc.gw.Bye(ctx); err != nil {
		t.Fatalf("gateway BYE: %v", err)
	}
	expectBye(t, "the second MCU", mcu2.byes, "")
	waitNoCalls(t, h.srv)
}

// reinviteMCU sends a re-INVITE in the MCU's dialog with its plain offer
// again, and ACKs the 200.
func reinviteMCU(ctx context.Context, d *sipgo.DialogClientSession, mm *mediaEnd) (*sip.Response, error) {
	body := []byte(strings.Join([]string{
		"v=0", "o=mcu 7 2 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 97", mm.port()),
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:97 telephone-event/8000", "a=sendrecv", "",
	}, "\r\n"))
	req := sip.NewRequest(sip.INVITE, d.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := d.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		return res, err
	}
	ack := sip.NewRequest(sip.ACK, d.InviteResponse.Contact().Address)
	ack.AppendHeader(sip.HeaderClone(req.CSeq()))
	ack.CSeq().MethodName = sip.ACK
	return res, d.WriteAck(ctx, ack)
}

func TestHandoffRefusals(t *testing.T) {
	h := newHandoffHarness(t, feAction{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := newHandoffCall(ctx, t, h)
	good := hc.attendantReplaces()
	callID, _, _ := strings.Cut(good, ";")
	other := *mcuSigner
	other.Service = "caa"
	badKey := *mcuSigner
	badKey.Key = []byte("another key of thirty-two bytes!")
	for _, tc := range []struct {
		name    string
		values  []string
		signer  *trust.Signer
		g722    bool
		code    int
		warning string
	}{
		{name: "unsigned", values: []string{good}, code: 403, warning: "no Parley-Trust header"},
		{name: "bad signature", values: []string{good}, signer: &badKey, code: 403, warning: "does not match"},
		{name: "service not allowed", values: []string{good}, signer: &other, code: 403, warning: "caa"},
		{name: "unknown dialog", values: []string{callID + ";to-tag=x;from-tag=y"}, signer: mcuSigner, code: 481},
		{name: "tags swapped", values: []string{swapTags(good)}, signer: mcuSigner, code: 481},
		{name: "two Replaces", values: []string{good, good}, signer: mcuSigner, code: 400, warning: "more than one"},
		{name: "malformed", values: []string{callID + ";to-tag=x"}, signer: mcuSigner, code: 400, warning: "Replaces"},
		{name: "early-only on a confirmed dialog", values: []string{good + ";early-only"}, signer: mcuSigner, code: 486},
		{name: "no common codec", values: []string{good}, signer: mcuSigner, g722: true, code: 488},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mcu := newFakeMCU(t)
			mm := newMediaEnd(t)
			body, _ := mcuOffer(t, mm, true)
			if tc.g722 {
				body = bytes.Replace(body, []byte("RTP/SAVP 9 8 0 97"), []byte("RTP/SAVP 9 97"), 1)
			}
			_, err := mcu.invite(ctx, h.srv.Addr("tcp"), tc.values, tc.signer, body)
			code, res := statusOf(t, err)
			if code != tc.code {
				t.Fatalf("status = %d, want %d", code, tc.code)
			}
			if w := res.GetHeader("Warning"); tc.warning != "" && (w == nil || !strings.Contains(w.Value(), tc.warning)) {
				t.Errorf("Warning = %v, want it to mention %q", w, tc.warning)
			}
		})
	}
	t.Run("from the gateway", func(t *testing.T) {
		gm := newMediaEnd(t)
		_, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm), sip.NewHeader("Replaces", good))
		if code, _ := statusOf(t, err); code != 403 {
			t.Fatalf("status = %d, want 403", code)
		}
	})
	// Nothing changed: the attendant keeps the call and its media.
	select {
	case <-h.fe.byes:
		t.Fatal("the attendant got a BYE")
	default:
	}
	hc.gm.send(t, []byte{8, 8}, false)
	if p, _ := hc.fm.recv(t); !bytes.Equal(p.Payload, []byte{8, 8}) {
		t.Errorf("the attendant got %x, want 0808", p.Payload)
	}
	if n := h.srv.Calls(); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}
}

// swapTags exchanges a Replaces value's to-tag and from-tag: the tags of
// the attendant's own view, which RFC 3891 §3 does not match.
func swapTags(v string) string {
	parts := strings.Split(v, ";")
	to, from := strings.TrimPrefix(parts[1], "to-tag="), strings.TrimPrefix(parts[2], "from-tag=")
	return parts[0] + ";to-tag=" + from + ";from-tag=" + to
}

// TestHandoffOfEarlyDialogRefused replaces the dialog with the attendant
// while it still rings.
func TestHandoffOfEarlyDialogRefused(t *testing.T) {
	h := newHandoffHarness(t, feAction{ring: true, delay: 700 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gm := newMediaEnd(t)
	done := make(chan error, 1)
	go func() {
		_, err := h.call(ctx, "sip:1002@127.0.0.1", gatewayOffer(gm))
		done <- err
	}()
	var att *sipgo.DialogServerSession
	for deadline := time.Now().Add(3 * time.Second); att == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the attendant got no INVITE")
		}
		h.fe.mu.Lock()
		if len(h.fe.dialogs) > 0 {
			att = h.fe.dialogs[0]
		}
		h.fe.mu.Unlock()
	}
	hc := &handoffCall{att: att}
	mcu := newFakeMCU(t)
	body, _ := mcuOffer(t, newMediaEnd(t), true)
	_, err := mcu.invite(ctx, h.srv.Addr("tcp"), []string{hc.attendantReplaces()}, mcuSigner, body)
	if code, _ := statusOf(t, err); code != 481 {
		t.Fatalf("status = %d, want 481", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("the call after the refused hand-off: %v", err)
	}
}

// TestHandoffCancelled cancels the replacing INVITE before the switch: the
// call stays with the attendant.
func TestHandoffCancelled(t *testing.T) {
	h := newHandoffHarness(t, feAction{})
	reached, release := make(chan struct{}), make(chan struct{})
	h.srv.beforeHandoff = func() {
		close(reached)
		<-release
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := newHandoffCall(ctx, t, h)
	mcu := newFakeMCU(t)
	body, _ := mcuOffer(t, newMediaEnd(t), true)
	ictx, icancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := mcu.invite(ictx, h.srv.Addr("tcp"), []string{hc.attendantReplaces()}, mcuSigner, body)
		done <- err
	}()
	<-reached
	icancel() // CANCEL: sipgo answers 200, and 487 to the INVITE
	err := <-done
	close(release)
	if err == nil {
		t.Fatal("the cancelled INVITE was answered")
	}
	time.Sleep(100 * time.Millisecond) // let the handler see the CANCEL
	select {
	case <-h.fe.byes:
		t.Fatal("the attendant got a BYE")
	default:
	}
	hc.gm.send(t, []byte{8, 8}, false)
	if p, _ := hc.fm.recv(t); !bytes.Equal(p.Payload, []byte{8, 8}) {
		t.Errorf("the attendant got %x, want 0808", p.Payload)
	}
}
