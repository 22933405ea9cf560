package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
)

// meetingFlags are the flags every meeting command takes: who the organizer
// is and how to reach his Focus Factory.
type meetingFlags struct {
	organizer string
	password  string
	transport string
}

func newMeetingCmd(g *globals) *cobra.Command {
	mf := &meetingFlags{}
	cmd := &cobra.Command{
		Use:   "meeting",
		Short: "Schedule and manage meetings as an organizer (a SIP client of the Focus Factory)",
		Long: `Schedule, list, show and delete an organizer's meetings. Unlike the admin
commands, these act as the organizer's own SIP client: they send C3P commands
in SIP SERVICE requests to his Focus Factory on the server running for
--data DIR (found through its run.json) and sign in with his SIP password.
Give --password - to read the password from standard input.

With --transport udp (the default) a request goes over UDP when it and its
answer fit in a datagram, and over TCP otherwise (RFC 3261 §18.1.1: 1300
bytes); C3P answers that carry meetings or access numbers rarely fit.`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&mf.organizer, "organizer", "", "the organizer's SIP URI, sip:USER@DOMAIN (required)")
	f.StringVar(&mf.password, "password", "", "the organizer's SIP password, or - to read it from standard input (required)")
	f.StringVar(&mf.transport, "transport", "udp", "SIP transport to the server: udp (TCP for what does not fit in a datagram) or tcp")
	_ = cmd.MarkPersistentFlagRequired("organizer")
	_ = cmd.MarkPersistentFlagRequired("password")
	cmd.AddCommand(newMeetingCreateCmd(g, mf), newMeetingListCmd(g, mf), newMeetingShowCmd(g, mf), newMeetingDeleteCmd(g, mf))
	return cmd
}

// focus opens a client to the organizer's Focus Factory.
// focusFor reads the meeting a command names (KEY or conference URI) and
// opens the organizer's Focus Factory client; the caller closes it.
func (g *globals) focusFor(cmd *cobra.Command, mf *meetingFlags, meeting string) (*focusClient, *c3p.ConferenceKeys, error) {
	keys, err := conferenceKeys(meeting)
	if err != nil {
		return nil, nil, err
	}
	fc, err := g.focus(cmd, mf)
	if err != nil {
		return nil, nil, err
	}
	return fc, keys, nil
}

func (g *globals) focus(cmd *cobra.Command, mf *meetingFlags) (*focusClient, error) {
	transport := strings.ToLower(mf.transport)
	if transport != "udp" && transport != "tcp" {
		return nil, fmt.Errorf("--transport %q: want udp or tcp", mf.transport)
	}
	organizer, err := sipURIArg("--organizer", mf.organizer)
	if err != nil {
		return nil, err
	}
	password, err := secretArg(cmd, mf.password)
	if err != nil {
		return nil, err
	}
	udp, tcp, err := g.sipAddrs()
	if err != nil {
		return nil, err
	}
	return newFocusClient(organizer, password, udp, tcp, transport == "udp")
}

// sipURIArg normalizes a user's SIP URI given on the command line:
// "alice@example.com" and "SIP:Alice@Example.com" both become
// sip:alice@example.com, as the directory spells addresses of record.
func sipURIArg(flag, s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if !strings.HasPrefix(u, "sip:") {
		u = "sip:" + u
	}
	user, host, ok := strings.Cut(strings.TrimPrefix(u, "sip:"), "@")
	if !ok || user == "" || host == "" || strings.ContainsAny(u, ";?<> \t\"") || strings.Contains(host, "@") {
		return "", fmt.Errorf("%s %q is not a SIP URI such as sip:alice@example.com", flag, s)
	}
	return u, nil
}

func newMeetingCreateCmd(g *globals, mf *meetingFlags) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create --organizer sip:USER@DOMAIN --password P [flags]",
		Short: "Schedule a meeting and print its invitation",
		Long: `Schedule a meeting and print the invitation to paste into an email: the
subject, when, the conference URI and, with --dial-in, the access numbers by
region, the conference ID and the passcode.

Without --start/--end the meeting is an ad hoc one (it expires 8 hours after
its last use). With them it is a one-time meeting, or with --recurring a
recurring one ending with the occurrence before --until (no end date without
--until). Times are RFC 3339 (2026-03-02T15:00:00+01:00) or local time
(2026-03-02 15:00); --end may also be a duration after --start (90m), and
--until a date (2026-06-30, meaning the end of that day).

--passcode makes this client generate a random passcode, sealed to the Focus
Factory's key so that only the server can read it; it is shown once, here.
--personal reuses the organizer's personal conference ID ("My Meeting").
--ics FILE also writes the meeting as an iCalendar event (RFC 5545).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			plan, err := o.plan(time.Local)
			if err != nil {
				return err
			}
			fc, err := g.focus(cmd, mf)
			if err != nil {
				return err
			}
			defer fc.Close()
			return g.createMeeting(cmd.Context(), fc, &o, plan)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.subject, "subject", "", "the meeting's subject")
	f.StringVar(&o.start, "start", "", "start time (RFC 3339 or local YYYY-MM-DD HH:MM)")
	f.StringVar(&o.end, "end", "", "end time, or a duration after --start such as 1h30m")
	f.StringVar(&o.recurring, "recurring", "", "repeat: daily, weekdays, weekly, biweekly, monthly or yearly")
	f.StringVar(&o.until, "until", "", "end of the last occurrence of a recurring meeting (time or date)")
	f.BoolVar(&o.dialIn, "dial-in", false, "give the meeting a conference ID for phone callers")
	f.BoolVar(&o.passcode, "passcode", false, "require a generated passcode from phone callers (implies --dial-in)")
	f.BoolVar(&o.personal, "personal", false, "use the organizer's personal conference ID (implies --dial-in)")
	f.BoolVar(&o.anonymous, "anonymous", false, "admit anyone, guests and phone callers included")
	f.BoolVar(&o.closed, "closed", false, "admit only the invited presenters and attendees")
	f.StringArrayVar(&o.presenters, "presenter", nil, "invite a presenter by SIP URI (repeatable)")
	f.StringArrayVar(&o.attendees, "attendee", nil, "invite an attendee by SIP URI (repeatable)")
	f.StringVar(&o.ics, "ics", "", "also write the meeting to FILE as an iCalendar event")
	return cmd
}

// createOptions are the flags of meeting create.
type createOptions struct {
	subject, start, end, recurring, until, ics    string
	dialIn, passcode, personal, anonymous, closed bool
	presenters, attendees                         []string
}

// check rejects flag combinations that cannot make a meeting, before any
// SIP traffic.
func (o *createOptions) check() error {
	switch {
	case o.anonymous && o.closed:
		return errors.New("--anonymous and --closed exclude each other")
	case o.personal && (o.start != "" || o.end != "" || o.recurring != ""):
		return errors.New("a --personal meeting has no schedule; leave out --start, --end and --recurring")
	case (o.start == "") != (o.end == ""):
		return errors.New("--start and --end go together")
	case o.recurring != "" && o.start == "":
		return errors.New("--recurring needs --start and --end (the first occurrence)")
	case o.until != "" && o.recurring == "":
		return errors.New("--until needs --recurring")
	case o.ics != "" && o.start == "":
		return errors.New("--ics needs --start and --end: a calendar event has a time")
	}
	o.dialIn = o.dialIn || o.passcode || o.personal
	return nil
}

// schedulePlan is the meeting's schedule as parsed from the flags.
type schedulePlan struct {
	kind              directory.MeetingKind
	start, end, until time.Time
	rec               *recurrence
	presenters        []string
	attendees         []string
}

// plan parses the times and invitees. Times without a zone are in loc.
func (o *createOptions) plan(loc *time.Location) (schedulePlan, error) {
	p := schedulePlan{kind: directory.KindAdHoc}
	if o.personal {
		p.kind = directory.KindPersonal
	}
	for _, in := range []struct {
		flag string
		uris []string
		dst  *[]string
	}{{"--presenter", o.presenters, &p.presenters}, {"--attendee", o.attendees, &p.attendees}} {
		for _, s := range in.uris {
			u, err := sipURIArg(in.flag, s)
			if err != nil {
				return p, err
			}
			*in.dst = append(*in.dst, u)
		}
	}
	if o.start == "" {
		return p, nil
	}
	var err error
	if p.start, _, err = parseWhen(o.start, loc); err != nil {
		return p, fmt.Errorf("--start: %w", err)
	}
	if d, derr := time.ParseDuration(o.end); derr == nil {
		p.end = p.start.Add(d)
	} else if p.end, _, err = parseWhen(o.end, loc); err != nil {
		return p, fmt.Errorf("--end: %w (or a duration such as 1h)", err)
	}
	if !p.end.After(p.start) {
		return p, errors.New("--end must be after --start")
	}
	p.kind = directory.KindOneTime
	if o.recurring == "" {
		return p, nil
	}
	rec, err := recurrenceNamed(o.recurring)
	if err != nil {
		return p, err
	}
	p.kind, p.rec = directory.KindRecurring, &rec
	if o.until != "" {
		var dateOnly bool
		if p.until, dateOnly, err = parseWhen(o.until, loc); err != nil {
			return p, fmt.Errorf("--until: %w", err)
		}
		if dateOnly {
			p.until = p.until.AddDate(0, 0, 1).Add(-time.Second)
		}
		if p.until.Before(p.end) {
			return p, errors.New("--until must not be before the end of the first occurrence")
		}
	}
	return p, nil
}

// whenLayouts are the time forms the flags accept besides RFC 3339, read
// in the local time zone.
var whenLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"}

// parseWhen parses a time flag. dateOnly reports a bare date, which is
// midnight in loc.
func parseWhen(s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, false, nil
	}
	for _, layout := range whenLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, false, nil
		}
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is not a time such as 2026-03-02T15:00:00Z or 2026-03-02 15:00", s)
}

// createMeeting runs meeting create: capabilities, then addConference,
// then the invitation.
func (g *globals) createMeeting(ctx context.Context, fc *focusClient, o *createOptions, plan schedulePlan) error {
	cmd, err := fc.do(ctx, &c3p.GetConferencingCapabilities{})
	if err != nil {
		return err
	}
	caps := cmd.(*c3p.GetConferencingCapabilities) // do checked the command name
	var passcode string
	var sealed *c3p.Sealed
	if o.passcode {
		if caps.PasscodeKey == nil {
			return fmt.Errorf("cannot set a passcode: the Focus Factory of %s offers no passcode key (is dial-in conferencing allowed by his meeting policy?)", fc.organizer.String())
		}
		if passcode, err = newPasscode(passcodeLength(caps)); err != nil {
			return err
		}
		if sealed, err = c3p.SealPasscode(caps.PasscodeKey, passcode); err != nil {
			return err
		}
	}
	key, err := newMeetingKey()
	if err != nil {
		return err
	}
	res, err := fc.do(ctx, &c3p.AddConference{ConferenceInfo: addConferenceInfo(o, plan, key, sealed, caps.MCUTypes)})
	if err != nil {
		return err
	}
	added := res.(*c3p.AddConference)
	if added.ConferenceInfo == nil {
		return fmt.Errorf("%w: addConference succeeded without a conference-info", errBadAnswer)
	}
	v := viewOf(added.ConferenceInfo, fc.organizer.String())
	v.Passcode = passcode
	v.Presenters, v.Attendees = plan.presenters, plan.attendees
	if plan.rec != nil {
		v.Recurrence = plan.rec.name
	}
	if v.ConferenceID != "" {
		v.AccessNumbers = accessNumberViews(caps)
	}
	var icsErr error
	if o.ics != "" {
		if icsErr = writeICSFile(o.ics, v, plan, time.Now()); icsErr == nil {
			v.ICSFile = o.ics
		} else {
			icsErr = fmt.Errorf("meeting %s was created, but %w", v.Key, icsErr)
		}
	}
	err = g.emit(v, func(p *printer) {
		if v.PersonalID {
			// Created again, the personal meeting keeps its key and ID.
			p.printf("Set up personal meeting %s; it lasts as long as the organizer's account.\n\n", v.Key)
		} else {
			p.printf("Created meeting %s; it expires %s.\n\n", v.Key, when(v.Expires))
		}
		p.printf("%s", invitation(v, time.Local))
		if v.ICSFile != "" {
			p.printf("\nWrote the calendar event to %s.\n", v.ICSFile)
		}
	})
	return errors.Join(err, icsErr)
}

// addConferenceInfo is the conference-info of the addConference request
// ([MS-CONFPRO] §4.1): a fresh msci:conference-id, the subject, the
// admission policy, the invitees with their roles, pl:schedule, and an
// msci:pstn-access asking for dial-in, with the sealed passcode.
func addConferenceInfo(o *createOptions, plan schedulePlan, key string, sealed *c3p.Sealed, mcuTypes []string) *c3p.ConferenceInfo {
	d := &c3p.ConferenceDescription{ConferenceID: key, AdmissionPolicy: c3p.AdmissionOpenAuthenticated}
	switch {
	case o.anonymous:
		d.AdmissionPolicy = c3p.AdmissionAnonymous
	case o.closed:
		d.AdmissionPolicy = c3p.AdmissionClosedAuthenticated
	}
	if o.subject != "" {
		d.Subject = &o.subject
	}
	if plan.kind != directory.KindPersonal {
		s := &c3p.Schedule{Kind: string(plan.kind)}
		if !plan.start.IsZero() {
			start, end := plan.start.UTC(), plan.end.UTC()
			s.Start, s.End = &start, &end
		}
		if !plan.until.IsZero() {
			until := plan.until.UTC()
			s.RecursUntil = &until
		}
		d.Schedule = s
	}
	if o.dialIn {
		d.PSTNAccess = &c3p.PSTNAccess{Passcode: sealed}
		if o.personal {
			personal := true
			d.PSTNAccess.PersonalID = &personal
		}
	}
	ci := &c3p.ConferenceInfo{Description: d}
	if len(plan.presenters)+len(plan.attendees) > 0 {
		ci.Users = &c3p.Users{}
		for _, u := range plan.presenters {
			ci.Users.Entries = append(ci.Users.Entries, c3p.User{Entity: u, Roles: []string{c3p.RolePresenter}})
		}
		for _, u := range plan.attendees {
			ci.Users.Entries = append(ci.Users.Entries, c3p.User{Entity: u, Roles: []string{c3p.RoleAttendee}})
		}
	}
	// The MCUs the meeting uses, as a client lists them ([MS-CONFPRO]
	// §4.1 conference-view): those the pool offers.
	if len(mcuTypes) > 0 {
		ci.View = &c3p.ConferenceView{}
		for _, t := range mcuTypes {
			ci.View.EntityViews = append(ci.View.EntityViews, c3p.EntityView{Entity: t})
		}
	}
	return ci
}

// minPasscodeLength is the shortest passcode this client generates.
const minPasscodeLength = 6

// passcodeLength is how many digits a generated passcode has: 6, or the
// minimum the Focus Factory publishes for the organizer's pool
// (pl:passcode-min-length) when that is longer.
func passcodeLength(caps *c3p.GetConferencingCapabilities) int {
	if caps.PasscodeMinLength != nil && *caps.PasscodeMinLength <= 24 {
		return max(minPasscodeLength, int(*caps.PasscodeMinLength))
	}
	return minPasscodeLength
}

// newPasscode returns n random digits that would pass as a PIN (not one
// repeated digit, not a run such as 123456), so that a passcode is no
// easier to guess than a PIN.
func newPasscode(n int) (string, error) {
	b := make([]byte, n)
	for {
		if err := randomFrom(b, "0123456789"); err != nil {
			return "", err
		}
		if directory.ValidatePIN(string(b), directory.PSTNSettings{MinPINLength: n}) == nil {
			return string(b), nil
		}
	}
}

// meetingKeyAlphabet makes meeting keys (msci:conference-id, 8 to 32
// alphanumerics, [MS-CONFPRO] §2.2.1.2) without the look-alikes 0/O, 1/I,
// since people read them off a screen.
const meetingKeyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newMeetingKey returns a random 12-character meeting key (60 bits).
func newMeetingKey() (string, error) {
	b := make([]byte, 12)
	if err := randomFrom(b, meetingKeyAlphabet); err != nil {
		return "", err
	}
	return string(b), nil
}

// randomFrom fills b with characters drawn uniformly from alphabet (at
// most 256 characters), rejecting the bytes that would bias the draw.
func randomFrom(b []byte, alphabet string) error {
	limit := 256 - 256%len(alphabet)
	var buf [64]byte
	for i := 0; i < len(b); {
		if _, err := rand.Read(buf[:]); err != nil {
			return fmt.Errorf("random: %w", err)
		}
		for _, x := range buf {
			if int(x) < limit && i < len(b) {
				b[i] = alphabet[int(x)%len(alphabet)]
				i++
			}
		}
	}
	return nil
}

// writeICSFile writes the meeting as an iCalendar file. The file holds the
// passcode, so only its owner may read it.
func writeICSFile(path string, v meetingView, plan schedulePlan, now time.Time) error {
	var buf bytes.Buffer
	if err := writeCalendar(&buf, calendarEventOf(v, plan, now)); err != nil {
		return fmt.Errorf("the calendar file cannot be written: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("the calendar file cannot be written: %w", err)
	}
	return nil
}

// calendarEventOf is the calendar event of a created meeting.
func calendarEventOf(v meetingView, plan schedulePlan, now time.Time) calendarEvent {
	ev := calendarEvent{
		UID: v.URI, Stamp: now, Start: plan.start, End: plan.end,
		Summary: summaryOf(v), Description: joinText(v), URL: v.URI,
		Organizer: v.Organizer, Presenters: v.Presenters, Attendees: v.Attendees,
	}
	if plan.rec != nil {
		ev.RRule = plan.rec.rrule(plan.until)
	}
	return ev
}

func newMeetingListCmd(g *globals, mf *meetingFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list --organizer sip:USER@DOMAIN --password P",
		Short: "List the organizer's meetings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := g.focus(cmd, mf)
			if err != nil {
				return err
			}
			defer fc.Close()
			res, err := fc.do(cmd.Context(), &c3p.GetConferenceSummaries{})
			if err != nil {
				return err
			}
			list := res.(*c3p.GetConferenceSummaries)
			vs := make([]meetingView, 0, len(list.Conferences))
			for _, ci := range list.Conferences {
				vs = append(vs, viewOf(ci, fc.organizer.String()))
			}
			return g.emit(vs, func(p *printer) {
				rows := make([][]string, len(vs))
				for i, v := range vs {
					rows[i] = []string{v.Key, orDash(v.Subject), orDash(v.Kind), orDash(v.ConferenceID), stamp(v.Expires)}
				}
				p.table([]string{"KEY", "SUBJECT", "KIND", "CONFERENCE ID", "EXPIRES"}, rows)
			})
		},
	}
}

func newMeetingShowCmd(g *globals, mf *meetingFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show KEY --organizer sip:USER@DOMAIN --password P",
		Short: "Show one of the organizer's meetings (KEY or conference URI)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fc, keys, err := g.focusFor(cmd, mf, args[0])
			if err != nil {
				return err
			}
			defer fc.Close()
			res, err := fc.do(cmd.Context(), &c3p.GetConference{Keys: keys})
			if err != nil {
				return err
			}
			got := res.(*c3p.GetConference)
			if got.ConferenceInfo == nil {
				return fmt.Errorf("%w: getConference succeeded without a conference-info", errBadAnswer)
			}
			v := viewOf(got.ConferenceInfo, fc.organizer.String())
			return g.emit(v, func(p *printer) { showMeeting(p, v) })
		},
	}
}

func newMeetingDeleteCmd(g *globals, mf *meetingFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete KEY --organizer sip:USER@DOMAIN --password P",
		Short: "Delete one of the organizer's meetings (KEY or conference URI); its conference ID stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fc, keys, err := g.focusFor(cmd, mf, args[0])
			if err != nil {
				return err
			}
			defer fc.Close()
			if _, err := fc.do(cmd.Context(), &c3p.DeleteConference{Keys: keys}); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted meeting %s.", args[0])
		},
	}
}

// conferenceKeys names a meeting for the Focus Factory ([MS-CONFPRO] §4.5):
// by its focus URI or by its key.
func conferenceKeys(arg string) (*c3p.ConferenceKeys, error) {
	if _, svc, _, ok := c3p.ParseConferenceURI(arg); ok && svc == c3p.ServiceFocus {
		return &c3p.ConferenceKeys{ConfEntity: arg}, nil
	}
	if directory.ValidMeetingKey(arg) {
		return &c3p.ConferenceKeys{ConferenceID: arg}, nil
	}
	return nil, fmt.Errorf("%q is neither a meeting key (8 to 32 letters and digits) nor a conference URI", arg)
}
