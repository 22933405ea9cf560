package proxy

import (
	"encoding/hex"
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
		in.host, in.port = p.localAddr(cx.Connection())
	}
	if in.port == 0 {
		in.port = p.listenPort(in.transport)
	}
	return in
}

// connAddr is the parsed local address of one connection.
type connAddr struct {
	conn sip.Connection
	host string
	port int
}

// localAddr returns the host and port a connection is bound to. The
// answer for the last connection asked about is kept: over UDP every
// request arrives on the same listener, whose address need not be
// rendered and parsed again for each.
func (p *Proxy) localAddr(c sip.Connection) (string, int) {
	if a := p.lastConn.Load(); a != nil && a.conn == c {
		return a.host, a.port
	}
	host, port, err := sip.ParseAddr(c.LocalAddr().String())
	if err != nil {
		return "", 0
	}
	p.lastConn.Store(&connAddr{conn: c, host: host, port: port})
	return host, port
}

// noBuild is a sipgo client option that leaves the request as built: a
// proxy's copy already has every header it needs (sipgo would otherwise
// add a Via of its own).
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// buildBranch makes the request for one branch out of the preprocessed
// request (RFC 3261 §16.6). The branch is assembled in one pass: a new
// header list that shares with the received request every header value it
// does not change (see message.go).
func (p *Proxy) buildBranch(in inbound, work *prepared, spec branchSpec) *sip.Request {
	t := spec.target
	req := work.req

	// Step 2: the Request-URI becomes the target, and the route set
	// recorded at its registration goes above the Route entries left.
	var buf [8]*sip.RouteHeader
	routes := buf[:0]
	recipient := work.recipient
	if t != nil {
		recipient = t.URI
		for _, u := range t.Path {
			routes = append(routes, &sip.RouteHeader{Address: *u.Clone()})
		}
	}
	routes = work.appendRoutes(routes)

	// Step 6: a next hop that is a strict router gets the Request-URI at
	// the end of the Route set and its own URI as the Request-URI.
	strict := len(routes) > 0 && !routes[0].Address.UriParams.Has("lr")
	if strict {
		next := *routes[0].Address.Clone()
		routes = append(routes[1:], &sip.RouteHeader{Address: *recipient.Clone()})
		recipient = next
	}

	// Step 7: where the branch goes: the first Route entry, or the
	// Request-URI when there is none or it now names a strict router.
	next := recipient
	if len(routes) > 0 && !strict {
		next = routes[0].Address
	}
	transport := uriTransport(next)
	var dest string
	outFlow := targetFlow(t)
	if t == nil && len(routes) == 0 {
		outFlow = spec.flow
	}
	if outFlow.addr != "" && p.flowUsable(outFlow) {
		transport, dest = outFlow.transport, outFlow.addr
	} else {
		dest = hostPort(next, transport)
	}

	out := sip.NewRequest(req.Method, recipient)
	out.SipVersion = req.SipVersion

	// Step 8: our Via on top.
	params := make(sip.HeaderParams, 0, 1)
	params.Add("branch", branchPrefix+in.loop+"."+spec.unique)
	out.AppendHeader(&sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       transport,
		Host:            p.cfg.Hostname,
		Port:            p.listenPort(transport),
		Params:          params,
	})

	// Step 4: Record-Route, above any other entry.
	if spec.recordRoute {
		p.addRecordRoute(out, callID(req), in, transport, outFlow)
	}

	// Step 3: Max-Forwards, decremented. The header value is shared with
	// the received request, so it is replaced rather than changed.
	mf := sip.MaxForwardsHeader(p.cfg.MaxForwards)
	if cur := maxForwards(req); cur != nil {
		mf = 0
		if cur.Val() > 0 {
			mf = sip.MaxForwardsHeader(cur.Val() - 1)
		}
	}

	// The rest in their order. The previous hop's Via gets "received"
	// (RFC 3261 §18.2.1, RFC 3581 §4) so that responses find their way
	// back even when its sent-by was wrong; being shared, a changed one is
	// a clone. The Route entries are the branch's.
	firstVia, mfDone, routesDone := true, false, false
	for _, h := range req.Headers() {
		switch h := h.(type) {
		case *sip.ViaHeader:
			if firstVia {
				firstVia = false
				if rv := receivedVia(h, in.source); rv != nil {
					out.AppendHeader(rv)
					continue
				}
			}
			out.AppendHeader(h)
		case *sip.MaxForwardsHeader:
			if !mfDone {
				mfDone = true
				out.AppendHeader(&mf)
				continue
			}
			out.AppendHeader(h)
		case *sip.RouteHeader:
			if !routesDone {
				routesDone = true
				for _, r := range routes {
					out.AppendHeader(r)
				}
			}
		default:
			if work.noAuth && strings.EqualFold(h.Name(), "Proxy-Authorization") {
				continue
			}
			out.AppendHeader(h)
		}
	}
	if !routesDone {
		for _, r := range routes {
			out.AppendHeader(r)
		}
	}
	if !mfDone {
		out.AppendHeader(&mf)
	}
	out.SetBody(req.Body())
	if t != nil && t.Finish != nil {
		if err := t.Finish(out, work.user); err != nil {
			p.log.Warn("finishing a branch", "target", t.URI.String(), "err", err)
		}
	}

	out.SetTransport(transport)
	out.SetDestination(dest)
	if transport == "UDP" {
		if a := p.udpListener(); a != nil && sameFamily(a.IP, dest) {
			a.Copy(&out.Laddr)
		}
	}
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
func (p *Proxy) addRecordRoute(out *sip.Request, cid string, in inbound, outTransport string, outFlow flow) {
	host := p.cfg.Hostname
	if host == "" {
		host = in.host
	}
	out.AppendHeader(p.recordRoute(cid, host, p.listenPort(outTransport), outTransport, outFlow))
	out.AppendHeader(p.recordRoute(cid, host, in.port, in.transport, in.flow()))
}

// recordRoute renders one of our Record-Route entries,
//
//	<sip:HOST:PORT;transport=T;lr;pfl=FLOW;ptk=TOKEN>
//
// straight into its header value. Nothing in the proxy reads the entry
// back from the message it is put into (requests inside the dialog carry
// it parsed, as a Route), and rendering a parsed URI costs sipgo several
// allocations per parameter every time the message is written.
func (p *Proxy) recordRoute(cid, host string, port int, transport string, f flow) sip.Header {
	var arr [256]byte
	b := append(arr[:0], "<sip:"...)
	if strings.IndexByte(host, ':') >= 0 && !strings.HasPrefix(host, "[") {
		b = append(append(append(b, '['), host...), ']')
	} else {
		b = append(b, host...)
	}
	if port > 0 {
		b = strconv.AppendInt(append(b, ':'), int64(port), 10)
	}
	b = append(append(b, ";transport="...), sip.NetworkToLower(transport)...)
	b = append(b, ";lr"...)
	enc := len(b)
	if f.addr != "" {
		b = append(b, ";"+routeFlowParam+"="...)
		enc = len(b)
		b = f.appendEncoded(b)
	}
	flowParam := b[enc:]
	b = append(b, ";"+routeTokenParam+"="...)
	p.tokenSum(cid, flowParam, "", func(sum []byte) { b = hex.AppendEncode(b, sum) })
	b = append(b, '>')
	return sip.NewHeader("Record-Route", string(b))
}

// receivedVia returns the Via of the hop a request came from with
// "received" added (and "rport" filled in) as RFC 3261 §18.2.1 and RFC 3581
// §4 ask, or nil when it needs neither. The result is a copy: v itself is
// shared with the received request.
func receivedVia(v *sip.ViaHeader, source string) *sip.ViaHeader {
	host, port, err := sip.ParseAddr(source)
	if err != nil {
		return nil
	}
	rport, ok := v.Params.Get("rport")
	fillPort := ok && rport == ""
	if !fillPort && strings.Trim(v.Host, "[]") == host {
		return nil
	}
	c := *v
	c.Params = make(sip.HeaderParams, len(v.Params), len(v.Params)+2)
	copy(c.Params, v.Params)
	if fillPort {
		c.Params.Add("rport", strconv.Itoa(port))
	}
	c.Params.Add("received", host)
	return &c
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
