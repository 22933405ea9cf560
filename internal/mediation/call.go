package mediation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/media/sdpoa"
	"github.com/parleyhq/parley/internal/sipx"
)

// byeTimeout bounds a BYE's transaction.
const byeTimeout = 10 * time.Second

// call is one gateway call and the front-end call it was bridged to.
type call struct {
	s           *Server
	relay       *relay
	neg         *negotiation
	offer       *sdpoa.Description // the gateway's offer
	dest        Destination
	e164        string
	caller      Caller
	gwTransport string
	privacy     []sip.Header

	gw *sipgo.DialogServerSession
	// fe is the INVITE we placed to the front end, from the set-up on;
	// leg is the call's front-end dialog once answered: fe's, or one that
	// replaced it (RFC 3891). Both under mu.
	fe   *sipgo.DialogClientSession
	leg  *feLeg
	gwID string
	// feID is leg's key (feLeg.id); it changes, under the server's mu,
	// when a hand-off replaces the leg.
	feID string

	mu       sync.Mutex // serializes negotiations (early media, re-INVITEs)
	early    []byte     // the front end's early SDP, once relayed
	gwAnswer []byte     // our answer to the gateway
	answered bool
	// pendingAck is closed by the ACK of the re-INVITE with CSeq
	// pendingCSeq whose 2xx we are retransmitting.
	pendingAck  chan struct{}
	pendingCSeq uint32
	// ending says the call is being hung up: no hand-off may start.
	// Under mu.
	ending   bool
	finished sync.Once
	// byeGW sends the gateway's BYE at most once, whichever of a BYE from
	// the other side, a failed set-up, the media watchdog or shutdown
	// comes first (each feLeg has its own).
	byeGW sync.Once
	// handoff serializes hand-offs of the front-end dialog (handoff.go).
	handoff   sync.Mutex
	startedAt time.Time
}

// serveINVITE takes a gateway's new call, or a re-INVITE in a call.
func (s *Server) serveINVITE(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.reject(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	if hasToTag(req) {
		s.reinvite(req, tx)
		return
	}
	// An INVITE with Replaces takes a call's front-end side over; only a
	// trusted service's signature allows it (serveReplaces checks), from
	// whatever address: in a one-machine deployment the front end shares
	// the gateways' loopback. A gateway's unsigned Replaces is refused
	// there too.
	if replacing := req.GetHeaders("Replaces"); len(replacing) > 0 {
		s.serveReplaces(req, tx, replacing)
		return
	}
	if !s.allowed(req.Source()) {
		s.log.Warn("mediation: INVITE from an address that is not a gateway", "source", req.Source())
		s.reject(tx, req, 403, "Forbidden", "not a configured gateway: "+req.Source())
		return
	}
	if req.Contact() == nil {
		s.reject(tx, req, 400, "Bad Request", "missing Contact header field")
		return
	}
	offer, fail := readOffer(req)
	if fail != nil {
		s.reject(tx, req, fail.code, fail.reason, fail.detail)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	profile, err := s.route.Profile(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "mediation: location profile", "err", err)
		s.reject(tx, req, 500, "Server Internal Error", "the location profile cannot be read")
		return
	}
	number, err := NumberFromURI(req.Recipient)
	if err != nil {
		s.reject(tx, req, 404, "Not Found", "not a telephone number: "+req.Recipient.String())
		return
	}
	e164, err := Normalize(profile, number)
	if err != nil {
		s.reject(tx, req, 404, "Not Found", "number "+number.String()+" does not normalize to E.164")
		return
	}
	dest, err := s.route.Resolve(ctx, e164)
	switch {
	case errors.Is(err, ErrUnknownNumber):
		s.reject(tx, req, 404, "Not Found", "no user or access number has the number "+e164)
		return
	case err != nil:
		s.log.ErrorContext(ctx, "mediation: reverse number lookup", "number", e164, "err", err)
		s.reject(tx, req, 500, "Server Internal Error", "the directory cannot be read")
		return
	}
	caller := CallerOf(req, profile)
	neg := newNegotiation(s.cfg.MediaAddr, 0, 0)
	if err := neg.readGatewayOffer(offer); err != nil {
		s.reject(tx, req, 488, "Not Acceptable Here", err.Error())
		return
	}
	if !s.admit() {
		res := sipx.Reject(req, 503, "Service Unavailable", s.cfg.Hostname, "the mediation server is at its call limit")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		_ = tx.Respond(res)
		return
	}
	c := &call{
		s: s, neg: neg, offer: offer, dest: dest, e164: e164, caller: caller,
		gwTransport: req.Transport(), privacy: req.GetHeaders("Privacy"), startedAt: time.Now(),
	}
	c.log().InfoContext(ctx, "mediation: call from the gateway", "called", number.String(), "source", req.Source())
	c.setUp(req, tx)
}

// offerFailure is why a gateway's SDP offer was refused.
type offerFailure struct {
	code           int
	reason, detail string
}

// readOffer parses the SDP offer of an INVITE. The Mediation Server needs
// the offer in the INVITE: it offers to the front end with the gateway's
// codecs.
func readOffer(req *sip.Request) (*sdpoa.Description, *offerFailure) {
	ct := req.ContentType()
	if ct == nil || len(req.Body()) == 0 {
		return nil, &offerFailure{488, "Not Acceptable Here", "an SDP offer in the INVITE is required"}
	}
	if mt, _, _ := strings.Cut(ct.Value(), ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/sdp") {
		return nil, &offerFailure{415, "Unsupported Media Type", "the body must be application/sdp"}
	}
	offer, err := sdpoa.Parse(req.Body())
	if err != nil {
		return nil, &offerFailure{400, "Bad Request", "SDP: " + err.Error()}
	}
	return offer, nil
}

// log is the call's logger.
func (c *call) log() *slog.Logger {
	return c.s.log.With("dest", c.dest.URI, "number", c.e164, "kind", c.dest.Kind.String())
}

// setUp runs the call from the gateway's INVITE to the gateway's ACK (or
// the failure). It is the INVITE handler: sipgo ends the transaction when
// it returns.
func (c *call) setUp(req *sip.Request, tx sip.ServerTransaction) {
	s := c.s
	ok := false
	defer func() {
		if !ok {
			c.finish("set-up failed")
		}
	}()
	var err error
	if c.relay, err = newRelay(s.cfg.MediaAddr); err != nil {
		s.log.Error("mediation: media sockets", "err", err)
		s.reject(tx, req, 503, "Service Unavailable", "no media port")
		return
	}
	c.neg.gwPort, c.neg.fePort = int(c.relay.gw.local.Port()), int(c.relay.fe.local.Port())
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))

	gwUA := &sipgo.DialogUA{Client: s.client, ContactHDR: s.contact(req.Transport())}
	if c.gw, err = gwUA.ReadInvite(req, tx); err != nil {
		s.reject(tx, req, 400, "Bad Request", "dialog: "+err.Error())
		return
	}
	c.gwID = c.gw.ID
	s.register(c.gwID, c)

	body, err := c.neg.frontEndOffer()
	if err != nil {
		s.reject(tx, req, 500, "Server Internal Error", err.Error())
		return
	}
	inv, err := c.frontEndInvite(body)
	if err != nil {
		s.reject(tx, req, 500, "Server Internal Error", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AnswerTimeout)
	defer cancel()
	// A CANCEL from the gateway (sipgo has answered it and sent 487)
	// ends the gateway dialog's context: cancel the front-end INVITE.
	stop := context.AfterFunc(c.gw.Context(), cancel)
	defer stop()
	feUA := &sipgo.DialogUA{Client: s.client, ContactHDR: s.contact(s.cfg.FrontEnd.Transport)}
	fe, err := feUA.WriteInvite(ctx, inv)
	c.mu.Lock()
	c.fe = fe // read under mu by a concurrent shutdown or media watchdog
	c.mu.Unlock()
	if err != nil {
		c.log().Warn("mediation: the front end cannot be reached", "addr", s.cfg.FrontEnd.Addr, "err", err)
		c.respondGateway(503, "Service Unavailable", "the front end cannot be reached")
		return
	}
	err = c.fe.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: c.provisional})
	var fail *sipgo.ErrDialogResponse
	switch {
	case err == nil:
	case c.gw.Context().Err() != nil:
		c.log().Info("mediation: the gateway cancelled the call")
		return
	case errors.As(err, &fail):
		c.relayFailure(fail.Res)
		return
	case errors.Is(err, context.DeadlineExceeded):
		c.respondGateway(408, "Request Timeout", "no answer within "+s.cfg.AnswerTimeout.String())
		return
	default:
		c.log().Warn("mediation: the front end did not answer", "err", err)
		c.respondGateway(503, "Service Unavailable", "the front end did not answer")
		return
	}
	leg := uacLeg(c.fe, s.cfg.FrontEnd.Transport)
	c.mu.Lock()
	c.leg = leg
	c.mu.Unlock()
	s.setFrontEnd(c, "", leg)
	if !c.answer() {
		return
	}
	ok = true
}

// answer completes the call once the front end sent 200: ACK it, answer
// the gateway, start the relay. It reports whether the call is up.
func (c *call) answer() bool {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	res := c.fe.InviteResponse
	c.mu.Lock()
	p, perr := c.frontEndPeer(res.Body())
	c.mu.Unlock()
	if err := c.fe.Ack(ctx); err != nil {
		c.log().Warn("mediation: ACK to the front end failed", "err", err)
	}
	if perr != nil {
		c.log().Warn("mediation: the front end's answer is not usable", "err", perr)
		c.byeFrontEnd()
		c.respondGateway(488, "Not Acceptable Here", "the called party's media: "+perr.Error())
		return false
	}
	c.mu.Lock()
	if c.gwAnswer == nil {
		answer, gp, err := c.neg.answerGateway(c.offer)
		if err != nil {
			c.mu.Unlock()
			c.byeFrontEnd()
			c.respondGateway(488, "Not Acceptable Here", err.Error())
			return false
		}
		c.gwAnswer = answer
		c.relay.gw.configure(gp, time.Now())
		c.relay.start(c.s.cfg.MediaTimeout, c.onIdle)
	}
	c.relay.fe.configure(p, time.Now())
	c.answered = true
	answer := c.gwAnswer
	c.mu.Unlock()
	if c.gw.Context().Err() != nil { // cancelled while the front end answered
		c.byeFrontEnd()
		return false
	}
	contact := c.s.contact(c.gwTransport)
	// Respond waits for the gateway's ACK, retransmitting the 200
	// (RFC 3261 §13.3.1.4).
	if err := c.gw.Respond(200, "OK", answer, sip.NewHeader("Content-Type", "application/sdp"), &contact); err != nil {
		if c.gw.LoadState() == sip.DialogStateEnded {
			// The gateway's BYE overtook its ACK (each is handled on
			// its own goroutine): serveBYE ends the call.
			return true
		}
		c.log().Warn("mediation: the gateway did not take the answer", "err", err)
		c.byeFrontEnd()
		return false
	}
	c.log().Info("mediation: call connected", "codec", c.neg.codec.Name, "gw_media", c.relay.gw.local.String(), "fe_media", c.relay.fe.local.String())
	return true
}

// frontEndPeer reads the front end's SDP answer, unless it is the early one
// already applied. Called with c.mu held.
func (c *call) frontEndPeer(body []byte) (peer, error) {
	if c.early != nil && len(body) == 0 {
		body = c.early // RFC 3261 §13.2.1: the 200 may repeat no SDP
	}
	return c.neg.readFrontEndAnswer(body)
}

// provisional relays the front end's provisional responses to the gateway:
// 180 and 183 as they are (seed 000 leaves ringback to the gateway), and
// an early-media SDP answer as our answer, with the relay running.
func (c *call) provisional(res *sip.Response) error {
	if !res.IsProvisional() || res.StatusCode == 100 {
		return nil
	}
	var body []byte
	var headers []sip.Header
	if len(res.Body()) > 0 && res.StatusCode == 183 {
		c.mu.Lock()
		if c.early == nil {
			if err := c.earlyMedia(res.Body()); err != nil {
				c.log().Info("mediation: early media not relayed", "err", err)
			}
		}
		body = c.gwAnswer
		c.mu.Unlock()
		if body != nil {
			headers = append(headers, sip.NewHeader("Content-Type", "application/sdp"))
		}
	}
	contact := c.s.contact(c.gwTransport)
	headers = append(headers, &contact)
	if err := c.gw.Respond(res.StatusCode, res.Reason, body, headers...); err != nil {
		c.log().Debug("mediation: provisional response not relayed", "code", res.StatusCode, "err", err)
	}
	return nil
}

// earlyMedia applies an early SDP answer: both sides of the relay, so that
// announcements and ringback from the front end reach the caller. Called
// with c.mu held.
func (c *call) earlyMedia(sdp []byte) error {
	p, err := c.neg.readFrontEndAnswer(sdp)
	if err != nil {
		return err
	}
	answer, gp, err := c.neg.answerGateway(c.offer)
	if err != nil {
		return err
	}
	c.early, c.gwAnswer = bytes.Clone(sdp), answer
	c.relay.fe.configure(p, time.Now())
	c.relay.gw.configure(gp, time.Now())
	c.relay.start(c.s.cfg.MediaTimeout, c.onIdle)
	return nil
}

// relayFailure passes the front end's final failure to the gateway with the
// same code (RFC 3261 §16.7 does the same for a proxy). 401 and 407 are
// challenges to the Mediation Server itself, which the gateway cannot
// answer: they become 403.
func (c *call) relayFailure(res *sip.Response) {
	code, reason := res.StatusCode, res.Reason
	if code == 401 || code == 407 {
		c.log().Warn("mediation: the front end does not trust the mediation server", "code", code)
		code, reason = 403, "Forbidden"
	}
	r := sip.NewResponseFromRequest(c.gw.InviteRequest, code, reason, nil)
	for _, name := range []string{"Warning", "Reason", "Retry-After", "ms-diagnostics"} {
		for _, h := range res.GetHeaders(name) {
			r.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
	c.log().Info("mediation: the front end refused the call", "code", res.StatusCode, "reason", res.Reason)
	if err := c.gw.WriteResponse(r); err != nil {
		c.log().Debug("mediation: failure not relayed", "err", err)
	}
}

// respondGateway answers the gateway's INVITE with a failure of ours.
func (c *call) respondGateway(code int, reason, detail string) {
	r := sipx.Reject(c.gw.InviteRequest, code, reason, c.s.cfg.Hostname, detail)
	if err := c.gw.WriteResponse(r); err != nil {
		c.log().Debug("mediation: failure not sent", "code", code, "err", err)
	}
}

// frontEndInvite builds the INVITE to the destination, sent to the front
// end's proxy: the caller ID in From and P-Asserted-Identity (RFC 3325
// §9.1), a new dialog of our own, signed as a trusted peer.
func (c *call) frontEndInvite(body []byte) (*sip.Request, error) {
	s := c.s
	var ru sip.Uri
	if err := sip.ParseUri(c.dest.URI, &ru); err != nil {
		return nil, fmt.Errorf("mediation: destination %q: %w", c.dest.URI, err)
	}
	req := sip.NewRequest(sip.INVITE, ru)
	from := &sip.FromHeader{DisplayName: c.caller.Display, Params: sip.NewParams()}
	if c.caller.Number != "" {
		from.Address = sip.Uri{Scheme: "sip", User: c.caller.Number, Host: s.cfg.Domain, UriParams: sip.NewParams()}
		from.Address.UriParams.Add("user", "phone")
	} else {
		// RFC 3323 §4.1.1.3: the anonymous URI for a caller with no
		// usable number.
		if from.DisplayName == "" {
			from.DisplayName = "Anonymous"
		}
		from.Address = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{DisplayName: c.dest.Display, Address: sip.Uri{Scheme: ru.Scheme, User: ru.User, Host: ru.Host}}
	callID := sip.CallIDHeader(newCallID())
	cseq := &sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE}
	maxFwd := sip.MaxForwardsHeader(70)
	contact := s.contact(s.cfg.FrontEnd.Transport)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(cseq)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&contact)
	if c.caller.Number != "" {
		pai := "<tel:" + c.caller.Number + ">"
		if c.caller.Display != "" {
			pai = strconv.Quote(c.caller.Display) + " " + pai
		}
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai))
	}
	for _, h := range c.privacy {
		req.AppendHeader(sip.NewHeader("Privacy", h.Value()))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	// A loose route to the next hop (RFC 3261 §8.1.2): the INVITE, and the
	// CANCEL sipgo builds from it, go to the front end's proxy whatever
	// the Request-URI's domain resolves to.
	req.AppendHeader(&sip.RouteHeader{Address: s.nextHop()})
	req.SetTransport(strings.ToUpper(s.cfg.FrontEnd.Transport))
	if s.cfg.Sign != nil {
		if err := s.cfg.Sign(req); err != nil {
			return nil, fmt.Errorf("mediation: signing: %w", err)
		}
	}
	return req, nil
}

// newCallID returns a random Call-ID.
func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onIdle hangs up a call whose media stopped; it runs on the relay's
// watchdog, which finish waits for, so the hang-up runs on its own.
func (c *call) onIdle(side string) {
	go c.hangUp("no media from the " + side + " for " + c.s.cfg.MediaTimeout.String())
}

// hangUp ends both dialogs from our side.
func (c *call) hangUp(reason string) {
	var wg sync.WaitGroup
	wg.Go(c.byeGateway)
	wg.Go(c.byeFrontEnd)
	wg.Wait()
	c.finish(reason)
}

// byeGateway sends BYE to the gateway if its dialog is up.
func (c *call) byeGateway() { c.byeGW.Do(c.sendByeGateway) }

func (c *call) sendByeGateway() {
	if c.gw == nil {
		return
	}
	// RFC 3261 §15: no BYE before the ACK of our 2xx, or until the 2xx
	// transaction gives up waiting for it (64*T1).
	for deadline := time.Now().Add(64 * sip.T1); c.gw.LoadState() == sip.DialogStateEstablished && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if c.gw.LoadState() != sip.DialogStateConfirmed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.gw.Bye(ctx); err != nil {
		c.log().Debug("mediation: BYE to the gateway", "err", err)
	}
}

// byeFrontEnd sends BYE on the call's front-end dialog if it is up, and
// keeps any hand-off from replacing it afterwards.
func (c *call) byeFrontEnd() {
	c.mu.Lock()
	c.ending = true
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := leg.sendBye(ctx); err != nil {
		c.log().Debug("mediation: BYE to the front end", "err", err)
	}
}

// finish releases the call's resources, once.
func (c *call) finish(reason string) {
	c.finished.Do(func() {
		if c.relay != nil {
			c.relay.close()
		}
		if c.gw != nil {
			_ = c.gw.Close()
		}
		c.mu.Lock()
		c.ending = true
		fe, leg := c.fe, c.leg
		c.mu.Unlock()
		if fe != nil {
			_ = fe.Close()
		}
		if leg != nil {
			leg.close()
		}
		c.s.release(c)
		if c.relay != nil {
			c.log().Info("mediation: call ended", "reason", reason, "duration", time.Since(c.startedAt).Round(time.Millisecond),
				"gw_packets", c.relay.gw.relayed.Load(), "fe_packets", c.relay.fe.relayed.Load(),
				"gw_dropped", c.relay.gw.dropped.Load(), "fe_dropped", c.relay.fe.dropped.Load())
		}
	})
}

// frontEnd returns the call's front-end dialog, nil before the answer.
func (c *call) frontEnd() *feLeg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leg
}

// hasToTag reports whether req is within a dialog (RFC 3261 §12.2).
func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}
