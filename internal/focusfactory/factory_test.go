package focusfactory_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focusfactory"
)

func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	got := h.call(alice, &c3p.GetConferencingCapabilities{}).ok(t).(*c3p.GetConferencingCapabilities)
	if d := cmp.Diff([]string{c3p.MCUTypeChat, c3p.MCUTypeAudioVideo}, got.MCUTypes); d != "" {
		t.Errorf("MCU types (-want +got):\n%s", d)
	}
	if got.PSTNBridging == nil || got.PSTNBridging.AccessNumbers == nil {
		t.Fatalf("no access numbers under the Default policy (dial-in allowed): %+v", got)
	}
	an := got.PSTNBridging.AccessNumbers
	want := []c3p.Region{{Name: "US West", Numbers: []c3p.AccessNumber{{Number: "+14255550100", Languages: []string{"en-US", "es-US"}}}}}
	if d := cmp.Diff(want, an.Regions, cmpIgnoreExt); d != "" {
		t.Errorf("regions (-want +got):\n%s", d)
	}
	if an.DefaultRegion != "US West" {
		t.Errorf("default region = %q, want US West (alice's Redmond profile)", an.DefaultRegion)
	}
	if got.PasscodeKey == nil || got.PasscodeKey.Alg != c3p.PasscodeAlgorithm || len(got.PasscodeKey.Key) != 32 {
		t.Errorf("passcode key = %+v", got.PasscodeKey)
	}
	if got.PasscodeMinLength == nil || *got.PasscodeMinLength != 5 {
		t.Errorf("passcode-min-length = %v, want the pool's 5", got.PasscodeMinLength)
	}
	if got.PasscodeRequired == nil || !*got.PasscodeRequired {
		t.Errorf("passcode-required = %v, want true under Default", got.PasscodeRequired)
	}

	h.policy(bob, directory.MeetingPolicy{Name: "NoPSTN", AnonymousAllowed: true})
	got = h.call(bob, &c3p.GetConferencingCapabilities{}).ok(t).(*c3p.GetConferencingCapabilities)
	if got.PSTNBridging != nil || got.PasscodeKey != nil {
		t.Errorf("policy without dial-in still offers PSTN bridging: %+v", got)
	}

	types := h.call(alice, &c3p.GetAvailableMCUTypes{}).ok(t).(*c3p.GetAvailableMCUTypes)
	if len(types.MCUTypes) != 2 {
		t.Errorf("getAvailableMcuTypes = %v", types.MCUTypes)
	}
}

func TestAddConferenceDialIn(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res := h.call(alice, h.addConference(addMeeting{
		key: "BUDGET2026", subject: "Budget", admission: c3p.AdmissionAnonymous,
		dialIn: true, passcode: "48213957", schedule: oneTime(t0.Add(24*time.Hour), time.Hour),
		users: []c3p.User{
			{Entity: bob, Roles: []string{c3p.RolePresenter}},
			{Entity: "sip:carol@fabrikam.test", Roles: []string{c3p.RoleAttendee}},
		},
	})).ok(t).(*c3p.AddConference)
	ci := res.ConferenceInfo
	if want := "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:BUDGET2026"; ci.Entity != want {
		t.Errorf("entity = %q, want %q", ci.Entity, want)
	}
	id := ci.Description.PSTNAccess.ID
	pool, _, _, err := h.codec.Decode(id)
	if err != nil || pool != "10" {
		t.Fatalf("conference ID %q decodes to pool %q, %v; want the demo pool 10", id, pool, err)
	}
	if exp := ci.Description.ExpiryTime; exp == nil || !exp.Equal(t0.Add(25*time.Hour+14*24*time.Hour)) {
		t.Errorf("expiry = %v, want end + 14 days", exp)
	}

	m, err := h.db.MeetingByConferenceID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Organizer != alice || m.Key != "BUDGET2026" || m.Kind != directory.KindOneTime || m.Admission != directory.AdmitAnonymous {
		t.Errorf("stored meeting = %+v", m)
	}
	if strings.Contains(m.PasscodeHash, "48213957") {
		t.Fatal("passcode stored in the clear")
	}
	if ok, err := directory.VerifySecret(m.PasscodeHash, "48213957"); !ok || err != nil {
		t.Errorf("stored hash does not verify the passcode: %v %v", ok, err)
	}
	if d := cmp.Diff([]string{bob}, m.Presenters); d != "" {
		t.Errorf("presenters (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"sip:carol@fabrikam.test"}, m.Attendees); d != "" {
		t.Errorf("attendees (-want +got):\n%s", d)
	}

	got := h.call(alice, &c3p.GetConference{Keys: &c3p.ConferenceKeys{ConferenceID: "BUDGET2026"}}).ok(t).(*c3p.GetConference)
	d := got.ConferenceInfo.Description
	if *d.Subject != "Budget" || d.PSTNAccess.ID != id || !*d.PSTNAccess.HasPasscode || len(got.ConferenceInfo.Users.Entries) != 2 {
		t.Errorf("getConference = %+v / %+v", d, got.ConferenceInfo.Users)
	}
	if strings.Contains(string(h.call(alice, &c3p.GetConference{Keys: &c3p.ConferenceKeys{ConferenceID: "BUDGET2026"}}).sip.Body()), "48213957") {
		t.Error("getConference leaks the passcode")
	}
	// The same meeting named by its focus URI.
	h.call(alice, &c3p.GetConference{Keys: &c3p.ConferenceKeys{ConfEntity: ci.Entity}}).ok(t)
}

func TestAddConferenceRefusals(t *testing.T) {
	h := newHarness(t)
	h.call(alice, h.addConference(addMeeting{key: "TAKENKEY1", dialIn: true})).ok(t)
	h.policy(bob, directory.MeetingPolicy{Name: "Closed", PSTNDialIn: false, AnonymousAllowed: false})
	tests := []struct {
		name   string
		user   string
		a      addMeeting
		reason string
		diag   c3p.Diagnostic
	}{
		{"anonymous dial-in without the required passcode", alice,
			addMeeting{key: "NOPASSCODE1", admission: c3p.AdmissionAnonymous, dialIn: true}, "unauthorized", c3p.DiagAuthorizationFailed},
		{"policy without dial-in", bob, addMeeting{key: "BOBDIALIN1", dialIn: true}, "unauthorized", c3p.DiagAuthorizationFailed},
		{"policy without anonymous", bob, addMeeting{key: "BOBANON01", admission: c3p.AdmissionAnonymous}, "unauthorized", c3p.DiagAuthorizationFailed},
		{"duplicate key", alice, addMeeting{key: "TAKENKEY1"}, "conferenceAlreadyExists", 0},
		{"short key", alice, addMeeting{key: "SHORT"}, "requestMalformed", c3p.DiagParseFailed},
		{"passcode with letters", alice, addMeeting{key: "BADPASS01", dialIn: true, passcode: "12ab56"}, "requestMalformed", c3p.DiagParseFailed},
		{"passcode shorter than the pool minimum", alice, addMeeting{key: "BADPASS02", dialIn: true, passcode: "123"}, "requestMalformed", c3p.DiagParseFailed},
		{"end before start", alice, addMeeting{key: "BADTIME01", schedule: oneTime(t0.Add(time.Hour), -time.Minute)}, "requestMalformed", c3p.DiagParseFailed},
		{"already expired", alice, addMeeting{key: "BADTIME02", schedule: oneTime(t0.Add(-30*24*time.Hour), time.Hour)}, "requestMalformed", c3p.DiagParseFailed},
		{"invitee not a SIP URI", alice, addMeeting{key: "BADUSER01", users: []c3p.User{{Entity: "mailto:x@y"}}}, "requestMalformed", c3p.DiagInvalidTargetUser},
		{"unknown role", alice, addMeeting{key: "BADROLE01", users: []c3p.User{{Entity: bob, Roles: []string{"emperor"}}}}, "requestMalformed", c3p.DiagInvalidRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.call(tc.user, h.addConference(tc.a)).failed(t, tc.reason, tc.diag)
			if _, err := h.db.Meeting(context.Background(), tc.user, tc.a.key); tc.a.key != "TAKENKEY1" && !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("a refused meeting was stored: %v", err)
			}
		})
	}

	// A passcode sealed to another key cannot be opened.
	other, _ := c3p.DerivePasscodeKey([]byte("some other key seed of 32 bytes!"))
	s, _ := c3p.SealPasscode(&c3p.PublicKey{Alg: c3p.PasscodeAlgorithm, Key: other.PublicKey().Bytes()}, "48213957")
	add := h.addConference(addMeeting{key: "WRONGKEY1", admission: c3p.AdmissionAnonymous, dialIn: true})
	add.ConferenceInfo.Description.PSTNAccess.Passcode = s
	h.call(alice, add).failed(t, "requestMalformed", c3p.DiagParseFailed)
}

func TestWhoMayAsk(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cmd := &c3p.GetConferencingCapabilities{}
	h.callAs(alice, bob, alice, cmd).failed(t, "unauthorized", c3p.DiagBadFrom)
	h.callAs(alice, alice, bob, cmd).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	h.callAs("sip:mallory@fabrikam.test", "sip:mallory@fabrikam.test", "sip:mallory@fabrikam.test", cmd).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
	if _, err := h.db.UpdateUser(ctx, bob, func(u *directory.User) error { u.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	h.call(bob, cmd).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)

	// C3P to that is not the Request-URI's Focus Factory.
	req := &c3p.Request{Header: c3p.Header{Version: "1", RequestID: 1, From: alice, To: "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:X"}, Command: cmd}
	body, _ := req.Marshal()
	h.send(sipRequest(t, "SERVICE", c3p.FocusFactoryURI(alice), alice, c3p.ContentType, body), alice).failed(t, "requestMalformed", c3p.DiagBadTo)
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t)
	target := c3p.FocusFactoryURI(alice)
	unknown := `<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="4" from="sip:alice@parley.test" to="` +
		target + `"><getConferenceDirectory/></request>`
	broken := `<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="5" from="sip:alice@parley.test" to="` +
		target + `"><addConference><ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity=""><ci:conference-description><msci:is-active xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions">maybe</msci:is-active></ci:conference-description></ci:conference-info></addConference></request>`
	tests := []struct {
		name, method, ctype, body string
		code                      int
		reason                    string
		diag                      string
	}{
		{"unknown command", "SERVICE", c3p.ContentType, unknown, 200, "otherFailure", "3004;"},
		{"not XML", "SERVICE", c3p.ContentType, "this is not XML", 400, "", "3006;"},
		{"truncated XML", "SERVICE", c3p.ContentType, unknown[:60], 400, "", "3006;"},
		{"DTD", "SERVICE", c3p.ContentType, `<!DOCTYPE r [<!ENTITY a "aaaa">]>` + unknown, 400, "", "3006;"},
		{"bad content in a readable envelope", "SERVICE", c3p.ContentType, broken, 200, "otherFailure", "3006;"},
		{"wrong content type", "SERVICE", "application/sdp", unknown, 415, "", ""},
		{"no content type", "SERVICE", "", unknown, 415, "", ""},
		{"oversized body", "SERVICE", c3p.ContentType, "<a>" + strings.Repeat("x", c3p.MaxBodySize) + "</a>", 413, "", "3006;"},
		{"not SERVICE", "INFO", c3p.ContentType, unknown, 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.send(sipRequest(t, tc.method, target, alice, tc.ctype, []byte(tc.body)), alice)
			if r.sip.StatusCode != tc.code {
				t.Fatalf("status = %d %s, want %d", r.sip.StatusCode, r.sip.Reason, tc.code)
			}
			if tc.reason != "" && (r.c3p == nil || r.c3p.Code != c3p.CodeFailure || r.c3p.Reason != tc.reason) {
				t.Errorf("C3P = %+v, want failure %q", r.c3p, tc.reason)
			}
			if !strings.HasPrefix(r.diag, tc.diag) {
				t.Errorf("ms-diagnostics = %q, want prefix %q", r.diag, tc.diag)
			}
			if tc.code != 200 && r.warn == "" {
				t.Error("no Warning header saying what is wrong")
			}
		})
	}
}

func TestModifyAndDelete(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.call(alice, h.addConference(addMeeting{key: "WEEKLY0001", subject: "Weekly", dialIn: true})).ok(t)
	m0, _ := h.db.Meeting(ctx, alice, "WEEKLY0001")

	h.advance(time.Minute)
	subject := "Weekly sync"
	until := t0.AddDate(0, 2, 0)
	start := t0.Add(2 * time.Hour)
	end := start.Add(30 * time.Minute)
	mod := &c3p.ModifyConference{
		Keys: &c3p.ConferenceKeys{ConferenceID: "WEEKLY0001"},
		ConferenceInfo: &c3p.ConferenceInfo{Description: &c3p.ConferenceDescription{
			Subject:  &subject,
			Schedule: &c3p.Schedule{Kind: "recurring", Start: &start, End: &end, RecursUntil: &until},
		}},
	}
	h.call(alice, mod).ok(t)
	m1, _ := h.db.Meeting(ctx, alice, "WEEKLY0001")
	if m1.Subject != subject || m1.Kind != directory.KindRecurring || !m1.ExpiresAt.Equal(until.Add(focusfactory.ScheduledGrace)) {
		t.Errorf("after modify: %+v", m1)
	}
	if m1.Version != m0.Version+1 || m1.ConferenceID != m0.ConferenceID || !m1.UpdatedAt.After(m0.UpdatedAt) {
		t.Errorf("version %d→%d, ID %s→%s, updated %v→%v", m0.Version, m1.Version, m0.ConferenceID, m1.ConferenceID, m0.UpdatedAt, m1.UpdatedAt)
	}
	// A refused modification changes nothing.
	bad := "x"
	h.call(alice, &c3p.ModifyConference{Keys: mod.Keys, ConferenceInfo: &c3p.ConferenceInfo{Description: &c3p.ConferenceDescription{
		Subject: &bad, AdmissionPolicy: "everyone",
	}}}).failed(t, "requestMalformed", c3p.DiagParseFailed)
	if m2, _ := h.db.Meeting(ctx, alice, "WEEKLY0001"); m2.Subject != subject || m2.Version != m1.Version {
		t.Errorf("a refused modify changed the meeting: %+v", m2)
	}
	// Bob cannot see, change or delete alice's meeting through his own
	// factory; her key is simply not his.
	h.call(bob, &c3p.GetConference{Keys: mod.Keys}).failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)
	h.call(bob, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: c3p.ConferenceURI(alice, "focus", "WEEKLY0001")}}).
		failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)

	sums := h.call(alice, &c3p.GetConferenceSummaries{}).ok(t).(*c3p.GetConferenceSummaries)
	if len(sums.Conferences) != 1 || sums.Conferences[0].Description.ConferenceID != "WEEKLY0001" {
		t.Errorf("summaries = %+v", sums.Conferences)
	}

	del := h.call(alice, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConferenceID: "WEEKLY0001"}}).ok(t).(*c3p.DeleteConference)
	if del.ConferenceInfo.Entity != c3p.ConferenceURI(alice, "focus", "WEEKLY0001") {
		t.Errorf("delete response entity = %q", del.ConferenceInfo.Entity)
	}
	h.call(alice, &c3p.GetConference{Keys: mod.Keys}).failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)
	h.call(alice, &c3p.DeleteConference{Keys: mod.Keys}).failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)
	if _, err := h.db.MeetingByConferenceID(ctx, m0.ConferenceID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("conference ID still resolves after delete: %v", err)
	}
}

func TestMeetingLimit(t *testing.T) {
	h := newHarness(t, func(c *focusfactory.Config) { c.MaxMeetingsPerOrganizer = 3 })
	for i := range 3 {
		h.call(alice, h.addConference(addMeeting{key: "LIMITKEY" + itoa(i)})).ok(t)
	}
	h.call(alice, h.addConference(addMeeting{key: "LIMITKEY9"})).failed(t, "tooManyConferences", c3p.DiagAuthorizationFailed)
	h.call(bob, h.addConference(addMeeting{key: "LIMITKEY9"})).ok(t) // per organizer
	h.call(alice, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConferenceID: "LIMITKEY0"}}).ok(t)
	h.call(alice, h.addConference(addMeeting{key: "LIMITKEY9"})).ok(t)
}

func TestExpiryRules(t *testing.T) {
	start := t0.Add(48 * time.Hour)
	end := start.Add(time.Hour)
	until := start.AddDate(0, 3, 0)
	act := t0.Add(10 * 24 * time.Hour)
	tests := []struct {
		name string
		m    directory.Meeting
		want time.Time
	}{
		{"one-time: end + 14 days", directory.Meeting{Kind: directory.KindOneTime, CreatedAt: t0, StartsAt: start, EndsAt: end}, end.Add(14 * 24 * time.Hour)},
		{"recurring with end date: last end + 14 days", directory.Meeting{Kind: directory.KindRecurring, CreatedAt: t0, StartsAt: start, EndsAt: end, RecursUntil: until}, until.Add(14 * 24 * time.Hour)},
		{"recurring without end date: 6 months after creation", directory.Meeting{Kind: directory.KindRecurring, CreatedAt: t0, StartsAt: start, EndsAt: end}, t0.AddDate(0, 6, 0)},
		{"recurring without end date: 6 months after last activation", directory.Meeting{Kind: directory.KindRecurring, CreatedAt: t0, LastActivatedAt: act}, act.AddDate(0, 6, 0)},
		{"ad hoc: 8 hours", directory.Meeting{Kind: directory.KindAdHoc, CreatedAt: t0}, t0.Add(8 * time.Hour)},
		{"ad hoc: 8 hours after activation", directory.Meeting{Kind: directory.KindAdHoc, CreatedAt: t0, LastActivatedAt: act}, act.Add(8 * time.Hour)},
	}
	for _, tc := range tests {
		if got := focusfactory.Expiry(tc.m); !got.Equal(tc.want) {
			t.Errorf("%s: Expiry = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSweepAndReuse(t *testing.T) {
	// A pool with room for exactly 1000 IDs (pool ID 10, 3-digit local
	// portion, no headroom) makes reuse observable.
	h := newHarness(t, func(c *focusfactory.Config) {
		c.Allocator.MaxWidth = 3
		c.Allocator.LoadFactor = 1
		c.MaxMeetingsPerOrganizer = 2000
	})
	ctx := context.Background()
	ids := map[string]bool{}
	for i := range 1000 {
		key := "FILL" + string(rune('A'+i/100%26)) + strings.Repeat("0", 5-len(itoa(i))) + itoa(i)
		r := h.call(alice, h.addConference(addMeeting{key: key, dialIn: true})).ok(t).(*c3p.AddConference)
		id := r.ConferenceInfo.Description.PSTNAccess.ID
		if ids[id] {
			t.Fatalf("conference ID %s issued twice", id)
		}
		ids[id] = true
	}
	h.call(alice, h.addConference(addMeeting{key: "ONETOOMANY", dialIn: true})).failed(t, "otherFailure", 0)

	// An ad hoc meeting expires after 8 hours; an active one is kept.
	h.call(alice, h.addConference(addMeeting{key: "ADHOCNOID1"})).ok(t)
	if _, err := h.db.UpdateMeeting(ctx, alice, "FILLA00001", func(m *directory.Meeting) error { m.Active = true; return nil }); err != nil {
		t.Fatal(err)
	}
	h.advance(8*time.Hour + time.Second)
	n, err := h.ff.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000 { // 999 inactive dial-in meetings and the ad hoc one
		t.Errorf("swept %d meetings, want 1000", n)
	}
	if _, err := h.db.Meeting(ctx, alice, "FILLA00001"); err != nil {
		t.Errorf("the active meeting was swept: %v", err)
	}
	// The freed IDs are issued again.
	r := h.call(alice, h.addConference(addMeeting{key: "AFTERSWEEP", dialIn: true})).ok(t).(*c3p.AddConference)
	if id := r.ConferenceInfo.Description.PSTNAccess.ID; !ids[id] {
		t.Errorf("after the sweep, ID %s is new; the pool only has the 1000 seen", id)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestPersonalID(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	id, err := h.ff.AssignPersonalID(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := h.ff.AssignPersonalID(ctx, alice); again != id {
		t.Errorf("AssignPersonalID is not idempotent: %s then %s", id, again)
	}
	if u, _ := h.db.User(ctx, alice); u.ConferenceID != id {
		t.Errorf("user's conference ID = %q, want %q", u.ConferenceID, id)
	}
	r := h.call(alice, h.addConference(addMeeting{key: "MYMEETING1", subject: "Office hours", dialIn: true, personal: true})).ok(t).(*c3p.AddConference)
	pa := r.ConferenceInfo.Description.PSTNAccess
	if pa.ID != id || pa.PersonalID == nil || !*pa.PersonalID {
		t.Errorf("personal meeting got %+v, want ID %s", pa, id)
	}
	newID, err := h.ff.ResetPersonalID(ctx, alice)
	if err != nil || newID == id {
		t.Fatalf("ResetPersonalID = %q, %v", newID, err)
	}
	if _, err := h.db.MeetingByConferenceID(ctx, id); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("old personal ID still resolves: %v", err)
	}
	m, err := h.db.MeetingByConferenceID(ctx, newID)
	if err != nil || m.Subject != "Office hours" {
		t.Errorf("new personal ID resolves to %+v, %v", m, err)
	}
	if u, _ := h.db.User(ctx, alice); u.ConferenceID != newID {
		t.Errorf("user's conference ID = %q after reset, want %q", u.ConferenceID, newID)
	}
}

func TestRehome(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.call(alice, h.addConference(addMeeting{key: "MOVEME0001", dialIn: true})).ok(t)
	h.call(alice, h.addConference(addMeeting{key: "MOVEME0002"})).ok(t)
	before, _ := h.db.Meeting(ctx, alice, "MOVEME0001")
	if err := h.db.PutPool(ctx, directory.Pool{FQDN: "pool2.parley.test", ID: "4711", PSTN: directory.DefaultPSTNSettings()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.UpdateUser(ctx, alice, func(u *directory.User) error { u.Pool = "pool2.parley.test"; return nil }); err != nil {
		t.Fatal(err)
	}
	n, err := h.ff.Rehome(ctx, alice)
	if err != nil || n != 2 {
		t.Fatalf("Rehome = %d, %v; want 2 meetings moved", n, err)
	}
	after, _ := h.db.Meeting(ctx, alice, "MOVEME0001")
	pool, _, _, err := h.codec.Decode(after.ConferenceID)
	if err != nil || pool != "4711" || after.Pool != "pool2.parley.test" {
		t.Errorf("after rehome: ID %s in pool %q (%v), meeting pool %s", after.ConferenceID, pool, err, after.Pool)
	}
	if _, err := h.db.MeetingByConferenceID(ctx, before.ConferenceID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("old ID still resolves: %v", err)
	}
}

// TestIDsAcrossPools: conference IDs are unique among the live meetings of
// every pool, and each one names the pool that hosts its meeting.
func TestIDsAcrossPools(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.db.PutPool(ctx, directory.Pool{FQDN: "pool2.parley.test", ID: "4711", PSTN: directory.DefaultPSTNSettings()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.UpdateUser(ctx, bob, func(u *directory.User) error { u.Pool = "pool2.parley.test"; return nil }); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i := range 150 {
		for _, who := range []struct{ user, pool string }{{alice, "10"}, {bob, "4711"}} {
			key := "POOLS" + strings.ToUpper(who.user[4:7]) + itoa(1000+i)
			r := h.call(who.user, h.addConference(addMeeting{key: key, dialIn: true})).ok(t).(*c3p.AddConference)
			id := r.ConferenceInfo.Description.PSTNAccess.ID
			if prev, dup := seen[id]; dup {
				t.Fatalf("conference ID %s issued to %s and to %s", id, prev, key)
			}
			seen[id] = key
			pool, _, _, err := h.codec.Decode(id)
			if err != nil || pool != who.pool {
				t.Fatalf("ID %s of %s decodes to pool %q (%v), want %s", id, who.user, pool, err, who.pool)
			}
		}
	}
}

// BenchmarkAddConference measures addConference through ServeSERVICE (SIP
// message in, SIP response out) on a file-backed SQLite store, dial-in ID
// allocation included, passcode excluded (argon2id costs ~20 ms by design).
func BenchmarkAddConference(b *testing.B) {
	h := newHarnessFile(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		h.call(alice, h.addConference(addMeeting{key: "BENCH" + itoa(100000+i), dialIn: true})).ok(b)
	}
}
