package c3p

import (
	"encoding/xml"
	"strings"
)

// This file holds the Focus Factory commands of [MS-CONFPRO], which clients
// send in SIP SERVICE requests to sip:user;gruu;opaque=app:conf:focusfactory.

// MCU types a Focus Factory offers ([MS-CONFPRO] §4.7, OCS R2 technical
// reference).
const (
	MCUTypeChat               = "chat"
	MCUTypeAudioVideo         = "audio-video"
	MCUTypeMeeting            = "meeting"
	MCUTypePhoneConf          = "phone-conf"
	MCUTypeApplicationSharing = "applicationsharing"
)

func c3pName(local string) xml.Name { return xml.Name{Space: NamespaceC3P, Local: local} }

// ConferenceKeys identifies a conference: by its conference URI (the focus
// URI, for commands sent to the Focus) or by its msci:conference-id (for
// commands sent to the Focus Factory, [MS-CONFPRO] §4.5).
type ConferenceKeys struct {
	ConfEntity   string
	ConferenceID string
	Extensions
}

func (d *dec) conferenceKeys() *ConferenceKeys {
	el := d.one("conferenceKeys", NamespaceC3P)
	if el == nil {
		return nil
	}
	s := d.sub(el)
	k := &ConferenceKeys{}
	k.ConfEntity, _ = s.attr("", "confEntity")
	k.ConferenceID, _ = s.attr(NamespaceMSCI, "conference-id")
	s.done(&k.Extensions)
	return k
}

func (k *ConferenceKeys) encode() *Element {
	if k == nil {
		return nil
	}
	e := newEnc(c3pName("conferenceKeys"), &k.Extensions)
	e.optAttr("", "confEntity", k.ConfEntity)
	e.optAttr(NamespaceMSCI, "conference-id", k.ConferenceID)
	return e.done()
}

// GetConferencingCapabilities asks the Focus Factory what the pool offers:
// MCU types and dial-in access numbers by region ([MS-CONFPRO] §2.2.3.8, new
// in OCS 2007 R2). The request is empty; the response fills the fields.
type GetConferencingCapabilities struct {
	// CapabilityVersion is 0 for this revision of the protocol.
	CapabilityVersion *uint64
	// MCUTypes are the mcu-types/mcuType values. The response MUST carry
	// mcu-types; nil means absent, empty means present and empty.
	MCUTypes []string
	// PSTNBridging lists the dial-in access numbers. The enabled flag and
	// the anonymous-scheduling element the specification mentions are not
	// modelled (their names are only in a figure we could not read) and
	// stay in Extensions.
	PSTNBridging *PSTNBridging
	// PasscodeKey is pl:passcode-key, the key clients seal passcodes to
	// (PasscodeAlgorithm).
	PasscodeKey *PublicKey
	// PasscodeRequired is pl:passcode-required: the organizer's meeting
	// policy requires a passcode on anonymous meetings.
	PasscodeRequired *bool
	// PasscodeMinLength is pl:passcode-min-length: the fewest digits a
	// passcode may have in the organizer's pool.
	PasscodeMinLength *uint64
	Extensions
}

// CommandName implements Command.
func (*GetConferencingCapabilities) CommandName() string { return "getConferencingCapabilities" }

func (c *GetConferencingCapabilities) decode(d *dec) {
	c.CapabilityVersion = d.attrUint("", "capability-version")
	c.MCUTypes = d.tokens("mcu-types", "mcuType", NamespaceC3P)
	if el := d.one("pstn-bridging", NamespaceC3P); el != nil {
		c.PSTNBridging = d.pstnBridging(el)
	}
	if alg, b, ok := d.sealed("passcode-key"); ok {
		c.PasscodeKey = &PublicKey{Alg: alg, Key: b}
	}
	c.PasscodeRequired = d.boolean("passcode-required", NamespaceParley)
	c.PasscodeMinLength = d.number("passcode-min-length", NamespaceParley)
	d.done(&c.Extensions)
}

func (c *GetConferencingCapabilities) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.attrUint("", "capability-version", c.CapabilityVersion)
	e.tokens("mcu-types", "mcuType", NamespaceC3P, c.MCUTypes)
	if c.PSTNBridging != nil {
		e.add(c.PSTNBridging.encode())
	}
	if k := c.PasscodeKey; k != nil {
		e.sealed("passcode-key", k.Alg, k.Key)
	}
	e.boolean("passcode-required", NamespaceParley, c.PasscodeRequired)
	e.number("passcode-min-length", NamespaceParley, c.PasscodeMinLength)
	return e.done()
}

// PSTNBridging is the pstn-bridging element of a capabilities response.
// The names are the ones SIPE reads (pstn-bridging/access-numbers/region
// with a name attribute, region/access-number/number, default-region); they
// are written in the C3P namespace of the enclosing response.
type PSTNBridging struct {
	AccessNumbers *AccessNumbers
	Extensions
}

// AccessNumbers lists the dial-in numbers by region and names the region
// whose numbers go in invitations by default (the organizer's location
// profile region).
type AccessNumbers struct {
	Regions       []Region
	DefaultRegion string
	Extensions
}

// Region is one dial-in region and its access numbers.
type Region struct {
	Name    string
	Numbers []AccessNumber
	Extensions
}

// AccessNumber is one dial-in access number with its languages (UCMA's
// PhoneAccessNumber.Languages), which Parley writes as pl:language
// elements, the primary language first.
type AccessNumber struct {
	Number    string
	Languages []string
	Extensions
}

func (d *dec) pstnBridging(el *Element) *PSTNBridging {
	s := d.sub(el)
	p := &PSTNBridging{}
	if x := s.one("access-numbers", NamespaceC3P); x != nil {
		as := s.sub(x)
		a := &AccessNumbers{}
		for _, r := range as.all("region", NamespaceC3P) {
			rs := as.sub(r)
			reg := Region{}
			reg.Name, _ = rs.attr("", "name")
			for _, n := range rs.all("access-number", NamespaceC3P) {
				ns := rs.sub(n)
				num := AccessNumber{Number: ns.token("number", NamespaceC3P)}
				for _, l := range ns.all("language", NamespaceParley) {
					num.Languages = append(num.Languages, strings.TrimSpace(ns.leafText(l)))
				}
				ns.done(&num.Extensions)
				reg.Numbers = append(reg.Numbers, num)
			}
			rs.done(&reg.Extensions)
			a.Regions = append(a.Regions, reg)
		}
		a.DefaultRegion = as.token("default-region", NamespaceC3P)
		as.done(&a.Extensions)
		p.AccessNumbers = a
	}
	s.done(&p.Extensions)
	return p
}

func (p *PSTNBridging) encode() *Element {
	e := newEnc(c3pName("pstn-bridging"), &p.Extensions)
	if a := p.AccessNumbers; a != nil {
		ae := newEnc(c3pName("access-numbers"), &a.Extensions)
		for i := range a.Regions {
			r := &a.Regions[i]
			re := newEnc(c3pName("region"), &r.Extensions)
			re.attr("", "name", r.Name)
			for j := range r.Numbers {
				n := &r.Numbers[j]
				ne := newEnc(c3pName("access-number"), &n.Extensions)
				ne.leaf("number", NamespaceC3P, n.Number)
				for _, l := range n.Languages {
					ne.leaf("language", NamespaceParley, l)
				}
				re.add(ne.done())
			}
			ae.add(re.done())
		}
		ae.token("default-region", NamespaceC3P, a.DefaultRegion)
		e.add(ae.done())
	}
	return e.done()
}

// GetAvailableMCUTypes asks for the MCU types a conference can use
// ([MS-CONFPRO] §2.2.2.7, §4.7).
type GetAvailableMCUTypes struct {
	// ServerMode is the server-mode attribute, which a request SHOULD NOT
	// include and which no longer changes the answer.
	ServerMode string
	// MCUTypes are the mcu-types/mcuType values of the response; nil when
	// mcu-types is absent.
	MCUTypes []string
	Extensions
}

// CommandName implements Command.
func (*GetAvailableMCUTypes) CommandName() string { return "getAvailableMcuTypes" }

func (c *GetAvailableMCUTypes) decode(d *dec) {
	c.ServerMode, _ = d.attr("", "server-mode")
	c.MCUTypes = d.tokens("mcu-types", "mcuType", NamespaceC3P)
	d.done(&c.Extensions)
}

func (c *GetAvailableMCUTypes) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.optAttr("", "server-mode", c.ServerMode)
	e.tokens("mcu-types", "mcuType", NamespaceC3P, c.MCUTypes)
	return e.done()
}

// AddConference creates a conference ([MS-CONFPRO] §4.1). The request's
// conference-info carries the settings: subject, conference ID, expiry,
// admission policy, an empty msci:pstn-access to ask for dial-in, the
// invitees and their roles in users, the MCU types in conference-view. The
// response's conference-info carries the new conference URI in its entity.
type AddConference struct {
	ConferenceInfo *ConferenceInfo
	Extensions
}

// CommandName implements Command.
func (*AddConference) CommandName() string { return "addConference" }

func (c *AddConference) decode(d *dec) {
	c.ConferenceInfo = d.conferenceInfoChild()
	d.done(&c.Extensions)
}

func (c *AddConference) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.conferenceInfo(c.ConferenceInfo)
	return e.done()
}

func (d *dec) conferenceInfoChild() *ConferenceInfo {
	if el := d.one("conference-info", ciSpaces...); el != nil {
		return d.conferenceInfo(el)
	}
	return nil
}

func (e *enc) conferenceInfo(c *ConferenceInfo) {
	if c != nil {
		e.add(c.encode(e.name("conference-info", NamespaceConferenceInfo)))
	}
}

// GetConference reads a conference's settings ([MS-CONFPRO] §4.5, and
// [MS-CONFBAS] §4.4.7 through the Focus). The request names the conference
// in Keys and may give a certificate to encrypt the passcode and
// conference key with; the response carries a conference-info.
type GetConference struct {
	Keys           *ConferenceKeys
	EncryptionKey  *EncryptionKey
	ConferenceInfo *ConferenceInfo
	Extensions
}

// EncryptionKey is msci:encryption-key, the certificate with which the
// Focus Factory encrypts secrets in its answer.
type EncryptionKey struct {
	X509Certificate string
	Extensions
}

// CommandName implements Command.
func (*GetConference) CommandName() string { return "getConference" }

func (c *GetConference) decode(d *dec) {
	c.Keys = d.conferenceKeys()
	if el := d.one("encryption-key", NamespaceMSCI); el != nil {
		s := d.sub(el)
		k := &EncryptionKey{X509Certificate: s.token("x509-certificate", NamespaceMSCI)}
		s.done(&k.Extensions)
		c.EncryptionKey = k
	}
	c.ConferenceInfo = d.conferenceInfoChild()
	d.done(&c.Extensions)
}

func (c *GetConference) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.add(c.Keys.encode())
	if k := c.EncryptionKey; k != nil {
		ke := newEnc(msciName("encryption-key"), &k.Extensions)
		ke.token("x509-certificate", NamespaceMSCI, k.X509Certificate)
		e.add(ke.done())
	}
	e.conferenceInfo(c.ConferenceInfo)
	return e.done()
}

// ModifyConference changes a conference: its settings at the Focus Factory
// (subject, admission policy, expiry, passcode), or, sent in the focus
// dialog with an MCU target, the state of one MCU ([MS-CONFBAS] §4.4.10).
// ConferenceInfo carries the changes, usually with State partial.
type ModifyConference struct {
	MCU            MCUTarget
	Keys           *ConferenceKeys
	ConferenceInfo *ConferenceInfo
	Extensions
}

// CommandName implements Command.
func (*ModifyConference) CommandName() string { return "modifyConference" }

func (c *ModifyConference) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.conferenceKeys()
	c.ConferenceInfo = d.conferenceInfoChild()
	d.done(&c.Extensions)
}

func (c *ModifyConference) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	e.conferenceInfo(c.ConferenceInfo)
	return e.done()
}

// DeleteConference deletes a conference at the Focus Factory, or ends it
// when a presenter sends it to the Focus (OCS R2 technical reference:
// every participant is told and every media dialog is ended). The response
// names the conference in ConferenceInfo.Entity ([MS-CONFBAS] §2.2.3.14).
type DeleteConference struct {
	MCU            MCUTarget
	Keys           *ConferenceKeys
	ConferenceInfo *ConferenceInfo
	Extensions
}

// CommandName implements Command.
func (*DeleteConference) CommandName() string { return "deleteConference" }

func (c *DeleteConference) decode(d *dec) {
	c.MCU = d.mcuTarget()
	c.Keys = d.conferenceKeys()
	c.ConferenceInfo = d.conferenceInfoChild()
	d.done(&c.Extensions)
}

func (c *DeleteConference) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	e.mcuTarget(c.MCU)
	e.add(c.Keys.encode())
	e.conferenceInfo(c.ConferenceInfo)
	return e.done()
}

// GetConferenceSummaries lists the conferences the requester organized
// (UCMA ConferenceServices.BeginGetConferenceSummaries; [MS-CONFPRO] lists
// the command among the Focus Factory's). The public documents show neither
// element's content: the response here carries one conference-info per
// conference with the summary fields UCMA's ConferenceSummary exposes
// (conference URI, conference-id, subject, admission policy), plus what
// else the Focus Factory includes. The request is empty.
type GetConferenceSummaries struct {
	Conferences []*ConferenceInfo
	Extensions
}

// CommandName implements Command.
func (*GetConferenceSummaries) CommandName() string { return "getConferenceSummaries" }

func (c *GetConferenceSummaries) decode(d *dec) {
	for _, el := range d.all("conference-info", ciSpaces...) {
		c.Conferences = append(c.Conferences, d.conferenceInfo(el))
	}
	d.done(&c.Extensions)
}

func (c *GetConferenceSummaries) encode() *Element {
	e := newEnc(c3pName(c.CommandName()), &c.Extensions)
	for _, ci := range c.Conferences {
		e.conferenceInfo(ci)
	}
	return e.done()
}
