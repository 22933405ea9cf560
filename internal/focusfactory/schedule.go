package focusfactory

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
)

// idAttempts bounds the retries when another front end issued the same
// conference ID at the same time.
const idAttempts = 5

// addConference creates a meeting ([MS-CONFPRO] §4.1; seed 001, "Meeting
// Set-up", steps 3-4): it checks the request against the organizer's
// meeting policy, assigns a conference ID when dial-in is asked for, stores
// the passcode as a salted slow hash, and answers with the conference URI.
func (f *Factory) addConference(ctx context.Context, o organizer, c *c3p.AddConference) (c3p.Command, *failure) {
	if c.ConferenceInfo == nil || c.ConferenceInfo.Description == nil {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "addConference needs a conference-description")
	}
	desc := c.ConferenceInfo.Description
	if !directory.ValidMeetingKey(desc.ConferenceID) {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "msci:conference-id must be 8 to 32 letters and digits")
	}
	now := f.cfg.Now().UTC()
	m := directory.Meeting{
		Organizer: o.user.URI,
		Key:       desc.ConferenceID,
		Pool:      o.user.Pool,
		Admission: directory.AdmitOpen,
		CreatedAt: now,
		UpdatedAt: now,
		Version:   1,
	}
	if fail := f.applySettings(o, &m, c.ConferenceInfo, now, true); fail != nil {
		return nil, fail
	}
	pstn := desc.PSTNAccess
	if pstn != nil && !o.policy.PSTNDialIn {
		return nil, refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "the meeting policy of %s does not allow dial-in conferencing", o.user.URI)
	}
	if fail := f.checkPasscodePolicy(o, m, pstn != nil); fail != nil {
		return nil, fail
	}
	var err error
	if m.ID, err = confid.NewMeetingID(rand.Reader); err != nil {
		return nil, f.internal("meeting ID", err)
	}

	unlock := f.lock(o.user.URI)
	defer unlock()
	if pstn != nil && pstn.PersonalID != nil && *pstn.PersonalID {
		return f.usePersonalID(ctx, o, m)
	}
	// A bound on each organizer's meetings keeps one account from filling
	// the pool's conference IDs or the database.
	existing, err := f.meetings.Meetings(ctx, o.user.URI)
	if err != nil {
		return nil, f.internal("counting meetings", err)
	}
	if len(existing) >= f.cfg.MaxMeetingsPerOrganizer {
		return nil, refuse(reasonTooManyMeeting, c3p.DiagAuthorizationFailed,
			"%s already has %d meetings, the most one organizer may keep; delete some first", o.user.URI, len(existing))
	}
	for attempt := 0; ; attempt++ {
		if pstn != nil {
			if m.ConferenceID, err = f.ids.reserve(ctx, o.pool); err != nil {
				return nil, f.internal("conference ID", err)
			}
		}
		err = f.meetings.CreateMeeting(ctx, m)
		if err == nil {
			break
		}
		f.ids.release(m.Pool, m.ConferenceID)
		var verr *directory.ValidationError
		switch {
		case errors.As(err, &verr):
			return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "%v", verr)
		case !errors.Is(err, directory.ErrExists):
			return nil, f.internal("storing meeting", err)
		}
		if _, gerr := f.meetings.Meeting(ctx, m.Organizer, m.Key); gerr == nil {
			return nil, refuse(reasonExists, 0, "%s already has a meeting %s", m.Organizer, m.Key)
		}
		// The conference ID or meeting ID clashed with one issued
		// elsewhere: the reservation stays marked taken; draw again.
		if attempt+1 == idAttempts {
			return nil, f.internal("storing meeting", err)
		}
		if m.ID, err = confid.NewMeetingID(rand.Reader); err != nil {
			return nil, f.internal("meeting ID", err)
		}
	}
	f.log.InfoContext(ctx, "meeting created", "organizer", m.Organizer, "key", m.Key, "kind", m.Kind, "dial_in", m.ConferenceID != "")
	return &c3p.AddConference{ConferenceInfo: f.describe(m, false)}, nil
}

// usePersonalID makes the request the organizer's personal meeting ("My
// Meeting"): the meeting that carries his assigned conference ID. Creating
// it again replaces its settings but keeps its ID, key and meeting ID, so
// that the number people have written down keeps working.
func (f *Factory) usePersonalID(ctx context.Context, o organizer, m directory.Meeting) (c3p.Command, *failure) {
	m.Kind = directory.KindPersonal
	m.StartsAt, m.EndsAt, m.RecursUntil = time.Time{}, time.Time{}, time.Time{}
	m.ExpiresAt = Expiry(m)
	cur, found, err := f.personal(ctx, o.user)
	if err != nil {
		return nil, f.internal("personal meeting", err)
	}
	if found {
		upd, err := f.meetings.UpdateMeeting(ctx, cur.Organizer, cur.Key, func(p *directory.Meeting) error {
			p.Subject, p.Admission = m.Subject, m.Admission
			p.Presenters, p.Attendees = m.Presenters, m.Attendees
			p.PasscodeHash, p.AccessKey = m.PasscodeHash, f.resealAccessKey(m, *p)
			p.UpdatedAt, p.Version = m.UpdatedAt, p.Version+1
			return nil
		})
		if err != nil {
			return nil, f.internal("updating personal meeting", err)
		}
		return &c3p.AddConference{ConferenceInfo: f.describe(upd, false)}, nil
	}
	created, fail := f.createPersonal(ctx, o, m)
	if fail != nil {
		return nil, fail
	}
	return &c3p.AddConference{ConferenceInfo: f.describe(created, false)}, nil
}

// resealAccessKey moves the access key sealed for meeting m to meeting to.
func (f *Factory) resealAccessKey(m, to directory.Meeting) []byte {
	if len(m.AccessKey) == 0 {
		return nil
	}
	k, err := f.sealer.open(sealContext(m), m.AccessKey)
	if err != nil {
		return nil
	}
	return f.sealer.seal(sealContext(to), k)
}

// sealContext binds a sealed access key to its meeting.
func sealContext(m directory.Meeting) string { return m.Organizer + "\x00" + m.Key }

// getConference reads a meeting ([MS-CONFPRO] §4.5). The passcode is never
// returned: only its hash is stored.
func (f *Factory) getConference(ctx context.Context, o organizer, c *c3p.GetConference) (c3p.Command, *failure) {
	m, fail := f.find(ctx, o, c.Keys)
	if fail != nil {
		return nil, fail
	}
	return &c3p.GetConference{Keys: c.Keys, ConferenceInfo: f.describe(m, true)}, nil
}

// modifyConference changes a meeting's settings: subject, admission policy,
// invitees, schedule or expiry, passcode (msdn bb804346 lists what a
// scheduling client may change). Absent elements are left as they are.
func (f *Factory) modifyConference(ctx context.Context, o organizer, c *c3p.ModifyConference) (c3p.Command, *failure) {
	m, fail := f.find(ctx, o, c.Keys)
	if fail != nil {
		return nil, fail
	}
	if c.ConferenceInfo == nil {
		return nil, refuse(reasonMalformed, c3p.DiagParseFailed, "modifyConference needs a conference-info")
	}
	now := f.cfg.Now().UTC()
	var out directory.Meeting
	unlock := f.lock(o.user.URI)
	defer unlock()
	var inner *failure
	out, err := f.meetings.UpdateMeeting(ctx, m.Organizer, m.Key, func(cur *directory.Meeting) error {
		next := *cur
		if inner = f.applySettings(o, &next, c.ConferenceInfo, now, false); inner != nil {
			return errRefused
		}
		if d := c.ConferenceInfo.Description; d != nil && d.PSTNAccess != nil && next.ConferenceID == "" {
			inner = refuse(reasonMalformed, c3p.DiagParseFailed, "dial-in cannot be added to an existing meeting; create a new one")
			return errRefused
		}
		if inner = f.checkPasscodePolicy(o, next, next.ConferenceID != ""); inner != nil {
			return errRefused
		}
		next.UpdatedAt, next.Version = now, cur.Version+1
		*cur = next
		return nil
	})
	switch {
	case inner != nil:
		return nil, inner
	case errors.Is(err, directory.ErrNotFound):
		return nil, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "no such meeting")
	case err != nil:
		return nil, f.internal("updating meeting", err)
	}
	return &c3p.ModifyConference{Keys: c.Keys, ConferenceInfo: f.describe(out, false)}, nil
}

// errRefused aborts an UpdateMeeting whose failure is already recorded.
var errRefused = errors.New("focusfactory: refused")

// deleteConference deletes a meeting and frees its conference ID for reuse
// (seed 000: IDs of deleted meetings are reused). An active meeting is
// deleted too: the organizer ends it by deleting it.
func (f *Factory) deleteConference(ctx context.Context, o organizer, c *c3p.DeleteConference) (c3p.Command, *failure) {
	m, fail := f.find(ctx, o, c.Keys)
	if fail != nil {
		return nil, fail
	}
	unlock := f.lock(o.user.URI)
	defer unlock()
	switch err := f.meetings.DeleteMeeting(ctx, m.Organizer, m.Key); {
	case errors.Is(err, directory.ErrNotFound):
		return nil, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "no such meeting")
	case err != nil:
		return nil, f.internal("deleting meeting", err)
	}
	f.ids.release(m.Pool, m.ConferenceID)
	f.log.InfoContext(ctx, "meeting deleted", "organizer", m.Organizer, "key", m.Key)
	return &c3p.DeleteConference{ConferenceInfo: &c3p.ConferenceInfo{
		Entity: c3p.ConferenceURI(m.Organizer, c3p.ServiceFocus, m.Key),
	}}, nil
}

// summaries lists the organizer's meetings (UCMA GetConferenceSummaries).
func (f *Factory) summaries(ctx context.Context, o organizer) (c3p.Command, *failure) {
	list, err := f.meetings.Meetings(ctx, o.user.URI)
	if err != nil {
		return nil, f.internal("listing meetings", err)
	}
	out := &c3p.GetConferenceSummaries{Conferences: []*c3p.ConferenceInfo{}}
	for _, m := range list {
		out.Conferences = append(out.Conferences, f.describe(m, false))
	}
	return out, nil
}

// find resolves conferenceKeys (the msci:conference-id, or the focus URI
// in confEntity) to one of the organizer's meetings. Another organizer's
// meeting is reported as missing, not as forbidden, so that keys cannot be
// probed.
func (f *Factory) find(ctx context.Context, o organizer, k *c3p.ConferenceKeys) (directory.Meeting, *failure) {
	if k == nil {
		return directory.Meeting{}, refuse(reasonMalformed, c3p.DiagParseFailed, "conferenceKeys missing")
	}
	key := k.ConferenceID
	if k.ConfEntity != "" {
		org, svc, ek, ok := c3p.ParseConferenceURI(k.ConfEntity)
		if !ok || svc != c3p.ServiceFocus {
			return directory.Meeting{}, refuse(reasonMalformed, c3p.DiagInvalidConferenceEntity, "confEntity %q is not a focus URI", k.ConfEntity)
		}
		if !sameURI(org, o.user.URI) {
			return directory.Meeting{}, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "no such meeting")
		}
		if key != "" && key != ek {
			return directory.Meeting{}, refuse(reasonMalformed, c3p.DiagInvalidConferenceEntity, "confEntity and conference-id disagree")
		}
		key = ek
	}
	if !directory.ValidMeetingKey(key) {
		return directory.Meeting{}, refuse(reasonMalformed, c3p.DiagInvalidConferenceEntity, "conference key must be 8 to 32 letters and digits")
	}
	m, err := f.meetings.Meeting(ctx, o.user.URI, key)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return directory.Meeting{}, refuse(reasonNotFound, c3p.DiagInvalidConferenceEntity, "no such meeting")
	case err != nil:
		return directory.Meeting{}, f.internal("reading meeting", err)
	}
	return m, nil
}

// applySettings copies what a request's conference-info sets into m.
// create says whether absent fields take their defaults (addConference) or
// stay as they are (modifyConference).
func (f *Factory) applySettings(o organizer, m *directory.Meeting, ci *c3p.ConferenceInfo, now time.Time, create bool) *failure {
	d := ci.Description
	if d == nil {
		d = &c3p.ConferenceDescription{}
	}
	if d.Subject != nil {
		if len(*d.Subject) > directory.MaxSubjectLen {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "subject longer than %d bytes", directory.MaxSubjectLen)
		}
		m.Subject = *d.Subject
	}
	if d.AdmissionPolicy != "" {
		switch a := string(d.AdmissionPolicy); a {
		case directory.AdmitClosed, directory.AdmitOpen, directory.AdmitAnonymous:
			m.Admission = a
		default:
			return refuse(reasonMalformed, c3p.DiagParseFailed, "unknown admission-policy %q", a)
		}
	}
	if m.Admission == directory.AdmitAnonymous && !o.policy.AnonymousAllowed {
		return refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "the meeting policy of %s does not allow anonymous participants", o.user.URI)
	}
	if ci.Users != nil {
		presenters, attendees, fail := invitees(ci.Users)
		if fail != nil {
			return fail
		}
		m.Presenters, m.Attendees = presenters, attendees
	}
	if d.ConferenceKey != nil {
		if len(*d.ConferenceKey) > maxAccessKeyLen {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "conference-key longer than %d bytes", maxAccessKeyLen)
		}
		m.AccessKey = nil
		if *d.ConferenceKey != "" {
			m.AccessKey = f.sealer.seal(sealContext(*m), *d.ConferenceKey)
		}
	}
	if p := d.PSTNAccess; p != nil && p.Passcode != nil {
		code, err := p.Passcode.OpenPasscode(f.cfg.PasscodeKey)
		if err != nil {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "the passcode cannot be decrypted; seal it to the key in getConferencingCapabilities")
		}
		if err := checkPasscode(code, o.pool); err != nil {
			return refuse(reasonMalformed, c3p.DiagParseFailed, "%v", err)
		}
		m.PasscodeHash = directory.HashSecret(code)
	}
	return f.applySchedule(m, d, now, create)
}

// checkPasscodePolicy enforces "passcode required for anonymous meetings"
// on meetings with dial-in access.
func (f *Factory) checkPasscodePolicy(o organizer, m directory.Meeting, dialIn bool) *failure {
	if dialIn && m.Admission == directory.AdmitAnonymous && o.policy.PasscodeRequired && m.PasscodeHash == "" {
		return refuse(reasonUnauthorized, c3p.DiagAuthorizationFailed, "the meeting policy of %s requires a passcode for anonymous meetings with dial-in", o.user.URI)
	}
	return nil
}

// invitees splits the users of a request into presenters and attendees by
// their roles entry (RFC 4575 roles; seed 003, "Roles").
func invitees(u *c3p.Users) (presenters, attendees []string, fail *failure) {
	if len(u.Entries) > directory.MaxParticipants {
		return nil, nil, refuse(reasonMalformed, c3p.DiagParseFailed, "more than %d invitees", directory.MaxParticipants)
	}
	seen := make(map[string]bool, len(u.Entries))
	for _, e := range u.Entries {
		uri := strings.ToLower(baseURI(e.Entity))
		if !strings.HasPrefix(uri, "sip:") || !strings.Contains(uri, "@") {
			return nil, nil, refuse(reasonMalformed, c3p.DiagInvalidTargetUser, "invitee %q is not a SIP URI", e.Entity)
		}
		if seen[uri] {
			continue
		}
		seen[uri] = true
		role := c3p.RoleAttendee
		for _, r := range e.Roles {
			if r == c3p.RolePresenter {
				role = r
			} else if r != c3p.RoleAttendee {
				return nil, nil, refuse(reasonMalformed, c3p.DiagInvalidRole, "role %q is neither presenter nor attendee", r)
			}
		}
		if role == c3p.RolePresenter {
			presenters = append(presenters, uri)
		} else {
			attendees = append(attendees, uri)
		}
	}
	return presenters, attendees, nil
}

// describe is the conference-info of a meeting in responses. full adds
// what getConference returns beyond what addConference does.
func (f *Factory) describe(m directory.Meeting, full bool) *c3p.ConferenceInfo {
	d := &c3p.ConferenceDescription{
		ConferenceID:    m.Key,
		LastUpdate:      &m.UpdatedAt,
		ExpiryTime:      &m.ExpiresAt,
		AdmissionPolicy: c3p.AdmissionPolicy(m.Admission),
	}
	if m.Subject != "" || full {
		d.Subject = &m.Subject
	}
	if m.ConferenceID != "" {
		personal := m.Kind == directory.KindPersonal
		has := m.PasscodeHash != ""
		d.PSTNAccess = &c3p.PSTNAccess{ID: m.ConferenceID, PersonalID: &personal, HasPasscode: &has}
	}
	if m.Kind != directory.KindPersonal {
		s := &c3p.Schedule{Kind: string(m.Kind)}
		if !m.StartsAt.IsZero() {
			s.Start, s.End = &m.StartsAt, &m.EndsAt
		}
		if !m.RecursUntil.IsZero() {
			s.RecursUntil = &m.RecursUntil
		}
		d.Schedule = s
	}
	if full {
		active := m.Active
		d.IsActive = &active
		if !m.LastActivatedAt.IsZero() {
			d.LastActivate = &m.LastActivatedAt
		}
	}
	ci := &c3p.ConferenceInfo{
		Entity:      c3p.ConferenceURI(m.Organizer, c3p.ServiceFocus, m.Key),
		Description: d,
	}
	if full {
		v := m.Version
		ci.Version = &v
		users := &c3p.Users{}
		for _, p := range m.Presenters {
			users.Entries = append(users.Entries, c3p.User{Entity: p, Roles: []string{c3p.RolePresenter}})
		}
		for _, a := range m.Attendees {
			users.Entries = append(users.Entries, c3p.User{Entity: a, Roles: []string{c3p.RoleAttendee}})
		}
		if len(users.Entries) > 0 {
			ci.Users = users
		}
	}
	return ci
}

// internal logs an unexpected error once and turns it into a failure that
// says no more than that.
func (f *Factory) internal(what string, err error) *failure {
	f.log.Error("focus factory internal error", "op", what, "err", err)
	return refuse(reasonOther, 0, "internal error: %s", what)
}
