package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// Nonces are stateless (RFC 7616 §5.4 suggests a nonce built from a
// timestamp and a private key): 8 bytes of issue time in Unix nanoseconds,
// 8 random bytes, and the first 16 bytes of an HMAC-SHA-256 over both and
// the realm, base64url-encoded without padding (43 characters). Any server
// holding the secret can check a nonce and its age without remembering it,
// so challenges cost no memory. Only nonces that have been *used* are
// remembered, to enforce the nonce-count (see nonceTable).
const (
	nonceTimeLen = 8
	nonceRandLen = 8
	nonceMACLen  = 16
	nonceRawLen  = nonceTimeLen + nonceRandLen + nonceMACLen
)

// nonceSkew is how far in the future an issue time may lie: several
// servers sharing a secret may disagree slightly about the time.
const nonceSkew = 5 * time.Second

// nonceMinter makes and checks nonces for one realm and secret.
type nonceMinter struct {
	secret []byte
	realm  string
}

func (m nonceMinter) mac(body []byte) []byte {
	h := hmac.New(sha256.New, m.secret)
	h.Write([]byte("parley digest nonce\x00"))
	h.Write([]byte(m.realm))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)[:nonceMACLen]
}

// mint returns a fresh nonce issued at now.
func (m nonceMinter) mint(now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:nonceTimeLen], uint64(now.UnixNano()))
	if _, err := rand.Read(raw[nonceTimeLen : nonceTimeLen+nonceRandLen]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	copy(raw[nonceTimeLen+nonceRandLen:], m.mac(raw[:nonceTimeLen+nonceRandLen]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// open checks a nonce's MAC in constant time and returns its issue time in
// Unix nanoseconds. ok is false for anything we did not mint.
func (m nonceMinter) open(nonce string) (issued int64, ok bool) {
	if base64.RawURLEncoding.DecodedLen(len(nonce)) != nonceRawLen {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen {
		return 0, false
	}
	body, tag := raw[:nonceTimeLen+nonceRandLen], raw[nonceTimeLen+nonceRandLen:]
	if !hmac.Equal(tag, m.mac(body)) {
		return 0, false
	}
	t := binary.BigEndian.Uint64(raw[:nonceTimeLen])
	if t > math.MaxInt64 {
		return 0, false
	}
	return int64(t), true
}

// useResult is the outcome of recording a nonce's use.
type useResult int

const (
	useOK        useResult = iota
	useReplay              // nc did not increase, or a qop-less nonce came back
	useForgotten           // the nonce may have been used before and its record is gone
)

// nonceShards spreads the replay table over several locks.
const nonceShards = 16

// nonceTable remembers, for each nonce that has been used successfully, the
// highest nonce-count seen (RFC 7616 §3.4: the server should reject a
// request whose nc it has already seen for that nonce). A nonce used
// without qop (the RFC 2069 form, which has no nc) may be used exactly once.
//
// The table is bounded. Records leave it in the order they were created,
// either because their nonce expired or, when a shard is full, to make room.
// Each shard keeps a watermark: the latest issue time of any record it has
// dropped. A nonce with no record whose issue time is at or before the
// watermark might have been used already, so it is refused as
// useForgotten and the client is sent a fresh nonce (stale=true), which
// keeps replay protection sound however full the table gets: forgetting
// costs a client one extra round trip, never a replay.
type nonceTable struct {
	ttl    time.Duration
	shards [nonceShards]nonceShard
}

type nonceShard struct {
	mu        sync.Mutex
	max       int
	recs      map[string]*nonceRec
	order     []string // record keys, oldest first, from index head on
	head      int
	watermark int64
}

type nonceRec struct {
	issued int64
	nc     uint32
}

func newNonceTable(maxRecords int, ttl time.Duration) *nonceTable {
	per := max(maxRecords/nonceShards, 16)
	t := &nonceTable{ttl: ttl}
	for i := range t.shards {
		t.shards[i].max = per
		t.shards[i].recs = make(map[string]*nonceRec)
	}
	return t
}

func (t *nonceTable) shard(nonce string) *nonceShard {
	// FNV-1a; the nonce is already random, any mixing will do.
	h := uint32(2166136261)
	for i := 0; i < len(nonce); i++ {
		h ^= uint32(nonce[i])
		h *= 16777619
	}
	return &t.shards[h%nonceShards]
}

// use records a use of nonce (issued at issued, Unix nanoseconds) with
// nonce-count nc; nc is 0 for a request without qop.
func (t *nonceTable) use(nonce string, issued int64, nc uint32, now time.Time) useResult {
	s := t.shard(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now.Add(-t.ttl).UnixNano())
	if r, ok := s.recs[nonce]; ok {
		if nc == 0 || nc <= r.nc {
			return useReplay
		}
		r.nc = nc
		return useOK
	}
	if issued <= s.watermark {
		return useForgotten
	}
	if len(s.recs) >= s.max {
		s.dropOldest()
	}
	rec := &nonceRec{issued: issued, nc: nc}
	if nc == 0 {
		// A qop-less nonce is spent: no later count can exceed this.
		rec.nc = math.MaxUint32
	}
	s.recs[nonce] = rec
	s.order = append(s.order, nonce)
	return useOK
}

// expire drops records of nonces issued before cutoff from the front of the
// queue. Records are queued in order of first use, not of issue, so an
// expired record behind a live one waits; it is harmless, as its nonce is
// refused as expired before the table is consulted.
func (s *nonceShard) expire(cutoff int64) {
	for s.head < len(s.order) {
		if r := s.recs[s.order[s.head]]; r != nil && r.issued >= cutoff {
			break
		}
		s.dropOldest()
	}
}

func (s *nonceShard) dropOldest() {
	key := s.order[s.head]
	s.order[s.head] = ""
	s.head++
	if r := s.recs[key]; r != nil {
		s.watermark = max(s.watermark, r.issued)
		delete(s.recs, key)
	}
	// Compact once the dead prefix is the larger half, so the slice does
	// not grow without bound.
	if s.head > len(s.order)/2 && s.head > 64 {
		n := copy(s.order, s.order[s.head:])
		clear(s.order[n:])
		s.order = s.order[:n]
		s.head = 0
	}
}

// len returns the number of records, for tests.
func (t *nonceTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.recs)
		s.mu.Unlock()
	}
	return n
}
