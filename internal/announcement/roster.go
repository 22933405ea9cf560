package announcement

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/c3p"
)

// The service's own copy of the meeting's roster, built from the Focus's
// conference-info documents (RFC 4575 §4.6): a full document replaces it,
// a partial one changes the users, endpoints and media it names, each of
// them full (replace), partial (merge the fields present) or deleted. Only
// what the announcements depend on is kept.

// Errors of roster.apply. None of them changes the roster.
var (
	// errStale is a document whose version is not above the roster's:
	// a duplicate or a late one, discarded (RFC 4575 §4.6).
	errStale = errors.New("announcement: stale conference document")
	// errGap is a partial document that cannot be applied: versions were
	// skipped, or no full state came first. The subscriber asks for the
	// full state again.
	errGap = errors.New("announcement: conference document out of sequence")
)

// sessionAudioVideo is the session-type of an endpoint at the A/V MCU.
const sessionAudioVideo = c3p.MCUTypeAudioVideo

// statusConnected is the RFC 4575 endpoint status of a live leg.
const statusConnected = "connected"

// mutedByLeader is the pl:muted-by of a participant a leader muted.
const mutedByLeader = "leader"

// media is one media stream of an endpoint.
type media struct {
	typ, status, ingress string
	// mutedBy is pl:muted-by: who muted the stream (leader, self).
	mutedBy string
}

// muted reports whether the stream is muted at the MCU: recvonly with the
// ingress filter blocked ([MS-CONFAV] §2.2.2.1.2.1).
func (m *media) muted() bool {
	return m.status == "recvonly" && m.ingress == "block"
}

// endpoint is one endpoint of a user.
type endpoint struct {
	sessionType, status string
	// dialIn is pl:dial-in, language pl:language: the Focus marks a
	// caller's audio endpoint so.
	dialIn   bool
	language string
	media    map[string]*media // by media id
}

// user is one participant.
type user struct {
	endpoints map[string]*endpoint // by endpoint entity
}

// facts are what the rules read of a participant.
type facts struct {
	present   bool
	dialIn    bool
	connected bool
	muted     bool
	mutedBy   string
	language  string
}

// facts sums up a user's audio endpoints, in a fixed order so that the
// same roster always gives the same language.
func (u *user) facts() facts {
	if u == nil {
		return facts{}
	}
	f := facts{present: true}
	ids := make([]string, 0, len(u.endpoints))
	for id := range u.endpoints {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := u.endpoints[id]
		if e.sessionType != sessionAudioVideo {
			continue
		}
		if e.dialIn {
			f.dialIn = true
			if f.language == "" {
				f.language = e.language
			}
		}
		if e.status == statusConnected {
			f.connected = true
		}
		mids := make([]string, 0, len(e.media))
		for mid := range e.media {
			mids = append(mids, mid)
		}
		slices.Sort(mids)
		for _, mid := range mids {
			if m := e.media[mid]; m.typ == "audio" && m.muted() && !f.muted {
				f.muted, f.mutedBy = true, m.mutedBy
			}
		}
	}
	return f
}

// change is one participant's facts before and after a document.
type change struct {
	entity        string
	before, after facts
}

// roster is the model. The zero value is empty and waits for a full
// document.
type roster struct {
	// synced is true while the roster follows the documents: a full one
	// came and no version was missed since.
	synced  bool
	version uint64
	// primed is true once a first full document was applied: the one
	// whose contents are announced to nobody.
	primed bool
	users  map[string]*user
}

// restart expects the first document of a new subscription, whose
// versions start again (RFC 4575 §4.6 scopes them to the subscription).
// The users are kept: the new full document is compared with them.
func (r *roster) restart() {
	r.synced, r.version = false, 0
}

// update is the outcome of one document.
type update struct {
	// changes lists the participants the document changed, in document
	// order (entity order for a full document).
	changes []change
	// ended is true when the document says the conference is no longer
	// active (RFC 4575 §5.4 active=false).
	ended bool
	// initial is true for the first full document: it is state, not news.
	initial bool
}

// apply applies one document. On error the roster is unchanged; errGap also
// marks it out of sync, so that only a full document is taken next.
func (r *roster) apply(ci *c3p.ConferenceInfo) (update, error) {
	if ci.Version == nil {
		r.synced = false
		return update{}, fmt.Errorf("%w: no version", errGap)
	}
	v := *ci.Version
	state := ci.State
	if state == "" {
		state = c3p.StateFull // RFC 4575 §5.1: full is the default
	}
	switch state {
	case c3p.StateFull:
		if r.synced && v <= r.version {
			return update{}, fmt.Errorf("%w: full version %d, have %d", errStale, v, r.version)
		}
	case c3p.StatePartial:
		switch {
		case !r.synced:
			return update{}, fmt.Errorf("%w: partial version %d before a full document", errGap, v)
		case v <= r.version:
			return update{}, fmt.Errorf("%w: partial version %d, have %d", errStale, v, r.version)
		case v > r.version+1:
			r.synced = false
			return update{}, fmt.Errorf("%w: partial version %d after %d", errGap, v, r.version)
		}
	default:
		r.synced = false
		return update{}, fmt.Errorf("%w: document state %q", errGap, state)
	}
	if r.users == nil {
		r.users = make(map[string]*user)
	}
	up := update{initial: !r.primed}
	var order []string
	before := make(map[string]facts)
	touch := func(entity string) {
		if _, ok := before[entity]; !ok {
			before[entity] = r.users[entity].facts()
			order = append(order, entity)
		}
	}
	replaceAll := state == c3p.StateFull || (ci.Users != nil && ci.Users.State == c3p.StateFull)
	if replaceAll {
		// Everyone is touched: those who stay, those who go, those who
		// come; in entity order, the document's order being arbitrary.
		all := make([]string, 0, len(r.users))
		for e := range r.users {
			all = append(all, e)
		}
		if ci.Users != nil {
			for _, u := range ci.Users.Entries {
				if u.Entity != "" && u.State != c3p.StateDeleted {
					all = append(all, u.Entity)
				}
			}
		}
		slices.Sort(all)
		for _, e := range slices.Compact(all) {
			touch(e)
		}
		clear(r.users)
	}
	if ci.Users != nil {
		for i := range ci.Users.Entries {
			u := &ci.Users.Entries[i]
			if u.Entity == "" {
				continue
			}
			touch(u.Entity)
			r.applyUser(u)
		}
	}
	for _, e := range order {
		c := change{entity: e, before: before[e], after: r.users[e].facts()}
		if c.before != c.after {
			up.changes = append(up.changes, c)
		}
	}
	if cs := ci.ConferenceState; cs != nil && cs.Active != nil && !*cs.Active {
		up.ended = true
	}
	r.synced, r.version, r.primed = true, v, true
	return up, nil
}

// applyUser applies one user element.
func (r *roster) applyUser(u *c3p.User) {
	switch u.State {
	case c3p.StateDeleted:
		delete(r.users, u.Entity)
	case c3p.StatePartial:
		cur := r.users[u.Entity]
		if cur == nil {
			cur = &user{endpoints: make(map[string]*endpoint)}
			r.users[u.Entity] = cur
		}
		cur.merge(u.Endpoints)
	case "", c3p.StateFull:
		cur := &user{endpoints: make(map[string]*endpoint)}
		cur.merge(u.Endpoints)
		r.users[u.Entity] = cur
	}
	// Another state is not RFC 4575's: the element is ignored.
}

// merge applies endpoint elements to a user.
func (u *user) merge(eps []c3p.Endpoint) {
	for i := range eps {
		ep := &eps[i]
		switch ep.State {
		case c3p.StateDeleted:
			delete(u.endpoints, ep.Entity)
		case c3p.StatePartial:
			cur := u.endpoints[ep.Entity]
			if cur == nil {
				cur = &endpoint{media: make(map[string]*media)}
				u.endpoints[ep.Entity] = cur
			}
			cur.merge(ep)
		case "", c3p.StateFull:
			cur := &endpoint{media: make(map[string]*media)}
			cur.merge(ep)
			u.endpoints[ep.Entity] = cur
		}
	}
}

// merge applies the fields an endpoint element carries; absent ones keep
// their value (a full endpoint starts from an empty one).
func (e *endpoint) merge(ep *c3p.Endpoint) {
	if ep.SessionType != "" {
		e.sessionType = ep.SessionType
	}
	if ep.Status != "" {
		e.status = ep.Status
	}
	if x := ep.Extension(c3p.NamespaceParley, "dial-in"); x != nil {
		e.dialIn, _ = strconv.ParseBool(strings.TrimSpace(x.Text))
	}
	if x := ep.Extension(c3p.NamespaceParley, "language"); x != nil {
		e.language = strings.TrimSpace(x.Text)
	}
	for i := range ep.Media {
		m := &ep.Media[i]
		switch m.State {
		case c3p.StateDeleted:
			delete(e.media, m.ID)
			continue
		case "", c3p.StateFull:
			e.media[m.ID] = &media{}
		case c3p.StatePartial:
			if e.media[m.ID] == nil {
				e.media[m.ID] = &media{}
			}
		default:
			continue
		}
		e.media[m.ID].merge(m)
	}
}

// merge applies the fields a media element carries.
func (m *media) merge(el *c3p.Media) {
	if el.Type != "" {
		m.typ = el.Type
	}
	if el.Status != "" {
		m.status = el.Status
	}
	if el.IngressFilter != "" {
		m.ingress = el.IngressFilter
	}
	if x := el.Extension(c3p.NamespaceParley, "muted-by"); x != nil {
		m.mutedBy = strings.TrimSpace(x.Text)
	} else if el.State != c3p.StatePartial {
		m.mutedBy = ""
	}
	if !m.muted() {
		// Who muted a stream that is not muted is no longer news.
		m.mutedBy = ""
	}
}

// listeners are the participants who hear announcements: dial-in callers
// whose audio is connected, in entity order, but except.
func (r *roster) listeners(except string) []string {
	var out []string
	for e, u := range r.users {
		if e == except {
			continue
		}
		if f := u.facts(); f.dialIn && f.connected {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}
