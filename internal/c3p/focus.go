package c3p

// This file holds the Focus commands of [MS-CONFBAS], which clients send to
// the conference URI (sip:org;gruu;opaque=app:conf:focus:id:ID): addUser in
// the INVITE that opens the focus dialog, the others in INFO requests inside
// it. The Focus relays some of them to an MCU, named by mcuUri.

// MCUTarget is the mcuUri attribute: the MCU-Conference-URI of the MCU a
// command is for (…;opaque=app:conf:audio-video:id:ID). [MS-CONFBAS] writes it
// in the cccpextensions namespace (mscp:mcuUri) in its modifyConference
// example (§4.4.10) and SIPE does so for modifyEndpointMedia, but without a
// namespace in the addUser dial-out example (§2.2.3.15); both are read, and
// Unqualified records which one was so that it is written back the same
// way.
type MCUTarget struct {
	URI         string
	Unqualified bool
}

func (d *dec) mcuTarget() MCUTarget {
	q, qok := d.attr(NamespaceMSCP, "mcuUri")
	u, uok := d.attr("", "mcuUri")
	switch {
	case qok && uok:
		d.failf("mcuUri given twice")
	case uok:
		return MCUTarget{URI: u, Unqualified: true}
	}
	return MCUTarget{URI: q}
}

func (e *enc) mcuTarget(m MCUTarget) {
	switch {
	case m.URI == "":
	case m.Unqualified:
		e.attr("", "mcuUri", m.URI)
	default:
		e.attr(NamespaceMSCP, "mcuUri", m.URI)
	}
}

// UserKeys identifies a participant of a conference.
type UserKeys struct {
	ConfEntity string
	UserEntity string
	Extensions
}

func (d *dec) userKeys() *UserKeys {
	el := d.one("userKeys", NamespaceC3P)
	if el == nil {
		return nil
	}
	s := d.sub(el)
	k := &UserKeys{}
	k.ConfEntity, _ = s.attr("", "confEntity")
	k.UserEntity, _ = s.attr("", "userEntity")
	s.done(&k.Extensions)
	return k
}

func (k *UserKeys) encode() *Element {
	if k == nil {
		return nil
	}
	e := newEnc(c3pName("userKeys"), &k.Extensions)
	e.optAttr("", "confEntity", k.ConfEntity)
	e.optAttr("", "userEntity", k.UserEntity)
	return e.done()
}

// MediaKeys identifies one media stream of one endpoint of a participant.
type MediaKeys struct {
	ConfEntity     string
	UserEntity     string
	EndpointEntity string
	MediaID        string
	Extensions
}

func (d *dec) mediaKeys() *MediaKeys {
	el := d.one("mediaKeys", NamespaceC3P)
	if el == nil {
		return nil
	}
	s := d.sub(el)
	k := &MediaKeys{}
	k.ConfEntity, _ = s.attr("", "confEntity")
	k.UserEntity, _ = s.attr("", "userEntity")
	k.EndpointEntity, _ = s.attr("", "endpointEntity")
	k.MediaID, _ = s.attr("", "mediaId")
	s.done(&k.Extensions)
	return k
}

func (k *MediaKeys) encode() *Element {
	if k == nil {
		return nil
	}
	e := newEnc(c3pName("mediaKeys"), &k.Extensions)
	e.optAttr("", "confEntity", k.ConfEntity)
	e.optAttr("", "userEntity", k.UserEntity)
	e.optAttr("", "endpointEntity", k.EndpointEntity)
	e.optAttr("", "mediaId", k.MediaID)
	return e.done()
}

// AddUser adds a participant ([MS-CONFBAS] §2.2.3.3-§2.2.3.18). In the
// INVITE to the Focus it joins the sender (User with the requested role and
// an endpoint); sent in INFO with an MCU target it dials a user in or out
// (Endpoint.JoiningMethod dialed-in or dialed-out, EndpointURI/ReferToURI
// a sip: or tel: URI). The response repeats Keys and User with the granted
// role.
type AddUser struct {
	MCU  MCUTarget
	Keys *ConferenceKeys
	User *User
	Extensions
}

// CommandName implements Command.
func (*AddUser) CommandName() string { return "addUser" }

func (c *AddUser) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.conferenceKeys()
	if el := d.one("user", ciSpaces...); el != nil {
		c.User = d.user(el)
	}
	d.done(&c.Extensions)
}

func (c *AddUser) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	if c.User != nil {
		e.add(c.User.encode(e.name("user", NamespaceConferenceInfo)))
	}
	return e.done()
}

// DeleteUser removes a participant from the conference (presenters only,
// OCS R2 technical reference).
type DeleteUser struct {
	MCU  MCUTarget
	Keys *UserKeys
	Extensions
}

// CommandName implements Command.
func (*DeleteUser) CommandName() string { return "deleteUser" }

func (c *DeleteUser) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.userKeys()
	d.done(&c.Extensions)
}

func (c *DeleteUser) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	return e.done()
}

// ModifyUserRoles changes the roles of a participant, promoting an attendee
// to presenter for instance.
type ModifyUserRoles struct {
	MCU  MCUTarget
	Keys *UserKeys
	// Roles are the ci:user-roles/entry values; nil when user-roles is
	// absent.
	Roles []string
	Extensions
}

// CommandName implements Command.
func (*ModifyUserRoles) CommandName() string { return "modifyUserRoles" }

func (c *ModifyUserRoles) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.userKeys()
	c.Roles = d.tokens("user-roles", "entry", ciSpaces...)
	d.done(&c.Extensions)
}

func (c *ModifyUserRoles) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	e.tokens("user-roles", "entry", NamespaceConferenceInfo, c.Roles)
	return e.done()
}

// ModifyConferenceLock locks (new participants wait in the lobby) or
// unlocks the conference.
type ModifyConferenceLock struct {
	MCU    MCUTarget
	Keys   *ConferenceKeys
	Locked *bool
	Extensions
}

// CommandName implements Command.
func (*ModifyConferenceLock) CommandName() string { return "modifyConferenceLock" }

func (c *ModifyConferenceLock) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.conferenceKeys()
	c.Locked = d.boolean("locked", NamespaceC3P, NamespaceConferenceInfo)
	d.done(&c.Extensions)
}

func (c *ModifyConferenceLock) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	e.boolean("locked", NamespaceC3P, c.Locked)
	return e.done()
}

// ModifyEndpointMedia changes one media stream of a participant at an MCU:
// status recvonly with ingress filter block mutes an A/V participant,
// sendrecv with unblock unmutes ([MS-CONFAV] §3.2.5.4, §4.3, as SIPE sends
// it).
type ModifyEndpointMedia struct {
	MCU   MCUTarget
	Keys  *MediaKeys
	Media *Media
	Extensions
}

// CommandName implements Command.
func (*ModifyEndpointMedia) CommandName() string { return "modifyEndpointMedia" }

func (c *ModifyEndpointMedia) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.mediaKeys()
	if el := d.one("media", ciSpaces...); el != nil {
		c.Media = d.media(el)
	}
	d.done(&c.Extensions)
}

func (c *ModifyEndpointMedia) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	if c.Media != nil {
		e.add(c.Media.encode(e.name("media", NamespaceConferenceInfo)))
	}
	return e.done()
}
