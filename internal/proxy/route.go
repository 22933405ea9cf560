package proxy

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// Answers to OPTIONS addressed to the proxy itself.
const (
	allowHeader     = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, REFER, NOTIFY, SUBSCRIBE, PRACK, UPDATE, REGISTER"
	acceptHeader    = "application/sdp"
	supportedHeader = "path, gruu"
)

// plan is what the proxy decided to do with a request before forwarding it.
type plan struct {
	// reject, when set, is the response to send instead of forwarding.
	reject *sip.Response
	// work is the received request after Route preprocessing.
	work prepared
	// targets are the branches to fork to. When direct is set there is one
	// branch, to the top Route or the Request-URI, with the Request-URI
	// kept.
	targets []Target
	direct  bool
	// recordRoute asks for our Record-Route in every branch.
	recordRoute bool
	// dialog is set for requests inside a dialog we record-routed.
	dialog bool
	// flow is the dialog flow toward the request's destination, from our
	// Record-Route entry (see addRecordRoute).
	flow flow
}

// plan runs RFC 3261 §16.3 (validation), §16.4 (Route preprocessing), the
// proxy's authentication policy and §16.5 (target determination). It has no
// side effect besides Locator, UserExists and Authenticate calls.
func (p *Proxy) plan(ctx context.Context, req *sip.Request) plan {
	work, _, token, fl := p.preprocessRoute(req)
	toUs := work.recipient.User == "" && work.top() == nil && p.isLocalURI(work.recipient)

	if res := p.validate(req, toUs); res != nil {
		return plan{reject: res}
	}
	if toUs {
		return plan{reject: p.answerSelf(req)}
	}

	// A request with our dialog token in its Route is inside a dialog we
	// record-routed: it is routed along the dialog without authentication
	// or domain policy, which were applied when the dialog was created.
	dialog := hasToTag(req) && token
	if !dialog {
		if res := p.authenticate(ctx, req, &work); res != nil {
			return plan{reject: res}
		}
	}
	pl := plan{
		work:        work,
		dialog:      dialog,
		flow:        fl,
		recordRoute: p.cfg.RecordRoute && !hasToTag(req) && createsDialog(req.Method),
	}

	// §16.5: a remaining Route names the next hop; the Request-URI stays.
	if route := work.top(); route != nil || dialog {
		if !dialog && !p.cfg.ForwardOutOfDomain && route != nil && !p.isLocalURI(route.Address) {
			pl.reject = sipx.Reject(req, 403, "Forbidden", p.cfg.Hostname, "relaying along a preloaded Route is not allowed")
			return pl
		}
		pl.direct = true
		return pl
	}

	ru := work.recipient
	if !p.isLocalURI(ru) {
		if !p.cfg.ForwardOutOfDomain {
			pl.reject = sipx.Reject(req, 403, "Forbidden", p.cfg.Hostname, "forwarding to foreign domain "+ru.Host+" is disabled")
			return pl
		}
		pl.direct = true
		return pl
	}

	aor, ok := p.local.AOR(ru)
	if !ok {
		pl.reject = sipx.Reject(req, 404, "Not Found", p.cfg.Hostname, "no user part in the Request-URI")
		return pl
	}
	if isGRUU(ru) {
		t, ok := p.loc.LookupGRUU(ru.String())
		if !ok {
			pl.reject = p.unavailable(ctx, req, aor, "the GRUU has no registered contact")
			return pl
		}
		pl.targets = []Target{t}
		return pl
	}
	pl.targets = targetSet(p.loc.Lookup(aor))
	if len(pl.targets) == 0 {
		pl.reject = p.unavailable(ctx, req, aor, "the user has no registered contact")
	}
	return pl
}

// prepared is a received request as RFC 3261 §16.4 Route preprocessing
// leaves it. The request itself is not changed (it is the server
// transaction's, and copying it cost more than the rest of planning): what
// preprocessing and the authentication policy take away is recorded here,
// and buildBranch leaves it out of every branch.
type prepared struct {
	req       *sip.Request
	recipient sip.Uri // the Request-URI
	routes    int     // Route entries in req
	skip      int     // Route entries taken from the top: they named us
	dropLast  bool    // the bottom Route entry became the Request-URI (strict router)
	noAuth    bool    // Proxy-Authorization taken away: the credentials were for us (§22.3)
	user      string  // the identity Authenticate proved, "" for none
}

// left is the number of Route entries left.
func (w *prepared) left() int {
	n := w.routes - w.skip
	if w.dropLast {
		n--
	}
	return n
}

// top returns the first Route entry left, nil if none is.
func (w *prepared) top() *sip.RouteHeader {
	if w.left() <= 0 {
		return nil
	}
	return routeAt(w.req, w.skip)
}

// appendRoutes appends the Route entries left to dst, in order.
func (w *prepared) appendRoutes(dst []*sip.RouteHeader) []*sip.RouteHeader {
	i, end := 0, w.skip+w.left()
	for _, h := range w.req.Headers() {
		r, ok := h.(*sip.RouteHeader)
		if !ok {
			continue
		}
		if i >= w.skip && i < end {
			dst = append(dst, r)
		}
		i++
	}
	return dst
}

// preprocessRoute applies RFC 3261 §16.4 to req: undo a strict router's
// rewrite (the Request-URI is our Record-Route value) and take away the
// Route entries at the top that name us (two of them after double
// record-routing, RFC 5658). routed reports whether any was taken, token
// whether one carried a valid dialog token, and fl is the flow named by
// the last one taken.
func (p *Proxy) preprocessRoute(req *sip.Request) (w prepared, routed, token bool, fl flow) {
	w = prepared{req: req, recipient: req.Recipient, routes: routeCount(req)}
	cid := callID(req)
	take := func(u sip.Uri) {
		routed = true
		fl = flow{}
		if p.validToken(u, cid) {
			token = true
			fl, _ = entryFlow(u)
		}
	}
	if ru := req.Recipient; ru.User == "" && ru.UriParams.Has("lr") && w.routes > 0 && p.isUs(ru) {
		take(ru)
		w.recipient = routeAt(req, w.routes-1).Address
		w.dropLast = true
	}
	for w.left() > 0 {
		r := routeAt(req, w.skip)
		if !p.isUs(r.Address) {
			break
		}
		take(r.Address)
		w.skip++
	}
	return w, routed, token, fl
}

// authenticate applies the proxy's authentication policy to a request that
// is not inside a dialog of ours: a request whose From claims one of our
// users must prove it (digest, 407), and the proven user must be the one in
// From (403). Requests from other domains are let through: they are calls
// to our users from outside. CANCEL cannot be challenged (RFC 3261 §22.1).
func (p *Proxy) authenticate(ctx context.Context, req *sip.Request, work *prepared) *sip.Response {
	if p.cfg.Authenticate == nil || req.IsCancel() || req.IsAck() {
		return nil
	}
	from := req.From()
	if from == nil {
		return sipx.Reject(req, 400, "Bad Request", p.cfg.Hostname, "missing From")
	}
	aor, ok := p.local.AOR(from.Address)
	if !ok {
		return nil
	}
	user, reject := p.cfg.Authenticate(ctx, req, req.Source())
	if reject != nil {
		return reject
	}
	if !p.sameUser(user, aor) {
		p.log.InfoContext(ctx, "authenticated user does not match From", "user", user, "from", aor, "source", req.Source())
		return sipx.Reject(req, 403, "Forbidden", p.cfg.Hostname, "the authenticated user does not match the From address")
	}
	// The credentials were for us (RFC 3261 §22.3); the next hop has no use
	// for them.
	work.noAuth = true
	work.user = user
	return nil
}

// sameUser reports whether the authenticated identity user names aor. user
// is an AOR ("sip:alice@example.com", "alice@example.com") or a bare user
// name.
func (p *Proxy) sameUser(user, aor string) bool {
	u := strings.TrimSpace(user)
	if u == "" {
		return false
	}
	if !strings.Contains(u, "@") {
		local, _, _ := strings.Cut(strings.TrimPrefix(aor, "sip:"), "@")
		return strings.EqualFold(u, local)
	}
	if !strings.HasPrefix(strings.ToLower(u), "sip:") && !strings.HasPrefix(strings.ToLower(u), "sips:") {
		u = "sip:" + u
	}
	var uri sip.Uri
	if err := sip.ParseUri(u, &uri); err != nil {
		return false
	}
	got, ok := p.local.AOR(uri)
	return ok && got == aor
}

// unavailable answers a request for one of our AORs that has no contact:
// 480 for a user who exists but is offline, 404 for nobody.
func (p *Proxy) unavailable(ctx context.Context, req *sip.Request, aor, detail string) *sip.Response {
	if p.cfg.UserExists != nil && !p.cfg.UserExists(ctx, aor) {
		return sipx.Reject(req, 404, "Not Found", p.cfg.Hostname, "no such user")
	}
	return sipx.Reject(req, 480, "Temporarily Unavailable", p.cfg.Hostname, detail)
}

// answerSelf answers a request addressed to the proxy itself: OPTIONS gets
// our capabilities (RFC 3261 §11.2), anything else has no user to go to.
func (p *Proxy) answerSelf(req *sip.Request) *sip.Response {
	if req.Method != sip.OPTIONS {
		return sipx.Reject(req, 404, "Not Found", p.cfg.Hostname, "the Request-URI has no user part; the server itself answers OPTIONS only")
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	res.AppendHeader(sip.NewHeader("Accept", acceptHeader))
	res.AppendHeader(sip.NewHeader("Supported", supportedHeader))
	return res
}

// targetSet orders the location service's answer by decreasing q and drops
// duplicate URIs (RFC 3261 §16.5: a URI enters the target set once).
func targetSet(ts []Target) []Target {
	if len(ts) < 2 {
		return ts
	}
	out := make([]Target, 0, len(ts))
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		k := t.URI.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b Target) int { return cmp.Compare(b.Q, a.Q) })
	return out
}

// isGRUU reports whether u is a GRUU: RFC 5627's "gr" parameter, or the
// "gruu" parameter of Microsoft's "opaque=user:epid:..." form.
func isGRUU(u sip.Uri) bool {
	return u.UriParams.Has("gr") || u.UriParams.Has("gruu")
}

// createsDialog reports whether a request of this method can create a
// dialog, so that a Record-Route in it means something.
func createsDialog(m sip.RequestMethod) bool {
	switch m {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER, sip.NOTIFY:
		return true
	}
	return false
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	tag, ok := to.Params.Get("tag")
	return ok && tag != ""
}
