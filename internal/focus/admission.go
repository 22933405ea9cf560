package focus

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Admission (seed 003, "Meeting Security and Access" and "Meeting
// Activation"): who may join which meeting, in which role, and what the
// first successful join sets going.

const admitAnonymous = directory.AdmitAnonymous

// joiner is someone asking to join, as the handler found him.
type joiner struct {
	entity  string
	display string
	// authenticated by the server; enterprise when he is also an
	// enabled user of this organization's directory.
	authenticated bool
	enterprise    bool
	// endpoint and dialog are a client's focus join; dialIn a caller the
	// attendant adds.
	endpoint string
	dialog   *dialog.Dialog
	dialIn   *dialIn
	// meeting is the meeting as the store has it now: lists and
	// admission may have changed since the activation.
	meeting directory.Meeting
}

// admission is the conference's answer to a joiner.
type admission struct {
	refusal *Refusal
	entity  string
	role    Role
	display string
	// mcu gets the A/V MCU's answer to the addUser that lets the
	// participant into the audio.
	mcu chan error
	// chat is closed when the chat MCU has been told of him (a client)
	// or, at an activation, allocated; nil when there is nothing to wait
	// for.
	chat <-chan struct{}
}

// join admits a joiner or says why not. On the conference goroutine.
func (c *conference) join(j *joiner) admission {
	if c.stopping {
		return admission{refusal: refuse(ErrEnding, 480, reasonNoConference, 0, "the meeting is ending")}
	}
	c.meeting = j.meeting
	now := c.now()
	p := c.participants[j.entity]
	role := c.roleFor(j, p)
	if p == nil {
		if r := c.admissible(j); r != nil {
			return admission{refusal: r}
		}
		if c.locked && !role.controls() {
			return admission{refusal: refuse(ErrLocked, 403, reasonLocked, c3p.DiagAuthorizationFailed,
				"the meeting is locked: only the organizer and presenters may join")}
		}
		if len(c.participants) >= c.maxSize {
			return admission{refusal: refuse(ErrFull, 486, reasonFull, 0,
				"the meeting is full (%d participants, the organizer's meeting policy)", c.maxSize)}
		}
		display := j.display
		if j.dialIn != nil && !j.authenticated && display == "" {
			// seed 000: callers who gave neither extension and PIN nor a
			// caller ID are listed as "Unidentified Participant 1", "2"...
			c.unidentified++
			display = fmt.Sprintf("Unidentified Participant %d", c.unidentified)
		}
		c.seq++
		p = &participant{
			Entity: j.entity, DisplayName: display, Role: role,
			Authenticated: j.authenticated, Enterprise: j.enterprise,
			JoinedAt: now, Seq: c.seq,
		}
		if c.audienceMuted && role == RoleAttendee {
			p.Muted, p.MutedBy = true, mutedByLeader
		}
		c.participants[p.Entity] = p
		if p.Enterprise {
			c.countEnterprise(1)
		}
	} else {
		if role.rank() > p.Role.rank() {
			p.Role = role
		}
		if p.DisplayName == "" {
			p.DisplayName = j.display
		}
		if j.enterprise && !p.Enterprise {
			p.Enterprise, p.Authenticated = true, true
			c.countEnterprise(1)
		}
	}
	if j.dialog != nil {
		if old := p.Session; old != nil {
			// A second focus dialog of the same user replaces the first
			// (a client that reconnected).
			c.f.removeDialog(old.Dialog.ID)
			delete(c.sessions, old.Dialog.ID)
			c.f.byeAll([]*dialog.Dialog{old.Dialog})
		}
		p.Session = &session{Dialog: j.dialog, Endpoint: j.endpoint}
		c.sessions[j.dialog.ID] = p
		c.f.addDialog(j.dialog.ID, c)
	}
	if j.dialIn != nil {
		p.DialIn = j.dialIn
	}
	c.lastJoin = now
	activating := !c.activated
	if activating {
		c.activated, c.activatedAt = true, now
		if c.enterprise == 0 {
			c.noEnterpriseSince = now
		}
		c.io.submit(func() { c.markActive(now) })
		c.log.Info("meeting activated", "by", p.Entity)
	}
	ch := make(chan error, 1)
	entity, r, d := p.Entity, p.Role, j.dialIn
	c.io.submit(func() { ch <- c.mcuAddUser(c.av, entity, r, d) })
	var chat <-chan struct{}
	switch {
	case j.dialog != nil:
		p.ChatAllowed = true
		chat = c.chatAdd(entity, r)
	case activating:
		// The meeting's MCUs come with its activation, whoever starts it.
		chat = c.chatEnsure()
	}
	c.publish(c.userDoc(p))
	c.log.Debug("participant joined", "user", p.Entity, "role", p.Role)
	return admission{entity: p.Entity, role: p.Role, display: p.DisplayName, mcu: ch, chat: chat}
}

// roleFor is the role a joiner gets (seed 003, "User Roles" and "Meeting
// Security and Access"): the organizer is the organizer; enterprise users
// on the presenter list are presenters; everyone else (anonymous,
// federated, dial-in callers) is an attendee until promoted. A participant
// joining again keeps a role he was promoted to.
func (c *conference) roleFor(j *joiner, p *participant) Role {
	role := RoleAttendee
	switch {
	case j.authenticated && j.entity == c.organizer:
		role = RoleOrganizer
	case j.enterprise && j.dialIn == nil && c.listed(c.meeting.Presenters, j.entity):
		role = RolePresenter
	}
	if p != nil && p.Role.rank() > role.rank() {
		return p.Role
	}
	return role
}

// admissible applies the meeting's admission policy to a newcomer.
func (c *conference) admissible(j *joiner) *Refusal {
	if j.authenticated && j.entity == c.organizer {
		return nil
	}
	m := &c.meeting
	listed := c.listed(m.Presenters, j.entity) || c.listed(m.Attendees, j.entity)
	switch m.Admission {
	case directory.AdmitAnonymous:
		// "A meeting to which anonymous users can be invited."
		return nil
	case directory.AdmitOpen:
		// "All enterprise users can join [...] Federated users can join
		// the meeting as attendees if they are invited by the organizer."
		if !j.authenticated {
			return refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the meeting admits authenticated users only")
		}
		if !j.enterprise && !listed {
			return refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "federated users need the organizer's invitation")
		}
		return nil
	default: // closedAuthenticated
		// "Only authenticated users who are on the meeting organizer's
		// presenter and attendee lists are allowed."
		if !j.authenticated || !listed {
			return refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the meeting admits invited users only")
		}
		return nil
	}
}

// listed reports whether uri is on a meeting list.
func (c *conference) listed(list []string, uri string) bool {
	return slices.ContainsFunc(list, func(u string) bool { return c.f.canonical(u) == uri })
}

// obtain returns the conference of a meeting, creating it when the meeting
// is not running: the meeting must exist and not have expired, and its
// organizer must still be an enabled user (seed 003, "Meeting
// Expiration"; "Meeting Deactivation").
func (f *Focus) obtain(ctx context.Context, conf, organizer, key string) (*conference, directory.Meeting, *Refusal) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, directory.Meeting{}, refuse(ErrClosed, 503, reasonOther, 0, "the server is shutting down")
		}
		c := f.confs[conf]
		if c != nil && c.ending {
			f.mu.Unlock()
			select {
			case <-c.done:
				continue
			case <-ctx.Done():
				return nil, directory.Meeting{}, refuse(ErrEnding, 480, reasonNoConference, 0, "the meeting is ending")
			}
		}
		f.mu.Unlock()
		m, r := f.meeting(ctx, organizer, key, c == nil)
		if r != nil {
			return nil, m, r
		}
		if c != nil {
			return c, m, nil
		}
		name, size, r := f.organizerPolicy(ctx, organizer)
		if r != nil {
			return nil, m, r
		}
		fresh := newConference(f, conf, organizer, key)
		fresh.meeting, fresh.organizerName, fresh.maxSize = m, name, size
		f.mu.Lock()
		if f.closed || f.confs[conf] != nil {
			f.mu.Unlock()
			continue
		}
		f.confs[conf] = fresh
		f.mu.Unlock()
		fresh.start()
		return fresh, m, nil
	}
}

// admit runs a join on the meeting's conference, activating the meeting
// when it is not running. A join that meets the meeting's end waits for it
// and activates the meeting afresh.
func (f *Focus) admit(ctx context.Context, conf, organizer, key string, j *joiner) (*conference, admission, *Refusal) {
	for range 3 {
		c, m, r := f.obtain(ctx, conf, organizer, key)
		if r != nil {
			return nil, admission{}, r
		}
		j.meeting = m
		adm, err := call(ctx, c, func() admission { return c.join(j) })
		switch {
		case err == nil && adm.refusal == nil:
			return c, adm, nil
		case err == nil && !errors.Is(adm.refusal, ErrEnding):
			c.post(c.abandon)
			return c, adm, adm.refusal
		case ctx.Err() != nil:
			return nil, admission{}, refuse(ErrEnding, 480, reasonNoConference, 0, "the meeting is ending")
		}
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
	return nil, admission{}, refuse(ErrEnding, 480, reasonNoConference, 0, "the meeting is ending")
}

// meeting reads a meeting for a join. A meeting that is not running must
// not have expired.
func (f *Focus) meeting(ctx context.Context, organizer, key string, activating bool) (directory.Meeting, *Refusal) {
	m, err := f.cfg.Meetings.Meeting(ctx, organizer, key)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return m, refuse(ErrNoMeeting, 404, reasonNoConference, c3p.DiagInvalidConferenceURI, "%s has no meeting %s", organizer, key)
	case err != nil:
		f.log.ErrorContext(ctx, "reading a meeting", "organizer", organizer, "key", key, "err", err)
		return m, refuse(ErrNoMeeting, 503, reasonOther, 0, "the meeting store is unavailable")
	case activating && !m.ExpiresAt.IsZero() && !f.cfg.Clock.Now().Before(m.ExpiresAt):
		return m, refuse(ErrNoMeeting, 404, reasonNoConference, c3p.DiagInvalidConferenceURI, "the meeting has expired")
	}
	return m, nil
}

// organizerPolicy checks the organizer and returns his display name and
// the maximum meeting size of his meeting policy.
func (f *Focus) organizerPolicy(ctx context.Context, organizer string) (string, int, *Refusal) {
	u, err := f.cfg.Directory.User(ctx, organizer)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return "", 0, refuse(ErrOrganizer, 404, reasonNoConference, c3p.DiagInvalidConferenceURI, "the organizer %s no longer exists", organizer)
	case err != nil:
		f.log.ErrorContext(ctx, "reading the organizer", "organizer", organizer, "err", err)
		return "", 0, refuse(ErrOrganizer, 503, reasonOther, 0, "the directory is unavailable")
	case !u.Enabled:
		return "", 0, refuse(ErrOrganizer, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "the organizer %s is disabled", organizer)
	}
	name := u.MeetingPolicy
	if name == "" {
		name = f.cfg.DefaultPolicy
	}
	size := f.cfg.DefaultMaxSize
	if name != "" {
		p, err := f.cfg.Directory.MeetingPolicy(ctx, name)
		switch {
		case err == nil:
			size = p.MaxMeetingSize
		case !errors.Is(err, directory.ErrNotFound):
			f.log.ErrorContext(ctx, "reading a meeting policy", "policy", name, "err", err)
			return "", 0, refuse(ErrOrganizer, 503, reasonOther, 0, "the directory is unavailable")
		}
	}
	display := u.DisplayName
	if display == "" {
		display = organizer
	}
	return display, size, nil
}

// identify tells an authenticated caller's kind: an enabled user of the
// directory is an enterprise user; a user the server authenticated but the
// directory does not know is federated. A disabled user may not join.
func (f *Focus) identify(ctx context.Context, user string) (enterprise bool, display string, r *Refusal) {
	u, err := f.cfg.Directory.User(ctx, user)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return false, "", nil
	case err != nil:
		f.log.ErrorContext(ctx, "reading a user", "user", user, "err", err)
		return false, "", refuse(ErrUnauthorized, 503, reasonOther, 0, "the directory is unavailable")
	case !u.Enabled:
		return false, "", refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s is disabled", user)
	}
	return true, u.DisplayName, nil
}

// DialIn is a PSTN caller the Conferencing Attendant admitted (seed 001,
// step 11: "the Conferencing Attendant adds the user to the Focus").
type DialIn struct {
	// User is the enterprise user the caller authenticated as with his
	// extension and PIN, "" for a caller who gave the conference ID (and
	// passcode) only.
	User string
	// DisplayName is the user's name; only used with User.
	DisplayName string
	// CallerID is the number the gateway passed, "" when it passed none.
	CallerID string
	// Language is the language the caller chose at the attendant, for
	// the Conference Announcement Service.
	Language string
	// ReferTo, when set, is where the A/V MCU must send its INVITE to take
	// the caller's audio: the Mediation Server's Contact with the
	// Replaces header (RFC 3891) of its dialog with the attendant
	// embedded (RFC 3261 §19.1.5). Empty means the caller's leg will
	// come to the MCU by itself.
	ReferTo string
}

// AddDialInUser adds a dial-in caller to a meeting, activating it if need
// be, and returns his user entity: the identity under which the A/V MCU
// must then be told his leg (LegJoined). Callers join as attendees (the
// organizer, authenticated by his PIN, as the organizer); a caller who is
// already in the meeting by his client keeps his role. The caller appears in the roster
// under his display name when he authenticated with extension and PIN,
// else under his caller ID, else as "Unidentified Participant N" (seed
// 000). It is for trusted services only: the server calls it when the
// Conferencing Attendant has verified the caller. It returns when the A/V
// MCU expects the caller.
func (f *Focus) AddDialInUser(ctx context.Context, focusURI string, in DialIn) (string, error) {
	conf, org, key, ok := f.conferenceOf(focusURI)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a focus URI", ErrInvalid, focusURI)
	}
	j := &joiner{dialIn: &dialIn{CallerID: in.CallerID, Language: cleanDisplayName(in.Language), Endpoint: newEntity(), ReferTo: in.ReferTo}}
	if in.User != "" {
		j.entity = f.canonical(in.User)
		enterprise, name, r := f.identify(ctx, j.entity)
		if r != nil {
			return "", r
		}
		if !enterprise {
			return "", refuse(ErrUnauthorized, 403, reasonUnauthorized, c3p.DiagAuthorizationFailed, "%s is not an enterprise user", j.entity)
		}
		j.authenticated, j.enterprise = true, true
		j.display = cleanDisplayName(in.DisplayName)
		if j.display == "" {
			j.display = cleanDisplayName(name)
		}
	} else {
		j.entity = anonymousEntity("dialin")
		j.display = callerIDText(in.CallerID)
	}
	c, adm, r := f.admit(ctx, conf, org, key, j)
	if r != nil {
		return "", r
	}
	select {
	case err := <-adm.mcu:
		if err != nil {
			entity := adm.entity
			c.post(func() { c.dropDialIn(entity, "the A/V MCU refused the caller") })
			return "", err
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
	awaitChat(ctx, adm.chat)
	return adm.entity, nil
}

// RemoveDialInUser takes a dial-in caller out of a meeting: he hung up
// before his call reached the A/V MCU, or the attendant gave up on him.
func (f *Focus) RemoveDialInUser(ctx context.Context, focusURI, userEntity string) error {
	conf, _, _, ok := f.conferenceOf(focusURI)
	if !ok {
		return fmt.Errorf("%w: %q is not a focus URI", ErrInvalid, focusURI)
	}
	c := f.active(conf)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNotActive, conf)
	}
	entity := f.canonical(userEntity)
	found, err := call(ctx, c, func() bool { return c.dropDialIn(entity, "removed by the attendant") })
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s is no dial-in caller of %s", ErrNoUser, entity, conf)
	}
	return nil
}

// dropDialIn ends a participant's dial-in call.
func (c *conference) dropDialIn(entity, why string) bool {
	p := c.participants[entity]
	if p == nil || p.DialIn == nil {
		return false
	}
	p.DialIn = nil
	if p.Session == nil {
		// His audio was his call.
		p.Legs = nil
	}
	if !p.present() {
		c.remove(p, why)
	} else {
		c.publish(c.userDoc(p))
	}
	return true
}

// legJoined adds an audio leg the A/V MCU reports.
func (c *conference) legJoined(user, legID string) {
	p := c.participants[user]
	if p == nil {
		c.log.Debug("A/V leg of somebody not in the roster", "user", user, "leg", legID)
		return
	}
	if p.legIndex(legID) >= 0 {
		return
	}
	endpoint := newEntity()
	if p.DialIn != nil && len(p.Legs) == 0 {
		endpoint = p.DialIn.Endpoint
	}
	p.Legs = append(p.Legs, leg{ID: legID, Endpoint: endpoint})
	if p.Muted {
		entity := p.Entity
		// A dial-in caller who joins muted (the audience is) hears so
		// from the Conference Announcement Service, which sees it here.
		c.io.submit(func() { _ = c.mcuMute(entity, true) })
	}
	c.publish(c.userDoc(p))
}

// legLeft removes an audio leg the A/V MCU reports gone. A dial-in
// caller's call ends with his last leg.
func (c *conference) legLeft(user, legID, why string) {
	p := c.participants[user]
	if p == nil {
		return
	}
	i := p.legIndex(legID)
	if i < 0 {
		return
	}
	p.Legs = slices.Delete(p.Legs, i, i+1)
	if len(p.Legs) == 0 {
		p.DialIn = nil
	}
	if !p.present() {
		c.remove(p, why)
		return
	}
	c.publish(c.userDoc(p))
}
