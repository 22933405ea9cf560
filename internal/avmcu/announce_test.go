package avmcu

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/media/codec"
)

const (
	annConf  = "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:OPENMEET01"
	annBob   = "sip:bob@parley.test"
	annCarol = "sip:carol@parley.test"
)

// control posts a C3P request to the MCU's control handler and returns
// the parsed response.
func control(t *testing.T, m *MCU, cmd c3p.Command) *c3p.Response {
	t.Helper()
	body, err := (&c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: 1, From: annConf, To: annConf},
		Command: cmd,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/avmcu", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", c3p.ContentType)
	w := httptest.NewRecorder()
	m.ServeControl(w, r, nil)
	res, err := c3p.ParseResponse(w.Body.Bytes())
	if err != nil {
		t.Fatalf("%s: response %d %q: %v", cmd.CommandName(), w.Code, w.Body.String(), err)
	}
	return res
}

// announceRig is an MCU whose conference has bob on two legs (PCMU and
// G.722) and carol on one, as if they had dialed in.
type announceRig struct {
	h                *harness
	m                *MCU
	bob1, bob2, carl *peer
}

func newAnnounceRig(t *testing.T) *announceRig {
	t.Helper()
	h := newMemHarness(t, Config{})
	m := NewMCU(h.e, nil, SIPConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	conf := h.e.Conference(annConf)
	r := &announceRig{h: h, m: m,
		bob1: h.newPeer("bob1", peerOpt{}),
		bob2: h.newPeer("bob2", peerOpt{codec: codec.G722}),
		carl: h.newPeer("carol", peerOpt{}),
	}
	for _, p := range []*peer{r.bob1, r.bob2, r.carl} {
		user := annBob
		if p == r.carl {
			user = annCarol
		}
		c := &call{id: "call-" + p.name, user: user, conf: annConf, leg: p.join(conf)}
		m.mu.Lock()
		m.calls[c.id] = c
		m.mu.Unlock()
		p.start()
	}
	time.Sleep(200 * time.Millisecond)
	return r
}

// onset returns when, in 20 ms windows from the start of x, the f Hz
// component first reaches amplitude 400; -1 if never.
func onset(x []int16, rate int, f float64) int {
	w := rate / 50
	for i := 0; i+w <= len(x); i += w {
		if amplitude(x[i:i+w], rate, f) >= 400 {
			return i / w
		}
	}
	return -1
}

// rms is the root mean square of x.
func rms(x []int16) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

// TestPlayAnnouncementTonesReachOnlyTheUser: the entry tone rises on both
// of bob's legs (8 and 16 kHz) and carol hears nothing of it; the exit
// tone falls, to carol only.
func TestPlayAnnouncementTonesReachOnlyTheUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newAnnounceRig(t)
		defer r.h.stop()
		marks := map[*peer]int{r.bob1: r.bob1.mark(), r.bob2: r.bob2.mark(), r.carl: r.carl.mark()}
		res := control(t, r.m, &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: annConf, UserEntity: annBob}, Tone: c3p.ToneEntry})
		if res.Code != c3p.CodeSuccess {
			t.Fatalf("entry tone: %s %s", res.Code, res.Reason)
		}
		if p, ok := res.Command.(*c3p.PlayAnnouncement); !ok || p.Legs == nil || *p.Legs != 2 {
			t.Errorf("answer %+v, want 2 legs", res.Command)
		}
		time.Sleep(600 * time.Millisecond)
		for _, p := range []*peer{r.bob1, r.bob2} {
			a := p.since(marks[p])
			rate := p.opt.codec.SampleRate
			lo, hi := onset(a, rate, toneLow), onset(a, rate, toneHigh)
			if lo < 0 || hi < 0 || hi <= lo {
				t.Errorf("%s: onsets low %d high %d (20 ms windows), want a rising pair", p.name, lo, hi)
			}
		}
		quiet := r.carl.since(marks[r.carl])
		hears(t, r.carl, quiet, map[float64]bool{toneLow: false, toneHigh: false})

		marks = map[*peer]int{r.bob1: r.bob1.mark(), r.carl: r.carl.mark()}
		res = control(t, r.m, &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: annConf, UserEntity: "<" + annCarol + ">"}, Tone: c3p.ToneExit})
		if res.Code != c3p.CodeSuccess {
			t.Fatalf("exit tone: %s %s", res.Code, res.Reason)
		}
		time.Sleep(600 * time.Millisecond)
		a := r.carl.since(marks[r.carl])
		lo, hi := onset(a, 8000, toneLow), onset(a, 8000, toneHigh)
		if lo < 0 || hi < 0 || lo <= hi {
			t.Errorf("carol: onsets low %d high %d, want a falling pair", lo, hi)
		}
		hears(t, r.bob1, r.bob1.since(marks[r.bob1]), map[float64]bool{toneLow: false, toneHigh: false})
	})
}

// TestPlayAnnouncementPrompt: a prompt is heard by the user's leg only.
func TestPlayAnnouncementPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newAnnounceRig(t)
		defer r.h.stop()
		mb, mc := r.bob1.mark(), r.carl.mark()
		before := rms(r.carl.since(0))
		res := control(t, r.m, &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: annConf, UserEntity: annCarol},
			Prompts: []string{"you_are_muted"}, Language: "fr-FR"})
		if res.Code != c3p.CodeSuccess {
			t.Fatalf("prompt: %s %s", res.Code, res.Reason)
		}
		time.Sleep(2 * time.Second)
		if got := rms(r.carl.since(mc)); got < 300 || before > 10 {
			t.Errorf("carol: rms %.0f during the prompt (before %.0f), want speech", got, before)
		}
		if got := rms(r.bob1.since(mb)); got > 10 {
			t.Errorf("bob heard carol's prompt: rms %.0f", got)
		}
	})
}

func TestPlayAnnouncementRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newAnnounceRig(t)
		defer r.h.stop()
		keys := &c3p.UserKeys{ConfEntity: annConf, UserEntity: annBob}
		for name, tc := range map[string]struct {
			cmd    *c3p.PlayAnnouncement
			reason string
		}{
			"no keys":          {&c3p.PlayAnnouncement{Tone: c3p.ToneEntry}, reasonMalformed},
			"nothing to play":  {&c3p.PlayAnnouncement{Keys: keys}, reasonMalformed},
			"both":             {&c3p.PlayAnnouncement{Keys: keys, Tone: c3p.ToneEntry, Prompts: []string{"help"}}, reasonMalformed},
			"unknown tone":     {&c3p.PlayAnnouncement{Keys: keys, Tone: "siren"}, reasonMalformed},
			"unknown prompt":   {&c3p.PlayAnnouncement{Keys: keys, Prompts: []string{"no_such_prompt"}}, reasonMalformed},
			"placeholder":      {&c3p.PlayAnnouncement{Keys: keys, Prompts: []string{"language_option"}}, reasonMalformed},
			"too many prompts": {&c3p.PlayAnnouncement{Keys: keys, Prompts: strings.Fields(strings.Repeat("help ", 9))}, reasonMalformed},
			"bad conference":   {&c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: "sip:x@y", UserEntity: annBob}, Tone: c3p.ToneEntry}, reasonNoConference},
			"no legs":          {&c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: annConf, UserEntity: "sip:dave@parley.test"}, Tone: c3p.ToneEntry}, reasonNoUser},
		} {
			res := control(t, r.m, tc.cmd)
			if res.Code != c3p.CodeFailure || res.Reason != tc.reason {
				t.Errorf("%s: %s %q, want failure %q", name, res.Code, res.Reason, tc.reason)
			}
		}
	})
}
