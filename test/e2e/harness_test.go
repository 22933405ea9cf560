package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness. They bound every wait, so a broken server fails
// a test instead of hanging it.
const (
	buildTimeout = 5 * time.Minute
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	cliTimeout   = 30 * time.Second
)

// build holds the parley binary, built once per `go test` run on first use,
// so that tests skipped for a missing tool do not pay for a build.
var build struct {
	once sync.Once
	dir  string // temporary directory holding the binary; removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// repoRoot returns the module root: the nearest parent of the working
// directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// parleyBinary builds ./cmd/parley (once) and returns its path, or the
// binary PARLEY_BIN names (to test a release build).
func parleyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("PARLEY_BIN"); bin != "" {
		return bin
	}
	root := repoRoot(t)
	build.once.Do(func() {
		// Not t.TempDir: the binary outlives the test that builds it.
		build.dir, build.err = os.MkdirTemp("", "parley-e2e-bin-") //nolint:usetesting // removed by TestMain
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "parley")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.path, "./cmd/parley")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/parley: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// requireTools skips the test when one of the named programs is not on
// PATH, or fails it when PARLEY_E2E=1 says the environment must have them.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("required program(s) not installed: %s (Debian: apt-get install sip-tester baresip-core sox)",
		strings.Join(missing, ", "))
	if os.Getenv("PARLEY_E2E") == "1" {
		t.Fatal(msg + "; PARLEY_E2E=1 makes this a failure")
	}
	t.Skip(msg)
}

// freePorts returns the first of n consecutive loopback ports that are free
// for both UDP and TCP (SIP listens on both; baresip also takes port+1).
// The ports are released before returning, so a race with another process
// is possible but unlikely: the range 20000-32767 is below Linux's
// ephemeral range, which outgoing connections use.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + rand.IntN(12000-n)
		if portsFree(base, n) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free loopback ports", n)
	return 0
}

func portsFree(base, n int) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for p := base; p < base+n; p++ {
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, l.Close)
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u.Close)
	}
	return true
}

// serverOptions are the parts of a Parley configuration a test chooses.
type serverOptions struct {
	domain string // primary SIP domain; "parley.test" when empty
	// gateways lists the addresses the Mediation Server takes calls
	// from; empty takes loopback.
	gateways []string
	// registerChallenge is sip.register_challenge: "proxy" (407) for
	// clients that answer no other (Pidgin SIPE); empty keeps the default.
	registerChallenge string
}

// runInfo is DIR/run.json, written by `parley serve` once it is ready.
type runInfo struct {
	AdminURL string `json:"admin_url"`
	SIPUDP   string `json:"sip_udp"`
	SIPTCP   string `json:"sip_tcp"`
	SIPTLS   string `json:"sip_tls"`
	PID      int    `json:"pid"`
}

// parleyServer is one running `parley serve`.
type parleyServer struct {
	bin     string
	dataDir string
	domain  string
	logPath string
	// mediation is the Mediation Server's gateway-facing address (UDP
	// and TCP), chosen free like the other ports.
	mediation string
	run       runInfo
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
	waitErr   error         // valid after done is closed
}

// startParley starts `parley serve` on free loopback ports and waits until
// it has written run.json. The server is stopped with SIGTERM when the test
// ends, and must exit cleanly; its log is shown if the test failed.
func startParley(t *testing.T, opts serverOptions) *parleyServer {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	bin := parleyBinary(t)
	if opts.domain == "" {
		opts.domain = "parley.test"
	}
	work := t.TempDir()
	s := &parleyServer{
		bin:     bin,
		dataDir: filepath.Join(work, "data"),
		domain:  opts.domain,
		logPath: filepath.Join(work, "parley.log"),
		done:    make(chan struct{}),
	}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}

	// The production settings: authentication on, SQLite under the data
	// directory. No TLS: none of the clients here speaks it.
	sipPort := freePorts(t, 1)
	webPort := freePorts(t, 1)
	medPort := freePorts(t, 1)
	s.mediation = fmt.Sprintf("127.0.0.1:%d", medPort)
	challenge := ""
	if opts.registerChallenge != "" {
		challenge = "  register_challenge: " + opts.registerChallenge
	}
	cfg := fmt.Sprintf(`domain: %s
sip:
  listen: 127.0.0.1:%d
  tls_listen: ""
  authenticate: true
%s
web:
  listen: 127.0.0.1:%d
mediation:
  listen: %s
  gateways: [%s]
attendant:
  listen: 127.0.0.1:0
announcement:
  listen: 127.0.0.1:0
database:
  dsn: ""
log:
  level: info
`, opts.domain, sipPort, challenge, webPort, s.mediation, strings.Join(opts.gateways, ", "))
	cfgPath := filepath.Join(work, "parley.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "serve", "--data", s.dataDir, "--config", cfgPath)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start parley: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		_ = logFile.Close()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })

	if err := s.waitReady(); err != nil {
		t.Fatalf("parley serve did not become ready: %v\n%s", err, s.logTail(60))
	}
	t.Logf("parley serve: pid %d, SIP udp %s tcp %s, admin %s", s.run.PID, s.run.SIPUDP, s.run.SIPTCP, s.run.AdminURL)
	return s
}

// waitReady waits for run.json, failing early if the process exits.
func (s *parleyServer) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	path := filepath.Join(s.dataDir, "run.json")
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("process exited: %w", s.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var ri runInfo
		if err := json.Unmarshal(b, &ri); err != nil {
			continue // written but not complete yet
		}
		if ri.SIPUDP == "" || ri.SIPTCP == "" {
			return fmt.Errorf("run.json lacks sip_udp or sip_tcp: %s", b)
		}
		if ri.PID != s.cmd.Process.Pid {
			return fmt.Errorf("run.json pid %d, want %d", ri.PID, s.cmd.Process.Pid)
		}
		s.run = ri
		return nil
	}
	return fmt.Errorf("no run.json after %v", readyTimeout)
}

// alive reports whether the server process is still running.
func (s *parleyServer) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits; the server must exit with status 0 within
// stopTimeout (it is killed otherwise). The log is shown if the test failed.
func (s *parleyServer) stop(t *testing.T) {
	t.Helper()
	if s.alive() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("SIGTERM parley: %v", err)
		}
		select {
		case <-s.done:
			if s.waitErr != nil {
				t.Errorf("parley serve did not stop cleanly on SIGTERM: %v", s.waitErr)
			}
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
			t.Errorf("parley serve still running %v after SIGTERM; killed", stopTimeout)
		}
	} else {
		t.Errorf("parley serve exited before the end of the test: %v", s.waitErr)
	}
	if t.Failed() {
		t.Logf("parley log (last lines):\n%s", s.logTail(150))
	}
}

// logTail returns the last n lines of the server's output.
func (s *parleyServer) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logContains reports whether the server's output so far contains s.
func (s *parleyServer) logContains(sub string) bool {
	f, err := os.Open(s.logPath)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(sub)) {
			return true
		}
	}
	return false
}

// cli runs `parley ARGS... --data DIR` against the running server and
// returns its standard output; a non-zero exit fails the test.
func (s *parleyServer) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	full := append(append([]string(nil), args...), "--data", s.dataDir)
	cmd := exec.CommandContext(ctx, s.bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// user is a directory user the tests create through the CLI.
type user struct {
	name      string // user part of the SIP URI
	password  string
	extension string
	display   string
}

// addUsers creates users sip:NAME@<primary domain> through the admin CLI.
func (s *parleyServer) addUsers(t *testing.T, users ...user) {
	t.Helper()
	for _, u := range users {
		args := []string{"user", "add", "sip:" + u.name + "@" + s.domain, "--password", u.password}
		if u.extension != "" {
			args = append(args, "--extension", u.extension)
		}
		if u.display != "" {
			args = append(args, "--display-name", u.display)
		}
		s.cli(t, args...)
	}
}

// sipHostPort splits the server's UDP SIP address.
func (s *parleyServer) sipHostPort(t *testing.T) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(s.run.SIPUDP)
	if err != nil {
		t.Fatalf("run.json sip_udp %q: %v", s.run.SIPUDP, err)
	}
	return host, port
}
