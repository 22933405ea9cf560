package c3p

// This file holds Parley's own commands for the Conferencing Attendant,
// in the NamespaceParley namespace. Seed 001 ("Connecting to the Meeting",
// steps 8-9) gives their inputs and outputs but no public specification
// their form: the attendant sends the conference ID a caller typed to the
// front end in a SIP SERVICE request and gets back the focus URI, the
// meeting ID and the organizer; then it sends the passcode, or the caller's
// extension and PIN, encrypted, for the front end to verify. UCMA exposed
// the same operations as ConferenceServices.BeginGetConferenceUriByPhone
// ConferenceId and BeginVerifyPasscode, "privileged operations" open only
// to trusted applications. They are served only to trusted services.

// ResolveConference asks which meeting a dial-in conference ID names.
type ResolveConference struct {
	// ConferenceID is the digits the caller typed (request).
	ConferenceID string
	// The meeting (response).
	FocusURI         string
	MeetingID        string
	Organizer        string
	OrganizerName    string
	Subject          string
	Admission        string
	PasscodeRequired *bool
	// Pool is the FQDN of the pool hosting the meeting: a caller who
	// reached another pool's attendant is sent there.
	Pool string
	Extensions
}

// CommandName implements Command.
func (*ResolveConference) CommandName() string { return "resolveConference" }

func (c *ResolveConference) decode(d *dec) {
	c.ConferenceID = d.token("conference-id", NamespaceParley)
	c.FocusURI = d.token("focus-uri", NamespaceParley)
	c.MeetingID = d.token("meeting-id", NamespaceParley)
	c.Organizer = d.token("organizer", NamespaceParley)
	if s := d.str("organizer-name", NamespaceParley); s != nil {
		c.OrganizerName = *s
	}
	if s := d.str("subject", NamespaceParley); s != nil {
		c.Subject = *s
	}
	c.Admission = d.token("admission-policy", NamespaceParley)
	c.PasscodeRequired = d.boolean("passcode-required", NamespaceParley)
	c.Pool = d.token("pool", NamespaceParley)
	d.done(&c.Extensions)
}

func (c *ResolveConference) encode() *Element {
	e := newEnc(plName(c.CommandName()), &c.Extensions)
	e.token("conference-id", NamespaceParley, c.ConferenceID)
	e.token("focus-uri", NamespaceParley, c.FocusURI)
	e.token("meeting-id", NamespaceParley, c.MeetingID)
	e.token("organizer", NamespaceParley, c.Organizer)
	if c.OrganizerName != "" {
		e.leaf("organizer-name", NamespaceParley, c.OrganizerName)
	}
	if c.Subject != "" {
		e.leaf("subject", NamespaceParley, c.Subject)
	}
	e.token("admission-policy", NamespaceParley, c.Admission)
	e.boolean("passcode-required", NamespaceParley, c.PasscodeRequired)
	e.token("pool", NamespaceParley, c.Pool)
	return e.done()
}

// VerifyPasscode checks a meeting's passcode (request: the conference ID
// and the sealed passcode; the response is empty: its code says).
type VerifyPasscode struct {
	ConferenceID string
	Passcode     *Sealed
	Extensions
}

// CommandName implements Command.
func (*VerifyPasscode) CommandName() string { return "verifyPasscode" }

func (c *VerifyPasscode) decode(d *dec) {
	c.ConferenceID = d.token("conference-id", NamespaceParley)
	if alg, b, ok := d.sealed("passcode"); ok {
		c.Passcode = &Sealed{Alg: alg, Ciphertext: b}
	}
	d.done(&c.Extensions)
}

func (c *VerifyPasscode) encode() *Element {
	e := newEnc(plName(c.CommandName()), &c.Extensions)
	e.token("conference-id", NamespaceParley, c.ConferenceID)
	if c.Passcode != nil {
		e.sealed("passcode", c.Passcode.Alg, c.Passcode.Ciphertext)
	}
	return e.done()
}

// VerifyPIN authenticates a caller by extension (or phone number) and
// dial-in PIN. The response names the user.
type VerifyPIN struct {
	// Extension or PhoneNumber identifies the caller (request).
	Extension   string
	PhoneNumber string
	PIN         *Sealed
	// The user (response).
	User        string
	DisplayName string
	// AttemptsLeft is how many wrong PINs remain before lockout
	// (failure responses).
	AttemptsLeft *uint64
	Extensions
}

// CommandName implements Command.
func (*VerifyPIN) CommandName() string { return "verifyPin" }

func (c *VerifyPIN) decode(d *dec) {
	c.Extension = d.token("extension", NamespaceParley)
	c.PhoneNumber = d.token("phone-number", NamespaceParley)
	if alg, b, ok := d.sealed("pin"); ok {
		c.PIN = &Sealed{Alg: alg, Ciphertext: b}
	}
	c.User = d.token("user", NamespaceParley)
	if s := d.str("display-name", NamespaceParley); s != nil {
		c.DisplayName = *s
	}
	c.AttemptsLeft = d.number("attempts-left", NamespaceParley)
	d.done(&c.Extensions)
}

func (c *VerifyPIN) encode() *Element {
	e := newEnc(plName(c.CommandName()), &c.Extensions)
	e.token("extension", NamespaceParley, c.Extension)
	e.token("phone-number", NamespaceParley, c.PhoneNumber)
	if c.PIN != nil {
		e.sealed("pin", c.PIN.Alg, c.PIN.Ciphertext)
	}
	e.token("user", NamespaceParley, c.User)
	if c.DisplayName != "" {
		e.leaf("display-name", NamespaceParley, c.DisplayName)
	}
	e.number("attempts-left", NamespaceParley, c.AttemptsLeft)
	return e.done()
}
