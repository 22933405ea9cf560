package dialog

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Template is a request of the dialog rendered once, for a sender that
// sends the same kind of request many times without a transaction: a
// Focus's BENOTIFYs to a subscriber, which nobody answers
// ([MS-SIP] ms-benotify). Each Send writes a new request: a new Via branch
// (RFC 3261 §8.1.1.7), the dialog's next CSeq (§12.2.1.1), the caller's
// headers and body; everything else (Request-URI, From, To, Call-ID, route
// set, Contact, the caller's fixed headers) is text made at the first Send.
//
// Why not sipgo's request building for each: rendering a request with
// sipgo re-formats every URI and parameter each time, a few dozen
// allocations per request, and a fan-out of one roster change to a
// thousand subscribers is a thousand requests that differ only in the
// parts above (README, BenchmarkFanout1000). sipgo still resolves the
// destination, picks the connection and writes.
//
// A Template belongs to one sender goroutine; it is not safe for
// concurrent use.
type Template struct {
	d      *Dialog
	method sip.RequestMethod
	// req is the request sipgo's transport layer routes: destination,
	// transport and Via (sent-by) come from it.
	req *sip.Request
	// start is the request line; via the Via header line up to its branch
	// parameter; fixed the header lines every request repeats. Made at
	// the first Send, once the transport layer has completed the Via.
	start, via, fixed string
}

// Template makes a template of method requests in the dialog, with contact
// as our Contact and fixed as headers that every request carries unchanged
// (an Event header).
func (d *Dialog) Template(method sip.RequestMethod, contact *sip.ContactHeader, fixed ...sip.Header) *Template {
	// The template's own CSeq is never sent: Send takes the next one.
	req := d.request(method, contact, 0)
	for _, h := range fixed {
		req.AppendHeader(h)
	}
	return &Template{d: d, method: method, req: req}
}

// Send writes one request through client's transport layer: the template
// with the dialog's next CSeq, a new branch, the headers given as name and
// value pairs (a Subscription-State, a Content-Type) and body. It returns
// when the request is written, or with the error that kept it from being
// written.
func (t *Template) Send(ctx context.Context, client *sipgo.Client, body []byte, headers ...[2]string) error {
	if t.req.Via() == nil {
		if err := sipgo.ClientRequestAddVia(client, t.req); err != nil {
			return fmt.Errorf("dialog template: %w", err)
		}
	}
	conn, err := client.TransportLayer().ClientRequestConnection(ctx, t.req)
	if err != nil {
		return fmt.Errorf("dialog template: connecting: %w", err)
	}
	defer conn.TryClose()
	if t.start == "" {
		t.render()
	}
	m := &rendered{Request: t.req, t: t, cseq: t.d.localCSeq.Add(1), headers: headers, body: body}
	var branch strings.Builder
	branch.Grow(len(sip.RFC3261BranchMagicCookie) + 17)
	branch.WriteString(sip.RFC3261BranchMagicCookie)
	branch.WriteByte('.')
	sip.RandStringBytesMask(&branch, 16)
	m.branch = branch.String()
	if err := conn.WriteMsg(m); err != nil {
		return fmt.Errorf("dialog template: writing: %w", err)
	}
	return nil
}

// render makes the text that stays the same: the request line, the Via
// without its branch, and every header but Via and CSeq.
func (t *Template) render() {
	var b strings.Builder
	t.req.StartLineWrite(&b)
	b.WriteString("\r\n")
	t.start = b.String()

	b.Reset()
	via := *t.req.Via()
	via.Params = make(sip.HeaderParams, 0, len(via.Params))
	for _, kv := range t.req.Via().Params {
		if kv.K != "branch" {
			via.Params = append(via.Params, kv)
		}
	}
	via.StringWrite(&b)
	t.via = b.String()

	b.Reset()
	for _, h := range t.req.Headers() {
		switch strings.ToLower(h.Name()) {
		case "via", "cseq", "content-length":
			continue
		}
		h.StringWrite(&b)
		b.WriteString("\r\n")
	}
	t.fixed = b.String()
}

// rendered is one request of a template. sipgo's connections write a
// message with its StringWrite into a buffer of theirs: a rendered writes
// its parts there directly, with no text of its own in between. The
// embedded request supplies what the transport layer reads (the
// destination of a datagram).
type rendered struct {
	*sip.Request
	t       *Template
	cseq    uint32
	branch  string
	headers [][2]string
	body    []byte
}

// StringWrite writes the request.
func (r *rendered) StringWrite(w io.StringWriter) {
	t := r.t
	var num [20]byte
	_, _ = w.WriteString(t.start)
	_, _ = w.WriteString(t.via)
	_, _ = w.WriteString(";branch=")
	_, _ = w.WriteString(r.branch)
	_, _ = w.WriteString("\r\n")
	_, _ = w.WriteString(t.fixed)
	_, _ = w.WriteString("CSeq: ")
	writeBytes(w, strconv.AppendUint(num[:0], uint64(r.cseq), 10))
	_, _ = w.WriteString(" ")
	_, _ = w.WriteString(string(t.method))
	_, _ = w.WriteString("\r\n")
	for _, h := range r.headers {
		_, _ = w.WriteString(h[0])
		_, _ = w.WriteString(": ")
		_, _ = w.WriteString(h[1])
		_, _ = w.WriteString("\r\n")
	}
	_, _ = w.WriteString("Content-Length: ")
	writeBytes(w, strconv.AppendUint(num[:0], uint64(len(r.body)), 10))
	_, _ = w.WriteString("\r\n\r\n")
	writeBytes(w, r.body)
}

// writeBytes writes b without converting it to a string when w can take
// bytes (sipgo's connections write into a bytes.Buffer).
func writeBytes(w io.StringWriter, b []byte) {
	if bw, ok := w.(io.Writer); ok {
		_, _ = bw.Write(b)
		return
	}
	_, _ = w.WriteString(string(b))
}

// String is the request's text.
func (r *rendered) String() string {
	var b strings.Builder
	r.StringWrite(&b)
	return b.String()
}
