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

// usersOnly is a directory that knows some users.
type usersOnly struct {
	directory.Store
	users map[string]directory.User
}

func (u usersOnly) User(_ context.Context, aor string) (directory.User, error) {
	if x, ok := u.users[aor]; ok {
		return x, nil
	}
	return directory.User{}, directory.ErrNotFound
}

// TestAssertCaller checks what the front end vouches for when it sends a
// call to the attendant (RFC 3325 §5): an authenticated enterprise user
// gets a P-Asserted-Identity with his display name and a "frontend"
// signature that covers it; a P-Asserted-Identity the caller forged is
// gone; an unauthenticated call stays unsigned; the Mediation Server's
// signed call is left exactly as it came.
func TestAssertCaller(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &sipServer{
		local:    sipx.NewLocal([]string{"parley.test"}, []string{"pool.parley.test", "127.0.0.1"}),
		trustKey: key, hostname: "pool.parley.test", poolFQDN: "pool.parley.test",
		dir: usersOnly{users: map[string]directory.User{"sip:alice@parley.test": {URI: "sip:alice@parley.test", DisplayName: "Alice Anders"}}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	invite := func(fromUser string, extra ...sip.Header) *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "caa-0001", Host: "parley.test"})
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: fromUser, Host: "parley.test"}, Params: sip.NewParams()}
		from.Params.Add("tag", "abc")
		callID := sip.CallIDHeader("call-1")
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: req.Recipient})
		req.AppendHeader(&callID)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
		for _, h := range extra {
			req.AppendHeader(h)
		}
		return req
	}
	forged := sip.NewHeader("p-asserted-identity", "<sip:ceo@parley.test>")

	t.Run("enterprise user", func(t *testing.T) {
		req := invite("alice", forged)
		if err := s.assertCaller(req, "sip:alice@parley.test"); err != nil {
			t.Fatal(err)
		}
		pais := req.GetHeaders("P-Asserted-Identity")
		if len(pais) != 1 || pais[0].Value() != `"Alice Anders" <sip:alice@parley.test>` {
			t.Fatalf("P-Asserted-Identity = %v, want only Alice's", pais)
		}
		if len(req.GetHeaders("p-asserted-identity")) != 1 {
			t.Error("the forged header is still there")
		}
		service, _, err := trust.Verify(key, req, time.Now())
		if err != nil || service != serviceFrontEnd {
			t.Errorf("Verify = %q, %v; want %q", service, err, serviceFrontEnd)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		req := invite("alice", forged)
		if err := s.assertCaller(req, ""); err != nil {
			t.Fatal(err)
		}
		if len(req.GetHeaders("P-Asserted-Identity")) != 0 || len(req.GetHeaders(trust.Header)) != 0 {
			t.Errorf("an unauthenticated call was asserted or signed:\n%s", req)
		}
	})
	t.Run("mediation server", func(t *testing.T) {
		req := invite("+12065550199")
		if err := (trust.Signer{Key: key, Service: serviceMediation, Host: "pool.parley.test"}).Sign(req); err != nil {
			t.Fatal(err)
		}
		before := req.String()
		if err := s.assertCaller(req, "sip:+12065550199@parley.test"); err != nil {
			t.Fatal(err)
		}
		if req.String() != before {
			t.Errorf("the Mediation Server's call was changed:\n%s\nwas\n%s", req, before)
		}
	})
}

// TestContactObjectByNumber checks reverse number lookup: an enterprise
// phone dialing the access number in E.164 reaches its contact object.
func TestContactObjectByNumber(t *testing.T) {
	c := &contactObjects{db: numbers{{LineURI: "tel:+14255550100", URI: "sip:caa-0001@parley.test"}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c.setAttendant("127.0.0.1:5072")
	for _, tc := range []struct {
		aor, want string
		ok        bool
	}{
		{"sip:caa-0001@parley.test", "sip:caa-0001@parley.test", true},
		{"sip:+14255550100@parley.test", "sip:caa-0001@parley.test", true},
		{"sip:+14255550101@parley.test", "", false},
		{"sip:alice@parley.test", "", false},
	} {
		got, ok := c.target(tc.aor)
		if ok != tc.ok || (ok && got.URI.String() != tc.want) {
			t.Errorf("target(%s) = %s, %v; want %s, %v", tc.aor, got.URI.String(), ok, tc.want, tc.ok)
		}
	}
}

type numbers []directory.AccessNumber

func (n numbers) AccessNumbers(context.Context) ([]directory.AccessNumber, error) { return n, nil }
