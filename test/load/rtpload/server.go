//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/parleyhq/parley/internal/avmcu"
	"github.com/parleyhq/parley/internal/media/codec"
	"github.com/parleyhq/parley/internal/media/sdes"
)

// The control channel: JSON lines over one loopback TCP connection. It sets
// legs up and reads counters; SIP is not what this tool measures.

type request struct {
	Op   string   `json:"op"` // add, idle, reset, stats, quit
	Legs []legReq `json:"legs,omitempty"`
}

type legReq struct {
	Remote string `json:"remote"`
	Crypto string `json:"crypto,omitempty"` // the participant's a=crypto offer
}

type response struct {
	Error   string       `json:"error,omitempty"`
	RTP     string       `json:"rtp,omitempty"`
	Answers []string     `json:"answers,omitempty"` // per leg: our a=crypto answer
	Refused []string     `json:"refused,omitempty"` // per leg: why AddLeg failed, "" if it did not
	Stats   *serverStats `json:"stats,omitempty"`
	Idle    *probeStats  `json:"idle,omitempty"` // the probe since the last idle request
}

// serverStats is the server's side of a measurement.
type serverStats struct {
	Legs       int           `json:"legs"`
	Load       avmcu.Load    `json:"load"`
	Probe      probeStats    `json:"probe"`   // the scheduling probe's lateness over the window
	UserUS     int64         `json:"user_us"` // process CPU since start
	SysUS      int64         `json:"sys_us"`
	RSSKiB     int64         `json:"rss_kib"`
	RSSBaseKiB int64         `json:"rss_base_kib"` // before any leg
	HeapKiB    int64         `json:"heap_kib"`
	Rx         uint64        `json:"rx"` // sums over legs
	Tx         uint64        `json:"tx"`
	Lost       int64         `json:"lost"`
	Late       uint64        `json:"late"`
	Concealed  uint64        `json:"concealed"`
	Dropped    uint64        `json:"dropped"`
	At         time.Duration `json:"at"` // since the server started
}

// serverOpts configure the MCU under test.
type serverOpts struct {
	MaxLegs  int
	Speakers int
	Workers  int
	Sockets  int
	Profile  string // CPU profile of the window, written by the server
	Trace    string // execution trace of the first second of the window
}

// mcuServer is the MCU under test and its control channel.
type mcuServer struct {
	e       *avmcu.Engine
	conf    *avmcu.Conference
	legs    []*avmcu.Leg
	rssBase int64
	start   time.Time
	probe   *schedProbe
	profile string
	prof    *os.File
	trace   string
}

func newMCUServer(o serverOpts) (*mcuServer, error) {
	e, err := avmcu.NewEngine(avmcu.Config{
		Addr:     netip.MustParseAddr("127.0.0.1"),
		MaxLegs:  o.MaxLegs,
		Speakers: o.Speakers,
		Workers:  o.Workers,
		Sockets:  o.Sockets,
		Log:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	runtime.GC()
	return &mcuServer{e: e, conf: e.Conference("load"), rssBase: rssKiB(), start: time.Now(), probe: newSchedProbe(), profile: o.Profile, trace: o.Trace}, nil
}

// serveControl answers requests on conn until quit or EOF.
func (s *mcuServer) serveControl(conn net.Conn) error {
	dec := json.NewDecoder(bufio.NewReader(conn))
	enc := json.NewEncoder(conn)
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var res response
		var err error
		switch req.Op {
		case "add":
			res = s.add(req.Legs)
		case "idle":
			// The box before any load: what the probe saw since the
			// last idle request, and a new window.
			st := s.probe.stats()
			res.Idle = &st
			s.probe.reset()
		case "reset":
			s.e.ResetLag()
			s.probe.reset()
			res.Stats = s.stats()
			if s.profile != "" && s.prof == nil {
				if s.prof, err = os.Create(s.profile); err == nil {
					err = pprof.StartCPUProfile(s.prof)
				}
				if err != nil {
					res.Error = err.Error()
				}
			}
			if s.trace != "" {
				if err := s.startTrace(); err != nil {
					res.Error = err.Error()
				}
			}
		case "stats":
			res.Stats = s.stats()
			if s.prof != nil {
				pprof.StopCPUProfile()
				_ = s.prof.Close()
				s.prof = nil
			}
		case "quit":
			return enc.Encode(response{})
		default:
			res.Error = "unknown op " + req.Op
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
}

func (s *mcuServer) add(legs []legReq) response {
	res := response{RTP: s.e.RTPAddr().String(), Answers: make([]string, len(legs)), Refused: make([]string, len(legs))}
	for i, lr := range legs {
		remote, err := netip.ParseAddrPort(lr.Remote)
		if err != nil || !remote.Addr().IsLoopback() {
			res.Refused[i] = fmt.Sprintf("remote %q is not a loopback address", lr.Remote)
			continue
		}
		spec := avmcu.LegSpec{Remote: remote, RTCPMux: true, Codec: codec.PCMU, PayloadType: 0}
		if lr.Crypto != "" {
			n, err := sdes.Answer([]string{lr.Crypto}, nil)
			if err != nil {
				res.Refused[i] = err.Error()
				continue
			}
			spec.SRTP = &n
			res.Answers[i] = n.Local.String()
		}
		l, err := s.conf.AddLeg(spec)
		if err != nil {
			res.Refused[i] = err.Error()
			continue
		}
		s.legs = append(s.legs, l)
	}
	return res
}

func (s *mcuServer) stats() *serverStats {
	u, sy := rusage()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := &serverStats{
		Legs: len(s.legs), Load: s.e.Load(), Probe: s.probe.stats(), UserUS: u, SysUS: sy,
		RSSKiB: rssKiB(), RSSBaseKiB: s.rssBase, HeapKiB: int64(ms.HeapInuse / 1024),
		At: time.Since(s.start),
	}
	for _, l := range s.legs {
		ls := l.Stats()
		st.Rx += ls.RxPackets
		st.Tx += ls.TxPackets
		st.Lost += ls.Lost
		st.Late += ls.Late
		st.Concealed += ls.Concealed
		st.Dropped += ls.Dropped
	}
	return st
}

// runServe is `rtpload -serve`: the MCU in its own process, so that its CPU
// is measured apart from the load generator's. It prints its control
// address on stdout, serves one connection, and exits when that closes or
// after maxLife, whichever comes first.
func runServe(o serverOpts, maxLife time.Duration) error {
	s, err := newMCUServer(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), maxLife)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.e.Run(ctx) }()
	fmt.Printf("control %s\n", ln.Addr())
	go func() { <-ctx.Done(); _ = ln.Close() }()
	conn, err := ln.Accept()
	if err != nil {
		cancel()
		<-done
		return fmt.Errorf("no client within %v: %w", maxLife, err)
	}
	go func() { <-ctx.Done(); _ = conn.Close() }()
	err = s.serveControl(conn)
	cancel()
	<-done
	return err
}

// startTrace records an execution trace of the next second.
func (s *mcuServer) startTrace() error {
	f, err := os.Create(s.trace)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return err
	}
	time.AfterFunc(time.Second, func() { trace.Stop(); _ = f.Close() })
	return nil
}
