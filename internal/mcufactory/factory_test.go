package mcufactory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
)

// fakeMCU answers /load with a settable load and /c3p addConference with
// the conference's A/V URI; it can be made to fail.
type fakeMCU struct {
	srv       *httptest.Server
	mu        sync.Mutex
	load      Load
	down      atomic.Bool
	refuse    atomic.Bool
	provision atomic.Int32
}

func newFakeMCU(t *testing.T, load Load) *fakeMCU {
	t.Helper()
	m := &fakeMCU{load: load}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMCU) serve(w http.ResponseWriter, r *http.Request) {
	if m.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/load":
		m.mu.Lock()
		_ = json.NewEncoder(w).Encode(m.load)
		m.mu.Unlock()
	case "/c3p":
		body, _ := io.ReadAll(r.Body)
		req, err := c3p.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		add := req.Command.(*c3p.AddConference)
		m.provision.Add(1)
		var res *c3p.Response
		if m.refuse.Load() {
			res = c3p.NewFailure(req.Header, "addConference", "otherFailure", 0).Response
		} else {
			org, _, key, _ := c3p.ParseConferenceURI(add.ConferenceInfo.Entity)
			res = c3p.NewResponse(req.Header, c3p.CodeSuccess, &c3p.AddConference{ConferenceInfo: &c3p.ConferenceInfo{
				Entity: add.ConferenceInfo.Entity,
				Description: &c3p.ConferenceDescription{ConfURIs: []c3p.URIEntry{
					{URI: c3p.ConferenceURI(org, "audio-video", key), Purpose: "audio-video"},
				}},
			}})
		}
		b, _ := res.Marshal()
		w.Header().Set("Content-Type", c3p.ContentType)
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func (m *fakeMCU) setLoad(l Load) {
	m.mu.Lock()
	m.load = l
	m.mu.Unlock()
}

func conf(key string) string { return c3p.ConferenceURI("sip:alice@parley.test", "focus", key) }

func newFactory(t *testing.T, onReassign func(old, new Assignment), mcus ...*fakeMCU) *Factory {
	t.Helper()
	var list []MCU
	for _, m := range mcus {
		list = append(list, MCU{URL: m.srv.URL, Type: c3p.MCUTypeAudioVideo})
	}
	f := New(Config{MCUs: list, DeadAfter: 2, OnReassign: onReassign}, slog.New(slog.DiscardHandler))
	f.PollOnce(context.Background())
	return f
}

func TestAllocateLeastLoaded(t *testing.T) {
	ctx := context.Background()
	busy := newFakeMCU(t, Load{Legs: 600, MaxLegs: 1000})
	idle := newFakeMCU(t, Load{Legs: 100, MaxLegs: 1000})
	lagging := newFakeMCU(t, Load{Legs: 50, MaxLegs: 1000, LagP99Micros: 9000})
	f := newFactory(t, nil, busy, idle, lagging)

	a, err := f.Allocate(ctx, conf("AAAAAAAA1"), c3p.MCUTypeAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	if a.MCUURL != idle.srv.URL || !strings.Contains(a.MCUURI, "opaque=app:conf:audio-video:id:AAAAAAAA1") {
		t.Errorf("assignment = %+v, want the idle MCU %s (the lagging one counts as busy)", a, idle.srv.URL)
	}
	// The same conference stays where it is, without provisioning again.
	again, _ := f.Allocate(ctx, conf("AAAAAAAA1"), c3p.MCUTypeAudioVideo)
	if again != a || idle.provision.Load() != 1 {
		t.Errorf("second allocation %+v (provisioned %d times), want the same without a new addConference", again, idle.provision.Load())
	}
	// Unknown type: no MCU.
	if _, err := f.Allocate(ctx, conf("AAAAAAAA1"), "chat"); !errors.Is(err, ErrNoMCU) {
		t.Errorf("chat: %v, want ErrNoMCU", err)
	}
	// A full MCU is skipped even when it looks least loaded by lag.
	idle.setLoad(Load{Legs: 1000, MaxLegs: 1000})
	f.PollOnce(ctx)
	b, err := f.Allocate(ctx, conf("BBBBBBBB2"), c3p.MCUTypeAudioVideo)
	if err != nil || b.MCUURL == idle.srv.URL {
		t.Errorf("with the idle MCU full: %+v, %v", b, err)
	}
}

func TestAllocateSpreadsBurst(t *testing.T) {
	ctx := context.Background()
	m1 := newFakeMCU(t, Load{MaxLegs: 10})
	m2 := newFakeMCU(t, Load{MaxLegs: 10})
	f := newFactory(t, nil, m1, m2)
	count := map[string]int{}
	for i := range 10 {
		a, err := f.Allocate(ctx, conf("BURSTKEY"+string(rune('A'+i))), c3p.MCUTypeAudioVideo)
		if err != nil {
			t.Fatal(err)
		}
		count[a.MCUURL]++
	}
	if count[m1.srv.URL] != 5 || count[m2.srv.URL] != 5 {
		t.Errorf("a burst between polls went %v, want 5 and 5", count)
	}
}

func TestProvisionRefusedFallsBack(t *testing.T) {
	ctx := context.Background()
	refusing := newFakeMCU(t, Load{MaxLegs: 100})
	ok := newFakeMCU(t, Load{Legs: 50, MaxLegs: 100})
	refusing.refuse.Store(true)
	f := newFactory(t, nil, refusing, ok)
	a, err := f.Allocate(ctx, conf("REFUSED01"), c3p.MCUTypeAudioVideo)
	if err != nil || a.MCUURL != ok.srv.URL {
		t.Errorf("= %+v, %v; want the MCU that accepts", a, err)
	}
	ok.refuse.Store(true)
	if _, err := f.Allocate(ctx, conf("REFUSED02"), c3p.MCUTypeAudioVideo); !errors.Is(err, ErrNoMCU) {
		t.Errorf("all refuse: %v, want ErrNoMCU", err)
	}
}

func TestDeadMCUReassigned(t *testing.T) {
	ctx := context.Background()
	m1 := newFakeMCU(t, Load{MaxLegs: 100})
	m2 := newFakeMCU(t, Load{Legs: 10, MaxLegs: 100})
	var moved []Assignment
	f := newFactory(t, func(old, new Assignment) { moved = append(moved, old, new) }, m1, m2)
	a, err := f.Allocate(ctx, conf("MOVEME001"), c3p.MCUTypeAudioVideo)
	if err != nil || a.MCUURL != m1.srv.URL {
		t.Fatalf("= %+v, %v", a, err)
	}
	m1.down.Store(true)
	f.PollOnce(ctx) // one failure: still alive
	if len(moved) != 0 {
		t.Fatal("reassigned after one failed poll")
	}
	f.PollOnce(ctx) // DeadAfter = 2
	if len(moved) != 2 || moved[1].MCUURL != m2.srv.URL || moved[0].MCUURL != m1.srv.URL {
		t.Fatalf("moves = %+v, want one from %s to %s", moved, m1.srv.URL, m2.srv.URL)
	}
	if b, _ := f.Allocate(ctx, conf("MOVEME001"), c3p.MCUTypeAudioVideo); b.MCUURL != m2.srv.URL {
		t.Errorf("after the move, Allocate = %+v", b)
	}
	// Back up: it takes new conferences again.
	m1.down.Store(false)
	f.PollOnce(ctx)
	if c, _ := f.Allocate(ctx, conf("NEWCONF01"), c3p.MCUTypeAudioVideo); c.MCUURL != m1.srv.URL {
		t.Errorf("the revived, idle MCU did not get the new conference: %+v", c)
	}
}

func TestHandler(t *testing.T) {
	m := newFakeMCU(t, Load{MaxLegs: 100})
	f := newFactory(t, nil, m)
	h := httptest.NewServer(f.Handler(nil))
	defer h.Close()
	body, _ := json.Marshal(AllocateRequest{Conference: conf("HANDLER01"), Type: c3p.MCUTypeAudioVideo})
	resp, err := http.Post(h.URL+"/allocate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var a Assignment
	_ = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if resp.StatusCode != 200 || a.MCUURL != m.srv.URL {
		t.Errorf("POST /allocate = %d %+v", resp.StatusCode, a)
	}
	for _, bad := range []string{"", "{}", "not json", `{"conference":"x"}`} {
		resp, err := http.Post(h.URL+"/allocate", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %q = %d, want 400", bad, resp.StatusCode)
		}
	}
	denied := httptest.NewServer(f.Handler(func(*http.Request, []byte) error { return errors.New("no") }))
	defer denied.Close()
	resp, err = http.Post(denied.URL+"/allocate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unverified = %d, want 403", resp.StatusCode)
	}
}
