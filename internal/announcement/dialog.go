package announcement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx"
)

// The A/V MCU's dialog with the service: one per meeting, opened by a
// signed INVITE carrying pl:announceConference, closed by either side's
// BYE. The service is its UAS and sends its announcements in it (INFO).
//
// A second INVITE for a meeting already served is accepted (200) and
// replaces the first dialog, which the service hangs up: the MCU invites
// once per meeting, so a second invitation means it lost the first dialog
// (a restart, or the meeting moved to another MCU) and the newer one is
// where the callers' legs are. The roster subscription carries on.

// dialogRef ties an MCU dialog to the meeting it serves.
type dialogRef struct {
	dlg *sipgo.DialogServerSession
	m   *meeting // nil until the dialog is confirmed and attached
	// gone is set by a BYE that came before the meeting took the dialog.
	gone bool
}

// errBadInvite marks an INVITE body the service cannot serve.
var errBadInvite = errors.New("announcement: bad invitation")

// serveINVITE answers the A/V MCU's invitation to announce a meeting.
func (s *Server) serveINVITE(req *sip.Request, tx sip.ServerTransaction) {
	if bad := sipx.ValidateRequest(req); bad != nil {
		s.refuse(tx, req, bad.Code, bad.Reason, bad.Detail)
		return
	}
	if _, inDialog := req.To().Params.Get("tag"); inDialog {
		// The service's session has no media: nothing a re-INVITE
		// could change. The dialog stays as it is (RFC 3261 §14.2).
		s.reject(tx, req, 488, "Not Acceptable Here", "the announcement service's session has no media to change")
		return
	}
	service, err := s.cfg.Verify(req)
	switch {
	case err != nil:
		s.log.Warn("announcement: refused an unsigned or badly signed INVITE", "source", req.Source(), "err", err)
		s.refuse(tx, req, 403, "Forbidden", "the announcement service takes invitations from trusted services only")
		return
	case !slices.Contains(s.cfg.Services, service):
		s.refuse(tx, req, 403, "Forbidden", "service "+service+" may not invite the announcement service")
		return
	}
	if req.Contact() == nil {
		s.refuse(tx, req, 400, "Bad Request", "missing Contact header field")
		return
	}
	creq, cmd, err := readInvitation(req)
	if err != nil {
		code, reason := 400, "Bad Request"
		if errors.Is(err, errContentType) {
			code, reason = 415, "Unsupported Media Type"
		}
		res := sipx.Reject(req, code, reason, s.cfg.Hostname, err.Error())
		if code == 415 {
			res.AppendHeader(sip.NewHeader("Accept", c3p.ContentType))
		}
		s.stats.refused.Add(1)
		_ = tx.Respond(res)
		return
	}
	key, _ := meetingKey(cmd.Focus)
	s.mu.Lock()
	full := s.meetings[key] == nil && len(s.meetings) >= s.cfg.MaxConferences
	closing := s.closing
	s.mu.Unlock()
	if closing || full {
		res := sipx.Reject(req, 503, "Service Unavailable", s.cfg.Hostname, "the announcement service is at its meeting limit")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		s.stats.refused.Add(1)
		_ = tx.Respond(res)
		return
	}
	body, err := c3p.NewResponse(creq.Header, c3p.CodeSuccess, &c3p.AnnounceConference{Focus: cmd.Focus, MCU: cmd.MCU}).Marshal()
	if err != nil {
		s.refuse(tx, req, 500, "Server Internal Error", "encoding the answer")
		return
	}
	dlg, err := s.dlgUA.ReadInvite(req, tx)
	if err != nil {
		s.refuse(tx, req, 500, "Server Internal Error", "dialog: "+err.Error())
		return
	}
	ref := &dialogRef{dlg: dlg}
	s.mu.Lock()
	s.dialogs[dlg.ID] = ref
	s.mu.Unlock()
	contact := s.contact()
	// Respond returns once the ACK came (or the 2xx gave up waiting).
	if err := dlg.Respond(200, "OK", body, sip.NewHeader("Content-Type", c3p.ContentType), &contact); err != nil {
		s.log.Info("announcement: invitation not completed", "focus", cmd.Focus, "err", err)
		s.forgetDialog(dlg.ID)
		return
	}
	s.attach(ref, key, cmd)
}

// attach gives a confirmed dialog to its meeting: a new one, or the one
// already serving the focus, whose dialog it replaces.
func (s *Server) attach(ref *dialogRef, key string, cmd *c3p.AnnounceConference) {
	s.mu.Lock()
	if ref.gone {
		// The MCU hung up before the meeting began.
		delete(s.dialogs, ref.dlg.ID)
		s.mu.Unlock()
		return
	}
	if s.closing || (s.meetings[key] == nil && len(s.meetings) >= s.cfg.MaxConferences) {
		// Closing, or two invitations raced for the last place.
		delete(s.dialogs, ref.dlg.ID)
		s.mu.Unlock()
		s.bye(ref.dlg)
		return
	}
	if m := s.meetings[key]; m != nil {
		ref.m = m
		s.mu.Unlock()
		if !m.post(replaceEvent{dlg: ref.dlg, mcu: cmd.MCU}) {
			s.forgetDialog(ref.dlg.ID)
			s.bye(ref.dlg)
		}
		return
	}
	m := newMeeting(s, key, cmd.Focus, cmd.MCU, ref.dlg)
	s.meetings[key] = m
	ref.m = m
	s.wg.Add(1)
	s.mu.Unlock()
	s.stats.meetings.Add(1)
	s.log.Info("announcement: serving a meeting", "focus", cmd.Focus, "mcu", cmd.MCU)
	go func() {
		defer s.wg.Done()
		m.run(s.ctx)
	}()
}

// errContentType marks an invitation whose body is not C3P.
var errContentType = fmt.Errorf("%w: the body must be %s", errBadInvite, c3p.ContentType)

// readInvitation reads the pl:announceConference of an INVITE.
func readInvitation(req *sip.Request) (*c3p.Request, *c3p.AnnounceConference, error) {
	ct := req.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), c3p.ContentType) {
		return nil, nil, errContentType
	}
	if len(req.Body()) > c3p.MaxBodySize {
		return nil, nil, fmt.Errorf("%w: body of %d bytes", errBadInvite, len(req.Body()))
	}
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadInvite, err)
	}
	cmd, ok := creq.Command.(*c3p.AnnounceConference)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s, want announceConference", errBadInvite, creq.Command.CommandName())
	}
	forg, fsvc, fkey, ok := c3p.ParseConferenceURI(cmd.Focus)
	if !ok || fsvc != c3p.ServiceFocus {
		return nil, nil, fmt.Errorf("%w: focus %q is not a focus URI", errBadInvite, cmd.Focus)
	}
	morg, msvc, mkey, ok := c3p.ParseConferenceURI(cmd.MCU)
	if !ok || msvc == c3p.ServiceFocus {
		return nil, nil, fmt.Errorf("%w: mcu %q is not an MCU conference URI", errBadInvite, cmd.MCU)
	}
	if !strings.EqualFold(forg, morg) || fkey != mkey {
		return nil, nil, fmt.Errorf("%w: focus and mcu name different meetings", errBadInvite)
	}
	var u sip.Uri
	if err := sip.ParseUri(cmd.Focus, &u); err != nil {
		return nil, nil, fmt.Errorf("%w: focus %q: %w", errBadInvite, cmd.Focus, err)
	}
	return creq, cmd, nil
}

// meetingKey is the name the service knows a meeting by: its focus URI
// with the organizer in lower case.
func meetingKey(focus string) (string, bool) {
	org, svc, key, ok := c3p.ParseConferenceURI(focus)
	if !ok || svc != c3p.ServiceFocus {
		return "", false
	}
	return c3p.ConferenceURI(strings.ToLower(org), c3p.ServiceFocus, key), true
}

func (s *Server) serveACK(req *sip.Request, tx sip.ServerTransaction) {
	if ref := s.dialog(req); ref != nil {
		if err := ref.dlg.ReadAck(req, tx); err != nil {
			s.log.Debug("announcement: stray ACK", "err", err)
		}
	}
}

// serveBYE ends a meeting's work when the MCU hangs up.
func (s *Server) serveBYE(req *sip.Request, tx sip.ServerTransaction) {
	ref := s.dialog(req)
	if ref == nil {
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", "no such dialog")
		return
	}
	if err := ref.dlg.ReadBye(req, tx); err != nil {
		s.reject(tx, req, 481, "Call/Transaction Does Not Exist", err.Error())
		return
	}
	s.mu.Lock()
	delete(s.dialogs, ref.dlg.ID)
	ref.gone = true
	m := ref.m
	s.mu.Unlock()
	if m != nil {
		m.post(byeEvent{id: ref.dlg.ID})
	}
}

// dialog finds the MCU dialog of an in-dialog request.
func (s *Server) dialog(req *sip.Request) *dialogRef {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[id]
}

func (s *Server) forgetDialog(id string) {
	s.mu.Lock()
	delete(s.dialogs, id)
	s.mu.Unlock()
}

// refuse answers an invitation with a failure and counts it.
func (s *Server) refuse(tx sip.ServerTransaction, req *sip.Request, code int, reason, detail string) {
	s.stats.refused.Add(1)
	s.reject(tx, req, code, reason, detail)
}

// bye hangs up an MCU dialog, signed; its outcome changes nothing.
func (s *Server) bye(dlg *sipgo.DialogServerSession) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	req, err := s.inDialog(dlg, sip.BYE, nil)
	if err == nil {
		err = dlg.WriteBye(ctx, req)
	}
	if err != nil {
		s.log.Debug("announcement: BYE to the MCU", "err", err)
	}
	s.forgetDialog(dlg.ID)
}

// inDialog builds a signed request within an MCU dialog. Every header the
// signature covers is set here, CSeq as the dialog will number it
// (sipgo's DialogServerSession takes the next local CSeq): only the
// meeting's goroutine sends in a dialog, so nothing comes in between.
func (s *Server) inDialog(dlg *sipgo.DialogServerSession, method sip.RequestMethod, body []byte) (*sip.Request, error) {
	inv, res := dlg.InviteRequest, dlg.InviteResponse
	if res == nil || inv.Contact() == nil {
		return nil, errors.New("announcement: the dialog is not established")
	}
	req := sip.NewRequest(method, *inv.Contact().Address.Clone())
	from := res.To().AsFrom()
	to := inv.From().AsTo()
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: dlg.CSEQ() + 1, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	}
	req.SetBody(body)
	if err := s.sign(req); err != nil {
		return nil, err
	}
	return req, nil
}
