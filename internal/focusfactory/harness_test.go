package focusfactory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focusfactory"
	"github.com/parleyhq/parley/internal/store"
)

// harness is a Focus Factory on an in-memory store seeded with the demo
// organization (alice and bob, the Redmond access number, the Default
// policy that requires passcodes on anonymous dial-in meetings).
type harness struct {
	t      testing.TB
	db     *store.DB
	ff     *focusfactory.Factory
	demo   admin.Demo
	now    atomic.Pointer[time.Time]
	codec  *confid.Codec
	reqID  atomic.Uint64
	pubKey *c3p.PublicKey
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func newHarness(tb testing.TB, tweak ...func(*focusfactory.Config)) *harness {
	tb.Helper()
	return newHarnessDSN(tb, "sqlite::memory:", tweak...)
}

// newHarnessFile is a harness on a SQLite file, as a server runs it.
func newHarnessFile(tb testing.TB) *harness {
	tb.Helper()
	return newHarnessDSN(tb, "sqlite:"+tb.TempDir()+"/parley.db")
}

func newHarnessDSN(tb testing.TB, dsn string, tweak ...func(*focusfactory.Config)) *harness {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, dsn, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc := admin.New(db, log)
	demo, err := svc.SeedDemo(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	org, err := db.Organization(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{t: tb, db: db, demo: demo}
	h.now.Store(&t0)
	if h.codec, err = confid.NewCodec(org.ConferenceKey); err != nil {
		tb.Fatal(err)
	}
	pk, err := c3p.DerivePasscodeKey([]byte("test passcode key seed, 32 bytes"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := focusfactory.Config{
		Hostname:        "fe.parley.test",
		Codec:           h.codec,
		PasscodeKey:     pk,
		AccessKeySecret: []byte("0123456789abcdef0123456789abcdef"),
		DefaultPolicy:   admin.DefaultPolicyName,
		Now:             func() time.Time { return *h.now.Load() },
	}
	for _, f := range tweak {
		f(&cfg)
	}
	if h.ff, err = focusfactory.New(cfg, db, db, log); err != nil {
		tb.Fatal(err)
	}
	h.pubKey = &c3p.PublicKey{Alg: c3p.PasscodeAlgorithm, Key: pk.PublicKey().Bytes()}
	return h
}

func (h *harness) advance(d time.Duration) {
	n := h.now.Load().Add(d)
	h.now.Store(&n)
}

const alice = "sip:alice@parley.test"
const bob = "sip:bob@parley.test"

// sipRequest builds a SERVICE request on the wire and parses it, so that
// the factory sees what sipgo hands the server.
func sipRequest(tb testing.TB, method, target, from, contentType string, body []byte) *sip.Request {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, target)
	b.WriteString("Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-test1\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <%s>;tag=f1\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", target)
	b.WriteString("Call-ID: ff-test-1\r\n")
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", method)
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	msg, err := sip.ParseMessage([]byte(b.String()))
	if err != nil {
		tb.Fatalf("parsing the test request: %v", err)
	}
	// The body is set after parsing so that oversized ones get past
	// sipgo's own message limit, as they would from a configuration
	// with a larger one.
	req := msg.(*sip.Request)
	req.SetBody(body)
	return req
}

// result is what a test reads from a Focus Factory answer.
type result struct {
	sip  *sip.Response
	c3p  *c3p.Response
	diag string
	warn string
}

// call sends cmd as user to user's own Focus Factory.
func (h *harness) call(user string, cmd c3p.Command) result {
	h.t.Helper()
	return h.callAs(user, user, user, cmd)
}

// callAs lets the SIP identity, the C3P from and the factory differ.
func (h *harness) callAs(authUser, c3pFrom, factoryOwner string, cmd c3p.Command) result {
	h.t.Helper()
	req := &c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: h.reqID.Add(1), From: c3pFrom, To: c3p.FocusFactoryURI(factoryOwner)},
		Command: cmd,
	}
	body, err := req.Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	return h.send(sipRequest(h.t, "SERVICE", c3p.FocusFactoryURI(factoryOwner), authUser, c3p.ContentType, body), authUser)
}

func (h *harness) send(req *sip.Request, user string) result {
	h.t.Helper()
	return h.read(h.ff.ServeSERVICE(context.Background(), req, user))
}

// read takes a Focus Factory answer apart.
func (h *harness) read(res *sip.Response) result {
	h.t.Helper()
	out := result{sip: res}
	if d := res.GetHeader("ms-diagnostics"); d != nil {
		out.diag = d.Value()
	} else if d := res.GetHeader("ms-diagnostics-public"); d != nil {
		out.diag = d.Value()
	}
	if w := res.GetHeader("Warning"); w != nil {
		out.warn = w.Value()
	}
	if res.StatusCode == 200 {
		r, err := c3p.ParseResponse(res.Body())
		if errors.Is(err, c3p.ErrUnknownCommand) {
			// Our parser does not know the command either; read the
			// outcome from the envelope's attributes.
			m := outcomeRe.FindSubmatch(res.Body())
			if m == nil {
				h.t.Fatalf("no code and reason in %s", res.Body())
			}
			r, err = &c3p.Response{Code: c3p.Code(m[1]), Reason: string(m[2])}, nil
		}
		if err != nil {
			h.t.Fatalf("the factory's C3P response does not parse: %v\n%s", err, res.Body())
		}
		out.c3p = r
	}
	return out
}

// ok fails unless r is a C3P success and returns its command.
func (r result) ok(tb testing.TB) c3p.Command {
	tb.Helper()
	if r.sip.StatusCode != 200 || r.c3p == nil || r.c3p.Code != c3p.CodeSuccess {
		tb.Fatalf("want success; got %d %s, C3P %+v, diag %q, warning %q\n%s", r.sip.StatusCode, r.sip.Reason, r.c3p, r.diag, r.warn, r.sip.Body())
	}
	return r.c3p.Command
}

// failed fails unless r is a C3P failure with reason and ms-diagnostics code.
func (r result) failed(tb testing.TB, reason string, diag c3p.Diagnostic) {
	tb.Helper()
	if r.sip.StatusCode != 200 || r.c3p == nil || r.c3p.Code != c3p.CodeFailure {
		tb.Fatalf("want a C3P failure; got %d %s, C3P %+v\n%s", r.sip.StatusCode, r.sip.Reason, r.c3p, r.sip.Body())
	}
	if r.c3p.Reason != reason {
		tb.Errorf("reason = %q, want %q (warning %q)", r.c3p.Reason, reason, r.warn)
	}
	if diag != 0 && !strings.HasPrefix(r.diag, fmt.Sprint(int(diag))+";") {
		tb.Errorf("ms-diagnostics = %q, want code %d", r.diag, diag)
	}
	if r.warn == "" {
		tb.Error("no Warning header explaining the refusal")
	}
}

// addMeeting describes a meeting for addConference.
type addMeeting struct {
	key       string
	subject   string
	admission c3p.AdmissionPolicy
	dialIn    bool
	passcode  string
	personal  bool
	schedule  *c3p.Schedule
	users     []c3p.User
}

func (h *harness) addConference(a addMeeting) *c3p.AddConference {
	desc := &c3p.ConferenceDescription{ConferenceID: a.key, AdmissionPolicy: a.admission, Schedule: a.schedule}
	if a.subject != "" {
		desc.Subject = &a.subject
	}
	if a.dialIn {
		desc.PSTNAccess = &c3p.PSTNAccess{}
		if a.passcode != "" {
			s, err := c3p.SealPasscode(h.pubKey, a.passcode)
			if err != nil {
				h.t.Fatal(err)
			}
			desc.PSTNAccess.Passcode = s
		}
		if a.personal {
			desc.PSTNAccess.PersonalID = &a.personal
		}
	}
	ci := &c3p.ConferenceInfo{Description: desc}
	if a.users != nil {
		ci.Users = &c3p.Users{Entries: a.users}
	}
	return &c3p.AddConference{ConferenceInfo: ci}
}

func oneTime(start time.Time, d time.Duration) *c3p.Schedule {
	end := start.Add(d)
	return &c3p.Schedule{Kind: "one-time", Start: &start, End: &end}
}

// policy gives user a new meeting policy.
func (h *harness) policy(user string, p directory.MeetingPolicy) {
	h.t.Helper()
	ctx := context.Background()
	if p.MaxMeetingSize == 0 {
		p.MaxMeetingSize = 250
	}
	if err := h.db.PutMeetingPolicy(ctx, p); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.db.UpdateUser(ctx, user, func(u *directory.User) error {
		u.MeetingPolicy = p.Name
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

var outcomeRe = regexp.MustCompile(`code="(\w+)"><\w+ reason="(\w+)"`)

var cmpIgnoreExt = cmpopts.IgnoreUnexported(c3p.Extensions{})
