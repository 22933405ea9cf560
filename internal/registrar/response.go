package registrar

import (
	"encoding/hex"
	"hash/maphash"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Headers of every 200 OK to REGISTER. Pidgin SIPE (protocols.md §3.3)
// enables its OCS 2007 mode (in-band provisioning, the focus factory, and so
// conferencing) only when the response says Supported:
// msrtc-event-categories; adhoclist lets it batch presence subscriptions;
// it subscribes only to the events listed in Allow-Events, which it splits
// at commas without trimming (so the list has no spaces: " presence" would
// not match "presence"); and the
// ms-keep-alive header makes it send CRLF keep-alives on its TCP flow.
// A Server product version of 6 or more would switch it to Skype for
// Business behaviour, so we present OCS 2007 R2's 3.5.
//
// The header values are shared by every response and never changed.
var okHeaders = []sip.Header{
	sip.NewHeader("Supported", "msrtc-event-categories"),
	sip.NewHeader("Supported", "adhoclist"),
	sip.NewHeader("Allow-Events", "presence,vnd-microsoft-provisioning-v2,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-self"),
	sip.NewHeader("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300"),
	sip.NewHeader("Server", "RTC/3.5 Parley"),
}

// zeroLength is the Content-Length of every response, shared and never
// changed (sipgo replaces rather than changes the header of a message
// given a body).
var zeroLength = sip.ContentLengthHeader(0)

// dateFormat is the SIP-date of RFC 3261 §20.17 (RFC 1123, always GMT).
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// ok builds the 200 OK listing every current binding of aor (RFC 3261 §10.3
// step 8) with its remaining expiry and, for instances, its GRUUs. bs is in
// preference order and is not modified.
func (r *Registrar) ok(req *sip.Request, aor string, bs []Binding, expires string, now time.Time, ext extensions) *sip.Response {
	res := r.newResponse(req, sip.StatusOK, "OK")
	standard := ext&extGRUU != 0
	microsoft := ext&extGRUU10 != 0
	user, domain, _ := strings.Cut(strings.TrimPrefix(aor, "sip:"), "@")
	var v strings.Builder
	for i := range bs {
		b := &bs[i]
		// Written out here rather than through sip.ContactHeader, whose
		// parameter writer would not quote GRUU values containing ';'.
		v.Reset()
		v.Grow(96)
		v.WriteByte('<')
		b.Contact.StringWrite(&v)
		v.WriteString(">;expires=")
		v.WriteString(strconv.Itoa(remaining(*b, now)))
		if b.hasQ {
			v.WriteString(";q=")
			v.WriteString(strconv.FormatFloat(b.Q, 'f', -1, 64))
		}
		if b.Instance != "" {
			v.WriteString(`;+sip.instance="<`)
			v.WriteString(b.Instance)
			v.WriteString(`>"`)
			// The Microsoft gruu comes first: SIPE finds it by searching
			// the header for the text gruu=" and would otherwise pick up
			// the pub-gruu.
			if microsoft {
				v.WriteString(`;gruu="`)
				v.WriteString(msGRUU(aor, b.Instance))
				v.WriteByte('"')
			}
			if standard || microsoft {
				v.WriteString(`;pub-gruu="`)
				v.WriteString(b.GRUU)
				v.WriteByte('"')
			}
			if standard {
				v.WriteString(`;temp-gruu="`)
				v.WriteString(r.tgruu.make(user, domain, b.tempKey))
				v.WriteByte('"')
			}
		}
		res.AppendHeader(sip.NewHeader("Contact", v.String()))
	}
	if expires != "" {
		res.AppendHeader(sip.NewHeader("Expires", expires))
	}
	if ext&extPath != 0 {
		for _, h := range req.Headers() {
			if strings.EqualFold(h.Name(), "Path") {
				res.AppendHeader(h)
			}
		}
	}
	res.AppendHeader(r.dateHeader(now))
	for _, h := range okHeaders {
		res.AppendHeader(h)
	}
	return res
}

// newResponse starts a response to req as sip.NewResponseFromRequest does
// (RFC 3261 §8.2.6.2: the Via headers, From, To, Call-ID and CSeq of the
// request; RFC 3581 §4: received and rport), with two differences. The To
// tag is derived from the request, so that answering a retransmission
// again gives the same tag (RFC 3261 §8.2.7, stateless UAS), and costs no
// random number. The headers the response carries unchanged are the
// request's own header values, not copies: neither message is changed
// once the response is built.
func (r *Registrar) newResponse(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponse(code, reason)
	res.SipVersion = req.SipVersion
	top := true
	for _, h := range req.Headers() {
		if v, ok := h.(*sip.ViaHeader); ok {
			if top {
				top = false
				v = topVia(v, req.Source())
			}
			res.AppendHeader(v)
		}
	}
	if h := req.From(); h != nil {
		res.AppendHeader(h)
	}
	if h := req.To(); h != nil {
		if _, ok := h.Params.Get("tag"); !ok {
			to := &sip.ToHeader{DisplayName: h.DisplayName, Address: h.Address, Params: make(sip.HeaderParams, 0, len(h.Params)+1)}
			to.Params = append(to.Params, h.Params...)
			to.Params = append(to.Params, sip.HeaderKV{K: "tag", V: r.toTag(req)})
			h = to
		}
		res.AppendHeader(h)
	}
	if h := req.CallID(); h != nil {
		res.AppendHeader(h)
	}
	if h := req.CSeq(); h != nil {
		res.AppendHeader(h)
	}
	// RFC 3261 §20.14: stream transports need it, and every response of
	// the registrar is without a body.
	res.AppendHeader(&zeroLength)
	res.SetTransport(req.Transport())
	res.SetDestination(responseDestination(req))
	return res
}

// topVia returns the top Via of a response to a request from source:
// with rport filled in when the request asked for it (RFC 3581 §4), and
// with received when it did or when the sent-by host is not the source
// address (RFC 3261 §18.2.1). v is not changed.
func topVia(v *sip.ViaHeader, source string) *sip.ViaHeader {
	host, port, err := net.SplitHostPort(source)
	if err != nil {
		return v
	}
	rport, ok := v.Params.Get("rport")
	rport, ok = port, ok && rport == ""
	if !ok && strings.Trim(v.Host, "[]") == host {
		return v
	}
	// A copy with room for the two parameters: one allocation each for
	// the header and its parameters.
	c := *v
	c.Params = make(sip.HeaderParams, 0, len(v.Params)+2)
	for _, kv := range v.Params {
		if kv.K == "rport" && ok {
			kv.V = rport
		}
		if kv.K != "received" {
			c.Params = append(c.Params, kv)
		}
	}
	c.Params = append(c.Params, sip.HeaderKV{K: "received", V: host})
	return &c
}

// responseDestination is where a response to req goes (RFC 3261 §18.2.2):
// back on the connection for reliable transports; otherwise to the source
// address and the port of the top Via, or the source port when the Via
// asks for rport (RFC 3581 §4).
func responseDestination(req *sip.Request) string {
	src := req.Source()
	v := req.Via()
	if v == nil || sip.IsReliable(req.Transport()) {
		return src
	}
	if rport, ok := v.Params.Get("rport"); ok && rport == "" {
		return src
	}
	host, _, err := net.SplitHostPort(src)
	if err != nil {
		return src
	}
	port := v.Port
	if port == 0 {
		port = sip.DefaultPort(req.Transport())
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// txID hashes the transaction identifier of RFC 3261 §17.2.3, the top
// Via's branch and sent-by, or returns 0 when the branch lacks the RFC
// 3261 magic cookie and so may not be unique.
func (r *Registrar) txID(req *sip.Request) uint64 {
	v := req.Via()
	if v == nil {
		return 0
	}
	branch, _ := v.Params.Get("branch")
	if !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(branch)
	h.WriteByte(0)
	h.WriteString(v.Host)
	h.WriteByte(0)
	h.WriteString(strconv.Itoa(v.Port))
	return h.Sum64() | 1
}

// toTag derives the To tag of a response from what identifies the request:
// its transaction, Call-ID, CSeq and From tag. The seed is random, so tags
// cannot be predicted.
func (r *Registrar) toTag(req *sip.Request) string {
	var h maphash.Hash
	h.SetSeed(r.seed)
	if v := req.Via(); v != nil {
		branch, _ := v.Params.Get("branch")
		h.WriteString(branch)
		h.WriteByte(0)
		h.WriteString(v.Host)
		h.WriteString(strconv.Itoa(v.Port))
	}
	h.WriteByte(0)
	if c := req.CallID(); c != nil {
		h.WriteString(c.Value())
	}
	h.WriteByte(0)
	if c := req.CSeq(); c != nil {
		h.WriteString(strconv.FormatUint(uint64(c.SeqNo), 10))
	}
	h.WriteByte(0)
	if f := req.From(); f != nil {
		tag, _ := f.Params.Get("tag")
		h.WriteString(tag)
	}
	var sum [8]byte
	s := h.Sum64()
	for i := range sum {
		sum[i] = byte(s >> (8 * i))
	}
	return hex.EncodeToString(sum[:])
}

// dateHeader returns the Date header for now. Every response of the same
// second carries the same value, so the header is made once a second.
func (r *Registrar) dateHeader(now time.Time) sip.Header {
	sec := now.Unix()
	if d := r.date.Load(); d != nil && d.sec == sec {
		return d.h
	}
	d := &datedHeader{sec: sec, h: sip.NewHeader("Date", now.UTC().Format(dateFormat))}
	r.date.Store(d)
	return d.h
}

// datedHeader is a Date header and the second it names.
type datedHeader struct {
	sec int64
	h   sip.Header
}

// dateCache holds the last Date header made.
type dateCache = atomic.Pointer[datedHeader]

func (r *Registrar) reject(req *sip.Request, code int, reason, detail string) *sip.Response {
	res := r.newResponse(req, code, reason)
	if detail != "" {
		// RFC 3261 §20.43: warn-code 399 is a miscellaneous warning; the
		// warn-agent names this server.
		res.AppendHeader(sip.NewHeader("Warning", `399 `+r.cfg.Hostname+` "`+quoteSafe(detail)+`"`))
	}
	return res
}

// quoteSafe makes s safe inside a quoted-string (RFC 3261 §25.1): no
// double quotes, backslashes or control characters, at most 200 bytes.
func quoteSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() > 200 {
			break
		}
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\'')
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
