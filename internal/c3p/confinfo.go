package c3p

import (
	"encoding/xml"
	"time"
)

// Values of the RFC 4575 §5.1 state attribute.
const (
	StateFull    = "full"
	StatePartial = "partial"
	StateDeleted = "deleted"
)

// AdmissionPolicy is the msci:admission-policy of a conference: who may
// join it.
type AdmissionPolicy string

// Admission policies. openAuthenticated appears in [MS-CONFPRO] §4.1; the
// other two are the UCMA 2.0 ConferenceAdmissionPolicy names in the
// protocol's camel case and are not confirmed by a wire example. PSTN
// callers can only join an anonymous conference (UCMA "Conference
// Scheduling and Management").
const (
	AdmissionClosedAuthenticated AdmissionPolicy = "closedAuthenticated"
	AdmissionOpenAuthenticated   AdmissionPolicy = "openAuthenticated"
	AdmissionAnonymous           AdmissionPolicy = "anonymous"
)

// Roles of a conference participant (RFC 4575 roles/entry; [MS-CONFBAS]
// §2.2.3.4 examples).
const (
	RoleAttendee  = "attendee"
	RolePresenter = "presenter"
)

// Joining methods of an endpoint (RFC 4575 §5.7.6); [MS-CONFBAS] §2.2.3.15
// and §2.2.3.18 require dialed-out and dialed-in for the addUser dial-out
// and dial-in documents.
const (
	JoiningDialedIn   = "dialed-in"
	JoiningDialedOut  = "dialed-out"
	JoiningFocusOwner = "focus-owner"
)

// ConferenceInfo is an RFC 4575 conference-info document with the Microsoft
// extensions C3P commands use ([MS-CONFBAS] §2.2.2.2): addConference and
// getConference carry the conference settings in it, the responses to
// addConference and deleteConference the conference URI (Entity).
type ConferenceInfo struct {
	// Entity is the conference URI, the focus URI
	// (sip:org;gruu;opaque=app:conf:focus:id:ID). An addConference request
	// sends it empty and reads the new one from the response
	// ([MS-CONFPRO] §3.1.5.3). It is always written, empty or not.
	Entity string
	// State is the RFC 4575 state attribute (StateFull, ...), or empty.
	State string
	// Version is the RFC 4575 version attribute.
	Version *uint64

	Description     *ConferenceDescription
	ConferenceState *ConferenceState
	Users           *Users
	View            *ConferenceView
	Extensions
}

// ConferenceDescription is the conference-description element: RFC 4575
// fields plus the msci extensions of [MS-CONFPRO] §2.2.1.2 and §4.1.
// Pointer fields distinguish "absent" from "empty", which matters to
// modifyConference: an absent subject is left as it is, an empty one is
// cleared.
type ConferenceDescription struct {
	DisplayText *string // ci:display-text
	Subject     *string // ci:subject
	// ConfURIs are the RFC 4575 conf-uris entries: the MCU URIs with their
	// purpose (chat, audio-video, ...). nil when absent.
	ConfURIs []URIEntry

	// ConferenceID identifies the conference among the organizer's; 8 to 32
	// ASCII alphanumerics ([MS-CONFPRO] §2.2.1.2). It is not the numeric
	// PSTN conference ID (that is PSTNAccess.ID).
	ConferenceID string
	// ConferenceKey is deprecated by [MS-CONFPRO] §2.2.1.2 and kept for
	// old clients.
	ConferenceKey *string
	LastUpdate    *time.Time // required in responses
	LastActivate  *time.Time
	IsActive      *bool
	// ExpiryTime is when the Focus Factory may delete the conference
	// (UTC).
	ExpiryTime      *time.Time
	AdmissionPolicy AdmissionPolicy
	// PSTNAccess asks for (in addConference) or describes (in responses)
	// dial-in access. An empty element in a request asks the Focus Factory
	// to assign a PSTN conference ID ([MS-CONFPRO] §4.1, OCS R2 dial-in
	// call flow).
	PSTNAccess *PSTNAccess
	// AutoPromote is the msci:autopromote bit mask (2147483648 in
	// [MS-CONFPRO] §4.1); its bits are not documented in what we could
	// read.
	AutoPromote *uint64
	// PSTNLobbyBypass lets PSTN callers skip the lobby.
	PSTNLobbyBypass *bool
	// Schedule is pl:schedule: when the meeting takes place, from which
	// the Focus Factory computes its expiry.
	Schedule *Schedule
	Extensions
}

// URIEntry is an entry of RFC 4575 conf-uris.
type URIEntry struct {
	URI         string
	DisplayText *string
	Purpose     string
	Extensions
}

// PSTNAccess is msci:pstn-access. The only child we could confirm is the
// PSTN conference ID, which SIPE reads as conference-description/
// pstn-access/id (local names); it is written in the msci namespace. The
// passcode a client sends with an addConference ([MS-CONFPRO] via the OCS R2
// dial-in call flow: "the client generates a passcode, encrypts it, and
// sends it") and other children stay in Extensions until their names are
// known.
type PSTNAccess struct {
	ID string
	// Passcode is pl:passcode, the dial-in passcode sealed to the Focus
	// Factory's key (PasscodeAlgorithm): the client generates and encrypts
	// it (seed 001, "Meeting Set-up", step 3). Requests only.
	Passcode *Sealed
	// PersonalID is pl:personal-id: in addConference, true asks for the
	// organizer's assigned conference ID ("My Meeting") instead of a new
	// one; in responses, whether the ID is his assigned one.
	PersonalID *bool
	// HasPasscode is pl:has-passcode in responses: whether callers must
	// enter a passcode. The passcode itself is never sent back.
	HasPasscode *bool
	Extensions
}

// ConferenceState is the RFC 4575 conference-state element.
type ConferenceState struct {
	UserCount *uint64
	Active    *bool
	Locked    *bool
	Extensions
}

// Users is the RFC 4575 users element.
type Users struct {
	State   string
	Entries []User
	Extensions
}

// User is an RFC 4575 user: a participant, or an invitee with the role it
// is to have (addConference's presenter and attendee lists).
type User struct {
	// Entity is the user's SIP URI.
	Entity      string
	State       string
	DisplayText *string
	// Roles are the roles/entry values (RoleAttendee, RolePresenter); nil
	// when the roles element is absent.
	Roles      []string
	Endpoints  []Endpoint
	ClientInfo *ClientInfo
	Extensions
}

// Endpoint is an RFC 4575 endpoint with the attributes [MS-CONFBAS]
// §2.2.3.15/§2.2.3.18 add for dial-in and dial-out.
type Endpoint struct {
	// Entity identifies the endpoint; clients use a GUID in braces.
	Entity string
	State  string
	// EndpointURI and ReferToURI are sip: or tel: URIs; an MCU dialing out
	// sends its INVITE to ReferToURI, else EndpointURI, else the user.
	EndpointURI string
	ReferToURI  string
	// SessionType is the MCU type the endpoint is connected to (chat,
	// audio-video, ...), as SIPE reads it from rosters.
	SessionType   string
	DisplayText   *string
	Status        string // ci:status: connected, disconnected, ...
	JoiningMethod string // ci:joining-method: JoiningDialedIn, ...
	Media         []Media
	Extensions
}

// Media is an RFC 4575 media element with the msci ingress filter
// ([MS-CONFAV] §2.2.2.1.2.1) that mutes a participant.
type Media struct {
	ID          string
	State       string
	DisplayText *string
	Type        string // audio, video, ...
	Label       string
	SrcID       string
	Status      string // sendrecv, sendonly, recvonly, inactive
	// IngressFilter filters media from the endpoint to the MCU: "block"
	// mutes, "unblock" unmutes.
	IngressFilter string
	Extensions
}

// ClientInfo is msci:clientInfo, where an OCS R2 client says it can wait in
// a lobby (msci2:lobby-capable, [MS-CONFBAS] §2.2.3.4).
type ClientInfo struct {
	LobbyCapable *bool
	Extensions
}

// ConferenceView is msci:conference-view: one entity-view per MCU of the
// conference.
type ConferenceView struct {
	State       string // ci:state
	EntityViews []EntityView
	Extensions
}

// EntityView is msci:entity-view. In an addConference request Entity is an
// MCU type (chat, audio-video, ...); in documents from the Focus it is the
// MCU's conference URI. Its entity-state and settings stay in Extensions.
type EntityView struct {
	Entity string
	State  string // ci:state
	Extensions
}

func msciName(local string) xml.Name { return xml.Name{Space: NamespaceMSCI, Local: local} }

func (d *dec) conferenceInfo(el *Element) *ConferenceInfo {
	s := d.sub(el)
	c := &ConferenceInfo{}
	c.Entity, _ = s.attr("", "entity")
	c.State = s.attrState("")
	c.Version = s.attrUint("", "version")
	if x := s.one("conference-description", ciSpaces...); x != nil {
		c.Description = s.conferenceDescription(x)
	}
	if x := s.one("conference-state", ciSpaces...); x != nil {
		c.ConferenceState = s.conferenceState(x)
	}
	if x := s.one("users", ciSpaces...); x != nil {
		c.Users = s.users(x)
	}
	if x := s.one("conference-view", NamespaceMSCI); x != nil {
		c.View = s.conferenceView(x)
	}
	s.done(&c.Extensions)
	return c
}

func (c *ConferenceInfo) encode(name xml.Name) *Element {
	e := newEnc(name, &c.Extensions)
	e.attr("", "entity", c.Entity)
	e.optAttr("", "state", c.State)
	e.attrUint("", "version", c.Version)
	if c.Description != nil {
		e.add(c.Description.encode(e.name("conference-description", NamespaceConferenceInfo)))
	}
	if c.ConferenceState != nil {
		e.add(c.ConferenceState.encode(e.name("conference-state", NamespaceConferenceInfo)))
	}
	if c.Users != nil {
		e.add(c.Users.encode(e.name("users", NamespaceConferenceInfo)))
	}
	if c.View != nil {
		e.add(c.View.encode(msciName("conference-view")))
	}
	return e.done()
}

func (d *dec) conferenceDescription(el *Element) *ConferenceDescription {
	s := d.sub(el)
	c := &ConferenceDescription{}
	c.DisplayText = s.str("display-text", ciSpaces...)
	c.Subject = s.str("subject", ciSpaces...)
	if x := s.one("conf-uris", ciSpaces...); x != nil {
		c.ConfURIs = s.uriEntries(x)
	}
	c.ConferenceID = s.token("conference-id", NamespaceMSCI)
	c.ConferenceKey = s.str("conference-key", NamespaceMSCI)
	c.LastUpdate = s.time("last-update", NamespaceMSCI)
	c.LastActivate = s.time("last-activate", NamespaceMSCI)
	c.IsActive = s.boolean("is-active", NamespaceMSCI)
	c.ExpiryTime = s.time("expiry-time", NamespaceMSCI)
	c.AdmissionPolicy = AdmissionPolicy(s.token("admission-policy", NamespaceMSCI))
	if x := s.one("pstn-access", NamespaceMSCI); x != nil {
		p := &PSTNAccess{}
		ps := s.sub(x)
		p.ID = ps.token("id", NamespaceMSCI)
		if alg, b, ok := ps.sealed("passcode"); ok {
			p.Passcode = &Sealed{Alg: alg, Ciphertext: b}
		}
		p.PersonalID = ps.boolean("personal-id", NamespaceParley)
		p.HasPasscode = ps.boolean("has-passcode", NamespaceParley)
		ps.done(&p.Extensions)
		c.PSTNAccess = p
	}
	c.AutoPromote = s.number("autopromote", NamespaceMSCI)
	c.PSTNLobbyBypass = s.boolean("pstn-lobby-bypass", NamespaceMSCI)
	c.Schedule = s.schedule()
	s.done(&c.Extensions)
	return c
}

func (c *ConferenceDescription) encode(name xml.Name) *Element {
	e := newEnc(name, &c.Extensions)
	e.str("display-text", NamespaceConferenceInfo, c.DisplayText)
	e.str("subject", NamespaceConferenceInfo, c.Subject)
	if c.ConfURIs != nil {
		u := &Element{Name: e.name("conf-uris", NamespaceConferenceInfo)}
		for i := range c.ConfURIs {
			u.Children = append(u.Children, c.ConfURIs[i].encode(xml.Name{Space: u.Name.Space, Local: "entry"}))
		}
		e.add(u)
	}
	e.token("conference-id", NamespaceMSCI, c.ConferenceID)
	e.str("conference-key", NamespaceMSCI, c.ConferenceKey)
	e.time("last-update", NamespaceMSCI, c.LastUpdate)
	e.time("last-activate", NamespaceMSCI, c.LastActivate)
	e.boolean("is-active", NamespaceMSCI, c.IsActive)
	e.time("expiry-time", NamespaceMSCI, c.ExpiryTime)
	e.token("admission-policy", NamespaceMSCI, string(c.AdmissionPolicy))
	// OCS R2 additions follow separators, in two groups, as in
	// [MS-CONFPRO] §4.1: pstn-access, then autopromote and
	// pstn-lobby-bypass.
	second := c.AutoPromote != nil || c.PSTNLobbyBypass != nil
	if c.PSTNAccess != nil || second {
		e.separator()
	}
	if p := c.PSTNAccess; p != nil {
		pe := newEnc(msciName("pstn-access"), &p.Extensions)
		pe.token("id", NamespaceMSCI, p.ID)
		if p.Passcode != nil {
			pe.sealed("passcode", p.Passcode.Alg, p.Passcode.Ciphertext)
		}
		pe.boolean("personal-id", NamespaceParley, p.PersonalID)
		pe.boolean("has-passcode", NamespaceParley, p.HasPasscode)
		e.add(pe.done())
	}
	if second {
		e.separator()
	}
	e.number("autopromote", NamespaceMSCI, c.AutoPromote)
	e.boolean("pstn-lobby-bypass", NamespaceMSCI, c.PSTNLobbyBypass)
	if c.Schedule != nil {
		e.add(c.Schedule.encode())
	}
	return e.done()
}

func (d *dec) uriEntries(el *Element) []URIEntry {
	s := d.sub(el)
	out := []URIEntry{}
	for _, x := range s.all("entry", el.Name.Space) {
		es := s.sub(x)
		u := URIEntry{}
		u.URI = es.token("uri", ciSpaces...)
		u.DisplayText = es.str("display-text", ciSpaces...)
		u.Purpose = es.token("purpose", ciSpaces...)
		es.done(&u.Extensions)
		out = append(out, u)
	}
	var x Extensions
	s.done(&x)
	if len(x.Elements) > 0 || len(x.Attrs) > 0 {
		s.failf("unexpected content in conf-uris")
	}
	return out
}

func (u *URIEntry) encode(name xml.Name) *Element {
	e := newEnc(name, &u.Extensions)
	e.leaf("uri", NamespaceConferenceInfo, u.URI)
	e.str("display-text", NamespaceConferenceInfo, u.DisplayText)
	e.token("purpose", NamespaceConferenceInfo, u.Purpose)
	return e.done()
}

func (d *dec) conferenceState(el *Element) *ConferenceState {
	s := d.sub(el)
	c := &ConferenceState{}
	c.UserCount = s.number("user-count", ciSpaces...)
	c.Active = s.boolean("active", ciSpaces...)
	c.Locked = s.boolean("locked", ciSpaces...)
	s.done(&c.Extensions)
	return c
}

func (c *ConferenceState) encode(name xml.Name) *Element {
	e := newEnc(name, &c.Extensions)
	e.number("user-count", NamespaceConferenceInfo, c.UserCount)
	e.boolean("active", NamespaceConferenceInfo, c.Active)
	e.boolean("locked", NamespaceConferenceInfo, c.Locked)
	return e.done()
}

func (d *dec) users(el *Element) *Users {
	s := d.sub(el)
	u := &Users{Entries: []User{}}
	u.State = s.attrState("")
	for _, x := range s.all("user", ciSpaces...) {
		u.Entries = append(u.Entries, *s.user(x))
	}
	s.done(&u.Extensions)
	return u
}

func (u *Users) encode(name xml.Name) *Element {
	e := newEnc(name, &u.Extensions)
	e.optAttr("", "state", u.State)
	for i := range u.Entries {
		e.add(u.Entries[i].encode(e.name("user", NamespaceConferenceInfo)))
	}
	return e.done()
}

func (d *dec) user(el *Element) *User {
	s := d.sub(el)
	u := &User{}
	u.Entity, _ = s.attr("", "entity")
	u.State = s.attrState("")
	u.DisplayText = s.str("display-text", ciSpaces...)
	u.Roles = s.tokens("roles", "entry", ciSpaces...)
	for _, x := range s.all("endpoint", ciSpaces...) {
		u.Endpoints = append(u.Endpoints, *s.endpoint(x))
	}
	if x := s.one("clientInfo", NamespaceMSCI); x != nil {
		c := &ClientInfo{}
		cs := s.sub(x)
		c.LobbyCapable = cs.boolean("lobby-capable", NamespaceMSCI2)
		cs.done(&c.Extensions)
		u.ClientInfo = c
	}
	s.done(&u.Extensions)
	return u
}

func (u *User) encode(name xml.Name) *Element {
	e := newEnc(name, &u.Extensions)
	e.optAttr("", "entity", u.Entity)
	e.optAttr("", "state", u.State)
	e.str("display-text", NamespaceConferenceInfo, u.DisplayText)
	e.tokens("roles", "entry", NamespaceConferenceInfo, u.Roles)
	for i := range u.Endpoints {
		e.add(u.Endpoints[i].encode(e.name("endpoint", NamespaceConferenceInfo)))
	}
	if c := u.ClientInfo; c != nil {
		ce := newEnc(msciName("clientInfo"), &c.Extensions)
		if c.LobbyCapable != nil {
			ce.separator() // as in [MS-CONFBAS] §2.2.3.4
		}
		ce.boolean("lobby-capable", NamespaceMSCI2, c.LobbyCapable)
		e.add(ce.done())
	}
	return e.done()
}

func (d *dec) endpoint(el *Element) *Endpoint {
	s := d.sub(el)
	p := &Endpoint{}
	p.Entity, _ = s.attr("", "entity")
	p.State = s.attrState("")
	p.EndpointURI, _ = s.attr("", "endpoint-uri")
	p.ReferToURI, _ = s.attr("", "refer-to-uri")
	p.SessionType, _ = s.attr("", "session-type")
	p.DisplayText = s.str("display-text", ciSpaces...)
	p.Status = s.token("status", ciSpaces...)
	p.JoiningMethod = s.token("joining-method", ciSpaces...)
	for _, x := range s.all("media", ciSpaces...) {
		p.Media = append(p.Media, *s.media(x))
	}
	s.done(&p.Extensions)
	return p
}

func (p *Endpoint) encode(name xml.Name) *Element {
	e := newEnc(name, &p.Extensions)
	e.optAttr("", "entity", p.Entity)
	e.optAttr("", "state", p.State)
	e.optAttr("", "endpoint-uri", p.EndpointURI)
	e.optAttr("", "refer-to-uri", p.ReferToURI)
	e.optAttr("", "session-type", p.SessionType)
	e.str("display-text", NamespaceConferenceInfo, p.DisplayText)
	e.token("status", NamespaceConferenceInfo, p.Status)
	e.token("joining-method", NamespaceConferenceInfo, p.JoiningMethod)
	for i := range p.Media {
		e.add(p.Media[i].encode(e.name("media", NamespaceConferenceInfo)))
	}
	return e.done()
}

func (d *dec) media(el *Element) *Media {
	s := d.sub(el)
	m := &Media{}
	m.ID, _ = s.attr("", "id")
	m.State = s.attrState("")
	m.DisplayText = s.str("display-text", ciSpaces...)
	m.Type = s.token("type", ciSpaces...)
	m.Label = s.token("label", ciSpaces...)
	m.SrcID = s.token("src-id", ciSpaces...)
	m.Status = s.token("status", ciSpaces...)
	m.IngressFilter = s.token("media-ingress-filter", NamespaceMSCI)
	s.done(&m.Extensions)
	return m
}

func (m *Media) encode(name xml.Name) *Element {
	e := newEnc(name, &m.Extensions)
	e.optAttr("", "id", m.ID)
	e.optAttr("", "state", m.State)
	e.str("display-text", NamespaceConferenceInfo, m.DisplayText)
	e.token("type", NamespaceConferenceInfo, m.Type)
	e.token("label", NamespaceConferenceInfo, m.Label)
	e.token("src-id", NamespaceConferenceInfo, m.SrcID)
	e.token("status", NamespaceConferenceInfo, m.Status)
	e.token("media-ingress-filter", NamespaceMSCI, m.IngressFilter)
	return e.done()
}

func (d *dec) conferenceView(el *Element) *ConferenceView {
	s := d.sub(el)
	v := &ConferenceView{}
	v.State = s.attrState(NamespaceConferenceInfo)
	for _, x := range s.all("entity-view", NamespaceMSCI) {
		es := s.sub(x)
		ev := EntityView{}
		ev.Entity, _ = es.attr("", "entity")
		ev.State = es.attrState(NamespaceConferenceInfo)
		es.done(&ev.Extensions)
		v.EntityViews = append(v.EntityViews, ev)
	}
	s.done(&v.Extensions)
	return v
}

func (v *ConferenceView) encode(name xml.Name) *Element {
	e := newEnc(name, &v.Extensions)
	e.optAttr(NamespaceConferenceInfo, "state", v.State)
	for i := range v.EntityViews {
		ev := &v.EntityViews[i]
		ee := newEnc(msciName("entity-view"), &ev.Extensions)
		ee.optAttr("", "entity", ev.Entity)
		ee.optAttr(NamespaceConferenceInfo, "state", ev.State)
		e.add(ee.done())
	}
	return e.done()
}
