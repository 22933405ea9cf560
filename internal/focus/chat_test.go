package focus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/focus"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// The chat MCU beside the A/V MCU: its allocation, who it is told of, the
// roster it appears in as SIPE reads it, its IM sessions, its end, a pool
// without one, and a restart.

// chatURI is a meeting's chat MCU URI as the fake factory makes it.
func chatURI(conference string) string {
	org, _, key, _ := c3p.ParseConferenceURI(conference)
	return c3p.ConferenceURI(org, chat, key)
}

// sipeView is what SIPE takes from a conference-info document
// (sipe-conf.c, sipe_process_conference): the chat MCU's URI, the lock
// from the chat MCU's entity-view, and who is in the chat.
type sipeView struct {
	imMCU  string
	locked string
	inChat []string // "entity" of users with a connected chat endpoint
	listed []string // every user element not deleted
}

// readAsSIPE reads a document by the element paths SIPE follows, matching
// local names only, as its sipe_xml_child does.
func readAsSIPE(ci *c3p.ConferenceInfo) sipeView {
	var v sipeView
	if ci.Description != nil {
		for _, e := range ci.Description.ConfURIs {
			if e.Purpose == "chat" && v.imMCU == "" {
				v.imMCU = e.URI
			}
		}
	}
	if ci.Users != nil {
		for _, u := range ci.Users.Entries {
			if u.State == c3p.StateDeleted {
				continue
			}
			v.listed = append(v.listed, u.Entity)
			for _, e := range u.Endpoints {
				if e.Status == "connected" && e.SessionType == "chat" {
					v.inChat = append(v.inChat, u.Entity)
					break
				}
			}
		}
	}
	if ci.View != nil {
		for _, ev := range ci.View.EntityViews {
			state := childNamed(ev.Elements, "entity-state")
			if state == nil {
				continue
			}
			typ := pathOf(state, "media", "entry", "type")
			if typ == nil || typ.Text != "chat" {
				continue
			}
			if l := pathOf(state, "locked"); l != nil {
				v.locked = l.Text
			}
		}
	}
	return v
}

// childNamed is the first element of a list with a local name.
func childNamed(list []*c3p.Element, local string) *c3p.Element {
	for _, e := range list {
		if e.Name.Local == local {
			return e
		}
	}
	return nil
}

// pathOf follows local names down from e.
func pathOf(e *c3p.Element, locals ...string) *c3p.Element {
	for _, l := range locals {
		if e = childNamed(e.Children, l); e == nil {
			return nil
		}
	}
	return e
}

// answerURIs reads pl:conf-uris from a join's addUser answer, by purpose.
func answerURIs(tb testing.TB, c *call) map[string]string {
	tb.Helper()
	add, ok := c.c3p.Command.(*c3p.AddUser)
	if !ok {
		tb.Fatalf("answer is not an addUser: %s", c.res.Body())
	}
	out := map[string]string{}
	if e := add.Extension(c3p.NamespaceParley, "conf-uris"); e != nil {
		for _, entry := range e.Children {
			uri, purpose := entry.Child(c3p.NamespaceConferenceInfo, "uri"), entry.Child(c3p.NamespaceConferenceInfo, "purpose")
			if uri != nil && purpose != nil {
				out[purpose.Text] = uri.Text
			}
		}
	}
	return out
}

// TestChatMCUAllocated: the first join allocates the chat MCU beside the
// A/V MCU; every client is told to it, a telephone is not; the answer and
// the roster name it as SIPE reads them; the lock and role changes reach
// it; a participant who leaves is ejected from it.
func TestChatMCUAllocated(t *testing.T) {
	h := newHarness(t)
	anonConf := conf(alice, anonKey)
	ctx := context.Background()
	a := newPhone(h, alice).join(anonConf)
	a.ok()
	if got, want := h.mcus.logOf(chat), []string{"addConference", "addUser " + alice}; !slices.Equal(got, want) {
		t.Errorf("chat MCU commands = %q, want %q", got, want)
	}
	uris := answerURIs(t, a)
	if uris["chat"] != chatURI(anonConf) || uris["audio-video"] == "" {
		t.Errorf("the answer lists %v, want the chat and A/V MCUs", uris)
	}
	newPhone(h, bob).join(anonConf).ok()
	c := newPhone(h, carol).join(anonConf)
	c.ok()
	caller, err := h.f().AddDialInUser(ctx, anonConf, focus.DialIn{CallerID: "+14255550123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.f().AddAudioUser(ctx, anonConf, dave); err != nil {
		t.Fatal(err)
	}
	if got, want := h.mcus.logOf(chat), []string{"addConference", "addUser " + alice, "addUser " + bob, "addUser " + carol}; !slices.Equal(got, want) {
		t.Errorf("chat MCU commands = %q, want %q (no telephone)", got, want)
	}
	if got := h.mcus.log(); !slices.Contains(got, "addUser "+caller) || !slices.Contains(got, "addUser "+dave) {
		t.Errorf("A/V MCU commands = %q, want the telephones in", got)
	}

	v := readAsSIPE(newPhone(h, alice).subscribe(anonConf, msClient).piggyDoc())
	if v.imMCU != chatURI(anonConf) || v.locked != "false" {
		t.Errorf("SIPE reads im_mcu_uri %q locked %q, want %q and false", v.imMCU, v.locked, chatURI(anonConf))
	}
	yes := true
	a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: anonConf}, Locked: &yes}).ok(t)
	if v := readAsSIPE(newPhone(h, alice).subscribe(anonConf, msClient).piggyDoc()); v.locked != "true" {
		t.Errorf("SIPE reads locked %q after the lock", v.locked)
	}
	a.info(&c3p.ModifyUserRoles{Keys: userKeys(anonConf, carol), Roles: []string{"presenter"}}).ok(t)
	siptest.Eventually(t, "the lock and the new role told to the chat MCU", func() bool {
		var lock, role bool
		for _, cmd := range h.mcus.commandsOf(chat) {
			switch x := cmd.cmd.(type) {
			case *c3p.ModifyConferenceLock:
				lock = x.Locked != nil && *x.Locked
			case *c3p.AddUser:
				role = role || (x.User.Entity == carol && slices.Equal(x.User.Roles, []string{"presenter"}))
			}
		}
		return lock && role
	})

	// Leaving: the caller's end is no business of the chat MCU's; bob,
	// ejected by an mcuUri naming the chat MCU, and carol, who hangs up,
	// are ejected from it. The chat MCU's worker keeps its order, so
	// once carol's deleteUser is there, a deleteUser of the caller
	// would be too.
	if err := h.f().RemoveDialInUser(ctx, anonConf, caller); err != nil {
		t.Fatal(err)
	}
	a.info(&c3p.DeleteUser{MCU: c3p.MCUTarget{URI: chatURI(anonConf)}, Keys: userKeys(anonConf, bob)}).ok(t)
	c.bye()
	siptest.Eventually(t, "bob and carol ejected from the chat MCU", func() bool {
		log := h.mcus.logOf(chat)
		return slices.Contains(log, "deleteUser "+bob) && slices.Contains(log, "deleteUser "+carol)
	})
	if slices.Contains(h.mcus.logOf(chat), "deleteUser "+caller) {
		t.Error("a telephone caller was ejected from the chat MCU")
	}
	if !slices.Contains(h.mcus.log(), "deleteUser "+caller) {
		t.Error("the caller was not ejected from the A/V MCU")
	}
}

// TestChatSessions: the chat MCU's session events become chat endpoints
// in partial notifications, in order with the other changes; a
// participant present by his IM session alone leaves with it.
func TestChatSessions(t *testing.T) {
	h := newHarness(t)
	open := conf(alice, openKey)
	newPhone(h, alice).join(open).ok()
	b := newPhone(h, bob).join(open)
	b.ok()
	s := newPhone(h, alice).subscribe(open, msClient)
	if v := readAsSIPE(s.piggyDoc()); len(v.inChat) != 0 {
		t.Fatalf("in the chat before any IM session: %q", v.inChat)
	}

	h.f().ChatJoined(open, bob, "im-bob-1")
	n := s.nth(1)
	if n.version != 2 || n.doc(t).State != c3p.StatePartial {
		t.Errorf("chat join: version %d state %q, want a partial document of version 2", n.version, n.doc(t).State)
	}
	if v := readAsSIPE(n.doc(t)); !slices.Equal(v.inChat, []string{bob}) {
		t.Errorf("SIPE puts %q in the chat, want bob", v.inChat)
	}
	golden(t, "roster-partial-chat-join.xml", normalize(n.body))

	// Nothing to tell: the same session again, somebody unknown, a
	// session without a name, another conference.
	h.f().ChatJoined(open, bob, "im-bob-1")
	h.f().ChatJoined(open, gina, "im-gina-1")
	h.f().ChatJoined(open, bob, "")
	h.f().ChatLeft(open, bob, "im-unknown", "bye")
	h.f().ChatJoined("sip:nobody@parley.test", bob, "im-bob-2")

	h.f().ChatLeft(open, "SIP:Bob@Parley.test", "im-bob-1", "bye")
	n = s.nth(2)
	if n.version != 3 {
		t.Errorf("chat leave: version %d, want 3", n.version)
	}
	if v := readAsSIPE(n.doc(t)); len(v.inChat) != 0 || !slices.Equal(v.listed, []string{bob}) {
		t.Errorf("SIPE reads in chat %q, listed %q; want bob listed, out of the chat", v.inChat, v.listed)
	}
	golden(t, "roster-partial-chat-leave.xml", normalize(n.body))

	// bob hangs up his focus dialog but chats on; his session's end is
	// his departure.
	h.f().ChatJoined(open, bob, "im-bob-2")
	b.bye()
	h.f().ChatLeft(open, bob, "im-bob-2", "bye")
	notes := s.waitNotes(5)
	if v := readAsSIPE(notes[3].doc(t)); !slices.Equal(v.inChat, []string{bob}) || len(find(notes[3].doc(t), bob).Endpoints) != 1 {
		t.Errorf("after his BYE bob's entry is %+v, want his chat endpoint alone", find(notes[3].doc(t), bob))
	}
	if got := users(notes[4].doc(t)); !slices.Equal(got, []string{bob + " deleted"}) {
		t.Errorf("last change %q, want bob deleted", got)
	}
	for i, nt := range notes {
		if nt.version != uint64(i+2) {
			t.Errorf("notification %d has version %d", i+1, nt.version)
		}
	}
	siptest.Eventually(t, "bob ejected from the chat MCU", func() bool {
		return slices.Contains(h.mcus.logOf(chat), "deleteUser "+bob)
	})
}

// TestChatMCUEnds: the meeting's end ends its conference at the chat MCU
// and releases it (checkEnded checks both MCUs).
func TestChatMCUEnds(t *testing.T) {
	m := newMeetingOf4(t)
	m.h.f().ChatJoined(m.conf, carol, "im-carol")
	m.alice.info(&c3p.DeleteConference{}).ok(t)
	for _, c := range []*call{m.alice, m.bob, m.carol, m.dave} {
		c.waitBye()
	}
	checkEnded(t, m.h, m.conf, m.watch)
	if got := m.h.mcus.releasedOf(chat); !slices.Equal(got, []string{m.conf}) {
		t.Errorf("chat MCU released for %q", got)
	}
}

// TestNoChatMCU: in a pool without a chat MCU the meeting works without
// group IM, says so once, and does not ask the factory at every join;
// when a chat MCU turns up, the next join after the retry delay brings it
// in with everyone who may chat.
func TestNoChatMCU(t *testing.T) {
	h := newHarness(t)
	h.mcus.setMissing(chat, true)
	open := conf(alice, openKey)
	a := newPhone(h, alice).join(open)
	a.ok()
	b := newPhone(h, bob).join(open)
	b.ok()
	newPhone(h, carol).join(open).ok()
	if uris := answerURIs(t, b); uris["chat"] != "" || uris["audio-video"] == "" {
		t.Errorf("the answer lists %v, want the A/V MCU alone", uris)
	}
	// The controls work without it.
	yes, no := true, false
	a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: open}, Locked: &yes}).ok(t)
	a.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: open}, Locked: &no}).ok(t)
	s := newPhone(h, alice).subscribe(open, msClient)
	ci := s.piggyDoc()
	if v := readAsSIPE(ci); v.imMCU != "" || v.locked != "" || len(ci.View.EntityViews) != 2 {
		t.Errorf("roster without a chat MCU: SIPE reads %+v from %d entity-views, want no chat MCU and 2 views", v, len(ci.View.EntityViews))
	}
	if n := h.mcus.allocations(chat); n != 1 {
		t.Errorf("the factory was asked for a chat MCU %d times, want once", n)
	}
	if n := h.logged.count("the meeting goes on without its MCU"); n != 1 {
		t.Errorf("the missing chat MCU was logged %d times, want once", n)
	}
	if got := h.mcus.logOf(chat); len(got) != 0 {
		t.Errorf("commands to a chat MCU that does not exist: %q", got)
	}

	h.mcus.setMissing(chat, false)
	h.clock.Advance(31 * time.Second)
	d := newPhone(h, dave).join(open)
	d.ok()
	if uris := answerURIs(t, d); uris["chat"] != chatURI(open) {
		t.Errorf("the answer to the join that brought the chat MCU lists %v", uris)
	}
	siptest.Eventually(t, "everyone who may chat told to the new chat MCU", func() bool {
		log := h.mcus.logOf(chat)
		for _, u := range []string{alice, bob, carol, dave} {
			if !slices.Contains(log, "addUser "+u) {
				return false
			}
		}
		return len(log) > 0 && log[0] == "addConference"
	})
	// The watcher learns of it from the partial document after dave's
	// join, which the conference published before the chat MCU answered.
	if got := users(s.nth(1).doc(t)); !slices.Equal(got, []string{dave + " attendee"}) {
		t.Errorf("first change %q, want dave's join", got)
	}
	if v := readAsSIPE(s.nth(2).doc(t)); v.imMCU != chatURI(open) || v.locked != "false" {
		t.Errorf("after the chat MCU came: SIPE reads %+v", v)
	}
}

// TestChatResume: a restarted Focus keeps the chat MCU in the roster,
// provisions it again with everyone who may chat, and drops the IM
// sessions, which ended with the old server.
func TestChatResume(t *testing.T) {
	m := newMeetingOf4(t)
	m.h.f().ChatJoined(m.conf, bob, "im-bob")
	notesBefore := len(m.watch.waitNotes(1))
	m.h.restart()

	n := m.watch.nth(notesBefore + 1)
	if u := find(n.doc(t), bob); u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].SessionType != "focus" {
		t.Errorf("after the restart bob's entry is %+v, want his focus endpoint only", u)
	}
	v := readAsSIPE(m.roster(t))
	if v.imMCU != chatURI(m.conf) || v.locked != "false" || len(v.inChat) != 0 {
		t.Errorf("after the restart SIPE reads %+v, want the same chat MCU and nobody in the chat", v)
	}
	siptest.Eventually(t, "the chat MCU provisioned again", func() bool {
		log := m.h.mcus.logOf(chat)
		i := slices.Index(log[1:], "addConference") + 1
		if i == 0 {
			return false
		}
		for _, u := range []string{alice, bob, carol, dave} {
			if !slices.Contains(log[i:], "addUser "+u) {
				return false
			}
		}
		return true
	})
	m.h.f().ChatJoined(m.conf, bob, "im-bob-again")
	siptest.Eventually(t, "bob back in the chat", func() bool {
		notes := m.watch.notes()
		return slices.Equal(readAsSIPE(notes[len(notes)-1].doc(t)).inChat, []string{bob})
	})
	// The same MCUs: no notification in between said otherwise (the
	// MCUs' provisioning came before bob's new session).
	for _, nt := range m.watch.notes()[notesBefore:] {
		if d := nt.doc(t); d.Description != nil || d.View != nil {
			t.Errorf("a notification after the restart changed the MCUs: %s", nt.body)
		}
	}
}

// TestChatMCULostAtResume: a restarted Focus that cannot have the chat
// MCU again takes it out of the roster (its entity-view deleted), and the
// meeting goes on without group IM.
func TestChatMCULostAtResume(t *testing.T) {
	m := newMeetingOf4(t)
	m.h.mcus.setMissing(chat, true)
	m.h.restart()
	ci := m.watch.nth(1).doc(t)
	deleted := false
	if ci.View != nil {
		for _, ev := range ci.View.EntityViews {
			deleted = deleted || (ev.Entity == chatURI(m.conf) && ev.State == c3p.StateDeleted)
		}
	}
	if !deleted || ci.Description == nil || readAsSIPE(ci).imMCU != "" {
		t.Errorf("after the restart without a chat MCU: %s, want its view deleted and conf-uris without it", m.watch.nth(1).body)
	}
	if v := readAsSIPE(m.roster(t)); v.imMCU != "" || v.locked != "" {
		t.Errorf("the roster still offers the chat MCU: %+v", v)
	}
	yes := true
	m.alice.info(&c3p.ModifyConferenceLock{Keys: &c3p.ConferenceKeys{ConfEntity: m.conf}, Locked: &yes}).ok(t)
}
