package immcu_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// sipeAccepts is SIPE's SDP_ACCEPT_TYPES without GMIME (sipe-im.h).
const sipeAccepts = "text/plain text/html image/gif application/im-iscomposing+xml application/ms-imdn+xml text/x-msmsgsinvite"

// sipeOffer is the SDP of SIPE's INVITE to a chat MCU (sipe_im_invite).
func sipeOffer(accepts string) string {
	return "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=message 5061 sip null\r\na=accept-types:" + accepts + "\r\n"
}

// chatter is an IM client: it joins a conference's chat, sends, and records
// the MESSAGEs, INFOs and BYEs the server sends it.
type chatter struct {
	t         testing.TB
	h         *harness
	user      string
	transport string
	cli       *sipgo.Client
	dua       *sipgo.DialogUA
	// answer is how relayed requests are answered: 200 by default, 0 for
	// never.
	answer atomic.Int32

	mu   sync.Mutex
	got  []*sip.Request
	byes []*sip.Request
	sess *sipgo.DialogClientSession
}

// joinedPair is the usual start of a test: a harness with alice and bob
// provisioned, both joined, alice over TCP (as SIPE) and bob over
// transportB.
func joinedPair(t *testing.T, transportB string) (*harness, *chatter, *chatter) {
	t.Helper()
	h := newHarness(t)
	h.provision(alice, bob)
	a, b := newChatter(h, alice, "TCP"), newChatter(h, bob, transportB)
	a.join(sipeAccepts)
	b.join(sipeAccepts)
	return h, a, b
}

func newChatter(h *harness, user, transport string) *chatter {
	h.t.Helper()
	c := &chatter{t: h.t, h: h, user: user, transport: transport}
	c.answer.Store(200)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("chatter"))
	if err != nil {
		h.t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		h.t.Fatal(err)
	}
	pc, ln := siptest.ListenPair(h.t)
	opts := []sipgo.ClientOption{sipgo.WithClientHostname("127.0.0.1")}
	addr := ln.Addr().String()
	if transport == "UDP" {
		addr = pc.LocalAddr().String()
		opts = append(opts, sipgo.WithClientConnectionAddr(addr))
	}
	if c.cli, err = sipgo.NewClient(ua, opts...); err != nil {
		h.t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	pn, _ := strconv.Atoi(port)
	cu := sip.Uri{Scheme: "sip", User: "chatter", Host: host, Port: pn, UriParams: sip.NewParams()}
	if transport != "UDP" {
		cu.UriParams.Add("transport", strings.ToLower(transport))
	}
	c.dua = &sipgo.DialogUA{Client: c.cli, ContactHDR: sip.ContactHeader{Address: cu}}
	record := func(req *sip.Request, tx sip.ServerTransaction) {
		code := int(c.answer.Load())
		if code == 0 {
			return
		}
		// Recorded before the answer: the server sends the next request
		// only once this one is answered, and sipgo runs each on its own
		// goroutine.
		if code == 200 {
			c.mu.Lock()
			c.got = append(c.got, req)
			c.mu.Unlock()
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Answer", nil))
	}
	srv.OnMessage(record)
	srv.OnInfo(record)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		// Recorded before the answer: the server's Close returns once its
		// BYEs are answered, and TestClose counts them right after.
		c.mu.Lock()
		c.byes = append(c.byes, req)
		c.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	go func() { _ = srv.ServeTCP(ln) }()
	// Closed by the harness after the server, whose Close sends BYEs.
	h.closers = append(h.closers, func() {
		ua.Close()
		pc.Close()
		ln.Close()
	})
	siptest.WaitListening(h.t, ua, pc.LocalAddr().String())
	return c
}

// join INVITEs the conference's chat with SIPE's offer (accepts its
// accept-types, or body the whole body) and returns the final status.
func (c *chatter) join(accepts string) int {
	c.t.Helper()
	return c.joinWith("application/sdp", sipeOffer(accepts))
}

func (c *chatter) joinWith(contentType, body string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, c.h.chatURI())
	var from sip.Uri
	if err := sip.ParseUri(c.user, &from); err != nil {
		c.t.Fatal(err)
	}
	req.AppendHeader(&sip.FromHeader{Address: from, Params: sip.HeaderParams{{K: "tag", V: sip.GenerateTagN(10)}}})
	req.AppendHeader(&sip.ToHeader{Address: c.h.chatURI()})
	req.AppendHeader(sip.NewHeader("Supported", "ms-sender"))
	if body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody([]byte(body))
	}
	req.SetTransport(c.transport)
	req.SetDestination(c.h.addr)
	sess, err := c.dua.WriteInvite(ctx, req)
	if err != nil {
		c.t.Fatalf("INVITE: %v", err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return de.Res.StatusCode
		}
		c.t.Fatalf("INVITE: %v", err)
	}
	joined := c.h.events.count("joined " + c.user + " ")
	if err := sess.Ack(ctx); err != nil {
		c.t.Fatalf("ACK: %v", err)
	}
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	// The join is over when the server has the ACK.
	siptest.Eventually(c.t, c.user+" joined", func() bool { return c.h.events.count("joined "+c.user+" ") > joined })
	return sess.InviteResponse.StatusCode
}

// request builds a request in the chatter's dialog.
func (c *chatter) request(method sip.RequestMethod, contentType, body string) *sip.Request {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess == nil {
		c.t.Fatal("not joined")
		return nil
	}
	req := sip.NewRequest(method, sess.InviteResponse.Contact().Address)
	if body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody([]byte(body))
	}
	return req
}

// do sends a request in the dialog and returns the final status.
func (c *chatter) do(req *sip.Request) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := c.sess.Do(ctx, req)
	if err != nil {
		c.t.Fatalf("%s: %v", req.Method, err)
	}
	return res.StatusCode
}

func (c *chatter) send(contentType, body string) int {
	c.t.Helper()
	return c.do(c.request(sip.MESSAGE, contentType, body))
}

func (c *chatter) bye() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.sess.Bye(ctx); err != nil {
		c.t.Fatalf("BYE: %v", err)
	}
}

// received are the relayed requests of a method so far.
func (c *chatter) received(method sip.RequestMethod) []*sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sip.Request
	for _, r := range c.got {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (c *chatter) byeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byes)
}

// await waits until the chatter has n requests of method, and returns them.
func (c *chatter) await(method sip.RequestMethod, n int) []*sip.Request {
	c.t.Helper()
	siptest.Eventually(c.t, c.user+" receiving "+strconv.Itoa(n)+" "+string(method), func() bool {
		return len(c.received(method)) >= n
	})
	return c.received(method)
}

// quiet checks that nothing of method arrives for a while.
func (c *chatter) quiet(method sip.RequestMethod, n int) {
	c.t.Helper()
	time.Sleep(100 * time.Millisecond)
	if got := len(c.received(method)); got != n {
		c.t.Errorf("%s has %d %s, want %d", c.user, got, method, n)
	}
}
