package c3p

// This file holds Parley's command from the Focus to the A/V MCU that plays
// an announcement to one participant (seed 001, step 12: the Conference
// Announcement Service "plays the entry and exit announcements and the
// announcements that confirm in-call commands"). No public specification
// gives its form; it travels in NamespaceParley like the attendant's
// commands, over the same signed C3P/HTTP control channel as addUser and
// modifyEndpointMedia.

// The tones PlayAnnouncement names.
const (
	// ToneEntry tells the dial-in callers that somebody joined: two
	// short rising tones.
	ToneEntry = "entry"
	// ToneExit tells them that somebody left: two short falling tones.
	ToneExit = "exit"
)

// PlayAnnouncement asks the A/V MCU to play, to every audio leg of one
// participant and to nobody else, either a sequence of prompts of the
// announcement catalog (Prompts, keys of internal/prompts, spoken in
// Language) or a tone (Tone). The response repeats the request and tells
// in Legs how many legs it was played to.
type PlayAnnouncement struct {
	// Keys names the conference and the participant who hears it.
	Keys *UserKeys
	// Prompts are catalog keys, played one after the other.
	Prompts []string
	// Language is the BCP 47 tag of the prompts' language; empty means
	// the catalog's fallback.
	Language string
	// Tone is ToneEntry or ToneExit.
	Tone string
	// Legs is how many legs heard it (response).
	Legs *uint64
	Extensions
}

// CommandName implements Command.
func (*PlayAnnouncement) CommandName() string { return "playAnnouncement" }

func (c *PlayAnnouncement) decode(d *dec) {
	c.Keys = d.userKeys()
	c.Prompts = d.tokens("prompts", "prompt", NamespaceParley)
	c.Language = d.token("language", NamespaceParley)
	c.Tone = d.token("tone", NamespaceParley)
	c.Legs = d.number("legs", NamespaceParley)
	d.done(&c.Extensions)
}

func (c *PlayAnnouncement) encode() *Element {
	e := newEnc(plName(c.CommandName()), &c.Extensions)
	e.add(c.Keys.encode())
	e.tokens("prompts", "prompt", NamespaceParley, c.Prompts)
	e.token("language", NamespaceParley, c.Language)
	e.token("tone", NamespaceParley, c.Tone)
	e.number("legs", NamespaceParley, c.Legs)
	return e.done()
}

// AnnounceConference is the body of the A/V MCU's INVITE to the Conference
// Announcement Service (seed 000: the A/V Conferencing Server invites the
// service when the first dial-in caller joins a meeting, once per
// meeting). It names the meeting's Focus, whose roster the service then
// watches, and the MCU's conference, to which it sends PlayAnnouncement
// in the INVITE's dialog (INFO). The 200 OK answers it with a Response
// whose command repeats the request. Like the Focus join of [MS-CONFBAS]
// §3.2.5.1, the INVITE carries C3P and no session description: the
// service has no media of its own, the MCU renders what it asks for.
type AnnounceConference struct {
	// Focus is the meeting's focus URI.
	Focus string
	// MCU is the A/V MCU's conference URI.
	MCU string
	Extensions
}

// CommandName implements Command.
func (*AnnounceConference) CommandName() string { return "announceConference" }

func (c *AnnounceConference) decode(d *dec) {
	c.Focus = d.token("focus", NamespaceParley)
	c.MCU = d.token("mcu", NamespaceParley)
	d.done(&c.Extensions)
}

func (c *AnnounceConference) encode() *Element {
	e := newEnc(plName(c.CommandName()), &c.Extensions)
	e.token("focus", NamespaceParley, c.Focus)
	e.token("mcu", NamespaceParley, c.MCU)
	return e.done()
}
