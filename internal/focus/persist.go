package focus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Persistence for restarts (issue 5: "the Focus state needed to resume is
// persisted so that a restarted server [...] can regenerate the Focus of a
// live meeting without losing its roster or roles"). After every change
// the conference's state is written as a JSON snapshot, a few changes at a
// time; Resume rebuilds the conferences from the snapshots at start.
//
// What a resumed meeting does not keep is media: the A/V MCU's legs and
// the chat MCU's IM sessions end with the MCUs' sessions (the snapshot
// records them, and the subscribers are told they are gone), so a resumed
// meeting forgets them and the callers whose presence was their call;
// clients with a focus dialog stay, with their roles, and their
// subscriptions go on with the next version. The MCU assignments stay:
// the roster goes on naming the same MCU URIs (SIPE reads the chat MCU's
// URI once per conference), and the Focus provisions the conference on
// the MCUs again and tells them who may join.

// snapshotFormat versions the snapshot layout.
const snapshotFormat = 1

// snapshot is a conference's persisted state. It is a copy, taken on the
// conference's goroutine and encoded off it; only the dialogs are shared
// (sessionState says why that is safe).
type snapshot struct {
	Format        int                 `json:"format"`
	Conference    string              `json:"conference"`
	Organizer     string              `json:"organizer"`
	Key           string              `json:"key"`
	Version       uint64              `json:"version"`
	Locked        bool                `json:"locked,omitempty"`
	AudienceMuted bool                `json:"audience_muted,omitempty"`
	Seq           uint64              `json:"seq"`
	Unidentified  int                 `json:"unidentified,omitempty"`
	ActivatedAt   time.Time           `json:"activated_at"`
	LastJoin      time.Time           `json:"last_join"`
	NoEnterprise  time.Time           `json:"no_enterprise_since,omitzero"`
	MCUs          []mcuAssignment     `json:"mcus,omitempty"`
	Participants  []participantState  `json:"participants"`
	Services      []sessionState      `json:"services,omitempty"`
	Subscriptions []subscriptionState `json:"subscriptions,omitempty"`
}

// participantState is a persisted participant.
type participantState struct {
	Entity        string        `json:"entity"`
	DisplayName   string        `json:"display_name,omitempty"`
	Role          Role          `json:"role"`
	Authenticated bool          `json:"authenticated,omitempty"`
	Enterprise    bool          `json:"enterprise,omitempty"`
	Muted         bool          `json:"muted,omitempty"`
	MutedBy       muter         `json:"muted_by,omitempty"`
	JoinedAt      time.Time     `json:"joined_at"`
	Seq           uint64        `json:"seq"`
	Session       *sessionState `json:"session,omitempty"`
	DialIn        *dialIn       `json:"dial_in,omitempty"`
	Legs          []leg         `json:"legs,omitempty"`
	Chats         []leg         `json:"chats,omitempty"`
	ChatAllowed   bool          `json:"chat_allowed,omitempty"`
}

// mcuAssignment is a persisted MCU of the meeting.
type mcuAssignment struct {
	Type string `json:"type"`
	URL  string `json:"url"`
	URI  string `json:"uri"`
}

// sessionState is a persisted focus dialog.
//
// A dialog is kept as its dialog.State: the fields and counters a snapshot
// has always held, under the same names
// (testdata/snapshot-v1-old-dialogs.json is one written before). A
// snapshot shares the conference's dialogs (d) rather than copying them:
// their fields never change, and encode reads their counters, which are
// atomic and only ever newer than when the snapshot was taken: what a
// restarted Focus needs. decodeSnapshot restores d, refusing an incomplete
// dialog.
type sessionState struct {
	Dialog   dialog.State `json:"dialog"`
	Endpoint string       `json:"endpoint"`
	d        *dialog.Dialog
}

// subscriptionState is a persisted subscription.
type subscriptionState struct {
	Dialog   dialog.State `json:"dialog"`
	User     string       `json:"user,omitempty"`
	BENotify bool         `json:"benotify,omitempty"`
	Expires  time.Time    `json:"expires"`
	Base     int64        `json:"base"`
	d        *dialog.Dialog
}

// snapshot copies the conference's state. On the conference goroutine;
// encoding (encode) happens elsewhere.
func (c *conference) snapshot() *snapshot {
	s := &snapshot{
		Format: snapshotFormat, Conference: c.uri, Organizer: c.organizer, Key: c.key,
		Version: c.version, Locked: c.locked, AudienceMuted: c.audienceMuted,
		Seq: c.seq, Unidentified: c.unidentified,
		ActivatedAt: c.activatedAt, LastJoin: c.lastJoin, NoEnterprise: c.noEnterpriseSince,
		Participants: make([]participantState, 0, len(c.participants)),
	}
	for _, l := range c.mcuLinks() {
		if l.known.URL != "" {
			s.MCUs = append(s.MCUs, mcuAssignment{Type: l.typ, URL: l.known.URL, URI: l.known.URI})
		}
	}
	for _, p := range c.roster() {
		ps := participantState{
			Entity: p.Entity, DisplayName: p.DisplayName, Role: p.Role,
			Authenticated: p.Authenticated, Enterprise: p.Enterprise, Muted: p.Muted, MutedBy: p.MutedBy,
			JoinedAt: p.JoinedAt, Seq: p.Seq, DialIn: p.DialIn, Legs: slices.Clone(p.Legs),
			Chats: slices.Clone(p.Chats), ChatAllowed: p.ChatAllowed,
		}
		if p.Session != nil {
			ps.Session = &sessionState{d: p.Session.Dialog, Endpoint: p.Session.Endpoint}
		}
		s.Participants = append(s.Participants, ps)
	}
	for _, v := range c.services {
		s.Services = append(s.Services, sessionState{d: v.Dialog, Endpoint: v.Endpoint})
	}
	for _, v := range c.subs {
		s.Subscriptions = append(s.Subscriptions, subscriptionState{
			d: v.d, User: v.user, BENotify: v.benotify, Expires: v.expires, Base: v.base,
		})
	}
	return s
}

// encode is the snapshot's JSON, with the dialogs' counters as they are
// now. Dialogs go in as plain dialog.States: encoding/json would compact
// again whatever a MarshalJSON returned, which for a meeting of a thousand
// cost more than the rest of the snapshot (BenchmarkSnapshot1000).
func (s *snapshot) encode() ([]byte, error) {
	for i := range s.Participants {
		if ss := s.Participants[i].Session; ss != nil {
			ss.Dialog = ss.d.State()
		}
	}
	for i := range s.Services {
		s.Services[i].Dialog = s.Services[i].d.State()
	}
	for i := range s.Subscriptions {
		s.Subscriptions[i].Dialog = s.Subscriptions[i].d.State()
	}
	return json.Marshal(s)
}

// maxSnapshot bounds a snapshot read back: a meeting of the largest size
// a meeting policy allows, with as many subscriptions, stays well below.
const maxSnapshot = 256 << 20

// decodeSnapshot reads a snapshot and checks what resuming relies on: the
// format, the roles, that every dialog is there and complete (a dialog
// that is not fails to unmarshal) and every MCU assignment whole.
func decodeSnapshot(b []byte) (*snapshot, error) {
	if len(b) > maxSnapshot {
		return nil, fmt.Errorf("%w: snapshot of %d bytes", ErrInvalid, len(b))
	}
	s := new(snapshot)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %w", ErrInvalid, err)
	}
	if s.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: snapshot format %d", ErrInvalid, s.Format)
	}
	for _, a := range s.MCUs {
		if a.Type == "" || a.URL == "" || a.URI == "" {
			return nil, fmt.Errorf("%w: incomplete MCU assignment in a snapshot", ErrInvalid)
		}
	}
	for _, p := range s.Participants {
		switch p.Role {
		case RoleOrganizer, RolePresenter, RoleAttendee:
		default:
			return nil, fmt.Errorf("%w: role %q in a snapshot", ErrInvalid, p.Role)
		}
		if p.Session != nil {
			if err := restoreDialog(&p.Session.d, p.Session.Dialog); err != nil {
				return nil, err
			}
		}
	}
	for i := range s.Services {
		if err := restoreDialog(&s.Services[i].d, s.Services[i].Dialog); err != nil {
			return nil, err
		}
	}
	for i := range s.Subscriptions {
		if err := restoreDialog(&s.Subscriptions[i].d, s.Subscriptions[i].Dialog); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// restoreDialog makes *d the dialog st describes.
func restoreDialog(d **dialog.Dialog, st dialog.State) error {
	if st.CallID == "" {
		return errNoDialog
	}
	r, err := dialog.Restore(st)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %w", ErrInvalid, err)
	}
	*d = r
	return nil
}

// errNoDialog reports a session or subscription saved without its dialog.
var errNoDialog = fmt.Errorf("%w: a session or subscription without its dialog in a snapshot", ErrInvalid)

// persister writes a conference's snapshots off its goroutine, gathering
// the changes of SaveDelay into one write.
type persister struct {
	c    *conference
	wake chan struct{}
	// stop ends the loop; its value says what to do last.
	stop chan persistEnd
	done chan struct{}
}

// persistEnd is the persister's last act.
type persistEnd struct {
	snap   *snapshot // save this
	delete bool      // forget the conference
}

func newPersister(c *conference) *persister {
	return &persister{c: c, wake: make(chan struct{}, 1), stop: make(chan persistEnd, 1), done: make(chan struct{})}
}

// touch notes a change to save.
func (p *persister) touch() {
	if p.c.f.cfg.State == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	defer close(p.done)
	store := p.c.f.cfg.State
	for {
		select {
		case end := <-p.stop:
			p.end(end)
			return
		case <-p.wake:
		}
		select {
		case end := <-p.stop:
			p.end(end)
			return
		case <-time.After(p.c.f.cfg.SaveDelay):
		}
		snap, err := call(context.Background(), p.c, func() *snapshot {
			if p.c.stopping || !p.c.activated {
				return nil
			}
			return p.c.snapshot()
		})
		if err != nil || snap == nil || store == nil {
			continue
		}
		p.save(snap)
	}
}

func (p *persister) save(snap *snapshot) {
	b, err := snap.encode()
	if err != nil {
		p.c.log.Error("encoding the meeting's state", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.c.f.cfg.MCUTimeout)
	defer cancel()
	if err := p.c.f.cfg.State.Save(ctx, p.c.uri, b); err != nil {
		p.c.log.Error("saving the meeting's state", "err", err)
	}
}

func (p *persister) end(e persistEnd) {
	store := p.c.f.cfg.State
	if store == nil {
		return
	}
	switch {
	case e.delete:
		ctx, cancel := context.WithTimeout(context.Background(), p.c.f.cfg.MCUTimeout)
		defer cancel()
		if err := store.Delete(ctx, p.c.uri); err != nil {
			p.c.log.Error("deleting the meeting's state", "err", err)
		}
	case e.snap != nil:
		p.save(e.snap)
	}
}

// finish stops the persister, forgetting the conference's state when
// deleteState, and waits for it.
func (p *persister) finish(deleteState bool) {
	p.stop <- persistEnd{delete: deleteState}
	<-p.done
}

// finishWith stops the persister after saving snap.
func (p *persister) finishWith(snap *snapshot) {
	p.stop <- persistEnd{snap: snap}
	<-p.done
}

// Resume regenerates the Focus of every meeting that was active when the
// server stopped, from the StateStore. A meeting that ended or expired
// meanwhile is forgotten. It returns how many meetings it resumed.
func (f *Focus) Resume(ctx context.Context) (int, error) {
	if f.cfg.State == nil {
		return 0, nil
	}
	snaps, err := f.cfg.State.Load(ctx)
	if err != nil {
		return 0, fmt.Errorf("focus: loading saved meetings: %w", err)
	}
	n := 0
	for conf, b := range snaps {
		if err := f.resume(ctx, conf, b); err != nil {
			f.log.WarnContext(ctx, "a saved meeting could not be resumed", "conference", conf, "err", err)
			if err := f.cfg.State.Delete(ctx, conf); err != nil {
				f.log.ErrorContext(ctx, "deleting a saved meeting", "conference", conf, "err", err)
			}
			continue
		}
		n++
	}
	return n, nil
}

// errGone reports a saved meeting that is no longer active.
var errGone = errors.New("focus: the meeting is no longer active")

// resume rebuilds one conference.
func (f *Focus) resume(ctx context.Context, conf string, b []byte) error {
	s, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	if c, org, key, ok := f.conferenceOf(conf); !ok || c != conf || s.Conference != conf || org != s.Organizer || key != s.Key {
		return fmt.Errorf("%w: the snapshot of %q names %q", ErrInvalid, conf, s.Conference)
	}
	m, err := f.cfg.Meetings.Meeting(ctx, s.Organizer, s.Key)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return errGone
	case err != nil:
		return err
	case !m.Active:
		return errGone
	}
	name, size, r := f.organizerPolicy(ctx, s.Organizer)
	if r != nil {
		return r
	}
	c := newConference(f, conf, s.Organizer, s.Key)
	c.meeting, c.organizerName, c.maxSize = m, name, size
	c.version, c.locked, c.audienceMuted = s.Version, s.Locked, s.AudienceMuted
	c.seq, c.unidentified = s.Seq, s.Unidentified
	c.activated, c.activatedAt, c.lastJoin = true, s.ActivatedAt, s.LastJoin
	c.noEnterpriseSince = s.NoEnterprise
	for _, a := range s.MCUs {
		// A type this server does not run is left to the factory.
		if l := c.mcuLink(a.Type); l != nil {
			l.known = mcuState{URL: a.URL, URI: a.URI}
		}
	}
	var dropped, changed []*participant
	for _, ps := range s.Participants {
		if ps.Entity == "" {
			continue
		}
		p := &participant{
			Entity: ps.Entity, DisplayName: ps.DisplayName, Role: ps.Role,
			Authenticated: ps.Authenticated, Enterprise: ps.Enterprise, Muted: ps.Muted, MutedBy: ps.MutedBy,
			JoinedAt: ps.JoinedAt, Seq: ps.Seq,
			// A client with a focus dialog may chat, whatever an older
			// snapshot recorded.
			ChatAllowed: ps.ChatAllowed || ps.Session != nil,
		}
		if ps.Session != nil {
			p.Session = &session{Dialog: ps.Session.d, Endpoint: ps.Session.Endpoint}
		}
		// A caller's presence was his call, and audio legs and IM
		// sessions live and die with the MCUs' sessions: all are gone.
		if len(ps.Legs) > 0 || ps.DialIn != nil || len(ps.Chats) > 0 {
			changed = append(changed, p)
		}
		if !p.present() {
			dropped = append(dropped, p)
			continue
		}
		c.participants[p.Entity] = p
		if p.Enterprise {
			c.enterprise++
		}
		if p.Session != nil {
			c.sessions[p.Session.Dialog.ID] = p
		}
	}
	for _, v := range s.Services {
		c.services[v.d.ID] = &session{Dialog: v.d, Endpoint: v.Endpoint}
	}
	now := f.cfg.Clock.Now()
	for _, v := range s.Subscriptions {
		if !v.Expires.After(now) {
			continue
		}
		c.subs[v.d.ID] = &subscription{
			d: v.d, user: v.User, benotify: v.BENotify, expires: v.Expires, base: v.Base,
			queue: newNoteQueue(f.cfg.SubscriberQueue), kill: make(chan struct{}),
		}
	}
	if c.enterprise > 0 {
		c.noEnterpriseSince = time.Time{}
	} else if c.noEnterpriseSince.IsZero() {
		c.noEnterpriseSince = now
	}
	f.lobby.set(conf, c.enterprise > 0)
	f.mu.Lock()
	if f.closed || f.confs[conf] != nil {
		f.mu.Unlock()
		return fmt.Errorf("%w: %s is already running", ErrInvalid, conf)
	}
	f.confs[conf] = c
	for id := range c.sessions {
		f.dialogs[id] = c
	}
	for id := range c.services {
		f.dialogs[id] = c
	}
	for id := range c.subs {
		f.dialogs[id] = c
	}
	f.mu.Unlock()
	c.start()
	for _, s := range c.subs {
		f.startSender(c, s)
	}
	c.log.InfoContext(ctx, "meeting resumed", "participants", len(c.participants), "subscriptions", len(c.subs))
	// The MCUs are provisioned again and told who may join; those who
	// left with the media are gone.
	c.post(func() {
		for _, l := range c.mcuLinks() {
			l.io.submit(func() {
				// An optional MCU's failure is logged where it happens.
				if err := c.mcuEnsure(l); err != nil && !l.optional {
					c.log.Warn("provisioning the resumed meeting's MCU", "type", l.typ, "err", err)
				}
			})
		}
		c.readmit(c.av)
		c.readmit(c.chat)
		for _, p := range changed {
			if c.participants[p.Entity] == p {
				c.publish(c.userDoc(p))
			}
		}
		for _, p := range dropped {
			c.publish(c.removedDoc(p.Entity))
			for _, s := range c.subs {
				if s.user == p.Entity {
					c.endSubscription(s, "rejected", nil)
				}
			}
		}
		c.persist.touch()
		if len(c.participants) == 0 {
			c.deactivate("everyone left while the server was down")
		}
	})
	return nil
}
