package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBaresipCallThroughParley registers two baresip user agents with
// digest authentication, has alice call bob through Parley's proxy, and
// checks that each side heard the other's tone: alice's microphone is a
// 700 Hz WAV, bob's a 1300 Hz one, and baresip records what it decodes.
func TestBaresipCallThroughParley(t *testing.T) {
	requireTools(t, "baresip", "sox")
	srv := startParley(t, serverOptions{})
	srv.addUsers(t,
		user{name: "alice", password: "alice-Secret-7", extension: "1001", display: "Alice"},
		user{name: "bob", password: "bob-Secret-8", extension: "1002", display: "Bob"},
	)
	const aliceHz, bobHz = 700, 1300
	work := t.TempDir()
	alice := startBaresip(t, "alice", srv.run.SIPUDP, "alice-Secret-7", makeTone(t, work, "alice", aliceHz))
	bob := startBaresip(t, "bob", srv.run.SIPUDP, "bob-Secret-8", makeTone(t, work, "bob", bobHz))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice.waitRegistered(ctx, t)
	bob.waitRegistered(ctx, t)

	_, port := srv.sipHostPort(t)
	if _, err := alice.ctrl.command(ctx, "dial", "sip:bob@127.0.0.1:"+port); err != nil {
		t.Fatalf("alice dial: %v", err)
	}
	if err := alice.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := bob.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 5*time.Second); err != nil {
		t.Fatalf("bob: %v", err)
	}

	time.Sleep(4 * time.Second) // let audio flow both ways

	if _, err := alice.ctrl.command(ctx, "hangup", ""); err != nil {
		t.Fatalf("alice hangup: %v", err)
	}
	for _, c := range []*baresipClient{alice, bob} {
		if err := c.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
			t.Fatalf("%s: %v (the BYE did not make it through the proxy?)", c.name, err)
		}
	}
	// Stopping baresip closes the recordings' WAV files.
	alice.stop(t)
	bob.stop(t)

	checkHeard(t, bob, aliceHz, bobHz)
	checkHeard(t, alice, bobHz, aliceHz)
}

// checkHeard fails the test unless c's recording of what it decoded is at
// least 2 s of audio dominated by want and free of unwanted (its own tone,
// which would mean media looped back or streams were crossed).
func checkHeard(t *testing.T, c *baresipClient, want, unwanted float64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.recDir, "dump-*-dec.wav"))
	if len(files) != 1 {
		t.Errorf("%s: %d decoded recordings in %s, want 1: %v", c.name, len(files), c.recDir, files)
		return
	}
	a, err := readWAV(files[0])
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	r := analyzeTone(a, want, unwanted)
	t.Logf("%s heard: %v", c.name, r)
	if r.blocks < 20 || r.toneShare < 0.9 || r.wrongMax > 0.05 {
		t.Errorf("%s did not hear %v Hz clearly: %v; want at least 20 blocks, 90%% dominated, unwanted below 5%%",
			c.name, want, r)
	}
}

// makeTone writes seconds of a sine at hz Hz as 8 kHz mono 16-bit WAV,
// the only format baresip's aufile source takes.
func makeTone(t *testing.T, dir, name string, hz int) string {
	t.Helper()
	path := filepath.Join(dir, name+".wav")
	out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
		path, "synth", "30", "sine", strconv.Itoa(hz), "vol", "0.5").CombinedOutput()
	if err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	return path
}

// baresipClient is one baresip process with its own configuration
// directory, driven through the ctrl_tcp module.
type baresipClient struct {
	name    string
	dir     string
	recDir  string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	ctrl    *ctrlConn
	stopped sync.Once
}

// startBaresip starts a baresip whose account is sip:NAME@127.0.0.1 at the
// registrar server (host:port), with password and a WAV file as its
// microphone. It answers calls automatically.
func startBaresip(t *testing.T, name, server, password, sourceWAV string) *baresipClient {
	t.Helper()
	return startBaresipWith(t, name, server, password, sourceWAV, baresipOptions{})
}

// baresipOptions vary a baresip from startBaresip's defaults.
type baresipOptions struct {
	// SRTP offers SDES-SRTP only (baresip's srtp module,
	// mediaenc=srtp-mand: RTP/SAVP with a=crypto).
	SRTP bool
	// Manual rings until told to answer, instead of answering at once.
	Manual bool
	// NoRegister never registers: a "PSTN phone" that calls a gateway
	// port directly, with name as its number.
	NoRegister bool
	// Domain, when set, makes the account sip:NAME@Domain with the
	// server as its outbound proxy (RFC 3261 §8.1.2), as an enterprise
	// phone is set up: every request, to any domain URI, goes through
	// Parley.
	Domain string
}

// startBaresipWith is startBaresip with options.
func startBaresipWith(t *testing.T, name, server, password, sourceWAV string, opts baresipOptions) *baresipClient {
	t.Helper()
	// SIP on base (and base+1, which baresip takes for TLS), ctrl_tcp on
	// base+2, RTP and RTCP in [base+4, base+12).
	base := freePorts(t, 12)
	c := &baresipClient{
		name: name,
		dir:  filepath.Join(t.TempDir(), name),
		done: make(chan struct{}),
	}
	c.recDir = filepath.Join(c.dir, "rec")
	c.logPath = filepath.Join(c.dir, "baresip.log")
	if err := os.MkdirAll(c.recDir, 0o700); err != nil {
		t.Fatal(err)
	}
	config := strings.Join([]string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", base),
		"dns_server 127.0.0.1:53", // no lookup leaves the machine
		"audio_source aufile," + sourceWAV,
		"audio_player aubridge,nil",
		"ausrc_srate 8000",
		"auplay_srate 8000",
		"ausrc_channels 1",
		"auplay_channels 1",
		fmt.Sprintf("rtp_ports %d-%d", base+4, base+11),
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module aufile.so",
		"module aubridge.so",
		"module sndfile.so",
		"module srtp.so",
		"module_app account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		fmt.Sprintf("ctrl_tcp_listen 127.0.0.1:%d", base+2),
		"snd_path " + c.recDir,
		"",
	}, "\n")
	answer, enc := "auto", ""
	if opts.Manual {
		answer = "manual"
	}
	if opts.SRTP {
		enc = ";mediaenc=srtp-mand"
	}
	regint := 300
	if opts.NoRegister {
		regint = 0
	}
	account := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_pass=%s;regint=%d;answermode=%s;audio_codecs=PCMU;ptime=20%s\n",
		name, server, password, regint, answer, enc)
	if opts.Domain != "" {
		account = fmt.Sprintf("<sip:%s@%s>;outbound=\"sip:%s;transport=udp\";auth_pass=%s;regint=%d;answermode=%s;audio_codecs=PCMU;ptime=20%s\n",
			name, opts.Domain, server, password, regint, answer, enc)
	}
	files := map[string]string{
		"config":   config,
		"accounts": account,
		// No trailing newline: it would end up in +sip.instance.
		"uuid": fmt.Sprintf("6a7d0e42-8c1b-4f4e-9d3a-%012d", base),
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(c.dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	logFile, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("baresip", "-f", c.dir, "-n", "127.0.0.1")
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	if err := c.cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start baresip: %v", err)
	}
	go func() {
		_ = c.cmd.Wait()
		_ = logFile.Close()
		close(c.done)
	}()
	t.Cleanup(func() { c.stop(t) })

	// ctrl_tcp serves one client; connect before anything happens so that
	// no event is lost.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", base+2))
		if err == nil {
			c.ctrl = newCtrlConn(conn)
			break
		}
		select {
		case <-c.done:
			t.Fatalf("baresip %s exited at start:\n%s", name, c.logTail(20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s ctrl_tcp not reachable: %v", name, err)
		}
	}
	return c
}

// ansi matches the terminal color sequences baresip puts in its output.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// waitRegistered polls the registration state until the account is
// registered, failing the test if registration fails, at ctx's end, or
// after 15 s.
func (c *baresipClient) waitRegistered(ctx context.Context, t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var last string
	for {
		res, err := c.ctrl.command(ctx, "reginfo", "")
		if err == nil {
			last = ansi.ReplaceAllString(res.Data, "")
			if strings.Contains(last, " OK ") {
				return
			}
			// The registrar refused it, or baresip could not answer the
			// challenge: its log (shown at the end) says why.
			if strings.Contains(last, " ERR ") {
				t.Fatalf("baresip %s failed to register:%s", c.name, last)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("baresip %s not registered: %v\nreginfo: %s", c.name, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop ends baresip with SIGTERM (it unregisters and closes its files),
// killing it if it lingers.
func (c *baresipClient) stop(t *testing.T) {
	t.Helper()
	c.stopped.Do(func() {
		if c.ctrl != nil {
			_ = c.ctrl.conn.Close()
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("baresip %s log (last lines):\n%s", c.name, c.logTail(40))
		}
	})
}

func (c *baresipClient) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	// baresip rewrites its status line with \r; keep the lines readable.
	lines := strings.Split(strings.ReplaceAll(ansi.ReplaceAllString(string(b), ""), "\r", "\n"), "\n")
	var kept []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && !strings.Contains(l, "audio=") {
			kept = append(kept, l)
		}
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	return strings.Join(kept, "\n")
}

// ctrlMessage is a response or an event from baresip's ctrl_tcp module.
type ctrlMessage struct {
	Event    bool   `json:"event"`
	Type     string `json:"type"`
	Class    string `json:"class"`
	Param    string `json:"param"`
	PeerURI  string `json:"peeruri"`
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// ctrlConn is a ctrl_tcp client: netstring-framed JSON both ways. A reader
// goroutine sorts what arrives into responses and events.
type ctrlConn struct {
	conn      net.Conn
	mu        sync.Mutex // one command at a time
	next      int
	responses chan ctrlMessage
	events    chan ctrlMessage
	readErr   chan error
}

func newCtrlConn(conn net.Conn) *ctrlConn {
	c := &ctrlConn{
		conn:      conn,
		responses: make(chan ctrlMessage, 16),
		events:    make(chan ctrlMessage, 256),
		readErr:   make(chan error, 1),
	}
	go c.read()
	return c
}

func (c *ctrlConn) read() {
	r := bufio.NewReader(c.conn)
	for {
		b, err := readNetstring(r)
		if err != nil {
			c.readErr <- err
			close(c.events)
			return
		}
		var m ctrlMessage
		if err := json.Unmarshal(b, &m); err != nil {
			continue // not ours to judge; baresip only sends JSON
		}
		switch {
		case m.Response:
			c.responses <- m
		case m.Event:
			select {
			case c.events <- m:
			default: // nobody is waiting for the flood of RTCP events
			}
		}
	}
}

// errNetstring reports a malformed netstring from baresip.
var errNetstring = errors.New("malformed netstring")

// readNetstring reads one "LEN:BYTES," frame.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("%w: length %q", errNetstring, head)
	}
	b := make([]byte, n+1)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	if b[n] != ',' {
		return nil, fmt.Errorf("%w: no trailing comma", errNetstring)
	}
	return b[:n], nil
}

// command sends a command and waits for its response.
func (c *ctrlConn) command(ctx context.Context, cmd, params string) (ctrlMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	token := fmt.Sprintf("t%d", c.next)
	body, err := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	if err != nil {
		return ctrlMessage{}, err
	}
	if _, err := fmt.Fprintf(c.conn, "%d:%s,", len(body), body); err != nil {
		return ctrlMessage{}, fmt.Errorf("send %s: %w", cmd, err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-c.responses:
			if m.Token != token {
				continue // a late answer to an abandoned command
			}
			if !m.OK {
				return m, fmt.Errorf("%s %s: %s", cmd, params, m.Data)
			}
			return m, nil
		case <-timeout:
			return ctrlMessage{}, fmt.Errorf("%s: no response in 5s", cmd)
		case <-ctx.Done():
			return ctrlMessage{}, ctx.Err()
		}
	}
}

// waitEvent waits for an event of the given type, listing what came
// instead if it does not arrive in time.
func (c *ctrlConn) waitEvent(ctx context.Context, typ string, timeout time.Duration) error {
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				var err error
				select {
				case err = <-c.readErr:
				default:
				}
				return fmt.Errorf("waiting for %s: ctrl connection closed (%w); events: %v", typ, err, seen)
			}
			if m.Type == typ {
				return nil
			}
			if m.Type != "CALL_RTCP" {
				seen = append(seen, m.Type+" "+m.Param)
			}
		case <-deadline:
			return fmt.Errorf("no %s event in %v; events: %v", typ, timeout, seen)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
