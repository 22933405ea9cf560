package focusfactory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focusfactory"
)

// trusted sends cmd as the Conferencing Attendant.
func (h *harness) trusted(cmd c3p.Command) result {
	h.t.Helper()
	target := "sip:pool.parley.test;gruu;opaque=app:conf:focusfactory"
	req := &c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: h.reqID.Add(1), From: "sip:caa@pool.parley.test", To: target},
		Command: cmd,
	}
	body, err := req.Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	sreq := sipRequest(h.t, "SERVICE", target, "sip:caa@pool.parley.test", c3p.ContentType, body)
	res := h.ff.ServeTrusted(context.Background(), sreq, "caa")
	return h.read(res)
}

func (h *harness) seal(secret string) *c3p.Sealed {
	h.t.Helper()
	s, err := c3p.SealPasscode(h.pubKey, secret)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func TestResolveConference(t *testing.T) {
	h := newHarness(t)
	r := h.call(alice, h.addConference(addMeeting{key: "DIALME0001", subject: "Standup", admission: c3p.AdmissionAnonymous,
		dialIn: true, passcode: "8813579"})).ok(t).(*c3p.AddConference)
	id := r.ConferenceInfo.Description.PSTNAccess.ID

	got := h.trusted(&c3p.ResolveConference{ConferenceID: id}).ok(t).(*c3p.ResolveConference)
	want := "sip:alice@parley.test;gruu;opaque=app:conf:focus:id:DIALME0001"
	if got.FocusURI != want || got.Organizer != alice || got.OrganizerName != "Alice Anderson" ||
		len(got.MeetingID) != 32 || got.PasscodeRequired == nil || !*got.PasscodeRequired || got.Pool != "pool.parley.test" {
		t.Errorf("resolve = %+v", got)
	}

	// One digit wrong: the check digit says so before any lookup.
	typo := []byte(id)
	typo[2] = '0' + (typo[2]-'0'+1)%10
	h.trusted(&c3p.ResolveConference{ConferenceID: string(typo)}).failed(t, "invalidConferenceId", c3p.DiagInvalidConferenceEntity)
	h.trusted(&c3p.ResolveConference{ConferenceID: "12ab"}).failed(t, "invalidConferenceId", c3p.DiagInvalidConferenceEntity)

	// A valid ID of no meeting, and an expired meeting.
	h.call(alice, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConferenceID: "DIALME0001"}}).ok(t)
	h.trusted(&c3p.ResolveConference{ConferenceID: id}).failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)
	r = h.call(alice, h.addConference(addMeeting{key: "SHORTLIVED", dialIn: true})).ok(t).(*c3p.AddConference)
	h.advance(9 * time.Hour)
	h.trusted(&c3p.ResolveConference{ConferenceID: r.ConferenceInfo.Description.PSTNAccess.ID}).
		failed(t, "conferenceDoesNotExist", c3p.DiagInvalidConferenceEntity)

	// Users cannot call the privileged commands.
	h.call(alice, &c3p.ResolveConference{ConferenceID: id}).failed(t, "unauthorized", c3p.DiagAuthorizationFailed)
}

func TestVerifyPasscode(t *testing.T) {
	h := newHarness(t)
	r := h.call(alice, h.addConference(addMeeting{key: "PASSCODE01", admission: c3p.AdmissionAnonymous,
		dialIn: true, passcode: "8813579"})).ok(t).(*c3p.AddConference)
	id := r.ConferenceInfo.Description.PSTNAccess.ID
	h.trusted(&c3p.VerifyPasscode{ConferenceID: id, Passcode: h.seal("8813579")}).ok(t)
	for i := range focusfactory.MaxPasscodeFailures {
		res := h.trusted(&c3p.VerifyPasscode{ConferenceID: id, Passcode: h.seal("1111" + itoa(100+i))})
		res.failed(t, "wrongPasscode", c3p.DiagAuthorizationFailed)
	}
	// Locked: even the right passcode is refused now...
	h.trusted(&c3p.VerifyPasscode{ConferenceID: id, Passcode: h.seal("8813579")}).failed(t, "tooManyAttempts", c3p.DiagAuthorizationFailed)
	// ...until the lockout ends.
	h.advance(focusfactory.PasscodeLockout + time.Second)
	h.trusted(&c3p.VerifyPasscode{ConferenceID: id, Passcode: h.seal("8813579")}).ok(t)
	h.trusted(&c3p.VerifyPasscode{ConferenceID: id}).failed(t, "requestMalformed", c3p.DiagParseFailed)
}

func TestVerifyPIN(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pin := h.demo.Users[0].PIN
	got := h.trusted(&c3p.VerifyPIN{Extension: "1001", PIN: h.seal(pin)}).ok(t).(*c3p.VerifyPIN)
	if got.User != alice || got.DisplayName != "Alice Anderson" {
		t.Errorf("verifyPin = %+v", got)
	}
	h.trusted(&c3p.VerifyPIN{PhoneNumber: "+14255551001", PIN: h.seal(pin)}).ok(t)
	h.trusted(&c3p.VerifyPIN{Extension: "9999", PIN: h.seal(pin)}).failed(t, "authenticationFailed", c3p.DiagAuthorizationFailed)
	h.trusted(&c3p.VerifyPIN{Extension: "1001"}).failed(t, "requestMalformed", c3p.DiagParseFailed)

	// Wrong PINs count down to lockout (Default pool: 10 attempts).
	for i := 1; i < 10; i++ {
		res := h.trusted(&c3p.VerifyPIN{Extension: "1001", PIN: h.seal("90817" + itoa(i))})
		res.failed(t, "authenticationFailed", c3p.DiagAuthorizationFailed)
		if res.sip.StatusCode == 200 && !strings.Contains(string(res.sip.Body()), "<pl:attempts-left>"+itoa(10-i)+"<") {
			t.Errorf("attempt %d: no attempts-left %d in\n%s", i, 10-i, res.sip.Body())
		}
	}
	h.trusted(&c3p.VerifyPIN{Extension: "1001", PIN: h.seal("908177")}).failed(t, "pinLockedOut", c3p.DiagAuthorizationFailed)
	h.trusted(&c3p.VerifyPIN{Extension: "1001", PIN: h.seal(pin)}).failed(t, "pinLockedOut", c3p.DiagAuthorizationFailed)
	if u, _ := h.db.User(ctx, alice); !u.PIN.LockedOut || u.PIN.FailedAttempts != 10 {
		t.Errorf("after 10 wrong PINs: %+v", u.PIN)
	}

	// A right PIN clears the count; an expired one is refused.
	bobPIN := h.demo.Users[1].PIN
	h.trusted(&c3p.VerifyPIN{Extension: "1002", PIN: h.seal("55511122")}).failed(t, "authenticationFailed", 0)
	h.trusted(&c3p.VerifyPIN{Extension: "1002", PIN: h.seal(bobPIN)}).ok(t)
	if u, _ := h.db.User(ctx, bob); u.PIN.FailedAttempts != 0 {
		t.Errorf("a right PIN left %d failed attempts", u.PIN.FailedAttempts)
	}
	p, _ := h.db.Pool(ctx, "pool.parley.test")
	p.PSTN.PINExpiryDays = 30
	if err := h.db.PutPool(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.advance(31 * 24 * time.Hour)
	h.trusted(&c3p.VerifyPIN{Extension: "1002", PIN: h.seal(bobPIN)}).failed(t, "pinExpired", c3p.DiagAuthorizationFailed)
}
