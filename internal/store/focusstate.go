package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The Focus state of active meetings (migrations/0003_focus_state.sql):
// *DB implements focus.StateStore, so that a restarted server resumes its
// live meetings. The store treats a snapshot as opaque bytes; the Focus
// owns their format.

// MaxFocusSnapshot bounds a stored snapshot. A meeting policy allows up to
// 100000 participants, at roughly a kilobyte each with their dialogs; the
// bound keeps one runaway meeting from filling the database, and the Focus
// reads back larger snapshots than this, so whatever is stored resumes.
const MaxFocusSnapshot = 64 << 20

// ErrSnapshotTooLarge reports a snapshot over MaxFocusSnapshot.
var ErrSnapshotTooLarge = errors.New("store: focus snapshot too large")

// Save stores the latest snapshot of a conference (by focus
// URI), replacing the previous one.
func (s *DB) Save(ctx context.Context, conference string, snapshot []byte) error {
	if conference == "" {
		return invalid("conference", "must be set")
	}
	if len(snapshot) > MaxFocusSnapshot {
		return fmt.Errorf("%w: %d bytes for %s, at most %d", ErrSnapshotTooLarge, len(snapshot), conference, MaxFocusSnapshot)
	}
	if snapshot == nil {
		// NOT NULL: an empty snapshot is stored as zero bytes, not NULL.
		snapshot = []byte{}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO focus_state (conference, snapshot, updated_at)
			VALUES ($1, $2, $3)
			ON CONFLICT (conference) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
			conference, snapshot, s.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save focus state of %s: %w", conference, err)
	}
	return nil
}

// focusState is one row of focus_state.
type focusState struct {
	conference string
	snapshot   []byte
}

// Load returns every stored snapshot by conference.
func (s *DB) Load(ctx context.Context) (map[string][]byte, error) {
	rows, err := list(ctx, s, "focus state", `SELECT conference, snapshot FROM focus_state`,
		func(r scanner) (focusState, error) {
			var v focusState
			err := r.Scan(&v.conference, &v.snapshot)
			return v, err
		})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(rows))
	for _, v := range rows {
		out[v.conference] = v.snapshot
	}
	return out, nil
}

// Delete forgets a conference's snapshot; deleting a missing one is not an
// error, since the Focus deletes whenever a meeting ends, saved or not.
func (s *DB) Delete(ctx context.Context, conference string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM focus_state WHERE conference = $1`, conference)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete focus state of %s: %w", conference, err)
	}
	return nil
}
