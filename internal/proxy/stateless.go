package proxy

import (
	"net"
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// forwardACK forwards an ACK to a 2xx statelessly (RFC 3261 §16.6, §16.11):
// it is a transaction of its own that expects no response. It follows the
// same routing as any request inside a dialog; an ACK that is not routed
// by a Route set can only be the ACK to a non-2xx answer whose transaction
// is gone, and is absorbed.
func (p *Proxy) forwardACK(req *sip.Request) {
	if a, ok := p.planACK(req); ok {
		p.sendACK(req, p.ackBranch(req, a))
	}
}

// ackPlan is where an ACK goes.
type ackPlan struct {
	work   prepared // after Route preprocessing
	target *Target  // a GRUU's contact, or nil to follow work
	flow   flow     // from our Record-Route entry, if any
	dialog bool     // routed by a Route entry of ours with a valid token
}

// planACK applies forwardACK's routing to req; ok is false when the ACK is
// to be dropped.
func (p *Proxy) planACK(req *sip.Request) (a ackPlan, ok bool) {
	if mf := maxForwards(req); mf != nil && mf.Val() == 0 {
		return a, false
	}
	var routed, token bool
	a.work, routed, token, a.flow = p.preprocessRoute(req)
	a.dialog = routed && token
	route := a.work.top()
	switch {
	case route != nil:
		if !token && !p.cfg.ForwardOutOfDomain && !p.isLocalURI(route.Address) {
			p.log.Debug("ACK along a foreign preloaded Route dropped", "call_id", callID(req))
			return a, false
		}
	case routed && token:
	case p.isLocalURI(a.work.recipient):
		if !isGRUU(a.work.recipient) {
			p.log.Debug("ACK without route absorbed", "call_id", callID(req))
			return a, false
		}
		g, ok := p.loc.LookupGRUU(a.work.recipient.String())
		if !ok {
			return a, false
		}
		a.target = &g
	case !p.cfg.ForwardOutOfDomain && !token:
		p.log.Debug("ACK to a foreign domain dropped", "call_id", callID(req))
		return a, false
	}
	return a, true
}

// ackBranch builds the forwarded copy of a planned ACK.
func (p *Proxy) ackBranch(req *sip.Request, a ackPlan) *sip.Request {
	in := inbound{transport: req.Transport(), source: req.Source(), loop: p.loopHash(req), port: p.listenPort(req.Transport())}
	// Retransmitted ACKs must get the same branch; derive it from theirs.
	unique := "a0"
	if v := req.Via(); v != nil {
		b, _ := v.Params.Get("branch")
		unique = "a" + strconv.FormatUint(hashString(p, b), 36)
	}
	return p.buildBranch(in, &a.work, branchSpec{target: a.target, flow: a.flow, unique: unique})
}

// sendACK sends the forwarded copy of an ACK (req is the received one).
func (p *Proxy) sendACK(req, out *sip.Request) {
	if err := p.tp.WriteMsg(out); err != nil {
		p.log.Info("ACK not forwarded", "call_id", callID(req), "to", out.Destination(), "error", err)
	}
}

// OnUnhandledResponse handles a response that matched no client
// transaction (sipgo's WithTransactionLayerUnhandledResponseHandler). A 2xx
// to an INVITE of ours is forwarded statelessly along the Via stack (RFC
// 3261 §16.7, §18.2.2): the caller needs it to complete its dialog, and it
// arrives unmatched when our INVITE transaction was ended early (a closed
// connection, a branch given up on). Any other stray response is dropped:
// RFC 6026 §7 keeps client transactions alive long enough to absorb their
// retransmissions, and a hop-by-hop response whose transaction is gone has
// nobody waiting for it.
func (p *Proxy) OnUnhandledResponse(res *sip.Response) {
	out, err := p.strayForward(res)
	if err != nil {
		p.log.Debug("stray response dropped", "code", res.StatusCode, "call_id", callIDRes(res), "error", err)
		return
	}
	if err := p.writeResponse(out); err != nil {
		p.log.Info("stray 2xx not forwarded", "call_id", callIDRes(res), "to", out.Destination(), "error", err)
	}
}

// strayForward returns the copy of a stray response to send upstream, or
// why it must be dropped.
func (p *Proxy) strayForward(res *sip.Response) (*sip.Response, error) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sip.INVITE || !res.IsSuccess() {
		return nil, errNotForwardable
	}
	vias := res.GetHeaders("Via")
	if len(vias) < 2 {
		return nil, errNoVia
	}
	top, ok := vias[0].(*sip.ViaHeader)
	if !ok || !p.isOurVia(top) {
		return nil, errNotOurVia
	}
	out := relayResponse(res)
	next := out.Via()
	out.SetTransport(next.Transport)
	out.SetDestination(viaAddr(next))
	return out, nil
}

// writeResponse sends a response outside any server transaction: on a
// connection to its destination, or for UDP from our listener.
func (p *Proxy) writeResponse(res *sip.Response) error {
	err := p.tp.WriteMsg(res)
	if err == nil {
		return nil
	}
	if sip.NetworkToLower(res.Transport()) == "udp" {
		if a := p.udpLocal.Load(); a != nil {
			if c, cerr := p.tp.GetConnection("udp", a.String()); cerr == nil {
				defer c.TryClose()
				return c.WriteMsg(res)
			}
		}
	}
	return err
}

// upstreamAddr is where responses to a received request go (RFC 3261
// §18.2.2, RFC 3581 §4): over a connection, back on it; over UDP, to the
// source address and the Via port, or the source port when rport was
// asked for.
func upstreamAddr(req *sip.Request) string {
	src := req.Source()
	v := req.Via()
	if sip.IsReliable(req.Transport()) || v == nil {
		return src
	}
	host, _, err := sip.ParseAddr(src)
	if err != nil {
		return src
	}
	if v.Params.Has("rport") {
		return src
	}
	port := v.Port
	if port == 0 {
		port = sip.DefaultPort(v.Transport)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// viaAddr is where a response goes according to a Via entry alone
// (RFC 3261 §18.2.2): received and rport when present, else sent-by.
func viaAddr(v *sip.ViaHeader) string {
	host := v.Host
	if r, ok := v.Params.Get("received"); ok && r != "" {
		host = r
	}
	port := v.Port
	if rp, ok := v.Params.Get("rport"); ok && rp != "" {
		if n, err := strconv.Atoi(rp); err == nil {
			port = n
		}
	}
	if port == 0 {
		port = sip.DefaultPort(v.Transport)
	}
	return net.JoinHostPort(trimBrackets(host), strconv.Itoa(port))
}
