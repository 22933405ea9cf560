package immcu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// Defaults of Config.
const (
	// DefaultMaxParticipants is seed 003's "an IM session can include as
	// many as 100 members".
	DefaultMaxParticipants = 100
	DefaultMaxConferences  = 1000
	// DefaultQueueLength bounds what waits for one recipient.
	DefaultQueueLength = 256
	// DefaultRequestTimeout bounds one relayed request, from sending it to
	// its final answer: a recipient slower than that is gone.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxBody bounds the body of a MESSAGE or INFO: larger ones get
	// 413. It leaves room for the headers under the 65,535 bytes the
	// server's SIP parser takes by default (config sip.max_message_bytes):
	// a request past that is dropped unanswered before it reaches us.
	DefaultMaxBody = 32 << 10
)

// Events hears about participants, for the Focus's roster. Calls are made
// one at a time, in order (a participant's Joined before his Left), on a
// goroutine of the server's, never under its lock: they may call the
// server back.
type Events interface {
	// Joined reports that user joined conference's IM (conference is the
	// focus URI the Focus provisioned, endpoint the ID of his IM dialog).
	Joined(conference, user, endpoint string)
	// Left reports that he left: "bye", "ejected", "conference ended",
	// "unreachable" (his dialog failed), "too slow", "shutdown".
	Left(conference, user, endpoint, reason string)
}

// Config configures a Server.
type Config struct {
	// Hostname names this server in Warning headers.
	Hostname string
	// Contact returns our Contact for dialogs whose INVITE came on
	// transport ("udp", "tcp", "tls"): an address of this server, so that
	// in-dialog requests come back here.
	Contact func(transport string) sip.ContactHeader
	// Client sends our requests: relayed MESSAGEs and INFOs, and BYEs.
	Client *sipgo.Client
	// Events hears about participants; nil is fine.
	Events Events
	// Canonical maps a URI to the form the directory keeps (an alias
	// host such as the server's address to the domain), for organizers
	// and users alike; nil keeps URIs as they are.
	Canonical func(uri string) string
	// MaxParticipants bounds each conference; a join past it is answered
	// 486. 0 means DefaultMaxParticipants.
	MaxParticipants int
	// MaxConferences bounds the conferences provisioned at once; an
	// addConference past it fails. 0 means DefaultMaxConferences.
	MaxConferences int
	// MaxBody, QueueLength and RequestTimeout: 0 means the defaults.
	MaxBody        int
	QueueLength    int
	RequestTimeout time.Duration
}

// Metrics are the server's counters, for the operator. The gauges go up and
// down; the others only count up.
type Metrics struct {
	Conferences  atomic.Int64 // provisioned now
	Participants atomic.Int64 // in an IM dialog now
	// Received counts the MESSAGEs and INFOs accepted for relaying.
	Received atomic.Uint64
	// Relayed counts the copies a recipient answered with 2xx.
	Relayed atomic.Uint64
	// RelayFailures counts the copies that failed (non-2xx, timeout,
	// transport error).
	RelayFailures atomic.Uint64
	// Dropped counts copies never sent: typing notifications behind a busy
	// queue, and messages of a type the recipient does not accept.
	Dropped atomic.Uint64
}

// Server is the IM Conferencing Server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	answers *sipgo.DialogServerCache
	metrics Metrics
	events  eventQueue
	byes    sync.WaitGroup

	mu          sync.Mutex
	conferences map[string]*conference  // by focus URI
	dialogs     map[string]*participant // by dialog ID
	closed      bool
}

// conference is a provisioned conference. Its fields are guarded by
// Server.mu.
type conference struct {
	uri     string                  // the focus URI
	allowed map[string]allowance    // by key(entity)
	members map[string]*participant // by dialog ID
}

// allowance is a user the Focus added.
type allowance struct {
	entity string // as the Focus wrote it, canonical
	role   string
}

var errConfig = errors.New("immcu: invalid configuration")

// New makes a server; it serves once the caller routes requests to it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Client == nil || cfg.Contact == nil {
		return nil, fmt.Errorf("%w: Client and Contact are required", errConfig)
	}
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = DefaultMaxParticipants
	}
	if cfg.MaxConferences <= 0 {
		cfg.MaxConferences = DefaultMaxConferences
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	s := &Server{
		cfg: cfg, log: log,
		answers:     sipgo.NewDialogServerCache(cfg.Client, sip.ContactHeader{}),
		conferences: make(map[string]*conference),
		dialogs:     make(map[string]*participant),
	}
	s.events.start(cfg.Events)
	return s, nil
}

// SetEvents replaces the listener; the server wires the Focus in once
// both exist.
func (s *Server) SetEvents(e Events) { s.events.set(e) }

// Metrics returns the server's live counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// Handles reports whether req starts an IM session: an INVITE outside any
// dialog to a chat conference URI.
func Handles(req *sip.Request) bool {
	if req.Method != sip.INVITE {
		return false
	}
	if to := req.To(); to != nil {
		if _, inDialog := to.Params.Get("tag"); inDialog {
			return false
		}
	}
	_, svc, _, ok := c3p.ParseConferenceURI(req.Recipient.String())
	return ok && svc == c3p.MCUTypeChat
}

// Owns reports whether req belongs to one of the server's IM dialogs.
func (s *Server) Owns(req *sip.Request) bool {
	return s.participantOf(req) != nil
}

// participantOf is the participant whose dialog req is in, or nil.
func (s *Server) participantOf(req *sip.Request) *participant {
	id, ok := dialog.IDOf(req)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[id]
}

// Close ends every IM session with a BYE and waits for the BYEs and the
// events they cause, or for ctx. The server refuses joins afterwards.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var all []*participant
	for _, p := range s.dialogs {
		all = append(all, p)
	}
	s.mu.Unlock()
	for _, p := range all {
		s.remove(p, "shutdown", true)
	}
	done := make(chan struct{})
	go func() {
		s.byes.Wait()
		s.events.stop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// conferenceOf maps a focus or chat URI to the conference's name here: its
// focus URI with the organizer in canonical form, and its chat URI.
func (s *Server) conferenceOf(uri string) (focusURI, chatURI string, ok bool) {
	org, _, key, ok := c3p.ParseConferenceURI(uri)
	if !ok {
		return "", "", false
	}
	if s.cfg.Canonical != nil {
		org = s.cfg.Canonical(org)
	}
	return c3p.ConferenceURI(org, c3p.ServiceFocus, key), c3p.ConferenceURI(org, c3p.MCUTypeChat, key), true
}

// canonicalUser is a user URI in the form the SIP side authenticates:
// without brackets and parameters, with a scheme, canonical.
func (s *Server) canonicalUser(uri string) string {
	uri = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(uri), "<"), ">")
	uri, _, _ = strings.Cut(uri, ";")
	lower := strings.ToLower(uri)
	if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") && !strings.HasPrefix(lower, "tel:") {
		uri = "sip:" + uri
	}
	if s.cfg.Canonical != nil && strings.HasPrefix(strings.ToLower(uri), "sip:") {
		return s.cfg.Canonical(uri)
	}
	return uri
}

// key is how users are compared: AORs are lower-cased by the server's
// authentication, entities may not be.
func key(entity string) string { return strings.ToLower(entity) }

// eventQueue delivers Events in order on its own goroutine. Its queue is
// unbounded: the server must never block on a slow listener, and events
// are few (two per participant).
type eventQueue struct {
	mu       sync.Mutex
	listener Events
	queue    []func(Events)
	stopped  bool
	wake     chan struct{}
	done     chan struct{}
}

func (q *eventQueue) start(e Events) {
	q.listener = e
	q.wake = make(chan struct{}, 1)
	q.done = make(chan struct{})
	go q.run()
}

func (q *eventQueue) set(e Events) {
	q.mu.Lock()
	q.listener = e
	q.mu.Unlock()
}

// post queues an event; it may be called under Server.mu.
func (q *eventQueue) post(fn func(Events)) {
	q.mu.Lock()
	if !q.stopped {
		q.queue = append(q.queue, fn)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop delivers what is queued, then ends the goroutine.
func (q *eventQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

func (q *eventQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			stopped := q.stopped
			q.mu.Unlock()
			if stopped {
				return
			}
			<-q.wake
			continue
		}
		fn, listener := q.queue[0], q.listener
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		if listener != nil {
			fn(listener)
		}
	}
}
