// Package admin is the one way Parley's configuration data changes: every
// administrative operation (first-run bootstrap, the demo organization,
// users, access numbers, location profiles, regions, meeting policies, pools,
// servers, trusted services and the organization itself) is a method of
// Service. The HTTP API (adminapi) and through it the CLI are thin layers
// over these methods, so the rules live here once.
//
// Every operation validates its whole input before it writes anything and
// returns a *directory.ValidationError, or an error wrapping
// directory.ErrNotFound, ErrExists or ErrInUse, whose message is written for
// an administrator. Passwords and PINs are neither logged nor returned: users
// come back as the User view, which carries only PIN status.
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

// Service performs administrative operations on a directory.Store. It is
// safe for concurrent use.
type Service struct {
	store directory.Store
	log   *slog.Logger
	// now is the clock that stamps PINs; tests replace it.
	now func() time.Time
	// mu serialises this process's writes. Several operations check
	// before they write ("does the region exist?", "is the extension
	// free?"); holding mu makes the check and the write one step for
	// every administrator of this server. Servers of a pool that share a
	// PostgreSQL database are still protected by the store's own
	// constraints, which turn a lost race into ErrExists.
	mu sync.Mutex
	// conf is the Focus Factory, for conference IDs; nil until wired.
	conf Conferencing
}

// New returns a Service over store. A nil log discards messages.
func New(store directory.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, log: log, now: time.Now}
}

// statusError is an error with an administrator-facing message that wraps
// one of the directory sentinels, so that errors.Is still classifies it
// while its text does not read "directory: not found".
type statusError struct {
	msg string
	err error
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.err }

func notFound(format string, args ...any) error {
	return &statusError{msg: fmt.Sprintf(format, args...), err: directory.ErrNotFound}
}

func exists(format string, args ...any) error {
	return &statusError{msg: fmt.Sprintf(format, args...), err: directory.ErrExists}
}

func inUse(format string, args ...any) error {
	return &statusError{msg: fmt.Sprintf(format, args...), err: directory.ErrInUse}
}

func invalid(field, format string, args ...any) error {
	return &directory.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// storeErr turns an error of the store into one for an administrator. what
// names the object ("user sip:alice@example.com"). Validation errors pass
// unchanged; sentinel errors get a message naming the object; anything else
// is an internal failure and keeps its detail for the log.
func storeErr(err error, op, what string) error {
	var ve *directory.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return ve
	case errors.Is(err, directory.ErrNotFound):
		return notFound("%s does not exist", what)
	case errors.Is(err, directory.ErrExists):
		return exists("%s already exists", what)
	case errors.Is(err, directory.ErrInUse):
		// The store says what still refers to the object after the
		// sentinel's text ("directory: in use: pool p is still used by
		// 2 users"); that detail is what the administrator needs.
		msg := err.Error()
		if i := strings.Index(msg, directory.ErrInUse.Error()+": "); i >= 0 {
			return inUse("%s", msg[i+len(directory.ErrInUse.Error())+2:])
		}
		return inUse("%s is still in use", what)
	}
	return fmt.Errorf("admin: %s %s: %w", op, what, err)
}

// quoted lists names for an error message: "a", "b" or "none".
func quoted(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// nameList maps a list of objects to their sorted names.
func nameList[T any](objs []T, name func(T) string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = name(o)
	}
	slices.Sort(out)
	return out
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// randomString returns n characters drawn uniformly from alphabet.
func randomString(alphabet string, n int) string {
	out := make([]byte, n)
	// Rejection sampling: bytes ≥ limit would favour the first letters.
	limit := 256 - 256%len(alphabet)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		_, _ = rand.Read(buf)
		if int(buf[0]) >= limit {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

// organization returns the organization, or a validation error when it has
// not been bootstrapped yet (the store keeps an empty one until then).
func (s *Service) organization(ctx context.Context) (directory.Organization, error) {
	o, err := s.store.Organization(ctx)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return directory.Organization{}, storeErr(err, "read", "organization")
	}
	if err != nil || len(o.Domains) == 0 {
		return directory.Organization{}, invalid("organization",
			"the organization has no SIP domain yet; start the server once (parley serve) to create it")
	}
	return o, nil
}
