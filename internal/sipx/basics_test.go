package sipx

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestAnswerBasics sends OPTIONS and a method the role does not take to a
// server set up with AnswerBasics, over TCP on loopback.
func TestAnswerBasics(t *testing.T) {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS"
	AnswerBasics(srv, "role.test", "the role", allowed)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTCP(ln) }()
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	for _, tc := range []struct {
		method sip.RequestMethod
		code   int
	}{{sip.OPTIONS, 200}, {sip.MESSAGE, 405}} {
		req := sip.NewRequest(tc.method, sip.Uri{Scheme: "sip", User: "role", Host: "127.0.0.1", Port: addr.Port,
			UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := client.Do(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		if res.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.method, res.StatusCode, tc.code)
		}
		if h := res.GetHeader("Allow"); h == nil || h.Value() != allowed {
			t.Errorf("%s: Allow %v, want %q", tc.method, h, allowed)
		}
		if tc.code == 405 {
			if w := res.GetHeader("Warning"); w == nil || !strings.Contains(w.Value(), "the role takes") {
				t.Errorf("405 without the role's Warning: %v", w)
			}
		}
	}
}
