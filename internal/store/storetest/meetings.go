package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleyhq/parley/internal/directory"
)

// Users of the meeting tests, made by meetingStore.
const (
	alice = "sip:alice@" + domain
	bob   = "sip:bob@" + domain
)

// t0 is the time the meeting fixtures are scheduled around.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// ignoreUpdatedAt compares meetings without the field the store sets to the
// time of the write; checkWritten checks it.
var ignoreUpdatedAt = cmpopts.IgnoreFields(directory.Meeting{}, "UpdatedAt")

// meetingStore starts a meeting subtest: a store of its own, which must
// also be a directory.MeetingStore, holding the fixture and the users alice
// and bob of pool1.
func (x suite) meetingStore(t *testing.T) (directory.Store, directory.MeetingStore) {
	t.Helper()
	s := x.store(t)
	ms, ok := s.(directory.MeetingStore)
	if !ok {
		t.Fatalf("%T does not implement directory.MeetingStore", s)
	}
	fixture(t, s)
	must(t, s.CreateUser(t.Context(), newUser("alice")))
	must(t, s.CreateUser(t.Context(), newUser("bob")))
	return s, ms
}

// meetingID returns the n-th meeting ID of a test.
func meetingID(n int) string { return fmt.Sprintf("%032x", n) }

// newMeeting returns a valid one-time meeting of organizer in pool1 with
// no dial-in access.
func newMeeting(organizer, key string, n int) directory.Meeting {
	return directory.Meeting{
		ID: meetingID(n), Organizer: organizer, Key: key, Pool: pool1,
		Kind: directory.KindOneTime, Admission: directory.AdmitOpen,
		StartsAt: t0, EndsAt: t0.Add(time.Hour), ExpiresAt: t0.Add(14*24*time.Hour + time.Hour),
		CreatedAt: t0.Add(-24 * time.Hour),
	}
}

// fullMeeting returns a meeting of alice with every field set; its times
// carry nanoseconds and a zone other than UTC, which must not matter.
func fullMeeting() directory.Meeting {
	zone := time.FixedZone("PDT", -7*3600)
	start := time.Date(2026, 5, 4, 9, 30, 0, 123456789, zone)
	return directory.Meeting{
		ID:              "0123456789abcdef0123456789abcdef",
		Organizer:       alice,
		Key:             "Q4Review2026",
		Pool:            pool1,
		ConferenceID:    "1234567",
		Kind:            directory.KindRecurring,
		Subject:         "Quarterly review, Zürich & Redmond",
		Admission:       directory.AdmitAnonymous,
		Presenters:      []string{alice, "sip:carol@example.org"},
		Attendees:       []string{bob, "sips:dave@example.org", "sip:erin@example.org"},
		PasscodeHash:    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		AccessKey:       []byte{0, 1, 2, 0xfe, 0xff, '\n', 0},
		StartsAt:        start,
		EndsAt:          start.Add(90 * time.Minute),
		RecursUntil:     start.AddDate(0, 6, 0).Add(90 * time.Minute),
		ExpiresAt:       start.AddDate(0, 6, 14).Add(90*time.Minute + 1),
		LastActivatedAt: time.Date(2026, 5, 4, 16, 29, 59, 999999999, time.UTC),
		Active:          true,
		Version:         1<<63 + 5, // above int64: stored bit for bit all the same
		CreatedAt:       time.Date(2026, 4, 1, 8, 0, 0, 1, zone),
	}
}

// checkWritten fails unless UpdatedAt of what a write stored lies between
// the times taken before and after the write.
func checkWritten(t *testing.T, what string, got directory.Meeting, before, after time.Time) {
	t.Helper()
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(after) {
		t.Errorf("%s: UpdatedAt = %v, want the time of the write, between %v and %v", what, got.UpdatedAt,
			before, after)
	}
}

// wantMeeting fails unless the stored meeting organizer/key is want,
// UpdatedAt aside.
func wantMeeting(t *testing.T, what string, ms directory.MeetingStore, want directory.Meeting) {
	t.Helper()
	got, err := ms.Meeting(t.Context(), want.Organizer, want.Key)
	if err != nil {
		t.Errorf("%s: Meeting(%s, %s): %v", what, want.Organizer, want.Key, err)
		return
	}
	if diff := cmp.Diff(want, got, opts, ignoreUpdatedAt); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// meetingKeys lists the keys of the organizer's meetings.
func meetingKeys(t *testing.T, ms directory.MeetingStore, organizer string) []string {
	t.Helper()
	list, err := ms.Meetings(t.Context(), organizer)
	must(t, err)
	return keys(list, func(m directory.Meeting) string { return m.Key })
}

// assignedID returns the user's assigned conference ID.
func assignedID(t *testing.T, s directory.Store, uri string) string {
	t.Helper()
	u, err := s.User(t.Context(), uri)
	must(t, err)
	return u.ConferenceID
}

// wantExists fails unless err is ErrExists and its message mentions each
// of contains.
func wantExists(t *testing.T, what string, err error, contains ...string) {
	t.Helper()
	wantIs(t, what, err, directory.ErrExists)
	for _, c := range contains {
		if err != nil && !strings.Contains(err.Error(), c) {
			t.Errorf("%s: error %q does not mention %q", what, err, c)
		}
	}
}

func (x suite) meetingRoundTrip(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	want := fullMeeting()
	before := time.Now()
	must(t, ms.CreateMeeting(ctx, want))
	after := time.Now()
	got, err := ms.Meeting(ctx, alice, want.Key)
	must(t, err)
	if diff := cmp.Diff(want, got, opts, ignoreUpdatedAt); diff != "" {
		t.Errorf("Meeting (-want +got):\n%s", diff)
	}
	checkWritten(t, "Meeting", got, before, after)
	byID, err := ms.MeetingByConferenceID(ctx, want.ConferenceID)
	must(t, err)
	if diff := cmp.Diff(got, byID, opts); diff != "" {
		t.Errorf("MeetingByConferenceID (-Meeting +MeetingByConferenceID):\n%s", diff)
	}

	// A bare ad hoc meeting: every optional field empty, and still empty
	// on read; the store dates its creation.
	bare := directory.Meeting{ID: meetingID(2), Organizer: alice, Key: "MeetNow01", Pool: pool1,
		Kind: directory.KindAdHoc, Admission: directory.AdmitClosed, ExpiresAt: t0.Add(8 * time.Hour)}
	before = time.Now()
	must(t, ms.CreateMeeting(ctx, bare))
	after = time.Now()
	got, err = ms.Meeting(ctx, alice, bare.Key)
	must(t, err)
	if diff := cmp.Diff(bare, got, opts, ignoreUpdatedAt, cmpopts.IgnoreFields(directory.Meeting{}, "CreatedAt")); diff != "" {
		t.Errorf("Meeting(bare) (-want +got):\n%s", diff)
	}
	checkWritten(t, "Meeting(bare)", got, before, after)
	if !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("Meeting(bare): CreatedAt = %v, want the time of the write, %v", got.CreatedAt, got.UpdatedAt)
	}
	if got.AccessKey != nil || got.Presenters != nil || !got.StartsAt.IsZero() || !got.LastActivatedAt.IsZero() {
		t.Errorf("Meeting(bare) came back with values it was not given: %+v", got)
	}

	// Keys list in byte order; another organizer may use the same key.
	for i, key := range []string{"zeta0001", "alpha002", "Alpha001"} {
		must(t, ms.CreateMeeting(ctx, newMeeting(alice, key, 10+i)))
	}
	must(t, ms.CreateMeeting(ctx, newMeeting(bob, want.Key, 20)))
	wantKeys(t, "Meetings(alice)", meetingKeys(t, ms, alice),
		"Alpha001", "MeetNow01", "Q4Review2026", "alpha002", "zeta0001")
	wantKeys(t, "Meetings(bob)", meetingKeys(t, ms, bob), want.Key)
	wantKeys(t, "Meetings(unknown)", meetingKeys(t, ms, "sip:nobody@"+domain))

	_, err = ms.Meeting(ctx, alice, "Nope0000")
	wantIs(t, "Meeting(unknown key)", err, directory.ErrNotFound)
	_, err = ms.Meeting(ctx, "sip:nobody@"+domain, want.Key)
	wantIs(t, "Meeting(unknown organizer)", err, directory.ErrNotFound)
	_, err = ms.MeetingByConferenceID(ctx, "7654321")
	wantIs(t, "MeetingByConferenceID(unknown)", err, directory.ErrNotFound)
	_, err = ms.MeetingByConferenceID(ctx, "")
	wantIs(t, "MeetingByConferenceID(empty)", err, directory.ErrNotFound)
}

func (x suite) meetingUnique(t *testing.T) {
	s, ms := x.meetingStore(t)
	ctx := t.Context()
	held := fullMeeting()
	must(t, ms.CreateMeeting(ctx, held))
	carol := newUser("carol")
	carol.ConferenceID = "7654321"
	must(t, s.CreateUser(ctx, carol))

	for _, tc := range []struct {
		name     string
		m        directory.Meeting
		contains []string // what the error must name
	}{
		{"same key", newMeeting(alice, held.Key, 2), []string{held.Key}},
		{"same ID", func() directory.Meeting {
			m := newMeeting(bob, "Other001", 3)
			m.ID = held.ID
			return m
		}(), []string{held.ID, held.Key, alice}},
		{"same conference ID", func() directory.Meeting {
			m := newMeeting(bob, "Other002", 4)
			m.ConferenceID = held.ConferenceID
			return m
		}(), []string{held.ConferenceID, held.Key, alice}},
		{"conference ID of a user", func() directory.Meeting {
			m := newMeeting(bob, "Other003", 5)
			m.ConferenceID = carol.ConferenceID
			return m
		}(), []string{carol.ConferenceID, carol.URI}},
		{"conference ID of the organizer, not personal", func() directory.Meeting {
			m := newMeeting("sip:carol@"+domain, "Other004", 6)
			m.ConferenceID = carol.ConferenceID
			return m
		}(), []string{carol.ConferenceID, carol.URI}},
	} {
		wantExists(t, "CreateMeeting("+tc.name+")", ms.CreateMeeting(ctx, tc.m), tc.contains...)
	}
	wantKeys(t, "Meetings(alice) after rejected creates", meetingKeys(t, ms, alice), held.Key)
	wantKeys(t, "Meetings(bob) after rejected creates", meetingKeys(t, ms, bob))
	wantKeys(t, "Meetings(carol) after rejected creates", meetingKeys(t, ms, carol.URI))
	wantMeeting(t, "Meeting after rejected creates", ms, held)
	_, err := ms.MeetingByConferenceID(ctx, carol.ConferenceID)
	wantIs(t, "MeetingByConferenceID(user's ID) after rejected creates", err, directory.ErrNotFound)

	// Empty conference IDs are not values: many meetings lack one.
	other := newMeeting(bob, "Other005", 7)
	must(t, ms.CreateMeeting(ctx, other))
	must(t, ms.CreateMeeting(ctx, newMeeting(bob, "Other006", 8)))
	// Taking a conference ID on update is refused as well.
	_, err = ms.UpdateMeeting(ctx, bob, other.Key, func(m *directory.Meeting) error {
		m.ConferenceID = held.ConferenceID
		return nil
	})
	wantExists(t, "UpdateMeeting(taken conference ID)", err, held.ConferenceID, held.Key)
	wantMeeting(t, "Meeting after a rejected update", ms, other)
}

func (x suite) meetingIDNeverReused(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	gone := fullMeeting()
	must(t, ms.CreateMeeting(ctx, gone))
	must(t, ms.DeleteMeeting(ctx, alice, gone.Key))
	wantIs(t, "DeleteMeeting(again)", ms.DeleteMeeting(ctx, alice, gone.Key), directory.ErrNotFound)
	wantIs(t, "DeleteMeeting(unknown organizer)", ms.DeleteMeeting(ctx, "sip:nobody@"+domain, gone.Key),
		directory.ErrNotFound)
	_, err := ms.Meeting(ctx, alice, gone.Key)
	wantIs(t, "Meeting(deleted)", err, directory.ErrNotFound)
	_, err = ms.MeetingByConferenceID(ctx, gone.ConferenceID)
	wantIs(t, "MeetingByConferenceID(deleted)", err, directory.ErrNotFound)

	// The ID stays used, by anyone under any key ...
	again := newMeeting(bob, "Fresh001", 0)
	again.ID = gone.ID
	wantExists(t, "CreateMeeting(ID of a deleted meeting)", ms.CreateMeeting(ctx, again), gone.ID)
	wantKeys(t, "Meetings(bob)", meetingKeys(t, ms, bob))

	// ... while its key and conference ID are free again.
	reuse := newMeeting(alice, gone.Key, 2)
	reuse.ConferenceID = gone.ConferenceID
	must(t, ms.CreateMeeting(ctx, reuse))
	got, err := ms.MeetingByConferenceID(ctx, gone.ConferenceID)
	if err != nil || got.ID != reuse.ID {
		t.Errorf("MeetingByConferenceID(reused) = %s, %v; want meeting %s", got.ID, err, reuse.ID)
	}
}

func (x suite) meetingRejected(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		field  string
		modify func(*directory.Meeting)
	}{
		{"id", func(m *directory.Meeting) { m.ID = strings.ToUpper(m.ID) }},
		{"key", func(m *directory.Meeting) { m.Key = "short" }},
		{"kind", func(m *directory.Meeting) { m.Kind = "weekly" }},
		{"admission", func(m *directory.Meeting) { m.Admission = "everyone" }},
		{"expires_at", func(m *directory.Meeting) { m.ExpiresAt = time.Time{} }},
		{"presenters", func(m *directory.Meeting) { m.Attendees = []string{"bob"} }},
		{"conference_id", func(m *directory.Meeting) { m.ConferenceID = "12a4567" }},
		{"organizer", func(m *directory.Meeting) { m.Organizer = "sip:nobody@" + domain }},
		{"pool", func(m *directory.Meeting) { m.Pool = "nope.parley.test" }},
		// Times the store cannot hold are refused, not wrapped around.
		{"starts_at", func(m *directory.Meeting) { m.StartsAt = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"expires_at", func(m *directory.Meeting) { m.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		m := fullMeeting()
		tc.modify(&m)
		err := ms.CreateMeeting(ctx, m)
		wantInvalid(t, "CreateMeeting(bad "+tc.field+")", err, tc.field)
		// Validate's error comes back as it was made.
		if verr := m.Validate(); verr != nil && (err == nil || err.Error() != verr.Error()) {
			t.Errorf("CreateMeeting(bad %s) error = %v, want Validate's %v", tc.field, err, verr)
		}
	}
	wantKeys(t, "Meetings(alice) after rejected creates", meetingKeys(t, ms, alice))
	must(t, ms.CreateMeeting(ctx, fullMeeting())) // the ID was not burnt
}

func (x suite) updateMeeting(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	orig := fullMeeting()
	must(t, ms.CreateMeeting(ctx, orig))
	stored, err := ms.Meeting(ctx, alice, orig.Key)
	must(t, err)

	want := stored
	want.ConferenceID, want.Subject, want.Admission = "2345678", "Renamed", directory.AdmitClosed
	want.Attendees, want.Presenters = []string{bob}, nil
	want.PasscodeHash, want.AccessKey = "", nil
	want.Active, want.LastActivatedAt = false, t0.Add(time.Nanosecond)
	want.ExpiresAt = t0.Add(180 * 24 * time.Hour)
	want.Version = stored.Version + 1
	before := time.Now()
	got, err := ms.UpdateMeeting(ctx, alice, orig.Key, func(m *directory.Meeting) error {
		if diff := cmp.Diff(stored, *m, opts); diff != "" {
			t.Errorf("UpdateMeeting passed fn (-want +got):\n%s", diff)
		}
		updated := want
		// The store owns these: what fn does to them does not stick.
		updated.Version, updated.CreatedAt, updated.UpdatedAt = 1, t0, t0
		*m = updated
		return nil
	})
	after := time.Now()
	must(t, err)
	if diff := cmp.Diff(want, got, opts, ignoreUpdatedAt); diff != "" {
		t.Errorf("UpdateMeeting result (-want +got):\n%s", diff)
	}
	checkWritten(t, "UpdateMeeting result", got, before, after)
	reread, err := ms.Meeting(ctx, alice, orig.Key)
	must(t, err)
	if diff := cmp.Diff(got, reread, opts); diff != "" {
		t.Errorf("Meeting after UpdateMeeting (-result +stored):\n%s", diff)
	}
	// The old conference ID is free, the new one leads to the meeting.
	_, err = ms.MeetingByConferenceID(ctx, orig.ConferenceID)
	wantIs(t, "MeetingByConferenceID(old)", err, directory.ErrNotFound)
	if m, err := ms.MeetingByConferenceID(ctx, want.ConferenceID); err != nil || m.Key != orig.Key {
		t.Errorf("MeetingByConferenceID(new) = %q, %v; want %q", m.Key, err, orig.Key)
	}

	_, err = ms.UpdateMeeting(ctx, alice, "Nope0000", func(*directory.Meeting) error {
		t.Error("UpdateMeeting called fn for an unknown meeting")
		return nil
	})
	wantIs(t, "UpdateMeeting(unknown)", err, directory.ErrNotFound)
}

func (x suite) updateMeetingRejected(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	orig := fullMeeting()
	must(t, ms.CreateMeeting(ctx, orig))
	mine := directory.Meeting{ID: meetingID(2), Organizer: alice, Key: "MyMeeting", Pool: pool1,
		Kind: directory.KindPersonal, Admission: directory.AdmitOpen, ConferenceID: "3456789", ExpiresAt: t0}
	must(t, ms.CreateMeeting(ctx, mine))
	stored, err := ms.Meeting(ctx, alice, orig.Key)
	must(t, err)
	errStop := errors.New("stop")
	for _, tc := range []struct {
		name  string
		fn    func(*directory.Meeting) error
		want  error  // the error UpdateMeeting returns, or
		field string // the field its *directory.ValidationError names
	}{
		{"fn fails", func(m *directory.Meeting) error {
			m.Subject, m.Active = "changed", false // changes that must not stick
			return errStop
		}, errStop, ""},
		{"invalid result", func(m *directory.Meeting) error {
			m.Subject, m.Kind = "changed", "weekly"
			return nil
		}, nil, "kind"},
		{"organizer change", func(m *directory.Meeting) error {
			m.Organizer = bob
			return nil
		}, nil, "organizer"},
		{"key change", func(m *directory.Meeting) error {
			m.Key = "Renamed01"
			return nil
		}, nil, "key"},
		{"ID change", func(m *directory.Meeting) error {
			m.ID = meetingID(9)
			return nil
		}, nil, "id"},
		{"unknown pool", func(m *directory.Meeting) error {
			m.Subject, m.Pool = "changed", "nope.parley.test"
			return nil
		}, nil, "pool"},
		{"taken conference ID", func(m *directory.Meeting) error {
			m.Subject, m.ConferenceID = "changed", mine.ConferenceID
			return nil
		}, directory.ErrExists, ""},
		{"second personal meeting", func(m *directory.Meeting) error {
			m.Subject, m.Kind = "changed", directory.KindPersonal
			return nil
		}, directory.ErrExists, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ms.UpdateMeeting(ctx, alice, orig.Key, tc.fn)
			if tc.field != "" {
				wantInvalid(t, "UpdateMeeting", err, tc.field)
			} else {
				wantIs(t, "UpdateMeeting", err, tc.want)
			}
			got, err := ms.Meeting(ctx, alice, orig.Key)
			must(t, err)
			if diff := cmp.Diff(stored, got, opts); diff != "" {
				t.Errorf("a failed UpdateMeeting changed the meeting (-want +got):\n%s", diff)
			}
		})
	}
	wantKeys(t, "Meetings(bob)", meetingKeys(t, ms, bob))
}

func (x suite) updateMeetingConcurrent(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	m := newMeeting(alice, "Standup01", 1)
	must(t, ms.CreateMeeting(ctx, m))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := ms.UpdateMeeting(ctx, alice, m.Key, func(m *directory.Meeting) error {
				m.Attendees = append(m.Attendees, fmt.Sprintf("sip:guest%02d@example.org", i))
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateMeeting: %v", err)
		}
	}
	got, err := ms.Meeting(ctx, alice, m.Key)
	must(t, err)
	if got.Version != n || len(got.Attendees) != n {
		t.Errorf("after %d concurrent updates: Version = %d, %d attendees; want %d and %d",
			n, got.Version, len(got.Attendees), n, n)
	}
	slices.Sort(got.Attendees)
	if len(slices.Compact(got.Attendees)) != len(got.Attendees) {
		t.Errorf("concurrent updates lost or doubled an attendee: %v", got.Attendees)
	}
}

func (x suite) expiredMeetings(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	now := t0
	for i, tc := range []struct {
		organizer, key string
		expires        time.Duration // from now
		active         bool
	}{
		{alice, "Expired3h", -3 * time.Hour, false},
		{alice, "ActiveExp2h", -2 * time.Hour, true},
		{alice, "Expired1h", -time.Hour, false},
		{alice, "ExpiresNow", 0, false},
		{alice, "Expires1hLater", time.Hour, false},
		{bob, "Expired4h", -4*time.Hour + time.Nanosecond, false},
	} {
		m := newMeeting(tc.organizer, tc.key, i+1)
		m.StartsAt, m.EndsAt = time.Time{}, time.Time{}
		m.ExpiresAt, m.Active = now.Add(tc.expires), tc.active
		must(t, ms.CreateMeeting(ctx, m))
	}
	expired := func(now time.Time, limit int) []string {
		t.Helper()
		list, err := ms.ExpiredMeetings(ctx, now, limit)
		must(t, err)
		return keys(list, func(m directory.Meeting) string { return m.Key })
	}
	wantKeys(t, "ExpiredMeetings(now, 10)", expired(now, 10), "Expired4h", "Expired3h", "Expired1h")
	wantKeys(t, "ExpiredMeetings(now, 2)", expired(now, 2), "Expired4h", "Expired3h")
	wantKeys(t, "ExpiredMeetings(now, 0)", expired(now, 0))
	wantKeys(t, "ExpiredMeetings(now-5h, 10)", expired(now.Add(-5*time.Hour), 10))
	wantKeys(t, "ExpiredMeetings(now+1ns, 10)", expired(now.Add(time.Nanosecond), 10),
		"Expired4h", "Expired3h", "Expired1h", "ExpiresNow")

	// A meeting whose Focus stopped becomes sweepable.
	_, err := ms.UpdateMeeting(ctx, alice, "ActiveExp2h", func(m *directory.Meeting) error {
		m.Active = false
		return nil
	})
	must(t, err)
	wantKeys(t, "ExpiredMeetings after deactivation", expired(now, 10),
		"Expired4h", "Expired3h", "ActiveExp2h", "Expired1h")
	list, err := ms.ExpiredMeetings(ctx, now, 1)
	must(t, err)
	wantMeeting(t, "ExpiredMeetings returns whole meetings", ms, list[0])
}

func (x suite) conferenceIDs(t *testing.T) {
	s, ms := x.meetingStore(t)
	ctx := t.Context()
	carol := newUser("carol") // pool1, assigned an ID with no meeting yet
	carol.ConferenceID = "4000001"
	dave := newUser("dave")
	dave.Pool, dave.ConferenceID = pool2, "4000002"
	must(t, s.CreateUser(ctx, carol))
	must(t, s.CreateUser(ctx, dave))
	for i, tc := range []struct {
		organizer, key, pool, conferenceID string
		kind                               directory.MeetingKind
	}{
		{alice, "Meeting01", pool1, "1000001", directory.KindOneTime},
		{alice, "Meeting02", pool1, "1000002", directory.KindRecurring},
		{alice, "Meeting03", pool1, "", directory.KindAdHoc},
		{alice, "MyMeeting", pool1, "1000003", directory.KindPersonal}, // alice's assigned ID too
		{bob, "Meeting04", pool2, "2000001", directory.KindOneTime},
	} {
		m := newMeeting(tc.organizer, tc.key, i+1)
		m.Pool, m.ConferenceID, m.Kind = tc.pool, tc.conferenceID, tc.kind
		must(t, ms.CreateMeeting(ctx, m))
	}
	ids := func(pool string) []string {
		t.Helper()
		var got []string
		must(t, ms.ConferenceIDs(ctx, pool, func(id string) error {
			got = append(got, id)
			return nil
		}))
		slices.Sort(got)
		return got
	}
	wantKeys(t, "ConferenceIDs(pool1)", ids(pool1), "1000001", "1000002", "1000003", "4000001")
	wantKeys(t, "ConferenceIDs(pool2)", ids(pool2), "2000001", "4000002")
	wantKeys(t, "ConferenceIDs(unknown pool)", ids("nope.parley.test"))

	errStop := errors.New("stop")
	calls := 0
	err := ms.ConferenceIDs(ctx, pool1, func(string) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("ConferenceIDs with a failing fn: error %v after %d calls, want %v after 1", err, calls, errStop)
	}
}

// meetingCreateConcurrent races creates for one key, one conference ID and
// one organizer's personal meeting: exactly one of each must win, and the
// losers must see ErrExists, whichever of the store's checks caught them.
func (x suite) meetingCreateConcurrent(t *testing.T) {
	_, ms := x.meetingStore(t)
	ctx := t.Context()
	const n = 8
	for _, tc := range []struct {
		name string
		m    func(i int) directory.Meeting
	}{
		{"same key", func(i int) directory.Meeting { return newMeeting(alice, "Contested", 100+i) }},
		{"same conference ID", func(i int) directory.Meeting {
			m := newMeeting(bob, fmt.Sprintf("Racer%04d", i), 200+i)
			m.ConferenceID = "7000001"
			return m
		}},
		{"personal", func(i int) directory.Meeting {
			m := newMeeting(alice, fmt.Sprintf("Personal%02d", i), 300+i)
			m.Kind = directory.KindPersonal
			return m
		}},
	} {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = ms.CreateMeeting(ctx, tc.m(i)) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, directory.ErrExists):
				t.Errorf("%s: CreateMeeting error = %v, want %v", tc.name, err, directory.ErrExists)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d of %d concurrent creates succeeded, want 1", tc.name, won, n)
		}
	}
}
