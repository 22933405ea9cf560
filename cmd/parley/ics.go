package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file writes a meeting as an iCalendar object (RFC 5545) that a
// calendar program imports: one VEVENT with the meeting's times, its
// recurrence, and the invitation text as description.

// recurrence is a --recurring value: its RRULE parts (RFC 5545 §3.3.10) and
// how the invitation says it.
type recurrence struct {
	name   string
	rule   string
	phrase string
}

// recurrences are the patterns --recurring accepts. The Focus Factory only
// keeps that a meeting recurs and until when (pl:schedule), which is what
// its expiry needs; the pattern lives in the calendar event and the
// invitation.
var recurrences = []recurrence{
	{"daily", "FREQ=DAILY", "Daily"},
	{"weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"},
	{"weekly", "FREQ=WEEKLY", "Weekly"},
	{"biweekly", "FREQ=WEEKLY;INTERVAL=2", "Every two weeks"},
	{"monthly", "FREQ=MONTHLY", "Monthly"},
	{"yearly", "FREQ=YEARLY", "Yearly"},
}

// recurrenceNamed returns the recurrence called name.
func recurrenceNamed(name string) (recurrence, error) {
	i := slices.IndexFunc(recurrences, func(r recurrence) bool { return strings.EqualFold(r.name, name) })
	if i < 0 {
		names := make([]string, len(recurrences))
		for i, r := range recurrences {
			names[i] = r.name
		}
		return recurrence{}, fmt.Errorf("--recurring %q: want one of %s", name, strings.Join(names, ", "))
	}
	return recurrences[i], nil
}

// rrule is the RRULE value of r ending at until (zero: no end). UNTIL is
// in UTC because DTSTART is (RFC 5545 §3.3.10: "If the "DTSTART" property
// is specified as a date with UTC time ..., then the UNTIL rule part MUST
// also be specified as a date with UTC time").
func (r recurrence) rrule(until time.Time) string {
	if until.IsZero() {
		return r.rule
	}
	return r.rule + ";UNTIL=" + icsTime(until)
}

// calendarEvent is a meeting as a VEVENT (RFC 5545 §3.6.1).
type calendarEvent struct {
	// UID identifies the event across updates: the meeting's focus URI,
	// which is unique and stable.
	UID string
	// Stamp is DTSTAMP, when the object was created.
	Stamp      time.Time
	Start, End time.Time
	// RRule is the RRULE value, empty for a one-time meeting.
	RRule       string
	Summary     string
	Description string
	// URL is where to join: the conference URI.
	URL string
	// Organizer, Presenters and Attendees are SIP URIs (CAL-ADDRESS
	// values are URIs, RFC 5545 §3.3.3).
	Organizer             string
	Presenters, Attendees []string
}

// errNoSchedule reports a calendar event without times.
var errNoSchedule = errors.New("a calendar event needs a start and an end")

// writeCalendar writes ev as a VCALENDAR with CRLF line ends and lines
// folded at 75 octets (RFC 5545 §3.1).
func writeCalendar(w io.Writer, ev calendarEvent) error {
	if ev.Start.IsZero() || ev.End.IsZero() {
		return errNoSchedule
	}
	cw := &contentWriter{w: w}
	cw.line("BEGIN:VCALENDAR")
	cw.line("VERSION:2.0")
	cw.line("PRODID:-//Parley//parley meeting//EN")
	cw.line("CALSCALE:GREGORIAN")
	cw.line("BEGIN:VEVENT")
	cw.line("UID:" + icsText(ev.UID))
	cw.line("DTSTAMP:" + icsTime(ev.Stamp))
	cw.line("DTSTART:" + icsTime(ev.Start))
	cw.line("DTEND:" + icsTime(ev.End))
	if ev.RRule != "" {
		cw.line("RRULE:" + ev.RRule)
	}
	cw.line("SUMMARY:" + icsText(ev.Summary))
	if ev.URL != "" {
		cw.line("URL:" + icsURI(ev.URL))
	}
	if ev.Organizer != "" {
		cw.line("ORGANIZER:" + icsURI(ev.Organizer))
	}
	// Presenters lead the meeting with the organizer: CHAIR is the
	// closest ROLE (RFC 5545 §3.2.16).
	for _, p := range ev.Presenters {
		cw.line("ATTENDEE;ROLE=CHAIR:" + icsURI(p))
	}
	for _, a := range ev.Attendees {
		cw.line("ATTENDEE;ROLE=REQ-PARTICIPANT:" + icsURI(a))
	}
	if ev.Description != "" {
		cw.line("DESCRIPTION:" + icsText(ev.Description))
	}
	cw.line("END:VEVENT")
	cw.line("END:VCALENDAR")
	return cw.err
}

// icsTime is a DATE-TIME in UTC form (RFC 5545 §3.3.5, FORM #2).
func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsText escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon
// and comma get a backslash, a line break becomes \n, and other control
// characters, which TEXT cannot hold, are dropped.
func icsText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t' || (r >= 0x20 && r != 0x7f):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// icsURI keeps a URI value on its line: URI values are not escaped (RFC
// 5545 §3.3.13), so control characters are dropped instead.
func icsURI(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// maxLineOctets is the longest content line RFC 5545 §3.1 wants, line
// break excluded.
const maxLineOctets = 75

// contentWriter writes content lines folded at maxLineOctets octets, never
// inside a UTF-8 sequence, each continuation starting with one space
// (RFC 5545 §3.1). It keeps the first write error.
type contentWriter struct {
	w   io.Writer
	err error
}

func (c *contentWriter) line(s string) {
	if c.err != nil {
		return
	}
	_, c.err = io.WriteString(c.w, fold(s))
}

// fold returns the content line s folded and terminated with CRLF.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/maxLineOctets*3 + 2)
	limit := maxLineOctets
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLineOctets - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}
