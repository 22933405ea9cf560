package main

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestWriteCalendarGolden(t *testing.T) {
	start := time.Date(2030, 5, 6, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	rec, err := recurrenceNamed("weekdays")
	if err != nil {
		t.Fatal(err)
	}
	ev := calendarEvent{
		UID:   "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:ABCDEFGH23",
		Stamp: time.Date(2030, 4, 1, 9, 30, 15, 0, time.UTC),
		Start: start, End: start.Add(45 * time.Minute),
		RRule:   rec.rrule(time.Date(2030, 7, 31, 23, 59, 59, 0, time.UTC)),
		Summary: `Café "Planning", step 1; part 2 \ final` + "\r\nsecond line\x01",
		Description: "Join online: sip:alice@parley.test;gruu;opaque=app:conf:focus:id:ABCDEFGH23\n\n" +
			"Join by phone\n  Zürich – Österreich – 日本語の地域名がとても長い場合\n    +41445550100 (de-CH, fr-CH)\n" +
			"Conference ID: 7654321\nPasscode: 246810\n",
		URL:        "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:ABCDEFGH23",
		Organizer:  "sip:alice@parley.test",
		Presenters: []string{"sip:bob@parley.test"},
		Attendees:  []string{"sip:carol@parley.test", "sip:dave@parley.test"},
	}
	var b strings.Builder
	if err := writeCalendar(&b, ev); err != nil {
		t.Fatal(err)
	}
	checkFolded(t, b.String())
	goldenFile(t, "event.ics.golden", b.String())
	if !utf8.ValidString(b.String()) {
		t.Error("folding split a UTF-8 sequence")
	}
}

func TestWriteCalendarNeedsTimes(t *testing.T) {
	var b strings.Builder
	if err := writeCalendar(&b, calendarEvent{UID: "x"}); !errors.Is(err, errNoSchedule) || b.Len() != 0 {
		t.Errorf("writeCalendar without times = %v, wrote %q; want errNoSchedule and nothing", err, b.String())
	}
}

// failWriter fails every write.
type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteCalendarReportsWriteErrors(t *testing.T) {
	now := time.Now()
	if err := writeCalendar(failWriter{}, calendarEvent{Start: now, End: now.Add(time.Hour)}); !errors.Is(err, errWrite) {
		t.Errorf("writeCalendar to a failing writer = %v; want %v", err, errWrite)
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "SUMMARY:x", "SUMMARY:x\r\n"},
		{"exactly 75", strings.Repeat("a", 75), strings.Repeat("a", 75) + "\r\n"},
		{"76", strings.Repeat("a", 76), strings.Repeat("a", 75) + "\r\n a\r\n"},
		{"continuations hold 74", strings.Repeat("a", 75+74+1),
			strings.Repeat("a", 75) + "\r\n " + strings.Repeat("a", 74) + "\r\n a\r\n"},
		// "é" is two octets at offsets 74-75: the fold goes before it.
		{"no split inside UTF-8", strings.Repeat("a", 74) + "é" + "b", strings.Repeat("a", 74) + "\r\n éb\r\n"},
		{"four-octet rune", strings.Repeat("a", 73) + "😀", strings.Repeat("a", 73) + "\r\n 😀\r\n"},
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("%s: fold(%q) = %q; want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestICSText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a,b;c\d`, `a\,b\;c\\d`},
		{"one\ntwo\r\nthree\rfour", `one\ntwo\nthree\nfour`},
		{"tab\tkept, bell\x07 and DEL\x7f dropped", `tab` + "\t" + `kept\, bell and DEL dropped`},
		{"Zürich", "Zürich"},
	}
	for _, tt := range tests {
		if got := icsText(tt.in); got != tt.want {
			t.Errorf("icsText(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRecurrenceRule(t *testing.T) {
	until := time.Date(2030, 6, 30, 23, 59, 59, 0, time.FixedZone("X", -7*3600))
	tests := []struct {
		name  string
		until time.Time
		want  string
	}{
		{"weekly", until, "FREQ=WEEKLY;UNTIL=20300701T065959Z"},
		{"Daily", time.Time{}, "FREQ=DAILY"},
		{"biweekly", time.Time{}, "FREQ=WEEKLY;INTERVAL=2"},
		{"weekdays", time.Time{}, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"},
		{"monthly", until, "FREQ=MONTHLY;UNTIL=20300701T065959Z"},
		{"yearly", time.Time{}, "FREQ=YEARLY"},
	}
	for _, tt := range tests {
		r, err := recurrenceNamed(tt.name)
		if err != nil {
			t.Errorf("recurrenceNamed(%q): %v", tt.name, err)
			continue
		}
		if got := r.rrule(tt.until); got != tt.want {
			t.Errorf("%s rrule = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// unfold and unescapeText undo fold and icsText, as a calendar reader does
// (RFC 5545 §3.1, §3.3.11).
func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == 'n' || s[i] == 'N' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FuzzICSText checks that any text survives escaping and folding: every
// physical line stays within 75 octets and holds no bare CR or LF, valid
// UTF-8 stays valid, and a reader recovers the text with only the control
// characters TEXT cannot hold removed.
func FuzzICSText(f *testing.F) {
	for _, s := range []string{"", "a,b;c\\d", "line\r\nbreak\rcr", strings.Repeat("é", 80), strings.Repeat("x", 74) + "😀",
		"\x00\x1f\x7f", "trailing backslash \\", "\\n is not a newline"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := "DESCRIPTION:" + icsText(s)
		folded := fold(line)
		if !strings.HasSuffix(folded, "\r\n") {
			t.Fatalf("fold(%q) does not end with CRLF", line)
		}
		for _, l := range strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n") {
			if len(l) > maxLineOctets || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bad physical line %q in %q", l, folded)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(folded) {
			t.Fatalf("folding broke UTF-8: %q", folded)
		}
		got := unescapeText(strings.TrimPrefix(strings.TrimSuffix(unfold(folded), "\r\n"), "DESCRIPTION:"))
		want := strings.Map(func(r rune) rune {
			if r == '\r' {
				return '\n'
			}
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
				return -1
			}
			return r
		}, strings.ReplaceAll(s, "\r\n", "\n"))
		if utf8.ValidString(s) && got != want {
			t.Fatalf("round trip of %q = %q; want %q", s, got, want)
		}
	})
}
