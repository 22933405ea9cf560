package proxy

import (
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// inbound describes how the request being proxied reached us; the
// Record-Route facing the upstream side must name the same transport and
// listener (RFC 5658), or a TCP or TLS client would be asked to open a
// connection to a port it never used.
type inbound struct {
	transport string // "UDP", "TCP", ...
	source    string // remote address it came from
	host      string // local address the request arrived on
	port      int    // local port the request arrived on
	loop      string // loop hash of the received request
}

// flow is the way back to the previous hop.
func (in inbound) flow() flow { return flow{transport: in.transport, addr: in.source} }

// branchSpec says what one branch is.
type branchSpec struct {
	target      *Target // nil: follow the Route set or the Request-URI as they are
	flow        flow    // with no target: the dialog flow to send on, if any
	recordRoute bool
	unique      string // tells this branch's Via apart from its siblings'
}

// inboundOf reads the transport and local address of a received request.
func (p *Proxy) inboundOf(req *sip.Request, tx sip.ServerTransaction) inbound {
	in := inbound{transport: strings.ToUpper(req.Transport()), source: req.Source(), loop: p.loopHash(req)}
	if cx, ok := tx.(interface{ Connection() sip.Connection }); ok && cx.Connection() != nil {
		if h, port, err := sip.ParseAddr(cx.Connection().LocalAddr().String()); err == nil {
			in.host, in.port = h, port
		}
	}
	if in.port == 0 {
		in.port = p.listenPort(in.transport)
	}
	return in
}

// noBuild is a sipgo client option that leaves the request as built: a
// proxy's copy already has every header it needs (sipgo would otherwise
// add a Via of its own).
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// buildBranch makes the request for one branch out of the preprocessed
// request (RFC 3261 §16.6).
func (p *Proxy) buildBranch(in inbound, work *sip.Request, spec branchSpec) *sip.Request {
	out := work.Clone()
	t := spec.target

	// Step 2: the Request-URI becomes the target.
	if t != nil {
		out.Recipient = *t.URI.Clone()
		if len(t.Path) > 0 {
			routes := make([]sip.Header, 0, len(t.Path))
			for _, u := range t.Path {
				routes = append(routes, &sip.RouteHeader{Address: *u.Clone()})
			}
			prependRoutes(out, routes)
		}
	}

	// Step 3: Max-Forwards. sipgo shares the header between clones, so it
	// is replaced rather than decremented in place.
	mf := sip.MaxForwardsHeader(p.cfg.MaxForwards)
	if cur := out.MaxForwards(); cur != nil {
		if cur.Val() > 0 {
			mf = sip.MaxForwardsHeader(cur.Val() - 1)
		} else {
			mf = 0
		}
		out.ReplaceHeader(&mf)
	} else {
		out.AppendHeader(&mf)
	}

	// Step 6: a next hop that is a strict router gets the Request-URI at
	// the end of the Route set and its own URI as the Request-URI.
	if r := out.Route(); r != nil && !r.Address.UriParams.Has("lr") {
		next := *r.Address.Clone()
		out.AppendHeader(&sip.RouteHeader{Address: out.Recipient})
		out.RemoveHeader("Route")
		out.Recipient = next
	}

	// Step 7: where the branch goes.
	next := out.Recipient
	if r := out.Route(); r != nil {
		next = r.Address
	}
	transport := uriTransport(next)
	dest := hostPort(next, transport)
	outFlow := targetFlow(t)
	if t == nil && out.Route() == nil {
		outFlow = spec.flow
	}
	if outFlow.addr != "" && p.flowUsable(outFlow) {
		transport, dest = outFlow.transport, outFlow.addr
	}
	out.SetTransport(transport)
	out.SetDestination(dest)
	out.Laddr = sip.Addr{}
	if transport == "UDP" {
		if a := p.udpListener(); a != nil && sameFamily(a.IP, dest) {
			a.Copy(&out.Laddr)
		}
	}

	// Step 4: Record-Route.
	if spec.recordRoute {
		p.addRecordRoute(out, in, transport, outFlow)
	}

	// Step 8: our Via, after noting where the previous hop really was
	// (RFC 3261 §18.2.1, RFC 3581 §4) so that responses find their way
	// back even when its sent-by was wrong.
	if v := out.Via(); v != nil {
		markReceived(v, in.source)
	}
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       transport,
		Host:            p.cfg.Hostname,
		Port:            p.listenPort(transport),
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", branchPrefix+in.loop+"."+spec.unique)
	out.PrependHeader(via)
	return out
}

// uniqueBranch returns a fresh per-branch Via component.
func uniqueBranch() string { return strconv.FormatUint(rand.Uint64(), 36) }

// addRecordRoute inserts our Record-Route (RFC 3261 §16.6 step 4) as two
// entries, one per side (RFC 5658 double record-routing): the upstream one
// names the transport and listener the request came in on, the downstream
// one the transport it leaves on, so each end of the dialog reaches us the
// way it already does. Each entry also carries the flow to its side's end;
// a request inside the dialog leaves on the flow of the last of our entries
// it names, which is the one facing its destination.
func (p *Proxy) addRecordRoute(out *sip.Request, in inbound, outTransport string, outFlow flow) {
	host := p.cfg.Hostname
	if host == "" {
		host = in.host
	}
	cid := callID(out)
	mk := func(transport string, port int, f flow) *sip.RecordRouteHeader {
		u := sip.Uri{Scheme: "sip", Host: host, Port: port, UriParams: sip.NewParams()}
		u.UriParams.Add("transport", sip.NetworkToLower(transport))
		u.UriParams.Add("lr", "")
		enc := f.encode()
		if enc != "" {
			u.UriParams.Add(routeFlowParam, enc)
		}
		u.UriParams.Add(routeTokenParam, p.routeToken(cid, enc))
		return &sip.RecordRouteHeader{Address: u}
	}
	out.PrependHeader(mk(in.transport, in.port, in.flow()))
	out.PrependHeader(mk(outTransport, p.listenPort(outTransport), outFlow))
}

// markReceived adds "received" (and fills "rport") to the Via of the hop we
// got the request from.
func markReceived(v *sip.ViaHeader, source string) {
	host, port, err := sip.ParseAddr(source)
	if err != nil {
		return
	}
	if rp, ok := v.Params.Get("rport"); ok && rp == "" {
		v.Params.Add("rport", strconv.Itoa(port))
		v.Params.Add("received", host)
		return
	}
	if strings.Trim(v.Host, "[]") != host {
		v.Params.Add("received", host)
	}
}

// cancelFor builds the CANCEL of a forwarded INVITE (RFC 3261 §9.1): same
// Request-URI, Call-ID, From, To, CSeq number and Route set, and the
// branch's single Via, sent where the INVITE went.
func cancelFor(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, inv.Recipient)
	c.AppendHeader(sip.HeaderClone(inv.Via()))
	for _, r := range inv.GetHeaders("Route") {
		c.AppendHeader(sip.HeaderClone(r))
	}
	mf := sip.MaxForwardsHeader(DefaultMaxForwards)
	c.AppendHeader(&mf)
	if h := inv.From(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.To(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	var seq uint32
	if h := inv.CSeq(); h != nil {
		seq = h.SeqNo
	}
	c.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.CANCEL})
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	return c
}

// prependRoutes puts routes above the request's existing Route entries.
func prependRoutes(req *sip.Request, routes []sip.Header) {
	old := req.GetHeaders("Route")
	for range old {
		req.RemoveHeader("Route")
	}
	for _, r := range routes {
		req.AppendHeader(r)
	}
	for _, r := range old {
		req.AppendHeader(r)
	}
}

// removeAll removes every header called name (case-insensitive).
func removeAll(m interface {
	GetHeaders(string) []sip.Header
	RemoveHeader(string) bool
}, name string) {
	for _, h := range m.GetHeaders(name) {
		m.RemoveHeader(h.Name())
	}
}

// uriTransport is the transport a URI asks for (RFC 3263 §4.1 without DNS):
// its transport parameter, TLS for sips, UDP otherwise.
func uriTransport(u sip.Uri) string {
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		t = strings.ToUpper(t)
		if u.IsEncrypted() && t == "TCP" {
			return "TLS"
		}
		return t
	}
	if u.IsEncrypted() {
		return "TLS"
	}
	return "UDP"
}

// hostPort is the host:port a URI points at, with the transport's default
// port when it names none.
func hostPort(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

// sameFamily reports whether a socket bound to local can send to dest: the
// same IP family, or a dual-stack wildcard socket. A host name destination
// is resolved to IPv4 by sipgo by default.
func sameFamily(local net.IP, dest string) bool {
	if local == nil {
		return false
	}
	if local.IsUnspecified() && local.To4() == nil {
		return true
	}
	host, _, err := net.SplitHostPort(dest)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return local.To4() != nil
	}
	return (ip.To4() != nil) == (local.To4() != nil)
}
