package focus

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/parleyhq/parley/internal/c3p"
)

// The roster documents (RFC 4575 §5 with the msci extensions of
// [MS-CONFBAS] §2.2.2.2). A subscriber gets the full document first and
// then one partial document per change: the users that changed, each as a
// whole user element (state="full") or as state="deleted"; the
// conference-state when the count or the lock changed; the conference
// view when the lock or the MCUs changed.
//
// What SIPE reads (protocols.md §1.6; sipe-conf.c, sipe_process_conference)
// is all here: conference-info@entity, the subject, conf-uris with their
// purposes (the chat MCU's URI is the entry whose purpose is "chat"), the
// organizer's display name, pstn-access/id, users with their roles and
// endpoints (a user is in the chat while he has an endpoint of
// session-type chat with status connected; audio-video ones carry media
// with id, type and status), and the lock, which SIPE takes from the
// entity-state/locked of the entity-view whose entity-state/media/entry/
// type is "chat".

// Endpoint session types. RFC 4575 leaves them open; OCS names an
// endpoint after the MCU it connects to, and the focus dialog after the
// focus.
const (
	sessionFocus      = "focus"
	sessionAudioVideo = c3p.MCUTypeAudioVideo
	sessionChat       = c3p.MCUTypeChat
)

// RFC 4575 §5.7.1 endpoint status values used here.
const (
	statusConnected = "connected"
	statusDialingIn = "dialing-in"
)

// audioMediaID is the id of an audio-video endpoint's audio stream. SIPE
// reads it as a number and takes 0 as "none", so it is 1.
const audioMediaID = "1"

// versionSentinel stands for the document version while a document is
// marshalled once for every subscriber; each subscriber's own version
// replaces it (splitDoc).
const versionSentinel = uint64(1<<64 - 1)

// splitDoc is a marshalled document cut around its version attribute's
// value.
type splitDoc struct {
	version        uint64 // the conference version it was made at
	prefix, suffix []byte
}

// body is the document with version v, appended to out[:0] (a sender
// reuses its buffer: sipgo has written the previous body when the next is
// made).
func (d *splitDoc) body(out []byte, v uint64) []byte {
	out = out[:0]
	out = append(out, d.prefix...)
	out = strconv.AppendUint(out, v, 10)
	return append(out, d.suffix...)
}

// split marshals doc with the sentinel version and cuts it. The root's
// attributes come before any content, so the first occurrence is the
// root's version.
func split(doc *c3p.ConferenceInfo) (*splitDoc, error) {
	v := versionSentinel
	doc.Version = &v
	b, err := doc.Marshal()
	if err != nil {
		return nil, err
	}
	const attr = `version="`
	digits := strconv.FormatUint(versionSentinel, 10)
	i := bytes.Index(b, []byte(attr+digits+`"`))
	if i < 0 {
		return nil, errNoVersion
	}
	start := i + len(attr)
	return &splitDoc{prefix: b[:start], suffix: b[start+len(digits):]}, nil
}

// errNoVersion cannot happen: the encoder writes the version attribute.
var errNoVersion = fmt.Errorf("%w: the document has no version attribute", ErrInvalid)

// fullDoc is the whole roster.
func (c *conference) fullDoc() *c3p.ConferenceInfo {
	users := &c3p.Users{State: c3p.StateFull, Entries: make([]c3p.User, 0, len(c.participants))}
	for _, p := range c.roster() {
		users.Entries = append(users.Entries, c.userElement(p))
	}
	return &c3p.ConferenceInfo{
		Entity:          c.uri,
		State:           c3p.StateFull,
		Description:     c.description(),
		ConferenceState: c.conferenceState(true),
		Users:           users,
		View:            c.view(),
	}
}

// roster lists the participants in order of arrival.
func (c *conference) roster() []*participant {
	out := make([]*participant, 0, len(c.participants))
	for _, p := range c.participants {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *participant) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// description is the conference-description: what the meeting is and how
// to reach its MCUs.
func (c *conference) description() *c3p.ConferenceDescription {
	m := &c.meeting
	d := &c3p.ConferenceDescription{
		ConfURIs:        c.mcuURIs(),
		ConferenceID:    c.key,
		AdmissionPolicy: c3p.AdmissionPolicy(m.Admission),
	}
	if d.ConfURIs == nil {
		d.ConfURIs = []c3p.URIEntry{}
	}
	if m.Subject != "" {
		subject := m.Subject
		d.Subject = &subject
	}
	if !m.ExpiresAt.IsZero() {
		exp := m.ExpiresAt.UTC()
		d.ExpiryTime = &exp
	}
	if !c.activatedAt.IsZero() {
		at := c.activatedAt.UTC()
		d.LastActivate = &at
	}
	if m.ConferenceID != "" {
		d.PSTNAccess = &c3p.PSTNAccess{ID: m.ConferenceID}
	}
	// The organizer is not part of RFC 4575; SIPE reads
	// conference-description/organizer/display-name, written here in the
	// msci namespace with the organizer's URI beside it.
	org := c3p.ExtensionElement(c3p.NamespaceMSCI, "organizer", "",
		c3p.ExtensionElement(c3p.NamespaceMSCI, "display-name", c.organizerName),
		c3p.ExtensionElement(c3p.NamespaceMSCI, "uri", c.organizer))
	d.Elements = append(d.Elements, org)
	return d
}

// conferenceState is the RFC 4575 §5.4 conference-state.
func (c *conference) conferenceState(withLock bool) *c3p.ConferenceState {
	n := uint64(len(c.participants))
	active := !c.stopping
	s := &c3p.ConferenceState{UserCount: &n, Active: &active}
	if withLock {
		locked := c.locked
		s.Locked = &locked
	}
	return s
}

// view is msci:conference-view: one entity-view per conference entity,
// the focus and each MCU, with its entity-state. SIPE reads the lock from
// the entity-state of the view whose media entry type is chat (the IM
// MCU); the others carry it too. gone are MCU URIs the meeting lost, whose
// views a partial document deletes.
func (c *conference) view(gone ...string) *c3p.ConferenceView {
	v := &c3p.ConferenceView{}
	v.EntityViews = append(v.EntityViews, c.entityView(c.uri, ""))
	for _, l := range c.mcuLinks() {
		if l.known.URI != "" {
			v.EntityViews = append(v.EntityViews, c.entityView(l.known.URI, l.media))
		}
	}
	for _, uri := range gone {
		v.EntityViews = append(v.EntityViews, c3p.EntityView{Entity: uri, State: c3p.StateDeleted})
	}
	return v
}

func (c *conference) entityView(entity, mediaType string) c3p.EntityView {
	state := c3p.ExtensionElement(c3p.NamespaceMSCI, "entity-state", "",
		c3p.ExtensionElement(c3p.NamespaceMSCI, "locked", strconv.FormatBool(c.locked)))
	if mediaType != "" {
		state.Children = append(state.Children, c3p.ExtensionElement(c3p.NamespaceMSCI, "media", "",
			c3p.ExtensionElement(c3p.NamespaceMSCI, "entry", "",
				c3p.ExtensionElement(c3p.NamespaceConferenceInfo, "type", mediaType))))
	}
	ev := c3p.EntityView{Entity: entity}
	ev.Elements = []*c3p.Element{state}
	return ev
}

// userElement is a participant's user element, whole.
func (c *conference) userElement(p *participant) c3p.User {
	u := c3p.User{Entity: p.Entity, State: c3p.StateFull, Roles: []string{p.Role.wire()}}
	if p.DisplayName != "" {
		name := p.DisplayName
		u.DisplayText = &name
	}
	if p.Session != nil {
		u.Endpoints = append(u.Endpoints, c3p.Endpoint{
			Entity: p.Session.Endpoint, SessionType: sessionFocus,
			Status: statusConnected, JoiningMethod: c3p.JoiningDialedIn,
		})
	}
	for _, l := range p.Legs {
		u.Endpoints = append(u.Endpoints, c.audioEndpoint(p, l.Endpoint, statusConnected))
	}
	if p.DialIn != nil && len(p.Legs) == 0 {
		u.Endpoints = append(u.Endpoints, c.audioEndpoint(p, p.DialIn.Endpoint, statusDialingIn))
	}
	for _, s := range p.Chats {
		// What SIPE needs to list him in the chat: session-type chat and
		// status connected. The IM MCU carries no media to describe.
		u.Endpoints = append(u.Endpoints, c3p.Endpoint{
			Entity: s.Endpoint, SessionType: sessionChat,
			Status: statusConnected, JoiningMethod: c3p.JoiningDialedIn,
		})
	}
	return u
}

// audioEndpoint is an endpoint at the A/V MCU with its audio stream;
// muted is recvonly with the ingress filter blocked ([MS-CONFAV]
// §2.2.2.1.2.1), as SIPE sends it.
func (c *conference) audioEndpoint(p *participant, entity, status string) c3p.Endpoint {
	media := c3p.Media{ID: audioMediaID, Type: "audio", Status: "sendrecv", IngressFilter: "unblock"}
	if p.Muted {
		media.Status, media.IngressFilter = "recvonly", "block"
		if p.MutedBy != "" {
			// Who muted him: the Conference Announcement Service tells a
			// caller muted by a leader that *6 will not undo it.
			media.Elements = append(media.Elements,
				c3p.ExtensionElement(c3p.NamespaceParley, "muted-by", string(p.MutedBy)))
		}
	}
	e := c3p.Endpoint{
		Entity: entity, SessionType: sessionAudioVideo,
		Status: status, JoiningMethod: c3p.JoiningDialedIn,
		Media: []c3p.Media{media},
	}
	if p.DialIn != nil {
		// A caller on a telephone sees no roster: the Conference
		// Announcement Service finds here whom to play tones to, and the
		// language he chose at the attendant (seed 000).
		e.Elements = append(e.Elements, c3p.ExtensionElement(c3p.NamespaceParley, "dial-in", "true"))
		if p.DialIn.Language != "" {
			e.Elements = append(e.Elements,
				c3p.ExtensionElement(c3p.NamespaceParley, "language", p.DialIn.Language))
		}
	}
	return e
}

// userDoc is the partial document of one participant's change.
func (c *conference) userDoc(p *participant) *c3p.ConferenceInfo {
	return &c3p.ConferenceInfo{
		Entity:          c.uri,
		State:           c3p.StatePartial,
		ConferenceState: c.conferenceState(false),
		Users:           &c3p.Users{State: c3p.StatePartial, Entries: []c3p.User{c.userElement(p)}},
	}
}

// usersDoc is the partial document of several participants' changes.
func (c *conference) usersDoc(ps []*participant) *c3p.ConferenceInfo {
	users := &c3p.Users{State: c3p.StatePartial}
	for _, p := range ps {
		users.Entries = append(users.Entries, c.userElement(p))
	}
	return &c3p.ConferenceInfo{Entity: c.uri, State: c3p.StatePartial, Users: users}
}

// removedDoc is the partial document of a participant's departure.
func (c *conference) removedDoc(entity string) *c3p.ConferenceInfo {
	return &c3p.ConferenceInfo{
		Entity:          c.uri,
		State:           c3p.StatePartial,
		ConferenceState: c.conferenceState(false),
		Users:           &c3p.Users{State: c3p.StatePartial, Entries: []c3p.User{{Entity: entity, State: c3p.StateDeleted}}},
	}
}

// lockDoc is the partial document of a lock change.
func (c *conference) lockDoc() *c3p.ConferenceInfo {
	v := c.view()
	v.State = c3p.StatePartial
	return &c3p.ConferenceInfo{Entity: c.uri, State: c3p.StatePartial, ConferenceState: c.conferenceState(true), View: v}
}

// mcuDoc is the partial document of a new or lost MCU: conf-uris and the
// view, with the views of the MCUs gone deleted.
func (c *conference) mcuDoc(gone ...string) *c3p.ConferenceInfo {
	v := c.view(gone...)
	v.State = c3p.StatePartial
	return &c3p.ConferenceInfo{Entity: c.uri, State: c3p.StatePartial, Description: c.description(), View: v}
}

// endedDoc is the last document: the conference is no longer active and
// has nobody in it.
func (c *conference) endedDoc() *c3p.ConferenceInfo {
	n := uint64(0)
	active := false
	return &c3p.ConferenceInfo{
		Entity: c.uri, State: c3p.StatePartial,
		ConferenceState: &c3p.ConferenceState{UserCount: &n, Active: &active},
	}
}

// publish sends a change to every subscriber, in order: the conference
// version goes up by one, and each subscriber's document version with it.
// It marks the state for the next snapshot.
func (c *conference) publish(doc *c3p.ConferenceInfo) {
	c.version++
	c.full = nil
	c.persist.touch()
	if len(c.subs) == 0 {
		return
	}
	d, err := split(doc)
	if err != nil {
		c.log.Error("encoding a roster update", "err", err)
		return
	}
	d.version = c.version
	now := c.now()
	for _, s := range c.subs {
		c.deliver(s, note{doc: d, version: s.versionAt(c.version), state: s.activeState(now)})
	}
}

// fullSplit is the full document at the current version, marshalled once
// for all the subscribers who ask for it before the next change.
func (c *conference) fullSplit() (*splitDoc, error) {
	if c.full != nil && c.full.version == c.version {
		return c.full, nil
	}
	d, err := split(c.fullDoc())
	if err != nil {
		return nil, err
	}
	d.version = c.version
	c.full = d
	return d, nil
}
