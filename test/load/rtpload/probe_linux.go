//go:build linux

package main

import (
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parleyhq/parley/internal/avmcu"
)

// probePeriod is how often the scheduling probe asks to run.
const probePeriod = time.Millisecond

// maxProbeSamples bounds the probe's memory: a whole window at 1 kHz.
const maxProbeSamples = int((maxDuration + maxWarmup) / probePeriod)

// schedProbe measures the machine's scheduling latency as the MCU's threads
// see it: a thread of the MCU's process, at the MCU's priority but apart
// from its Go scheduler (locked to its own OS thread and sleeping in
// nanosleep), wakes every millisecond and records how late it woke. The
// tick lag can be no better than this: when the probe's p99.9 is as high as
// the MCU's, the tail is the box (the generator, other processes, the
// hypervisor), not the engine.
type schedProbe struct {
	mu      sync.Mutex
	samples []time.Duration
}

func newSchedProbe() *schedProbe {
	p := &schedProbe{samples: make([]time.Duration, 0, maxProbeSamples)}
	go p.run()
	return p
}

func (p *schedProbe) run() {
	runtime.LockOSThread() // never returns the thread: the probe lives as long as the process
	ts := unix.NsecToTimespec(int64(probePeriod))
	for {
		t0 := time.Now()
		rem := ts
		for unix.Nanosleep(&rem, &rem) == unix.EINTR {
		}
		late := time.Since(t0) - probePeriod
		p.mu.Lock()
		if len(p.samples) < cap(p.samples) {
			p.samples = append(p.samples, late)
		}
		p.mu.Unlock()
	}
}

// probeStats summarizes the probe over a window.
type probeStats struct {
	avmcu.LagStats
	// Over counts wake-ups later than targetLag: stalls that by themselves
	// break the target for whatever runs on the machine then.
	Over int `json:"over"`
}

// reset starts a window.
func (p *schedProbe) reset() {
	p.mu.Lock()
	p.samples = p.samples[:0]
	p.mu.Unlock()
}

// stats returns the window's quantiles, in the engine's form, and its
// stalls.
func (p *schedProbe) stats() probeStats {
	p.mu.Lock()
	s := slices.Clone(p.samples)
	p.mu.Unlock()
	if len(s) == 0 {
		return probeStats{}
	}
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	over := len(s) - sort.Search(len(s), func(i int) bool { return s[i] > targetLag })
	return probeStats{
		LagStats: avmcu.LagStats{Ticks: uint64(len(s)), P50: q(0.5), P99: q(0.99), P999: q(0.999), Max: s[len(s)-1]},
		Over:     over,
	}
}
