package avmcu

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// fakeCAS is a Conference Announcement Service: it answers the MCU's
// INVITEs (or refuses them) and sends INFO and BYE in their dialogs.
type fakeCAS struct {
	t      *testing.T
	end    *sipEnd
	cache  *sipgo.DialogServerCache
	refuse atomic.Bool

	mu      sync.Mutex
	invites []*sip.Request
	dialogs map[string]*sipgo.DialogServerSession // by Call-ID
	cseq    uint32
	byes    chan *sip.Request
}

func newFakeCAS(t *testing.T) *fakeCAS {
	t.Helper()
	f := &fakeCAS{t: t, end: newSIPEnd(t, "cas"), dialogs: make(map[string]*sipgo.DialogServerSession), byes: make(chan *sip.Request, 8), cseq: 100}
	f.cache = sipgo.NewDialogServerCache(f.end.client, f.end.contact("announcement"))
	f.end.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		f.mu.Lock()
		f.invites = append(f.invites, req)
		f.mu.Unlock()
		if f.refuse.Load() {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
			return
		}
		creq, err := c3p.ParseRequest(req.Body())
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		body, err := c3p.NewResponse(creq.Header, c3p.CodeSuccess, creq.Command).Marshal()
		if err != nil {
			t.Error(err)
			return
		}
		dlg, err := f.cache.ReadInvite(req, tx)
		if err != nil {
			t.Errorf("ReadInvite: %v", err)
			return
		}
		f.mu.Lock()
		f.dialogs[req.CallID().Value()] = dlg
		f.mu.Unlock()
		contact := f.end.contact("announcement")
		_ = dlg.Respond(200, "OK", body, sip.NewHeader("Content-Type", c3p.ContentType), &contact)
	})
	f.end.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = f.cache.ReadAck(req, tx) })
	f.end.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = f.cache.ReadBye(req, tx)
		f.byes <- req
	})
	return f
}

func (f *fakeCAS) uri() string {
	return fmt.Sprintf("sip:announcement@127.0.0.1:%d;transport=tcp", f.end.port)
}

func (f *fakeCAS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.invites)
}

// last is the latest INVITE, once answered.
func (f *fakeCAS) last(t *testing.T) (*sip.Request, *sipgo.DialogServerSession) {
	t.Helper()
	var inv *sip.Request
	var dlg *sipgo.DialogServerSession
	eventually(t, "the INVITE's dialog", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.invites) == 0 {
			return false
		}
		inv = f.invites[len(f.invites)-1]
		dlg = f.dialogs[inv.CallID().Value()]
		return dlg != nil && dlg.LoadState() == sip.DialogStateConfirmed
	})
	return inv, dlg
}

// request builds a request of the latest dialog, signed by service ("" for
// none).
func (f *fakeCAS) request(t *testing.T, method sip.RequestMethod, service, contentType string, body []byte) *sip.Request {
	t.Helper()
	inv, dlg := f.last(t)
	req := sip.NewRequest(method, *inv.Contact().Address.Clone())
	from := dlg.InviteResponse.To().AsFrom()
	to := inv.From().AsTo()
	callID := sip.CallIDHeader(inv.CallID().Value())
	f.mu.Lock()
	f.cseq++
	seq := f.cseq
	f.mu.Unlock()
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	if contentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	req.SetTransport("TCP")
	if service != "" {
		if err := (trust.Signer{Key: dialKey, Service: service, Host: "cas.parley.test"}).Sign(req); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func (f *fakeCAS) do(t *testing.T, req *sip.Request) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.end.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

// c3pBody marshals a C3P request to the MCU.
func c3pBody(t *testing.T, cmd c3p.Command) []byte {
	t.Helper()
	b, err := (&c3p.Request{Header: c3p.Header{Version: c3p.Version, RequestID: 7, From: "sip:cas@parley.test", To: dialConf}, Command: cmd}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fakeCAS) bye(t *testing.T) {
	t.Helper()
	select {
	case <-f.byes:
	case <-time.After(10 * time.Second):
		t.Fatal("the MCU sent the announcement service no BYE")
	}
}

// casRig is a dial rig whose MCU knows the fake announcement service.
type casRig struct {
	*dialRig
	cas *fakeCAS
	n   int
}

func newCASRig(t *testing.T) *casRig {
	t.Helper()
	cas := newFakeCAS(t)
	verify := func(req *sip.Request) (string, error) {
		svc, _, err := trust.Verify(dialKey, req, time.Now())
		return svc, err
	}
	r := newDialRig(t, Config{}, SIPConfig{Announcement: cas.uri(), VerifySIP: verify}, answer)
	return &casRig{dialRig: r, cas: cas}
}

// dialIn hands a dial-in caller to the MCU: an addUser whose endpoint is
// a Mediation Server call to replace, each on its own fake (legs are
// told apart by their RTP address). It returns the fake and the user.
func (r *casRig) dialIn(t *testing.T, replaces bool) (*fakeMediation, string) {
	t.Helper()
	r.n++
	user := fmt.Sprintf("sip:+1425555%04d@anonymous.invalid", r.n)
	f := r.fake
	if r.n > 1 {
		f = newFakeMediation(t, answer)
	}
	uri := f.uri()
	if !replaces {
		uri, _, _ = strings.Cut(uri, "?")
	}
	add := addUser(uri)
	add.User.Entity = user
	r.control(add)
	if n := r.notes.next(t); !n.joined || n.user != user {
		t.Fatalf("notification %+v, want LegJoined of %s", n, user)
	}
	return f, user
}

// invites checks that the service has n INVITEs a while later.
func (r *casRig) invites(t *testing.T, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := r.cas.count(); got != n {
		t.Fatalf("%d INVITEs to the announcement service, want %d", got, n)
	}
}

// TestAnnouncementInvitedOncePerConference: the first dial-in caller
// brings the service in, with announceConference naming the Focus and the
// MCU's conference; the second does not.
func TestAnnouncementInvitedOncePerConference(t *testing.T) {
	r := newCASRig(t)
	r.dialIn(t, true)
	eventually(t, "the INVITE to the announcement service", func() bool { return r.cas.count() == 1 })
	inv, _ := r.cas.last(t)

	mcuURI := c3p.ConferenceURI(dialOrganizer, c3p.MCUTypeAudioVideo, "KEY1")
	if got := inv.Recipient.String(); got != r.cas.uri() {
		t.Errorf("Request-URI %q, want %q", got, r.cas.uri())
	}
	if tag, _ := inv.From().Params.Get("tag"); inv.From().Address.String() != mcuURI || tag == "" {
		t.Errorf("From %q, want %q with a tag", inv.From().Value(), mcuURI)
	}
	if inv.To().Address.String() != r.cas.uri() {
		t.Errorf("To %q, want %q", inv.To().Address.String(), r.cas.uri())
	}
	if c := inv.Contact(); c == nil || c.Address.User != "avmcu" {
		t.Errorf("Contact %v, want the MCU's", c)
	}
	if svc, _, err := trust.Verify(dialKey, inv, time.Now()); err != nil || svc != "avmcu" {
		t.Errorf("trust.Verify = %q, %v", svc, err)
	}
	if ct := inv.ContentType(); ct == nil || ct.Value() != c3p.ContentType {
		t.Errorf("Content-Type %v", ct)
	}
	creq, err := c3p.ParseRequest(inv.Body())
	if err != nil {
		t.Fatalf("body: %v\n%s", err, inv.Body())
	}
	ac, ok := creq.Command.(*c3p.AnnounceConference)
	if !ok || ac.Focus != dialConf || ac.MCU != mcuURI {
		t.Errorf("command %#v, want announceConference of %s and %s", creq.Command, dialConf, mcuURI)
	}
	if creq.From != mcuURI || creq.To != dialConf || creq.Version != c3p.Version {
		t.Errorf("C3P header %+v", creq.Header)
	}

	r.dialIn(t, true)
	r.invites(t, 1)
}

// TestAnnouncementOnlyForDialIn: a dial-out that replaces no call is not
// a dial-in caller.
func TestAnnouncementOnlyForDialIn(t *testing.T) {
	r := newCASRig(t)
	r.dialIn(t, false)
	r.invites(t, 0)
}

// TestAnnouncementINFO: the service's playAnnouncement plays to the
// caller's leg; unsigned, foreign, malformed or other requests are
// refused and change nothing.
func TestAnnouncementINFO(t *testing.T) {
	r := newCASRig(t)
	med, user := r.dialIn(t, true)
	r.cas.last(t)

	keys := &c3p.UserKeys{ConfEntity: dialConf, UserEntity: user}
	play := c3pBody(t, &c3p.PlayAnnouncement{Keys: keys, Tone: c3p.ToneEntry})
	med.mu.Lock()
	mark := len(med.audio)
	med.mu.Unlock()
	res := r.cas.do(t, r.cas.request(t, sip.INFO, AnnouncementService, c3p.ContentType, play))
	if res.StatusCode != 200 {
		t.Fatalf("INFO answered %d %s", res.StatusCode, res.Reason)
	}
	cres, err := c3p.ParseResponse(res.Body())
	if err != nil {
		t.Fatalf("C3P response: %v", err)
	}
	if p, ok := cres.Command.(*c3p.PlayAnnouncement); cres.Code != c3p.CodeSuccess || !ok || p.Legs == nil || *p.Legs != 1 {
		t.Errorf("C3P response %s %q %+v, want success on 1 leg", cres.Code, cres.Reason, cres.Command)
	}
	eventually(t, "the entry tone at the caller", func() bool {
		med.mu.Lock()
		a := append([]int16(nil), med.audio[mark:]...)
		med.mu.Unlock()
		lo, hi := onset(a, 8000, toneLow), onset(a, 8000, toneHigh)
		return lo >= 0 && hi > lo
	})

	other := c3pBody(t, &c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: dialConf}})
	foreign := c3pBody(t, &c3p.PlayAnnouncement{Keys: &c3p.UserKeys{ConfEntity: c3p.ConferenceURI(dialOrganizer, c3p.ServiceFocus, "OTHER"), UserEntity: user}, Tone: c3p.ToneEntry})
	for _, tc := range []struct {
		name, service, ct string
		body              []byte
		code              int
		reason            string // of a C3P failure in a 200
	}{
		{"unsigned", "", c3p.ContentType, play, 403, ""},
		{"signed by another service", "avmcu", c3p.ContentType, play, 403, ""},
		{"garbage", AnnouncementService, c3p.ContentType, []byte("<not c3p"), 400, ""},
		{"not C3P", AnnouncementService, "text/plain", []byte("play"), 415, ""},
		{"another command", AnnouncementService, c3p.ContentType, other, 200, reasonUnsupported},
		{"another conference", AnnouncementService, c3p.ContentType, foreign, 200, reasonNoConference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.cas.do(t, r.cas.request(t, sip.INFO, tc.service, tc.ct, tc.body))
			if res.StatusCode != tc.code {
				t.Fatalf("answered %d %s, want %d", res.StatusCode, res.Reason, tc.code)
			}
			if tc.code != 200 {
				if w := res.GetHeader("Warning"); w == nil {
					t.Errorf("%d without a Warning giving the reason", tc.code)
				}
				return
			}
			cres, err := c3p.ParseResponse(res.Body())
			if err != nil {
				t.Fatalf("C3P response: %v", err)
			}
			if cres.Code != c3p.CodeFailure || cres.Reason != tc.reason {
				t.Errorf("C3P %s %q, want failure %q", cres.Code, cres.Reason, tc.reason)
			}
		})
	}
	if n := r.e.Load().Legs; n != 1 {
		t.Errorf("%d legs after the refused requests, want 1", n)
	}
	if !r.m.isProvisioned(dialConf) {
		t.Error("a refused deleteConference ended the conference")
	}
}

// TestAnnouncementByeAndReinvite: the service leaves with BYE; the next
// dial-in caller invites it again. Ending the conference hangs it up.
func TestAnnouncementByeAndReinvite(t *testing.T) {
	r := newCASRig(t)
	r.dialIn(t, true)
	r.cas.last(t)
	bye := r.cas.request(t, sip.BYE, "", "", nil)
	if !r.m.Owns(bye) {
		t.Fatal("the MCU does not own the announcement dialog")
	}
	if res := r.cas.do(t, bye); res.StatusCode != 200 {
		t.Fatalf("BYE answered %d", res.StatusCode)
	}
	if r.m.Owns(bye) {
		t.Error("the MCU still owns the dialog after BYE")
	}
	r.dialIn(t, true)
	eventually(t, "a second INVITE", func() bool { return r.cas.count() == 2 })
	r.cas.last(t)

	r.control(&c3p.DeleteConference{Keys: &c3p.ConferenceKeys{ConfEntity: dialConf}})
	r.cas.bye(t)
}

// TestAnnouncementLastLegGone: the service is hung up with the last leg,
// and with Shutdown, after which nobody invites it.
func TestAnnouncementLastLegGone(t *testing.T) {
	r := newCASRig(t)
	r.dialIn(t, true)
	r.cas.last(t)
	r.fake.mu.Lock()
	dlg := r.fake.dialog
	r.fake.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.notes.next(t); n.joined {
		t.Fatalf("notification %+v, want LegLeft", n)
	}
	r.cas.bye(t)

	r.dialIn(t, true)
	eventually(t, "a second INVITE", func() bool { return r.cas.count() == 2 })
	r.cas.last(t)
	if err := r.m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r.cas.bye(t)
	r.dialIn(t, true)
	r.invites(t, 2)
}

// warnCounter counts warnings.
type warnCounter struct {
	slog.Handler
	n *atomic.Int32
}

func (w warnCounter) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		w.n.Add(1)
	}
	return nil
}

func (w warnCounter) Enabled(context.Context, slog.Level) bool { return true }

func (w warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }

// TestAnnouncementRetry: a refusal is warned of once and retried by a
// later dial-in caller, not before the retry interval.
func TestAnnouncementRetry(t *testing.T) {
	r := newCASRig(t)
	var warns atomic.Int32
	r.m.log = slog.New(warnCounter{n: &warns})
	r.m.cas.retry = time.Second
	r.cas.refuse.Store(true)
	r.dialIn(t, true)
	failed := func() bool {
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		_, ok := r.m.cas.failed[dialConf]
		return ok && r.m.cas.links[dialConf] == nil
	}
	eventually(t, "the refusal", failed)
	start := time.Now()
	r.dialIn(t, true)
	if time.Since(start) > 700*time.Millisecond {
		t.Skip("the machine is too slow to tell the retry interval")
	}
	r.invites(t, 1)
	time.Sleep(time.Second)
	r.dialIn(t, true)
	eventually(t, "the retry", func() bool { return r.cas.count() == 2 })
	eventually(t, "the second refusal", func() bool {
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		return r.m.cas.links[dialConf] == nil
	})
	if n := warns.Load(); n != 1 {
		t.Errorf("%d warnings for two refusals, want 1", n)
	}
	r.cas.refuse.Store(false)
	r.m.mu.Lock()
	r.m.cas.failed[dialConf] = casFailure{at: time.Now().Add(-time.Hour)}
	r.m.mu.Unlock()
	r.dialIn(t, true)
	r.cas.last(t)
	eventually(t, "the dialog filed", func() bool {
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		_, failed := r.m.cas.failed[dialConf]
		return len(r.m.cas.byID) == 1 && !failed
	})
}

func TestParseAnnouncementURI(t *testing.T) {
	for _, tc := range []struct {
		uri, transport string
		ok             bool
	}{
		{"sip:announcement@127.0.0.1:5073;transport=tcp", "TCP", true},
		{"sip:announcement@pool.parley.test", "UDP", true},
		{"sips:announcement@pool.parley.test:5073", "TLS", true},
		{"sip:announcement@127.0.0.1:5073;transport=sctp", "", false},
		{"tel:+14255550100", "", false},
		{"sip:announcement@127.0.0.1?Replaces=x", "", false},
		{"<sip:announcement@127.0.0.1>", "", false},
		{"sip:", "", false},
		{"", "", false},
	} {
		_, transport, err := parseAnnouncementURI(tc.uri)
		if (err == nil) != tc.ok || transport != tc.transport {
			t.Errorf("%q: %q, %v; want %q, ok %v", tc.uri, transport, err, tc.transport, tc.ok)
		}
	}
}

func FuzzParseAnnouncementURI(f *testing.F) {
	for _, s := range []string{"sip:announcement@127.0.0.1:5073;transport=tcp", "sips:a@b", "sip:@", "sip:a@b;transport=", "tel:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, transport, err := parseAnnouncementURI(s)
		if err != nil {
			return
		}
		if u.Host == "" || (u.Scheme != "sip" && u.Scheme != "sips") {
			t.Errorf("%q accepted as %+v", s, u)
		}
		if transport != "UDP" && transport != "TCP" && transport != "TLS" {
			t.Errorf("%q: transport %q", s, transport)
		}
	})
}
