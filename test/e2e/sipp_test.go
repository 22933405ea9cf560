package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSIPpRegisterAuth registers five users with digest authentication
// (each must be challenged first), then checks that a wrong password is
// refused.
func TestSIPpRegisterAuth(t *testing.T) {
	requireTools(t, "sipp")
	srv := startParley(t, serverOptions{})
	var users []user
	for i := range 5 {
		users = append(users, user{name: fmt.Sprintf("reg%d", i+1), password: fmt.Sprintf("Pass-%d-word", i+1)})
	}
	srv.addUsers(t, users...)
	dir := t.TempDir()

	res := runSIPp(t, sippOptions{
		name:     "register",
		scenario: "register_auth.xml",
		remote:   srv.run.SIPUDP,
		args: []string{"-inf", writeUsersCSV(t, dir, "users.csv", users...), "-key", "expires", "300",
			"-m", "5", "-r", "10"},
	})
	res.expect(t, 5)

	wrong := user{name: "reg1", password: "not-the-password"}
	res = runSIPp(t, sippOptions{
		name:     "register-wrong-password",
		scenario: "register_auth.xml",
		remote:   srv.run.SIPUDP,
		args:     []string{"-inf", writeUsersCSV(t, dir, "wrong.csv", wrong), "-key", "expires", "300", "-m", "1"},
	})
	if res.exitCode == 0 || res.successful != 0 || res.failed != 1 {
		t.Errorf("REGISTER with a wrong password: exit %d, %d successful, %d failed; want a failure (no 200)\n%s",
			res.exitCode, res.successful, res.failed, res.output)
	}
}

// TestSIPpCallThroughProxy places three calls from alice to bob, a SIPp
// callee registered with bob's credentials. The proxy must challenge
// alice's INVITE (407), record-route, and carry ACK and BYE end to end.
func TestSIPpCallThroughProxy(t *testing.T) {
	requireTools(t, "sipp")
	srv := startParley(t, serverOptions{})
	alice := user{name: "alice", password: "alice-Pw-1"}
	bob := user{name: "bob", password: "bob-Pw-2"}
	srv.addUsers(t, alice, bob)
	dir := t.TempDir()

	callee := registerCallee(t, srv, dir, bob, "uas.xml", "-m", "3", "-d", "200")
	caller := runSIPp(t, sippOptions{
		name:     "caller",
		scenario: "uac_call.xml",
		remote:   srv.run.SIPUDP,
		args: []string{"-inf", writeUsersCSV(t, dir, "alice.csv", alice), "-s", bob.name,
			"-auth_uri", bob.name + "@127.0.0.1", "-m", "3", "-r", "2", "-l", "1", "-d", "1000"},
	})
	caller.expect(t, 3)
	if caller.exitCode != 0 {
		callee.kill() // it would wait for calls until its timeout
	}
	callee.wait(t).expect(t, 3)

	if !strings.Contains(caller.messages, "SIP/2.0 407") {
		t.Errorf("the caller's INVITE was not challenged with 407 (RFC 3261 §22.3)")
	}
	if n := strings.Count(callee.result.messages, "\nRecord-Route:"); n < 3 {
		t.Errorf("callee saw %d Record-Route header fields in its requests, want at least one per INVITE (3)", n)
	}
}

// TestSIPpForking registers two contacts for bob; one answers, the other
// rings. The proxy forks the INVITE to both (RFC 3261 §16.6) and, once the
// first answers, must CANCEL the other (§16.7 step 10), which replies 487.
func TestSIPpForking(t *testing.T) {
	requireTools(t, "sipp")
	srv := startParley(t, serverOptions{})
	alice := user{name: "alice", password: "alice-Pw-3"}
	bob := user{name: "bob", password: "bob-Pw-4"}
	srv.addUsers(t, alice, bob)
	dir := t.TempDir()

	// The answering branch rings for 500 ms, so the other branch has rung
	// (a CANCEL needs a provisional response first, §9.1).
	answers := registerCallee(t, srv, dir, bob, "uas.xml", "-m", "1", "-d", "500")
	rings := registerCallee(t, srv, dir, bob, "uas_cancel.xml", "-m", "1")
	caller := runSIPp(t, sippOptions{
		name:     "caller",
		scenario: "uac_call.xml",
		remote:   srv.run.SIPUDP,
		args: []string{"-inf", writeUsersCSV(t, dir, "alice.csv", alice), "-s", bob.name,
			"-auth_uri", bob.name + "@127.0.0.1", "-m", "1", "-d", "500"},
	})
	caller.expect(t, 1)
	if caller.exitCode != 0 {
		answers.kill()
		rings.kill()
	}
	answers.wait(t).expect(t, 1)
	r := rings.wait(t)
	r.expect(t, 1)
	if !strings.Contains(r.messages, "CANCEL sip:") {
		t.Errorf("the ringing branch never received a CANCEL")
	}
}

// registerCallee registers u's contact at a fresh port with
// register_auth.xml, then starts a SIPp server scenario on that port.
func registerCallee(t *testing.T, srv *parleyServer, dir string, u user, scenario string, args ...string) *sippProc {
	t.Helper()
	port := freePorts(t, 4) // SIP, and media on port+2
	csv := writeUsersCSV(t, dir, fmt.Sprintf("%s-%d.csv", u.name, port), u)
	reg := runSIPp(t, sippOptions{
		name:     fmt.Sprintf("register-%s-%d", u.name, port),
		scenario: "register_auth.xml",
		remote:   srv.run.SIPUDP,
		port:     port,
		args:     []string{"-inf", csv, "-key", "expires", "300", "-m", "1"},
	})
	reg.expect(t, 1)
	return startSIPp(t, sippOptions{
		name:     fmt.Sprintf("%s-%d", strings.TrimSuffix(scenario, ".xml"), port),
		scenario: scenario,
		port:     port,
		args:     args,
	})
}

// writeUsersCSV writes a SIPp injection file in the format of
// test/sipp/register_auth.xml, with 127.0.0.1 as the users' domain.
func writeUsersCSV(t *testing.T, dir, name string, users ...user) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%s;[authentication username=%s password=%s];127.0.0.1\n", u.name, u.name, u.password)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sippOptions describe one SIPp run.
type sippOptions struct {
	name     string // names the trace files and log lines
	scenario string // file in test/sipp
	remote   string // host:port to send to; empty for a server scenario
	port     int    // local SIP port; 0 picks a free one
	timeout  time.Duration
	args     []string
	workDir  string // SIPp's working directory (rtp_stream files); empty: inherited
}

// sippResult is what a finished SIPp run reports.
type sippResult struct {
	name       string
	exitCode   int
	successful int
	failed     int
	output     string // screen output and error log
	messages   string // every message sent and received (-trace_msg)
}

// expect fails the test unless SIPp exited with status 0 (every call
// succeeded) and counted successful calls and no failed ones.
func (r sippResult) expect(t *testing.T, successful int) {
	t.Helper()
	if r.exitCode != 0 || r.successful != successful || r.failed != 0 {
		t.Errorf("sipp %s: exit %d, %d successful, %d failed calls; want exit 0, %d successful, 0 failed\n%s\nmessages (last 6000 bytes):\n%s",
			r.name, r.exitCode, r.successful, r.failed, successful, r.output, lastBytes(r.messages, 6000))
	}
}

// sippProc is a SIPp process running in the background.
type sippProc struct {
	opts   sippOptions
	dir    string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
	result sippResult
}

// startSIPp starts SIPp with a scenario of test/sipp, bounded by
// -timeout (the run fails if it is reached) and by a kill 15 s later.
func startSIPp(t *testing.T, opts sippOptions) *sippProc {
	t.Helper()
	if opts.timeout == 0 {
		opts.timeout = 30 * time.Second
	}
	if opts.port == 0 {
		opts.port = freePorts(t, 4)
	}
	p := &sippProc{opts: opts, dir: filepath.Join(t.TempDir(), opts.name), done: make(chan struct{})}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var args []string
	if opts.remote != "" {
		args = append(args, opts.remote)
	}
	args = append(args,
		"-sf", filepath.Join(repoRoot(t), "test", "sipp", opts.scenario),
		"-i", "127.0.0.1",
		"-p", strconv.Itoa(opts.port),
		"-mp", strconv.Itoa(opts.port+2),
		"-nostdin",
		"-timeout", fmt.Sprintf("%ds", int(opts.timeout.Seconds())),
		"-timeout_error",
		"-trace_stat", "-stf", filepath.Join(p.dir, "stat.csv"), "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(p.dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(p.dir, "messages.log"),
	)
	args = append(args, opts.args...)

	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout+15*time.Second)
	p.cancel = cancel
	p.cmd = exec.CommandContext(ctx, "sipp", args...)
	p.cmd.Dir = opts.workDir
	out, err := os.Create(filepath.Join(p.dir, "screen.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		_ = out.Close()
		cancel()
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		err := p.cmd.Wait()
		_ = out.Close()
		p.result = p.collect(err)
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cancel()
		<-p.done
	})
	return p
}

// wait waits for SIPp to exit and returns its result.
func (p *sippProc) wait(t *testing.T) sippResult {
	t.Helper()
	<-p.done
	return p.result
}

// kill stops SIPp now.
func (p *sippProc) kill() { p.cancel() }

// runSIPp runs SIPp to completion.
func runSIPp(t *testing.T, opts sippOptions) sippResult {
	t.Helper()
	return startSIPp(t, opts).wait(t)
}

func (p *sippProc) collect(waitErr error) sippResult {
	r := sippResult{name: p.opts.name, exitCode: -1}
	var exit *exec.ExitError
	switch {
	case waitErr == nil:
		r.exitCode = 0
	case errors.As(waitErr, &exit):
		r.exitCode = exit.ExitCode()
	}
	screen, _ := os.ReadFile(filepath.Join(p.dir, "screen.log"))
	errs, _ := os.ReadFile(filepath.Join(p.dir, "errors.log"))
	msgs, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	r.messages = string(msgs)
	r.output = fmt.Sprintf("screen (last 3000 bytes):\n%s\nerrors:\n%s", lastBytes(string(screen), 3000), lastBytes(string(errs), 3000))
	stats, err := readSIPpStats(filepath.Join(p.dir, "stat.csv"))
	if err != nil {
		r.output += fmt.Sprintf("\nstatistics: %v", err)
		r.failed = -1
		return r
	}
	r.successful, r.failed = stats["SuccessfulCall(C)"], stats["FailedCall(C)"]
	return r
}

// errNoStats means SIPp left no statistics (it died before its first dump).
var errNoStats = errors.New("no statistics")

// readSIPpStats returns the cumulative counters of the last line of a
// -trace_stat file: semicolon-separated, with a header line of names.
func readSIPpStats(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%w in %s", errNoStats, path)
	}
	names := strings.Split(strings.TrimSpace(lines[0]), ";")
	values := strings.Split(strings.TrimSpace(lines[len(lines)-1]), ";")
	stats := make(map[string]int)
	for i, n := range names {
		if i >= len(values) || !strings.HasSuffix(n, "(C)") {
			continue
		}
		if v, err := strconv.Atoi(values[i]); err == nil {
			stats[n] = v
		}
	}
	if _, ok := stats["SuccessfulCall(C)"]; !ok {
		return nil, fmt.Errorf("%w: no SuccessfulCall(C) column in %s", errNoStats, path)
	}
	return stats, nil
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
