package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/trust"
	"github.com/parleyhq/parley/internal/store"
)

// TestTrustedServiceOverSIP sends the attendant's privileged lookup over
// UDP: signed by a trusted service it reaches the Focus Factory; unsigned,
// badly signed or signed by a host that is not trusted it gets 403.
func TestTrustedServiceOverSIP(t *testing.T) {
	info, dir := startServer(t, true)
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "parley.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org, err := db.Organization(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pools, err := db.Pools(ctx)
	if err != nil || len(pools) != 1 {
		t.Fatalf("pools = %v, %v", pools, err)
	}
	codec, err := confid.NewCodec(org.ConferenceKey)
	if err != nil {
		t.Fatal(err)
	}
	id, err := codec.Encode(pools[0].ID, 424, confid.MinWidth(len(pools[0].ID)))
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("udp", info.SIPUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(sign func(*sip.Request), n int) string {
		t.Helper()
		target := "sip:" + pools[0].FQDN + ";gruu;opaque=app:conf:focusfactory"
		body, err := (&c3p.Request{
			Header:  c3p.Header{Version: "1", RequestID: 1, From: "sip:caa@" + pools[0].FQDN, To: target},
			Command: &c3p.ResolveConference{ConferenceID: id},
		}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		raw := "SERVICE " + target + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK-trust-" + string(rune('a'+n)) + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:caa@" + pools[0].FQDN + ">;tag=t" + string(rune('a'+n)) + "\r\n" +
			"To: <" + target + ">\r\nCall-ID: trust-" + string(rune('a'+n)) + "@test\r\nCSeq: 1 SERVICE\r\n" +
			"Content-Type: application/cccp+xml\r\nContent-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetBody(body)
		sign(req)
		if _, err := conn.Write([]byte(req.String())); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 65536)
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return string(buf[:k])
	}
	signer := trust.Signer{Key: TrustKey(org.ConferenceKey), Service: directory.ServiceAttendant, Host: pools[0].FQDN}

	got := send(func(r *sip.Request) {
		if err := signer.Sign(r); err != nil {
			t.Fatal(err)
		}
	}, 0)
	if !strings.HasPrefix(got, "SIP/2.0 200") || !strings.Contains(got, `reason="conferenceDoesNotExist"`) {
		t.Errorf("signed lookup of a free ID:\n%s\nwant 200 with conferenceDoesNotExist", got)
	}
	for i, sign := range []func(*sip.Request){
		func(r *sip.Request) { r.AppendHeader(sip.NewHeader(trust.Header, "service=x;host=y;ts=1;sig=z")) },
		func(r *sip.Request) {
			s := signer
			s.Key = []byte("not the organization's key......")
			_ = s.Sign(r)
		},
		func(r *sip.Request) {
			s := signer
			s.Host = "intruder.example.com"
			_ = s.Sign(r)
		},
	} {
		if got := send(sign, i+1); !strings.HasPrefix(got, "SIP/2.0 403") {
			t.Errorf("case %d: %s\nwant 403", i, got)
		}
	}
	// Without the header it is an ordinary user request: challenged.
	if got := send(func(*sip.Request) {}, 5); !strings.HasPrefix(got, "SIP/2.0 407") {
		t.Errorf("unsigned request:\n%s\nwant 407", got)
	}
}
