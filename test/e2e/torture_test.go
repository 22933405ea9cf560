package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome is what RFC 4475 expects of an element receiving a message.
type outcome int

const (
	// answer: a valid request; the element must process it and answer, and
	// must not call it malformed (400).
	answer outcome = iota
	// refuse: a valid request that cannot succeed; the element must answer
	// with a final 4xx-6xx response.
	refuse
	// reject: an invalid request; the element answers with one of the
	// listed codes (400 unless listed) or drops it, and never accepts it.
	reject
	// either: RFC 4475 lets the element be liberal or reject; only
	// survival is checked.
	either
	// silent: a stray response; nothing may be sent back for it.
	silent
)

// tortureCase is one RFC 4475 message and what the RFC says about it.
type tortureCase struct {
	file    string
	section string
	title   string
	want    outcome
	codes   []int  // answer: the final response must be one of these; reject: the allowed rejections
	method  string // if set, every response must be for this CSeq method
}

// knownDeviations are the RFC 4475 cases Parley still gets wrong, each with
// the reason; the test fails when one starts passing, so this list only
// shrinks. It is empty: wsinv, novelsc and inv2543, which sipgo's parser
// and transaction layer got wrong, are read right since
// sipx.HeaderParsers, RewriteForeignScheme and BranchRFC2543.
var knownDeviations = map[string]string{}

// tortureCases covers every file of the RFC 4475 corpus (the RFC's
// Appendix A archive). The element under test is a registrar and proxy
// authoritative for example.com, the domain most messages use.
var tortureCases = []tortureCase{
	// §3.1.1 Valid messages: parse and process.
	{"wsinv.dat", "3.1.1.1", "A Short Tortuous INVITE", answer, nil, ""},
	{"intmeth.dat", "3.1.1.2", "Wide Range of Valid Characters", answer, nil, ""},
	{"esc01.dat", "3.1.1.3", "Valid Use of the % Escaping Mechanism", answer, nil, ""},
	{"escnull.dat", "3.1.1.4", "Escaped Nulls in URIs", answer, nil, ""},
	{"esc02.dat", "3.1.1.5", "Use of % When It Is Not an Escape", answer, nil, ""},
	{"lwsdisp.dat", "3.1.1.6", "Message with No LWS between Display Name and <", answer, nil, ""},
	{"longreq.dat", "3.1.1.7", "Long Values in Header Fields", answer, nil, ""},
	// The INVITE after the REGISTER in the same datagram is noise to be
	// ignored (RFC 3261 §18.3): only the REGISTER gets an answer.
	{"dblreq.dat", "3.1.1.8", "Extra Trailing Octets in a UDP Datagram", answer, nil, "REGISTER"},
	{"semiuri.dat", "3.1.1.9", "Semicolon-Separated Parameters in URI User Part", answer, nil, ""},
	{"transports.dat", "3.1.1.10", "Varied and Unknown Transport Types", answer, nil, ""},
	{"mpart01.dat", "3.1.1.11", "Multipart MIME Message", answer, nil, ""},
	{"unreason.dat", "3.1.1.12", "Unusual Reason Phrase", silent, nil, ""},
	{"noreason.dat", "3.1.1.13", "Empty Reason Phrase", silent, nil, ""},

	// §3.1.2 Invalid messages: 400 (or the code the RFC names), or dropped.
	{"badinv01.dat", "3.1.2.1", "Extraneous Header Field Separators", reject, nil, ""},
	{"clerr.dat", "3.1.2.2", "Content Length Larger Than Message", reject, nil, ""},
	{"ncl.dat", "3.1.2.3", "Negative Content-Length", reject, nil, ""},
	{"scalar02.dat", "3.1.2.4", "Request Scalar Fields with Overlarge Values", reject, nil, ""},
	{"scalarlg.dat", "3.1.2.5", "Response Scalar Fields with Overlarge Values", silent, nil, ""},
	{"quotbal.dat", "3.1.2.6", "Unterminated Quoted String in Display Name", reject, nil, ""},
	{"ltgtruri.dat", "3.1.2.7", "<> Enclosing Request-URI", reject, nil, ""},
	{"lwsruri.dat", "3.1.2.8", "Malformed SIP Request-URI (embedded LWS)", reject, nil, ""},
	{"lwsstart.dat", "3.1.2.9", "Multiple SP Separating Request-Line Elements", either, nil, ""},
	{"trws.dat", "3.1.2.10", "SP Characters at End of Request-Line", either, nil, ""},
	{"escruri.dat", "3.1.2.11", "Escaped Headers in SIP Request-URI", either, nil, ""},
	{"baddate.dat", "3.1.2.12", "Invalid Time Zone in Date Header Field", either, nil, ""},
	{"regbadct.dat", "3.1.2.13", "Failure to Enclose name-addr URI in <>", either, nil, ""},
	{"badaspec.dat", "3.1.2.14", "Spaces within addr-spec", either, nil, ""},
	{"baddn.dat", "3.1.2.15", "Non-token Characters in Display Name", either, nil, ""},
	{"badvers.dat", "3.1.2.16", "Unknown Protocol Version", reject, []int{505, 400}, ""},
	{"mismatch01.dat", "3.1.2.17", "Start Line and CSeq Method Mismatch", reject, nil, ""},
	{"mismatch02.dat", "3.1.2.18", "Unknown Method with CSeq Method Mismatch", reject, []int{400, 501}, ""},
	{"bigcode.dat", "3.1.2.19", "Overlarge Response Code", silent, nil, ""},

	// §3.2 Transaction layer.
	{"badbranch.dat", "3.2.1", "Missing Transaction Identifier", answer, nil, ""},

	// §3.3 Application layer.
	{"insuf.dat", "3.3.1", "Missing Required Header Fields", reject, nil, ""},
	{"unkscm.dat", "3.3.2", "Request-URI with Unknown Scheme", answer, []int{416}, ""},
	{"novelsc.dat", "3.3.3", "Request-URI with Known but Atypical Scheme", answer, []int{416}, ""},
	{"unksm2.dat", "3.3.4", "Unknown URI Schemes in Header Fields", refuse, nil, ""},
	{"bext01.dat", "3.3.5", "Proxy-Require and Require", answer, []int{420}, ""},
	{"invut.dat", "3.3.6", "Unknown Content-Type", answer, nil, ""},
	// A registrar challenges with a scheme it supports.
	{"regaut01.dat", "3.3.7", "Unknown Authorization Scheme", answer, []int{401}, ""},
	{"multi01.dat", "3.3.8", "Multiple Values in Single Value Required Fields", reject, nil, ""},
	{"mcl01.dat", "3.3.9", "Multiple Content-Length Values", reject, nil, ""},
	{"bcast.dat", "3.3.10", "200 OK Response with Broadcast Via Header Field Value", silent, nil, ""},
	// Not forwarded (RFC 3261 §16.3 step 3); an OPTIONS may be answered.
	{"zeromf.dat", "3.3.11", "Max-Forwards of Zero", answer, []int{483, 200}, ""},
	{"cparam01.dat", "3.3.12", "REGISTER with a Contact Header Parameter", answer, nil, ""},
	{"cparam02.dat", "3.3.13", "REGISTER with a url-parameter", answer, nil, ""},
	{"regescrt.dat", "3.3.14", "REGISTER with a URL Escaped Header", answer, nil, ""},
	{"sdp01.dat", "3.3.15", "Unacceptable Accept Offering", answer, nil, ""},

	// §3.4 Backward compatibility.
	{"inv2543.dat", "3.4.1", "INVITE with RFC 2543 Syntax", answer, nil, ""},

	// Shipped with the corpus, not in the RFC: a Request-Line without its
	// SIP-Version, which RFC 3261 §7.1 requires.
	{"test.dat", "-", "Request-Line without SIP-Version", reject, nil, ""},
}

// judge checks the responses an element sent for a message against what
// RFC 4475 expects; nil means the element behaved.
func (c tortureCase) judge(got []sipResponse) error {
	var final *sipResponse
	for i := range got {
		if got[i].code >= 200 && final == nil {
			final = &got[i]
		}
		if c.method != "" && got[i].method != c.method {
			return fmt.Errorf("answered %v; only the %s may be answered", got[i], c.method)
		}
	}
	switch c.want {
	case answer:
		if len(got) == 0 {
			return fmt.Errorf("no response to a valid message")
		}
		for _, r := range got {
			if r.code == 400 {
				return fmt.Errorf("valid message rejected as malformed: %v", r)
			}
		}
		if c.codes != nil && (final == nil || !slices.Contains(c.codes, final.code)) {
			return fmt.Errorf("got %v; want a final response in %v", got, c.codes)
		}
	case refuse:
		if final == nil || final.code < 400 {
			return fmt.Errorf("got %v; want a final 4xx-6xx refusal", got)
		}
	case reject:
		codes := c.codes
		if codes == nil {
			codes = []int{400}
		}
		for _, r := range got {
			if !slices.Contains(codes, r.code) {
				return fmt.Errorf("invalid message answered %v; want %v or no answer", r, codes)
			}
		}
	case silent:
		if len(got) > 0 {
			return fmt.Errorf("answered a response with %v", got)
		}
	case either:
	}
	return nil
}

// tortureDir finds the RFC 4475 messages: test/e2e/testdata/rfc4475 if the
// repository carries them, else the team's shared copy next to the
// repository.
func tortureDir(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	for _, dir := range []string{
		filepath.Join(root, "test", "e2e", "testdata", "rfc4475"),
		filepath.Join(root, "..", "shared", "testdata", "rfc4475"),
	} {
		if _, err := os.Stat(filepath.Join(dir, "wsinv.dat")); err == nil {
			return dir
		}
	}
	return ""
}

// TestTorture sends every RFC 4475 message to a running server and checks
// each answer against the RFC, then oversized messages and garbage. The
// server must survive all of it: it still answers OPTIONS over UDP and
// TCP, its process is alive, and it logged no panic.
func TestTorture(t *testing.T) {
	srv := startParley(t, serverOptions{domain: "example.com"})

	t.Run("RFC4475", func(t *testing.T) {
		dir := tortureDir(t)
		if dir == "" {
			t.Skip("RFC 4475 messages not found in test/e2e/testdata/rfc4475 or ../shared/testdata/rfc4475")
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.dat"))
		known := make(map[string]bool)
		for _, c := range tortureCases {
			known[c.file] = true
		}
		for _, f := range files {
			if !known[filepath.Base(f)] {
				t.Errorf("%s has no entry in tortureCases; add what RFC 4475 says about it", filepath.Base(f))
			}
		}
		results := sendTortureCases(t, srv, dir)
		for _, c := range tortureCases {
			t.Run(strings.TrimSuffix(c.file, ".dat"), func(t *testing.T) {
				r := results[c.file]
				if r.err != nil {
					t.Fatalf("§%s %s: %v", c.section, c.title, r.err)
				}
				t.Logf("§%s %s (%s): %v", c.section, c.title, r.transport, r.got)
				err := c.judge(r.got)
				why, deviant := knownDeviations[c.file]
				switch {
				case err != nil && deviant:
					t.Logf("§%s %s: known deviation (%s): %v", c.section, c.title, why, err)
				case err != nil:
					t.Errorf("§%s %s: %v", c.section, c.title, err)
				case deviant:
					t.Errorf("§%s %s now behaves as RFC 4475 says; remove it from knownDeviations", c.section, c.title)
				}
			})
		}
	})

	t.Run("OversizedDatagram", func(t *testing.T) { oversizedDatagram(t, srv) })
	t.Run("HugeContentLengthTCP", func(t *testing.T) { hugeContentLength(t, srv) })
	t.Run("Garbage", func(t *testing.T) { garbage(t, srv) })

	// Survival.
	if r, err := pingUDP(srv.run.SIPUDP, 5*time.Second); err != nil {
		t.Errorf("after the torture, OPTIONS over UDP: %v", err)
	} else {
		t.Logf("OPTIONS over UDP after the torture: %v", r)
	}
	if r, err := pingTCP(srv.run.SIPTCP, 5*time.Second); err != nil {
		t.Errorf("after the torture, OPTIONS over TCP: %v", err)
	} else {
		t.Logf("OPTIONS over TCP after the torture: %v", r)
	}
	if !srv.alive() {
		t.Fatalf("parley serve died during the torture test")
	}
	if srv.logContains("panic") {
		t.Errorf("parley logged a panic during the torture test")
	}
}

// tortureResult is what came back for one message.
type tortureResult struct {
	transport string
	got       []sipResponse
	err       error // the test could not send or listen
}

// Waiting times for answers. Responses are judged once a final one has
// arrived and a little more has passed (to catch a second, wrong answer),
// or at the deadline, which leaves a proxy time to give up on a foreign
// domain.
const (
	tortureWait  = 8 * time.Second
	tortureGrace = 500 * time.Millisecond
)

// sendTortureCases sends all messages at once, each from its own socket,
// and collects the answers. A request goes over the transport of its top
// Via (TLS and anything but UDP over TCP), and over UDP from a loopback
// address of its own bound to the Via's port: the server answers a UDP
// request at the source address and the Via port (RFC 3261 §18.2.2), so
// the messages are sent as the RFC has them, with one exception: RFC 4475
// reuses branch values (z9hG4bKkdjuw in 22 messages) because each message
// is a test of its own, so a request whose branch an earlier one used gets
// a suffix on it. Otherwise the server would rightly take it for a
// retransmission of the earlier request's transaction (RFC 3261 §17.2.3).
func sendTortureCases(t *testing.T, srv *parleyServer, dir string) map[string]tortureResult {
	t.Helper()
	results := make(map[string]tortureResult)
	var mu sync.Mutex
	var wg sync.WaitGroup
	net3 := 100 + rand.IntN(100) // 127.net3.x.y: one address per message
	branches := make(map[string]bool)
	for i, c := range tortureCases {
		msg, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			results[c.file] = tortureResult{err: err}
			continue
		}
		v := topVia(msg)
		if c.want != silent && v.branch != "" {
			if branches[v.branch] {
				old := []byte("branch=" + v.branch)
				msg = bytes.Replace(msg, old, append(old, "."+strings.TrimSuffix(c.file, ".dat")...), 1)
			}
			branches[v.branch] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r tortureResult
			if c.want == silent {
				// A response: send it over UDP and listen for anything.
				r = sendUDP(msg, fmt.Sprintf("127.%d.%d.%d", net3, i/200, i%200+1), 0, srv.run.SIPUDP, 2*time.Second)
			} else {
				if v.transport == "UDP" {
					r = sendUDP(msg, fmt.Sprintf("127.%d.%d.%d", net3, i/200, i%200+1), v.port, srv.run.SIPUDP, tortureWait)
				} else {
					r = sendTCP(msg, srv.run.SIPTCP, tortureWait)
				}
			}
			mu.Lock()
			results[c.file] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

func sendUDP(msg []byte, host string, port int, server string, wait time.Duration) tortureResult {
	r := tortureResult{transport: "UDP"}
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		r.err = fmt.Errorf("listen at the Via address: %w", err)
		return r
	}
	defer func() { _ = c.Close() }()
	dst, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		r.err = err
		return r
	}
	if _, err := c.WriteTo(msg, dst); err != nil {
		r.err = err
		return r
	}
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65536)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return r // deadline
		}
		if res, err := parseResponse(buf[:n]); err == nil {
			r.got = append(r.got, res)
			if res.code >= 200 {
				deadline = time.Now().Add(tortureGrace)
			}
		}
	}
}

func sendTCP(msg []byte, server string, wait time.Duration) tortureResult {
	r := tortureResult{transport: "TCP"}
	c, err := net.DialTimeout("tcp", server, 5*time.Second)
	if err != nil {
		r.err = err
		return r
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write(msg); err != nil {
		r.err = err
		return r
	}
	deadline := time.Now().Add(wait)
	var buf []byte
	chunk := make([]byte, 65536)
	for {
		_ = c.SetReadDeadline(deadline)
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		var msgs [][]byte
		msgs, buf = splitStream(buf)
		for _, m := range msgs {
			if res, err := parseResponse(m); err == nil {
				r.got = append(r.got, res)
				if res.code >= 200 {
					deadline = time.Now().Add(tortureGrace)
				}
			}
		}
		if err != nil {
			return r // deadline, or the server closed the connection
		}
	}
}

// oversizedDatagram sends the largest UDP datagram IPv4 carries (65,507
// bytes; a 70 KB one cannot be sent): an OPTIONS whose padding header makes
// it far larger than any SIP message should be over UDP (RFC 3261 §18.1.1).
// The server may answer 513 or drop it; it must not accept it as normal.
func oversizedDatagram(t *testing.T, srv *parleyServer) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	head := optionsRequest(srv.run.SIPUDP, c.LocalAddr().String(), "UDP")
	head = head[:len(head)-len("Content-Length: 0\r\n\r\n")]
	pad := 65507 - len(head) - len("X-Padding: \r\nContent-Length: 0\r\n\r\n")
	msg := append(append(append([]byte(nil), head...), "X-Padding: "...), bytes.Repeat([]byte("x"), pad)...)
	msg = append(msg, "\r\nContent-Length: 0\r\n\r\n"...)
	dst, _ := net.ResolveUDPAddr("udp", srv.run.SIPUDP)
	if _, err := c.WriteTo(msg, dst); err != nil {
		t.Fatalf("send %d-byte datagram: %v", len(msg), err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 65536)
	if n, _, err := c.ReadFrom(buf); err == nil {
		r, err := parseResponse(buf[:n])
		t.Logf("%d-byte datagram answered: %v %v", len(msg), r, err)
	} else {
		t.Logf("%d-byte datagram dropped", len(msg))
	}
}

// hugeContentLength announces a 10 MB body over TCP and streams it. The
// server must refuse it (513 or 400, RFC 3261 §21.5.14) or close the
// connection rather than buffer it, and never accept it.
func hugeContentLength(t *testing.T, srv *parleyServer) {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.run.SIPTCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	const size = 10 << 20
	head := optionsRequest(srv.run.SIPTCP, c.LocalAddr().String(), "TCP")
	head = bytes.Replace(head, []byte("Content-Length: 0\r\n"), []byte(fmt.Sprintf("Content-Type: text/plain\r\nContent-Length: %d\r\n", size)), 1)

	// Read concurrently: the server may answer and close before the body
	// is through.
	answers := make(chan []byte, 1)
	go func() {
		var all []byte
		chunk := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			n, err := c.Read(chunk)
			all = append(all, chunk[:n]...)
			if err != nil {
				answers <- all
				return
			}
		}
	}()
	_ = c.SetWriteDeadline(time.Now().Add(15 * time.Second))
	sent := 0
	if _, err := c.Write(head); err == nil {
		block := bytes.Repeat([]byte("z"), 64<<10)
		for sent < size {
			n, err := c.Write(block)
			sent += n
			if err != nil {
				break
			}
		}
	}
	// Half-close so a server that waits for more data sees the end.
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	got := <-answers
	msgs, _ := splitStream(got)
	t.Logf("streamed %d of %d body bytes; server sent %d message(s)", sent, size, len(msgs))
	for _, m := range msgs {
		r, err := parseResponse(m)
		if err != nil {
			t.Errorf("server sent a non-response: %v", err)
			continue
		}
		t.Logf("answer: %v", r)
		if r.code < 300 {
			t.Errorf("a 10 MB message was accepted: %v; want 513, 400 or the connection closed", r)
		}
	}
}

// garbage throws random bytes, NULs, bare CRLFs and truncated messages at
// both transports.
func garbage(t *testing.T, srv *parleyServer) {
	t.Helper()
	rng := rand.New(rand.NewPCG(4475, 3261))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	valid := optionsRequest(srv.run.SIPUDP, "127.0.0.1:9", "UDP")
	requestLine, _, _ := bytes.Cut(valid, []byte("\r\n"))
	datagrams := [][]byte{
		{},
		[]byte("\r\n\r\n"),
		bytes.Repeat([]byte{0}, 1500),
		valid[:len(valid)/2], // cut in a header
		requestLine,          // a Request-Line alone
		[]byte("SIP/2.0 200 OK\r\n\r\n"),
		[]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"),
		[]byte(strings.Repeat("Via: SIP/2.0/UDP x;branch=z9hG4bK1\r\n", 1500)),
	}
	for range 200 {
		datagrams = append(datagrams, random(1+rng.IntN(1400)))
	}
	u, err := net.Dial("udp", srv.run.SIPUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = u.Close() }()
	for _, d := range datagrams {
		_, _ = u.Write(d) // loss is fine; the server reading it is the point
	}

	streams := [][]byte{
		random(256 << 10),
		bytes.Repeat([]byte("\r\n"), 10000),
		valid[:len(valid)-10], // incomplete, then the connection closes
		append(append([]byte(nil), valid...), random(4096)...),
	}
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", srv.run.SIPTCP, 5*time.Second)
			if err != nil {
				t.Errorf("connect: %v", err)
				return
			}
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(s)
		}()
	}
	wg.Wait()
	// Give the server a moment to chew before the liveness checks.
	time.Sleep(300 * time.Millisecond)
	if !srv.alive() {
		t.Fatalf("parley serve died on garbage input")
	}
}

func TestTortureJudge(t *testing.T) {
	r := func(code int, method string) sipResponse { return sipResponse{code: code, method: method} }
	tests := []struct {
		name string
		c    tortureCase
		got  []sipResponse
		ok   bool
	}{
		{"valid answered", tortureCase{want: answer}, []sipResponse{r(100, "INVITE"), r(404, "INVITE")}, true},
		{"valid only provisional", tortureCase{want: answer}, []sipResponse{r(100, "INVITE")}, true},
		{"valid unanswered", tortureCase{want: answer}, nil, false},
		{"valid called malformed", tortureCase{want: answer}, []sipResponse{r(400, "OPTIONS")}, false},
		{"named code", tortureCase{want: answer, codes: []int{416}}, []sipResponse{r(416, "OPTIONS")}, true},
		{"wrong named code", tortureCase{want: answer, codes: []int{416}}, []sipResponse{r(404, "OPTIONS")}, false},
		{"named code never final", tortureCase{want: answer, codes: []int{420}}, []sipResponse{r(100, "OPTIONS")}, false},
		{"refused", tortureCase{want: refuse}, []sipResponse{r(403, "REGISTER")}, true},
		{"refusal accepted", tortureCase{want: refuse}, []sipResponse{r(200, "REGISTER")}, false},
		{"invalid dropped", tortureCase{want: reject}, nil, true},
		{"invalid 400", tortureCase{want: reject}, []sipResponse{r(400, "INVITE")}, true},
		{"invalid trying", tortureCase{want: reject}, []sipResponse{r(100, "INVITE"), r(400, "INVITE")}, false},
		{"invalid accepted", tortureCase{want: reject}, []sipResponse{r(200, "OPTIONS")}, false},
		{"invalid named code", tortureCase{want: reject, codes: []int{505}}, []sipResponse{r(505, "OPTIONS")}, true},
		{"liberal", tortureCase{want: either}, []sipResponse{r(200, "OPTIONS")}, true},
		{"stray response ignored", tortureCase{want: silent}, nil, true},
		{"stray response answered", tortureCase{want: silent}, []sipResponse{r(400, "INVITE")}, false},
		{"trailing octets ignored", tortureCase{want: answer, method: "REGISTER"}, []sipResponse{r(401, "REGISTER")}, true},
		{"trailing octets answered", tortureCase{want: answer, method: "REGISTER"}, []sipResponse{r(401, "REGISTER"), r(100, "INVITE")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.judge(tt.got)
			if (err == nil) != tt.ok {
				t.Errorf("judge(%v) = %v, want ok=%v", tt.got, err, tt.ok)
			}
		})
	}
}
