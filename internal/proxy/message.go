package proxy

import (
	"github.com/emiago/sipgo/sip"
)

// The proxy forwards most of a message unchanged: a forwarded request
// differs from the received one in its Request-URI, top Via, Max-Forwards,
// Route and Record-Route (RFC 3261 §16.6), a relayed response only in its
// top Via (§16.7 step 9). sipgo's Clone deep-copies every header, which was
// most of the proxy's allocations, so the proxy builds what it sends with
// header lists of its own (buildBranch, relayResponse) that share with the
// received message the header values they do not change.
//
// Shared header values are never modified, by either side: the proxy
// replaces a header it changes with a new one (Max-Forwards, Route) or a
// clone (the previous hop's Via, which gets "received"), and sipgo only
// modifies the top Via of a request it sends, which is always one the proxy
// made. Bodies are shared too; nothing writes to them.

// relayResponse returns a copy of res without its top Via, the one the
// proxy put into the request it forwarded (RFC 3261 §16.7 step 9). The
// other header values and the body are shared with res.
func relayResponse(res *sip.Response) *sip.Response {
	out := sip.NewResponse(res.StatusCode, res.Reason)
	out.SipVersion = res.SipVersion
	skipped := false
	for _, h := range res.Headers() {
		if !skipped {
			if _, ok := h.(*sip.ViaHeader); ok {
				skipped = true
				continue
			}
		}
		out.AppendHeader(h)
	}
	out.SetBody(res.Body())
	return out
}

// routeCount returns how many Route entries req has.
func routeCount(req *sip.Request) int {
	n := 0
	for _, h := range req.Headers() {
		if _, ok := h.(*sip.RouteHeader); ok {
			n++
		}
	}
	return n
}

// routeAt returns req's Route entry number i (from 0), nil if there are
// not that many.
func routeAt(req *sip.Request, i int) *sip.RouteHeader {
	for _, h := range req.Headers() {
		if r, ok := h.(*sip.RouteHeader); ok {
			if i == 0 {
				return r
			}
			i--
		}
	}
	return nil
}

// maxForwards returns req's Max-Forwards, nil if it has none, without
// req.MaxForwards's allocation in that case.
func maxForwards(req *sip.Request) *sip.MaxForwardsHeader {
	for _, h := range req.Headers() {
		if mf, ok := h.(*sip.MaxForwardsHeader); ok {
			return mf
		}
	}
	return nil
}
