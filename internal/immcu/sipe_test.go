package immcu_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// sipeConn speaks to the server over one TCP connection as Pidgin SIPE
// 1.25 does (sipe_im_invite, sip_transport_request): no Via branch in the
// dialog, a GRUU Contact that only a registrar could resolve, so that the
// server reaches it only over this connection.
type sipeConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	user string
	tag  string // ours
	peer string // the server's To tag
	cseq int
}

const sipeCallID = "5EBFAg1C62i0C0Dm5FD6t07E7bE5x0E3x"

func dialSIPE(tb testing.TB, addr, user string) *sipeConn {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &sipeConn{t: tb, conn: conn, r: bufio.NewReader(conn), user: user, tag: "3a8b9c0d"}
}

// request writes a request of the dialog; body with its type, if any.
func (s *sipeConn) request(method, extra, ct, body string) {
	s.t.Helper()
	if method != "ACK" {
		s.cseq++
	}
	to := "<sip:alice@parley.test;gruu;opaque=app:conf:chat:id:" + key + ">"
	if s.peer != "" {
		to += ";tag=" + s.peer
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:alice@parley.test;gruu;opaque=app:conf:chat:id:%s SIP/2.0\r\n", method, key)
	fmt.Fprintf(&b, "Via: SIP/2.0/tcp %s\r\n", s.conn.LocalAddr())
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <%s>;tag=%s;epid=01010101\r\n", s.user, s.tag)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", sipeCallID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", s.cseq, method)
	b.WriteString("User-Agent: Pidgin SIPE/1.25.0\r\n")
	b.WriteString(extra)
	if ct != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ct)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(s.conn, b.String()); err != nil {
		s.t.Fatal(err)
	}
}

// read reads the next message from the connection.
func (s *sipeConn) read() sip.Message {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(wait))
	var head bytes.Buffer
	length := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading: %v", err)
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue // keep-alive
		}
		head.WriteString(line)
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(s.r, body); err != nil {
		s.t.Fatal(err)
	}
	m, err := sip.NewParser().ParseSIP(append(head.Bytes(), body...))
	if err != nil {
		s.t.Fatalf("parsing %q: %v", head.String(), err)
	}
	return m
}

// response reads the next message, which must be a response.
func (s *sipeConn) response() *sip.Response {
	s.t.Helper()
	res, ok := s.read().(*sip.Response)
	if !ok {
		s.t.Fatal("a request came where a response was due")
	}
	return res
}

// TestSIPEWire joins, chats and leaves as SIPE does on the wire, with a
// sipgo chatter on the other side.
func TestSIPEWire(t *testing.T) {
	h := newHarness(t)
	h.provision(alice, bob)
	a := newChatter(h, alice, "TCP")
	a.join(sipeAccepts)
	s := dialSIPE(t, h.addr, bob)

	s.request("INVITE", "Supported: ms-sender\r\nContact: <sip:bob@parley.test;opaque=user:epid:1xNsRUWFkV-bTVPVGzMi2gAA;gruu>\r\n",
		"application/sdp", sipeOffer(sipeAccepts))
	res := s.response()
	for res.StatusCode < 200 {
		res = s.response()
	}
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d %s", res.StatusCode, res.Reason)
	}
	s.peer, _ = res.To().Params.Get("tag")
	if s.peer == "" || !strings.Contains(string(res.Body()), "m=message 5060 sip null") {
		t.Fatalf("200 without To tag or IM answer: %s", res)
	}
	s.request("ACK", "", "", "")
	siptest.Eventually(t, "bob joined", func() bool { return h.events.has("joined " + bob + " " + focusURI) })

	// alice speaks: the server relays to bob over his connection, in his
	// dialog, naming alice in Ms-Sender.
	if code := a.send("text/plain; charset=UTF-8", "hello bob"); code != 200 {
		t.Fatalf("alice's MESSAGE: %d", code)
	}
	req, ok := s.read().(*sip.Request)
	if !ok || req.Method != sip.MESSAGE {
		t.Fatalf("bob got %v", req)
	}
	if string(req.Body()) != "hello bob" || req.CallID().Value() != sipeCallID {
		t.Errorf("relayed %q in Call-ID %s", req.Body(), req.CallID().Value())
	}
	if tag, _ := req.From().Params.Get("tag"); tag != s.peer {
		t.Errorf("From tag %q, want the dialog's %q", tag, s.peer)
	}
	if tag, _ := req.To().Params.Get("tag"); tag != s.tag {
		t.Errorf("To tag %q, want bob's %q", tag, s.tag)
	}
	// SIPE: sender = parse_from(Ms-Sender), the URI inside <>.
	if ms := req.GetHeader("Ms-Sender"); ms == nil || ms.Value() != "<"+alice+">" {
		t.Errorf("Ms-Sender %v", ms)
	}
	ok200 := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if _, err := io.WriteString(s.conn, ok200.String()); err != nil {
		t.Fatal(err)
	}

	// bob speaks, without Via branch, as SIPE: 200, and alice hears him.
	s.request("MESSAGE", "Contact: <sip:bob@parley.test;opaque=user:epid:1xNsRUWFkV-bTVPVGzMi2gAA;gruu>\r\n",
		"text/plain; charset=UTF-8;msgr=WAAtAE0ATQBTAC0ASQBNAC0ARgBvAHIAbQBhAHQAOgAgAEYATgA9AEEAcgBpAGEAbAA", "hi alice")
	if res := s.response(); res.StatusCode != 200 {
		t.Fatalf("bob's MESSAGE: %d %s", res.StatusCode, res.Reason)
	}
	got := a.await(sip.MESSAGE, 1)
	if string(got[0].Body()) != "hi alice" || got[0].GetHeader("Ms-Sender").Value() != "<"+bob+">" {
		t.Errorf("alice got %q from %v", got[0].Body(), got[0].GetHeader("Ms-Sender"))
	}

	s.request("BYE", "", "", "")
	if res := s.response(); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	siptest.Eventually(t, "bob left", func() bool { return h.events.has("left " + bob + " " + focusURI + " bye") })
}
