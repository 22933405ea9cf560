package jitter

import "time"

// Histogram of transit deviations.
const (
	histBuckets = 128
	// histMemory is the forgetting time constant in packets (10 s at
	// 50 packets/s). A new jitter level moves the 98% quantile once it has
	// 2% of the weight, about ten packets; an old level fades from it after
	// ln(50)·histMemory ≈ 2000 packets, so the delay shrinks over ~40 s.
	histMemory = 500
	// recompute the quantile after this many new samples.
	recomputeEvery = 4
)

// transitStats follows packet transit times (arrival minus media time, in
// ns). Only differences of transit times matter, so the unknown offset
// between the sender's and our clock cancels out.
type transitStats struct {
	// Monotonic deque of the last minWindow transits, for their minimum:
	// ring of (packet number, transit), oldest first, transits increasing.
	win        [minWindow]sample
	head, size int
	n          int64

	// RFC 3550 §6.4.1 interarrival jitter, in ns.
	prev     int64
	havePrev bool
	jitter   float64

	// Exponentially decaying histogram of deviations from the minimum.
	hist     [histBuckets]float64
	total    float64
	weight   float64
	bucketNs int64
	dirty    int
	cached   int64

	minDelay, maxDelay, safety int64
}

type sample struct{ n, t int64 }

func (s *transitStats) init(cfg Config) {
	s.minDelay, s.maxDelay = int64(cfg.MinDelay), int64(cfg.MaxDelay)
	s.safety = int64(cfg.Frame) / 8
	s.bucketNs = max(int64(time.Millisecond), (s.maxDelay+int64(cfg.Frame))/histBuckets+1)
	s.weight = 1
	s.cached = s.minDelay
}

// resetWindow forgets the minimum transit: after a restart the media time
// base changes, so old transits are not comparable. The histogram stays.
func (s *transitStats) resetWindow() {
	s.size, s.havePrev = 0, false
}

// min returns the minimum transit of the window.
func (s *transitStats) min() (int64, bool) {
	if s.size == 0 {
		return 0, false
	}
	return s.win[s.head].t, true
}

// add records the transit time t of a packet.
func (s *transitStats) add(t int64) {
	s.n++
	for s.size > 0 && s.win[s.head].n <= s.n-minWindow {
		s.head = (s.head + 1) % minWindow
		s.size--
	}
	for s.size > 0 && s.win[(s.head+s.size-1)%minWindow].t >= t {
		s.size--
	}
	s.win[(s.head+s.size)%minWindow] = sample{s.n, t}
	s.size++

	if s.havePrev {
		d := t - s.prev
		if d < 0 {
			d = -d
		}
		s.jitter += (float64(d) - s.jitter) / 16
	}
	s.prev, s.havePrev = t, true

	dev := t - s.win[s.head].t
	i := min(dev/s.bucketNs, histBuckets-1)
	// Decay by growing the weight of new samples instead of shrinking all
	// buckets; rescale long before float64 overflows.
	s.weight *= histMemory / (histMemory - 1.0)
	s.hist[i] += s.weight
	s.total += s.weight
	if s.weight > 1e150 {
		for j := range s.hist {
			s.hist[j] /= s.weight
		}
		s.total /= s.weight
		s.weight = 1
	}
	s.dirty++
}

// target returns the delay that catches the chosen quantile of packets.
func (s *transitStats) target() int64 {
	if s.dirty == 0 || s.total == 0 {
		return s.cached
	}
	s.dirty = 0
	want, sum := quantile*s.total, 0.0
	i := 0
	for ; i < histBuckets-1; i++ {
		if sum += s.hist[i]; sum >= want {
			break
		}
	}
	s.cached = min(max(int64(i+1)*s.bucketNs+s.safety, s.minDelay), s.maxDelay)
	return s.cached
}

// targetLazy is target, recomputed only every few samples: Pop runs it
// every tick for every leg.
func (s *transitStats) targetLazy() int64 {
	if s.dirty < recomputeEvery {
		return s.cached
	}
	return s.target()
}
