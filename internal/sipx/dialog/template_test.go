package dialog

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestTemplate sends requests from a template to a UDP socket and reads
// them as the peer would: each is the request Request would build (same
// Request-URI, route set, From, To, Call-ID, Contact), with the dialog's
// next CSeq, a branch of its own and the headers and body of that Send.
func TestTemplate(t *testing.T) {
	tests := []struct {
		name, rr string
	}{
		{"no route set", ""},
		{"loose routing", "Record-Route: <sip:p1.parley.test;lr>, <sip:p2.parley.test:5070;lr>\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			ua, err := sipgo.NewUA()
			if err != nil {
				t.Fatal(err)
			}
			defer ua.Close()
			client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}

			req := parse(t, invite(tt.rr))
			req.SetTransport("UDP")
			req.SetSource(sink.LocalAddr().String())
			d, err := New(req, "ours")
			if err != nil {
				t.Fatal(err)
			}
			if tt.rr != "" {
				// The route set's first hop does not resolve here: send
				// to the sink as if it were the proxy.
				d.routes[0].Host, d.routes[0].Port = "127.0.0.1", sink.LocalAddr().(*net.UDPAddr).Port
			}
			contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "focus", Host: "192.0.2.1", Port: 5060}}
			event := sip.NewHeader("Event", "conference")
			tmpl := d.Template("BENOTIFY", &contact, event)
			want := d.Request("BENOTIFY", &contact) // CSeq 1: the template's first is 2

			sends := []struct {
				body    string
				headers [][2]string
			}{
				{"<a/>", [][2]string{{"Subscription-State", "active;expires=3600"}, {"Content-Type", "application/conference-info+xml"}}},
				{"<b>second</b>", [][2]string{{"Subscription-State", "active;expires=3599"}, {"Content-Type", "application/conference-info+xml"}}},
				{"", [][2]string{{"Subscription-State", "terminated;reason=noresource"}}},
			}
			branches := map[string]bool{}
			buf := make([]byte, 65536)
			for i, s := range sends {
				var body []byte
				if s.body != "" {
					body = []byte(s.body)
				}
				if err := tmpl.Send(context.Background(), client, body, s.headers...); err != nil {
					t.Fatal(err)
				}
				_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _, err := sink.ReadFrom(buf)
				if err != nil {
					t.Fatal(err)
				}
				m, err := sip.NewParser().ParseSIP(append([]byte(nil), buf[:n]...))
				if err != nil {
					t.Fatalf("send %d is not SIP: %v\n%s", i, err, buf[:n])
				}
				got := m.(*sip.Request)
				if got.Method != "BENOTIFY" || got.Recipient.String() != want.Recipient.String() {
					t.Errorf("send %d: %s %s, want BENOTIFY %s", i, got.Method, got.Recipient.String(), want.Recipient.String())
				}
				for _, name := range []string{"From", "To", "Call-ID", "Contact", "Route", "Max-Forwards"} {
					if g, w := values(got, name), values(want, name); g != w {
						t.Errorf("send %d: %s %q, want %q", i, name, g, w)
					}
				}
				if c := got.CSeq(); c == nil || c.SeqNo != uint32(i+2) || c.MethodName != "BENOTIFY" {
					t.Errorf("send %d: CSeq %v, want %d BENOTIFY", i, c, i+2)
				}
				via := got.Via()
				branch, _ := via.Params.Get("branch")
				if !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) || branches[branch] {
					t.Errorf("send %d: branch %q not new", i, branch)
				}
				branches[branch] = true
				if via.Transport != "UDP" || via.Host != "127.0.0.1" {
					t.Errorf("send %d: Via %s", i, via.Value())
				}
				if values(got, "Event") != "conference" {
					t.Errorf("send %d: Event %q", i, values(got, "Event"))
				}
				for _, h := range s.headers {
					if g := values(got, h[0]); g != h[1] {
						t.Errorf("send %d: %s %q, want %q", i, h[0], g, h[1])
					}
				}
				if len(s.headers) == 1 && got.GetHeader("Content-Type") != nil {
					t.Errorf("send %d: a Content-Type it was not given", i)
				}
				if string(got.Body()) != s.body || got.ContentLength() == nil || int(*got.ContentLength()) != len(s.body) {
					t.Errorf("send %d: body %q (Content-Length %v), want %q", i, got.Body(), got.ContentLength(), s.body)
				}
			}
			if d.LocalCSeq() != uint32(len(sends)+1) {
				t.Errorf("dialog CSeq %d after the sends, want %d", d.LocalCSeq(), len(sends)+1)
			}
		})
	}
}

// values joins the values of a request's headers called name.
func values(req *sip.Request, name string) string {
	var out []string
	for _, h := range req.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return strings.Join(out, ", ")
}
