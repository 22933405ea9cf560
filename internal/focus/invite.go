package focus

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Joining and leaving: the INVITE with a C3P addUser that opens a focus
// dialog ([MS-CONFBAS] §2.2.3.4), its ACK, and the BYE that ends it.

// maxEndpointEntity bounds a client's endpoint entity (a GUID in braces).
const maxEndpointEntity = 128

// mcuWait bounds how long a join waits for the MCUs to expect the
// participant: clients INVITE the MCUs right after the join, and an MCU
// admits only those the Focus added.
const mcuWait = 3 * time.Second

// ServeINVITE answers an INVITE to a focus URI: a join. caller is who the
// server authenticated. An INVITE within a focus dialog (a session
// refresh) is answered 200 without a body: the focus dialog has no media.
func (f *Focus) ServeINVITE(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, caller Caller) {
	if _, inDialog := req.To().Params.Get("tag"); inDialog {
		if f.dialogConference(req) == nil {
			f.respond(tx, sipReject(req, 481, f.cfg.Hostname, "no such focus dialog", 0))
			return
		}
		if len(req.Body()) > 0 {
			f.respond(tx, sipReject(req, 488, f.cfg.Hostname, "the focus dialog carries no media", 0))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		contact := *f.contact(req.Transport())
		res.AppendHeader(&contact)
		f.respond(tx, res)
		return
	}
	conf, org, key, ok := f.conferenceOf(req.Recipient.String())
	if !ok {
		f.respond(tx, sipReject(req, 404, f.cfg.Hostname, "not a focus URI", c3p.DiagInvalidConferenceURI))
		return
	}
	creq, add, bad := f.readAddUser(req, conf)
	if bad != nil {
		f.respond(tx, bad)
		return
	}
	j := &joiner{endpoint: endpointOf(add.User)}
	if len(j.endpoint) > maxEndpointEntity || strings.ContainsAny(j.endpoint, "<>\"\r\n") {
		f.respond(tx, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagMalformedEndpoint, "malformed endpoint entity"))
		return
	}
	if j.endpoint == "" {
		j.endpoint = newEntity()
	}
	if add.User.DisplayText != nil {
		j.display = cleanDisplayName(*add.User.DisplayText)
	}
	if j.display == "" && req.From() != nil {
		j.display = cleanDisplayName(req.From().DisplayName)
	}
	switch {
	case caller.Trusted:
		f.serviceJoin(ctx, req, tx, conf, creq, add)
		return
	case caller.User != "":
		j.entity, j.authenticated = f.canonical(caller.User), true
		if f.canonical(creq.From) != j.entity {
			f.respond(tx, f.c3pFailure(req, 403, creq, reasonUnauthorized, c3p.DiagBadFrom, "the C3P from is not the authenticated user"))
			return
		}
		if add.User.Entity != "" && f.canonical(add.User.Entity) != j.entity {
			f.respond(tx, f.c3pFailure(req, 403, creq, reasonUnauthorized, c3p.DiagInvalidTargetUser, "a user may join only as himself"))
			return
		}
		enterprise, name, r := f.identify(ctx, j.entity)
		if r != nil {
			f.respond(tx, f.refusal(req, creq, r))
			return
		}
		j.enterprise = enterprise
		if name != "" {
			j.display = cleanDisplayName(name)
		}
	default:
		// Unauthenticated: an anonymous participant, under an identity
		// of ours rather than the one he claims.
		j.entity = anonymousEntity("anonymous")
	}
	dlg, err := f.answers.ReadInvite(req, tx)
	if err != nil {
		f.respond(tx, sipReject(req, 400, f.cfg.Hostname, err.Error(), 0))
		return
	}
	defer dlg.Close()
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	if j.dialog, err = dialog.New(req, tag); err != nil {
		f.writeFailure(dlg.WriteResponse, f.c3pFailure(dlg.InviteRequest, 400, creq, reasonMalformed, c3p.DiagAddUserInvalid, err.Error()))
		return
	}
	c, adm, r := f.admit(ctx, conf, org, key, j)
	if r != nil {
		f.writeFailure(dlg.WriteResponse, f.refusal(dlg.InviteRequest, creq, r))
		return
	}
	f.awaitMCUs(ctx, adm)
	// After the MCUs' work, so that the MCUs allocated for this join are
	// listed: the conference learnt of them before the addUsers ended.
	uris, _ := call(ctx, c, c.mcuURIs)
	answer := &c3p.AddUser{
		Keys: &c3p.ConferenceKeys{ConfEntity: conf},
		User: &c3p.User{Entity: adm.entity, Roles: []string{adm.role.wire()},
			Endpoints: []c3p.Endpoint{{Entity: j.endpoint}}},
	}
	if e := confURIsElement(uris); e != nil {
		answer.Elements = append(answer.Elements, e)
	}
	body, err := c3p.NewResponse(creq.Header, c3p.CodeSuccess, answer).Marshal()
	if err != nil {
		f.log.ErrorContext(ctx, "encoding an addUser response", "err", err)
		body = nil
	}
	contact := *f.contact(req.Transport())
	err = dlg.Respond(200, "OK", body,
		sip.NewHeader("Content-Type", c3p.ContentType),
		sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, INFO, SUBSCRIBE"),
		&contact)
	if err != nil {
		// RFC 3261 §13.3.1.4: a 2xx never ACKed ends the session.
		f.log.InfoContext(ctx, "focus join not completed", "user", adm.entity, "err", err)
		id := j.dialog.ID
		if c.post(func() { c.leave(id, "the join was not acknowledged") }) {
			f.byeAll([]*dialog.Dialog{j.dialog})
		}
	}
}

// awaitMCUs waits a moment, at most mcuWait in all, for the MCUs to
// expect a new participant. The join goes on without them: the roster
// works without audio and without group IM.
func (f *Focus) awaitMCUs(ctx context.Context, adm admission) {
	ctx, cancel := context.WithTimeout(ctx, mcuWait)
	defer cancel()
	av, chat := adm.mcu, adm.chat
	for av != nil || chat != nil {
		select {
		case err := <-av:
			if err != nil {
				f.log.WarnContext(ctx, "the A/V MCU was not told of a participant", "user", adm.entity, "err", err)
			}
			av = nil
		case <-chat:
			chat = nil
		case <-ctx.Done():
			if av != nil {
				f.log.WarnContext(ctx, "the A/V MCU is slow to take a participant", "user", adm.entity)
			} else {
				f.log.DebugContext(ctx, "the chat MCU is slow to take a participant", "user", adm.entity)
			}
			return
		}
	}
}

// awaitChat waits a moment for the chat MCU's side of a join by telephone
// (its allocation when the call activated the meeting), so that what the
// roster says of the chat MCU comes before what follows the call.
func awaitChat(ctx context.Context, ch <-chan struct{}) {
	if ch == nil {
		return
	}
	t := time.NewTimer(mcuWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// confURIsElement is pl:conf-uris, Parley's extension of the addUser
// answer to a join: the meeting's MCU URIs, each with its type as purpose,
// written as the roster's conference-description/conf-uris entries
// (RFC 4575 §5.3.1). [MS-CONFBAS] §2.2.3.4 gives the answer no place for
// them, and clients that follow it learn them from the roster; a client
// that does not subscribe finds the chat MCU here. nil when the meeting
// has no MCU.
func confURIsElement(uris []c3p.URIEntry) *c3p.Element {
	if len(uris) == 0 {
		return nil
	}
	e := c3p.ExtensionElement(c3p.NamespaceParley, "conf-uris", "")
	for _, u := range uris {
		e.Children = append(e.Children, c3p.ExtensionElement(c3p.NamespaceConferenceInfo, "entry", "",
			c3p.ExtensionElement(c3p.NamespaceConferenceInfo, "uri", u.URI),
			c3p.ExtensionElement(c3p.NamespaceConferenceInfo, "purpose", u.Purpose)))
	}
	return e
}

// readAddUser checks the join's body: a C3P request whose command is an
// addUser for this conference, sent to it.
func (f *Focus) readAddUser(req *sip.Request, conf string) (*c3p.Request, *c3p.AddUser, *sip.Response) {
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(mediaType(ct.Value()), c3p.ContentType) {
		res := sipReject(req, 415, f.cfg.Hostname, "a join carries a C3P addUser ("+c3p.ContentType+")", 0)
		res.AppendHeader(sip.NewHeader("Accept", c3p.ContentType))
		return nil, nil, res
	}
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		if fail, ok := c3p.FailureFor(err); ok {
			return nil, nil, f.c3pFailureResponse(req, 400, fail.Response, fail.Diagnostic, err.Error())
		}
		return nil, nil, sipReject(req, 400, f.cfg.Hostname, err.Error(), c3p.DiagnosticFor(err))
	}
	add, ok := creq.Command.(*c3p.AddUser)
	switch {
	case !ok:
		return nil, nil, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagAddUserInvalid, "a join carries addUser, not "+creq.Command.CommandName())
	case add.MCU.URI != "":
		return nil, nil, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagCannotTargetMCU, "a join cannot target an MCU")
	case add.Keys == nil || !f.sameConference(add.Keys.ConfEntity, conf):
		return nil, nil, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagInvalidConferenceEntity, "conferenceKeys must name the conference of the Request-URI")
	case !f.sameConference(creq.To, conf):
		return nil, nil, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagBadTo, "the C3P to must be the conference")
	case add.User == nil:
		return nil, nil, f.c3pFailure(req, 400, creq, reasonMalformed, c3p.DiagAddUserInvalid, "addUser without a user")
	}
	return creq, add, nil
}

// sameConference reports whether uri is the conference conf.
func (f *Focus) sameConference(uri, conf string) bool {
	c, _, _, ok := f.conferenceOf(uri)
	return ok && c == conf
}

// endpointOf is the entity of the endpoint a joining client describes.
func endpointOf(u *c3p.User) string {
	if u == nil || len(u.Endpoints) == 0 {
		return ""
	}
	return strings.TrimSpace(u.Endpoints[0].Entity)
}

// mediaType is a Content-Type value without its parameters.
func mediaType(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.TrimSpace(v)
}

// serviceJoin admits a trusted service (the Conference Announcement
// Service, seed 001 step 12: it "joins the Focus and listens for state
// changes") to a running meeting, outside the roster.
func (f *Focus) serviceJoin(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, conf string, creq *c3p.Request, add *c3p.AddUser) {
	c := f.active(conf)
	if c == nil {
		f.respond(tx, f.c3pFailure(req, 404, creq, reasonNoConference, c3p.DiagInvalidConferenceURI, "the meeting is not active"))
		return
	}
	dlg, err := f.answers.ReadInvite(req, tx)
	if err != nil {
		f.respond(tx, sipReject(req, 400, f.cfg.Hostname, err.Error(), 0))
		return
	}
	defer dlg.Close()
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	d, err := dialog.New(req, tag)
	if err != nil {
		f.writeFailure(dlg.WriteResponse, f.c3pFailure(dlg.InviteRequest, 400, creq, reasonMalformed, c3p.DiagAddUserInvalid, err.Error()))
		return
	}
	ok, err := call(ctx, c, func() bool {
		if c.stopping || !c.activated {
			return false
		}
		c.services[d.ID] = &session{Dialog: d, Endpoint: endpointOf(add.User)}
		c.f.addDialog(d.ID, c)
		return true
	})
	if err != nil || !ok {
		f.writeFailure(dlg.WriteResponse, f.c3pFailure(dlg.InviteRequest, 404, creq, reasonNoConference, c3p.DiagInvalidConferenceURI, "the meeting is not active"))
		return
	}
	body, _ := c3p.NewResponse(creq.Header, c3p.CodeSuccess, &c3p.AddUser{
		Keys: &c3p.ConferenceKeys{ConfEntity: conf},
		User: &c3p.User{Entity: add.User.Entity, Roles: []string{RoleAttendee.wire()}},
	}).Marshal()
	contact := *f.contact(req.Transport())
	if err := dlg.Respond(200, "OK", body, sip.NewHeader("Content-Type", c3p.ContentType), &contact); err != nil {
		id := d.ID
		c.post(func() { c.leave(id, "the join was not acknowledged") })
	}
}

// ServeACK takes the ACK of a join's answer.
func (f *Focus) ServeACK(req *sip.Request, tx sip.ServerTransaction) {
	if err := f.answers.ReadAck(req, tx); err != nil {
		f.log.Debug("ACK outside a pending join", "call_id", req.CallID().Value(), "err", err)
	}
}

// ServeBYE ends a participant's focus dialog: he leaves the meeting unless
// he is still in its audio.
func (f *Focus) ServeBYE(req *sip.Request, tx sip.ServerTransaction) {
	c := f.dialogConference(req)
	id, _ := dialog.IDOf(req)
	if c == nil {
		f.respond(tx, sipReject(req, 481, f.cfg.Hostname, "no such focus dialog", 0))
		return
	}
	ok, err := call(context.Background(), c, func() bool { return c.leave(id, "left") })
	if err != nil || !ok {
		f.respond(tx, sipReject(req, 481, f.cfg.Hostname, "no such focus dialog", 0))
		return
	}
	f.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// leave ends a focus dialog. On the conference goroutine.
func (c *conference) leave(id, why string) bool {
	if s := c.services[id]; s != nil {
		delete(c.services, id)
		c.f.removeDialog(id)
		return true
	}
	p := c.sessions[id]
	if p == nil {
		return false
	}
	delete(c.sessions, id)
	c.f.removeDialog(id)
	p.Session = nil
	if !p.present() {
		c.remove(p, why)
	} else {
		c.publish(c.userDoc(p))
	}
	return true
}

// respond sends a final response, logging what cannot be sent.
func (f *Focus) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		f.log.Debug("response not sent", "status", res.StatusCode, "err", err)
	}
}

// writeFailure sends a refusal through a pending join's dialog, which
// also waits for its ACK.
func (f *Focus) writeFailure(write func(*sip.Response) error, res *sip.Response) {
	if err := write(res); err != nil && !errors.Is(err, context.Canceled) {
		f.log.Debug("refusal not sent", "status", res.StatusCode, "err", err)
	}
}

// refusal answers a refused join: the SIP status of the refusal with the
// C3P failure response, ms-diagnostics and a Warning ([MS-CONFPRO]
// §2.2.3: a response other than 400 carries the C3P response).
func (f *Focus) refusal(req *sip.Request, creq *c3p.Request, r *Refusal) *sip.Response {
	return f.c3pFailure(req, r.Code, creq, r.Reason, r.Diagnostic, r.Err.Error())
}

// c3pFailure answers a C3P request with a SIP status and a C3P failure.
func (f *Focus) c3pFailure(req *sip.Request, code int, creq *c3p.Request, reason string, diag c3p.Diagnostic, detail string) *sip.Response {
	fail := c3p.NewFailure(creq.Header, creq.Command.CommandName(), reason, diag)
	return f.c3pFailureResponse(req, code, fail.Response, diag, detail)
}

// c3pFailureResponse wraps a C3P response in a SIP response.
func (f *Focus) c3pFailureResponse(req *sip.Request, code int, res *c3p.Response, diag c3p.Diagnostic, detail string) *sip.Response {
	out := sipReject(req, code, f.cfg.Hostname, detail, diag)
	if body, err := res.Marshal(); err == nil {
		out.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
		out.SetBody(body)
	}
	return out
}
