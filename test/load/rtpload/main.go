//go:build linux

// Command rtpload measures Parley's audio MCU (internal/avmcu) under load:
// N participants in one conference, each sending one 20 ms PCMU packet
// (plain, or SRTP) every 20 ms and receiving the mix.
//
//	rtpload -participants 4000 -srtp none -duration 10s
//	rtpload -participants 2000 -srtp aescm -duration 10s
//	rtpload -participants 500 -max-legs 400     # capacity: ErrFull, gracefully
//
// By default the MCU runs in a child process (rtpload -serve), so that its
// CPU time (getrusage) and memory (VmRSS) are its own; -in-process runs it
// on goroutines of this process instead. Legs are set up over a small JSON
// control channel on loopback TCP, not SIP: signalling is not what is
// measured here.
//
// The client simulates the participants on a few sockets with batched
// sendmmsg/recvmmsg. Each participant has its own source address in
// 127.2.0.0/16 (the MCU tells legs apart by address), chosen per datagram
// with IP_PKTINFO; sends are spread evenly over the 20 ms frame. One in 25
// participants talks (a tone, 1 s on and 1 s off), the others send µ-law
// silence, so the mixer selects, mixes and encodes for real.
//
// After a warm-up, a measurement window of -duration: packets each side
// sent and received, loss on each side (RTP sequence gaps: the MCU's
// receiver statistics, and the client's), inter-arrival gaps over 40 ms at
// the client (from the kernel's receive timestamps, SO_TIMESTAMPNS, so that
// the client's own scheduling does not count), the MCU's tick lag (its
// frame clock) and send lag quantiles, a scheduling probe's in the MCU
// process (under load, and on the idle machine for -idle before it),
// server CPU per participant-second and server memory per participant,
// and the CPU other processes used meanwhile (the machine may be shared).
// The verdict is issue 4's target (README.md, "The verdict"). -client-nice lowers the generator's priority so that it takes
// less scheduling latency from the MCU on the same cores; -server-profile
// and -server-trace record the MCU's window. test/load/mcu_bench.sh runs a
// table of configurations; README.md has the figures.
//
// Everything is on loopback and bounded: at most 10,000 participants (500
// kpps each way), at most 60 s of load, and the server exits on its own
// when the client goes away or a deadline passes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/sdes"
)

// Bounds.
const (
	maxParticipants = 10000
	maxDuration     = 60 * time.Second
	maxWarmup       = 10 * time.Second
	setupChunk      = 200
)

type options struct {
	participants int
	srtp         string
	duration     time.Duration
	warmup       time.Duration
	inProcess    bool
	connect      string
	maxLegs      int
	speakers     int
	talkEvery    int
	sockets      int
	workers      int
	srvSockets   int
	profile      string
	clientProcs  int
	clientNice   int
	trace        string
	idle         time.Duration
}

func main() {
	var o options
	var serve bool
	var maxLife time.Duration
	flag.IntVar(&o.participants, "participants", 1000, "participants in the conference (1-10000)")
	flag.StringVar(&o.srtp, "srtp", "none", "none, aescm (AES_CM_128_HMAC_SHA1_80) or gcm (AEAD_AES_128_GCM)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measurement window (at most 60s)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the window (at most 10s)")
	flag.BoolVar(&o.inProcess, "in-process", false, "run the MCU on goroutines of this process (server CPU is then not separable)")
	flag.StringVar(&o.connect, "connect", "", "control address of an MCU started with -serve (loopback only)")
	flag.IntVar(&o.maxLegs, "max-legs", 0, "the MCU's capacity (0: the engine default)")
	flag.IntVar(&o.speakers, "speakers", 0, "voices mixed: 0 for the mixer default (top 3), -1 for a full N-1 mix")
	flag.IntVar(&o.talkEvery, "talk-every", 25, "one participant in this many talks (0: nobody)")
	flag.IntVar(&o.sockets, "client-sockets", 2, "client sockets (1-16)")
	flag.IntVar(&o.workers, "workers", 0, "MCU tick workers (0: GOMAXPROCS)")
	flag.IntVar(&o.srvSockets, "server-sockets", 0, "MCU sockets sharing the RTP port (0: the engine default)")
	flag.StringVar(&o.profile, "server-profile", "", "write the MCU's CPU profile of the window to this file")
	flag.IntVar(&o.clientProcs, "client-procs", 0, "GOMAXPROCS of the load generator (0: unchanged)")
	flag.IntVar(&o.clientNice, "client-nice", 0, "nice value of the load generator (0-19), so that it takes less latency from the MCU")
	flag.StringVar(&o.trace, "server-trace", "", "write an execution trace of the MCU's first second of the window to this file")
	flag.DurationVar(&o.idle, "idle", 3*time.Second, "before the load, watch the idle box's scheduling for this long (0: skip; at most 10s)")
	flag.BoolVar(&serve, "serve", false, "run as the MCU server process (used by the client)")
	flag.DurationVar(&maxLife, "max-life", 2*time.Minute, "with -serve: exit after this long regardless")
	flag.Parse()

	so := serverOpts{MaxLegs: o.maxLegs, Speakers: o.speakers, Workers: o.workers, Sockets: o.srvSockets, Profile: o.profile, Trace: o.trace}
	if serve {
		if err := runServe(so, min(maxLife, maxDuration+maxWarmup+2*time.Minute)); err != nil {
			fmt.Fprintln(os.Stderr, "rtpload -serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "rtpload:", err)
		os.Exit(2)
	}
	if o.clientProcs > 0 && !o.inProcess {
		runtime.GOMAXPROCS(o.clientProcs)
	}
	r, err := run(o, so)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtpload:", err)
		os.Exit(1)
	}
	r.print(os.Stdout)
	if !r.ok {
		os.Exit(3)
	}
}

func (o *options) check() error {
	switch {
	case o.participants < 1 || o.participants > maxParticipants:
		return fmt.Errorf("-participants %d not in 1-%d", o.participants, maxParticipants)
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("-duration %v not in (0, %v]", o.duration, maxDuration)
	case o.warmup < 0 || o.warmup > maxWarmup:
		return fmt.Errorf("-warmup %v not in [0, %v]", o.warmup, maxWarmup)
	case o.idle < 0 || o.idle > maxWarmup:
		return fmt.Errorf("-idle %v not in [0, %v]", o.idle, maxWarmup)
	case o.sockets < 1 || o.sockets > 16:
		return fmt.Errorf("-client-sockets %d not in 1-16", o.sockets)
	case o.speakers != mix.AllSpeakers && (o.speakers < 0 || o.speakers > mix.MaxSpeakers):
		return fmt.Errorf("-speakers %d", o.speakers)
	case o.talkEvery < 0:
		return fmt.Errorf("-talk-every %d", o.talkEvery)
	case o.clientNice < 0 || o.clientNice > 19 || (o.clientNice > 0 && o.inProcess):
		return fmt.Errorf("-client-nice %d: 0-19, and not with -in-process", o.clientNice)
	}
	if _, err := o.suite(); err != nil {
		return err
	}
	if o.connect != "" {
		ap, err := netip.ParseAddrPort(o.connect)
		if err != nil || !ap.Addr().IsLoopback() {
			return fmt.Errorf("-connect %q: only loopback addresses are allowed", o.connect)
		}
	}
	return nil
}

func (o *options) suite() (sdes.Suite, error) {
	switch o.srtp {
	case "none", "":
		return 0, nil
	case "aescm":
		return sdes.SuiteAESCM80, nil
	case "gcm":
		return sdes.SuiteGCM128, nil
	}
	return 0, fmt.Errorf("-srtp %q: want none, aescm or gcm", o.srtp)
}

// control is the client's end of the control channel.
type control struct {
	conn net.Conn
	enc  *json.Encoder
	dec  *json.Decoder
}

func dialControl(addr string) (*control, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &control{conn: conn, enc: json.NewEncoder(conn), dec: json.NewDecoder(bufio.NewReader(conn))}, nil
}

func (c *control) call(req request) (response, error) {
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	var res response
	if err := c.enc.Encode(req); err != nil {
		return res, err
	}
	if err := c.dec.Decode(&res); err != nil {
		return res, err
	}
	if res.Error != "" {
		return res, errors.New(res.Error)
	}
	return res, nil
}

// startServer starts the MCU: a child process, or goroutines here.
func startServer(ctx context.Context, o options, so serverOpts) (addr string, pid int, wait func(), err error) {
	if o.connect != "" {
		return o.connect, 0, func() {}, nil
	}
	if o.inProcess {
		s, err := newMCUServer(so)
		if err != nil {
			return "", 0, nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", 0, nil, err
		}
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.e.Run(sctx) })
		wg.Go(func() {
			defer ln.Close()
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = s.serveControl(conn)
			_ = conn.Close()
		})
		return ln.Addr().String(), os.Getpid(), func() { cancel(); _ = ln.Close(); wg.Wait() }, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	life := o.idle + o.warmup + o.duration + time.Minute
	args := []string{"-serve", fmt.Sprintf("-max-life=%v", life), fmt.Sprintf("-max-legs=%d", so.MaxLegs),
		fmt.Sprintf("-speakers=%d", so.Speakers), fmt.Sprintf("-workers=%d", so.Workers), fmt.Sprintf("-server-sockets=%d", so.Sockets), "-server-profile=" + so.Profile, "-server-trace=" + so.Trace}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", 0, nil, fmt.Errorf("server did not start: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "control ")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", 0, nil, fmt.Errorf("server said %q", line)
	}
	return addr, cmd.Process.Pid, func() { _ = cmd.Wait() }, nil
}

// run performs one measurement.
func run(o options, so serverOpts) (*result, error) {
	suite, _ := o.suite()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, pid, waitServer, err := startServer(ctx, o, so)
	if err != nil {
		return nil, err
	}
	defer waitServer()
	if o.clientNice > 0 {
		// After the child started, which must not inherit it.
		if err := niceAll(o.clientNice); err != nil {
			return nil, err
		}
	}
	ctl, err := dialControl(addr)
	if err != nil {
		return nil, fmt.Errorf("control channel: %w", err)
	}
	defer func() { _, _ = ctl.call(request{Op: "quit"}); _ = ctl.conn.Close() }()

	conns, port, err := listenClient(o.sockets, 0)
	if err != nil {
		return nil, fmt.Errorf("client sockets: %w", err)
	}
	parts, err := newParticipants(o.participants, o.talkEvery, suite)
	if err != nil {
		return nil, err
	}
	c := &client{parts: parts, conns: conns}
	r := &result{opt: o, pid: pid}

	// The box's own stalls, before any load: a virtual machine's vCPU
	// can be descheduled for tens of milliseconds, which no code in
	// either process can hide, and the reader of the result must know.
	if o.idle > 0 {
		if _, err := ctl.call(request{Op: "idle"}); err != nil {
			return nil, err
		}
		time.Sleep(o.idle)
		res, err := ctl.call(request{Op: "idle"})
		if err != nil {
			return nil, err
		}
		r.idle = res.Idle
	}

	// Set the legs up.
	setupStart := time.Now()
	for lo := 0; lo < len(parts); lo += setupChunk {
		hi := min(lo+setupChunk, len(parts))
		req := request{Op: "add"}
		for _, p := range parts[lo:hi] {
			lr := legReq{Remote: netip.AddrPortFrom(p.addr, uint16(port)).String()}
			if p.offer != nil {
				lr.Crypto = p.offer[0].String()
			}
			req.Legs = append(req.Legs, lr)
		}
		res, err := ctl.call(req)
		if err != nil {
			return nil, fmt.Errorf("add legs: %w", err)
		}
		if c.server, err = netip.ParseAddrPort(res.RTP); err != nil || !c.server.Addr().IsLoopback() {
			return nil, fmt.Errorf("the MCU's RTP address %q is not loopback", res.RTP)
		}
		for i, p := range parts[lo:hi] {
			if res.Refused[i] != "" {
				r.refused++
				r.refusedWhy = res.Refused[i]
				continue
			}
			if p.offer != nil {
				n, err := sdes.AcceptAnswer(p.offer, res.Answers[i])
				if err != nil {
					return nil, fmt.Errorf("SDES answer: %w", err)
				}
				if p.srtp, err = sdes.NewSession(n); err != nil {
					return nil, err
				}
			}
			p.active = true
			r.legs++
		}
	}
	r.setup = time.Since(setupStart)

	// Run: receivers, then senders.
	c.start = time.Now()
	var rx, tx sync.WaitGroup
	for i := range conns {
		rx.Go(func() { c.recvLoop(i) })
	}
	sendCtx, stopSending := context.WithCancel(ctx)
	for i := range conns {
		tx.Go(func() { c.sendLoop(sendCtx, i) })
	}
	stop := func() {
		stopSending()
		tx.Wait()
		time.Sleep(100 * time.Millisecond)
		for _, cc := range conns {
			_ = cc.c.Close()
		}
		rx.Wait()
	}
	time.Sleep(o.warmup)

	// The window.
	res0, err := ctl.call(request{Op: "reset"})
	if err != nil {
		stop()
		return nil, err
	}
	r.before = *res0.Stats
	r.cliUser0, r.cliSys0 = rusage()
	r.busy0, r.total0 = cpuBusy()
	r.rcvbuf0, r.inerr0 = udpCounters()
	c.measuring.Store(true)
	t0 := time.Now()
	time.Sleep(o.duration)
	c.measuring.Store(false)
	r.window = time.Since(t0)
	res1, err := ctl.call(request{Op: "stats"})
	r.cliUser1, r.cliSys1 = rusage()
	r.busy1, r.total1 = cpuBusy()
	r.rcvbuf1, r.inerr1 = udpCounters()
	stop()
	if err != nil {
		return nil, err
	}
	r.after = *res1.Stats
	r.cli = c.totals()
	r.rtcp = c.rtcp.Load()
	r.unknown = c.unknown.Load()
	r.evaluate()
	return r, nil
}
