// Package mcufactory is the Conferencing Server Factory of seed 003: "When
// the Focus requests a particular conferencing server for a meeting, the
// Focus sends the request to Conferencing Service Factory, which determines
// which conferencing server is available to service the request and returns
// its URL to the Focus. [It] is responsible for provisioning a meeting for a
// particular media type on a Conferencing Server [...] and takes into
// account the current load on the Conferencing Servers before assigning one
// to a meeting."
//
// The factory knows the pool's MCUs by their control URLs, polls their load
// (GET URL/load), assigns each conference to the least loaded live MCU of
// the media type asked for, provisions it there (a C3P addConference over
// HTTP), and keeps the assignment while the MCU answers. When an MCU stops
// answering, its conferences are assigned again elsewhere and the Focus is
// told, so that it can move its participants.
package mcufactory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
)

// MCU is one conferencing server of the pool.
type MCU struct {
	// URL is its control base URL: URL/c3p takes C3P commands, URL/load
	// reports its load.
	URL string
	// Type is its media type (c3p.MCUTypeAudioVideo, ...).
	Type string
}

// Load is what an MCU reports at URL/load: the subset of its engine's load
// the factory chooses by.
type Load struct {
	Legs    int `json:"legs"`
	MaxLegs int `json:"max_legs"`
	// LagP99Micros is the 99th percentile of its tick lag: a busy MCU is
	// late before it is full.
	LagP99Micros int64 `json:"lag_p99_us"`
}

// Assignment is where a conference's media of one type is served.
type Assignment struct {
	Conference string `json:"conference"`
	Type       string `json:"type"`
	// MCUURL is the MCU's control URL; MCUURI is the conference's URI on
	// it, which clients INVITE.
	MCUURL string `json:"mcu_url"`
	MCUURI string `json:"mcu_uri"`
}

// Errors of Allocate.
var (
	ErrNoMCU       = errors.New("mcufactory: no live conferencing server of that type")
	ErrProvision   = errors.New("mcufactory: the conferencing server refused the conference")
	ErrUnknownType = errors.New("mcufactory: unknown media type")
)

// Config configures a Factory.
type Config struct {
	// MCUs are the pool's conferencing servers.
	MCUs []MCU
	// Client makes the HTTP requests; nil means a client with a 5 s
	// timeout.
	Client *http.Client
	// Sign signs a request to an MCU (trusted-role signature); nil sends
	// them unsigned.
	Sign func(req *http.Request, body []byte) error
	// PollInterval is how often loads are read; default 2 s.
	PollInterval time.Duration
	// DeadAfter is how many failed polls in a row make an MCU dead;
	// default 3.
	DeadAfter int
	// OnReassign is told when a conference moves to another MCU because
	// its MCU died (called from the poller's goroutine).
	OnReassign func(old, new Assignment)
}

// Factory assigns conferences to MCUs. It is safe for concurrent use.
type Factory struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	state    map[string]*mcuState  // by URL
	assigned map[string]Assignment // by conference + "\x00" + type
}

type mcuState struct {
	MCU
	load     Load
	alive    bool
	failures int
	// pending counts assignments made since the last poll, so that a
	// burst of allocations spreads before the next load report.
	pending int
}

// New returns a factory. MCUs are taken to be alive until polls say
// otherwise.
func New(cfg Config, log *slog.Logger) *Factory {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 3
	}
	f := &Factory{cfg: cfg, log: log, state: make(map[string]*mcuState), assigned: make(map[string]Assignment)}
	for _, m := range cfg.MCUs {
		f.state[m.URL] = &mcuState{MCU: m, alive: true}
	}
	return f
}

func assignKey(conference, typ string) string { return conference + "\x00" + typ }

// Allocate returns the MCU serving conference's media of type typ,
// assigning and provisioning one if there is none or if its MCU died.
func (f *Factory) Allocate(ctx context.Context, conference, typ string) (Assignment, error) {
	f.mu.Lock()
	if a, ok := f.assigned[assignKey(conference, typ)]; ok && f.state[a.MCUURL].alive {
		f.mu.Unlock()
		return a, nil
	}
	candidates := f.candidates(typ, "")
	f.mu.Unlock()
	if len(candidates) == 0 {
		return Assignment{}, fmt.Errorf("%w: %s", ErrNoMCU, typ)
	}
	var errs []error
	for _, m := range candidates {
		a, err := f.provision(ctx, m, conference, typ)
		if err == nil {
			f.mu.Lock()
			// Another caller may have won the race: keep the first.
			if prev, ok := f.assigned[assignKey(conference, typ)]; ok && f.state[prev.MCUURL].alive {
				f.mu.Unlock()
				return prev, nil
			}
			f.assigned[assignKey(conference, typ)] = a
			f.state[m.URL].pending++
			f.mu.Unlock()
			return a, nil
		}
		errs = append(errs, err)
		f.markFailure(m.URL)
	}
	return Assignment{}, errors.Join(append([]error{fmt.Errorf("%w: %s", ErrNoMCU, typ)}, errs...)...)
}

// Release forgets a conference's assignment (the Focus deactivated it).
func (f *Factory) Release(conference, typ string) {
	f.mu.Lock()
	delete(f.assigned, assignKey(conference, typ))
	f.mu.Unlock()
}

// candidates are the live MCUs of a type, least loaded first, without
// exclude. The caller holds f.mu.
func (f *Factory) candidates(typ, exclude string) []MCU {
	var live []*mcuState
	for _, s := range f.state {
		if s.Type == typ && s.alive && s.URL != exclude {
			live = append(live, s)
		}
	}
	sort.Slice(live, func(i, j int) bool {
		si, sj := score(live[i]), score(live[j])
		if si != sj {
			return si < sj
		}
		return live[i].URL < live[j].URL
	})
	out := make([]MCU, 0, len(live))
	for _, s := range live {
		if s.load.MaxLegs > 0 && s.load.Legs+s.pending >= s.load.MaxLegs {
			continue // full
		}
		out = append(out, s.MCU)
	}
	return out
}

// score orders MCUs by load: the share of capacity in use, with a busy
// tick (lag over 5 ms at p99) counting as nearly full.
func score(s *mcuState) float64 {
	capacity := max(s.load.MaxLegs, 1)
	share := float64(s.load.Legs+s.pending) / float64(capacity)
	if s.load.LagP99Micros > 5000 {
		share += 0.5
	}
	return share
}

// provision asks an MCU to host the conference: C3P addConference over
// HTTP, whose answer names the conference's URI on the MCU.
func (f *Factory) provision(ctx context.Context, m MCU, conference, typ string) (Assignment, error) {
	body, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: 1, From: conference, To: m.URL},
		Command: &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{Entity: conference}},
	}).Marshal()
	if err != nil {
		return Assignment{}, err
	}
	res, err := f.post(ctx, m.URL+"/c3p", body)
	if err != nil {
		return Assignment{}, err
	}
	add, ok := res.Command.(*c3p.AddConference)
	if res.Code != c3p.CodeSuccess || !ok || add.ConferenceInfo == nil || add.ConferenceInfo.Description == nil {
		return Assignment{}, fmt.Errorf("%w: %s answered %s (%s)", ErrProvision, m.URL, res.Code, res.Reason)
	}
	for _, u := range add.ConferenceInfo.Description.ConfURIs {
		if u.Purpose == typ {
			return Assignment{Conference: conference, Type: typ, MCUURL: m.URL, MCUURI: u.URI}, nil
		}
	}
	return Assignment{}, fmt.Errorf("%w: %s gave no %s URI", ErrProvision, m.URL, typ)
}

// post sends a C3P request to an MCU and reads its C3P response.
func (f *Factory) post(ctx context.Context, url string, body []byte) (*c3p.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c3p.ContentType)
	if f.cfg.Sign != nil {
		if err := f.cfg.Sign(req, body); err != nil {
			return nil, err
		}
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c3p.MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return c3p.ParseResponse(b)
}

// Run polls the MCUs until ctx is done.
func (f *Factory) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.PollInterval)
	defer t.Stop()
	for {
		f.PollOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollOnce reads every MCU's load once, marks those that do not answer,
// and moves the conferences of MCUs that died.
func (f *Factory) PollOnce(ctx context.Context) {
	f.mu.Lock()
	mcus := make([]MCU, 0, len(f.state))
	for _, s := range f.state {
		mcus = append(mcus, s.MCU)
	}
	f.mu.Unlock()
	for _, m := range mcus {
		load, err := f.readLoad(ctx, m.URL)
		if err != nil {
			if f.markFailure(m.URL) {
				f.log.WarnContext(ctx, "conferencing server stopped answering", "mcu", m.URL, "err", err)
				f.reassign(ctx, m.URL)
			}
			continue
		}
		f.mu.Lock()
		s := f.state[m.URL]
		if !s.alive {
			f.log.InfoContext(ctx, "conferencing server answers again", "mcu", m.URL)
		}
		s.load, s.alive, s.failures, s.pending = load, true, 0, 0
		f.mu.Unlock()
	}
}

// markFailure counts a failed request and reports whether it just made
// the MCU dead.
func (f *Factory) markFailure(url string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.state[url]
	s.failures++
	if s.alive && s.failures >= f.cfg.DeadAfter {
		s.alive = false
		return true
	}
	return false
}

// reassign moves a dead MCU's conferences to live ones.
func (f *Factory) reassign(ctx context.Context, dead string) {
	f.mu.Lock()
	var moving []Assignment
	for _, a := range f.assigned {
		if a.MCUURL == dead {
			moving = append(moving, a)
		}
	}
	f.mu.Unlock()
	for _, old := range moving {
		f.mu.Lock()
		delete(f.assigned, assignKey(old.Conference, old.Type))
		f.mu.Unlock()
		a, err := f.Allocate(ctx, old.Conference, old.Type)
		if err != nil {
			f.log.ErrorContext(ctx, "a conference lost its conferencing server and none can take it", "conference", old.Conference, "err", err)
			continue
		}
		f.log.InfoContext(ctx, "conference moved to another conferencing server", "conference", old.Conference, "from", dead, "to", a.MCUURL)
		if f.cfg.OnReassign != nil {
			f.cfg.OnReassign(old, a)
		}
	}
}

func (f *Factory) readLoad(ctx context.Context, url string) (Load, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/load", nil)
	if err != nil {
		return Load{}, err
	}
	if f.cfg.Sign != nil {
		if err := f.cfg.Sign(req, nil); err != nil {
			return Load{}, err
		}
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return Load{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Load{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var l Load
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&l); err != nil {
		return Load{}, fmt.Errorf("load report: %w", err)
	}
	return l, nil
}

// Assignments lists the current assignments, for monitoring.
func (f *Factory) Assignments() []Assignment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Assignment, 0, len(f.assigned))
	for _, a := range f.assigned {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Conference < out[j].Conference })
	return out
}
