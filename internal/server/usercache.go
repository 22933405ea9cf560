package server

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

// userCache keeps recently read users in memory for the SIP hot paths
// (registrar, digest, proxy), where every request would otherwise cost a
// database round trip: on SQLite about half the CPU of a REGISTER. Misses
// are cached too, so a flood of requests for unknown users does not reach the
// database either.
//
// Writes made through this process (the admin API) invalidate the entry at
// once; writes made by another server of a PostgreSQL pool are seen after at
// most ttl.
type userCache struct {
	directory.Store
	ttl    time.Duration
	now    func() time.Time
	seed   maphash.Seed
	shards [32]userShard
	// lastFull and lastLook are when refresh last loaded every user and
	// last asked for changes; only Run's goroutine touches them.
	lastFull, lastLook time.Time
}

type userShard struct {
	mu sync.Mutex
	m  map[string]cachedUser
}

type cachedUser struct {
	u       directory.User
	missing bool
	at      time.Time
}

// maxCachedPerShard bounds memory: a full shard is emptied rather than
// grown, which costs a few extra lookups and never correctness.
const maxCachedPerShard = 1 << 16

func newUserCache(s directory.Store, ttl time.Duration) *userCache {
	c := &userCache{Store: s, ttl: ttl, now: time.Now, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cachedUser)
	}
	return c
}

func (c *userCache) shard(uri string) *userShard {
	return &c.shards[maphash.String(c.seed, uri)%uint64(len(c.shards))]
}

// User returns the user from the cache or the store.
func (c *userCache) User(ctx context.Context, uri string) (directory.User, error) {
	sh := c.shard(uri)
	now := c.now()
	sh.mu.Lock()
	e, ok := sh.m[uri]
	sh.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		if e.missing {
			return directory.User{}, directory.ErrNotFound
		}
		return e.u, nil
	}
	u, err := c.Store.User(ctx, uri)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return u, err
	}
	sh.mu.Lock()
	if len(sh.m) >= maxCachedPerShard {
		clear(sh.m)
	}
	sh.m[uri] = cachedUser{u: u, missing: err != nil, at: now}
	sh.mu.Unlock()
	return u, err
}

// refreshEvery is how often Run brings the cache up to date. It is below
// the TTL, so that users who exist never expire from the cache and the hot
// paths never wait for the database.
const refreshEvery = 30 * time.Second

// fullEvery is how often the refresh reloads every user rather than only
// the changed ones: deletions made by another server of the pool are only
// seen then (this server's own admin writes forget the user at once).
const fullEvery = 10 * time.Minute

// changedUsers is what an incremental refresh needs of the store.
type changedUsers interface {
	UsersUpdatedSince(ctx context.Context, since time.Time) ([]directory.User, error)
}

// Run keeps the cache a replica of the store's users until ctx is done.
func (c *userCache) Run(ctx context.Context) error {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		if err := c.refresh(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// refresh brings the cache up to date: every fullEvery (or when the store
// cannot list changes) by loading every user, otherwise by loading the
// users written since the last refresh and keeping the rest alive. At
// 100,000 users a full reload allocates them all again, a visible step in
// the server's memory; an incremental one costs what changed.
func (c *userCache) refresh(ctx context.Context) error {
	now := c.now()
	ch, incremental := c.Store.(changedUsers)
	if !incremental || c.lastFull.IsZero() || now.Sub(c.lastFull) >= fullEvery {
		return c.reloadAll(ctx, now)
	}
	// Rows written in the same instant as the last look are read again:
	// the overlap costs little and a clock tick cannot hide a change.
	users, err := ch.UsersUpdatedSince(ctx, c.lastLook.Add(-time.Second))
	if err != nil {
		return err
	}
	c.lastLook = now
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for uri, e := range sh.m {
			if !e.missing {
				e.at = now
				sh.m[uri] = e
			}
		}
		sh.mu.Unlock()
	}
	for _, u := range users {
		c.put(u, now)
	}
	return nil
}

// reloadAll loads every user and drops the cached users the store no
// longer has.
func (c *userCache) reloadAll(ctx context.Context, now time.Time) error {
	users, err := c.Users(ctx)
	if err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(users))
	for _, u := range users {
		c.put(u, now)
		seen[u.URI] = struct{}{}
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for uri, e := range sh.m {
			if _, ok := seen[uri]; !ok && !e.missing {
				delete(sh.m, uri)
			}
		}
		sh.mu.Unlock()
	}
	c.lastFull, c.lastLook = now, now
	return nil
}

// put caches a user loaded at now.
func (c *userCache) put(u directory.User, now time.Time) {
	sh := c.shard(u.URI)
	sh.mu.Lock()
	if len(sh.m) < maxCachedPerShard {
		sh.m[u.URI] = cachedUser{u: u, at: now}
	}
	sh.mu.Unlock()
}

func (c *userCache) forget(uri string) {
	sh := c.shard(uri)
	sh.mu.Lock()
	delete(sh.m, uri)
	sh.mu.Unlock()
}

// CreateUser writes through and forgets a cached miss.
func (c *userCache) CreateUser(ctx context.Context, u directory.User) error {
	err := c.Store.CreateUser(ctx, u)
	c.forget(u.URI)
	return err
}

// UpdateUser writes through and forgets the cached user.
func (c *userCache) UpdateUser(ctx context.Context, uri string, fn func(*directory.User) error) (directory.User, error) {
	u, err := c.Store.UpdateUser(ctx, uri, fn)
	c.forget(uri)
	return u, err
}

// DeleteUser writes through and forgets the cached user.
func (c *userCache) DeleteUser(ctx context.Context, uri string) error {
	err := c.Store.DeleteUser(ctx, uri)
	c.forget(uri)
	return err
}
