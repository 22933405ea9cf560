package avmcu

import (
	"sync/atomic"
	"time"
)

// Histogram buckets: 20 µs wide up to 20 ms (a whole frame), where the
// percentiles that matter live, then 1 ms wide up to 1 s, then one
// overflow bucket.
const (
	fineWidth   = 20 * time.Microsecond
	fineBuckets = int(codecFrame / fineWidth) // 1000
	coarseWidth = time.Millisecond
	coarseLimit = time.Second
	histBuckets = fineBuckets + int((coarseLimit-codecFrame)/coarseWidth) + 1
)

// histogram counts durations in fixed buckets with atomic counters, so that
// conference goroutines record without locks or allocation.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

func bucketOf(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < codecFrame:
		return int(d / fineWidth)
	case d < coarseLimit:
		return fineBuckets + int((d-codecFrame)/coarseWidth)
	}
	return histBuckets - 1
}

// upper returns the upper bound of bucket i, the value quantiles report:
// a conservative reading.
func upper(i int) time.Duration {
	if i < fineBuckets {
		return time.Duration(i+1) * fineWidth
	}
	if i < histBuckets-1 {
		return codecFrame + time.Duration(i-fineBuckets+1)*coarseWidth
	}
	return coarseLimit
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.max.Store(0)
}

// LagStats summarises the tick lag: how late, after the instant it was due,
// each tick finished handing its packets to the kernel (see Load).
type LagStats struct {
	Ticks               uint64        // ticks recorded
	P50, P99, P999, Max time.Duration // quantiles (bucket upper bounds) and the maximum
}

func (h *histogram) stats() LagStats {
	var snap [histBuckets]uint64
	var total uint64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	s := LagStats{Ticks: total, Max: time.Duration(h.max.Load())}
	if total == 0 {
		return s
	}
	q := func(p float64) time.Duration {
		rank := uint64(p*float64(total) + 0.5)
		rank = max(rank, 1)
		var cum uint64
		for i, c := range snap {
			cum += c
			if cum >= rank {
				return min(upper(i), s.Max)
			}
		}
		return s.Max
	}
	s.P50, s.P99, s.P999 = q(0.50), q(0.99), q(0.999)
	return s
}
