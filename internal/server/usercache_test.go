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
