//go:build linux

package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParticipantAddresses(t *testing.T) {
	for _, n := range []int{1, 250, 251, 10000} {
		seen := map[string]bool{}
		for i := range n {
			a := participantAddr(i)
			if !a.IsLoopback() || seen[a.String()] {
				t.Fatalf("participant %d: %v (loopback %v, duplicate %v)", i, a, a.IsLoopback(), seen[a.String()])
			}
			seen[a.String()] = true
			if got, ok := participantIndex(a, n); !ok || got != i {
				t.Fatalf("participantIndex(%v) = %d, %v; want %d", a, got, ok, i)
			}
		}
		if _, ok := participantIndex(participantAddr(n), n); ok {
			t.Errorf("address of participant %d accepted with %d participants", n, n)
		}
	}
	for _, bad := range []string{"127.0.0.1", "127.2.0.0", "127.2.0.251", "10.2.0.1"} {
		if _, ok := participantIndex(mustAddr(bad), 10000); ok {
			t.Errorf("participantIndex(%s) accepted", bad)
		}
	}
}

func TestOptionsAreBounded(t *testing.T) {
	good := options{participants: 10, srtp: "none", duration: time.Second, warmup: time.Second, sockets: 2, talkEvery: 25}
	if err := good.check(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for name, change := range map[string]func(o *options){
		"too many":       func(o *options) { o.participants = maxParticipants + 1 },
		"none":           func(o *options) { o.participants = 0 },
		"too long":       func(o *options) { o.duration = maxDuration + time.Second },
		"long warm-up":   func(o *options) { o.warmup = time.Minute },
		"suite":          func(o *options) { o.srtp = "des" },
		"remote server":  func(o *options) { o.connect = "192.0.2.1:5000" },
		"sockets":        func(o *options) { o.sockets = 0 },
		"speakers":       func(o *options) { o.speakers = 99 },
		"nice":           func(o *options) { o.clientNice = 20 },
		"nice in-proc":   func(o *options) { o.clientNice = 5; o.inProcess = true },
		"negative talks": func(o *options) { o.talkEvery = -1 },
	} {
		o := good
		change(&o)
		if err := o.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSmallRun measures a tiny conference in-process, plain and with SRTP:
// every packet arrives and verifies.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	for _, suite := range []string{"none", "gcm"} {
		o := options{participants: 30, srtp: suite, duration: time.Second, warmup: 500 * time.Millisecond,
			inProcess: true, sockets: 2, talkEvery: 10}
		r, err := run(o, serverOpts{})
		if err != nil {
			t.Fatalf("%s: %v", suite, err)
		}
		var out bytes.Buffer
		r.print(&out)
		t.Log(out.String())
		if r.legs != 30 || r.after.Lost != r.before.Lost || r.cli.lost != 0 || r.cli.verifyFail != 0 || r.cli.verified == 0 {
			t.Errorf("%s: legs %d, server loss %d, client loss %d, verified %d/%d failed",
				suite, r.legs, r.after.Lost-r.before.Lost, r.cli.lost, r.cli.verified, r.cli.verifyFail)
		}
		if r.cli.rx < 30*40 || r.cli.sent < 30*40 {
			t.Errorf("%s: sent %d, received %d in 1 s of 30 participants, want ~1500 each", suite, r.cli.sent, r.cli.rx)
		}
		if !strings.Contains(out.String(), "RESULT n=30 srtp="+suite) {
			t.Errorf("%s: no RESULT line", suite)
		}
	}
}

// TestCapacityIsRefusedGracefully asks for more legs than the MCU takes.
func TestCapacityIsRefusedGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	o := options{participants: 25, srtp: "none", duration: time.Second, warmup: 300 * time.Millisecond, inProcess: true, sockets: 1}
	r, err := run(o, serverOpts{MaxLegs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.legs != 20 || r.refused != 5 || !strings.Contains(r.refusedWhy, "capacity") {
		t.Errorf("legs %d, refused %d (%s); want 20 and 5 for capacity", r.legs, r.refused, r.refusedWhy)
	}
	if r.cli.lost != 0 || r.after.Lost != r.before.Lost || r.cli.rx < 20*40 {
		t.Errorf("the admitted legs suffered: client loss %d, server loss %d, received %d", r.cli.lost, r.after.Lost-r.before.Lost, r.cli.rx)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestProbeQuantiles checks the scheduling probe's summary on known
// samples (the probe's thread is not started: only the arithmetic).
func TestProbeQuantiles(t *testing.T) {
	for _, c := range []struct {
		n                   int
		p50, p99, p999, max time.Duration
	}{
		{0, 0, 0, 0, 0},
		{1, 1, 1, 1, 1},
		{1000, 501, 991, 1000, 1000},
		{20000, 10001, 19801, 19981, 20000},
	} {
		p := &schedProbe{}
		for i := c.n; i >= 1; i-- { // unsorted on purpose
			p.samples = append(p.samples, time.Duration(i))
		}
		s := p.stats()
		if s.Ticks != uint64(c.n) || s.P50 != c.p50 || s.P99 != c.p99 || s.P999 != c.p999 || s.Max != c.max || s.Over != 0 {
			t.Errorf("%d samples: %+v, want p50 %v p99 %v p99.9 %v max %v", c.n, s, c.p50, c.p99, c.p999, c.max)
		}
		p.reset()
		if len(p.samples) != 0 {
			t.Errorf("reset left %d samples", len(p.samples))
		}
	}
}

// TestProbeStalls checks that the probe counts wake-ups later than the
// target, and only those.
func TestProbeStalls(t *testing.T) {
	p := &schedProbe{samples: []time.Duration{30 * time.Millisecond, time.Millisecond, targetLag, targetLag + 1, 0}}
	if s := p.stats(); s.Over != 2 || s.Max != 30*time.Millisecond {
		t.Errorf("stats %+v, want 2 over %v and max 30ms", s, targetLag)
	}
}

// TestVerdict checks which measures fail a run: the frame clock's lag, not
// the stricter send lag, and frames a whole frame late.
func TestVerdict(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		set  func(r *result)
		want string // a failure that must be listed; "" for a pass
	}{
		{"clean", func(*result) {}, ""},
		{"late sends only", func(r *result) { r.after.Load.SendLag.P999 = 12 * ms }, ""},
		{"late clock", func(r *result) { r.after.Load.TickLag.P999 = 5 * ms }, "tick lag p99.9 5ms"},
		{"gaps", func(r *result) { r.cli.gaps = 3 }, "3 frames a whole frame late"},
		{"server loss", func(r *result) { r.after.Lost = 7 }, "server-side loss 7"},
		{"client loss", func(r *result) { r.cli.lost = 2 }, "client-side loss 2"},
		{"socket buffers", func(r *result) { r.rcvbuf1 = 9 }, "9 datagrams dropped"},
		{"skipped", func(r *result) { r.after.Load.SkippedTicks = 1 }, "1 ticks skipped"},
		{"memory", func(r *result) { r.after.RSSKiB = 64 * 100 }, "KiB per participant"},
	} {
		r := &result{legs: 100}
		r.after.Load.TickLag.P999 = 4 * ms
		r.after.Load.SendLag.P999 = 4 * ms
		c.set(r)
		r.evaluate()
		got := strings.Join(r.failures, "; ")
		switch {
		case c.want == "" && !r.ok:
			t.Errorf("%s: failed with %q, want a pass", c.name, got)
		case c.want != "" && (r.ok || !strings.Contains(got, c.want)):
			t.Errorf("%s: ok %v, failures %q; want %q", c.name, r.ok, got, c.want)
		}
	}
}
