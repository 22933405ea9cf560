package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/directory"
)

// fullUser returns a user with every field set.
func fullUser() directory.User {
	u := newUser("alice")
	u.EnterpriseVoice = true
	u.LineURI = "tel:+14255550123;ext=123"
	u.Extension = "123"
	u.LocationProfile = profile
	u.MeetingPolicy = policy
	u.ConferenceID = "1234567"
	u.PIN = directory.PIN{
		Hash:           "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		SetAt:          time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC),
		FailedAttempts: 2,
		LockedOut:      true,
	}
	return u
}

func (x suite) userRoundTrip(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	want := fullUser()
	must(t, s.CreateUser(ctx, want))
	got, err := s.User(ctx, want.URI)
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("User (-want +got):\n%s", diff)
	}

	// A minimal user: every optional field empty, and still empty on read.
	bare := directory.User{URI: "sip:bare@" + domain, Pool: pool2}
	must(t, s.CreateUser(ctx, bare))
	got, err = s.User(ctx, bare.URI)
	must(t, err)
	if diff := cmp.Diff(bare, got, opts); diff != "" {
		t.Errorf("User(bare) (-want +got):\n%s", diff)
	}

	wantIs(t, "CreateUser(existing)", s.CreateUser(ctx, newUser("alice")), directory.ErrExists)
	got, err = s.User(ctx, want.URI)
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("a refused CreateUser changed the user (-want +got):\n%s", diff)
	}
	_, err = s.User(ctx, "sip:nobody@"+domain)
	wantIs(t, "User(unknown)", err, directory.ErrNotFound)

	for _, name := range []string{"zoe", "bob", "carol"} {
		must(t, s.CreateUser(ctx, newUser(name)))
	}
	us, err := s.Users(ctx)
	must(t, err)
	wantKeys(t, "Users", keys(us, func(u directory.User) string { return u.URI }),
		"sip:alice@parley.test", "sip:bare@parley.test", "sip:bob@parley.test", "sip:carol@parley.test",
		"sip:zoe@parley.test")
}

func (x suite) userReferences(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	for _, tc := range []struct {
		field  string
		modify func(*directory.User)
	}{
		{"pool", func(u *directory.User) { u.Pool = "nope.parley.test" }},
		{"location_profile", func(u *directory.User) { u.LocationProfile = "Nope" }},
		{"meeting_policy", func(u *directory.User) { u.MeetingPolicy = "Nope" }},
		{"uri", func(u *directory.User) { u.URI = "sip:Alice@" + domain }},
		{"extension", func(u *directory.User) { u.Extension = "12a" }},
		{"line_uri", func(u *directory.User) { u.LineURI = "tel:4255550100" }},
	} {
		u := fullUser()
		tc.modify(&u)
		wantInvalid(t, "CreateUser(bad "+tc.field+")", s.CreateUser(ctx, u), tc.field)
	}
	us, err := s.Users(ctx)
	must(t, err)
	if len(us) != 0 {
		t.Errorf("rejected CreateUser calls wrote %d users", len(us))
	}
}

func (x suite) userUnique(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	bob := newUser("bob")
	bob.Extension, bob.LineURI, bob.ConferenceID = "1001", "tel:+14255551001", "7654321"
	must(t, s.CreateUser(ctx, bob))

	for _, tc := range []struct {
		field, value string
		modify       func(*directory.User)
	}{
		{"extension", "1001", func(u *directory.User) { u.Extension = "1001" }},
		{"line_uri", "tel:+14255551001", func(u *directory.User) { u.LineURI = "tel:+14255551001" }},
		{"conference_id", "7654321", func(u *directory.User) { u.ConferenceID = "7654321" }},
	} {
		alice := newUser("alice")
		tc.modify(&alice)
		err := s.CreateUser(ctx, alice)
		wantInvalid(t, "CreateUser(bob's "+tc.field+")", err, tc.field)
		if want := tc.field + ": " + tc.value + " is already assigned to sip:bob@parley.test"; err != nil &&
			err.Error() != want {
			t.Errorf("CreateUser(bob's %s) error = %q, want %q", tc.field, err, want)
		}
	}
	_, err := s.User(ctx, "sip:alice@"+domain)
	wantIs(t, "User after rejected creates", err, directory.ErrNotFound)

	// Empty optional values are not values: many users may lack them.
	for _, name := range []string{"carol", "dave"} {
		must(t, s.CreateUser(ctx, newUser(name)))
	}
	// Taking bob's extension on update is refused as well.
	_, err = s.UpdateUser(ctx, "sip:carol@"+domain, func(u *directory.User) error {
		u.Extension = "1001"
		return nil
	})
	wantInvalid(t, "UpdateUser(bob's extension)", err, "extension")
}

func (x suite) userLookups(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	alice := newUser("alice")
	alice.LineURI, alice.Extension = "tel:+14255550100;ext=100", "100"
	bob := newUser("bob")
	bob.LineURI, bob.Extension = "tel:+14255550200", "200"
	must(t, s.CreateUser(ctx, alice))
	must(t, s.CreateUser(ctx, bob))

	for _, tc := range []struct {
		lineURI, want string
	}{
		{"tel:+14255550100", alice.URI},         // the parameter is ignored
		{"tel:+14255550100;ext=100", alice.URI}, // or matches exactly
		{"tel:+14255550100;ext=999", alice.URI}, // or is ignored on both sides
		{"tel:+14255550200", bob.URI},
		{"tel:+14255550200;phone-context=example.org", bob.URI},
	} {
		u, err := s.UserByLineURI(ctx, tc.lineURI)
		if err != nil || u.URI != tc.want {
			t.Errorf("UserByLineURI(%q) = %q, %v; want %q", tc.lineURI, u.URI, err, tc.want)
		}
	}
	_, err := s.UserByLineURI(ctx, "tel:+14255550300")
	wantIs(t, "UserByLineURI(unknown)", err, directory.ErrNotFound)

	// Two users sharing a number with different extensions: the exact line
	// URI picks one; the bare number is ambiguous.
	carol := newUser("carol")
	carol.LineURI = "tel:+14255550100;ext=101"
	must(t, s.CreateUser(ctx, carol))
	if u, err := s.UserByLineURI(ctx, carol.LineURI); err != nil || u.URI != carol.URI {
		t.Errorf("UserByLineURI(%q) = %q, %v; want %q", carol.LineURI, u.URI, err, carol.URI)
	}
	_, err = s.UserByLineURI(ctx, "tel:+14255550100")
	wantIs(t, "UserByLineURI(shared number)", err, directory.ErrNotFound)

	u, err := s.UserByExtension(ctx, "200")
	if err != nil || u.URI != bob.URI {
		t.Errorf("UserByExtension(200) = %q, %v; want %q", u.URI, err, bob.URI)
	}
	_, err = s.UserByExtension(ctx, "300")
	wantIs(t, "UserByExtension(unknown)", err, directory.ErrNotFound)
	_, err = s.UserByExtension(ctx, "")
	wantIs(t, "UserByExtension(empty)", err, directory.ErrNotFound)
}

func (x suite) updateUser(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	must(t, s.CreateUser(ctx, fullUser()))
	want := fullUser()
	want.DisplayName, want.Extension, want.LineURI = "Alice Liddell", "4242", "tel:+14255554242"
	want.MeetingPolicy, want.LocationProfile, want.Pool = "", "", pool2
	want.PIN = directory.PIN{}
	got, err := s.UpdateUser(ctx, want.URI, func(u *directory.User) error {
		if diff := cmp.Diff(fullUser(), *u, opts); diff != "" {
			t.Errorf("UpdateUser passed fn (-want +got):\n%s", diff)
		}
		u.DisplayName, u.Extension, u.LineURI = want.DisplayName, want.Extension, want.LineURI
		u.MeetingPolicy, u.LocationProfile, u.Pool = "", "", pool2
		u.PIN = directory.PIN{}
		return nil
	})
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("UpdateUser result (-want +got):\n%s", diff)
	}
	stored, err := s.User(ctx, want.URI)
	must(t, err)
	if diff := cmp.Diff(want, stored, opts); diff != "" {
		t.Errorf("User after UpdateUser (-want +got):\n%s", diff)
	}
	// The old line URI and extension are free again.
	if _, err := s.UserByExtension(ctx, "123"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("UserByExtension(old extension) error = %v, want ErrNotFound", err)
	}
	if u, err := s.UserByLineURI(ctx, "tel:+14255554242"); err != nil || u.URI != want.URI {
		t.Errorf("UserByLineURI(new line URI) = %q, %v; want %q", u.URI, err, want.URI)
	}

	_, err = s.UpdateUser(ctx, "sip:nobody@"+domain, func(*directory.User) error {
		t.Error("UpdateUser called fn for an unknown user")
		return nil
	})
	wantIs(t, "UpdateUser(unknown)", err, directory.ErrNotFound)
}

func (x suite) updateUserRejected(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	must(t, s.CreateUser(ctx, fullUser()))
	uri := fullUser().URI
	errStop := errors.New("stop")
	for _, tc := range []struct {
		name  string
		fn    func(*directory.User) error
		want  error  // the error UpdateUser returns, or
		field string // the field its *directory.ValidationError names
	}{
		{"fn fails", func(u *directory.User) error {
			u.DisplayName, u.PIN.FailedAttempts = "changed", 99 // changes that must not stick
			return errStop
		}, errStop, ""},
		{"invalid result", func(u *directory.User) error {
			u.DisplayName, u.Extension = "changed", "12a"
			return nil
		}, nil, "extension"},
		{"unknown policy", func(u *directory.User) error {
			u.DisplayName, u.MeetingPolicy = "changed", "Nope"
			return nil
		}, nil, "meeting_policy"},
		{"unknown pool", func(u *directory.User) error {
			u.DisplayName, u.Pool = "changed", "nope.parley.test"
			return nil
		}, nil, "pool"},
		{"URI change", func(u *directory.User) error {
			u.URI = "sip:alicia@" + domain
			return nil
		}, nil, "uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateUser(ctx, uri, tc.fn)
			if tc.field != "" {
				wantInvalid(t, "UpdateUser", err, tc.field)
			} else {
				wantIs(t, "UpdateUser", err, tc.want)
			}
			got, err := s.User(ctx, uri)
			must(t, err)
			if diff := cmp.Diff(fullUser(), got, opts); diff != "" {
				t.Errorf("a failed UpdateUser changed the user (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := s.User(ctx, "sip:alicia@"+domain); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("User(renamed) error = %v, want ErrNotFound", err)
	}
}

func (x suite) updateUserConcurrent(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	u := newUser("alice")
	must(t, s.CreateUser(ctx, u))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.UpdateUser(ctx, u.URI, func(u *directory.User) error {
				u.PIN.FailedAttempts++
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateUser: %v", err)
		}
	}
	got, err := s.User(ctx, u.URI)
	must(t, err)
	if got.PIN.FailedAttempts != n {
		t.Errorf("FailedAttempts after %d concurrent increments = %d, want %d", n, got.PIN.FailedAttempts, n)
	}
}

func (x suite) deleteUser(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	alice := fullUser()
	must(t, s.CreateUser(ctx, alice))
	must(t, s.CreateUser(ctx, newUser("bob")))
	must(t, s.DeleteUser(ctx, alice.URI))
	wantIs(t, "DeleteUser(again)", s.DeleteUser(ctx, alice.URI), directory.ErrNotFound)
	_, err := s.User(ctx, alice.URI)
	wantIs(t, "User(deleted)", err, directory.ErrNotFound)
	us, err := s.Users(ctx)
	must(t, err)
	wantKeys(t, "Users after delete", keys(us, func(u directory.User) string { return u.URI }), "sip:bob@parley.test")

	// The deleted user's unique values can be reused.
	carol := fullUser()
	carol.URI = "sip:carol@" + domain
	must(t, s.CreateUser(ctx, carol))
	if u, err := s.UserByExtension(ctx, alice.Extension); err != nil || !strings.EqualFold(u.URI, carol.URI) {
		t.Errorf("UserByExtension(%s) = %q, %v; want %q", alice.Extension, u.URI, err, carol.URI)
	}
}
