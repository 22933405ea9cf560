package dialog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestAwaitACK answers an INVITE and gets its ACK as SIPE sends them,
// without Via branch: Respond must return as soon as the ACK is in, not
// after 64*T1.
func TestAwaitACK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	cache := sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}})
	responded := make(chan error, 1)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		dlg, err := cache.ReadInvite(req, tx)
		if err != nil {
			responded <- err
			return
		}
		defer func() { _ = dlg.Close() }()
		answered := make(chan struct{})
		go AwaitACK(dlg, tx, answered)
		responded <- dlg.Respond(200, "OK", nil)
		close(answered)
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = cache.ReadAck(req, tx) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = srv.ServeTCP(ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(method, toTag string) {
		to := "<sip:chat@parley.test>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		msg := fmt.Sprintf("%s sip:chat@parley.test SIP/2.0\r\nVia: SIP/2.0/tcp %s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:bob@parley.test>;tag=77aa;epid=01\r\nTo: %s\r\nCall-ID: branchless-1\r\nCSeq: 1 %s\r\n"+
			"Contact: <sip:bob@parley.test;opaque=user:epid:x;gruu>\r\nContent-Length: 0\r\n\r\n",
			method, conn.LocalAddr(), to, method)
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
	}
	send("INVITE", "")
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	tag := ""
	for tag == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no 200: %v", err)
		}
		if strings.HasPrefix(line, "To:") {
			if _, v, ok := strings.Cut(line, ";tag="); ok {
				tag = strings.TrimSpace(v)
			}
		}
	}
	start := time.Now()
	send("ACK", tag)
	select {
	case err := <-responded:
		if err != nil {
			t.Fatalf("Respond: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Respond returned after %v", d)
		}
	case <-ctx.Done():
		t.Fatal("Respond did not return")
	}
}
