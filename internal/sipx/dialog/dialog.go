// Package dialog keeps a SIP dialog of which we are the UAS: what RFC 3261
// §12.1.1 has a UAS remember from the request that created the dialog, the
// check of the peer's CSeq on its later requests (§12.2.2), and the requests
// we send in the dialog ourselves (§12.2.1.1: BYE, MESSAGE, INFO, NOTIFY).
//
// A Dialog is created from a dialog-creating request (an INVITE or a
// SUBSCRIBE) with the tag we put in our answer's To. Its exported fields are
// its identity and routing, fixed at creation; with the two CSeq counters
// they are all a Dialog is, and they marshal to JSON, so that a role that
// persists its dialogs (the Focus) can restore them after a restart
// (UnmarshalJSON) and still recognize the peer's requests and reach it.
//
// The dialog's ID is sipgo's (sip.DialogIDMake of Call-ID, our tag, the
// peer's tag) and is found from the Call-ID and tags alone, never from the
// Via branch: SIPE omits the branch on every request it sends inside a
// dialog (protocols.md §3.3), and sipgo matches such requests to server
// transactions the RFC 2543 way. That way has one trap, which AwaitACK
// closes: such an ACK for our 2xx goes to the INVITE's transaction, not to
// the ACK handler.
//
// It is a protocol package: no product policy. The caller decides what a
// request means and answers it.
package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

var (
	// ErrInvalid reports a request that cannot create a dialog, or a
	// persisted dialog that is incomplete.
	ErrInvalid = errors.New("dialog: invalid")
	// ErrRefused is matched (errors.Is) by every *StatusError.
	ErrRefused = errors.New("dialog: request refused")
)

// StatusError is a final response other than 2xx to a request we sent in
// the dialog. Code tells the caller what it means for the dialog: RFC 3261
// §12.2.1.2 has 481 and 408 end it, most others leave it as it was.
type StatusError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *StatusError) Error() string {
	return "dialog: request refused: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Is makes errors.Is(err, ErrRefused) hold for every StatusError.
func (e *StatusError) Is(target error) bool { return target == ErrRefused }

// Dialog is a dialog of which we are the UAS. The exported fields are set by
// New or UnmarshalJSON and never change afterwards; the CSeq counters are
// atomic, so a Dialog is safe for concurrent use: a role's sender and its
// SIP handlers share it.
type Dialog struct {
	// ID is sip.DialogIDMake(CallID, LocalTag, RemoteTag): the key under
	// which IDOf finds the dialog of a request.
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	LocalTag  string `json:"local_tag"`
	RemoteTag string `json:"remote_tag"`
	// Local is our URI (the request's To), Remote the peer's (its From),
	// with their parameters and without tags.
	Local  string `json:"local"`
	Remote string `json:"remote"`
	// Target is the peer's Contact: the Request-URI of our requests
	// (RFC 3261 §12.1.1, the remote target).
	Target string `json:"target"`
	// RouteSet are the Record-Route values of the request, in order, as
	// RFC 3261 §12.1.1 has the UAS keep them.
	RouteSet []string `json:"route_set,omitempty"`
	// Transport and Peer are where the request came from ("TCP",
	// "192.0.2.7:50412"). Without a route set our requests go back there,
	// over the same connection when it is still open, rather than to the
	// Target: clients behind NAT, and clients whose Contact is a GRUU that
	// only their registrar can resolve (SIPE), are reached that way.
	Transport string `json:"transport"`
	Peer      string `json:"peer"`

	// target, local and remote are the URIs above, parsed once; static
	// are the headers every request of the dialog carries unchanged, made
	// once from them. sipgo only reads headers, so requests share them.
	target, local, remote sip.Uri
	routes                []sip.Uri
	static                []sip.Header

	localCSeq  atomic.Uint32
	remoteCSeq atomic.Uint32
}

// New records the dialog that req creates, with localTag as our tag (the
// one our answer's To carries). It checks what RFC 3261 §12.1.1 needs: a
// From tag, a Call-ID, a CSeq and a Contact to send our requests to.
func New(req *sip.Request, localTag string) (*Dialog, error) {
	from, to, contact := req.From(), req.To(), req.Contact()
	if from == nil || to == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil, fmt.Errorf("%w: the request lacks From, To, Call-ID or CSeq", ErrInvalid)
	}
	if contact == nil || contact.Address.Wildcard {
		return nil, fmt.Errorf("%w: no Contact to send requests to (RFC 3261 §8.1.1.8)", ErrInvalid)
	}
	remoteTag, _ := from.Params.Get("tag")
	if remoteTag == "" {
		return nil, fmt.Errorf("%w: no From tag (RFC 3261 §8.1.1.3)", ErrInvalid)
	}
	if localTag == "" {
		return nil, fmt.Errorf("%w: no local tag", ErrInvalid)
	}
	d := &Dialog{
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
	d.remoteCSeq.Store(req.CSeq().SeqNo)
	if err := d.prepare(); err != nil {
		return nil, err
	}
	return d, nil
}

// IDOf is the ID of the dialog an in-dialog request belongs to, as the UAS
// sees it: Call-ID, the To tag (ours), the From tag (the peer's). ok is
// false for a request without both tags, which belongs to no dialog.
func IDOf(req *sip.Request) (id string, ok bool) {
	id, err := sip.DialogIDFromRequestUAS(req)
	return id, err == nil
}

// LocalCSeq is the CSeq of the last request we sent in the dialog.
func (d *Dialog) LocalCSeq() uint32 { return d.localCSeq.Load() }

// RemoteCSeq is the highest CSeq the peer has used in the dialog.
func (d *Dialog) RemoteCSeq() uint32 { return d.remoteCSeq.Load() }

// Accept checks an in-dialog request's CSeq and records it. RFC 3261
// §12.2.2: a CSeq lower than the last one is out of order, and the caller
// refuses the request with 500; an equal one is a new transaction of the
// same CSeq (an ACK, a CANCEL) and is accepted. A request without CSeq is
// refused.
func (d *Dialog) Accept(req *sip.Request) bool {
	cseq := req.CSeq()
	if cseq == nil {
		return false
	}
	n := cseq.SeqNo
	for {
		old := d.remoteCSeq.Load()
		if n < old {
			return false
		}
		if d.remoteCSeq.CompareAndSwap(old, n) {
			return true
		}
	}
}

// Request builds a request within the dialog (RFC 3261 §12.2.1.1): our URI
// and tag in From, the peer's in To, the Call-ID, our next CSeq, the route
// set, contact as our Contact, and a destination that reaches the peer. The
// caller adds a body and its own headers and sends it with Do. contact is
// put in the request as it is, never changed: a caller keeps one per
// transport, so that a fan-out of a thousand NOTIFYs does not copy it a
// thousand times.
func (d *Dialog) Request(method sip.RequestMethod, contact *sip.ContactHeader) *sip.Request {
	return d.request(method, contact, d.localCSeq.Add(1))
}

// request is Request with the CSeq number given.
func (d *Dialog) request(method sip.RequestMethod, contact *sip.ContactHeader, cseq uint32) *sip.Request {
	ruri := d.target
	var routes []sip.Uri
	strict := false
	if len(d.routes) > 0 {
		if _, loose := d.routes[0].UriParams.Get("lr"); loose {
			routes = d.routes
		} else {
			strict = true
			// A strict router first (RFC 3261 §12.2.1.1): its URI is the
			// Request-URI, the rest of the route set and then the remote
			// target go in Route.
			ruri = d.routes[0]
			routes = append(append([]sip.Uri(nil), d.routes[1:]...), d.target)
		}
	}
	req := sip.NewRequest(method, ruri)
	for _, h := range d.static {
		req.AppendHeader(h)
	}
	for i := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: routes[i]})
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(contact)
	if d.Transport != "" {
		req.SetTransport(d.Transport)
	}
	switch {
	case len(d.routes) == 0 && d.Peer != "":
		req.SetDestination(d.Peer)
	case strict:
		// sipgo sends to the first Route, which after a strict router is
		// the second hop: the first is named here.
		port := ruri.Port
		if port <= 0 {
			port = sip.DefaultPort(req.Transport())
		}
		req.SetDestination(net.JoinHostPort(strings.Trim(ruri.Host, "[]"), strconv.Itoa(port)))
	}
	return req
}

// Do sends a request built by Request as a client transaction and waits
// for its final response: nil for a 2xx, a *StatusError for any other, the
// transaction's or the context's error when no response came.
func (d *Dialog) Do(ctx context.Context, client *sipgo.Client, req *sip.Request) error {
	if req.Body() == nil {
		// Content-Length: 0, which stream transports need.
		req.SetBody(nil)
	}
	tx, err := client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return fmt.Errorf("dialog: sending %s: %w", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if !res.IsSuccess() {
				return &StatusError{Code: res.StatusCode, Reason: res.Reason}
			}
			return nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return fmt.Errorf("dialog: %s: %w", req.Method, err)
			}
			return fmt.Errorf("dialog: %s: the transaction ended without a response", req.Method)
		case <-ctx.Done():
			return fmt.Errorf("dialog: %s: %w", req.Method, ctx.Err())
		}
	}
}

// Bye ends the dialog from our side (RFC 3261 §15.1.1).
func (d *Dialog) Bye(ctx context.Context, client *sipgo.Client, contact *sip.ContactHeader) error {
	return d.Do(ctx, client, d.Request(sip.BYE, contact))
}

// prepare parses the dialog's URIs and makes its fixed headers, once.
func (d *Dialog) prepare() error {
	for _, u := range []struct {
		s   string
		dst *sip.Uri
	}{{d.Target, &d.target}, {d.Local, &d.local}, {d.Remote, &d.remote}} {
		if err := sip.ParseUri(u.s, u.dst); err != nil {
			return fmt.Errorf("%w: dialog URI %q: %w", ErrInvalid, u.s, err)
		}
	}
	if d.target.Host == "" {
		return fmt.Errorf("%w: remote target %q has no host", ErrInvalid, d.Target)
	}
	d.routes = d.routes[:0]
	for _, r := range d.RouteSet {
		var h sip.RouteHeader
		if err := parseRoute(r, &h.Address); err != nil {
			return fmt.Errorf("%w: route %q: %w", ErrInvalid, r, err)
		}
		d.routes = append(d.routes, h.Address)
	}
	callID := sip.CallIDHeader(d.CallID)
	maxFwd := sip.MaxForwardsHeader(70)
	d.static = []sip.Header{
		&sip.FromHeader{Address: d.local, Params: sip.HeaderParams{{K: "tag", V: d.LocalTag}}},
		&sip.ToHeader{Address: d.remote, Params: sip.HeaderParams{{K: "tag", V: d.RemoteTag}}},
		&callID,
		&maxFwd,
	}
	return nil
}

// parseRoute reads one route set entry, "<sip:p.example.com;lr>".
func parseRoute(s string, dst *sip.Uri) error {
	var params sip.HeaderParams
	_, err := sip.ParseAddressValue(s, dst, &params)
	return err
}

// State is a dialog as data, for a role that keeps its dialogs across a
// restart: the exported fields and the CSeq counters. Its JSON is the
// dialog's JSON (MarshalJSON). A role that encodes many dialogs at once
// does better to encode States than Dialogs: encoding/json re-reads
// (compacts) whatever a MarshalJSON returns, which for a snapshot of a
// thousand dialogs costs more than the encoding itself.
type State struct {
	ID         string   `json:"id"`
	CallID     string   `json:"call_id"`
	LocalTag   string   `json:"local_tag"`
	RemoteTag  string   `json:"remote_tag"`
	Local      string   `json:"local"`
	Remote     string   `json:"remote"`
	Target     string   `json:"target"`
	RouteSet   []string `json:"route_set,omitempty"`
	Transport  string   `json:"transport"`
	Peer       string   `json:"peer"`
	LocalCSeq  uint32   `json:"local_cseq"`
	RemoteCSeq uint32   `json:"remote_cseq"`
}

// State is the dialog's state now.
func (d *Dialog) State() State {
	return State{
		ID: d.ID, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
		Local: d.Local, Remote: d.Remote, Target: d.Target, RouteSet: d.RouteSet,
		Transport: d.Transport, Peer: d.Peer,
		LocalCSeq: d.localCSeq.Load(), RemoteCSeq: d.remoteCSeq.Load(),
	}
}

// Restore makes the dialog a State describes. It refuses an incomplete
// one, or one whose ID does not match its Call-ID and tags.
func Restore(w State) (*Dialog, error) {
	if w.CallID == "" || w.LocalTag == "" || w.RemoteTag == "" || w.Target == "" || w.Local == "" || w.Remote == "" {
		return nil, fmt.Errorf("%w: incomplete dialog", ErrInvalid)
	}
	id := sip.DialogIDMake(w.CallID, w.LocalTag, w.RemoteTag)
	if w.ID != "" && w.ID != id {
		return nil, fmt.Errorf("%w: dialog ID %q does not match its Call-ID and tags", ErrInvalid, w.ID)
	}
	d := &Dialog{
		ID: id, CallID: w.CallID, LocalTag: w.LocalTag, RemoteTag: w.RemoteTag,
		Local: w.Local, Remote: w.Remote, Target: w.Target, RouteSet: w.RouteSet,
		Transport: w.Transport, Peer: w.Peer,
	}
	if err := d.prepare(); err != nil {
		return nil, err
	}
	d.localCSeq.Store(w.LocalCSeq)
	d.remoteCSeq.Store(w.RemoteCSeq)
	return d, nil
}

// MarshalJSON encodes the dialog's State.
func (d *Dialog) MarshalJSON() ([]byte, error) { return json.Marshal(d.State()) }

// UnmarshalJSON restores a dialog encoded by MarshalJSON, as Restore does.
func (d *Dialog) UnmarshalJSON(b []byte) error {
	var w State
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	n, err := Restore(w)
	if err != nil {
		return err
	}
	d.ID, d.CallID, d.LocalTag, d.RemoteTag = n.ID, n.CallID, n.LocalTag, n.RemoteTag
	d.Local, d.Remote, d.Target, d.RouteSet = n.Local, n.Remote, n.Target, n.RouteSet
	d.Transport, d.Peer = n.Transport, n.Peer
	d.target, d.local, d.remote, d.routes, d.static = n.target, n.local, n.remote, n.routes, n.static
	d.localCSeq.Store(w.LocalCSeq)
	d.remoteCSeq.Store(w.RemoteCSeq)
	return nil
}
