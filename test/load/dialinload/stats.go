package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// percentile returns the p-th percentile (0-100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the
// values at or below it; 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summary is p50/p90/p99/max of ds in milliseconds.
type summary struct {
	n                  int
	p50, p90, p99, max float64
}

func summarize(ds []time.Duration) summary {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := summary{n: len(s)}
	if len(s) > 0 {
		out.p50, out.p90, out.p99, out.max = ms(percentile(s, 50)), ms(percentile(s, 90)), ms(percentile(s, 99)), ms(s[len(s)-1])
	}
	return out
}

func (s summary) String() string {
	return fmt.Sprintf("n=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms", s.n, s.p50, s.p90, s.p99, s.max)
}

// errorCounts groups failures by message, so that 300 calls failing
// alike print one line.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (e *errorCounts) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[string]int)
	}
	e.m[err.Error()]++
}

// lines returns "count x message", most frequent first.
func (e *errorCounts) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range e.m {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
	out := make([]string, len(all))
	for i, x := range all {
		out[i] = fmt.Sprintf("%d x %s", x.n, strings.TrimSpace(x.k))
	}
	return out
}
