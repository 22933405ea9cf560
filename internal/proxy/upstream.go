package proxy

import (
	"github.com/emiago/sipgo/sip"
)

// upstream is the way responses to a received request go back to the
// previous hop: through the server transaction while it can carry them,
// and for 2xx retransmissions and 2xx responses after a non-2xx final one
// statelessly, on the transaction's connection or as any response would go
// (RFC 3261 §16.7 step 5, §18.2.2).
type upstream struct {
	p         *Proxy
	conn      sip.Connection // the server transaction's connection, nil if unknown
	addr      string         // where responses go (upstreamAddr)
	transport string
	callID    string // for logs
}

func newUpstream(p *Proxy, req *sip.Request, tx sip.ServerTransaction) upstream {
	u := upstream{p: p, addr: upstreamAddr(req), transport: req.Transport(), callID: callID(req)}
	if cx, ok := tx.(interface{ Connection() sip.Connection }); ok {
		u.conn = cx.Connection()
	}
	return u
}

// relay prepares a downstream response for the upstream hop: our Via
// removed (§16.7 step 9) and the upstream address as destination.
func (u *upstream) relay(res *sip.Response) *sip.Response {
	out := relayResponse(res)
	out.SetTransport(u.transport)
	out.SetDestination(u.addr)
	return out
}

// write sends a response upstream outside the server transaction.
func (u *upstream) write(res *sip.Response) {
	if u.conn != nil {
		if err := u.conn.WriteMsg(res); err == nil {
			return
		}
	}
	if err := u.p.writeResponse(res); err != nil {
		u.p.log.Info("response could not be sent upstream", "call_id", u.callID,
			"code", res.StatusCode, "to", u.addr, "error", err)
	}
}
