package announcement

import (
	"errors"
	"reflect"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/prompts"
)

// Builders of the documents the Focus publishes (internal/focus
// documents.go): a dial-in caller's audio endpoint carries pl:dial-in and
// pl:language, a muted one recvonly/block and pl:muted-by.

const testFocus = "sip:org@example.com;gruu;opaque=app:conf:focus:id:K7P2Q9X4"

func doc(state string, v uint64, users ...c3p.User) *c3p.ConferenceInfo {
	ci := &c3p.ConferenceInfo{Entity: testFocus, State: state, Version: &v}
	if users != nil || state == c3p.StateFull {
		ci.Users = &c3p.Users{State: state, Entries: users}
	}
	return ci
}

// caller is a dial-in participant; status is his audio endpoint's
// (connected, dialing-in); mutedBy "" with muted means no pl:muted-by.
func caller(entity, lang, status string, muted bool, mutedBy string) c3p.User {
	m := c3p.Media{ID: "1", Type: "audio", Status: "sendrecv", IngressFilter: "unblock"}
	if muted {
		m.Status, m.IngressFilter = "recvonly", "block"
		if mutedBy != "" {
			m.Elements = append(m.Elements, c3p.ExtensionElement(c3p.NamespaceParley, "muted-by", mutedBy))
		}
	}
	e := c3p.Endpoint{Entity: entity + "#audio", SessionType: sessionAudioVideo, Status: status,
		JoiningMethod: c3p.JoiningDialedIn, Media: []c3p.Media{m}}
	e.Elements = append(e.Elements, c3p.ExtensionElement(c3p.NamespaceParley, "dial-in", "true"))
	if lang != "" {
		e.Elements = append(e.Elements, c3p.ExtensionElement(c3p.NamespaceParley, "language", lang))
	}
	return c3p.User{Entity: entity, State: c3p.StateFull, Endpoints: []c3p.Endpoint{e}}
}

// online is a participant of the meeting's focus session, without audio.
func online(entity string) c3p.User {
	return c3p.User{Entity: entity, State: c3p.StateFull, Endpoints: []c3p.Endpoint{
		{Entity: entity + "#focus", SessionType: "focus", Status: statusConnected},
	}}
}

func left(entity string) c3p.User { return c3p.User{Entity: entity, State: c3p.StateDeleted} }

func ended(v uint64) *c3p.ConferenceInfo {
	active := false
	ci := doc(c3p.StatePartial, v)
	ci.ConferenceState = &c3p.ConferenceState{Active: &active}
	return ci
}

func tone(user, t string) play { return play{user: user, tone: t} }

func say(user, lang string, keys ...prompts.Key) play {
	return play{user: user, language: lang, prompts: keys}
}

func TestRules(t *testing.T) {
	const (
		alice = "sip:alice@example.com" // on line
		bob   = "sip:+14255550101@example.com;user=phone"
		carol = "sip:+14255550102@example.com;user=phone"
		dave  = "sip:+14255550103@example.com;user=phone"
	)
	first := doc(c3p.StateFull, 1, online(alice), caller(bob, "fr-FR", statusConnected, false, ""),
		caller(carol, "", statusConnected, false, ""))
	tests := []struct {
		name  string
		docs  []*c3p.ConferenceInfo
		want  []play
		ended bool
	}{
		{"first full document announces nothing", []*c3p.ConferenceInfo{
			doc(c3p.StateFull, 1, online(alice), caller(bob, "", statusConnected, true, "leader")),
		}, nil, false},
		{"entry tone to the other connected callers", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, caller(dave, "", "dialing-in", false, "")),
		}, []play{tone(bob, c3p.ToneEntry), tone(carol, c3p.ToneEntry)}, false},
		{"a web participant joining is announced too", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, online("sip:erin@example.com")),
		}, []play{tone(bob, c3p.ToneEntry), tone(carol, c3p.ToneEntry)}, false},
		{"callers not yet connected hear nothing", []*c3p.ConferenceInfo{
			doc(c3p.StateFull, 1, caller(bob, "", "dialing-in", false, "")),
			doc(c3p.StatePartial, 2, online(alice)),
		}, nil, false},
		{"exit tone", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, left(carol)),
		}, []play{tone(bob, c3p.ToneExit)}, false},
		{"muted by a leader, in his language", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, caller(bob, "fr-FR", statusConnected, true, "leader")),
		}, []play{say(bob, "fr-FR", prompts.YouAreMuted, prompts.MutedByPresenter)}, false},
		{"self mute and unmute, fallback language", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, caller(carol, "", statusConnected, true, "self")),
			doc(c3p.StatePartial, 3, caller(carol, "", statusConnected, false, "")),
		}, []play{say(carol, prompts.Fallback, prompts.YouAreMuted), say(carol, prompts.Fallback, prompts.YouAreUnmuted)}, false},
		{"connects already muted", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, caller(dave, "de-DE", "dialing-in", true, "leader")),
			doc(c3p.StatePartial, 3, caller(dave, "de-DE", statusConnected, true, "leader")),
		}, []play{tone(bob, c3p.ToneEntry), tone(carol, c3p.ToneEntry),
			say(dave, "de-DE", prompts.YouAreMuted, prompts.MutedByPresenter)}, false},
		{"a repeated state says nothing", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, caller(bob, "fr-FR", statusConnected, false, "")),
		}, nil, false},
		{"stale and duplicate documents are ignored", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 2, left(carol)),
			doc(c3p.StatePartial, 2, left(bob)),
			doc(c3p.StatePartial, 1, left(bob)),
		}, []play{tone(bob, c3p.ToneExit)}, false},
		{"a gap stops the updates until a full document", []*c3p.ConferenceInfo{first,
			doc(c3p.StatePartial, 3, left(carol)),
			doc(c3p.StatePartial, 4, left(bob)),
			doc(c3p.StateFull, 5, online(alice), caller(bob, "fr-FR", statusConnected, false, "")),
		}, []play{tone(bob, c3p.ToneExit)}, false},
		{"the end of the meeting", []*c3p.ConferenceInfo{first, ended(2)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r roster
			var got []play
			var end bool
			for _, d := range tt.docs {
				up, err := r.apply(d)
				if err != nil {
					continue
				}
				got = append(got, decide(up, r.listeners)...)
				end = end || up.ended
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plays:\n got %+v\nwant %+v", got, tt.want)
			}
			if end != tt.ended {
				t.Errorf("ended = %v, want %v", end, tt.ended)
			}
		})
	}
}

func TestRosterVersions(t *testing.T) {
	var r roster
	if _, err := r.apply(doc(c3p.StatePartial, 1)); !errors.Is(err, errGap) {
		t.Errorf("partial before full: %v, want errGap", err)
	}
	if _, err := r.apply(doc(c3p.StateFull, 3)); err != nil {
		t.Fatalf("full: %v", err)
	}
	if _, err := r.apply(doc(c3p.StateFull, 3)); !errors.Is(err, errStale) {
		t.Errorf("same full again: %v, want errStale", err)
	}
	noVersion := doc(c3p.StatePartial, 4)
	noVersion.Version = nil
	if _, err := r.apply(noVersion); !errors.Is(err, errGap) || r.synced {
		t.Errorf("no version: %v synced=%v, want errGap and out of sync", err, r.synced)
	}
	r.restart()
	if _, err := r.apply(doc(c3p.StateFull, 1)); err != nil {
		t.Errorf("a new subscription's first full document: %v", err)
	}
	if _, err := r.apply(doc(c3p.StatePartial, 2)); err != nil {
		t.Errorf("next partial: %v", err)
	}
}

// TestPartialMerge checks RFC 4575 partial elements below the user: an
// endpoint or a media stream changed alone keeps what it does not name.
func TestPartialMerge(t *testing.T) {
	const bob = "sip:bob@example.com"
	var r roster
	if _, err := r.apply(doc(c3p.StateFull, 1, caller(bob, "es-ES", statusConnected, false, ""), caller("sip:x@example.com", "", statusConnected, false, ""))); err != nil {
		t.Fatal(err)
	}
	mute := c3p.Media{ID: "1", State: c3p.StatePartial, Status: "recvonly", IngressFilter: "block"}
	mute.Elements = append(mute.Elements, c3p.ExtensionElement(c3p.NamespaceParley, "muted-by", "leader"))
	u := c3p.User{Entity: bob, State: c3p.StatePartial, Endpoints: []c3p.Endpoint{
		{Entity: bob + "#audio", State: c3p.StatePartial, Media: []c3p.Media{mute}},
	}}
	up, err := r.apply(doc(c3p.StatePartial, 2, u))
	if err != nil {
		t.Fatal(err)
	}
	got := decide(up, r.listeners)
	want := []play{say(bob, "es-ES", prompts.YouAreMuted, prompts.MutedByPresenter)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plays %+v, want %+v", got, want)
	}
	// The endpoint deleted: he is still in the roster, without audio.
	u = c3p.User{Entity: bob, State: c3p.StatePartial, Endpoints: []c3p.Endpoint{{Entity: bob + "#audio", State: c3p.StateDeleted}}}
	if _, err := r.apply(doc(c3p.StatePartial, 3, u)); err != nil {
		t.Fatal(err)
	}
	if f := r.users[bob].facts(); !f.present || f.connected || f.dialIn {
		t.Errorf("facts after the endpoint left: %+v", f)
	}
}

func TestPlayCommand(t *testing.T) {
	const mcu = "sip:org@example.com;gruu;opaque=app:conf:audio-video:id:K7P2Q9X4"
	got := say("sip:bob@example.com", "fr-FR", prompts.YouAreMuted).command(mcu)
	if got.Keys.ConfEntity != mcu || got.Keys.UserEntity != "sip:bob@example.com" || got.Tone != "" ||
		!reflect.DeepEqual(got.Prompts, []string{"you_are_muted"}) || got.Language != "fr-FR" {
		t.Errorf("prompts command %+v", got)
	}
	got = tone("sip:bob@example.com", c3p.ToneExit).command(mcu)
	if got.Tone != c3p.ToneExit || got.Prompts != nil || got.Language != "" {
		t.Errorf("tone command %+v", got)
	}
}

func TestSubscriptionState(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		want   subState
		resubs bool
	}{
		{"active;expires=3599", true, subState{expires: 3599e9}, true},
		{"terminated;reason=noresource", true, subState{terminated: true, reason: "noresource"}, false},
		{"terminated;reason=deactivated", true, subState{terminated: true, reason: "deactivated"}, true},
		{"Terminated; reason=probation; retry-after=20", true, subState{terminated: true, reason: "probation", retryAfter: 20e9}, true},
		{"terminated;reason=rejected", true, subState{terminated: true, reason: "rejected"}, false},
		{"bogus", false, subState{}, true},
	}
	for _, tt := range tests {
		got, ok := parseSubState(tt.in)
		if ok != tt.ok || got != tt.want || (ok && got.resubscribes() != tt.resubs) {
			t.Errorf("parseSubState(%q) = %+v, %v", tt.in, got, ok)
		}
	}
}
