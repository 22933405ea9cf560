package proxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// branch is one client transaction of a response context.
type branch struct {
	req *sip.Request // the forwarded copy
	tx  sip.ClientTransaction

	provisional  bool          // a 1xx arrived, so a CANCEL may be sent (RFC 3261 §9.1)
	final        *sip.Response // the final response, received or made up
	synthetic    bool          // final was made up here (timeout, transport error)
	cancelWanted bool          // CANCEL as soon as a provisional arrives
	canceled     bool          // CANCEL sent
	timedOut     bool          // canceled by the no-answer timer
}

type eventKind int

const (
	evStarted  eventKind = iota // the client transaction exists
	evResponse                  // a response arrived on it
	evEnded                     // it ended (or never started) without a final response
)

type event struct {
	b    *branch
	kind eventKind
	tx   sip.ClientTransaction
	res  *sip.Response
	err  error
}

// target names the branch in logs.
func (b *branch) target() string { return b.req.Recipient.String() }

// rctx is a response context (RFC 3261 §16.7). Its state is owned by the
// goroutine running loop. With several branches each has a goroutine that
// feeds the loop events; a single branch, the usual case, is watched by
// the loop itself.
type rctx struct {
	p       *Proxy
	req     *sip.Request // as received
	tx      sip.ServerTransaction
	up      upstream // the way responses go back
	invite  bool
	tracked string // the INVITE's key in p.invites, "" if none
	debugOn bool   // the logger records debug messages

	branches []*branch
	pending  int        // branches without a final response
	events   chan event // from the branch goroutines; nil with one branch
	stop     chan struct{}

	// Storage for a single branch, the usual case.
	one    [1]branch
	onePtr [1]*branch

	canceled   chan struct{} // closed when upstream CANCELs an INVITE
	cancelOnce sync.Once

	// The single branch's transaction, while it may still answer.
	single     *branch
	singleRes  <-chan *sip.Response
	singleDone <-chan struct{}

	finalCode    int  // final status already sent upstream, 0 if none
	upstreamGone bool // the server transaction ended before any final response
}

// fork forwards the request to every target in parallel and runs the
// response context until every branch is done. It returns the final status
// sent upstream.
func (p *Proxy) fork(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, pl plan, tracked string) int {
	c := &rctx{
		p:       p,
		req:     req,
		tx:      tx,
		tracked: tracked,
		up:      newUpstream(p, req, tx),
		invite:  req.IsInvite(),
		debugOn: p.log.Enabled(ctx, slog.LevelDebug),
		stop:    make(chan struct{}),
	}

	// A CANCEL from upstream is answered by sipgo, which also sends 487 on
	// the INVITE; OnCancel is how the proxy learns it must CANCEL its own
	// branches (RFC 3261 §16.10).
	var canceled chan struct{}
	if c.invite {
		canceled = make(chan struct{})
		c.canceled = canceled
		if !tx.OnCancel(c.onCancel) {
			c.debug("request canceled before it was forwarded")
			return sip.StatusRequestTerminated
		}
	}

	in := p.inboundOf(req, tx)
	n := len(pl.targets)
	if pl.direct {
		n = 1
	}
	bs := c.one[:]
	c.branches = c.onePtr[:]
	if n > 1 {
		bs = make([]branch, n)
		c.branches = make([]*branch, n)
	}
	for i := range bs {
		spec := branchSpec{flow: pl.flow, recordRoute: pl.recordRoute, unique: uniqueBranch()}
		if !pl.direct {
			spec.target = &pl.targets[i]
		}
		bs[i].req = p.buildBranch(in, &pl.work, spec)
		c.branches[i] = &bs[i]
	}
	c.pending = n
	if n == 1 {
		c.start(ctx, c.branches[0])
	} else {
		c.events = make(chan event, 2*n+1)
		for _, b := range c.branches {
			go c.run(ctx, b)
		}
	}
	c.loop(canceled)
	return c.finalCode
}

// onCancel is the server transaction's CANCEL hook.
func (c *rctx) onCancel(*sip.Request) { c.cancelOnce.Do(func() { close(c.canceled) }) }

// start starts the client transaction of a single branch, which loop then
// watches directly: a goroutine and a channel hop per response saved on
// every call to a user with one contact and every request inside a dialog.
func (c *rctx) start(ctx context.Context, b *branch) {
	tx, err := c.p.client.TransactionRequest(ctx, b.req, noBuild)
	if err != nil {
		c.handle(event{b: b, kind: evEnded, err: err})
		return
	}
	c.handle(event{b: b, kind: evStarted, tx: tx})
	c.relayRetransmissions(tx)
	c.single, c.singleRes, c.singleDone = b, tx.Responses(), tx.Done()
}

// relayRetransmissions sends upstream, statelessly, the retransmissions of
// a 2xx to an INVITE: they bypass Responses() once the transaction is in
// the Accepted state (RFC 6026 §7.2), and the caller needs them if our
// first copy was lost (RFC 3261 §16.7 step 5).
func (c *rctx) relayRetransmissions(tx sip.ClientTransaction) {
	if !c.invite {
		return
	}
	// The transaction outlives the response context by 32 s (RFC 6026
	// Timer M): the hook keeps only the way upstream, not the context.
	up := c.up
	tx.OnRetransmission(func(res *sip.Response) {
		if res.IsSuccess() {
			up.write(up.relay(res))
		}
	})
}

// run starts one branch's client transaction and feeds its responses to
// the loop until a final one.
func (c *rctx) run(ctx context.Context, b *branch) {
	tx, err := c.p.client.TransactionRequest(ctx, b.req, noBuild)
	if err != nil {
		c.send(event{b: b, kind: evEnded, err: err})
		return
	}
	if !c.send(event{b: b, kind: evStarted, tx: tx}) {
		tx.Terminate()
		return
	}
	c.relayRetransmissions(tx)
	for {
		select {
		case res := <-tx.Responses():
			if !c.send(event{b: b, kind: evResponse, res: res}) {
				return
			}
			if !res.IsProvisional() {
				return
			}
		case <-tx.Done():
			c.send(event{b: b, kind: evEnded, err: tx.Err()})
			return
		}
	}
}

func (c *rctx) send(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.stop:
		return false
	}
}

// loop runs until every branch has a final response, then sends the best
// one upstream if nothing final was sent yet.
func (c *rctx) loop(canceled chan struct{}) {
	var noAnswer <-chan time.Time
	if c.invite {
		t := time.NewTimer(c.p.cfg.BranchTimeout)
		defer t.Stop()
		noAnswer = t.C
	}
	txDone := c.tx.Done()
	var drain <-chan time.Time
	for c.pending > 0 {
		select {
		case ev := <-c.events:
			c.handle(ev)
		case res := <-c.singleRes:
			b := c.single
			if !res.IsProvisional() {
				c.single, c.singleRes, c.singleDone = nil, nil, nil
			}
			c.handle(event{b: b, kind: evResponse, res: res})
		case <-c.singleDone:
			b := c.single
			c.single, c.singleRes, c.singleDone = nil, nil, nil
			c.handle(event{b: b, kind: evEnded, err: b.tx.Err()})
		case <-canceled:
			canceled = nil
			c.debug("canceled upstream")
			if c.finalCode == 0 {
				c.finalCode = sip.StatusRequestTerminated // sent by sipgo
			}
			c.cancelPending()
		case <-txDone:
			txDone = nil
			if c.finalCode == 0 {
				c.upstreamGone = true
				c.debug("server transaction ended before a final response", "error", c.tx.Err())
			}
			c.cancelPending()
		case <-noAnswer:
			noAnswer = nil
			c.onNoAnswer()
		case <-drain:
			c.debug("branches still pending after the final response", "pending", c.pending)
			c.finish()
			return
		}
		if c.pending > 0 && drain == nil && (c.finalCode != 0 || c.upstreamGone) {
			if !c.invite {
				// Nothing more can go upstream for a non-INVITE request.
				break
			}
			// Wait for the canceled branches' 487 (or a racing 2xx), but
			// not forever: a branch that never sent a provisional response
			// cannot be canceled (RFC 3261 §9.1).
			t := time.NewTimer(sip.Timer_B)
			defer t.Stop()
			drain = t.C
		}
	}
	c.finish()
}

// finish ends the branches still running and answers upstream if needed.
func (c *rctx) finish() {
	close(c.stop)
	for _, b := range c.branches {
		if b.final == nil && b.tx != nil {
			b.tx.Terminate()
		}
	}
	if c.finalCode == 0 && !c.upstreamGone {
		c.sendBest()
	}
}

func (c *rctx) handle(ev event) {
	b := ev.b
	switch ev.kind {
	case evStarted:
		b.tx = ev.tx
		if b.final != nil { // given up on while it was being sent
			ev.tx.Terminate()
		}
	case evEnded:
		if b.final != nil {
			return
		}
		// RFC 3261 §16.8 and §16.9: a branch that timed out counts as a
		// 408, one that could not be sent as a 503.
		code, reason := 503, "Service Unavailable"
		if errors.Is(ev.err, sip.ErrTransactionTimeout) {
			code, reason = 408, "Request Timeout"
		}
		c.debug("branch ended without response", "target", b.target(), "error", ev.err)
		c.settle(b, sip.NewResponse(code, reason), true)
	case evResponse:
		c.onResponse(b, ev.res)
	}
}

// settle records a branch's final response.
func (c *rctx) settle(b *branch, res *sip.Response, synthetic bool) {
	if b.final != nil {
		return
	}
	b.final, b.synthetic = res, synthetic
	c.pending--
}

// onResponse applies RFC 3261 §16.7 steps 3–10 to one response.
func (c *rctx) onResponse(b *branch, res *sip.Response) {
	code := res.StatusCode
	if code < 200 {
		b.provisional = true
		if b.cancelWanted && !b.canceled {
			c.cancel(b)
		}
		// Step 5: provisional responses other than 100 go upstream at once
		// until a final response has been sent.
		if code > 100 && c.finalCode == 0 && !b.cancelWanted && b.final == nil {
			c.respond(c.up.relay(res))
		}
		return
	}
	if c.debugOn {
		c.debug("branch answered", "target", b.target(), "code", code)
	}
	if code < 300 {
		// Step 5: every 2xx to an INVITE goes upstream, even after another
		// final response; for other methods only the first does.
		if c.invite || c.finalCode == 0 {
			c.forward2xx(res)
		}
		c.settle(b, res, false)
		if c.invite {
			c.cancelPending() // step 10
		}
		return
	}
	if b.final != nil {
		return
	}
	c.settle(b, res, false)
	if code >= 600 && c.invite {
		// A 6xx means no other branch can succeed; it is sent once they
		// are all done (step 6).
		c.cancelPending()
	}
}

// forward2xx sends a 2xx upstream: through the server transaction while it
// can carry it, statelessly once it has sent a non-2xx final response (the
// 487 sipgo sends on CANCEL) or ended.
func (c *rctx) forward2xx(res *sip.Response) {
	out := c.up.relay(res)
	if c.finalCode == 0 && c.tracked != "" {
		// The ACK to a 2xx belongs to no transaction (RFC 3261 §17.1.1.3):
		// from now on the ACK lane may take it, and it may come as soon as
		// the 2xx is out.
		c.p.invites.remove(c.tracked)
	}
	sent := false
	if c.finalCode == 0 || (c.finalCode < 300 && !isDone(c.tx)) {
		sent = c.respond(out)
	}
	if !sent {
		c.up.write(out)
	}
	if c.finalCode == 0 {
		c.finalCode = res.StatusCode
	}
}

// cancelPending CANCELs every INVITE branch still without a final response.
func (c *rctx) cancelPending() {
	for _, b := range c.branches {
		if b.final == nil {
			c.cancel(b)
		}
	}
}

// cancel CANCELs one INVITE branch, or notes that it must be canceled when
// its first provisional response arrives (RFC 3261 §9.1).
func (c *rctx) cancel(b *branch) {
	if !c.invite || b.canceled {
		return
	}
	b.cancelWanted = true
	if !b.provisional || b.tx == nil {
		return
	}
	b.canceled = true
	go c.p.sendCANCEL(b.req)
}

// onNoAnswer runs when the INVITE no-answer timer fires: branches that are
// ringing get a CANCEL, branches that never answered at all are given up
// as if they had returned 408 (RFC 3261 §16.8).
func (c *rctx) onNoAnswer() {
	if c.finalCode != 0 {
		return
	}
	for _, b := range c.branches {
		if b.final != nil {
			continue
		}
		b.timedOut = true
		if b.provisional {
			c.cancel(b)
			continue
		}
		c.settle(b, sip.NewResponse(408, "Request Timeout"), true)
		if b.tx != nil {
			b.tx.Terminate()
		}
	}
}

// sendBest sends the best final response once every branch is done
// (RFC 3261 §16.7 steps 6–8).
func (c *rctx) sendBest() {
	codes := make([]int, len(c.branches))
	for i, b := range c.branches {
		codes[i] = c.effectiveCode(b)
	}
	i := bestResponse(codes)
	var out *sip.Response
	switch {
	case i < 0:
		out = sipx.Reject(c.req, 408, "Request Timeout", c.p.cfg.Hostname, "no response from any contact")
	case codes[i] == 503:
		// Step 6: a 503 would tell the client this server is unavailable.
		out = sipx.Reject(c.req, 500, "Server Internal Error", c.p.cfg.Hostname, "the contact could not be reached")
	case c.branches[i].synthetic || codes[i] != c.branches[i].final.StatusCode:
		out = sipx.Reject(c.req, 408, "Request Timeout", c.p.cfg.Hostname, "the contact did not answer in time")
	default:
		out = c.up.relay(c.branches[i].final)
		if codes[i] == 401 || codes[i] == 407 {
			c.addChallenges(out, i)
		}
	}
	c.respond(out)
	c.finalCode = out.StatusCode
}

// effectiveCode is the status a branch contributes to the choice: the 487
// of a branch we canceled because it rang too long is the timeout it stands
// for.
func (c *rctx) effectiveCode(b *branch) int {
	if b.final == nil {
		return 408
	}
	if b.timedOut && b.final.StatusCode == sip.StatusRequestTerminated {
		return 408
	}
	return b.final.StatusCode
}

// addChallenges copies the challenges of every other 401 and 407 into the
// chosen one, so the client can answer them all at once (§16.7 step 7).
func (c *rctx) addChallenges(out *sip.Response, chosen int) {
	for j, b := range c.branches {
		if j == chosen || b.synthetic || b.final == nil {
			continue
		}
		if b.final.StatusCode != 401 && b.final.StatusCode != 407 {
			continue
		}
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
			for _, h := range b.final.GetHeaders(name) {
				out.AppendHeader(sip.HeaderClone(h))
			}
		}
	}
}

// debug logs a debug message about this response context.
func (c *rctx) debug(msg string, args ...any) {
	if !c.debugOn {
		return
	}
	//nolint:sloglint // every caller passes a constant message; this adds the context's attributes
	c.p.log.Debug(msg, append([]any{"call_id", callID(c.req), "method", string(c.req.Method)}, args...)...)
}

// respond sends on the server transaction and reports success.
func (c *rctx) respond(res *sip.Response) bool {
	if err := c.tx.Respond(res); err != nil {
		c.debug("respond failed", "code", res.StatusCode, "error", err)
		return false
	}
	return true
}

// sendCANCEL sends a CANCEL for a forwarded INVITE and waits for its final
// response (a CANCEL is hop by hop; nothing goes upstream).
func (p *Proxy) sendCANCEL(inv *sip.Request) {
	ctx, stop := context.WithTimeout(context.Background(), sip.Timer_F)
	defer stop()
	tx, err := p.client.TransactionRequest(ctx, cancelFor(inv), noBuild)
	if err != nil {
		p.log.Info("CANCEL not sent", "call_id", callID(inv), "to", inv.Destination(), "error", err)
		return
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return
			}
		case <-tx.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

func isDone(tx sip.Transaction) bool {
	select {
	case <-tx.Done():
		return true
	default:
		return false
	}
}
