package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
)

// meetingView is a meeting as the meeting commands print it, in text and
// under --json. Passcode, AccessNumbers, Recurrence and ICSFile are only
// known when the meeting is created: the Focus Factory keeps the passcode
// as a hash and the recurrence pattern not at all.
type meetingView struct {
	Key           string       `json:"key"`
	URI           string       `json:"conference_uri"`
	Organizer     string       `json:"organizer"`
	Subject       string       `json:"subject,omitempty"`
	Kind          string       `json:"kind,omitempty"`
	Admission     string       `json:"admission,omitempty"`
	Start         time.Time    `json:"start,omitzero"`
	End           time.Time    `json:"end,omitzero"`
	Recurrence    string       `json:"recurrence,omitempty"`
	RecursUntil   time.Time    `json:"recurs_until,omitzero"`
	Expires       time.Time    `json:"expires,omitzero"`
	ConferenceID  string       `json:"conference_id,omitempty"`
	PersonalID    bool         `json:"personal_id,omitempty"`
	HasPasscode   bool         `json:"has_passcode"`
	Passcode      string       `json:"passcode,omitempty"`
	AccessNumbers []regionView `json:"access_numbers,omitempty"`
	Presenters    []string     `json:"presenters,omitempty"`
	Attendees     []string     `json:"attendees,omitempty"`
	Active        *bool        `json:"active,omitempty"`
	LastActivated time.Time    `json:"last_activated,omitzero"`
	Version       uint64       `json:"version,omitempty"`
	ICSFile       string       `json:"ics_file,omitempty"`
}

// regionView is a dial-in region with its access numbers.
type regionView struct {
	Region  string       `json:"region"`
	Default bool         `json:"default,omitempty"`
	Numbers []numberView `json:"numbers"`
}

// numberView is an access number and the languages of its prompts.
type numberView struct {
	Number    string   `json:"number"`
	Languages []string `json:"languages,omitempty"`
}

// viewOf reads a conference-info of the Focus Factory.
func viewOf(ci *c3p.ConferenceInfo, organizer string) meetingView {
	v := meetingView{URI: ci.Entity, Organizer: organizer}
	if _, _, key, ok := c3p.ParseConferenceURI(ci.Entity); ok {
		v.Key = key
	}
	if ci.Version != nil {
		v.Version = *ci.Version
	}
	if d := ci.Description; d != nil {
		if d.ConferenceID != "" {
			v.Key = d.ConferenceID
		}
		if d.Subject != nil {
			v.Subject = *d.Subject
		}
		v.Admission = string(d.AdmissionPolicy)
		v.Expires = timeOf(d.ExpiryTime)
		v.Active = d.IsActive
		v.LastActivated = timeOf(d.LastActivate)
		if s := d.Schedule; s != nil {
			v.Kind = s.Kind
			v.Start, v.End, v.RecursUntil = timeOf(s.Start), timeOf(s.End), timeOf(s.RecursUntil)
		}
		if p := d.PSTNAccess; p != nil {
			v.ConferenceID = p.ID
			v.PersonalID = p.PersonalID != nil && *p.PersonalID
			v.HasPasscode = p.HasPasscode != nil && *p.HasPasscode
			if v.PersonalID {
				v.Kind = string(directory.KindPersonal)
			}
		}
	}
	if ci.Users != nil {
		for _, u := range ci.Users.Entries {
			if slices.Contains(u.Roles, c3p.RolePresenter) {
				v.Presenters = append(v.Presenters, u.Entity)
			} else {
				v.Attendees = append(v.Attendees, u.Entity)
			}
		}
	}
	return v
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// accessNumberViews lists the dial-in numbers of a capabilities answer, the
// organizer's default region first (seed 001: his location profile's region
// goes in invitations), then the others in the server's order.
func accessNumberViews(caps *c3p.GetConferencingCapabilities) []regionView {
	if caps.PSTNBridging == nil || caps.PSTNBridging.AccessNumbers == nil {
		return nil
	}
	an := caps.PSTNBridging.AccessNumbers
	var out []regionView
	for _, r := range an.Regions {
		rv := regionView{Region: r.Name, Default: r.Name == an.DefaultRegion, Numbers: []numberView{}}
		for _, n := range r.Numbers {
			rv.Numbers = append(rv.Numbers, numberView{Number: n.Number, Languages: n.Languages})
		}
		out = append(out, rv)
	}
	slices.SortStableFunc(out, func(a, b regionView) int {
		switch {
		case a.Default == b.Default:
			return 0
		case a.Default:
			return -1
		}
		return 1
	})
	return out
}

// invitation is the text an organizer pastes into an email: subject, when,
// organizer, then how to join. Times are shown in loc.
func invitation(v meetingView, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\n", summaryOf(v))
	fmt.Fprintf(&b, "When: %s\n", schedulePhrase(v, loc))
	fmt.Fprintf(&b, "Organizer: %s\n", v.Organizer)
	b.WriteString(joinText(v))
	return b.String()
}

// summaryOf is the meeting's subject, or a stand-in when it has none.
func summaryOf(v meetingView) string {
	if v.Subject != "" {
		return v.Subject
	}
	return "Online meeting"
}

// joinText tells how to join: the conference URI and, for a meeting with
// dial-in, the access numbers, the conference ID and the passcode. It is
// also the calendar event's description.
func joinText(v meetingView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Join online: %s\n", v.URI)
	if v.ConferenceID == "" {
		return b.String()
	}
	b.WriteString("\nJoin by phone\n")
	if len(v.AccessNumbers) == 0 {
		b.WriteString("  (no access numbers are set up yet; ask your administrator)\n")
	}
	for _, r := range v.AccessNumbers {
		fmt.Fprintf(&b, "  %s\n", r.Region)
		for _, n := range r.Numbers {
			b.WriteString("    " + n.Number)
			if len(n.Languages) > 0 {
				b.WriteString(" (" + strings.Join(n.Languages, ", ") + ")")
			}
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "Conference ID: %s\n", v.ConferenceID)
	if v.Passcode != "" {
		fmt.Fprintf(&b, "Passcode: %s\n", v.Passcode)
	}
	return b.String()
}

// schedulePhrase says when a meeting takes place, in loc.
func schedulePhrase(v meetingView, loc *time.Location) string {
	switch directory.MeetingKind(v.Kind) {
	case directory.KindPersonal:
		return "any time (personal meeting)"
	case directory.KindAdHoc, "":
		return "now (ad hoc meeting, available until " + when(v.Expires) + ")"
	}
	span := timeSpan(v.Start.In(loc), v.End.In(loc))
	if v.Kind == string(directory.KindOneTime) {
		return span
	}
	how := "Recurring"
	if r, err := recurrenceNamed(v.Recurrence); err == nil {
		how = r.phrase
	}
	until := "no end date"
	if !v.RecursUntil.IsZero() {
		until = "until " + v.RecursUntil.In(loc).Format("Mon 2 Jan 2006")
	}
	return how + " from " + span + ", " + until
}

// timeSpan is "Mon 2 Mar 2026 15:00-16:00 UTC", with the end's date when
// it is another day.
func timeSpan(start, end time.Time) string {
	s := start.Format("Mon 2 Jan 2006 15:04")
	if y, m, d := start.Date(); end.Year() == y && end.Month() == m && end.Day() == d {
		return s + "-" + end.Format("15:04 MST")
	}
	return s + " - " + end.Format("Mon 2 Jan 2006 15:04 MST")
}

// when is a time for prose, in local time.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("Mon 2 Jan 2006 15:04 MST")
}

// stamp is a time for tables and detail views, in local time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04 MST")
}

// showMeeting prints a meeting's details.
func showMeeting(p *printer, v meetingView) {
	id := orDash(v.ConferenceID)
	if v.PersonalID {
		id += " (personal)"
	}
	passcode := "-"
	if v.ConferenceID != "" {
		passcode = "none"
		if v.HasPasscode {
			passcode = "required"
		}
	}
	active := "-"
	if v.Active != nil {
		active = yesNo(*v.Active)
	}
	p.fields([]field{
		{"Key", v.Key},
		{"Conference URI", v.URI},
		{"Subject", orDash(v.Subject)},
		{"Kind", orDash(v.Kind)},
		{"Admission", orDash(v.Admission)},
		{"Starts", stamp(v.Start)},
		{"Ends", stamp(v.End)},
		{"Recurs until", stamp(v.RecursUntil)},
		{"Expires", stamp(v.Expires)},
		{"Conference ID", id},
		{"Passcode", passcode},
		{"Presenters", orDash(strings.Join(v.Presenters, ", "))},
		{"Attendees", orDash(strings.Join(v.Attendees, ", "))},
		{"Active", active},
		{"Last activated", stamp(v.LastActivated)},
		{"Version", itoa(int(v.Version))},
	})
}
