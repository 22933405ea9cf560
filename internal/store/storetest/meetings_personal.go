package storetest

// The meeting tests that span meetings and users: a personal meeting's
// conference ID is its organizer's, and a user's meetings go with him.

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/directory"
)

func (x suite) personalMeeting(t *testing.T) {
	s, ms := x.meetingStore(t)
	ctx := t.Context()
	personal := func(organizer, key string, n int, conferenceID string) directory.Meeting {
		m := newMeeting(organizer, key, n)
		m.Kind, m.ConferenceID, m.StartsAt, m.EndsAt = directory.KindPersonal, conferenceID, time.Time{}, time.Time{}
		return m
	}
	mine := personal(alice, "MyMeeting", 1, "5000001")
	must(t, ms.CreateMeeting(ctx, mine))
	if got := assignedID(t, s, alice); got != mine.ConferenceID {
		t.Errorf("alice's assigned conference ID after CreateMeeting(personal) = %q, want %q", got, mine.ConferenceID)
	}
	wantExists(t, "CreateMeeting(second personal)", ms.CreateMeeting(ctx, personal(alice, "MyMeeting2", 2, "")),
		alice, mine.Key)
	wantExists(t, "CreateMeeting(personal with alice's ID)", ms.CreateMeeting(ctx, personal(bob, "MyMeeting", 3,
		mine.ConferenceID)), mine.ConferenceID)
	if got := assignedID(t, s, bob); got != "" {
		t.Errorf("bob's assigned conference ID after a rejected CreateMeeting = %q, want none", got)
	}

	// Changing the conference ID moves the assigned one; another user's
	// is refused; other changes leave it alone.
	carol := newUser("carol")
	carol.ConferenceID = "5000009"
	must(t, s.CreateUser(ctx, carol))
	_, err := ms.UpdateMeeting(ctx, alice, mine.Key, func(m *directory.Meeting) error {
		m.ConferenceID = carol.ConferenceID
		return nil
	})
	wantExists(t, "UpdateMeeting(personal, carol's ID)", err, carol.ConferenceID, carol.URI)
	_, err = ms.UpdateMeeting(ctx, alice, mine.Key, func(m *directory.Meeting) error {
		m.ConferenceID = "5000002"
		return nil
	})
	must(t, err)
	if got := assignedID(t, s, alice); got != "5000002" {
		t.Errorf("alice's assigned conference ID after UpdateMeeting = %q, want 5000002", got)
	}
	if m, err := ms.MeetingByConferenceID(ctx, "5000002"); err != nil || m.Key != mine.Key {
		t.Errorf("MeetingByConferenceID(5000002) = %q, %v; want %q", m.Key, err, mine.Key)
	}
	_, err = ms.UpdateMeeting(ctx, alice, mine.Key, func(m *directory.Meeting) error {
		m.Active = true
		return nil
	})
	must(t, err)
	if got := assignedID(t, s, carol.URI); got != carol.ConferenceID {
		t.Errorf("carol's assigned conference ID = %q, want %q untouched", got, carol.ConferenceID)
	}

	// Deleting it clears the assigned ID.
	must(t, ms.DeleteMeeting(ctx, alice, mine.Key))
	if got := assignedID(t, s, alice); got != "" {
		t.Errorf("alice's assigned conference ID after DeleteMeeting = %q, want none", got)
	}

	// A meeting that turns personal carries the assigned ID, and gives it
	// up when it stops being personal.
	later := newMeeting(alice, "Weekly001", 4)
	later.ConferenceID = "5000003"
	must(t, ms.CreateMeeting(ctx, later))
	setKind := func(kind directory.MeetingKind) {
		t.Helper()
		_, err := ms.UpdateMeeting(ctx, alice, later.Key, func(m *directory.Meeting) error {
			m.Kind = kind
			return nil
		})
		must(t, err)
	}
	setKind(directory.KindPersonal)
	if got := assignedID(t, s, alice); got != later.ConferenceID {
		t.Errorf("alice's assigned conference ID after a meeting turned personal = %q, want %q", got,
			later.ConferenceID)
	}
	setKind(directory.KindRecurring)
	if got := assignedID(t, s, alice); got != "" {
		t.Errorf("alice's assigned conference ID after the meeting stopped being personal = %q, want none", got)
	}

	// A personal meeting may take the ID an administrator assigned its
	// organizer; deleting it spares an ID assigned since.
	must(t, ms.CreateMeeting(ctx, personal(carol.URI, "MyMeeting", 5, carol.ConferenceID)))
	_, err = s.UpdateUser(ctx, carol.URI, func(u *directory.User) error {
		u.ConferenceID = "5000010"
		return nil
	})
	must(t, err)
	must(t, ms.DeleteMeeting(ctx, carol.URI, "MyMeeting"))
	if got := assignedID(t, s, carol.URI); got != "5000010" {
		t.Errorf("carol's assigned conference ID after DeleteMeeting = %q, want 5000010 kept", got)
	}
}

func (x suite) meetingCascade(t *testing.T) {
	s, ms := x.meetingStore(t)
	ctx := t.Context()
	mine := newMeeting(alice, "MyMeeting", 1)
	mine.Kind, mine.ConferenceID, mine.Pool = directory.KindPersonal, "6000001", pool2
	must(t, ms.CreateMeeting(ctx, mine))
	must(t, ms.CreateMeeting(ctx, newMeeting(alice, "Standup01", 2)))
	bobs := newMeeting(bob, "Standup01", 3)
	must(t, ms.CreateMeeting(ctx, bobs))

	// A pool that hosts a meeting stays.
	wantIs(t, "DeletePool(pool2) with a meeting", s.DeletePool(ctx, pool2), directory.ErrInUse)

	// A deleted user's meetings go with him; others' stay.
	must(t, s.DeleteUser(ctx, alice))
	wantKeys(t, "Meetings(deleted alice)", meetingKeys(t, ms, alice))
	_, err := ms.MeetingByConferenceID(ctx, mine.ConferenceID)
	wantIs(t, "MeetingByConferenceID(meeting of a deleted user)", err, directory.ErrNotFound)
	wantMeeting(t, "bob's meeting after alice's delete", ms, bobs)
	must(t, s.DeletePool(ctx, pool2))

	// Their IDs stay used; their conference IDs are free.
	must(t, s.CreateUser(ctx, newUser("alice")))
	again := newMeeting(alice, "MyMeeting", 1)
	wantExists(t, "CreateMeeting(ID of a cascaded meeting)", ms.CreateMeeting(ctx, again), again.ID)
	reuse := newMeeting(bob, "Reuse0001", 4)
	reuse.ConferenceID = mine.ConferenceID
	must(t, ms.CreateMeeting(ctx, reuse))

	// A meeting needs its organizer: the next create is refused.
	must(t, s.DeleteUser(ctx, alice))
	wantInvalid(t, "CreateMeeting(deleted organizer)", ms.CreateMeeting(ctx, newMeeting(alice, "Late00001", 5)),
		"organizer", alice)
}
