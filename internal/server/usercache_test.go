package server

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store"
)

func TestUserCache(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutOrganization(ctx, directory.Organization{Name: "T", Domains: []string{"t.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPool(ctx, directory.Pool{FQDN: "pool.t.test", ID: "10", PSTN: directory.DefaultPSTNSettings()}); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	c := newUserCache(db, 5*time.Second)
	c.now = func() time.Time { return now }
	const uri = "sip:ann@t.test"

	if _, err := c.User(ctx, uri); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("User(missing) = %v; want ErrNotFound", err)
	}
	// Created through the cache: the cached miss is forgotten at once.
	if err := c.CreateUser(ctx, directory.User{URI: uri, Pool: "pool.t.test", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if u, err := c.User(ctx, uri); err != nil || !u.Enabled {
		t.Fatalf("User after create = %+v, %v", u, err)
	}
	// Disabled through the cache: seen at once.
	if _, err := c.UpdateUser(ctx, uri, func(u *directory.User) error { u.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.User(ctx, uri); u.Enabled {
		t.Fatal("User after disable still enabled")
	}
	// Changed behind the cache's back (another server): seen after the TTL.
	if _, err := db.UpdateUser(ctx, uri, func(u *directory.User) error { u.DisplayName = "Ann"; return nil }); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.User(ctx, uri); u.DisplayName != "" {
		t.Fatal("cache read through before the TTL")
	}
	now = now.Add(6 * time.Second)
	if u, _ := c.User(ctx, uri); u.DisplayName != "Ann" {
		t.Fatalf("after TTL DisplayName = %q; want Ann", u.DisplayName)
	}
	if err := c.DeleteUser(ctx, uri); err != nil {
		t.Fatal(err)
	}
	if _, err := c.User(ctx, uri); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("User after delete = %v; want ErrNotFound", err)
	}
}

// TestUserCacheRefresh: the periodic refresh takes other servers' changes
// incrementally, keeps unchanged users alive, and learns of deletions at
// the next full reload.
func TestUserCacheRefresh(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutOrganization(ctx, directory.Organization{Name: "T", Domains: []string{"t.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPool(ctx, directory.Pool{FQDN: "pool.t.test", ID: "10", PSTN: directory.DefaultPSTNSettings()}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"sip:ann@t.test", "sip:ben@t.test"} {
		if err := db.CreateUser(ctx, directory.User{URI: u, Pool: "pool.t.test", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	c := newUserCache(db, time.Hour)
	if err := c.refresh(ctx); err != nil { // full: nothing loaded yet
		t.Fatal(err)
	}
	full := c.lastFull
	// Behind the cache's back: ann renamed, ben deleted.
	if _, err := db.UpdateUser(ctx, "sip:ann@t.test", func(u *directory.User) error { u.DisplayName = "Ann"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "sip:ben@t.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.refresh(ctx); err != nil { // incremental
		t.Fatal(err)
	}
	if c.lastFull != full {
		t.Fatal("the second refresh reloaded everything; want an incremental one")
	}
	if u, _ := c.User(ctx, "sip:ann@t.test"); u.DisplayName != "Ann" {
		t.Errorf("after an incremental refresh ann is %+v; want the rename", u)
	}
	if _, err := c.User(ctx, "sip:ben@t.test"); err != nil {
		t.Errorf("ben dropped before a full reload: %v (deletes are only seen then)", err)
	}
	c.lastFull = c.lastFull.Add(-fullEvery) // the next refresh is a full one
	if err := c.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.User(ctx, "sip:ben@t.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("after a full reload ben = %v; want ErrNotFound", err)
	}
}
