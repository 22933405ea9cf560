package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Pidgin SIPE (Debian pidgin-sipe 1.25.0) is a real Office Communications
// Server client: the issue 5 interoperability proof. It runs headless as
// reference/real-clients.md describes: finch (libpurple's text UI) in a
// detached tmux, with a prepared ~/.purple, on a private D-Bus session bus
// through which the test drives libpurple and SIPE's own D-Bus methods.
// What SIPE sends and expects is in reference/protocols.md §3.

// sipeUser is a directory user who signs in with SIPE.
type sipeUser struct {
	user
	// uri is sip:NAME@DOMAIN, filled in by startSIPE.
	uri string
	// addressLogin leaves SIPE's login empty, as most users do: SIPE then
	// sends the whole address as the digest username ("bob@parley.test").
	addressLogin bool
}

// sipeClient is one SIPE account in its own finch process.
type sipeClient struct {
	name    string
	home    string
	bus     string // D-Bus address
	tmux    string // tmux socket name
	debug   string // finch -d output: libpurple and SIPE debug, SIP on the wire
	account int
}

// sipePlugin is where Debian installs SIPE's libpurple plugin.
var sipePlugins = []string{"/usr/lib/purple-2/libsipe.so", "/usr/lib/x86_64-linux-gnu/purple-2/libsipe.so"}

// requireSIPE skips (or, with PARLEY_E2E=1, fails) a test that needs
// Pidgin SIPE and its headless tooling, and returns the LD_PRELOAD shim it
// needs on this libxml2 (testdata/sipe/saxshim.c), built into the test's
// temporary directory.
func requireSIPE(t *testing.T) string {
	t.Helper()
	requireTools(t, "finch", "tmux", "dbus-daemon", "dbus-send", "gcc", "pkg-config")
	found := false
	for _, p := range sipePlugins {
		if _, err := os.Stat(p); err == nil {
			found = true
		}
	}
	if !found {
		msg := "Pidgin SIPE is not installed (Debian: apt-get install pidgin-sipe finch libpurple-bin dbus tmux libxml2-dev)"
		if os.Getenv("PARLEY_E2E") == "1" {
			t.Fatal(msg + "; PARLEY_E2E=1 makes this a failure")
		}
		t.Skip(msg)
	}
	src := filepath.Join(repoRoot(t), "test", "e2e", "testdata", "sipe", "saxshim.c")
	out := filepath.Join(t.TempDir(), "libsaxshim.so")
	cflags, err := exec.Command("pkg-config", "--cflags", "libxml-2.0").Output()
	if err != nil {
		t.Fatalf("pkg-config libxml-2.0 (Debian: libxml2-dev): %v", err)
	}
	args := append([]string{"-shared", "-fPIC", "-o", out, src}, strings.Fields(string(cflags))...)
	if b, err := exec.Command("gcc", append(args, "-ldl")...).CombinedOutput(); err != nil {
		t.Fatalf("building the SAX shim: %v\n%s", err, b)
	}
	return out
}

// startSIPE starts finch with one SIPE account for u, signing in to the
// server's TCP listener, and waits until the account is connected.
func startSIPE(ctx context.Context, t *testing.T, srv *parleyServer, u *sipeUser, shim string) *sipeClient {
	t.Helper()
	u.uri = "sip:" + u.name + "@" + srv.domain
	dir := t.TempDir()
	c := &sipeClient{
		name:  u.name,
		home:  filepath.Join(dir, "home"),
		bus:   "unix:path=" + filepath.Join(dir, "bus"),
		tmux:  fmt.Sprintf("parley-sipe-%d-%s", os.Getpid(), u.name),
		debug: filepath.Join(dir, "finch.debug"),
	}
	purple := filepath.Join(c.home, ".purple")
	if err := os.MkdirAll(purple, 0o700); err != nil {
		t.Fatal(err)
	}
	// The account: "SIGN-IN[,LOGIN]" (SIPE's user name field), the server
	// given explicitly (no DNS discovery), TCP. SIPE answers only a 407
	// Digest challenge (protocols.md §3.4), which the server is set to give.
	account := u.name + "@" + srv.domain + "," + u.name
	if u.addressLogin {
		account = u.name + "@" + srv.domain
	}
	accounts := fmt.Sprintf(`<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-sipe</protocol>
  <name>%s</name>
  <password>%s</password>
  <settings>
   <setting name='server' type='string'>%s</setting>
   <setting name='transport' type='string'>tcp</setting>
  </settings>
  <settings ui='gnt-purple'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
`, account, u.password, srv.run.SIPTCP)
	// Chat logs are how the test sees what the user was shown.
	prefs := `<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='logging'>
   <pref name='log_ims' type='bool' value='1'/>
   <pref name='log_chats' type='bool' value='1'/>
   <pref name='format' type='string' value='txt'/>
  </pref>
 </pref>
</pref>
`
	for name, body := range map[string]string{"accounts.xml": accounts, "prefs.xml": prefs} {
		if err := os.WriteFile(filepath.Join(purple, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	daemon := exec.Command("dbus-daemon", "--session", "--address="+c.bus, "--nofork", "--nopidfile")
	if err := daemon.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })

	// PURPLE_UNSAFE_DEBUG makes SIPE log whole SIP messages: the test
	// reads the wire from there, and it is shown when the test fails.
	finch := fmt.Sprintf("exec env HOME=%s DBUS_SESSION_BUS_ADDRESS=%s PURPLE_UNSAFE_DEBUG=1 LD_PRELOAD=%s finch -d 2>%s",
		shellQuote(c.home), shellQuote(c.bus), shellQuote(shim), shellQuote(c.debug))
	if b, err := exec.Command("tmux", "-L", c.tmux, "new-session", "-d", "-x", "160", "-y", "48", finch).CombinedOutput(); err != nil {
		t.Fatalf("tmux finch: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-L", c.tmux, "kill-server").Run()
		if t.Failed() {
			t.Logf("SIPE %s, last lines of finch -d:\n%s", c.name, c.tail(120))
		}
	})

	// The account appears on the bus once finch has loaded it, and
	// connects once SIPE has registered.
	err := waitUntil(ctx, 30*time.Second, func() bool {
		ids, err := c.ints("PurpleAccountsGetAllActive")
		if err != nil || len(ids) == 0 {
			return false
		}
		c.account = ids[0]
		on, err := c.ints("PurpleAccountIsConnected", "int32:"+strconv.Itoa(c.account))
		return err == nil && len(on) == 1 && on[0] == 1
	})
	if err != nil {
		t.Fatalf("SIPE %s did not connect: %v\n%s", u.name, err, c.tail(80))
	}
	return c
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// call invokes a libpurple (or SIPE) D-Bus method and returns the reply.
func (c *sipeClient) call(method string, args ...string) (string, error) {
	full := append([]string{"--bus=" + c.bus, "--print-reply", "--reply-timeout=5000",
		"--dest=im.pidgin.purple.PurpleService", "/im/pidgin/purple/PurpleObject",
		"im.pidgin.purple.PurpleInterface." + method}, args...)
	out, err := exec.Command("dbus-send", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("dbus-send %s: %w: %s", method, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

var dbusInt = regexp.MustCompile(`int32 (-?\d+)`)

// ints is call for methods that answer int32 values (or an array of them).
func (c *sipeClient) ints(method string, args ...string) ([]int, error) {
	out, err := c.call(method, args...)
	if err != nil {
		return nil, err
	}
	var v []int
	for _, m := range dbusInt.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		v = append(v, n)
	}
	return v, nil
}

// join asks SIPE to join the conference at the focus URI, as a user does
// from a meeting invitation.
func (c *sipeClient) join(t *testing.T, focusURI string) {
	t.Helper()
	if _, err := c.call("SipeJoinConferenceWithUri", "int32:"+strconv.Itoa(c.account), "string:"+focusURI); err != nil {
		t.Fatal(err)
	}
}

// chat returns the libpurple chat of the conference SIPE joined (SIPE
// opens one per conference once the IM MCU has taken it), or 0.
func (c *sipeClient) chat() int {
	convs, err := c.ints("PurpleGetChats")
	if err != nil || len(convs) == 0 {
		return 0
	}
	chat, err := c.ints("PurpleConversationGetChatData", "int32:"+strconv.Itoa(convs[0]))
	if err != nil || len(chat) != 1 {
		return 0
	}
	return chat[0]
}

// inChat reports whether the conference chat lists uri among its users:
// SIPE adds a participant there when the roster shows him at the IM MCU.
func (c *sipeClient) inChat(uri string) bool {
	chat := c.chat()
	if chat == 0 {
		return false
	}
	v, err := c.ints("PurpleConvChatFindUser", "int32:"+strconv.Itoa(chat), "string:"+uri)
	return err == nil && len(v) == 1 && v[0] != 0
}

// say sends text to the conference chat.
func (c *sipeClient) say(t *testing.T, text string) {
	t.Helper()
	chat := c.chat()
	if chat == 0 {
		t.Fatalf("SIPE %s has no conference chat", c.name)
	}
	if _, err := c.call("PurpleConvChatSend", "int32:"+strconv.Itoa(chat), "string:"+text); err != nil {
		t.Fatal(err)
	}
}

// chatLog returns everything libpurple logged of the user's chats: what
// the user was shown, with who said it.
func (c *sipeClient) chatLog() string {
	var b strings.Builder
	_ = filepath.WalkDir(filepath.Join(c.home, ".purple", "logs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, ".chat") {
			if data, err := os.ReadFile(p); err == nil {
				b.Write(data)
			}
		}
		return nil
	})
	return b.String()
}

// wire returns the finch debug output: SIPE's log with every SIP message.
func (c *sipeClient) wire() string {
	b, _ := os.ReadFile(c.debug)
	return string(b)
}

func (c *sipeClient) tail(n int) string {
	lines := strings.Split(c.wire(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitUntil polls cond every 100 ms until it holds, the timeout passes or
// ctx ends.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestSIPEConference: two Pidgin SIPE users register with Parley (digest
// through a 407; alice's login is "alice", bob's his whole address, SIPE's
// default), read in-band provisioning, ask the Focus Factory for its
// capabilities, join a meeting's Focus, receive the roster, join the IM
// Conferencing Server and exchange group IM, each seeing the other's
// message attributed to him.
func TestSIPEConference(t *testing.T) {
	shim := requireSIPE(t)
	srv := startParley(t, serverOptions{registerChallenge: "proxy"})
	alice := &sipeUser{user: user{name: "alice", password: "Sipe-alice-1", display: "Alice Anderson"}}
	bob := &sipeUser{user: user{name: "bob", password: "Sipe-bob-22", display: "Bob Brown"}, addressLogin: true}
	srv.addUsers(t, alice.user, bob.user)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ca := startSIPE(ctx, t, srv, alice, shim)
	cb := startSIPE(ctx, t, srv, bob, shim)

	if !strings.Contains(cb.wire(), `Proxy-Authorization: Digest username="bob@`+srv.domain+`"`) {
		t.Errorf("bob's SIPE did not sign in with his address as the digest username")
	}

	// Provisioning (vnd-microsoft-provisioning-v2, piggy-backed on the
	// SUBSCRIBE's 200) gave SIPE the focus factory, and SIPE asked it for
	// its conferencing capabilities, which it answered.
	ff := alice.uri + ";gruu;opaque=app:conf:focusfactory"
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		w := ca.wire()
		return strings.Contains(w, "focus_factory_uri="+ff) &&
			regexp.MustCompile(`(?s)<getConferencingCapabilities />.*SIP/2\.0 200 OK.*code="success"><getConferencingCapabilities`).MatchString(w)
	}); err != nil {
		t.Fatalf("SIPE did not read provisioning and capabilities: %v", err)
	}

	out := srv.cli(t, "meeting", "create", "--organizer", alice.uri, "--password", alice.password,
		"--subject", "SIPE interop", "--json")
	var m struct {
		URI string `json:"conference_uri"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.URI == "" {
		t.Fatalf("meeting create: %v: %s", err, out)
	}

	// alice joins (addUser in the INVITE), subscribes and gets the roster:
	// SIPE logs the subject it read from the conference-info document.
	ca.join(t, m.URI)
	if err := waitUntil(ctx, 20*time.Second, func() bool {
		return strings.Contains(ca.wire(), "sipe_process_conference: subject=SIPE interop")
	}); err != nil {
		t.Fatalf("alice's SIPE did not receive the roster: %v", err)
	}
	cb.join(t, m.URI)

	// Each sees the other in the conference chat: the roster's partial
	// updates carried the other's IM MCU endpoint.
	if err := waitUntil(ctx, 20*time.Second, func() bool {
		return ca.inChat(bob.uri) && cb.inChat(alice.uri)
	}); err != nil {
		t.Fatalf("the chat rosters do not list each other (alice sees bob: %v, bob sees alice: %v)",
			ca.inChat(bob.uri), cb.inChat(alice.uri))
	}

	// Group IM both ways through the IM Conferencing Server.
	nonce := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	hello, reply := "hello from alice "+nonce, "hello back from bob "+nonce
	ca.say(t, hello)
	if err := waitUntil(ctx, 15*time.Second, func() bool { return saidBy(cb.chatLog(), hello, alice) }); err != nil {
		t.Fatalf("bob was not shown alice's message: %v\nbob's chat log:\n%s", err, cb.chatLog())
	}
	cb.say(t, reply)
	if err := waitUntil(ctx, 15*time.Second, func() bool { return saidBy(ca.chatLog(), reply, bob) }); err != nil {
		t.Fatalf("alice was not shown bob's message: %v\nalice's chat log:\n%s", err, ca.chatLog())
	}
	t.Logf("alice's chat log:\n%s", ca.chatLog())
}

// saidBy reports whether log has a line showing text said by u (libpurple
// names the sender by his alias or his URI).
func saidBy(log, text string, u *sipeUser) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, text) && (strings.Contains(line, u.uri) || strings.Contains(line, u.display) ||
			strings.Contains(line, u.name+"@")) {
			return true
		}
	}
	return false
}
