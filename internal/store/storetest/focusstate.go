package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stateStore is focus.StateStore, restated so that the suite does not
// depend on the Focus.
type stateStore interface {
	Save(ctx context.Context, conference string, snapshot []byte) error
	Load(ctx context.Context) (map[string][]byte, error)
	Delete(ctx context.Context, conference string) error
}

// Focus URIs of the state tests.
const (
	conf1 = "sip:alice@" + domain + ";gruu;opaque=app:conf:focus:id:Q4Review"
	conf2 = "sip:bob@" + domain + ";gruu;opaque=app:conf:focus:id:Standup"
)

// focusStore starts a Focus state subtest: a store of its own, which must
// also keep Focus state.
func (x suite) focusStore(t *testing.T) stateStore {
	t.Helper()
	s := x.store(t)
	fs, ok := s.(stateStore)
	if !ok {
		t.Fatalf("%T does not keep Focus state (Save, Load, Delete)", s)
	}
	return fs
}

// wantState compares everything the store holds with want.
func wantState(t *testing.T, what string, s stateStore, want map[string][]byte) {
	t.Helper()
	got, err := s.Load(t.Context())
	if err != nil {
		t.Fatalf("%s: Load: %v", what, err)
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("%s: Load (-want +got):\n%s", what, diff)
	}
}

// focusStateEmpty: a new store holds no state, and forgetting what it does
// not hold is no error.
func (x suite) focusStateEmpty(t *testing.T) {
	s := x.focusStore(t)
	wantState(t, "new store", s, map[string][]byte{})
	must(t, s.Delete(t.Context(), conf1))
	wantState(t, "after deleting a missing conference", s, map[string][]byte{})
}

// focusStateRoundTrip: snapshots come back byte for byte, binary and
// JSON alike, each under its conference.
func (x suite) focusStateRoundTrip(t *testing.T) {
	s := x.focusStore(t)
	ctx := t.Context()
	json := []byte(`{"format":1,"conference":"` + conf1 + `","participants":[]}`)
	binary := []byte{0, 1, 2, 0xfe, 0xff, '\n', 0, '\'', '"', '\\'}
	must(t, s.Save(ctx, conf1, json))
	must(t, s.Save(ctx, conf2, binary))
	// The caller's buffer may be reused after Save.
	json[0] = 'X'
	wantState(t, "two conferences", s, map[string][]byte{
		conf1: []byte(`{"format":1,"conference":"` + conf1 + `","participants":[]}`),
		conf2: {0, 1, 2, 0xfe, 0xff, '\n', 0, '\'', '"', '\\'},
	})
}

// focusStateOverwrite: Save replaces the previous snapshot of the same
// conference and leaves the others alone.
func (x suite) focusStateOverwrite(t *testing.T) {
	s := x.focusStore(t)
	ctx := t.Context()
	must(t, s.Save(ctx, conf1, []byte("version 1")))
	must(t, s.Save(ctx, conf2, []byte("other")))
	must(t, s.Save(ctx, conf1, []byte("version 2, which is longer")))
	must(t, s.Save(ctx, conf1, []byte("v3")))
	wantState(t, "after overwriting", s, map[string][]byte{
		conf1: []byte("v3"),
		conf2: []byte("other"),
	})
}

// focusStateDelete: Delete forgets one conference only, and a deleted
// conference may be saved again.
func (x suite) focusStateDelete(t *testing.T) {
	s := x.focusStore(t)
	ctx := t.Context()
	must(t, s.Save(ctx, conf1, []byte("one")))
	must(t, s.Save(ctx, conf2, []byte("two")))
	must(t, s.Delete(ctx, conf1))
	wantState(t, "after delete", s, map[string][]byte{conf2: []byte("two")})
	must(t, s.Delete(ctx, conf1))
	wantState(t, "after deleting again", s, map[string][]byte{conf2: []byte("two")})
	must(t, s.Save(ctx, conf1, []byte("again")))
	wantState(t, "after saving again", s, map[string][]byte{conf1: []byte("again"), conf2: []byte("two")})
}

// focusStateRejected: an oversized snapshot or an unnamed conference is
// refused and changes nothing.
func (x suite) focusStateRejected(t *testing.T) {
	s := x.focusStore(t)
	ctx := t.Context()
	must(t, s.Save(ctx, conf1, []byte("kept")))
	// 64 MiB and one byte: over the bound of every implementation of the
	// suite (store.MaxFocusSnapshot).
	big := bytes.Repeat([]byte{'x'}, 64<<20+1)
	if err := s.Save(ctx, conf1, big); err == nil {
		t.Errorf("Save of %d bytes: error = nil, want one", len(big))
	}
	wantInvalid(t, "Save without a conference", s.Save(ctx, "", []byte("x")), "conference")
	wantState(t, "after rejected saves", s, map[string][]byte{conf1: []byte("kept")})
}
