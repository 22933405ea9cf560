package avmcu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/mix"
)

// codecFrame is the tick: one 20 ms frame per leg per tick.
const codecFrame = codec.FrameDuration

// Defaults for the zero values of Config.
const (
	// DefaultSockets is the number of sockets sharing the RTP port: two
	// readers keep up with 4,000 legs on two cores (limits.md §4).
	DefaultSockets = 2
	// DefaultMaxLegs is the capacity measured real-time on a 2-core box
	// with plain RTP (limits.md §5); set it from a load test of the
	// target machine, and lower for SRTP.
	DefaultMaxLegs = 4000
	// DefaultInactivityTimeout ends a leg that sent neither RTP nor RTCP
	// for this long. A leg on hold still sends RTCP every few seconds
	// (RFC 3550 §6.2), so 30 s only catches the dead.
	DefaultInactivityTimeout = 30 * time.Second
)

// Limits on Config.
const (
	maxSockets = 64
	maxWorkers = 64
)

// Errors of the engine, its conferences and legs.
var (
	// ErrFull reports that the engine already carries Config.MaxLegs legs.
	// Signalling answers the INVITE with 503 (RFC 3261 §21.5.4); existing
	// legs are not affected.
	ErrFull = errors.New("avmcu: capacity reached")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("avmcu: invalid config")
	// ErrLegSpec reports an invalid LegSpec or RemoteUpdate.
	ErrLegSpec = errors.New("avmcu: invalid leg spec")
	// ErrAddressInUse reports a remote address another leg already has:
	// legs share the local port and are told apart by remote address.
	ErrAddressInUse = errors.New("avmcu: remote address in use by another leg")
	// ErrClosed reports use of a stopped engine, a closed conference or a
	// removed leg.
	ErrClosed = errors.New("avmcu: closed")
	// ErrRunning reports a second call of Run.
	ErrRunning = errors.New("avmcu: engine already running")
	// ErrDTMF reports a digit that is not a DTMF key.
	ErrDTMF = errors.New("avmcu: not a DTMF digit")
)

// Config configures an Engine. Zero fields take the defaults.
type Config struct {
	// Addr is the local address of the media sockets; its family is the
	// family of every leg.
	Addr netip.Addr
	// Port is the RTP port shared by every leg; RTCP uses Port+1. 0 picks
	// an even ephemeral port.
	Port int
	// Sockets is the number of sockets sharing the RTP port with
	// SO_REUSEPORT, each with its reader goroutine (default DefaultSockets;
	// 1 where SO_REUSEPORT is missing).
	Sockets int
	// Workers is the number of goroutines a large conference's tick is
	// split over (default GOMAXPROCS).
	Workers int
	// MaxLegs is the capacity: AddLeg past it returns ErrFull (default
	// DefaultMaxLegs).
	MaxLegs int
	// InactivityTimeout is how long a leg may send neither RTP nor RTCP
	// before LegEvents.OnInactive (default DefaultInactivityTimeout).
	InactivityTimeout time.Duration
	// Speakers is the number of loudest talkers mixed (mix.Config.Speakers):
	// 0 for the mixer's default top-K, mix.AllSpeakers for a full N−1 mix.
	Speakers int
	// Log receives the engine's rare diagnostics (nil: discarded).
	Log *slog.Logger
}

// Engine is the media plane of an A/V Conferencing Server: one shared RTP
// port, its readers, the tick workers, and the conferences.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	rtpAddr netip.AddrPort
	cname   string

	conns    []packetConn // share the RTP port
	rtcpConn packetConn   // RTP port + 1
	rtp      *routes      // remote RTP (and muxed RTCP) address → leg
	rtcp     *routes      // remote RTCP address → leg, for the RTCP port

	mu      sync.Mutex // guards confs, state transitions, confWG.Add
	confs   map[string]*Conference
	state   int // stateNew, stateRunning, stateStopped
	confWG  sync.WaitGroup
	started chan struct{} // closed when Run starts
	done    chan struct{} // closed when Run stops

	tasks  chan task
	events chan event
	phases atomic.Int32 // large phases running; readers back off meanwhile

	legs    atomic.Int64 // reserved capacity
	ticking atomic.Int64
	lag     histogram
	wake    histogram

	skipped, rxPackets, txPackets, unknown, refused, eventsDropped atomic.Uint64
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// NewEngine opens the media sockets. Nothing else runs until Run.
func NewEngine(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rtp, rtcp, err := listenUDP(context.Background(), cfg.Addr, cfg.Port, cfg.Sockets)
	if err != nil {
		return nil, err
	}
	conns := make([]packetConn, len(rtp))
	for i, c := range rtp {
		conns[i] = c
	}
	local := rtp[0].c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	return newEngine(cfg, conns, rtcp, netip.AddrPortFrom(cfg.Addr, local.Port())), nil
}

func (cfg Config) withDefaults() (Config, error) {
	if !cfg.Addr.IsValid() {
		return cfg, fmt.Errorf("%w: no local address", ErrConfig)
	}
	cfg.Addr = cfg.Addr.Unmap()
	if cfg.Sockets == 0 {
		cfg.Sockets = DefaultSockets
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxLegs == 0 {
		cfg.MaxLegs = DefaultMaxLegs
	}
	if cfg.InactivityTimeout == 0 {
		cfg.InactivityTimeout = DefaultInactivityTimeout
	}
	switch {
	case cfg.Port < 0 || cfg.Port > 65534:
		return cfg, fmt.Errorf("%w: port %d (RTCP needs port+1)", ErrConfig, cfg.Port)
	case cfg.Sockets < 1 || cfg.Sockets > maxSockets:
		return cfg, fmt.Errorf("%w: sockets %d not in 1-%d", ErrConfig, cfg.Sockets, maxSockets)
	case cfg.Workers < 1 || cfg.Workers > maxWorkers:
		return cfg, fmt.Errorf("%w: workers %d not in 1-%d", ErrConfig, cfg.Workers, maxWorkers)
	case cfg.MaxLegs < 0:
		return cfg, fmt.Errorf("%w: max legs %d", ErrConfig, cfg.MaxLegs)
	case cfg.InactivityTimeout < 0:
		return cfg, fmt.Errorf("%w: inactivity timeout %v", ErrConfig, cfg.InactivityTimeout)
	case cfg.Speakers != mix.AllSpeakers && (cfg.Speakers < 0 || cfg.Speakers > mix.MaxSpeakers):
		return cfg, fmt.Errorf("%w: speakers %d", ErrConfig, cfg.Speakers)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// newEngine assembles an engine over already open sockets (tests pass an
// in-memory network).
func newEngine(cfg Config, conns []packetConn, rtcp packetConn, local netip.AddrPort) *Engine {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Engine{
		cfg:      cfg,
		log:      cfg.Log,
		rtpAddr:  local,
		cname:    "avmcu-" + hex.EncodeToString(b[:]),
		conns:    conns,
		rtcpConn: rtcp,
		rtp:      newRoutes(),
		rtcp:     newRoutes(),
		confs:    make(map[string]*Conference),
		started:  make(chan struct{}),
		done:     make(chan struct{}),
		tasks:    make(chan task, 4*cfg.Workers),
		events:   make(chan event, eventQueue),
	}
}

// RTPAddr returns the local RTP address every leg shares; RTCP is on the
// next port unless a leg multiplexes it (RFC 5761).
func (e *Engine) RTPAddr() netip.AddrPort { return e.rtpAddr }

// Run reads, mixes and sends until ctx is done, then removes nothing but
// stops every goroutine and closes the sockets. It returns ErrRunning if
// called twice.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.state != stateNew {
		e.mu.Unlock()
		return ErrRunning
	}
	e.state = stateRunning
	close(e.started)
	e.mu.Unlock()

	var io, work sync.WaitGroup
	for i, c := range e.conns {
		io.Go(func() { e.readLoop(c, false, i) })
	}
	io.Go(func() { e.readLoop(e.rtcpConn, true, len(e.conns)) })
	for i := range e.cfg.Workers {
		s := newScratch(workerBatch, i%len(e.conns))
		work.Go(func() { e.worker(s) })
	}
	evCtx, stopEvents := context.WithCancel(context.Background())
	var ev sync.WaitGroup
	ev.Go(func() { e.runEvents(evCtx) })

	<-ctx.Done()
	e.mu.Lock()
	e.state = stateStopped
	close(e.done)
	e.mu.Unlock()
	e.confWG.Wait() // conferences finish their tick and stop
	close(e.tasks)
	work.Wait()
	for _, c := range e.conns {
		_ = c.close()
	}
	_ = e.rtcpConn.close()
	io.Wait()
	stopEvents()
	ev.Wait()
	return nil
}

// Conference returns the conference named id, creating it if needed. A
// conference costs nothing until it has legs.
func (e *Engine) Conference(id string) *Conference {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.confs[id]; ok {
		return c
	}
	c := newConference(e, id)
	e.confs[id] = c
	return c
}

// forget drops a closed conference from the table.
func (e *Engine) forget(c *Conference) {
	e.mu.Lock()
	if e.confs[c.id] == c {
		delete(e.confs, c.id)
	}
	e.mu.Unlock()
}

// Load is a snapshot of the engine's load, for the Conferencing Server
// Factory to pick the least loaded MCU and for monitoring.
type Load struct {
	Legs, MaxLegs int // legs now, and the capacity
	Conferences   int // open conferences
	Ticking       int // conferences with legs, whose tick runs
	// TickLag is the frame clock's lag since start or ResetLag: how late
	// each tick started after its 20 ms instant (timer resolution and CPU
	// contention).
	TickLag LagStats
	// SendLag is stricter: for each tick, how late its latest slice of
	// packets was handed to the kernel after the instant it was due. It
	// grows with CPU load long before packets are lost, which makes it the
	// measure of headroom.
	SendLag      LagStats
	SkippedTicks uint64 // ticks dropped because a conference fell over 2 frames behind
	RxPackets    uint64 // datagrams read
	TxPackets    uint64 // datagrams sent
	Unknown      uint64 // datagrams from addresses no leg has, dropped
	Refused      uint64 // datagrams the kernel refused to send
	// EventsDropped counts LegEvents lost to a full queue.
	EventsDropped uint64
}

// Load returns the current load.
func (e *Engine) Load() Load {
	e.mu.Lock()
	confs := len(e.confs)
	e.mu.Unlock()
	return Load{
		Legs:          int(e.legs.Load()),
		MaxLegs:       e.cfg.MaxLegs,
		Conferences:   confs,
		Ticking:       int(e.ticking.Load()),
		TickLag:       e.wake.stats(),
		SendLag:       e.lag.stats(),
		SkippedTicks:  e.skipped.Load(),
		RxPackets:     e.rxPackets.Load(),
		TxPackets:     e.txPackets.Load(),
		Unknown:       e.unknown.Load(),
		Refused:       e.refused.Load(),
		EventsDropped: e.eventsDropped.Load(),
	}
}

// ResetLag clears the tick lag histograms, to measure a window.
func (e *Engine) ResetLag() {
	e.lag.reset()
	e.wake.reset()
}

// reserve takes one unit of capacity.
func (e *Engine) reserve() bool {
	for {
		n := e.legs.Load()
		if n >= int64(e.cfg.MaxLegs) {
			return false
		}
		if e.legs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (e *Engine) release() { e.legs.Add(-1) }

// startConference registers a conference goroutine unless the engine has
// stopped; Run waits for all of them.
func (e *Engine) startConference(c *Conference) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == stateStopped {
		return false
	}
	e.confWG.Add(1)
	go c.loop()
	return true
}

// stopped reports whether Run has ended (or is ending).
func (e *Engine) stopped() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
