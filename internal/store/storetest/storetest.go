// Package storetest is the conformance suite of directory.Store: one set of
// tests that every implementation (SQLite, PostgreSQL) must pass, so that
// the backends cannot drift apart. It imports testing and is meant for
// _test.go files only.
package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// Run runs the suite. open returns a new, empty store for each subtest and
// arranges its cleanup with t.Cleanup. The subtests run in parallel. The
// meeting subtests also need the store to be a directory.MeetingStore, and
// the Focus state subtests a focus.StateStore.
func Run(t *testing.T, open func(t *testing.T) directory.Store) {
	t.Helper()
	x := suite{open: open}
	t.Run("Organization", x.organization)
	t.Run("Pools", x.pools)
	t.Run("PoolIDUnique", x.poolIDUnique)
	t.Run("Servers", x.servers)
	t.Run("TrustedServices", x.trustedServices)
	t.Run("LocationProfiles", x.locationProfiles)
	t.Run("LocationProfileBadRule", x.locationProfileBadRule)
	t.Run("Regions", x.regions)
	t.Run("MeetingPolicies", x.meetingPolicies)
	t.Run("AccessNumbers", x.accessNumbers)
	t.Run("AccessNumberRejected", x.accessNumberRejected)
	t.Run("UserRoundTrip", x.userRoundTrip)
	t.Run("UserCredentialForms", x.userCredentialForms)
	t.Run("UserReferences", x.userReferences)
	t.Run("UserUnique", x.userUnique)
	t.Run("UserLookups", x.userLookups)
	t.Run("UpdateUser", x.updateUser)
	t.Run("UpdateUserRejected", x.updateUserRejected)
	t.Run("UpdateUserConcurrent", x.updateUserConcurrent)
	t.Run("DeleteUser", x.deleteUser)
	t.Run("DeleteInUse", x.deleteInUse)
	t.Run("MeetingRoundTrip", x.meetingRoundTrip)
	t.Run("MeetingUnique", x.meetingUnique)
	t.Run("MeetingIDNeverReused", x.meetingIDNeverReused)
	t.Run("MeetingRejected", x.meetingRejected)
	t.Run("UpdateMeeting", x.updateMeeting)
	t.Run("UpdateMeetingRejected", x.updateMeetingRejected)
	t.Run("UpdateMeetingConcurrent", x.updateMeetingConcurrent)
	t.Run("ExpiredMeetings", x.expiredMeetings)
	t.Run("ConferenceIDs", x.conferenceIDs)
	t.Run("PersonalMeeting", x.personalMeeting)
	t.Run("MeetingCascade", x.meetingCascade)
	t.Run("MeetingCreateConcurrent", x.meetingCreateConcurrent)
	t.Run("FocusStateEmpty", x.focusStateEmpty)
	t.Run("FocusStateRoundTrip", x.focusStateRoundTrip)
	t.Run("FocusStateOverwrite", x.focusStateOverwrite)
	t.Run("FocusStateDelete", x.focusStateDelete)
	t.Run("FocusStateRejected", x.focusStateRejected)
}

// suite holds the tests of the suite as methods, so that each can be
// passed to t.Run by name.
type suite struct {
	open func(t *testing.T) directory.Store
}

// store starts a subtest: it runs in parallel with the others, on a store
// of its own.
func (x suite) store(t *testing.T) directory.Store {
	t.Helper()
	t.Parallel()
	return x.open(t)
}

// Names shared by the fixtures.
const (
	domain  = "parley.test"
	pool1   = "pool1.parley.test"
	pool2   = "pool2.parley.test"
	profile = "Redmond"
	policy  = "Default"
	region  = "West"
)

// opts compare directory values: a nil slice equals an empty one, and
// times compare with time.Time.Equal (go-cmp's default for types with an
// Equal method).
var opts = cmp.Options{cmpopts.EquateEmpty()}

// fixture stores pool1 and pool2, profile, policy and region.
func fixture(t *testing.T, s directory.Store) {
	t.Helper()
	ctx := t.Context()
	must(t, s.PutPool(ctx, directory.Pool{FQDN: pool1, ID: "12", PSTN: directory.DefaultPSTNSettings()}))
	must(t, s.PutPool(ctx, directory.Pool{FQDN: pool2, ID: "34", PSTN: directory.DefaultPSTNSettings()}))
	must(t, s.PutLocationProfile(ctx, directory.LocationProfile{Name: profile, Rules: []dialplan.Rule{
		{Pattern: `(\d{4})`, Translation: "+1425555$1", Description: "four-digit extension"},
		{Pattern: `1?(\d{10})`, Translation: "+1$1"},
	}}))
	must(t, s.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: policy, PSTNDialIn: true, MaxMeetingSize: 250}))
	must(t, s.PutRegion(ctx, directory.Region{Name: region, LocationProfile: profile}))
}

// newUser returns a valid user of pool1 named name@parley.test.
func newUser(name string) directory.User {
	return directory.User{
		URI:         "sip:" + name + "@" + domain,
		DisplayName: strings.ToUpper(name[:1]) + name[1:],
		Pool:        pool1,
		Enabled:     true,
		Credential:  directory.NewCredential(name+"@"+domain, domain, "password of "+name),
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantIs fails unless errors.Is(err, target).
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

// wantInvalid fails unless err is a *directory.ValidationError for field
// whose message contains each of contains.
func wantInvalid(t *testing.T, what string, err error, field string, contains ...string) {
	t.Helper()
	var ve *directory.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: error = %v, want a *directory.ValidationError for %q", what, err, field)
		return
	}
	if ve.Field != field {
		t.Errorf("%s: error names field %q (%v), want %q", what, ve.Field, ve, field)
	}
	for _, c := range contains {
		if !strings.Contains(ve.Msg, c) {
			t.Errorf("%s: error %q does not mention %q", what, ve, c)
		}
	}
}

// keys maps a list to its keys, to check order and membership.
func keys[T any](vs []T, key func(T) string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = key(v)
	}
	return out
}

// wantKeys compares the keys of a list with want, order included.
func wantKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}
