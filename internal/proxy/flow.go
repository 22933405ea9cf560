package proxy

import (
	"encoding/hex"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// routeFlowParam is the Record-Route URI parameter naming the flow (the
// transport and address) that reaches the dialog end on that entry's side.
const routeFlowParam = "pfl"

// flow is a transport and remote address a request can be sent on: where a
// registered client's REGISTER came from, or where a caller's INVITE did.
// Sending along the flow rather than to the Contact reaches clients behind
// NAT and reuses their TCP or TLS connection (the connection-reuse idea of
// RFC 5626 §5.3, carried in our Record-Route as RFC 5626 §5.3 suggests for
// flow tokens).
type flow struct {
	transport string // "UDP", "TCP", ...
	addr      string // host:port
}

// encode renders the flow for a URI parameter: hex, so that IPv6
// addresses and any transport name fit the parameter grammar.
func (f flow) encode() string {
	if f.addr == "" {
		return ""
	}
	return hex.EncodeToString([]byte(f.transport + "/" + f.addr))
}

// decodeFlow parses a flow parameter; ok is false for anything malformed.
func decodeFlow(s string) (flow, bool) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return flow{}, false
	}
	tp, addr, found := strings.Cut(string(b), "/")
	if !found || tp == "" {
		return flow{}, false
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return flow{}, false
	}
	switch strings.ToUpper(tp) {
	case "UDP", "TCP", "TLS", "WS", "WSS":
	default:
		return flow{}, false
	}
	return flow{transport: strings.ToUpper(tp), addr: addr}, true
}

// targetFlow is the flow a target is reached on, if it has one.
func targetFlow(t *Target) flow {
	if t == nil || t.Source == "" || len(t.Path) > 0 {
		return flow{}
	}
	tp := strings.ToUpper(t.Transport)
	if tp == "" {
		tp = uriTransport(t.URI)
	}
	return flow{transport: tp, addr: t.Source}
}

// entryFlow returns the flow carried by one of our Record-Route entries,
// when its token vouches for it.
func (p *Proxy) entryFlow(u sip.Uri, callID string) (flow, bool) {
	enc, _ := u.UriParams.Get(routeFlowParam)
	if !p.validToken(u, callID) || enc == "" {
		return flow{}, false
	}
	return decodeFlow(enc)
}

// flowUsable reports whether a request can be sent on f. A connection
// flow is usable only while its connection is open: the address is the
// client's ephemeral port, so dialing it would fail, while the Contact or
// Request-URI may still be reachable (RFC 5626 §5.3 falls back likewise).
func (p *Proxy) flowUsable(f flow) bool {
	if !sip.IsReliable(f.transport) || p.tp == nil {
		return true
	}
	c, err := p.tp.GetConnection(f.transport, f.addr)
	if err != nil {
		return false
	}
	c.TryClose()
	return true
}
