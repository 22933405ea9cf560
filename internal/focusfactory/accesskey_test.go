package focusfactory_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focusfactory"
)

// TestOpenAccessKey: the conference key a meeting was scheduled with comes
// back in the clear for the digest of an anonymous join, with the
// meeting's admission; none when it has none; a sealed key moved to
// another meeting does not open; a missing meeting is ErrNotFound.
func TestOpenAccessKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	schedule := func(key string, admission c3p.AdmissionPolicy, conferenceKey *string) {
		t.Helper()
		cmd := h.addConference(addMeeting{key: key, admission: admission})
		cmd.ConferenceInfo.Description.ConferenceKey = conferenceKey
		h.call(alice, cmd).ok(t)
	}
	secret, other := "Open Sesame 42", "another key"
	schedule("ANONKEYED1", c3p.AdmissionAnonymous, &secret)
	schedule("ANONKEYED2", c3p.AdmissionAnonymous, &other)
	schedule("ANONOPEN01", c3p.AdmissionAnonymous, nil)
	schedule("OPENKEYED1", c3p.AdmissionOpenAuthenticated, &secret)

	tests := []struct {
		key  string
		want focusfactory.AnonymousAccess
	}{
		{"ANONKEYED1", focusfactory.AnonymousAccess{Admission: directory.AdmitAnonymous, Key: secret}},
		{"ANONKEYED2", focusfactory.AnonymousAccess{Admission: directory.AdmitAnonymous, Key: other}},
		{"ANONOPEN01", focusfactory.AnonymousAccess{Admission: directory.AdmitAnonymous}},
		{"OPENKEYED1", focusfactory.AnonymousAccess{Admission: directory.AdmitOpen, Key: secret}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := h.ff.OpenAccessKey(ctx, alice, tt.key)
			if err != nil || got != tt.want {
				t.Fatalf("OpenAccessKey = %v (key %t), %v; want %v", got, got.Key == tt.want.Key, err, tt.want)
			}
		})
	}
	m, err := h.db.Meeting(ctx, alice, "ANONKEYED1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.AccessKey), secret) {
		t.Fatal("the conference key is stored in the clear")
	}

	if _, err := h.ff.OpenAccessKey(ctx, alice, "NOSUCHMEET1"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing meeting: %v, want ErrNotFound", err)
	}
	// ANONKEYED1's sealed key copied into ANONKEYED2 is bound to the
	// other meeting: it must fail, not open to "" or to a key.
	if _, err := h.db.UpdateMeeting(ctx, alice, "ANONKEYED2", func(p *directory.Meeting) error {
		p.AccessKey = m.AccessKey
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := h.ff.OpenAccessKey(ctx, alice, "ANONKEYED2"); err == nil || errors.Is(err, directory.ErrNotFound) || got.Key != "" {
		t.Errorf("moved sealed key: %v, %v; want an error", got, err)
	}
}

// TestAnonymousAccessHidesKey: printing or logging the access leaves the
// key out.
func TestAnonymousAccessHidesKey(t *testing.T) {
	a := focusfactory.AnonymousAccess{Admission: directory.AdmitAnonymous, Key: "Open Sesame 42"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("access", "a", a)
	b.WriteString(fmt.Sprint(a) + fmt.Sprintf("%v %+v %s", a, a, a))
	if strings.Contains(b.String(), a.Key) {
		t.Errorf("the key shows:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "has_key=true") {
		t.Errorf("the output does not say there is a key:\n%s", b.String())
	}
}
