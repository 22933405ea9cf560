package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/directory"
)

// userCredentialForms checks that the two pairs of HA1 values (over the
// user part and over "user@domain") are stored and read apart from each
// other, and that a credential holding only the user-part pair, as one set
// before the address pair existed, reads back without an address pair
// rather than with a copy of the other one.
func (x suite) userCredentialForms(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)

	both := directory.NewCredential("alice@"+domain, domain, "password of alice")
	userOnly := directory.NewCredential("alice", domain, "password of alice")
	if both.HA1bMD5 == "" || both.HA1bSHA256 == "" || userOnly.HA1bMD5 != "" || userOnly.HA1bSHA256 != "" {
		t.Fatalf("fixture credentials are not what this test needs: %+v, %+v", both, userOnly)
	}
	wantCredential := func(what, uri string, want directory.Credential) {
		t.Helper()
		got, err := s.User(ctx, uri)
		must(t, err)
		if diff := cmp.Diff(want, got.Credential); diff != "" {
			t.Errorf("%s: credential (-want +got):\n%s", what, diff)
		}
		// The lists scan rows with the same code; check one.
		us, err := s.Users(ctx)
		must(t, err)
		found := false
		for _, u := range us {
			if u.URI == uri {
				found = true
				if diff := cmp.Diff(want, u.Credential); diff != "" {
					t.Errorf("%s: credential in Users (-want +got):\n%s", what, diff)
				}
			}
		}
		if !found {
			t.Errorf("%s: Users lacks %s", what, uri)
		}
	}

	old := newUser("alice")
	old.Credential = userOnly
	must(t, s.CreateUser(ctx, old))
	wantCredential("created with the user-part pair only", old.URI, userOnly)

	// Setting the password again gives the address pair.
	_, err := s.UpdateUser(ctx, old.URI, func(u *directory.User) error {
		u.Credential = both
		return nil
	})
	must(t, err)
	wantCredential("password set again", old.URI, both)

	// An update that leaves the credential alone keeps both pairs.
	_, err = s.UpdateUser(ctx, old.URI, func(u *directory.User) error {
		u.DisplayName = "Alice Liddell"
		return nil
	})
	must(t, err)
	wantCredential("other field updated", old.URI, both)

	// Each column is its own: a pair with one value missing stays so.
	half := both
	half.HA1bSHA256 = ""
	_, err = s.UpdateUser(ctx, old.URI, func(u *directory.User) error {
		u.Credential = half
		return nil
	})
	must(t, err)
	wantCredential("address SHA-256 cleared", old.URI, half)

	// Another user's values are his own.
	bob := newUser("bob")
	must(t, s.CreateUser(ctx, bob))
	wantCredential("second user", bob.URI, bob.Credential)
	wantCredential("first user after the second was added", old.URI, half)
}
