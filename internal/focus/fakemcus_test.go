package focus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/parleyhq/parley/internal/c3p"
)

// The harness's Conferencing Server Factory: one MCU of each type, which
// obeys and records what it is told.

// mcuCall is one command the fake MCUs received.
type mcuCall struct {
	name string
	user string // user entity, when the command has one
	cmd  c3p.Command
}

// fakeMCUs is a Conferencing Server Factory with one MCU of each type
// that obeys, recording what each MCU type is told.
type fakeMCUs struct {
	mu        sync.Mutex
	calls     map[string][]mcuCall // by MCU type
	allocs    map[string]int       // Allocate calls by type
	allocated map[string]bool      // by type and conference
	released  map[string][]string  // conferences released, by type
	fail      map[string]bool      // "type command" to refuse
	missing   map[string]bool      // types the factory has none of
}

// mcuBase is where the fake MCUs' control URLs start; the type follows.
const mcuBase = "https://fe.parley.test/mcu/"

// av and chat are the MCU types, short.
const (
	av   = c3p.MCUTypeAudioVideo
	chat = c3p.MCUTypeChat
)

func newFakeMCUs() *fakeMCUs {
	return &fakeMCUs{
		calls: make(map[string][]mcuCall), allocs: make(map[string]int), allocated: make(map[string]bool),
		released: make(map[string][]string), fail: make(map[string]bool), missing: make(map[string]bool),
	}
}

func (m *fakeMCUs) Allocate(_ context.Context, conference, mcuType string) (string, string, error) {
	org, _, key, _ := c3p.ParseConferenceURI(conference)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.allocs[mcuType]++
	if m.missing[mcuType] {
		return "", "", fmt.Errorf("no live conferencing server of type %s", mcuType)
	}
	m.allocated[mcuType+" "+conference] = true
	return mcuBase + mcuType, c3p.ConferenceURI(org, mcuType, key), nil
}

func (m *fakeMCUs) Command(_ context.Context, url string, cmd c3p.Command) (*c3p.Response, error) {
	typ, ok := strings.CutPrefix(url, mcuBase)
	if !ok {
		return nil, fmt.Errorf("no MCU at %s", url)
	}
	call := mcuCall{name: cmd.CommandName(), cmd: cmd}
	switch c := cmd.(type) {
	case *c3p.AddUser:
		call.user = c.User.Entity
	case *c3p.DeleteUser:
		call.user = c.Keys.UserEntity
	case *c3p.ModifyEndpointMedia:
		call.user = c.Keys.UserEntity
	case *c3p.PlayAnnouncement:
		call.user = c.Keys.UserEntity
	}
	m.mu.Lock()
	m.calls[typ] = append(m.calls[typ], call)
	fail := m.fail[typ+" "+call.name]
	m.mu.Unlock()
	h := c3p.Header{Version: c3p.Version, RequestID: 1, From: "focus", To: url}
	if fail {
		return c3p.NewFailure(h, call.name, "userDoesNotExist", 0).Response, nil
	}
	return c3p.NewResponse(h, c3p.CodeSuccess, cmd), nil
}

func (m *fakeMCUs) Release(conference, mcuType string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.allocated, mcuType+" "+conference)
	m.released[mcuType] = append(m.released[mcuType], conference)
}

// log returns the A/V MCU's commands so far as "name user" lines.
func (m *fakeMCUs) log() []string { return m.logOf(av) }

// logOf returns an MCU type's commands so far as "name user" lines.
func (m *fakeMCUs) logOf(typ string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.calls[typ]))
	for _, c := range m.calls[typ] {
		out = append(out, strings.TrimSpace(c.name+" "+c.user))
	}
	return out
}

// commands returns the A/V MCU's commands so far.
func (m *fakeMCUs) commands() []mcuCall { return m.commandsOf(av) }

// commandsOf returns an MCU type's commands so far.
func (m *fakeMCUs) commandsOf(typ string) []mcuCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mcuCall(nil), m.calls[typ]...)
}

// releasedOf returns the conferences whose MCU of a type was released.
func (m *fakeMCUs) releasedOf(typ string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.released[typ]...)
}

// allocations counts the Allocate calls for a type.
func (m *fakeMCUs) allocations(typ string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.allocs[typ]
}

// setFail makes the A/V MCU refuse a command, or obey again.
func (m *fakeMCUs) setFail(name string, fail bool) {
	m.mu.Lock()
	m.fail[av+" "+name] = fail
	m.mu.Unlock()
}

// setMissing makes the factory have no MCU of a type, or have one again.
func (m *fakeMCUs) setMissing(typ string, missing bool) {
	m.mu.Lock()
	m.missing[typ] = missing
	m.mu.Unlock()
}
