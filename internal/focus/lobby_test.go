package focus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"
)

// The attendant's hold (seed 001 step 10) and the dial-out that fetches a
// caller's audio (step 11).

func TestWaitEnterprise(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)

	// An anonymous caller in the meeting does not end the wait.
	if _, err := h.f().AddDialInUser(context.Background(), anonConf, focus.DialIn{CallerID: "+14255550199"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.f().WaitEnterprise(ctx, anonConf); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with no enterprise user = %v, want context.Canceled", err)
	}

	done := make(chan error, 1)
	go func() { done <- h.f().WaitEnterprise(context.Background(), anonConf) }()
	a := newPhone(h, alice).join(anonConf)
	a.ok()
	if err := <-done; err != nil {
		t.Fatalf("wait after alice joined = %v", err)
	}
	// Once present, a new wait returns at once.
	if err := h.f().WaitEnterprise(ctx, anonConf); err != nil {
		t.Errorf("wait with alice in = %v, want nil", err)
	}
	if err := h.f().WaitEnterprise(ctx, "sip:alice@parley.test"); !errors.Is(err, focus.ErrInvalid) {
		t.Errorf("wait on a user URI = %v, want ErrInvalid", err)
	}
}

func TestDialInReferTo(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)
	const target = "sip:mediation@127.0.0.1:5068;transport=tcp?Replaces=c1%3Bto-tag%3Da%3Bfrom-tag%3Db"
	entity, err := h.f().AddDialInUser(context.Background(), anonConf, focus.DialIn{ReferTo: target})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := h.f().AddDialInUser(context.Background(), anonConf, focus.DialIn{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]c3p.Endpoint{}
	for _, c := range h.mcus.commands() {
		if add, ok := c.cmd.(*c3p.AddUser); ok {
			got[add.User.Entity] = add.User.Endpoints
		}
	}
	eps := got[entity]
	if len(eps) != 1 || eps[0].ReferToURI != target || eps[0].JoiningMethod != c3p.JoiningDialedOut || eps[0].Entity == "" {
		t.Errorf("addUser endpoints for the transferred caller = %+v, want one dialed-out endpoint to %s", eps, target)
	}
	if eps := got[plain]; len(eps) != 0 {
		t.Errorf("addUser endpoints for a caller without ReferTo = %+v, want none", eps)
	}
}
