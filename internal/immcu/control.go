package immcu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/c3p/c3phttp"
)

// The Focus commands the IM Conferencing Server over HTTP with C3P
// ([MS-CONFBAS]), as it commands the A/V MCU (internal/avmcu, control.go):
//
//   - addConference: provision the conference here; the answer names its
//     chat URI in conf-uris, purpose "chat".
//   - addUser: let a user join, with his role.
//   - deleteUser: eject him: his IM dialogs end with a BYE, and he may not
//     join again until added again.
//   - modifyUserRoles: change his role.
//   - modifyConferenceLock: the Focus enforces the lock; accepted.
//   - deleteConference: end the conference: everyone's dialog ends.

// MaxControlBody bounds a control request: C3P's own limit, which
// c3phttp.Serve applies.
const MaxControlBody = c3p.MaxBodySize

// Handler serves the control surface: POST /c3p takes a C3P request
// (ServeControl), GET /load answers the load (ServeLoad). verify checks the
// caller (a trusted role's signature over the body, nil for a GET); nil
// accepts any caller, for tests.
func (s *Server) Handler(verify func(*http.Request, []byte) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /c3p", func(w http.ResponseWriter, r *http.Request) {
		s.ServeControl(w, r, verify)
	})
	mux.HandleFunc("GET /load", func(w http.ResponseWriter, r *http.Request) {
		if verify != nil {
			if err := verify(r, nil); err != nil {
				http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		s.ServeLoad(w, r)
	})
	return mux
}

// ServeControl handles one control request (c3phttp.Serve). verify checks
// the caller; nil accepts any caller, for tests.
func (s *Server) ServeControl(w http.ResponseWriter, r *http.Request, verify func(*http.Request, []byte) error) {
	if err := c3phttp.Serve(w, r, verify, s.answerC3P); errors.Is(err, c3phttp.ErrUntrusted) {
		s.log.WarnContext(r.Context(), "IM MCU control request refused", "remote", r.RemoteAddr, "err", err)
	}
}

// answerC3P runs a command and returns its C3P response.
func (s *Server) answerC3P(ctx context.Context, req *c3p.Request) *c3p.Response {
	cmd, reason, err := s.control(req)
	if err != nil {
		s.log.InfoContext(ctx, "IM MCU control command refused", "command", req.Command.CommandName(), "reason", reason, "err", err)
		return c3p.NewFailure(req.Header, req.Command.CommandName(), reason, 0).Response
	}
	return c3p.NewResponse(req.Header, c3p.CodeSuccess, cmd)
}

// Failure reasons of control commands, as the A/V MCU gives them.
const (
	reasonNoConference = "conferenceDoesNotExist"
	reasonNoUser       = "userDoesNotExist"
	reasonMalformed    = "requestMalformed"
)

var (
	errMalformed    = errors.New("immcu: malformed command")
	errNoConference = errors.New("immcu: no such conference")
	errNoUser       = errors.New("immcu: no such user")
	errFull         = errors.New("immcu: too many conferences")
	errUnsupported  = errors.New("immcu: unsupported command")
)

// control runs one command; a refusal changes nothing.
func (s *Server) control(req *c3p.Request) (c3p.Command, string, error) {
	switch c := req.Command.(type) {
	case *c3p.AddConference:
		if c.ConferenceInfo == nil {
			return nil, reasonMalformed, errMalformed
		}
		conf, chat, ok := s.conferenceOf(c.ConferenceInfo.Entity)
		if !ok {
			return nil, reasonMalformed, errMalformed
		}
		if err := s.provision(conf); err != nil {
			return nil, c3p.ReasonOtherFailure, err
		}
		return &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{
			Entity: conf,
			Description: &c3p.ConferenceDescription{ConfURIs: []c3p.URIEntry{
				{URI: chat, Purpose: c3p.MCUTypeChat},
			}},
		}}, "", nil
	case *c3p.AddUser:
		if c.Keys == nil || c.User == nil || strings.TrimSpace(c.User.Entity) == "" {
			return nil, reasonMalformed, errMalformed
		}
		conf, _, ok := s.conferenceOf(c.Keys.ConfEntity)
		if !ok {
			return nil, reasonNoConference, errNoConference
		}
		role := roleOf(c.User.Roles)
		if !s.allow(conf, s.canonicalUser(c.User.Entity), role, false) {
			return nil, reasonNoConference, errNoConference
		}
		return &c3p.AddUser{Keys: c.Keys, User: &c3p.User{Entity: c.User.Entity, Roles: []string{role}}}, "", nil
	case *c3p.ModifyUserRoles:
		if c.Keys == nil || c.Keys.UserEntity == "" || len(c.Roles) == 0 {
			return nil, reasonMalformed, errMalformed
		}
		conf, _, ok := s.conferenceOf(c.Keys.ConfEntity)
		if !ok {
			return nil, reasonNoConference, errNoConference
		}
		role := roleOf(c.Roles)
		if !s.allow(conf, s.canonicalUser(c.Keys.UserEntity), role, true) {
			return nil, reasonNoUser, errNoUser
		}
		return &c3p.ModifyUserRoles{Keys: c.Keys, Roles: []string{role}}, "", nil
	case *c3p.DeleteUser:
		if c.Keys == nil || c.Keys.UserEntity == "" {
			return nil, reasonMalformed, errMalformed
		}
		conf, _, ok := s.conferenceOf(c.Keys.ConfEntity)
		if !ok || !s.isProvisioned(conf) {
			return nil, reasonNoConference, errNoConference
		}
		s.Eject(conf, s.canonicalUser(c.Keys.UserEntity))
		return &c3p.DeleteUser{Keys: c.Keys}, "", nil
	case *c3p.ModifyConferenceLock:
		return &c3p.ModifyConferenceLock{Keys: c.Keys, Locked: c.Locked}, "", nil
	case *c3p.DeleteConference:
		entity := ""
		switch {
		case c.Keys != nil && c.Keys.ConfEntity != "":
			entity = c.Keys.ConfEntity
		case c.ConferenceInfo != nil:
			entity = c.ConferenceInfo.Entity
		}
		conf, _, ok := s.conferenceOf(entity)
		if !ok || !s.EndConference(conf) {
			return nil, reasonNoConference, errNoConference
		}
		return &c3p.DeleteConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: conf}}, "", nil
	}
	return nil, c3p.ReasonOtherFailure, errUnsupported
}

// roleOf is the role a roles list gives: presenter if listed, else
// attendee.
func roleOf(roles []string) string {
	for _, r := range roles {
		if strings.EqualFold(strings.TrimSpace(r), c3p.RolePresenter) {
			return c3p.RolePresenter
		}
	}
	return c3p.RoleAttendee
}

// provision makes a conference, or keeps it if it exists.
func (s *Server) provision(conf string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conferences[conf] != nil {
		return nil
	}
	if len(s.conferences) >= s.cfg.MaxConferences {
		return errFull
	}
	s.conferences[conf] = &conference{uri: conf,
		allowed: make(map[string]allowance), members: make(map[string]*participant)}
	s.metrics.Conferences.Add(1)
	return nil
}

func (s *Server) isProvisioned(conf string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conferences[conf] != nil
}

// allow lets entity into conf with role; with existing, only a user
// already allowed is changed. It reports whether it did anything.
func (s *Server) allow(conf, entity, role string, existing bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conferences[conf]
	if c == nil {
		return false
	}
	if _, ok := c.allowed[key(entity)]; existing && !ok {
		return false
	}
	c.allowed[key(entity)] = allowance{entity: entity, role: role}
	return true
}

// Eject ends every IM session of user in conference (the Focus's
// deleteUser) and lets him join no more; it reports how many there were.
func (s *Server) Eject(conference, user string) int {
	s.mu.Lock()
	c := s.conferences[conference]
	if c == nil {
		s.mu.Unlock()
		return 0
	}
	delete(c.allowed, key(user))
	var out []*participant
	for _, p := range c.members {
		if key(p.user) == key(user) {
			out = append(out, p)
		}
	}
	s.mu.Unlock()
	for _, p := range out {
		s.remove(p, "ejected", true)
	}
	return len(out)
}

// EndConference ends everyone's IM session in conference and forgets it
// (the Focus's deleteConference). It reports whether the conference
// existed.
func (s *Server) EndConference(conference string) bool {
	s.mu.Lock()
	c := s.conferences[conference]
	if c == nil {
		s.mu.Unlock()
		return false
	}
	delete(s.conferences, conference)
	s.metrics.Conferences.Add(-1)
	out := make([]*participant, 0, len(c.members))
	for _, p := range c.members {
		out = append(out, p)
	}
	s.mu.Unlock()
	for _, p := range out {
		s.remove(p, "conference ended", true)
	}
	return true
}

// LoadReport is what ServeLoad answers, in the form the Conferencing
// Server Factory reads from every MCU (internal/mcufactory, Load): a
// participant is a "leg".
type LoadReport struct {
	Legs         int   `json:"legs"`
	MaxLegs      int   `json:"max_legs"`
	Conferences  int   `json:"conferences"`
	LagP99Micros int64 `json:"lag_p99_us"`
}

// Load is the server's current load.
func (s *Server) Load() LoadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return LoadReport{
		Legs:        len(s.dialogs),
		MaxLegs:     s.cfg.MaxConferences * s.cfg.MaxParticipants,
		Conferences: len(s.conferences),
	}
}

// ServeLoad answers with the load as JSON.
func (s *Server) ServeLoad(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Load())
}
