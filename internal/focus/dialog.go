package focus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// dialog is a SIP dialog the Focus is the UAS of: a participant's focus
// dialog or a subscription. It keeps what RFC 3261 §12.1.1 has a UAS
// remember, in a form that is persisted with the roster so that a
// restarted Focus can still recognize the dialog's requests and send its
// own (BYE, NOTIFY). Only the counters change after creation; they are
// atomic because the dialog's sender and the SIP handlers share them.
type dialog struct {
	ID        string
	CallID    string
	LocalTag  string
	RemoteTag string
	// Local is our URI (the request's To), Remote the peer's (its From).
	Local  string
	Remote string
	// Target is the peer's Contact: the Request-URI of our requests.
	Target string
	// RouteSet are the Record-Route values of the request, in order
	// (RFC 3261 §12.1.1: the UAS keeps them as received).
	RouteSet []string
	// Transport and Peer are where the request came from. Without a
	// route set our requests go back there, over the same connection,
	// rather than to the Contact: clients behind NAT and clients whose
	// Contact is a GRUU of their registrar (SIPE) are reached that way.
	Transport string
	Peer      string
	// target, local and remote are the URIs above, parsed once; static
	// the headers built from them, made once.
	target, local, remote sip.Uri
	once                  sync.Once
	static                []sip.Header
	// LocalCSeq is our last CSeq in the dialog.
	LocalCSeq atomic.Uint32
	// RemoteCSeq is the peer's last CSeq.
	RemoteCSeq atomic.Uint32
}

// newDialog records the dialog a request creates, with our tag.
func newDialog(req *sip.Request, localTag string) (*dialog, error) {
	from, to, contact := req.From(), req.To(), req.Contact()
	if from == nil || to == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil, fmt.Errorf("%w: the request lacks From, To, Call-ID or CSeq", ErrInvalid)
	}
	if contact == nil {
		return nil, fmt.Errorf("%w: no Contact to send requests to (RFC 3261 §8.1.1.8)", ErrInvalid)
	}
	remoteTag, _ := from.Params.Get("tag")
	if remoteTag == "" {
		return nil, fmt.Errorf("%w: no From tag", ErrInvalid)
	}
	d := &dialog{
		CallID:    req.CallID().Value(),
		LocalTag:  localTag,
		RemoteTag: remoteTag,
		Local:     to.Address.String(),
		Remote:    from.Address.String(),
		Target:    contact.Address.String(),
		Transport: req.Transport(),
		Peer:      req.Source(),
	}
	for _, h := range req.GetHeaders("Record-Route") {
		d.RouteSet = append(d.RouteSet, h.Value())
	}
	d.ID = sip.DialogIDMake(d.CallID, d.LocalTag, d.RemoteTag)
	d.RemoteCSeq.Store(req.CSeq().SeqNo)
	if err := d.parse(); err != nil {
		return nil, err
	}
	return d, nil
}

// parse reads the dialog's URIs once, for every request it will send.
func (d *dialog) parse() error {
	for _, u := range []struct {
		s   string
		dst *sip.Uri
	}{{d.Target, &d.target}, {d.Local, &d.local}, {d.Remote, &d.remote}} {
		if err := sip.ParseUri(u.s, u.dst); err != nil {
			return fmt.Errorf("%w: dialog URI %q: %w", ErrInvalid, u.s, err)
		}
	}
	return nil
}

// dialogID is the ID of the dialog an in-dialog request belongs to, as the
// UAS sees it.
func dialogID(req *sip.Request) (string, bool) {
	id, err := sip.DialogIDFromRequestUAS(req)
	return id, err == nil
}

// accept checks an in-dialog request's CSeq (RFC 3261 §12.2.2: lower than
// the last one is out of order and refused with 500) and records it.
func (d *dialog) accept(req *sip.Request) bool {
	n := req.CSeq().SeqNo
	for {
		old := d.RemoteCSeq.Load()
		if n < old {
			return false
		}
		if d.RemoteCSeq.CompareAndSwap(old, n) {
			return true
		}
	}
}

// request builds a request within the dialog (RFC 3261 §12.2.1.1): our
// URI and tag in From, theirs in To, the next CSeq, the route set, and a
// destination that reaches the peer.
func (d *dialog) request(method sip.RequestMethod, contact sip.ContactHeader) *sip.Request {
	d.once.Do(func() { d.static = d.staticHeaders(contact) })
	// The parsed URIs and the fixed headers are shared by every request
	// of the dialog: sipgo only reads them.
	req := sip.NewRequest(method, d.target)
	for _, h := range d.static {
		req.AppendHeader(h)
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.LocalCSeq.Add(1), MethodName: method})
	req.SetTransport(d.Transport)
	if len(d.RouteSet) == 0 && d.Peer != "" {
		req.SetDestination(d.Peer)
	}
	return req
}

// staticHeaders are the headers every request of the dialog carries
// unchanged.
func (d *dialog) staticHeaders(contact sip.ContactHeader) []sip.Header {
	callID := sip.CallIDHeader(d.CallID)
	maxFwd := sip.MaxForwardsHeader(70)
	hs := []sip.Header{
		&sip.FromHeader{Address: d.local, Params: sip.HeaderParams{{K: "tag", V: d.LocalTag}}},
		&sip.ToHeader{Address: d.remote, Params: sip.HeaderParams{{K: "tag", V: d.RemoteTag}}},
		&callID,
		&maxFwd,
	}
	for _, r := range d.RouteSet {
		hs = append(hs, sip.NewHeader("Route", r))
	}
	return append(hs, &contact)
}

// errResponse is a final response other than 2xx to one of our requests.
var errResponse = errors.New("focus: request refused")

// do sends a request within the dialog as a client transaction and waits
// for its final response.
func (d *dialog) do(ctx context.Context, client *sipgo.Client, req *sip.Request) error {
	tx, err := client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if !res.IsSuccess() {
				return fmt.Errorf("%w: %d %s", errResponse, res.StatusCode, res.Reason)
			}
			return nil
		case <-tx.Done():
			return tx.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// bye ends the dialog from our side (RFC 3261 §15.1.1).
func (d *dialog) bye(ctx context.Context, client *sipgo.Client, contact sip.ContactHeader) error {
	req := d.request(sip.BYE, contact)
	req.SetBody(nil)
	return d.do(ctx, client, req)
}

// baseURI is a URI without angle brackets and parameters.
func baseURI(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimSuffix(strings.TrimPrefix(u, "<"), ">")
	u, _, _ = strings.Cut(u, ";")
	u, _, _ = strings.Cut(u, "?")
	return u
}
