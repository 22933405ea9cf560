package attendant

import (
	"context"
	"crypto/hpke"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

var trustKey = []byte("0123456789abcdef0123456789abcdef")

// fakeFrontEnd answers the attendant's commands as the Focus Factory
// does: it checks the signature, opens the sealed secrets and answers 200
// with a C3P response.
type fakeFrontEnd struct {
	key hpke.PrivateKey

	mu       sync.Mutex
	services []string // signed service of each request
	bodies   []string
	secrets  []string // opened passcodes and PINs
	status   int      // SIP status to answer, 0 for 200
}

func (f *fakeFrontEnd) serve(req *sip.Request, tx sip.ServerTransaction) {
	service, _, err := trust.Verify(trustKey, req, time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.status != 0 {
		code := f.status
		if err != nil {
			code = 403
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Refused", nil))
		return
	}
	f.services = append(f.services, service)
	f.bodies = append(f.bodies, string(req.Body()))
	creq, err := c3p.ParseRequest(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	code, reason := c3p.CodeSuccess, ""
	var cmd c3p.Command
	switch c := creq.Command.(type) {
	case *c3p.ResolveConference:
		yes := c.ConferenceID == "123"
		switch c.ConferenceID {
		case "123", "77":
			cmd = &c3p.ResolveConference{ConferenceID: c.ConferenceID, FocusURI: "sip:org@example.com;gruu;opaque=app:conf:focus:id:K", MeetingID: "K", Organizer: "sip:org@example.com", PasscodeRequired: &yes, Pool: "pool.example.com"}
		case "1":
			code, reason, cmd = c3p.CodeFailure, "invalidConferenceId", c
		default:
			code, reason, cmd = c3p.CodeFailure, "conferenceDoesNotExist", c
		}
	case *c3p.VerifyPasscode:
		code, cmd = c3p.CodeFailure, c
		p, err := c.Passcode.OpenPasscode(f.key)
		f.secrets = append(f.secrets, p)
		switch {
		case err != nil:
			reason = "requestMalformed"
		case p == "4242":
			code = c3p.CodeSuccess
		case p == "0000":
			reason = "tooManyAttempts"
		default:
			reason = "wrongPasscode"
		}
	case *c3p.VerifyPIN:
		code, cmd = c3p.CodeFailure, c
		p, err := c.PIN.OpenPasscode(f.key)
		f.secrets = append(f.secrets, p)
		who := c.Extension + c.PhoneNumber
		switch {
		case err != nil:
			reason = "requestMalformed"
		case who == "42" && p == "2468", who == "+14255550100" && p == "2468":
			code, cmd = c3p.CodeSuccess, &c3p.VerifyPIN{User: "sip:alice@example.com", DisplayName: "Alice"}
		case p == "1111":
			reason = "pinLockedOut"
		case p == "2222":
			reason = "pinExpired"
		default:
			reason = "authenticationFailed"
		}
	}
	out := c3p.NewResponse(creq.Header, code, cmd)
	out.Reason = reason
	body, err := out.Marshal()
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	_ = tx.Respond(res)
}

func (f *fakeFrontEnd) setStatus(code int) {
	f.mu.Lock()
	f.status = code
	f.mu.Unlock()
}

func newFrontEnd(t *testing.T) (*FrontEnd, *fakeFrontEnd) {
	t.Helper()
	key, err := c3p.DerivePasscodeKey([]byte("deployment secret of 32 bytes..."))
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeFrontEnd{key: key}
	log := slog.New(slog.DiscardHandler)
	quiet := []sipgo.UserAgentOption{
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	}
	ua, err := sipgo.NewUA(quiet...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRequest("SERVICE", fake.serve)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeUDP(conn) }()

	cua, err := sipgo.NewUA(quiet...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cua.Close() })
	client, err := sipgo.NewClient(cua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	fe := &FrontEnd{
		Client:      client,
		Signer:      trust.Signer{Key: trustKey, Service: directory.ServiceAttendant, Host: "pool.example.com"},
		Pool:        "pool.example.com",
		Proxy:       conn.LocalAddr().String(),
		From:        "sip:pool.example.com;gruu;opaque=app:conf:caa",
		PasscodeKey: &c3p.PublicKey{Alg: c3p.PasscodeAlgorithm, Key: key.PublicKey().Bytes()},
	}
	return fe, fake
}

func TestFrontEnd(t *testing.T) {
	fe, fake := newFrontEnd(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	m, err := fe.ResolveConference(ctx, "123")
	want := Meeting{ConferenceID: "123", FocusURI: "sip:org@example.com;gruu;opaque=app:conf:focus:id:K", MeetingID: "K", Organizer: "sip:org@example.com", PasscodeRequired: true, Pool: "pool.example.com"}
	if err != nil || m != want {
		t.Fatalf("ResolveConference(123) = %+v, %v; want %+v", m, err, want)
	}
	if m, err := fe.ResolveConference(ctx, "77"); err != nil || m.PasscodeRequired {
		t.Errorf("ResolveConference(77) = %+v, %v; want no passcode", m, err)
	}
	errTests := []struct {
		name string
		call func() error
		want error
	}{
		{"invalid ID", func() error { _, err := fe.ResolveConference(ctx, "1"); return err }, ErrInvalidID},
		{"no meeting", func() error { _, err := fe.ResolveConference(ctx, "999"); return err }, ErrNotFound},
		{"right passcode", func() error { return fe.VerifyPasscode(ctx, "123", "4242") }, nil},
		{"wrong passcode", func() error { return fe.VerifyPasscode(ctx, "123", "4243") }, ErrWrongPasscode},
		{"passcodes locked", func() error { return fe.VerifyPasscode(ctx, "123", "0000") }, ErrTooManyAttempts},
		{"wrong PIN", func() error { _, err := fe.VerifyPIN(ctx, "42", "1357"); return err }, ErrAuthFailed},
		{"locked PIN", func() error { _, err := fe.VerifyPIN(ctx, "42", "1111"); return err }, ErrPINLocked},
		{"expired PIN", func() error { _, err := fe.VerifyPIN(ctx, "42", "2222"); return err }, ErrPINExpired},
		{"malformed", func() error { return fe.VerifyPasscode(ctx, "123", strings.Repeat("9", 65)) }, c3p.ErrSealed},
	}
	for _, tc := range errTests {
		if err := tc.call(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, ext := range []string{"42", "14255550100"} {
		u, err := fe.VerifyPIN(ctx, ext, "2468")
		if want := (User{URI: "sip:alice@example.com", DisplayName: "Alice"}); err != nil || u != want {
			t.Errorf("VerifyPIN(%s) = %+v, %v; want %+v", ext, u, err, want)
		}
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	for i, s := range fake.services {
		if s != directory.ServiceAttendant {
			t.Errorf("request %d signed as %q, want %q", i, s, directory.ServiceAttendant)
		}
	}
	if got := strings.Join(fake.secrets, ","); got != "4242,4243,0000,1357,1111,2222,2468,2468" {
		t.Errorf("secrets opened = %s", got)
	}
	for _, b := range fake.bodies {
		for _, s := range []string{"4242", "2468", "1357"} {
			if strings.Contains(b, s) {
				t.Errorf("a secret travels in clear: %s", b)
			}
		}
	}
}

func TestFrontEndRefused(t *testing.T) {
	fe, fake := newFrontEnd(t)
	fake.setStatus(503)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := fe.ResolveConference(ctx, "123"); !errors.Is(err, ErrFrontEnd) {
		t.Errorf("503: err = %v, want ErrFrontEnd", err)
	}
	fake.setStatus(0)
	fe.Signer.Key = []byte("another key, still long enough!")
	if _, err := fe.ResolveConference(ctx, "123"); !errors.Is(err, ErrFrontEnd) || !strings.Contains(err.Error(), "403") {
		t.Errorf("bad signature: err = %v, want ErrFrontEnd 403", err)
	}
}
