package focusfactory

import (
	"context"
	"fmt"
	"log/slog"
)

// AnonymousAccess is how a user without an account may enter a meeting
// ([MS-SIPAE] §3.2.4.3, an anonymous join): by its admission policy, and
// by proving that he knows its conference key with digest ([MS-SIPAE]
// §3.3.5.4), when it has one.
type AnonymousAccess struct {
	// Admission is the meeting's admission policy (directory.Admit*).
	Admission string
	// Key is the conference key in the clear, "" when the meeting has
	// none. It must never be logged: LogValue and String leave it out.
	Key string
}

// LogValue keeps the key out of structured logs.
func (a AnonymousAccess) LogValue() slog.Value {
	return slog.GroupValue(slog.String("admission", a.Admission), slog.Bool("has_key", a.Key != ""))
}

// String keeps the key out of formatted output.
func (a AnonymousAccess) String() string {
	return fmt.Sprintf("AnonymousAccess{admission=%s has_key=%t}", a.Admission, a.Key != "")
}

// OpenAccessKey reads the meeting organizer/key and opens its sealed
// conference key, so that the front end can check an anonymous join by
// digest against it. organizer is the organizer's address as the
// directory keeps it. A meeting that does not exist gives an error
// wrapping directory.ErrNotFound; a sealed key that does not open (a
// damaged row, or one sealed under another organization key) gives an
// error, never an empty key, so that the meeting is not left open.
func (f *Factory) OpenAccessKey(ctx context.Context, organizer, key string) (AnonymousAccess, error) {
	m, err := f.meetings.Meeting(ctx, organizer, key)
	if err != nil {
		return AnonymousAccess{}, fmt.Errorf("focusfactory: reading meeting %s of %s: %w", key, organizer, err)
	}
	access := AnonymousAccess{Admission: m.Admission}
	if len(m.AccessKey) == 0 {
		return access, nil
	}
	if access.Key, err = f.sealer.open(sealContext(m), m.AccessKey); err != nil {
		return AnonymousAccess{}, fmt.Errorf("focusfactory: meeting %s of %s: %w", key, organizer, err)
	}
	if access.Key == "" {
		// seal never stores an empty key (applySettings clears it
		// instead); one that decrypts to nothing was not made here.
		return AnonymousAccess{}, fmt.Errorf("focusfactory: meeting %s of %s: the sealed access key is empty", key, organizer)
	}
	return access, nil
}
