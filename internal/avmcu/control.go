package avmcu

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/c3p/c3phttp"
)

// The Focus commands the A/V Conferencing Server over HTTP with C3P
// ([MS-CONFBAS]; seed 004, step 2: "The Focus then sends an HTTP request to
// the designated conferencing server asking it to expect a new participant
// (addUser)"). The MCU serves:
//
//   - addConference: the Focus provisions the conference here; from then on
//     only the users it adds may join its audio. The answer names the
//     conference's A/V MCU URI in conf-uris.
//   - addUser: expect a participant (with his role).
//   - deleteUser: eject him: every leg of his is hung up.
//   - modifyEndpointMedia: mute or unmute him, the server-side ingress
//     filter of [MS-CONFAV] §2.2.2.1.2.1 (media-ingress-filter block /
//     unblock).
//   - modifyConferenceLock: the Focus enforces the lock; the MCU accepts it.
//   - deleteConference: end the conference: everyone is hung up.
//   - pl:playAnnouncement (Parley's): play a prompt or an entry/exit tone
//     to one participant's legs only (announce.go). The Conference
//     Announcement Service sends it too, in INFO within its dialog with
//     the MCU (cas.go), and it runs the same way.

// MaxControlBody bounds a control request: C3P's own limit, which
// c3phttp.Serve applies.
const MaxControlBody = c3p.MaxBodySize

// ServeControl handles one control request (c3phttp.Serve). verify checks
// the caller (a trusted role's signature over the body); nil accepts any
// caller, for tests.
func (m *MCU) ServeControl(w http.ResponseWriter, r *http.Request, verify func(*http.Request, []byte) error) {
	if err := c3phttp.Serve(w, r, verify, m.answer); errors.Is(err, c3phttp.ErrUntrusted) {
		m.log.WarnContext(r.Context(), "A/V MCU control request refused", "remote", r.RemoteAddr, "err", err)
	}
}

// answer runs a command from the HTTP control channel or the announcement
// dialog (cas.go) and returns its C3P response.
func (m *MCU) answer(ctx context.Context, req *c3p.Request) *c3p.Response {
	cmd, reason, err := m.control(req)
	if err != nil {
		level := slog.LevelInfo
		if _, ok := req.Command.(*c3p.PlayAnnouncement); ok && reason == reasonNoUser {
			// An announcement for a caller who just hung up: his leg
			// left before the Focus heard of it. Expected, and frequent
			// when a meeting ends.
			level = slog.LevelDebug
		}
		m.log.Log(ctx, level, "A/V MCU control command refused", "command", req.Command.CommandName(), "err", err)
		return c3p.NewFailure(req.Header, req.Command.CommandName(), reason, 0).Response
	}
	return c3p.NewResponse(req.Header, c3p.CodeSuccess, cmd)
}

// Failure reasons of control commands.
const (
	reasonNoConference = "conferenceDoesNotExist"
	reasonNoUser       = "userDoesNotExist"
	reasonMalformed    = "requestMalformed"
	reasonUnsupported  = c3p.ReasonOtherFailure
)

var errControl = errors.New("avmcu: control")

// control runs one command.
func (m *MCU) control(req *c3p.Request) (c3p.Command, string, error) {
	switch c := req.Command.(type) {
	case *c3p.AddConference:
		if c.ConferenceInfo == nil {
			return nil, reasonMalformed, errControl
		}
		conf, ok := m.conference(c.ConferenceInfo.Entity)
		if !ok {
			return nil, reasonMalformed, errControl
		}
		m.provision(conf)
		org, _, key, _ := c3p.ParseConferenceURI(conf)
		purpose := c3p.MCUTypeAudioVideo
		return &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{
			Entity: conf,
			Description: &c3p.ConferenceDescription{ConfURIs: []c3p.URIEntry{
				{URI: c3p.ConferenceURI(org, c3p.MCUTypeAudioVideo, key), Purpose: purpose},
			}},
		}}, "", nil
	case *c3p.AddUser:
		if c.Keys == nil || c.User == nil || c.User.Entity == "" {
			return nil, reasonMalformed, errControl
		}
		conf, ok := m.conference(c.Keys.ConfEntity)
		if !ok || !m.isProvisioned(conf) {
			return nil, reasonNoConference, errControl
		}
		role := c3p.RoleAttendee
		for _, r := range c.User.Roles {
			if r == c3p.RolePresenter {
				role = r
			}
		}
		// A dial-out is checked before anything changes: a bad one refuses
		// the whole command.
		d, err := m.dialOutOf(conf, c.User)
		if err != nil {
			return nil, reasonFor(err), err
		}
		user := m.canonicalUser(c.User.Entity)
		m.allow(conf, user, role)
		res := &c3p.User{Entity: c.User.Entity, Roles: []string{role}}
		if d != nil {
			// The answer does not wait for the call ([MS-CONFBAS]: the
			// roster reports how the dial-out ends).
			go m.dialOut(d)
			res.Endpoints = []c3p.Endpoint{{Entity: d.endpoint, Status: "dialing-out", JoiningMethod: c3p.JoiningDialedOut}}
		}
		return &c3p.AddUser{Keys: c.Keys, User: res}, "", nil
	case *c3p.DeleteUser:
		if c.Keys == nil || c.Keys.UserEntity == "" {
			return nil, reasonMalformed, errControl
		}
		conf, ok := m.conference(c.Keys.ConfEntity)
		if !ok {
			return nil, reasonNoConference, errControl
		}
		user := m.canonicalUser(c.Keys.UserEntity)
		m.disallow(conf, user)
		if m.Eject(conf, user) == 0 && !m.isProvisioned(conf) {
			return nil, reasonNoUser, errControl
		}
		return &c3p.DeleteUser{Keys: c.Keys}, "", nil
	case *c3p.ModifyEndpointMedia:
		if c.Keys == nil || c.Keys.UserEntity == "" || c.Media == nil {
			return nil, reasonMalformed, errControl
		}
		var muted bool
		switch c.Media.IngressFilter {
		case "block":
			muted = true
		case "unblock":
		default:
			return nil, reasonMalformed, errControl
		}
		conf, ok := m.conference(c.Keys.ConfEntity)
		if !ok {
			return nil, reasonNoConference, errControl
		}
		if m.SetMuted(conf, m.canonicalUser(c.Keys.UserEntity), muted) == 0 {
			return nil, reasonNoUser, errControl
		}
		return &c3p.ModifyEndpointMedia{Keys: c.Keys, Media: c.Media}, "", nil
	case *c3p.ModifyConferenceLock:
		return &c3p.ModifyConferenceLock{Keys: c.Keys, Locked: c.Locked}, "", nil
	case *c3p.PlayAnnouncement:
		return m.playAnnouncement(c)
	case *c3p.DeleteConference:
		entity := ""
		switch {
		case c.Keys != nil && c.Keys.ConfEntity != "":
			entity = c.Keys.ConfEntity
		case c.ConferenceInfo != nil:
			entity = c.ConferenceInfo.Entity
		}
		conf, ok := m.conference(entity)
		if !ok {
			return nil, reasonNoConference, errControl
		}
		// Unprovisioned first, so that a dial-out answered meanwhile finds
		// the conference gone rather than joining it after the hang-ups.
		m.unprovision(conf)
		m.EndConference(conf)
		return &c3p.DeleteConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: conf}}, "", nil
	}
	return nil, reasonUnsupported, errControl
}

// conference maps a focus or MCU URI to the conference's name here: its
// focus URI with the organizer in canonical form.
func (m *MCU) conference(uri string) (string, bool) {
	org, _, key, ok := c3p.ParseConferenceURI(uri)
	if !ok {
		return "", false
	}
	if m.cfg.Canonical != nil {
		org = m.cfg.Canonical(org)
	}
	return c3p.ConferenceURI(org, c3p.ServiceFocus, key), true
}

// canonicalUser is a user URI in the form the SIP side authenticates.
func (m *MCU) canonicalUser(uri string) string {
	uri = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(uri), "<"), ">")
	if !strings.HasPrefix(strings.ToLower(uri), "sip:") && !strings.HasPrefix(strings.ToLower(uri), "tel:") {
		uri = "sip:" + uri
	}
	if m.cfg.Canonical != nil && strings.HasPrefix(strings.ToLower(uri), "sip:") {
		return m.cfg.Canonical(uri)
	}
	return uri
}

// admission is what the Focus told the MCU about a conference.
type admission struct {
	allowed map[string]string // user → role
}

func (m *MCU) provision(conf string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.admissions[conf] == nil {
		m.admissions[conf] = &admission{allowed: make(map[string]string)}
	}
}

func (m *MCU) unprovision(conf string) {
	m.mu.Lock()
	delete(m.admissions, conf)
	m.mu.Unlock()
}

func (m *MCU) isProvisioned(conf string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.admissions[conf] != nil
}

func (m *MCU) allow(conf, user, role string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.admissions[conf]; a != nil {
		a.allowed[user] = role
	}
}

func (m *MCU) disallow(conf, user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.admissions[conf]; a != nil {
		delete(a.allowed, user)
	}
}

// admittedByFocus reports whether the Focus provisioned conf, and if so
// whether it added user.
func (m *MCU) admittedByFocus(conf, user string) (provisioned, allowed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.admissions[conf]
	if a == nil {
		return false, false
	}
	_, ok := a.allowed[user]
	return true, ok
}

// LoadReport is what ServeLoad answers: the load the Conferencing Server
// Factory chooses MCUs by (internal/mcufactory reads the same fields).
type LoadReport struct {
	Legs         int   `json:"legs"`
	MaxLegs      int   `json:"max_legs"`
	Conferences  int   `json:"conferences"`
	LagP99Micros int64 `json:"lag_p99_us"`
}

// ServeLoad answers GET with the engine's load as JSON.
func (m *MCU) ServeLoad(w http.ResponseWriter, _ *http.Request) {
	l := m.engine.Load()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(LoadReport{
		Legs: l.Legs, MaxLegs: l.MaxLegs, Conferences: l.Conferences,
		LagP99Micros: l.SendLag.P99.Microseconds(),
	})
}
