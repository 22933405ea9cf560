package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/server"
)

// TestMain silences sipgo's package-level logger, as main does.
func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// alicePassword is the password the tests give alice (the demo generates
// a random one).
const alicePassword = "alice-meeting-pw"

// startMeetingServer runs a real Parley server with the demo organization
// in-process on loopback ports and returns a CLI environment for its data
// directory, with a known password for alice and a second dial-in region,
// London, that is not alice's.
func startMeetingServer(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.SIP.Listen, cfg.SIP.TLSListen, cfg.Web.Listen = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Mediation.Listen = "127.0.0.1:0"
	cfg.Attendant.Listen = "127.0.0.1:0"
	cfg.Announcement.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.RunInfo, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{DataDir: dir, Config: cfg, Demo: true, Out: io.Discard,
			Ready: func(i server.RunInfo) { ready <- i }}, slog.New(slog.DiscardHandler))
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server not ready after 20s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s")
		}
	})
	e := &cliEnv{dir: dir}
	e.ok(t, "user", "set-password", "sip:alice@parley.test", alicePassword)
	e.ok(t, "access-number", "add", "+442079460000", "--region", "London", "--language", "en-GB")
	return e
}

// asAlice makes a meeting command line with alice's credentials.
func asAlice(args ...string) []string {
	return append(append([]string{"meeting"}, args...), "--organizer", "sip:alice@parley.test", "--password", alicePassword)
}

var (
	createdLine      = regexp.MustCompile(`(?m)^Created meeting ([A-Z0-9]{12}); it expires `)
	conferenceIDLine = regexp.MustCompile(`(?m)^Conference ID: ([0-9]+)$`)
	passcodeLine     = regexp.MustCompile(`(?m)^Passcode: ([0-9]+)$`)
	dtstampLine      = regexp.MustCompile(`(?m)^DTSTAMP:[0-9]{8}T[0-9]{6}Z\r$`)
)

// normalizeICS replaces what changes from run to run in a calendar file
// (DTSTAMP, the meeting key, the conference ID and the passcode) and folds
// the lines again, so that the result can be compared with a golden file.
func normalizeICS(ics string, vars map[string]string) string {
	unfolded := strings.ReplaceAll(ics, "\r\n ", "")
	unfolded = dtstampLine.ReplaceAllString(unfolded, "DTSTAMP:20300101T000000Z\r")
	for from, to := range vars {
		if from != "" {
			unfolded = strings.ReplaceAll(unfolded, from, to)
		}
	}
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSuffix(unfolded, "\r\n"), "\r\n") {
		b.WriteString(fold(line))
	}
	return b.String()
}

// goldenFile compares got with testdata/meeting/name, or rewrites it
// under -update.
func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "meeting", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s (run go test -update to accept it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// checkFolded checks RFC 5545 §3.1 line form: CRLF ends, at most 75 octets.
func checkFolded(t *testing.T, ics string) {
	t.Helper()
	if !strings.HasSuffix(ics, "\r\n") {
		t.Errorf("calendar does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(ics, "\r\n"), "\r\n") {
		if len(line) > maxLineOctets {
			t.Errorf("line %d has %d octets, more than %d: %q", i+1, len(line), maxLineOctets, line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, line)
		}
	}
}

func TestMeetingLifecycle(t *testing.T) {
	e := startMeetingServer(t)
	ics := filepath.Join(t.TempDir(), "budget.ics")
	out := e.ok(t, asAlice("create", "--dial-in", "--anonymous", "--passcode",
		"--start", "2030-03-04T15:00:00Z", "--end", "2030-03-04T16:30:00Z",
		"--subject", "Budget, Q3; review", "--presenter", "sip:bob@parley.test", "--attendee", "Carol@Parley.test",
		"--ics", ics)...)

	m := createdLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create output lacks the Created line:\n%s", out)
	}
	key := m[1]
	id := conferenceIDLine.FindStringSubmatch(out)
	if id == nil || len(id[1]) < 7 {
		t.Fatalf("create output lacks a Conference ID line of 7 or more digits:\n%s", out)
	}
	pc := passcodeLine.FindStringSubmatch(out)
	if pc == nil || len(pc[1]) < minPasscodeLength {
		t.Fatalf("create output lacks a Passcode line of %d or more digits:\n%s", minPasscodeLength, out)
	}
	for _, want := range []string{
		"\n\nSubject: Budget, Q3; review\n",
		"When: " + timeSpan(time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC).Local(), time.Date(2030, 3, 4, 16, 30, 0, 0, time.UTC).Local()) + "\n",
		"Organizer: sip:alice@parley.test\n",
		"Join online: sip:alice@parley.test;gruu;opaque=app:conf:focus:id:" + key + "\n",
		// alice's region (her location profile's) before London.
		"\nJoin by phone\n  US West\n    +14255550100 (en-US, es-US)\n  London\n    +442079460000 (en-GB)\nConference ID: ",
		"Wrote the calendar event to " + ics + ".\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}

	b, err := os.ReadFile(ics)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(ics); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("calendar file: %v; want mode 0600, since it holds the passcode", err)
	}
	checkFolded(t, string(b))
	goldenFile(t, "one_time.ics.golden", normalizeICS(string(b), map[string]string{
		key: "KEYKEYKEYKEY", "Conference ID: " + id[1]: "Conference ID: 1234567", "Passcode: " + pc[1]: "Passcode: 135792",
	}))

	// The passcode is the client's secret: the server never returns it.
	list := e.ok(t, asAlice("list")...)
	expires := stamp(time.Date(2030, 3, 18, 16, 30, 0, 0, time.UTC))
	row := regexp.MustCompile(`(?m)^` + key + ` +Budget, Q3; review +one-time +` + id[1] + ` +` + expires + `$`)
	if !row.MatchString(list) || !strings.HasPrefix(list, "KEY ") || strings.Contains(list, pc[1]) {
		t.Errorf("list lacks the row of %s (or shows the passcode):\n%s", key, list)
	}
	show := e.ok(t, asAlice("show", key)...)
	for _, want := range []string{
		"Key:            " + key + "\n",
		"Subject:        Budget, Q3; review\n",
		"Kind:           one-time\n",
		"Admission:      anonymous\n",
		"Conference ID:  " + id[1] + "\n",
		"Passcode:       required\n",
		"Presenters:     sip:bob@parley.test\n",
		"Attendees:      sip:carol@parley.test\n",
		"Active:         no\n",
		"Version:        1\n",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, pc[1]) {
		t.Errorf("show reveals the passcode:\n%s", show)
	}
	uri := "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:" + key
	if byURI := e.ok(t, asAlice("show", uri)...); byURI != show {
		t.Errorf("show by conference URI:\n%s\nwant the same as by key:\n%s", byURI, show)
	}

	if out := e.ok(t, asAlice("delete", key)...); out != "Deleted meeting "+key+".\n" {
		t.Errorf("delete output %q", out)
	}
	r := e.parley(t, asAlice("show", key)...)
	if want := "parley: the Focus Factory refused getConference (conferenceDoesNotExist): no such meeting\n"; r.code != 1 || r.err != want || r.out != "" {
		t.Errorf("show after delete = %+v; want exit 1, stderr %q", r, want)
	}
	if list := e.ok(t, asAlice("list")...); strings.Contains(list, key) {
		t.Errorf("list after delete still shows %s:\n%s", key, list)
	}
}

func TestMeetingRecurringAndPersonal(t *testing.T) {
	e := startMeetingServer(t)
	ics := filepath.Join(t.TempDir(), "standup.ics")
	out := e.ok(t, append([]string{"--json"}, asAlice("create", "--recurring", "weekly",
		"--start", "2030-01-07T09:00:00+01:00", "--end", "15m", "--until", "2030-06-24T08:15:00Z",
		"--subject", "Stand-up", "--closed", "--ics", ics)...)...)
	var v meetingView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	wantStart := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	switch {
	case v.Kind != "recurring" || v.Recurrence != "weekly" || v.Admission != "closedAuthenticated":
		t.Errorf("create --json kind %q, recurrence %q, admission %q", v.Kind, v.Recurrence, v.Admission)
	case !v.Start.Equal(wantStart) || !v.End.Equal(wantStart.Add(15*time.Minute)):
		t.Errorf("create --json start %v, end %v; want %v and 15 minutes later", v.Start, v.End, wantStart)
	case v.RecursUntil.IsZero() || v.Expires.Sub(v.RecursUntil) != 14*24*time.Hour:
		t.Errorf("create --json recurs until %v, expires %v; want the expiry 14 days after the last occurrence", v.RecursUntil, v.Expires)
	case v.ConferenceID != "" || v.Passcode != "" || v.AccessNumbers != nil || v.ICSFile != ics:
		t.Errorf("create --json without --dial-in = %+v", v)
	}
	b, err := os.ReadFile(ics)
	if err != nil {
		t.Fatal(err)
	}
	checkFolded(t, string(b))
	goldenFile(t, "recurring.ics.golden", normalizeICS(string(b), map[string]string{v.Key: "KEYKEYKEYKEY"}))

	// The personal meeting keeps its conference ID when created again.
	first := e.ok(t, asAlice("create", "--personal", "--subject", "My meeting")...)
	second := e.ok(t, asAlice("create", "--personal", "--subject", "My meeting again")...)
	id1, id2 := conferenceIDLine.FindStringSubmatch(first), conferenceIDLine.FindStringSubmatch(second)
	if id1 == nil || id2 == nil || id1[1] != id2[1] || !strings.Contains(first, "When: any time (personal meeting)\n") {
		t.Errorf("personal meetings:\n%s\n%s\nwant the same conference ID", first, second)
	}
	if !strings.HasPrefix(first, "Set up personal meeting ") {
		t.Errorf("personal meeting output:\n%s", first)
	}

	// A passcode is as long as the pool's minimum PIN length when that
	// is more than 6 digits.
	e.ok(t, "pool", "set", "pool.parley.test", "--min-pin-length", "9")
	out = e.ok(t, asAlice("create", "--passcode")...)
	if pc := passcodeLine.FindStringSubmatch(out); pc == nil || len(pc[1]) != 9 {
		t.Errorf("create --passcode with a 9-digit pool minimum:\n%s", out)
	}

	// A calendar file that cannot be written fails the command, which
	// still prints the invitation of the meeting it created.
	r := e.parley(t, asAlice("create", "--start", "2030-01-07T09:00:00Z", "--end", "1h",
		"--ics", filepath.Join(t.TempDir(), "missing", "x.ics"))...)
	m := createdLine.FindStringSubmatch(r.out)
	if r.code != 1 || m == nil || !strings.HasPrefix(r.err, "parley: meeting "+m[1]+" was created, but the calendar file cannot be written: open ") {
		t.Errorf("create with an unwritable --ics = %+v", r)
	}

	list := e.ok(t, "--json", "meeting", "list", "--organizer", "alice@parley.test", "--password", alicePassword, "--transport", "tcp")
	var vs []meetingView
	if err := json.Unmarshal([]byte(list), &vs); err != nil {
		t.Fatalf("list --json: %v\n%s", err, list)
	}
	kinds := map[string]string{}
	for _, m := range vs {
		kinds[m.Key] = m.Kind
	}
	if kinds[v.Key] != "recurring" || kinds[m[1]] != "one-time" || len(vs) != 4 {
		t.Errorf("list --json = %+v; want the recurring, the one-time, the ad hoc and the personal meeting", vs)
	}
}

func TestMeetingRefusals(t *testing.T) {
	e := startMeetingServer(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"anonymous dial-in without passcode", asAlice("create", "--dial-in", "--anonymous"),
			"parley: the Focus Factory refused addConference (unauthorized): the meeting policy of sip:alice@parley.test requires a passcode for anonymous meetings with dial-in\n"},
		{"wrong password", []string{"meeting", "list", "--organizer", "sip:alice@parley.test", "--password", "not-her-password"},
			"parley: authentication failed: the server refused the password of sip:alice@parley.test\n"},
		{"unknown user", []string{"meeting", "list", "--organizer", "sip:zed@parley.test", "--password", alicePassword},
			"parley: authentication failed: the server refused the password of sip:zed@parley.test\n"},
		{"unknown meeting", asAlice("delete", "NOSUCHMEETING"),
			"parley: the Focus Factory refused deleteConference (conferenceDoesNotExist): no such meeting\n"},
		{"another organizer's meeting", asAlice("show", "sip:bob@parley.test;gruu;opaque=app:conf:focus:id:ABCDEFGH"),
			"parley: the Focus Factory refused getConference (conferenceDoesNotExist): no such meeting\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.parley(t, tt.args...)
			if r.code != 1 || r.err != tt.want || r.out != "" {
				t.Errorf("parley %s = exit %d, stdout %q, stderr %q; want exit 1, stderr %q",
					strings.Join(tt.args, " "), r.code, r.out, r.err, tt.want)
			}
		})
	}
}

// TestMeetingFlagErrors checks the errors found before any SIP traffic; no
// server runs.
func TestMeetingFlagErrors(t *testing.T) {
	e := &cliEnv{dir: t.TempDir()}
	tests := []struct {
		args []string
		want string
	}{
		{asAlice("create", "--anonymous", "--closed"), "--anonymous and --closed exclude each other"},
		{asAlice("create", "--start", "2030-01-01 10:00"), "--start and --end go together"},
		{asAlice("create", "--start", "tomorrow", "--end", "1h"), `--start: "tomorrow" is not a time such as 2026-03-02T15:00:00Z or 2026-03-02 15:00`},
		{asAlice("create", "--start", "2030-01-01 10:00", "--end", "2030-01-01 09:00"), "--end must be after --start"},
		{asAlice("create", "--recurring", "weekly"), "--recurring needs --start and --end (the first occurrence)"},
		{asAlice("create", "--start", "2030-01-01 10:00", "--end", "1h", "--recurring", "fortnightly"),
			`--recurring "fortnightly": want one of daily, weekdays, weekly, biweekly, monthly, yearly`},
		{asAlice("create", "--start", "2030-01-01 10:00", "--end", "1h", "--until", "2030-02-01"), "--until needs --recurring"},
		{asAlice("create", "--start", "2030-01-01 10:00", "--end", "1h", "--recurring", "daily", "--until", "2029-12-31"),
			"--until must not be before the end of the first occurrence"},
		{asAlice("create", "--ics", "x.ics"), "--ics needs --start and --end: a calendar event has a time"},
		{asAlice("create", "--personal", "--start", "2030-01-01 10:00", "--end", "1h"),
			"a --personal meeting has no schedule; leave out --start, --end and --recurring"},
		{asAlice("create", "--attendee", "bob"), `--attendee "bob" is not a SIP URI such as sip:alice@example.com`},
		{asAlice("show", "x"), `"x" is neither a meeting key (8 to 32 letters and digits) nor a conference URI`},
		{asAlice("list", "--transport", "tls"), `--transport "tls": want udp or tcp`},
		{[]string{"meeting", "list", "--organizer", "alice", "--password", "p"}, `--organizer "alice" is not a SIP URI such as sip:alice@example.com`},
		{[]string{"meeting", "list", "--organizer", "sip:alice@parley.test"}, `required flag(s) "password" not set`},
		{asAlice("list"), "no Parley server is running for data directory " + e.dir + " (start it with: parley serve --data " + e.dir + ")"},
	}
	for _, tt := range tests {
		r := e.parley(t, tt.args...)
		if r.code != 1 || r.err != "parley: "+tt.want+"\n" || r.out != "" {
			t.Errorf("parley %s = exit %d, stdout %q, stderr %q; want exit 1, stderr %q",
				strings.Join(tt.args, " "), r.code, r.out, r.err, "parley: "+tt.want+"\n")
		}
	}
}

func TestParseWhen(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		in       string
		want     time.Time
		dateOnly bool
	}{
		{"2030-03-04T15:00:00Z", time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC), false},
		{"2030-03-04T15:00:00-05:00", time.Date(2030, 3, 4, 20, 0, 0, 0, time.UTC), false},
		{"2030-03-04 15:00", time.Date(2030, 3, 4, 14, 0, 0, 0, time.UTC), false},
		{" 2030-03-04T15:00:30 ", time.Date(2030, 3, 4, 14, 0, 30, 0, time.UTC), false},
		{"2030-03-04", time.Date(2030, 3, 3, 23, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		got, dateOnly, err := parseWhen(tt.in, paris)
		if err != nil || !got.Equal(tt.want) || dateOnly != tt.dateOnly {
			t.Errorf("parseWhen(%q) = %v, %v, %v; want %v, %v", tt.in, got, dateOnly, err, tt.want, tt.dateOnly)
		}
	}
	for _, bad := range []string{"", "now", "2030-13-01", "04/03/2030 15:00", "2030-03-04T25:00"} {
		if _, _, err := parseWhen(bad, paris); err == nil {
			t.Errorf("parseWhen(%q) succeeded", bad)
		}
	}
}

func TestPlan(t *testing.T) {
	loc := time.FixedZone("PST", -8*3600)
	o := createOptions{start: "2030-01-07 09:00", end: "90m", recurring: "weekly", until: "2030-03-31",
		presenters: []string{"Bob@Parley.test"}, attendees: []string{"sip:carol@parley.test", "dave@parley.test"}}
	p, err := o.plan(loc)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 1, 7, 17, 0, 0, 0, time.UTC)
	until := time.Date(2030, 4, 1, 7, 59, 59, 0, time.UTC) // the end of 31 March in loc
	switch {
	case p.kind != "recurring" || p.rec == nil || p.rec.name != "weekly":
		t.Errorf("plan kind %q, recurrence %+v", p.kind, p.rec)
	case !p.start.Equal(start) || !p.end.Equal(start.Add(90*time.Minute)) || !p.until.Equal(until):
		t.Errorf("plan times %v, %v, until %v; want %v, +90m, until %v", p.start, p.end, p.until, start, until)
	case strings.Join(p.presenters, ",") != "sip:bob@parley.test" || strings.Join(p.attendees, ",") != "sip:carol@parley.test,sip:dave@parley.test":
		t.Errorf("plan invitees %v, %v", p.presenters, p.attendees)
	}
	if p, err := (&createOptions{}).plan(loc); err != nil || p.kind != "ad-hoc" || !p.start.IsZero() {
		t.Errorf("plan without times = %+v, %v; want an ad hoc meeting", p, err)
	}
	if p, err := (&createOptions{personal: true}).plan(loc); err != nil || p.kind != "personal" {
		t.Errorf("plan --personal = %+v, %v", p, err)
	}
	o = createOptions{passcode: true}
	if err := o.check(); err != nil || !o.dialIn {
		t.Errorf("check --passcode = %v, dial-in %v; want dial-in implied", err, o.dialIn)
	}
}

func TestSIPURIArg(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"sip:alice@parley.test", "sip:alice@parley.test"},
		{"Alice@Parley.Test", "sip:alice@parley.test"},
		{" SIP:bob@example.com ", "sip:bob@example.com"},
	} {
		if got, err := sipURIArg("--x", tt.in); err != nil || got != tt.want {
			t.Errorf("sipURIArg(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "alice", "@parley.test", "alice@", "sip:a@b@c", "sip:alice@parley.test;gruu", "tel:+14255550100@x y"} {
		if got, err := sipURIArg("--x", bad); err == nil {
			t.Errorf("sipURIArg(%q) = %q; want an error", bad, got)
		}
	}
}

func TestAccessNumberViews(t *testing.T) {
	caps := &c3p.GetConferencingCapabilities{PSTNBridging: &c3p.PSTNBridging{AccessNumbers: &c3p.AccessNumbers{
		Regions: []c3p.Region{
			{Name: "Berlin", Numbers: []c3p.AccessNumber{{Number: "+49305550100", Languages: []string{"de-DE"}}}},
			{Name: "London", Numbers: []c3p.AccessNumber{{Number: "+442079460000"}}},
			{Name: "US West", Numbers: []c3p.AccessNumber{{Number: "+14255550100", Languages: []string{"en-US", "es-US"}}, {Number: "+14255550101"}}},
		},
		DefaultRegion: "London",
	}}}
	got := accessNumberViews(caps)
	var order []string
	for _, r := range got {
		order = append(order, r.Region)
	}
	if strings.Join(order, ",") != "London,Berlin,US West" || !got[0].Default || got[1].Default || len(got[2].Numbers) != 2 {
		t.Errorf("accessNumberViews = %+v; want London (default) first, then the others in order", got)
	}
	if got := accessNumberViews(&c3p.GetConferencingCapabilities{}); got != nil {
		t.Errorf("accessNumberViews without pstn-bridging = %+v", got)
	}
	text := joinText(meetingView{URI: "sip:x", ConferenceID: "1234567", AccessNumbers: got[:1]})
	if want := "Join online: sip:x\n\nJoin by phone\n  London\n    +442079460000\nConference ID: 1234567\n"; text != want {
		t.Errorf("joinText = %q; want %q", text, want)
	}
}

func TestSchedulePhrase(t *testing.T) {
	loc := time.UTC
	start := time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		v    meetingView
		want string
	}{
		{meetingView{Kind: "one-time", Start: start, End: start.Add(time.Hour)}, "Mon 4 Mar 2030 15:00-16:00 UTC"},
		{meetingView{Kind: "one-time", Start: start, End: start.Add(10 * time.Hour)}, "Mon 4 Mar 2030 15:00 - Tue 5 Mar 2030 01:00 UTC"},
		{meetingView{Kind: "recurring", Recurrence: "weekdays", Start: start, End: start.Add(time.Hour), RecursUntil: start.AddDate(0, 1, 0)},
			"Every weekday from Mon 4 Mar 2030 15:00-16:00 UTC, until Thu 4 Apr 2030"},
		{meetingView{Kind: "recurring", Start: start, End: start.Add(time.Hour)}, "Recurring from Mon 4 Mar 2030 15:00-16:00 UTC, no end date"},
		{meetingView{Kind: "personal"}, "any time (personal meeting)"},
	}
	for _, tt := range tests {
		if got := schedulePhrase(tt.v, loc); got != tt.want {
			t.Errorf("schedulePhrase(%s) = %q; want %q", tt.v.Kind, got, tt.want)
		}
	}
}

func TestViewOfPersonal(t *testing.T) {
	personal, has := true, false
	v := viewOf(&c3p.ConferenceInfo{
		Entity:      "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:WGYF3S6ZSX",
		Description: &c3p.ConferenceDescription{PSTNAccess: &c3p.PSTNAccess{ID: "3294755", PersonalID: &personal, HasPasscode: &has}},
		Users:       &c3p.Users{Entries: []c3p.User{{Entity: "sip:bob@parley.test", Roles: []string{c3p.RolePresenter}}, {Entity: "sip:carol@parley.test"}}},
	}, "sip:alice@parley.test")
	if v.Key != "WGYF3S6ZSX" || v.Kind != "personal" || v.ConferenceID != "3294755" || !v.PersonalID ||
		strings.Join(v.Presenters, ",") != "sip:bob@parley.test" || strings.Join(v.Attendees, ",") != "sip:carol@parley.test" {
		t.Errorf("viewOf = %+v", v)
	}
}

func TestGeneratedSecrets(t *testing.T) {
	digits := regexp.MustCompile(`^[0-9]+$`)
	keys := regexp.MustCompile(`^[A-HJ-NP-Z2-9]{12}$`)
	seen := map[string]bool{}
	for _, n := range []int{6, 8, 24} {
		for range 50 {
			p, err := newPasscode(n)
			if err != nil || len(p) != n || !digits.MatchString(p) || directory.ValidatePIN(p, directory.PSTNSettings{MinPINLength: n}) != nil {
				t.Fatalf("newPasscode(%d) = %q, %v", n, p, err)
			}
			k, err := newMeetingKey()
			if err != nil || !keys.MatchString(k) || !directory.ValidMeetingKey(k) || seen[k] {
				t.Fatalf("newMeetingKey = %q, %v (seen before: %v)", k, err, seen[k])
			}
			seen[k] = true
		}
	}
}
