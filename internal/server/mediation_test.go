package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// serversOnly is a directory that knows the deployment's servers.
type serversOnly struct {
	directory.Store
	servers []directory.Server
}

func (s serversOnly) Servers(context.Context) ([]directory.Server, error) { return s.servers, nil }

func TestTrustMediation(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &sipServer{
		local:    sipx.NewLocal([]string{"parley.test"}, []string{"pool.parley.test", "127.0.0.1"}),
		trustKey: key, hostname: "pool.parley.test",
		dir: serversOnly{servers: []directory.Server{{FQDN: "fe2.parley.test"}}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	digestCalled := false
	auth := s.trustMediation(func(context.Context, *sip.Request, string) (string, *sip.Response) {
		digestCalled = true
		return "", sip.NewResponse(407, "Proxy Authentication Required")
	})
	invite := func() *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "parley.test"})
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+12065550199", Host: "parley.test"}, Params: sip.NewParams()}
		from.Params.Add("tag", "abc")
		callID := sip.CallIDHeader("call-1")
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "parley.test"}})
		req.AppendHeader(&callID)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
		return req
	}
	for _, tc := range []struct {
		name       string
		signer     *trust.Signer
		tamper     bool
		inDialog   bool
		wantUser   string
		wantCode   int
		wantDigest bool
	}{
		{name: "signed by this pool", signer: &trust.Signer{Key: key, Service: "mediation", Host: "pool.parley.test"}, wantUser: "sip:+12065550199@parley.test"},
		{name: "signed by another server", signer: &trust.Signer{Key: key, Service: "mediation", Host: "fe2.parley.test"}, wantUser: "sip:+12065550199@parley.test"},
		{name: "unsigned", wantCode: 407, wantDigest: true},
		{name: "another service", signer: &trust.Signer{Key: key, Service: directory.ServiceAttendant, Host: "pool.parley.test"}, wantCode: 403},
		{name: "another service in a dialog that is gone", signer: &trust.Signer{Key: key, Service: directory.ServiceAnnouncement, Host: "pool.parley.test"}, inDialog: true, wantCode: 481},
		{name: "another service in a dialog, unknown host", signer: &trust.Signer{Key: key, Service: directory.ServiceAnnouncement, Host: "evil.example"}, inDialog: true, wantCode: 403},
		{name: "unknown host", signer: &trust.Signer{Key: key, Service: "mediation", Host: "evil.example"}, wantCode: 403},
		{name: "wrong key", signer: &trust.Signer{Key: []byte("fedcba9876543210fedcba9876543210"), Service: "mediation", Host: "pool.parley.test"}, wantCode: 403},
		{name: "body changed after signing", signer: &trust.Signer{Key: key, Service: "mediation", Host: "pool.parley.test"}, tamper: true, wantCode: 403},
		{name: "expired", signer: &trust.Signer{Key: key, Service: "mediation", Host: "pool.parley.test",
			Now: func() time.Time { return time.Now().Add(-time.Hour) }}, wantCode: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digestCalled = false
			req := invite()
			if tc.inDialog {
				req.To().Params.Add("tag", "focus-1")
			}
			if tc.signer != nil {
				if err := tc.signer.Sign(req); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tamper {
				req.SetBody([]byte("v=0\r\n"))
			}
			user, res := auth(context.Background(), req, "127.0.0.1:5068")
			code := 0
			if res != nil {
				code = res.StatusCode
			}
			if user != tc.wantUser || code != tc.wantCode || digestCalled != tc.wantDigest {
				t.Errorf("got user %q, response %d, digest %v; want %q, %d, %v", user, code, digestCalled, tc.wantUser, tc.wantCode, tc.wantDigest)
			}
		})
	}
	if s.trustMediation(nil) != nil {
		t.Error("with authentication off the wrapper must stay off")
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:5061":   "127.0.0.1:5061",
		"[::]:5061":      "[::1]:5061",
		"10.1.2.3:5061":  "10.1.2.3:5061",
		"not an address": "not an address",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
