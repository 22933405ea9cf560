package focus

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Control commands: C3P requests in INFO within a focus dialog
// ([MS-CONFBAS]; OCS R2 technical reference: the Focus authorizes them,
// presenters only, and relays them to the MCUs). Each is answered with a
// 200 OK carrying the C3P response, success or failure; failures carry
// ms-diagnostics and a Warning, as the Focus Factory's do.

// infoResult is a command's outcome.
type infoResult struct {
	cmd     c3p.Command // the response's command element, on success
	refusal *Refusal
	// pending, when set, delivers the outcome later: the command waits
	// for an MCU.
	pending chan infoResult
	// then runs on the conference after the response is sent (the end
	// of the meeting, which BYEs the requester too).
	then func()
}

// ServeINFO answers a C3P command within a focus dialog. caller is who the
// server authenticated, if it did: it must be the dialog's participant.
func (f *Focus) ServeINFO(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, caller Caller) {
	c := f.dialogConference(req)
	if c == nil {
		f.respond(tx, sipReject(req, 481, f.cfg.Hostname, "no such focus dialog", 0))
		return
	}
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(mediaType(ct.Value()), c3p.ContentType) {
		res := sipReject(req, 415, f.cfg.Hostname, "commands are C3P ("+c3p.ContentType+")", 0)
		res.AppendHeader(sip.NewHeader("Accept", c3p.ContentType))
		f.respond(tx, res)
		return
	}
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		if fail, ok := c3p.FailureFor(err); ok {
			f.respond(tx, f.c3pFailureResponse(req, 200, fail.Response, fail.Diagnostic, err.Error()))
			return
		}
		f.respond(tx, sipReject(req, 400, f.cfg.Hostname, err.Error(), c3p.DiagnosticFor(err)))
		return
	}
	id, _ := dialog.IDOf(req)
	out, err := call(ctx, c, func() infoResult { return c.command(id, caller, req, creq) })
	if err != nil {
		f.respond(tx, sipReject(req, 481, f.cfg.Hostname, "the meeting has ended", 0))
		return
	}
	if out.pending != nil {
		select {
		case out = <-out.pending:
		case <-ctx.Done():
			out = infoResult{refusal: refuse(ErrMCU, 0, reasonOther, 0, "the conferencing server did not answer in time")}
		}
	}
	if out.refusal != nil {
		f.respond(tx, f.c3pFailure(req, 200, creq, out.refusal.Reason, out.refusal.Diagnostic, out.refusal.Err.Error()))
		return
	}
	body, err := c3p.NewResponse(creq.Header, c3p.CodeSuccess, out.cmd).Marshal()
	if err != nil {
		f.log.ErrorContext(ctx, "encoding a C3P response", "command", creq.Command.CommandName(), "err", err)
		f.respond(tx, sipReject(req, 500, f.cfg.Hostname, "the response could not be encoded", 0))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	f.respond(tx, res)
	if out.then != nil {
		c.post(out.then)
	}
}

// command authorizes and runs one command. On the conference goroutine.
func (c *conference) command(id string, caller Caller, req *sip.Request, creq *c3p.Request) infoResult {
	if c.stopping {
		return infoResult{refusal: refuse(ErrEnding, 0, reasonNoConference, 0, "the meeting is ending")}
	}
	who := c.sessions[id]
	if who == nil {
		// A trusted service's dialog, or one that just ended.
		return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed, "this dialog may not send commands")}
	}
	if !who.Session.Dialog.Accept(req) {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "CSeq out of order")}
	}
	if caller.User != "" && who.Authenticated && c.f.canonical(caller.User) != who.Entity {
		return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the dialog belongs to %s", who.Entity)}
	}
	if !c.f.sameConference(creq.To, c.uri) {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, c3p.DiagBadTo, "the C3P to must be the conference")}
	}
	if who.Authenticated && c.f.canonical(creq.From) != who.Entity {
		return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagBadFrom, "the C3P from must be the dialog's participant")}
	}
	switch cmd := creq.Command.(type) {
	case *c3p.ModifyConferenceLock:
		return c.modifyLock(who, cmd)
	case *c3p.ModifyUserRoles:
		return c.modifyRoles(who, cmd)
	case *c3p.DeleteUser:
		return c.deleteUser(who, cmd)
	case *c3p.ModifyEndpointMedia:
		return c.modifyMedia(who, cmd)
	case *c3p.DeleteConference:
		return c.deleteConference(who, cmd)
	}
	return infoResult{refusal: refuse(ErrInvalid, 0, reasonNotImplemented, c3p.DiagNotImplemented,
		"%s is not served by the Focus", creq.Command.CommandName())}
}

// mustControl refuses a command to anybody but the organizer and the
// presenters.
func mustControl(who *participant, what string) *Refusal {
	if who.Role.controls() {
		return nil
	}
	return refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed, "only the organizer and presenters may %s", what)
}

// keysOK checks that a command's conference keys name this conference.
func (c *conference) keysOK(confEntity string) *Refusal {
	if confEntity != "" && !c.f.sameConference(confEntity, c.uri) {
		return refuse(ErrInvalid, 0, reasonMalformed, c3p.DiagInvalidConferenceEntity, "the keys name another conference")
	}
	return nil
}

// mcuTargetOK checks a command's mcuUri: none, the focus, or one of this
// conference's MCUs.
func (c *conference) mcuTargetOK(t c3p.MCUTarget) *Refusal {
	if t.URI == "" {
		return nil
	}
	org, svc, key, ok := c3p.ParseConferenceURI(t.URI)
	if ok && c.f.canonical(org) == c.organizer && key == c.key && (svc == c3p.ServiceFocus || c.mcuLink(svc) != nil) {
		return nil
	}
	return refuse(ErrInvalid, 0, reasonMalformed, c3p.DiagInvalidMCUURI, "%s is not an MCU of this conference", t.URI)
}

// modifyLock locks or unlocks the meeting (OCS R2: "The Focus also
// enables the organizer to lock a meeting so that no more participants
// can enter"); the MCUs are told too (R2 technical reference: the Focus
// relays the command to all MCUs).
func (c *conference) modifyLock(who *participant, cmd *c3p.ModifyConferenceLock) infoResult {
	if r := mustControl(who, "lock the meeting"); r != nil {
		return infoResult{refusal: r}
	}
	if cmd.Locked == nil {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "modifyConferenceLock without locked")}
	}
	if cmd.Keys != nil {
		if r := c.keysOK(cmd.Keys.ConfEntity); r != nil {
			return infoResult{refusal: r}
		}
	}
	locked := *cmd.Locked
	if c.locked != locked {
		c.locked = locked
		c.publish(c.lockDoc())
		for _, l := range c.mcuLinks() {
			if l.known.URL != "" {
				l.io.submit(func() {
					_ = c.mcuCommand(l, &c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}, Locked: &locked})
				})
			}
		}
		c.log.Info("meeting lock changed", "locked", locked, "by", who.Entity)
	}
	return infoResult{cmd: &c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: c.uri}, Locked: &locked}}
}

// modifyRoles promotes an attendee to presenter or the reverse (seed 003:
// "A presenter can also promote an attendee to the role of presenter").
// The organizer's role does not change.
func (c *conference) modifyRoles(who *participant, cmd *c3p.ModifyUserRoles) infoResult {
	if r := mustControl(who, "change roles"); r != nil {
		return infoResult{refusal: r}
	}
	if cmd.Keys == nil || cmd.Keys.UserEntity == "" {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "modifyUserRoles without userKeys")}
	}
	if r := c.keysOK(cmd.Keys.ConfEntity); r != nil {
		return infoResult{refusal: r}
	}
	var role Role
	switch {
	case slices.Equal(cmd.Roles, []string{string(RolePresenter)}):
		role = RolePresenter
	case slices.Equal(cmd.Roles, []string{string(RoleAttendee)}):
		role = RoleAttendee
	default:
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonInvalidRole, c3p.DiagInvalidRole, "the role must be presenter or attendee")}
	}
	target := c.participants[c.f.canonical(cmd.Keys.UserEntity)]
	if target == nil {
		return infoResult{refusal: refuse(ErrNoUser, 0, reasonNoUser, c3p.DiagInvalidTargetUser, "%s is not in the meeting", cmd.Keys.UserEntity)}
	}
	if target.Role == RoleOrganizer {
		return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the organizer's role cannot change")}
	}
	if target.Role != role {
		target.Role = role
		entity := target.Entity
		// The MCUs learn the new role as they learnt the first: by an
		// addUser (a presenter is the chat's operator).
		for _, l := range c.mcuLinks() {
			if c.admits(l, target) {
				l.io.submit(func() { _ = c.mcuAddUser(l, entity, role, nil) })
			}
		}
		c.publish(c.userDoc(target))
		c.log.Info("role changed", "user", target.Entity, "role", role, "by", who.Entity)
	}
	return infoResult{cmd: &c3p.ModifyUserRoles{Keys: cmd.Keys, Roles: []string{string(role)}}}
}

// deleteUser ejects a participant: his focus dialog gets a BYE, the MCUs
// hang up his audio and his IM sessions, his subscriptions end. Anybody
// may remove himself; presenters may remove anybody but the organizer.
func (c *conference) deleteUser(who *participant, cmd *c3p.DeleteUser) infoResult {
	if cmd.Keys == nil || cmd.Keys.UserEntity == "" {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "deleteUser without userKeys")}
	}
	if r := c.keysOK(cmd.Keys.ConfEntity); r != nil {
		return infoResult{refusal: r}
	}
	if r := c.mcuTargetOK(cmd.MCU); r != nil {
		return infoResult{refusal: r}
	}
	target := c.participants[c.f.canonical(cmd.Keys.UserEntity)]
	if target != who {
		if r := mustControl(who, "remove participants"); r != nil {
			return infoResult{refusal: r}
		}
	}
	if target == nil {
		return infoResult{refusal: refuse(ErrNoUser, 0, reasonNoUser, c3p.DiagInvalidTargetUser, "%s is not in the meeting", cmd.Keys.UserEntity)}
	}
	if target.Role == RoleOrganizer && who.Role != RoleOrganizer {
		return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed, "only the organizer may remove himself")}
	}
	res := infoResult{cmd: &c3p.DeleteUser{Keys: cmd.Keys}}
	session := target.Session
	c.log.Info("participant removed", "user", target.Entity, "by", who.Entity)
	res.then = func() {
		// After the response, so that the requester, if he removed
		// himself, gets it before the BYE.
		if c.participants[target.Entity] != target {
			return
		}
		c.remove(target, "removed by "+who.Entity)
		if session != nil {
			c.f.byeAll([]*dialog.Dialog{session.Dialog})
		}
	}
	return res
}

// modifyMedia mutes or unmutes audio at the A/V MCU: one participant's
// ([MS-CONFAV] §3.2.5.4), or with pl:scope="attendees" every attendee's.
// Anybody may mute himself, and unmute himself unless the presenters
// muted the audience; presenters may mute and unmute anybody, dial-in
// callers included (seed 000).
func (c *conference) modifyMedia(who *participant, cmd *c3p.ModifyEndpointMedia) infoResult {
	if r := c.mcuTargetOK(cmd.MCU); r != nil {
		return infoResult{refusal: r}
	}
	if cmd.Keys == nil || cmd.Media == nil {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "modifyEndpointMedia needs mediaKeys and media")}
	}
	if r := c.keysOK(cmd.Keys.ConfEntity); r != nil {
		return infoResult{refusal: r}
	}
	if t := strings.TrimSpace(cmd.Media.Type); t != "" && t != "audio" {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "only audio can be muted")}
	}
	muted, ok := muteOf(cmd.Media)
	if !ok {
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "media-ingress-filter must be block or unblock")}
	}
	var targets []*participant
	switch scope := cmd.Scope(); scope {
	case c3p.ScopeAttendees:
		if r := mustControl(who, "mute the audience"); r != nil {
			return infoResult{refusal: r}
		}
		c.audienceMuted = muted
		for _, p := range c.roster() {
			if p.Role == RoleAttendee && p.Muted != muted {
				targets = append(targets, p)
			}
		}
	case "":
		target := c.participants[c.f.canonical(cmd.Keys.UserEntity)]
		if target == nil {
			return infoResult{refusal: refuse(ErrNoUser, 0, reasonNoUser, c3p.DiagInvalidTargetUser, "%s is not in the meeting", cmd.Keys.UserEntity)}
		}
		if target != who || (!muted && c.audienceMuted && !who.Role.controls()) {
			if r := mustControl(who, "mute or unmute others"); r != nil {
				return infoResult{refusal: r}
			}
		}
		if target == who && !muted && target.Muted && target.MutedBy == mutedByLeader && !who.Role.controls() {
			// A leader's mute is undone by a leader only (seed 000:
			// presenters mute callers; a caller cannot overrule them).
			return infoResult{refusal: refuse(ErrUnauthorized, 0, reasonUnauthorized, c3p.DiagAuthorizationFailed,
				"a presenter muted %s: only the organizer and presenters may unmute him", who.Entity)}
		}
		if target.Muted != muted {
			targets = append(targets, target)
		}
	default:
		return infoResult{refusal: refuse(ErrInvalid, 0, reasonMalformed, 0, "unknown pl:scope %q", scope)}
	}
	answer := &c3p.ModifyEndpointMedia{MCU: cmd.MCU, Keys: cmd.Keys, Media: cmd.Media}
	answer.SetScope(cmd.Scope())
	return c.setMuted(targets, muted, who, answer)
}

// muteOf reads the requested mute from the media element: the ingress
// filter when given, else the status (recvonly and inactive mute).
func muteOf(m *c3p.Media) (muted, ok bool) {
	switch strings.TrimSpace(m.IngressFilter) {
	case "block":
		return true, true
	case "unblock":
		return false, true
	case "":
	default:
		return false, false
	}
	switch strings.TrimSpace(m.Status) {
	case "recvonly", "inactive":
		return true, true
	case "sendrecv", "sendonly":
		return false, true
	}
	return false, false
}

// setMuted applies a mute by a participant to participants: those in the
// A/V MCU's audio are muted there first, and the roster changes when the
// MCU has done it; dial-in callers hear their new state.
func (c *conference) setMuted(targets []*participant, muted bool, by *participant, answer c3p.Command) infoResult {
	var atMCU []string
	for _, p := range targets {
		if len(p.Legs) > 0 {
			atMCU = append(atMCU, p.Entity)
		}
	}
	apply := func(failed map[string]bool) {
		var changed []*participant
		for _, p := range targets {
			if c.participants[p.Entity] == p && !failed[p.Entity] && p.Muted != muted {
				p.Muted, p.MutedBy = muted, ""
				if muted {
					p.MutedBy = mutedByLeader
					if p == by {
						p.MutedBy = mutedBySelf
					}
				}
				changed = append(changed, p)
			}
		}
		if len(changed) > 0 {
			c.publish(c.usersDoc(changed))
		}
	}
	if len(atMCU) == 0 {
		apply(nil)
		return infoResult{cmd: answer}
	}
	pending := make(chan infoResult, 1)
	c.io.submit(func() {
		failed := make(map[string]bool)
		var errs []error
		for _, e := range atMCU {
			if err := c.mcuMute(e, muted); err != nil {
				failed[e] = true
				errs = append(errs, err)
			}
		}
		if !c.post(func() {
			apply(failed)
			if len(errs) > 0 {
				pending <- infoResult{refusal: refuse(ErrMCU, 0, reasonOther, 0, "the A/V MCU refused: %v", errors.Join(errs...))}
				return
			}
			pending <- infoResult{cmd: answer}
		}) {
			pending <- infoResult{refusal: refuse(ErrEnding, 0, reasonNoConference, 0, "the meeting has ended")}
		}
	})
	return infoResult{pending: pending}
}

// deleteConference ends the meeting (OCS R2: "presenter ends a meeting
// with INFO deleteConference to the Focus"). The answer names the
// conference ([MS-CONFBAS] §2.2.3.14); the meeting ends right after it.
func (c *conference) deleteConference(who *participant, cmd *c3p.DeleteConference) infoResult {
	if r := mustControl(who, "end the meeting"); r != nil {
		return infoResult{refusal: r}
	}
	if cmd.Keys != nil {
		if r := c.keysOK(cmd.Keys.ConfEntity); r != nil {
			return infoResult{refusal: r}
		}
	}
	by := who.Entity
	return infoResult{
		cmd:  &c3p.DeleteConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: c.uri}},
		then: func() { c.deactivate("ended by " + by) },
	}
}
