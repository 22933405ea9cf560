package focusfactory

import (
	"context"
	"fmt"
	"sync"

	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
)

// idPools hands out conference IDs. For each pool it keeps in memory the
// set of slots in use, loaded from the store the first time the pool needs
// an ID, and updated as IDs are issued and released. The set is this
// server's view only: another front end of the pool may issue an ID it
// does not know of, which the store's uniqueness check catches; the ID is
// then marked taken and another one drawn.
type idPools struct {
	codec *confid.Codec
	alloc confid.Allocator
	rand  confid.Rand
	store directory.MeetingStore

	mu    sync.Mutex
	pools map[string]*idPool // by pool FQDN
}

// idPool is the slots in use of one pool.
type idPool struct {
	mu     sync.Mutex
	loaded bool
	used   *confid.SlotSet
}

func newIDPools(codec *confid.Codec, alloc confid.Allocator, r confid.Rand, store directory.MeetingStore) *idPools {
	return &idPools{codec: codec, alloc: alloc, rand: r, store: store, pools: make(map[string]*idPool)}
}

func (p *idPools) pool(fqdn string) *idPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ip := p.pools[fqdn]
	if ip == nil {
		ip = &idPool{used: confid.NewSlotSet()}
		p.pools[fqdn] = ip
	}
	return ip
}

// reserve picks a free conference ID in the pool and marks it taken. The
// caller stores it, and calls release if the store refuses it for any
// reason but a clash (see taken).
func (p *idPools) reserve(ctx context.Context, pool directory.Pool) (string, error) {
	ip := p.pool(pool.FQDN)
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if !ip.loaded {
		err := p.store.ConferenceIDs(ctx, pool.FQDN, func(id string) error {
			if _, local, width, err := p.codec.Decode(id); err == nil {
				ip.used.Add(confid.Slot{Width: width, Local: local})
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("loading conference IDs of %s: %w", pool.FQDN, err)
		}
		ip.loaded = true
	}
	slot, err := p.alloc.Pick(pool.ID, ip.used, p.rand)
	if err != nil {
		return "", fmt.Errorf("conference ID for pool %s: %w", pool.FQDN, err)
	}
	id, err := p.codec.Encode(pool.ID, slot.Local, slot.Width)
	if err != nil {
		return "", err
	}
	ip.used.Add(slot)
	return id, nil
}

// release marks a conference ID of the pool free again: its meeting was
// deleted or expired, or it got another ID.
func (p *idPools) release(fqdn, id string) {
	if id == "" {
		return
	}
	_, local, width, err := p.codec.Decode(id)
	if err != nil {
		return
	}
	ip := p.pool(fqdn)
	ip.mu.Lock()
	ip.used.Remove(confid.Slot{Width: width, Local: local})
	ip.mu.Unlock()
}
