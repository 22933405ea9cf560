package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"hash/maphash"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// branchPrefix starts every Via branch this proxy creates: the RFC 3261
// magic cookie (§8.1.1.7) and a marker, followed by the loop hash and a
// per-branch part: "z9hG4bKpx.<loop>.<unique>".
const branchPrefix = sip.RFC3261BranchMagicCookie + "px."

// routeTokenParam is the Record-Route URI parameter carrying the dialog
// token (see routeToken).
const routeTokenParam = "ptk"

// supportedProxyExtensions lists the option tags the proxy understands in
// Proxy-Require (RFC 3261 §16.3 step 5). It supports none: every extension
// Parley implements is end to end.
var supportedProxyExtensions = map[string]bool{}

// validate performs RFC 3261 §16.3 request validation and returns the
// response that ends the request, or nil to go on. toUs tells whether the
// request is addressed to the proxy itself (an OPTIONS ping), which is
// answered even when Max-Forwards is exhausted (§16.3 step 3).
func (p *Proxy) validate(req *sip.Request, toUs bool) *sip.Response {
	// Step 1: reasonable syntax.
	if why := ambiguous(req); why != "" {
		return sipx.Reject(req, 400, "Bad Request", p.cfg.Hostname, why)
	}
	// Step 2: URI scheme. Parley routes sip: and sips: only.
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		res := sipx.Reject(req, 416, "Unsupported URI Scheme", p.cfg.Hostname, "the proxy routes sip: and sips: URIs only")
		return res
	}
	// Step 3: Max-Forwards.
	if mf := maxForwards(req); mf != nil && mf.Val() == 0 && (!toUs || req.Method != sip.OPTIONS) {
		return sipx.Reject(req, 483, "Too Many Hops", p.cfg.Hostname, "Max-Forwards reached 0")
	}
	// Step 4: loop detection.
	if p.looped(req) {
		return sipx.Reject(req, 482, "Loop Detected", p.cfg.Hostname, "the request came back to the proxy unchanged")
	}
	// Step 5: Proxy-Require.
	if bad := unsupportedProxyRequire(req); len(bad) > 0 {
		res := sipx.Reject(req, 420, "Bad Extension", p.cfg.Hostname, "unsupported Proxy-Require: "+strings.Join(bad, ", "))
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(bad, ", ")))
		return res
	}
	return nil
}

// ambiguous reports, as a reason for a 400, what makes the fields that
// identify and route a request ambiguous: a CSeq method other than the
// request's (RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.17), or a header field that
// takes a single value appearing more than once (RFC 3261 §7.3.1, RFC 4475
// §3.3.8 and §3.3.9). Forwarding such a request would leave the next hop
// to guess, differently from us, which value counts. "" means none.
func ambiguous(req *sip.Request) string {
	// sipgo upper-cases the method of the request line but not the one in
	// CSeq, so the case cannot be compared.
	if c := req.CSeq(); c != nil && !strings.EqualFold(string(c.MethodName), string(req.Method)) {
		return "the CSeq method is not the request method"
	}
	var from, to, callID, cseq, mf, length, ctype int
	for _, h := range req.Headers() {
		switch h.(type) {
		case *sip.FromHeader:
			from++
		case *sip.ToHeader:
			to++
		case *sip.CallIDHeader:
			callID++
		case *sip.CSeqHeader:
			cseq++
		case *sip.MaxForwardsHeader:
			mf++
		case *sip.ContentLengthHeader:
			length++
		case *sip.ContentTypeHeader:
			ctype++
		}
	}
	switch {
	case from > 1:
		return "more than one From"
	case to > 1:
		return "more than one To"
	case callID > 1:
		return "more than one Call-ID"
	case cseq > 1:
		return "more than one CSeq"
	case mf > 1:
		return "more than one Max-Forwards"
	case length > 1:
		return "more than one Content-Length"
	case ctype > 1:
		return "more than one Content-Type"
	}
	return ""
}

// unsupportedProxyRequire returns the Proxy-Require option tags the proxy
// does not support, in the order they appear.
func unsupportedProxyRequire(req *sip.Request) []string {
	var bad []string
	for _, h := range req.GetHeaders("Proxy-Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !supportedProxyExtensions[strings.ToLower(tag)] {
				bad = append(bad, tag)
			}
		}
	}
	return bad
}

// loopHash is the part of our Via branch that depends on everything that
// affects how the proxy processes the request (RFC 3261 §16.6 step 8):
// Request-URI, From and To tags, Call-ID, CSeq number, Route,
// Proxy-Require and Proxy-Authorization, but not the method, so that a
// CANCEL computes the same value as its INVITE. When a request comes back
// carrying one of our Vias whose hash equals the one computed for it now, it
// has looped; a different hash means it spiralled with new routing
// information (§16.3 step 4). The hash is keyed per process so that two
// Parley proxies in a chain never mistake each other's Vias.
func (p *Proxy) loopHash(req *sip.Request) string {
	var h maphash.Hash
	h.SetSeed(p.seed)
	w := func(s string) {
		h.WriteString(s)
		h.WriteByte(0)
	}
	var num [20]byte
	uri := func(u *sip.Uri) {
		w(u.Scheme)
		w(u.User)
		w(u.Password)
		w(u.Host)
		h.Write(strconv.AppendInt(num[:0], int64(u.Port), 10))
		h.WriteByte(0)
		for _, kv := range u.UriParams {
			w(kv.K)
			w(kv.V)
		}
		h.WriteByte(0)
		for _, kv := range u.Headers {
			w(kv.K)
			w(kv.V)
		}
		h.WriteByte(0)
	}
	uri(&req.Recipient)
	if f := req.From(); f != nil {
		w(f.Params.GetOr("tag", ""))
	}
	if t := req.To(); t != nil {
		w(t.Params.GetOr("tag", ""))
	}
	w(callID(req))
	if c := req.CSeq(); c != nil {
		h.Write(strconv.AppendUint(num[:0], uint64(c.SeqNo), 10))
		h.WriteByte(0)
	}
	// One pass over the headers, in their order; a URI is hashed by its
	// parts, which sipgo would otherwise render into new strings.
	for _, hdr := range req.Headers() {
		if r, ok := hdr.(*sip.RouteHeader); ok {
			uri(&r.Address)
			continue
		}
		if n := hdr.Name(); strings.EqualFold(n, "Proxy-Require") || strings.EqualFold(n, "Proxy-Authorization") {
			w(hdr.Value())
		}
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// looped reports whether req carries a Via of ours whose loop hash matches
// the request as it is now (RFC 3261 §16.3 step 4).
func (p *Proxy) looped(req *sip.Request) bool {
	var sum string
	for _, h := range req.Headers() {
		v, ok := h.(*sip.ViaHeader)
		if !ok || !p.isOurVia(v) {
			continue
		}
		if sum == "" {
			sum = p.loopHash(req)
		}
		b, _ := v.Params.Get("branch")
		rest := strings.TrimPrefix(b, branchPrefix)
		if i := strings.IndexByte(rest, '.'); i >= 0 && rest[:i] == sum {
			return true
		}
	}
	return false
}

// tokenLen is the length in bytes of a route token before hex encoding.
const tokenLen = 8

// tokenMAC is a keyed HMAC with its scratch space, reused through
// Proxy.macs: keying an HMAC costs two hash blocks and several allocations,
// and every request inside a dialog checks two tokens.
type tokenMAC struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

// routeToken authenticates one of our Record-Route entries for one dialog:
// a truncated HMAC of the Call-ID, which both ends echo in every request
// inside the dialog, and of the entry's flow parameter. A request carrying
// it was record-routed by us, so it skips authentication and the
// foreign-domain policy (RFC 3261 §16.4 and §22.3 leave that decision to
// the proxy), and its flow can be trusted as a destination.
func (p *Proxy) routeToken(callID, flow string) string {
	var out [2 * tokenLen]byte
	p.tokenSum(callID, nil, flow, func(sum []byte) { hex.Encode(out[:], sum) })
	return string(out[:])
}

// validToken reports whether u carries the route token for callID.
func (p *Proxy) validToken(u sip.Uri, callID string) bool {
	tok, ok := u.UriParams.Get(routeTokenParam)
	if !ok || len(tok) != 2*tokenLen {
		return false
	}
	var got [tokenLen]byte
	if _, err := hex.Decode(got[:], []byte(tok)); err != nil {
		return false
	}
	valid := false
	p.tokenSum(callID, nil, u.UriParams.GetOr(routeFlowParam, ""), func(sum []byte) { valid = hmac.Equal(got[:], sum) })
	return valid
}

// tokenSum computes the truncated MAC of a token's inputs, the Call-ID and
// the encoded flow (given as bytes or as a string, whichever the caller
// has), and hands it to use, which must not keep it.
func (p *Proxy) tokenSum(callID string, flow []byte, flowStr string, use func(sum []byte)) {
	m, _ := p.macs.Get().(*tokenMAC)
	if m == nil {
		m = &tokenMAC{h: hmac.New(sha256.New, p.cfg.RouteSecret), buf: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
	}
	m.h.Reset()
	m.buf = append(append(append(append(m.buf[:0], callID...), 0), flow...), flowStr...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	use(m.sum[:tokenLen])
	p.macs.Put(m)
}

// hashString is a keyed hash of s, for branch values derived from a peer's.
func hashString(p *Proxy, s string) uint64 { return maphash.String(p.seed, s) }
