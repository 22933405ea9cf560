package dialog

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestDoLoopback runs a dialog over TCP on loopback: the peer's Contact is
// a GRUU nobody can resolve, so our requests reach it only because they go
// back over the connection its INVITE came on.
func TestDoLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Our side: a UAS that records the dialog of the INVITE it answers.
	uasUA, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer uasUA.Close()
	uas, err := sipgo.NewServer(uasUA)
	if err != nil {
		t.Fatal(err)
	}
	uasClient, err := sipgo.NewClient(uasUA, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	dialogs := make(chan *Dialog, 1)
	uas.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		d, err := New(req, "uas-tag")
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, err.Error(), nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.To().Params.Add("tag", d.LocalTag)
		_ = tx.Respond(res)
		dialogs <- d
	})
	uas.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = uas.ServeTCP(ln) }()

	// The peer: answers our MESSAGEs with answer.
	peerUA, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer peerUA.Close()
	peer, err := sipgo.NewServer(peerUA)
	if err != nil {
		t.Fatal(err)
	}
	var answer atomic.Int32
	answer.Store(200)
	got := make(chan *sip.Request, 4)
	peer.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		if answer.Load() == 0 {
			return // never answers
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, int(answer.Load()), "Answer", nil))
		got <- req
	})
	peerClient, err := sipgo.NewClient(peerUA, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "chat", Host: "127.0.0.1", Port: port,
		UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}})
	inv.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "parley.invalid",
		UriParams: sip.HeaderParams{{K: "gruu", V: ""}}}})
	res, err := peerClient.Do(ctx, inv)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	var d *Dialog
	select {
	case d = <-dialogs:
	case <-ctx.Done():
		t.Fatal("no dialog")
	}

	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: port,
		UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}}
	for i, tc := range []struct {
		answer int32
		check  func(error) bool
	}{
		{200, func(err error) bool { return err == nil }},
		{481, func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Code == 481 && errors.Is(err, ErrRefused)
		}},
		{0, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		answer.Store(tc.answer)
		req := d.Request(sip.MESSAGE, &contact)
		req.SetBody([]byte("hello " + strconv.Itoa(i)))
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
		rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := d.Do(rctx, uasClient, req)
		rcancel()
		if !tc.check(err) {
			t.Fatalf("answer %d: Do = %v", tc.answer, err)
		}
		if tc.answer == 0 {
			continue
		}
		m := <-got
		if string(m.Body()) != "hello "+strconv.Itoa(i) || m.CSeq().SeqNo != uint32(i+1) {
			t.Errorf("peer got %q CSeq %d", m.Body(), m.CSeq().SeqNo)
		}
		if tag, _ := m.To().Params.Get("tag"); tag != d.RemoteTag {
			t.Errorf("To tag %q, want the peer's %q", tag, d.RemoteTag)
		}
	}
}
