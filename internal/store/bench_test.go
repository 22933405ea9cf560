package store

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/directory"
)

// BenchmarkUserLookup measures the directory reads of the SIP path (the
// registrar and proxy look a user up on every authenticated request) on a
// SQLite file of benchUsers users.
func BenchmarkUserLookup(b *testing.B) {
	const benchUsers = 5000
	ctx := b.Context()
	s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	if err := s.PutPool(ctx, directory.Pool{FQDN: "pool.parley.test", ID: "10",
		PSTN: directory.DefaultPSTNSettings()}); err != nil {
		b.Fatal(err)
	}
	for i := range benchUsers {
		name := fmt.Sprintf("user%05d", i)
		u := directory.User{
			URI: "sip:" + name + "@parley.test", DisplayName: name, Pool: "pool.parley.test", Enabled: true,
			LineURI:    fmt.Sprintf("tel:+1425555%04d;ext=%d", i, i),
			Extension:  fmt.Sprint(10000 + i),
			Credential: directory.NewCredential(name, "parley.test", "secret"),
		}
		if err := s.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	lookups := []struct {
		name string
		fn   func(i int) (directory.User, error)
	}{
		{"URI", func(i int) (directory.User, error) {
			return s.User(ctx, fmt.Sprintf("sip:user%05d@parley.test", i))
		}},
		{"Extension", func(i int) (directory.User, error) {
			return s.UserByExtension(ctx, fmt.Sprint(10000+i))
		}},
		{"LineURI", func(i int) (directory.User, error) {
			return s.UserByLineURI(ctx, fmt.Sprintf("tel:+1425555%04d", i))
		}},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := l.fn(i % benchUsers); err != nil {
					b.Fatal(err)
				}
				i += 7919 // a prime stride, so successive lookups hit different pages
			}
		})
		b.Run(l.name+"Parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := l.fn(i % benchUsers); err != nil {
						b.Error(err)
						return
					}
					i += 7919
				}
			})
		})
	}
}
