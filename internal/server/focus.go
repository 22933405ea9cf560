package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/focusfactory"
	"github.com/parleyhq/parley/internal/mcufactory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// This file wires the Focus (issue 5): SIP routing of focus URIs and focus
// dialogs, the MCUs it drives through the Conferencing Server Factory and
// the MCUs' signed C3P/HTTP, and the MCU's leg events into its roster.

// anonymousFrom is the From host of callers who do not authenticate
// (RFC 3323 §4.1.1.3's anonymous URI host).
const anonymousFrom = "anonymous.invalid"

// newFocus builds the Focus on the store, the Conferencing Server Factory
// and the server's SIP client.
func newFocus(s *sipServer, db meetingDB, factory *mcufactory.Factory, roles roleAuth, hostname string, log *slog.Logger) (*focus.Focus, error) {
	return focus.New(focus.Config{
		Hostname:      hostname,
		Contact:       s.focusContact,
		Client:        s.client,
		Meetings:      db,
		Directory:     db,
		State:         db,
		MCUs:          focusMCUs{factory: factory, roles: roles, client: &http.Client{Timeout: 5 * time.Second}},
		DefaultPolicy: admin.DefaultPolicyName,
		Expiry:        focusfactory.Expiry,
		Canonical:     s.canonical,
	}, log)
}

// canonical is a SIP URI's address-of-record as the directory keeps it.
func (s *sipServer) canonical(uri string) string {
	var u sip.Uri
	if err := sip.ParseUri(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(uri), "<"), ">"), &u); err != nil {
		return uri
	}
	host := strings.ToLower(u.Host)
	if d, ok := s.local.Canonical(host); ok {
		host = d
	}
	return "sip:" + strings.ToLower(u.User) + "@" + host
}

// focusMCUs drives conferencing servers for the Focus: allocation through
// the Conferencing Server Factory, commands by signed C3P over HTTP.
type focusMCUs struct {
	factory *mcufactory.Factory
	roles   roleAuth
	client  *http.Client
}

func (m focusMCUs) Allocate(ctx context.Context, conference, mcuType string) (string, string, error) {
	a, err := m.factory.Allocate(ctx, conference, mcuType)
	if err != nil {
		return "", "", err
	}
	return a.MCUURL, a.MCUURI, nil
}

func (m focusMCUs) Command(ctx context.Context, mcuURL string, cmd c3p.Command) (*c3p.Response, error) {
	body, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: uint64(time.Now().UnixNano() & 0x7fffffff), From: "sip:focus", To: mcuURL},
		Command: cmd,
	}).Marshal()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, mcuURL+"/c3p", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c3p.ContentType)
	if err := m.roles.sign(req, body); err != nil {
		return nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c3p.MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", mcuURL, resp.StatusCode, bytes.TrimSpace(b))
	}
	return c3p.ParseResponse(b)
}

func (m focusMCUs) Release(conference, mcuType string) { m.factory.Release(conference, mcuType) }

// serveFocus authenticates a request that starts something with the Focus
// (a join INVITE, a SUBSCRIBE) and hands it over: a trusted service by its
// signature, an anonymous caller by the meeting's conference key when it
// has one (401, [MS-SIPAE] §3.3.5.4), everyone else by digest (407).
func (s *sipServer) serveFocus(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	var caller focus.Caller
	switch {
	case len(req.GetHeaders(trust.Header)) > 0:
		service, host, err := trust.Verify(s.trustKey, req, time.Now())
		if err == nil && !s.isTrusted(ctx, service, host) {
			err = fmt.Errorf("%s at %s is not a trusted service", service, host)
		}
		if err != nil {
			_ = tx.Respond(sipx.Reject(req, 403, "Forbidden", s.hostname, err.Error()))
			return
		}
		caller.Trusted = true
	case strings.EqualFold(req.From().Address.Host, anonymousFrom):
		// Anonymous users (anonymous.go): challenged by digest against
		// the conference key of an anonymous meeting that has one; the
		// Focus admits them to anonymous meetings only.
		if reject := s.checkAnonymous(ctx, req); reject != nil {
			_ = tx.Respond(reject)
			return
		}
	case s.auth != nil:
		name, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			_ = tx.Respond(reject)
			return
		}
		caller.User = s.userAOR(name)
	default:
		caller.User = s.canonical(req.From().Address.String())
	}
	switch req.Method {
	case sip.INVITE:
		s.theFocus().ServeINVITE(ctx, req, tx, caller)
	case sip.SUBSCRIBE:
		s.theFocus().ServeSUBSCRIBE(ctx, req, tx, caller)
	default:
		_ = tx.Respond(sipx.Reject(req, 405, "Method Not Allowed", s.hostname, "the focus takes INVITE and SUBSCRIBE"))
	}
}

// serveFocusDialog hands a request within a focus dialog to the Focus.
func (s *sipServer) serveFocusDialog(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	switch req.Method {
	case sip.INVITE:
		s.theFocus().ServeINVITE(ctx, req, tx, focus.Caller{})
	case sip.SUBSCRIBE:
		s.theFocus().ServeSUBSCRIBE(ctx, req, tx, focus.Caller{})
	case sip.INFO:
		s.theFocus().ServeINFO(ctx, req, tx, focus.Caller{})
	case sip.BYE:
		s.theFocus().ServeBYE(req, tx)
	case sip.ACK:
		s.theFocus().ServeACK(req, tx)
	default:
		_ = tx.Respond(sipx.Reject(req, 405, "Method Not Allowed", s.hostname, "the focus takes INVITE, ACK, INFO, SUBSCRIBE and BYE in its dialogs"))
	}
}

// focusLegs passes the A/V MCU's leg events to the Focus's roster and logs
// them.
type focusLegs struct {
	legLog
	focus *focus.Focus
}

func (f focusLegs) LegJoined(conference, user, legID string) {
	f.legLog.LegJoined(conference, user, legID)
	f.focus.LegJoined(conference, user, legID)
}

func (f focusLegs) LegLeft(conference, user, legID, reason string) {
	f.legLog.LegLeft(conference, user, legID, reason)
	f.focus.LegLeft(conference, user, legID, reason)
}

// conferencing is what administration asks of the conferencing roles:
// conference IDs of the Focus Factory, and the Focus's end of an
// organizer's meetings when he is disabled or deleted.
type conferencing struct {
	*focusfactory.Factory
	focus atomic.Pointer[focus.Focus]
}

func (c *conferencing) OrganizerRemoved(uri string) int {
	if f := c.focus.Load(); f != nil {
		return f.OrganizerRemoved(uri)
	}
	return 0
}
