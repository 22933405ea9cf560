package focus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Meetings is the pool database's meeting table, as the Focus uses it:
// it reads a meeting to admit people and marks it active and inactive.
type Meetings interface {
	Meeting(ctx context.Context, organizer, key string) (directory.Meeting, error)
	UpdateMeeting(ctx context.Context, organizer, key string, fn func(*directory.Meeting) error) (directory.Meeting, error)
}

// Directory tells enterprise users from the others and gives the
// organizer's meeting policy.
type Directory interface {
	User(ctx context.Context, uri string) (directory.User, error)
	MeetingPolicy(ctx context.Context, name string) (directory.MeetingPolicy, error)
}

// MCUs is the Conferencing Server Factory and the MCUs behind it, as the
// Focus drives them (seed 003, "Conferencing Server Factory"; seed 001,
// step 1: the Focus "requests the Conferencing Server Factory [...] to
// assign an A/V Conferencing Server to the meeting").
type MCUs interface {
	// Allocate returns the MCU of the given type (c3p.MCUTypeAudioVideo,
	// c3p.MCUTypeChat) serving conference (its focus URI): mcuURL is
	// where Command reaches it, mcuURI the conference's URI on it, which
	// clients INVITE. An error for the chat type (the pool has no IM
	// Conferencing Server) leaves the meeting without group IM.
	Allocate(ctx context.Context, conference, mcuType string) (mcuURL, mcuURI string, err error)
	// Command sends a C3P command to an MCU and returns its response.
	Command(ctx context.Context, mcuURL string, cmd c3p.Command) (*c3p.Response, error)
	// Release forgets the conference's MCU of that type.
	Release(conference, mcuType string)
}

// StateStore keeps the Focus state of active meetings, so that a restarted
// server (or another front end of the pool) can regenerate them (Resume).
type StateStore interface {
	// Save stores the latest snapshot of a conference (by focus URI),
	// replacing the previous one.
	Save(ctx context.Context, conference string, snapshot []byte) error
	// Load returns every stored snapshot by conference.
	Load(ctx context.Context) (map[string][]byte, error)
	// Delete forgets a conference's snapshot; deleting a missing one is
	// not an error.
	Delete(ctx context.Context, conference string) error
}

// Caller is who sent a request, as the server authenticated it.
type Caller struct {
	// User is the authenticated address-of-record (sip:alice@parley.test),
	// "" for an unauthenticated caller.
	User string
	// Trusted marks a trusted service of the pool (the Conferencing
	// Attendant or the Conference Announcement Service, seed 000 "Trusted
	// Services") whose signature the server verified: it may join and
	// subscribe to any active meeting without appearing in the roster.
	Trusted bool
}

// Config configures a Focus.
type Config struct {
	// Hostname names this server in Warning and ms-diagnostics headers.
	Hostname string
	// Contact returns the Contact of the Focus's answers and requests for
	// a transport ("UDP", "TCP", "TLS"): an address of this server, so
	// that in-dialog requests come back here.
	Contact func(transport string) sip.ContactHeader
	// Client sends the Focus's own requests (NOTIFY, BENOTIFY, BYE).
	Client *sipgo.Client

	Meetings  Meetings
	Directory Directory
	// MCUs drives the conferencing servers; nil runs meetings without
	// audio and group IM (the roster and the controls still work).
	MCUs MCUs
	// State persists the Focus state of active meetings; nil keeps it in
	// memory only.
	State StateStore

	// DefaultPolicy is the meeting policy of organizers who have none.
	DefaultPolicy string
	// DefaultMaxSize caps meetings whose organizer's policy cannot be
	// found; default 250, OCS's default meeting size.
	DefaultMaxSize int
	// Expiry computes a meeting's expiry after an activation
	// (focusfactory.Expiry: open-ended and ad hoc meetings live on from
	// their last activation); nil leaves expiries as they are. An expiry
	// only moves forward.
	Expiry func(directory.Meeting) time.Time
	// Canonical maps a user's or organizer's SIP URI to the form the
	// directory keeps (an alias host to the domain); nil lower-cases and
	// drops parameters only.
	Canonical func(uri string) string

	// IdleTimeout ends a meeting this long after its last join (seed
	// 003: "Twenty-four hours (the default) have passed since the last
	// participant joined"); default 24 h.
	IdleTimeout time.Duration
	// NoEnterpriseTimeout ends a meeting that has had no authenticated
	// enterprise user for this long (seed 003: "Ten minutes (the
	// default)"); default 10 min.
	NoEnterpriseTimeout time.Duration

	// MaxExpires and MinExpires bound subscription durations (RFC 6665
	// §4.2.1.1: the notifier may shorten; shorter than the minimum is
	// answered 423); defaults 3600 s and 60 s.
	MaxExpires, MinExpires time.Duration
	// SubscriberQueue is how many notifications may wait for one
	// subscriber before he is dropped; default 64.
	SubscriberQueue int
	// SaveDelay gathers the changes of this long into one snapshot;
	// default 200 ms.
	SaveDelay time.Duration
	// MCUTimeout bounds one command to an MCU; default 5 s.
	MCUTimeout time.Duration
	// Clock is the time of the deactivation rules and subscriptions;
	// default the system clock.
	Clock Clock
}

// defaults fills in the zero values.
func (c *Config) defaults() {
	if c.DefaultMaxSize <= 0 {
		c.DefaultMaxSize = 250
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 24 * time.Hour
	}
	if c.NoEnterpriseTimeout <= 0 {
		c.NoEnterpriseTimeout = 10 * time.Minute
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = time.Hour
	}
	if c.MinExpires <= 0 {
		c.MinExpires = time.Minute
	}
	if c.SubscriberQueue <= 0 {
		c.SubscriberQueue = 64
	}
	if c.SaveDelay <= 0 {
		c.SaveDelay = 200 * time.Millisecond
	}
	if c.MCUTimeout <= 0 {
		c.MCUTimeout = 5 * time.Second
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
}

// Focus runs the active meetings of this server. It is safe for
// concurrent use; each meeting's state is owned by its own goroutine.
type Focus struct {
	cfg     Config
	log     *slog.Logger
	answers *sipgo.DialogServerCache // INVITEs until their ACK

	mu      sync.Mutex
	confs   map[string]*conference // by focus URI, ending ones included
	dialogs map[string]*conference // by dialog ID: focus dialogs and subscriptions
	closed  bool
	// draining is set when Close starts waiting for the goroutines:
	// no new one may start (spawn).
	draining bool

	// contacts caches Config.Contact by transport.
	contacts sync.Map // string -> sip.ContactHeader

	// lobby holds the attendant's callers until an enterprise user is in
	// their meeting (lobby.go).
	lobby lobby

	// stop is closed by Close: senders and workers stop without telling
	// anybody, so that a restarted server can resume the meetings.
	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns a Focus.
func New(cfg Config, log *slog.Logger) (*Focus, error) {
	switch {
	case cfg.Meetings == nil:
		return nil, fmt.Errorf("%w: no meeting store", ErrInvalid)
	case cfg.Directory == nil:
		return nil, fmt.Errorf("%w: no directory", ErrInvalid)
	case cfg.Client == nil:
		return nil, fmt.Errorf("%w: no SIP client", ErrInvalid)
	case cfg.Contact == nil:
		return nil, fmt.Errorf("%w: no Contact", ErrInvalid)
	}
	cfg.defaults()
	return &Focus{
		cfg:     cfg,
		log:     log,
		answers: sipgo.NewDialogServerCache(cfg.Client, sip.ContactHeader{}),
		confs:   make(map[string]*conference),
		dialogs: make(map[string]*conference),
		stop:    make(chan struct{}),
	}, nil
}

// contact is our Contact for a transport.
func (f *Focus) contact(transport string) *sip.ContactHeader {
	if v, ok := f.contacts.Load(transport); ok {
		return v.(*sip.ContactHeader)
	}
	c := f.cfg.Contact(transport)
	v, _ := f.contacts.LoadOrStore(transport, &c)
	return v.(*sip.ContactHeader)
}

// Handles reports whether req is addressed to a Focus: its Request-URI is
// a conference URI of the focus service
// (sip:ORGANIZER;gruu;opaque=app:conf:focus:id:KEY).
func Handles(req *sip.Request) bool {
	_, svc, _, ok := c3p.ParseConferenceURI(req.Recipient.String())
	return ok && svc == c3p.ServiceFocus
}

// Owns reports whether req belongs to one of the Focus's dialogs: a focus
// dialog (INFO, BYE, ACK, re-INVITE) or a subscription (refreshing or
// ending SUBSCRIBE).
func (f *Focus) Owns(req *sip.Request) bool {
	return f.dialogConference(req) != nil
}

// dialogConference is the conference of the dialog req belongs to.
func (f *Focus) dialogConference(req *sip.Request) *conference {
	id, ok := dialog.IDOf(req)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dialogs[id]
}

func (f *Focus) addDialog(id string, c *conference) {
	f.mu.Lock()
	f.dialogs[id] = c
	f.mu.Unlock()
}

func (f *Focus) removeDialog(id string) {
	f.mu.Lock()
	delete(f.dialogs, id)
	f.mu.Unlock()
}

// canonical is a user's or organizer's URI as the directory keeps it.
func (f *Focus) canonical(uri string) string {
	u := baseURI(uri)
	if f.cfg.Canonical != nil {
		return f.cfg.Canonical(u)
	}
	if scheme, rest, ok := strings.Cut(u, ":"); ok {
		return strings.ToLower(scheme) + ":" + strings.ToLower(rest)
	}
	return strings.ToLower(u)
}

// baseURI is a URI without angle brackets and parameters, the part by
// which the directory knows a user.
func baseURI(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimSuffix(strings.TrimPrefix(u, "<"), ">")
	u, _, _ = strings.Cut(u, ";")
	u, _, _ = strings.Cut(u, "?")
	return u
}

// conferenceOf parses a conference URI into the canonical focus URI and
// the meeting's organizer and key.
func (f *Focus) conferenceOf(uri string) (conf, organizer, key string, ok bool) {
	org, svc, key, ok := c3p.ParseConferenceURI(uri)
	if !ok || svc != c3p.ServiceFocus || !directory.ValidMeetingKey(key) {
		return "", "", "", false
	}
	org = f.canonical(org)
	return c3p.ConferenceURI(org, c3p.ServiceFocus, key), org, key, true
}

// active returns the running conference of a focus URI, nil if none.
func (f *Focus) active(conf string) *conference {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.confs[conf]; c != nil && !c.ending {
		return c
	}
	return nil
}

// Active lists the focus URIs of the running meetings.
func (f *Focus) Active() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.confs))
	for uri, c := range f.confs {
		if !c.ending {
			out = append(out, uri)
		}
	}
	return out
}

// Close stops the Focus without ending its meetings: their state is saved
// (when a StateStore is configured) and nobody is told, so that Resume on
// the next start carries on. It waits for the meetings' goroutines until
// ctx is done.
func (f *Focus) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	confs := make([]*conference, 0, len(f.confs))
	for _, c := range f.confs {
		confs = append(confs, c)
	}
	f.mu.Unlock()
	for _, c := range confs {
		c.shutdown(ctx)
	}
	close(f.stop)
	f.mu.Lock()
	f.draining = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("focus: closing: %w", ctx.Err())
	}
}

// spawn runs fn on a goroutine that Close waits for. Once Close waits, it
// starts nothing: by then every meeting has stopped.
func (f *Focus) spawn(fn func()) {
	f.mu.Lock()
	if f.draining {
		f.mu.Unlock()
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// OrganizerRemoved ends the meetings of an organizer whom an
// administrator disabled or deleted (seed 003, "Meeting Deactivation").
// It returns how many it ended.
func (f *Focus) OrganizerRemoved(organizer string) int {
	org := f.canonical(organizer)
	f.mu.Lock()
	var ending []*conference
	for _, c := range f.confs {
		if c.organizer == org && !c.ending {
			ending = append(ending, c)
		}
	}
	f.mu.Unlock()
	for _, c := range ending {
		c.post(func() { c.deactivate("the organizer was disabled or deleted") })
	}
	return len(ending)
}

// End ends a meeting as its organizer would (deleteConference): everyone
// is disconnected. It is for administrators.
func (f *Focus) End(conference string) error {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok {
		return fmt.Errorf("%w: %q is not a conference URI", ErrInvalid, conference)
	}
	c := f.active(conf)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNotActive, conf)
	}
	c.post(func() { c.deactivate("ended by an administrator") })
	return nil
}

// LegJoined records a participant's audio leg at the A/V MCU: his roster
// entry gains an audio-video endpoint. It is the A/V MCU's participant
// event; conference is the focus URI, user the leg's authenticated user.
func (f *Focus) LegJoined(conference, user, legID string) {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok {
		return
	}
	if c := f.active(conf); c != nil {
		u := f.canonical(user)
		c.post(func() { c.legJoined(u, legID) })
	}
}

// LegLeft removes an audio leg from the roster.
func (f *Focus) LegLeft(conference, user, legID, reason string) {
	conf, _, _, ok := f.conferenceOf(conference)
	if !ok {
		return
	}
	if c := f.active(conf); c != nil {
		u := f.canonical(user)
		c.post(func() { c.legLeft(u, legID, reason) })
	}
}
