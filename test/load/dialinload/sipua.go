package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/sdpoa"
)

// agent is the tool's SIP user agent: one UDP socket on loopback for
// every dialog, as a gateway's signalling address is one.
type agent struct {
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cl      *sipgo.Client
	dialogs *sipgo.DialogClientCache
	addr    netip.AddrPort
	// unexpected counts in-dialog requests other than BYE (a re-INVITE
	// from the server, say): answered, and reported.
	unexpected func(method string)
}

// newAgent listens on a free loopback UDP port until ctx ends.
func newAgent(ctx context.Context, log *slog.Logger, unexpected func(string)) (*agent, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sip socket: %w", err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("parley-dialinload"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("sip server: %w", err)
	}
	cl, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname("127.0.0.1"),
		sipgo.WithClientPort(int(addr.Port())))
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("sip client: %w", err)
	}
	a := &agent{ua: ua, srv: srv, cl: cl, addr: addr, unexpected: unexpected}
	a.dialogs = sipgo.NewDialogClientCache(cl, sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: int(addr.Port())},
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := a.dialogs.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.UPDATE, sip.INFO, sip.OPTIONS, sip.NOTIFY, sip.REFER} {
		srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			a.unexpected(req.Method.String())
			// A re-INVITE would need an answer with SDP; refusing it
			// keeps the session as it is (RFC 3261 §14.2).
			code, reason := 200, "OK"
			if req.Method == sip.INVITE {
				code, reason = 488, "Not Acceptable Here"
			}
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
		})
	}
	go func() { _ = srv.ServeUDP(pc) }()
	go func() {
		<-ctx.Done()
		_ = pc.Close()
		_ = ua.Close()
	}()
	return a, nil
}

// offer is a plain RTP offer of PCMU and telephone-event from port, as a
// PSTN gateway sends (seed 001: the gateway side is plain RTP).
func offer(port int, session uint64) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=gw %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n", session, port))
}

// answerMedia returns where an SDP answer says to send RTP, and checks
// that it kept PCMU and, when wantEvents, telephone-event at 101.
func answerMedia(body []byte, wantEvents bool) (netip.AddrPort, error) {
	d, err := sdpoa.Parse(body)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("answer SDP: %w", err)
	}
	a := d.Audio()
	if a == nil || a.Port == 0 || !a.Addr.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("answer SDP: no audio stream with an address")
	}
	var pcmu, te bool
	for _, f := range a.Formats {
		pcmu = pcmu || f == strconv.Itoa(ptPCMU)
		te = te || f == strconv.Itoa(ptEvent)
	}
	if !pcmu || (wantEvents && !te) {
		return netip.AddrPort{}, fmt.Errorf("answer SDP: formats %s, want PCMU (0) and telephone-event (101)", strings.Join(a.Formats, " "))
	}
	return netip.AddrPortFrom(a.Addr, uint16(a.Port)), nil
}

// dial sends an INVITE with body to target, from "from", answering a
// digest challenge with user/password when given, and ACKs the 2xx.
func (a *agent) dial(ctx context.Context, target, from string, body []byte, user, password string, extra ...sip.Header) (*sipgo.DialogClientSession, error) {
	var to sip.Uri
	if err := sip.ParseUri(target, &to); err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	var fromURI sip.Uri
	if err := sip.ParseUri(from, &fromURI); err != nil {
		return nil, fmt.Errorf("from %q: %w", from, err)
	}
	req := sip.NewRequest(sip.INVITE, to)
	fp := sip.NewParams()
	fp.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&sip.FromHeader{Address: fromURI, Params: fp})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	req.SetBody(body)
	req.SetDestination(netip.AddrPortFrom(netip.MustParseAddr(to.Host), uint16(to.Port)).String())
	sess, err := a.dialogs.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password}); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("INVITE %s: %w", target, err)
	}
	if err := sess.Ack(ctx); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("ACK: %w", err)
	}
	return sess, nil
}
