package registrar

import (
	"context"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of an address-of-record (RFC 3261
// §10.3). Values returned by Lookup are copies; changing them changes
// nothing in the registrar.
type Binding struct {
	// AOR is the canonical address-of-record, sip:user@domain.
	AOR string
	// Contact is the URI to forward requests to.
	Contact sip.Uri
	// Instance is the +sip.instance of the contact without the angle
	// brackets (urn:uuid:...), or "".
	Instance string
	// GRUU is the public GRUU (RFC 5627 §3.1) when Instance is set.
	GRUU string
	// Expires is when the binding lapses.
	Expires time.Time
	// CallID and CSeq are those of the REGISTER that last refreshed the
	// binding (RFC 3261 §10.3 step 7).
	CallID string
	CSeq   uint32
	// Q is the contact's preference, 0 to 1; 1 when the contact had none.
	Q float64
	// Source is the transport address the REGISTER came from, host:port,
	// and Transport its transport (UDP, TCP, TLS, WS, WSS): a proxy sends
	// to a contact behind NAT through the flow it registered over.
	Source    string
	Transport string
	// Path is the Path header values of the REGISTER (RFC 3327), outermost
	// first, when the client supports path.
	Path []string
	// Registered is when the binding was last refreshed.
	Registered time.Time

	hasQ    bool
	tempKey uint64 // temporary-GRUU key, new for each Call-ID
	key     string // bindingKey: the identity of the binding within its AOR
	tx      uint64 // txRef.id of the REGISTER that last wrote the binding
}

// shardCount spreads the bindings over this many independently locked maps,
// so that registrations of different users rarely wait for each other.
const shardCount = 64

// shard is one part of the table. The binding slices it holds are never
// changed once stored: update and sweep build a new slice and swap it in.
// That lets update hand its result to the response writer without a copy
// and without holding the lock while the response is built.
type shard struct {
	mu   sync.RWMutex
	aors map[string][]Binding
}

// table holds the bindings.
type table struct {
	seed   maphash.Seed
	shards [shardCount]shard
	count  atomic.Int64
}

func newTable() *table {
	t := &table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].aors = make(map[string][]Binding)
	}
	return t
}

func (t *table) shard(aor string) *shard {
	return &t.shards[maphash.String(t.seed, aor)%shardCount]
}

// errOutOfOrder is RFC 3261 §10.3 step 7: a REGISTER with the Call-ID of an
// existing binding and a CSeq not higher than the binding's.
var errOutOfOrder = errors.New("registrar: CSeq is not higher than the binding's")

// change is the update of one binding that a REGISTER asks for.
type change struct {
	key     string
	remove  bool
	binding Binding // for !remove; Expires, CallID, CSeq etc. filled in
}

// txRef names the REGISTER transaction an update comes from: its Call-ID,
// CSeq and the transaction ID of RFC 3261 §17.2.3 (branch and sent-by,
// hashed; 0 when the request has no RFC 3261 branch).
type txRef struct {
	callID string
	cseq   uint32
	id     uint64
}

// retransmits reports whether the request of ref is the one that last
// wrote b: same Call-ID, CSeq and transaction. RFC 3261 §10.3 step 7
// would fail such a request as out of order, but it is a retransmission
// that the transaction layer absorbs (RFC 3261 §17.2.2); the server's
// stateless front end answers it from its cache of recent responses, and
// this is the fallback once that cache has moved on.
func (ref txRef) retransmits(b *Binding) bool {
	return ref.id != 0 && b.tx == ref.id && b.CSeq == ref.cseq && b.CallID == ref.callID
}

// update applies a REGISTER's changes to aor atomically (RFC 3261 §10.3
// steps 6 to 8): either all of them happen or, when the Call-ID/CSeq
// check fails for any, none. wildcard removes every binding. When adding a
// binding would exceed limit, the binding that expires soonest and is not
// touched by this request is evicted: a device that vanished without
// un-registering must not lock its user out for hours.
//
// It returns the bindings after the update, ordered by preference. The
// slice is the table's own and must not be modified. A retransmission of
// the request that last wrote a binding changes nothing and returns the
// current bindings.
func (t *table) update(aor string, ref txRef, wildcard bool, changes []change, limit int, now time.Time) ([]Binding, error) {
	s := t.shard(aor)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.aors[aor]
	expired := 0
	for i := range old {
		if !old[i].Expires.After(now) {
			expired++
		}
	}
	outOfOrder := func(b *Binding) bool { return b.CallID == ref.callID && ref.cseq <= b.CSeq }

	if !wildcard {
		for _, c := range changes {
			if i := indexKey(old, c.key); i >= 0 && old[i].Expires.After(now) && ref.retransmits(&old[i]) {
				if expired == 0 {
					return old, nil
				}
				return liveBindings(old, now), nil
			}
		}
	}

	// The new bindings are worked out in a small array on the stack and
	// then stored in a slice of exactly their number: a slice with room to
	// spare would keep that room for as long as the AOR is registered.
	var scratch [4]Binding
	cur := scratch[:0]
	for i := range old {
		if old[i].Expires.After(now) {
			cur = append(cur, old[i])
		}
	}
	if wildcard {
		for i := range cur {
			if outOfOrder(&cur[i]) {
				return nil, errOutOfOrder
			}
		}
		cur = cur[:0]
	} else {
		for _, c := range changes {
			if i := indexKey(cur, c.key); i >= 0 && outOfOrder(&cur[i]) {
				return nil, errOutOfOrder
			}
		}
		for ci, c := range changes {
			i := indexKey(cur, c.key)
			switch {
			case c.remove && i >= 0:
				cur = slices.Delete(cur, i, i+1)
			case c.remove:
			case i >= 0:
				nb := c.binding
				nb.key, nb.tx = c.key, ref.id
				nb.tempKey = cur[i].tempKey
				if cur[i].CallID != nb.CallID {
					// A new registration session: temporary GRUUs handed
					// out under the old Call-ID stop working (RFC 5627 §3.2).
					nb.tempKey = newTempKey()
				}
				cur[i] = nb
			default:
				if len(cur) >= limit {
					victim := -1
					for j := range cur {
						if !touched(changes[:ci], cur[j].key) && (victim < 0 || cur[j].Expires.Before(cur[victim].Expires)) {
							victim = j
						}
					}
					if victim < 0 {
						// Every binding is this request's own; the caller
						// refuses requests with more contacts than limit.
						continue
					}
					cur = slices.Delete(cur, victim, victim+1)
				}
				nb := c.binding
				nb.key, nb.tx = c.key, ref.id
				nb.tempKey = newTempKey()
				cur = append(cur, nb)
			}
		}
	}

	t.count.Add(int64(len(cur) - len(old)))
	if len(cur) == 0 {
		delete(s.aors, aor)
		return nil, nil
	}
	stored := make([]Binding, len(cur))
	copy(stored, cur)
	clear(cur) // the scratch array must not keep strings alive
	sortBindings(stored)
	s.aors[aor] = stored
	return stored, nil
}

// indexKey returns the index of the binding with key k, or -1.
func indexKey(bs []Binding, k string) int {
	for i := range bs {
		if bs[i].key == k {
			return i
		}
	}
	return -1
}

// touched reports whether one of changes is for the binding with key k.
func touched(changes []change, k string) bool {
	for i := range changes {
		if changes[i].key == k {
			return true
		}
	}
	return false
}

// liveBindings returns the bindings of bs that have not expired, in a new
// slice.
func liveBindings(bs []Binding, now time.Time) []Binding {
	out := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// get returns copies of the unexpired bindings of aor, by preference.
func (t *table) get(aor string, now time.Time) []Binding {
	s := t.shard(aor)
	s.mu.RLock()
	bs := s.aors[aor]
	s.mu.RUnlock()
	// bs is never modified once stored, so it is read outside the lock.
	var out []Binding
	for _, b := range bs {
		if b.Expires.After(now) {
			out = append(out, copyBinding(b))
		}
	}
	return out
}

// sweep removes expired bindings and returns how many it removed.
func (t *table) sweep(now time.Time) int {
	removed := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for aor, bs := range s.aors {
			n := 0
			for j := range bs {
				if bs[j].Expires.After(now) {
					n++
				}
			}
			switch {
			case n == len(bs):
			case n == 0:
				delete(s.aors, aor)
			default:
				s.aors[aor] = liveBindings(bs, now)
			}
			removed += len(bs) - n
		}
		s.mu.Unlock()
	}
	t.count.Add(-int64(removed))
	return removed
}

func (t *table) len() int {
	return int(t.count.Load())
}

func copyBinding(b Binding) Binding {
	b.Contact = *b.Contact.Clone()
	b.Path = slices.Clone(b.Path)
	return b
}

// sortBindings orders bindings by preference: highest q first, then the
// most recently refreshed (RFC 3261 §16.6 leaves the order among equal q
// values to the proxy; the newest device is the likeliest to be in use).
func sortBindings(bs []Binding) {
	slices.SortStableFunc(bs, func(a, b Binding) int {
		switch {
		case a.Q > b.Q:
			return -1
		case a.Q < b.Q:
			return 1
		}
		return b.Registered.Compare(a.Registered)
	})
}

// newTempKey returns the key of a new registration's temporary GRUUs. It
// only has to differ between registrations: the GRUU that carries it is
// sealed with the registrar's secret key (gruu.go), so the per-goroutine
// ChaCha8 generator of math/rand/v2, seeded from the system's entropy, is
// enough and costs no system call.
func newTempKey() uint64 {
	return rand.Uint64()
}

// Lookup returns the unexpired bindings of an address-of-record (in any
// form Local understands, sip:Alice@127.0.0.1 included), highest q first.
// It is safe for concurrent use and takes only a read lock on one shard.
func (r *Registrar) Lookup(aor string) []Binding {
	canon, ok := r.canonicalAOR(aor)
	if !ok {
		return nil
	}
	return r.table.get(canon, r.now())
}

// LookupGRUU returns the binding a GRUU routes to: a public GRUU
// (;gr=<instance>), a temporary GRUU of this registrar, or a Microsoft
// user-agent GRUU (;opaque=user:epid:<id>;gruu). ok is false when the
// string is not a GRUU or its instance is not registered.
func (r *Registrar) LookupGRUU(gruu string) (Binding, bool) {
	var u sip.Uri
	if err := sip.ParseUri(gruu, &u); err != nil {
		return Binding{}, false
	}
	domain, ok := r.local.Canonical(u.Host)
	if !ok {
		return Binding{}, false
	}
	now := r.now()
	gr, hasGR := param(u.UriParams, "gr")
	opaque, hasOpaque := param(u.UriParams, "opaque")
	_, hasGRUU := param(u.UriParams, "gruu")

	switch {
	case hasGR && gr == "" && strings.HasPrefix(strings.ToLower(u.User), tgruuPrefix):
		user, key, ok := r.tgruu.open(u.User, domain)
		if !ok {
			return Binding{}, false
		}
		for _, b := range r.table.get("sip:"+user+"@"+domain, now) {
			if b.tempKey == key {
				return b, true
			}
		}
	case hasGR && gr != "":
		aor, ok := r.local.AOR(u)
		if !ok {
			return Binding{}, false
		}
		inst := unescapeParam(gr)
		for _, b := range r.table.get(aor, now) {
			if b.Instance != "" && strings.EqualFold(b.Instance, inst) {
				return b, true
			}
		}
	case hasOpaque && hasGRUU && strings.HasPrefix(opaque, "user:epid:"):
		aor, ok := r.local.AOR(u)
		if !ok {
			return Binding{}, false
		}
		id := strings.TrimPrefix(opaque, "user:epid:")
		for _, b := range r.table.get(aor, now) {
			if b.Instance != "" && epid(b.Instance) == id {
				return b, true
			}
		}
	}
	return Binding{}, false
}

// Count returns the number of stored bindings. Bindings that have expired
// but not yet been swept by Run are included.
func (r *Registrar) Count() int { return r.table.len() }

// sweepInterval is how often Run removes expired bindings. Lookups never
// return an expired binding, so this only bounds how long one occupies
// memory.
const sweepInterval = 15 * time.Second

// Run removes expired bindings every few seconds until ctx is done; it
// returns ctx's error.
func (r *Registrar) Run(ctx context.Context) error {
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if n := r.table.sweep(r.now()); n > 0 {
				r.log.DebugContext(ctx, "registrar: expired bindings removed", "count", n)
			}
		}
	}
}

// canonicalAOR parses and canonicalizes an address-of-record string.
func (r *Registrar) canonicalAOR(aor string) (string, bool) {
	// Fast path: the proxy usually passes an AOR it canonicalized itself.
	if rest, ok := strings.CutPrefix(aor, "sip:"); ok && !strings.ContainsAny(rest, ";?:<>") {
		if user, domain, ok := strings.Cut(rest, "@"); ok && user != "" &&
			strings.ToLower(rest) == rest && r.local.IsDomain(domain) {
			return aor, true
		}
	}
	var u sip.Uri
	if err := sip.ParseUri(aor, &u); err != nil {
		return "", false
	}
	return r.local.AOR(u)
}
