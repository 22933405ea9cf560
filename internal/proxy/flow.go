package proxy

import (
	"bytes"
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
	return string(f.appendEncoded(nil))
}

// appendEncoded appends the encoded flow to b.
func (f flow) appendEncoded(b []byte) []byte {
	if f.addr == "" {
		return b
	}
	var arr [80]byte
	raw := append(append(append(arr[:0], f.transport...), '/'), f.addr...)
	return hex.AppendEncode(b, raw)
}

// decodeFlow parses a flow parameter; ok is false for anything malformed.
func decodeFlow(s string) (flow, bool) {
	var arr [80]byte
	if len(s)%2 != 0 || len(s)/2 > len(arr) {
		return flow{}, false
	}
	b := arr[:len(s)/2]
	if _, err := hex.Decode(b, []byte(s)); err != nil {
		return flow{}, false
	}
	tp, addr, found := bytes.Cut(b, []byte("/"))
	if !found {
		return flow{}, false
	}
	var f flow
	switch {
	case bytes.EqualFold(tp, []byte("UDP")):
		f.transport = "UDP"
	case bytes.EqualFold(tp, []byte("TCP")):
		f.transport = "TCP"
	case bytes.EqualFold(tp, []byte("TLS")):
		f.transport = "TLS"
	case bytes.EqualFold(tp, []byte("WS")):
		f.transport = "WS"
	case bytes.EqualFold(tp, []byte("WSS")):
		f.transport = "WSS"
	default:
		return flow{}, false
	}
	f.addr = string(addr)
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return flow{}, false
	}
	return f, true
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

// entryFlow returns the flow carried by one of our Record-Route entries.
// Only an entry whose token is valid may be asked (see validToken).
func entryFlow(u sip.Uri) (flow, bool) {
	enc, _ := u.UriParams.Get(routeFlowParam)
	if enc == "" {
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
