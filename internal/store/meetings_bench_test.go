package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

// benchMeetingsEnv sets how many meetings BenchmarkMeetingByConferenceID
// stores. The default keeps `go test -bench` quick; the README's figures
// are for 1,000,000.
const benchMeetingsEnv = "PARLEY_BENCH_MEETINGS"

const (
	benchPool   = "pool.parley.test"
	benchPoolID = "12"
)

// openBench opens a file-backed SQLite store with the production pragmas.
func openBench(b *testing.B) *DB {
	b.Helper()
	s, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	if err := s.PutPool(b.Context(), directory.Pool{FQDN: benchPool, ID: benchPoolID,
		PSTN: directory.DefaultPSTNSettings()}); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchUserURI(i int) string { return fmt.Sprintf("sip:user%06d@parley.test", i) }

// benchConferenceID is the conference ID of meeting i: the pool ID and a
// 7-digit number. i ↦ (i·7919 + 104729) mod 10⁷ is a bijection (7919 is
// prime to 10⁷), so the IDs are unique and do not arrive in index order.
func benchConferenceID(i int) string {
	return fmt.Sprintf("%s%07d", benchPoolID, (i*7919+104729)%10_000_000)
}

var benchWords = []string{"weekly", "sync", "planning", "review", "budget", "design", "launch", "retro",
	"customer", "escalation", "roadmap", "quarterly", "hiring", "training", "status", "security"}

// benchPasscodeHash has the length of an argon2id PHC string.
const benchPasscodeHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

// realisticMeeting returns meeting i of users users: the first users
// meetings are the users' personal meetings, the rest a mix of 70 %
// one-time, 20 % recurring and 10 % ad hoc meetings (i mod 10 = 9, without
// a conference ID) with a subject of a few
// words and two to nine invitees. withSecrets adds a passcode hash to a
// third of the scheduled meetings and an anonymous access key to the
// anonymous ones.
func realisticMeeting(r *rand.Rand, i, users int, now time.Time, withSecrets bool) directory.Meeting {
	organizer := i % users
	m := directory.Meeting{
		ID:           fmt.Sprintf("%016x%016x", r.Uint64(), uint64(i)),
		Organizer:    benchUserURI(organizer),
		Key:          fmt.Sprintf("%08X", uint32(i)*2654435761), // odd multiplier: unique per i
		Pool:         benchPool,
		ConferenceID: benchConferenceID(i),
		Admission:    directory.AdmitOpen,
		Version:      uint64(r.IntN(5)),
		CreatedAt:    now.Add(-time.Duration(r.IntN(90*24)) * time.Hour),
	}
	start := now.Add(time.Duration(r.IntN(60*24)) * time.Hour).Truncate(30 * time.Minute)
	switch k := i % 10; { // kept out of r so that lookups know which have a conference ID
	case i < users:
		m.Kind, m.ExpiresAt = directory.KindPersonal, now.Add(180*24*time.Hour)
	case k < 7:
		m.Kind, m.StartsAt, m.EndsAt = directory.KindOneTime, start, start.Add(time.Hour)
		m.ExpiresAt = m.EndsAt.Add(14 * 24 * time.Hour)
	case k < 9:
		m.Kind, m.StartsAt, m.EndsAt = directory.KindRecurring, start, start.Add(30*time.Minute)
		m.RecursUntil = start.AddDate(0, 6, 0).Add(30 * time.Minute)
		m.ExpiresAt = m.RecursUntil.Add(14 * 24 * time.Hour)
	default:
		m.Kind, m.ConferenceID = directory.KindAdHoc, ""
		m.ExpiresAt, m.LastActivatedAt = m.CreatedAt.Add(8*time.Hour), m.CreatedAt
	}
	if m.Kind == directory.KindPersonal || m.Kind == directory.KindAdHoc {
		return m
	}
	m.Subject = fmt.Sprintf("%s %s: %s %d", benchWords[r.IntN(len(benchWords))],
		benchWords[r.IntN(len(benchWords))], benchWords[r.IntN(len(benchWords))], r.IntN(10000))
	m.Presenters = []string{m.Organizer}
	for range 2 + r.IntN(8) {
		m.Attendees = append(m.Attendees, benchUserURI(r.IntN(users)))
	}
	if withSecrets {
		if r.IntN(3) == 0 {
			m.PasscodeHash = benchPasscodeHash
		}
		if r.IntN(5) == 0 {
			m.Admission = directory.AdmitAnonymous
			m.AccessKey = make([]byte, 12+16+16) // nonce, key, tag of a sealed 128-bit key
			for j := range m.AccessKey {
				m.AccessKey[j] = byte(r.Uint32())
			}
		}
	}
	return m
}

// BenchmarkCreateMeeting measures CreateMeeting, one meeting per op with
// no passcode, into a store of 100 organizers.
func BenchmarkCreateMeeting(b *testing.B) {
	const users = 100
	ctx := b.Context()
	s := openBench(b)
	for i := range users {
		if err := s.CreateUser(ctx, directory.User{URI: benchUserURI(i), Pool: benchPool, Enabled: true}); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	b.ReportAllocs()
	i := users // past the personal meetings, which realisticMeeting gives the first users
	for b.Loop() {
		if err := s.CreateMeeting(ctx, realisticMeeting(r, i, users, now, false)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMeetingByConferenceID measures the attendant's lookup on a
// SQLite file holding $PARLEY_BENCH_MEETINGS meetings (default 20000) of
// one tenth as many users. Besides ns/op it reports the p50 and p99
// latency of single lookups and the bytes the meetings take in the file.
func BenchmarkMeetingByConferenceID(b *testing.B) {
	n := 20000
	if v := os.Getenv(benchMeetingsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			b.Fatalf("%s=%q: want a number of meetings, at least 10", benchMeetingsEnv, v)
		}
	}
	users := n / 10
	ctx := b.Context()
	s := openBench(b)
	start := time.Now()
	if err := benchLoadUsers(ctx, s, users); err != nil {
		b.Fatal(err)
	}
	pagesBefore := benchPages(b, s)
	if err := benchLoadMeetings(ctx, s, n, users); err != nil {
		b.Fatal(err)
	}
	pageBytes := (benchPages(b, s) - pagesBefore) * benchPageSize(b, s)
	b.Logf("loaded %d meetings of %d users in %v", n, users, time.Since(start).Round(time.Millisecond))
	// Leave the file as a running server's would be, the write-ahead log
	// folded in and empty, and the loader's garbage collected.
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	runtime.GC()

	durations := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		i := (k * 15485863) % n // a prime stride, so successive lookups hit different pages
		k++
		if i%10 == 9 && i >= users {
			i-- // skip the ad hoc meetings, which have no conference ID
		}
		id := benchConferenceID(i)
		t := time.Now()
		m, err := s.MeetingByConferenceID(ctx, id)
		durations = append(durations, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		if m.ConferenceID != id {
			b.Fatalf("MeetingByConferenceID(%s) returned meeting with conference ID %s", id, m.ConferenceID)
		}
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(pageBytes)/float64(n), "B/meeting")
}

// benchLoadUsers inserts the organizers in one transaction, with the
// columns a bare user has; the first users meetings are their personal
// ones, whose conference IDs are theirs.
func benchLoadUsers(ctx context.Context, s *DB, users int) error {
	now := time.Now().UnixNano()
	return s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO users (uri, pool, enabled, enterprise_voice,
			conference_id, pin_failed_attempts, pin_locked_out, created_at, updated_at)
			VALUES ($1, $2, TRUE, FALSE, $3, 0, FALSE, $4, $4)`)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		for i := range users {
			if _, err := st.ExecContext(ctx, benchUserURI(i), benchPool, benchConferenceID(i), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// benchLoadMeetings inserts n realistic meetings in one transaction,
// with the statements and column values CreateMeeting uses. The loading
// connection gets a page cache that holds the indexes, which the random
// IDs would otherwise thrash, and the default back when it is done, so
// that the lookups measured run as in production.
func benchLoadMeetings(ctx context.Context, s *DB, n, users int) error {
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	return s.write(ctx, func(tx *sql.Tx) error {
		var cacheSize int64
		if err := tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -1048576`); err != nil { // in KiB: 1 GiB
			return err
		}
		defer func() { _, _ = tx.ExecContext(ctx, `PRAGMA cache_size = `+strconv.FormatInt(cacheSize, 10)) }()
		insert, err := tx.PrepareContext(ctx, insertMeetingQuery)
		if err != nil {
			return err
		}
		defer func() { _ = insert.Close() }()
		used, err := tx.PrepareContext(ctx, `INSERT INTO meeting_ids_used (id) VALUES ($1)`)
		if err != nil {
			return err
		}
		defer func() { _ = used.Close() }()
		for i := range n {
			m := realisticMeeting(r, i, users, now, true)
			m.UpdatedAt = now
			if err := m.Validate(); err != nil {
				return fmt.Errorf("meeting %d: %w", i, err)
			}
			if _, err := insert.ExecContext(ctx, meetingArgs(m)...); err != nil {
				return fmt.Errorf("meeting %d: %w", i, err)
			}
			if _, err := used.ExecContext(ctx, m.ID); err != nil {
				return fmt.Errorf("meeting %d: %w", i, err)
			}
		}
		return nil
	})
}

func benchPages(b *testing.B, s *DB) int64 {
	b.Helper()
	var n int64
	if err := s.db.QueryRowContext(b.Context(), `PRAGMA page_count`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func benchPageSize(b *testing.B, s *DB) int64 {
	b.Helper()
	var n int64
	if err := s.db.QueryRowContext(b.Context(), `PRAGMA page_size`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
