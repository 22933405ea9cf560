package jitter

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors returned by Push. They describe the packet, not the buffer, which
// stays usable; each is counted in Stats.
var (
	// ErrOversize rejects a payload larger than Config.MaxPayload.
	ErrOversize = errors.New("jitter: payload larger than a slot")
	// ErrLate rejects a packet whose frame was already played or concealed.
	ErrLate = errors.New("jitter: packet arrived after its playout time")
	// ErrDuplicate rejects a second copy of a buffered frame.
	ErrDuplicate = errors.New("jitter: duplicate packet")
	// ErrJump rejects a packet far outside the buffer's window, while the
	// buffer waits for more packets to confirm a stream restart.
	ErrJump = errors.New("jitter: timestamp far outside the window")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("jitter: invalid configuration")
)

// Config sizes and tunes a Buffer. Zero fields take the defaults.
type Config struct {
	// ClockRate is the RTP clock rate in Hz. Default 8000 (G.711, and G.722
	// per RFC 3551 §4.5.2).
	ClockRate int
	// Frame is the tick interval and the media duration of one packet.
	// Default 20 ms.
	Frame time.Duration
	// Capacity is the number of frame slots, a power of two. Default 32
	// (640 ms at 20 ms), which holds MaxDelay plus a burst.
	Capacity int
	// MaxPayload is the size of a slot in bytes. Default 320 (20 ms of
	// 16-bit PCM at 8 kHz; G.711 and G.722 need 160).
	MaxPayload int
	// MinDelay is the smallest target delay. Default one Frame.
	MinDelay time.Duration
	// MaxDelay is the largest target delay. Default 200 ms.
	MaxDelay time.Duration
	// Silent, when set, tells whether a payload is silence or comfort
	// noise, where adding or dropping a frame is inaudible. It is called
	// once per accepted packet. Nil makes every frame eligible.
	Silent func(payload []byte) bool
}

// Default configuration values.
const (
	DefaultClockRate  = 8000
	DefaultFrame      = 20 * time.Millisecond
	DefaultCapacity   = 32
	DefaultMaxPayload = 320
	DefaultMaxDelay   = 200 * time.Millisecond
)

// Tuning constants. Durations are relative to the frame where it matters.
const (
	// quantile of transit deviation the target covers: 2% of packets may
	// come too late when jitter has a long tail, rather than delaying all.
	quantile = 0.98
	// minWindow is the number of packets over which the minimum transit
	// is taken: 1.3 s, short enough that 0.5% drift moves it by under 7 ms.
	minWindow = 64
	// restartAfter consecutive far packets confirm a stream restart.
	restartAfter = 3
	// idleFrames without any packet, buffer empty, mean the sender went
	// silent (DTX) or away: stop concealing and re-anchor later.
	idleFrames = 10
	// waitFrames is how long a delay change waits for a silent frame.
	waitFrames = 50
)

// Status says what Pop produced.
type Status uint8

const (
	// Idle means no stream, the buffer is filling, or the sender is silent.
	// Play silence or comfort noise; there is nothing to conceal.
	Idle Status = iota
	// Ready means the frame was copied into dst.
	Ready
	// Lost means the frame due now is missing (lost or late); conceal it.
	Lost
	// Inserted means the buffer holds back its frames for one tick to grow the
	// delay; conceal as for Lost (repeating silence during silence).
	Inserted
)

// Conceal reports whether the caller should run packet loss concealment.
func (s Status) Conceal() bool { return s == Lost || s == Inserted }

// String returns the status name.
func (s Status) String() string {
	switch s {
	case Idle:
		return "idle"
	case Ready:
		return "ready"
	case Lost:
		return "lost"
	case Inserted:
		return "inserted"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Frame describes the result of one Pop.
type Frame struct {
	Status Status
	// N is the number of payload bytes copied into dst (Ready only). It is
	// less than the payload when dst is shorter.
	N int
	// SSRC, Seq and TS are the RTP fields of the frame (Ready only).
	SSRC uint32
	Seq  uint16
	TS   uint32
}

// Stats are cumulative counters and current estimates.
type Stats struct {
	// Received counts packets accepted into the buffer.
	Received uint64
	// Late counts packets that arrived after their frame's tick.
	Late uint64
	// Duplicate counts second copies of buffered frames.
	Duplicate uint64
	// Oversize counts payloads larger than a slot.
	Oversize uint64
	// Dropped counts frames and packets discarded unplayed: to shrink the
	// delay, to make room after a burst beyond capacity, or far outside
	// the window before a restart was confirmed.
	Dropped uint64
	// Concealed counts Pops that returned Lost or Inserted.
	Concealed uint64
	// Inserted counts the Concealed Pops that grew the delay.
	Inserted uint64
	// Resets counts restarts on a new SSRC or a timestamp jump.
	Resets uint64
	// Delay is the current playout delay: how long a packet of minimum
	// transit waits in the buffer. Zero while not playing.
	Delay time.Duration
	// Target is the delay the buffer steers to.
	Target time.Duration
	// Jitter is the RFC 3550 §6.4.1 interarrival jitter estimate.
	Jitter time.Duration
}

// slot holds one frame.
type slot struct {
	used   bool
	silent bool
	frame  int64 // frame index, since the stream's first timestamp
	ssrc   uint32
	seq    uint16
	ts     uint32
	n      int
}

// Buffer is an adaptive jitter buffer for one RTP stream. Push and Pop may
// be called from different goroutines.
type Buffer struct {
	cfg        Config
	tsPerFrame int64 // RTP timestamp units per frame
	frameNs    int64
	mask       int64

	mu    sync.Mutex
	slots []slot
	data  []byte // Capacity × MaxPayload

	// stream
	active bool
	ssrc   uint32
	tsBase int64 // extended timestamp of frame 0
	extRef int64 // newest extended timestamp, for unwrapping
	probe  probe

	// playout
	playing  bool
	idle     bool  // playing, but the sender is silent: Pops return Idle
	next     int64 // frame due at the next Pop
	oldest   int64 // lowest buffered frame while not playing
	count    int
	quiet    int  // consecutive Pops with nothing buffered
	waited   int  // Pops spent waiting for a silent frame
	lastSafe bool // the last frame played was silent

	// timing
	epoch    time.Time
	started  bool
	lastRecv int64 // ns since epoch
	transit  transitStats

	stats Stats
}

// probe tracks packets far outside the window that may be a restart.
type probe struct {
	n    int
	ssrc uint32
	seq  uint16
	ts   uint32
}

// New returns a Buffer. It allocates all its memory here.
func New(cfg Config) (*Buffer, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = DefaultClockRate
	}
	if cfg.Frame == 0 {
		cfg.Frame = DefaultFrame
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = cfg.Frame
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	tsPerFrame := int64(cfg.ClockRate) * int64(cfg.Frame) / int64(time.Second)
	switch {
	case cfg.ClockRate < 0 || cfg.Frame < time.Millisecond || tsPerFrame <= 0 ||
		tsPerFrame*int64(time.Second) != int64(cfg.ClockRate)*int64(cfg.Frame):
		return nil, fmt.Errorf("%w: frame %v at %d Hz is not a whole number of samples", ErrConfig, cfg.Frame, cfg.ClockRate)
	case cfg.Capacity < 4 || cfg.Capacity > 1024 || cfg.Capacity&(cfg.Capacity-1) != 0:
		return nil, fmt.Errorf("%w: capacity %d is not a power of two in 4-1024", ErrConfig, cfg.Capacity)
	case cfg.MaxPayload < 1 || cfg.MaxPayload > 8192:
		return nil, fmt.Errorf("%w: max payload %d", ErrConfig, cfg.MaxPayload)
	case cfg.MinDelay < 0 || cfg.MaxDelay < cfg.MinDelay:
		return nil, fmt.Errorf("%w: delay range %v-%v", ErrConfig, cfg.MinDelay, cfg.MaxDelay)
	case cfg.MaxDelay > time.Duration(cfg.Capacity-2)*cfg.Frame:
		return nil, fmt.Errorf("%w: max delay %v does not fit %d slots", ErrConfig, cfg.MaxDelay, cfg.Capacity)
	}
	b := &Buffer{
		cfg:        cfg,
		tsPerFrame: tsPerFrame,
		frameNs:    int64(cfg.Frame),
		mask:       int64(cfg.Capacity - 1),
		slots:      make([]slot, cfg.Capacity),
		data:       make([]byte, cfg.Capacity*cfg.MaxPayload),
	}
	b.transit.init(cfg)
	return b, nil
}

// Reset forgets the stream and the buffered frames, keeping the jitter
// history (the network is the same). Call it when the leg's media source
// changes in a way the RTP headers do not show.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.restart()
	b.active = false
}

// restart empties the buffer for a new stream.
func (b *Buffer) restart() {
	for i := range b.slots {
		b.slots[i].used = false
	}
	b.count, b.playing, b.idle, b.probe = 0, false, false, probe{}
	b.transit.resetWindow()
}

// Stats returns the counters and current estimates.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Target = time.Duration(b.transit.target())
	s.Jitter = time.Duration(b.transit.jitter)
	return s
}
