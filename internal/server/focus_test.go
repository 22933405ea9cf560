package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/store"
)

// TestFocusJoinThroughServer joins a meeting's Focus over UDP through the
// whole server: the INVITE to the focus URI is challenged (407), answered
// with the addUser response granting the organizer his role, and the
// meeting becomes active; BYE leaves.
func TestFocusJoinThroughServer(t *testing.T) {
	info, dir, out := startServerOut(t, true)
	password := regexp.MustCompile(`sip:alice@parley\.test\s+Alice Anderson\s+1001\s+(\S+)`).FindStringSubmatch(out)
	if password == nil {
		t.Fatalf("no password for alice in the demo output:\n%s", out)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "parley.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const alice, key = "sip:alice@parley.test", "FOCUSJOIN1"
	u, err := db.User(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := confid.NewMeetingID(nil)
	now := time.Now().UTC()
	if err := db.CreateMeeting(ctx, directory.Meeting{
		ID: id, Organizer: alice, Key: key, Pool: u.Pool, Kind: directory.KindAdHoc, Admission: directory.AdmitOpen,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1,
	}); err != nil {
		t.Fatal(err)
	}

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("parley-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	focusURI := c3p.ConferenceURI(alice, c3p.ServiceFocus, key)
	var target sip.Uri
	if err := sip.ParseUri(focusURI, &target); err != nil {
		t.Fatal(err)
	}
	body, err := (&c3p.Request{
		Header: c3p.Header{Version: "1", RequestID: 1, From: alice, To: focusURI},
		Command: &c3p.AddUser{
			Keys: &c3p.ConferenceKeys{ConfEntity: focusURI},
			User: &c3p.User{Entity: alice, Roles: []string{c3p.RoleAttendee}, Endpoints: []c3p.Endpoint{{Entity: "{00000000-0000-4000-8000-000000000001}"}}},
		},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetDestination(info.SIPUDP)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "parley.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(body)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: 5999}}
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sess, err := (&sipgo.DialogUA{Client: cli, ContactHDR: contact}).WriteInvite(tctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(tctx, sipgo.AnswerOptions{Username: "alice", Password: password[1]}); err != nil {
		t.Fatalf("join: %v (response %v)", err, sess.InviteResponse)
	}
	res, err := c3p.ParseResponse(sess.InviteResponse.Body())
	if err != nil || res.Code != c3p.CodeSuccess {
		t.Fatalf("addUser response %v, %v:\n%s", res, err, sess.InviteResponse.Body())
	}
	if add, ok := res.Command.(*c3p.AddUser); !ok || add.User == nil || len(add.User.Roles) != 1 || add.User.Roles[0] != c3p.RolePresenter {
		t.Errorf("the organizer was not granted his role: %s", sess.InviteResponse.Body())
	}
	if err := sess.Ack(tctx); err != nil {
		t.Fatal(err)
	}
	if m, err := db.Meeting(ctx, alice, key); err != nil || !m.Active {
		t.Errorf("after the join the meeting is %+v, %v; want active", m, err)
	}
	if err := sess.Bye(tctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	if !strings.Contains(string(sess.InviteResponse.Body()), "addUser") {
		t.Error("no addUser in the answer")
	}
}
