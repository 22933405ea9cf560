package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store"
)

// Restart in the middle of a meeting (issue 5: "recovery after a restart
// in the middle of a meeting"), through whole servers on one data
// directory and one SIP address: alice (organizer) and bob join over SIP,
// alice watches the roster, promotes bob and locks the meeting; the server
// stops, gracefully or killed, and a new one takes over. The meeting must
// still be active with its roster, roles and lock, alice's subscription
// and focus dialog must still work, and the lock must still keep carol
// out.

// restartWait bounds each wait of these tests.
const restartWait = 10 * time.Second

func TestRestartMidMeetingGraceful(t *testing.T) {
	dir := t.TempDir()
	first := runTestServer(t, dir, "127.0.0.1:0", io.Discard)
	pw := demoPasswords(t, first.out())
	db := openStore(t, dir)
	m := startMeeting(t, first.info.SIPUDP, db, pw)

	first.stop(t)
	second := runTestServer(t, dir, first.info.SIPUDP, io.Discard)
	if second.info.SIPUDP != first.info.SIPUDP || second.info.SIPTCP != first.info.SIPTCP {
		t.Fatalf("the second server listens on %s/%s, not %s/%s", second.info.SIPUDP, second.info.SIPTCP, first.info.SIPUDP, first.info.SIPTCP)
	}
	m.checkResumed(t, db, pw)
}

// TestRestartMidMeetingKilled kills the first server (SIGKILL, in a child
// process): nothing is saved at shutdown, so the snapshot written after
// the last change is what the next server resumes from.
func TestRestartMidMeetingKilled(t *testing.T) {
	dir := t.TempDir()
	child := startServerProcess(t, dir)
	pw := demoPasswords(t, child.out)
	db := openStore(t, dir)
	m := startMeeting(t, child.info.SIPUDP, db, pw)
	m.waitSnapshot(t, db)

	if err := child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()
	second := runTestServer(t, dir, child.info.SIPUDP, io.Discard)
	if second.info.SIPUDP != child.info.SIPUDP {
		t.Fatalf("the second server listens on %s, not %s", second.info.SIPUDP, child.info.SIPUDP)
	}
	m.checkResumed(t, db, pw)
}

// TestRestartServerProcess is the server that TestRestartMidMeetingKilled
// runs in a child process and kills; run alone it does nothing.
func TestRestartServerProcess(t *testing.T) {
	dir := os.Getenv("PARLEY_TEST_SERVER_DIR")
	if dir == "" {
		t.Skip("the child process of TestRestartMidMeetingKilled")
	}
	err := Run(context.Background(), Options{
		DataDir: dir, Config: testConfig("127.0.0.1:0"), Demo: true, Out: os.Stdout,
		Ready: func(i RunInfo) {
			b, _ := json.Marshal(i)
			fmt.Printf("\nREADY %s\n", b)
		},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Fatalf("the server stopped by itself: %v", err)
}

// testConfig is a server on loopback with the given SIP address (UDP and
// TCP on one port) and kernel-chosen ports for the rest.
func testConfig(sipListen string) config.File {
	cfg := config.Default()
	cfg.SIP.Listen = sipListen
	cfg.SIP.TLSListen = ""
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Mediation.Listen = "127.0.0.1:0"
	cfg.Attendant.Listen = "127.0.0.1:0"
	cfg.Announcement.Listen = "127.0.0.1:0"
	return cfg
}

// testServer is a server run in this process.
type testServer struct {
	info    RunInfo
	cancel  context.CancelFunc
	done    chan error
	stopped atomic.Bool
	mu      sync.Mutex
	buf     strings.Builder
}

func (s *testServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *testServer) out() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// runTestServer starts a demo server on dir; it stops when the test ends
// unless stopped before. With port 0 a start that finds the port UDP got
// taken for TCP is tried again (what the kernel gave UDP may be in use
// for TCP); the output of every attempt is kept, since only the first
// prints the demo passwords.
func runTestServer(t *testing.T, dir, sipListen string, logTo io.Writer) *testServer {
	t.Helper()
	s := &testServer{}
	for attempt := 1; ; attempt++ {
		err := s.start(dir, sipListen, logTo)
		if err == nil {
			break
		}
		if attempt == 5 || !strings.HasSuffix(sipListen, ":0") || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("starting the server: %v\n%s", err, s.out())
		}
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// start runs the server until it is ready.
func (s *testServer) start(dir, sipListen string, logTo io.Writer) error {
	s.done = make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan RunInfo, 1)
	go func() {
		s.done <- Run(ctx, Options{DataDir: dir, Config: testConfig(sipListen), Demo: true, Out: s, Ready: func(i RunInfo) { ready <- i }},
			slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}()
	select {
	case s.info = <-ready:
		return nil
	case err := <-s.done:
		cancel()
		return fmt.Errorf("Run returned before ready: %w", err)
	case <-time.After(30 * time.Second):
		cancel()
		return errors.New("server not ready after 30s")
	}
}

// stop cancels the server as a signal would and waits for it.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	if s.stopped.Swap(true) {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run after cancel = %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("server did not stop within 15s of cancel")
	}
}

// serverProcess is a server in a child process (TestRestartServerProcess).
type serverProcess struct {
	cmd  *exec.Cmd
	info RunInfo
	out  string
}

// startServerProcess starts the child server on dir and waits until it
// is ready. A child that found its port taken (see runTestServer) is
// started again; the output of all of them is kept.
func startServerProcess(t *testing.T, dir string) *serverProcess {
	t.Helper()
	var out strings.Builder
	for attempt := 1; ; attempt++ {
		if p := launchServerProcess(t, dir, &out); p != nil {
			return p
		}
		if attempt == 5 || !strings.Contains(out.String(), "address already in use") {
			t.Fatalf("the server process ended before ready:\n%s", out.String())
		}
	}
}

// launchServerProcess runs one child server; nil when it ended before
// being ready.
func launchServerProcess(t *testing.T, dir string, out *strings.Builder) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartServerProcess$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), "PARLEY_TEST_SERVER_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				return nil
			}
			if rest, found := strings.CutPrefix(line, "READY "); found {
				p := &serverProcess{cmd: cmd, out: out.String()}
				if err := json.Unmarshal([]byte(rest), &p.info); err != nil {
					t.Fatal(err)
				}
				go func() {
					for range lines { // keep the pipe drained
					}
				}()
				return p
			}
			out.WriteString(line + "\n")
		case <-timeout:
			t.Fatalf("the server process is not ready after 30s:\n%s", out.String())
		}
	}
}

// demoPasswords reads the demo users' passwords from the server's output.
func demoPasswords(t *testing.T, out string) map[string]string {
	t.Helper()
	pw := make(map[string]string)
	for _, u := range []string{"alice", "bob"} {
		m := regexp.MustCompile(`sip:` + u + `@parley\.test\s+\S+ \S+\s+\d+\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no password for %s in the demo output:\n%s", u, out)
		}
		pw["sip:"+u+"@parley.test"] = m[1]
	}
	return pw
}

// openStore opens the server's database beside it.
func openStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "parley.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// info sends a C3P command in a focus dialog, from the user who opened
// it, and returns the C3P answer.
func (p *testPhone) info(sess *sipgo.DialogClientSession, conf string, cmd c3p.Command) (*sip.Response, *c3p.Response) {
	p.t.Helper()
	from := sess.InviteRequest.From().Address.String()
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	req := sip.NewRequest(sip.INFO, sess.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(p.c3pBody(from, conf, cmd))
	res, err := sess.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("INFO: %v", err)
	}
	r, _ := c3p.ParseResponse(res.Body())
	return res, r
}

// testSub is a subscription to a conference's roster.
type testSub struct {
	p       *testPhone
	conf    string
	from    string
	callID  string
	fromTag string
	toTag   string
	cseq    uint32
}

// subscribe sends a SUBSCRIBE to the conference event package
// (piggy-backed first state and BENOTIFY, as Office Communicator asks),
// answering a 407 with the password when one is given.
func (p *testPhone) subscribe(conf, from, password string) (*testSub, *sip.Response) {
	p.t.Helper()
	s := &testSub{p: p, conf: conf, from: from, callID: sip.GenerateTagN(16) + "@test", fromTag: sip.GenerateTagN(12), cseq: 1}
	res := s.send(password, nil)
	if res.StatusCode == 200 {
		s.toTag, _ = res.To().Params.Get("tag")
	}
	return s, res
}

// refresh re-subscribes within the subscription's dialog.
func (s *testSub) refresh() *sip.Response {
	s.p.t.Helper()
	return s.send("", nil)
}

// send sends one SUBSCRIBE of the subscription.
func (s *testSub) send(password string, extra []sip.Header) *sip.Response {
	p := s.p
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	req := sip.NewRequest(sip.SUBSCRIBE, parseURI(p.t, s.conf))
	req.SetDestination(p.server)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{Address: parseURI(p.t, s.from), Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	to := &sip.ToHeader{Address: parseURI(p.t, s.conf), Params: sip.NewParams()}
	if s.toTag != "" {
		to.Params.Add("tag", s.toTag)
	}
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	contact := p.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Event", c3p.EventConference))
	req.AppendHeader(sip.NewHeader("Accept", c3p.ConferenceInfoType))
	req.AppendHeader(sip.NewHeader("Supported", "ms-benotify, ms-piggyback-first-notify"))
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("SUBSCRIBE: %v", err)
	}
	if res.StatusCode == 407 && password != "" {
		name, _, _ := strings.Cut(strings.TrimPrefix(s.from, "sip:"), "@")
		if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: name, Password: password}); err != nil {
			p.t.Fatalf("SUBSCRIBE with credentials: %v", err)
		}
	}
	s.cseq = req.CSeq().SeqNo + 1
	return res
}

// rosterOf reads the piggy-backed conference-info of a 200 to SUBSCRIBE.
func rosterOf(t *testing.T, res *sip.Response) *c3p.ConferenceInfo {
	t.Helper()
	if res.StatusCode != 200 || res.GetHeader("ms-piggyback-cseq") == nil {
		t.Fatalf("SUBSCRIBE answered %d %s %v, want 200 with the piggy-backed roster", res.StatusCode, res.Reason, res.GetHeader("Warning"))
	}
	ci, err := c3p.ParseConferenceInfo(res.Body())
	if err != nil {
		t.Fatalf("conference-info does not parse: %v\n%s", err, res.Body())
	}
	return ci
}

// rosterRoles summarizes a full document's users as "entity role".
func rosterRoles(ci *c3p.ConferenceInfo) []string {
	if ci.Users == nil {
		return nil
	}
	var out []string
	for _, u := range ci.Users.Entries {
		out = append(out, u.Entity+" "+strings.Join(u.Roles, ","))
	}
	slices.Sort(out)
	return out
}

// liveMeeting is the meeting of the restart tests, as its participants
// know it.
type liveMeeting struct {
	conf, key string
	alice     *testPhone
	bob       *testPhone
	aliceCall *sipgo.DialogClientSession
	bobCall   *sipgo.DialogClientSession
	sub       *testSub
}

const (
	restartAlice = "sip:alice@parley.test"
	restartBob   = "sip:bob@parley.test"
	restartCarol = "sip:carol@parley.test"
)

// startMeeting creates an open meeting of alice and runs it up to the
// restart: alice (UDP) and bob (TCP) in, alice subscribed, bob promoted,
// the meeting locked. carol, an enterprise user who could join an open
// meeting, is created for later.
func startMeeting(t *testing.T, addr string, db *store.DB, pw map[string]string) *liveMeeting {
	t.Helper()
	ctx := context.Background()
	u, err := db.User(ctx, restartAlice)
	if err != nil {
		t.Fatal(err)
	}
	id, err := confid.NewMeetingID(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := &liveMeeting{key: "RESTART01"}
	if err := db.CreateMeeting(ctx, directory.Meeting{
		ID: id, Organizer: restartAlice, Key: m.key, Pool: u.Pool, Kind: directory.KindAdHoc, Admission: directory.AdmitOpen,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1,
	}); err != nil {
		t.Fatal(err)
	}
	pw[restartCarol] = "carol-password-1"
	if _, err := admin.New(db, slog.New(slog.NewTextHandler(io.Discard, nil))).AddUser(ctx, admin.AddUser{
		URI: restartCarol, Password: pw[restartCarol], DisplayName: "Carol Clark",
	}); err != nil {
		t.Fatal(err)
	}
	m.conf = c3p.ConferenceURI(restartAlice, c3p.ServiceFocus, m.key)

	m.alice = newTestPhone(t, addr, "UDP")
	m.bob = newTestPhone(t, addr, "TCP")
	m.aliceCall = m.alice.join(m.conf, restartAlice, pw[restartAlice], c3p.RolePresenter)
	m.bobCall = m.bob.join(m.conf, restartBob, pw[restartBob], c3p.RoleAttendee)
	var res *sip.Response
	m.sub, res = m.alice.subscribe(m.conf, restartAlice, pw[restartAlice])
	if got, want := rosterRoles(rosterOf(t, res)), []string{restartAlice + " presenter", restartBob + " attendee"}; !slices.Equal(got, want) {
		t.Fatalf("roster before the restart = %q, want %q", got, want)
	}
	if _, r := m.alice.info(m.aliceCall, m.conf, &c3p.ModifyUserRoles{
		Keys: &c3p.UserKeys{ConfEntity: m.conf, UserEntity: restartBob}, Roles: []string{c3p.RolePresenter},
	}); r == nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("promoting bob: %+v", r)
	}
	yes := true
	if _, r := m.alice.info(m.aliceCall, m.conf, &c3p.ModifyConferenceLock{Locked: &yes}); r == nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("locking: %+v", r)
	}
	return m
}

// waitSnapshot waits until the store holds a snapshot of the meeting with
// bob promoted and the lock on: what a killed server leaves behind.
func (m *liveMeeting) waitSnapshot(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(restartWait)
	for {
		snaps, err := db.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Locked       bool `json:"locked"`
			Participants []struct {
				Entity string `json:"entity"`
				Role   string `json:"role"`
			} `json:"participants"`
		}
		if b, ok := snaps[m.conf]; ok && json.Unmarshal(b, &s) == nil && s.Locked &&
			slices.ContainsFunc(s.Participants, func(p struct {
				Entity string `json:"entity"`
				Role   string `json:"role"`
			}) bool {
				return p.Entity == restartBob && p.Role == "presenter"
			}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with bob promoted and the lock on: %s", snaps[m.conf])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkResumed checks the meeting on the new server.
func (m *liveMeeting) checkResumed(t *testing.T, db *store.DB, pw map[string]string) {
	t.Helper()
	if mt, err := db.Meeting(context.Background(), restartAlice, m.key); err != nil || !mt.Active {
		t.Fatalf("after the restart the meeting is %+v, %v; want active", mt, err)
	}
	want := []string{restartAlice + " presenter", restartBob + " presenter"}
	check := func(what string, res *sip.Response) {
		t.Helper()
		ci := rosterOf(t, res)
		if got := rosterRoles(ci); !slices.Equal(got, want) {
			t.Errorf("%s: roster = %q, want %q", what, got, want)
		}
		if ci.ConferenceState == nil || ci.ConferenceState.Locked == nil || !*ci.ConferenceState.Locked {
			t.Errorf("%s: the meeting is not locked:\n%s", what, res.Body())
		}
		if !strings.Contains(string(res.Body()), "<msci:uri>"+restartAlice+"</msci:uri></msci:organizer>") {
			t.Errorf("%s: alice is not the organizer:\n%s", what, res.Body())
		}
	}
	// The subscription of before the restart goes on.
	check("refresh of the old subscription", m.sub.refresh())
	// A new subscription sees the same.
	_, res := m.alice.subscribe(m.conf, restartAlice, pw[restartAlice])
	check("new subscription", res)

	// alice's focus dialog is still known: she may still command.
	yes, no := true, false
	if res, r := m.alice.info(m.aliceCall, m.conf, &c3p.ModifyConferenceLock{Locked: &yes}); r == nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("INFO in alice's old focus dialog: %d %s %v", res.StatusCode, res.Body(), res.GetHeader("Warning"))
	}
	// The lock keeps carol out...
	carol := newTestPhone(t, m.alice.server, "UDP")
	sess, res := carol.invite(carol.joinRequest(m.conf, restartCarol, restartCarol), sipgo.AnswerOptions{Username: "carol", Password: pw[restartCarol]})
	if sess != nil || res.StatusCode != 403 || !strings.Contains(fmt.Sprint(res.GetHeader("Warning")), "locked") {
		t.Fatalf("carol's join while locked: %d %s %v, want 403 (locked)", res.StatusCode, res.Reason, res.GetHeader("Warning"))
	}
	// ...and only the lock: unlocked, she gets in.
	if _, r := m.alice.info(m.aliceCall, m.conf, &c3p.ModifyConferenceLock{Locked: &no}); r == nil || r.Code != c3p.CodeSuccess {
		t.Fatalf("unlocking: %+v", r)
	}
	carol.join(m.conf, restartCarol, pw[restartCarol], c3p.RoleAttendee)
	// The old subscription is told, in a notification of the new server.
	m.alice.waitNote(t, m.sub.callID, restartCarol)
	// The focus dialogs of before the restart end like any other.
	ctx, cancel := context.WithTimeout(context.Background(), restartWait)
	defer cancel()
	for who, sess := range map[string]*sipgo.DialogClientSession{"bob": m.bobCall, "alice": m.aliceCall} {
		if err := sess.Bye(ctx); err != nil {
			t.Errorf("%s's BYE in the focus dialog of before the restart: %v", who, err)
		}
	}
}

// waitNote waits for a notification of a subscription that mentions s.
func (p *testPhone) waitNote(t *testing.T, callID, s string) {
	t.Helper()
	deadline := time.Now().Add(restartWait)
	for {
		p.mu.Lock()
		found := slices.ContainsFunc(p.notes, func(r *sip.Request) bool {
			return r.CallID().Value() == callID && strings.Contains(string(r.Body()), s)
		})
		p.mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification mentioning %s in subscription %s", s, callID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
