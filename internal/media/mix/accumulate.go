package mix

import "fmt"

// Accumulator holds one worker's share of a tick: the sum of the
// contributions in its slot ranges (full mix) or its loudest speaker
// candidates (top-K). The zero value is ready; Mix empties it for the next
// tick. Give each worker goroutine its own.
type Accumulator struct {
	sum   [MaxFrameSamples]int32
	n     int // contributions in sum
	cands candidates
}

// candidate is a voiced, unmuted, unseated input offered for a speaker seat.
type candidate struct {
	slot  int32
	level uint64
}

// better orders candidates by level, then by slot so that ties resolve the
// same way whatever the worker split.
func (c candidate) better(d candidate) bool {
	return c.level > d.level || (c.level == d.level && c.slot < d.slot)
}

// candidates is a best-first list of at most k candidates.
type candidates struct {
	c [MaxSpeakers]candidate
	n int
}

// offer inserts c if it is among the k best seen.
func (cs *candidates) offer(c candidate, k int) {
	if cs.n == k && !c.better(cs.c[k-1]) {
		return
	}
	i := cs.n
	if cs.n < k {
		cs.n++
	} else {
		i = k - 1
	}
	for i > 0 && c.better(cs.c[i-1]) {
		cs.c[i] = cs.c[i-1]
		i--
	}
	cs.c[i] = c
}

// AccumulateRange runs phase 1 of a tick for slots [lo, hi): it takes the
// frames given by Put, measures them, advances each slot's voice, hold, gain
// and level state, and records the slots' contributions (full mix) or
// speaker candidates (top-K) in acc. Over one tick the ranges must cover
// [0, Slots()) exactly once. Calls on disjoint ranges, each with its own
// Accumulator, may run concurrently.
func (m *Mixer) AccumulateRange(lo, hi int, acc *Accumulator) error {
	if lo < 0 || hi > len(m.slots) || lo > hi {
		return fmt.Errorf("%w: [%d, %d) of %d slots", ErrRange, lo, hi, len(m.slots))
	}
	if acc == nil {
		return ErrAccumulator
	}
	sum := acc.sum[:m.n]
	for i := lo; i < hi; i++ {
		s := &m.slots[i]
		if !s.pending {
			if !s.input && s.hold == 0 && s.level == 0 {
				continue // idle (or unused): nothing to advance
			}
			s.input, s.voice, s.contrib, s.gms = false, false, false, 0
			s.hold = max(s.hold-1, 0)
			s.level = release(s.level)
			continue
		}
		s.pending, s.input, s.contrib = false, true, false
		s.voice = s.ms > m.gate
		if s.voice {
			s.hold = m.holdTicks
		} else {
			s.hold = max(s.hold-1, 0)
		}
		g := s.gain
		if m.agc {
			g = m.steer(s)
		}
		s.gms = gained(s.ms, g)
		s.level = attack(s.level, s.gms)
		switch {
		case s.muted:
		case m.k == 0:
			if s.hold > 0 {
				f := m.frame(i)
				if g != gainUnity {
					applyGain(f, g)
				}
				addFrame(sum, f)
				acc.n++
				s.contrib = true
			}
		case s.voice && !s.speaker:
			acc.cands.offer(candidate{slot: int32(i), level: s.level}, m.k)
		}
	}
	return nil
}

// Mix runs phase 2 of a tick: it merges the accumulators (which it empties
// for the next tick), seats the speakers (top-K), sums their frames, and
// computes the Shared frame. It must run alone, after every AccumulateRange
// of the tick; nil accumulators are skipped.
func (m *Mixer) Mix(accs ...*Accumulator) {
	acc := m.acc[:m.n]
	clear(acc)
	m.contributors = 0
	if m.k == 0 {
		for _, a := range accs {
			if a == nil || a.n == 0 {
				continue
			}
			sum := a.sum[:m.n]
			addSum(acc, sum)
			clear(sum)
			m.contributors += a.n
			a.n = 0
		}
	} else {
		m.best.n = 0
		for _, a := range accs {
			if a == nil {
				continue
			}
			for _, c := range a.cands.c[:a.cands.n] {
				m.best.offer(c, m.k)
			}
			a.cands.n = 0
		}
		m.seat()
		for _, i := range m.seats {
			s := &m.slots[i]
			if !s.input {
				continue // seated, but no frame this tick
			}
			f := m.frame(int(i))
			if s.gain != gainUnity {
				applyGain(f, s.gain)
			}
			addFrame(acc, f)
			s.contrib = true
			m.contributors++
		}
	}
	if m.contributors > 0 {
		limitInto(m.shared[:m.n], acc)
	}
}

// seat updates the speaker seats from this tick's best candidates. A
// speaker keeps his seat while his hold lasts; free seats go to the loudest
// candidates; then a candidate takes the weakest speaker's seat only if his
// level exceeds that speaker's by the margin. Levels are smoothed (fast
// attack, slow release), so a speaker who stops talking is displaced within
// a few frames by anyone clearly louder, but two talkers of similar level do
// not swap seats back and forth.
func (m *Mixer) seat() {
	kept := m.seats[:0]
	for _, i := range m.seats {
		if s := &m.slots[i]; s.used && !s.muted && s.hold > 0 {
			kept = append(kept, i)
		} else {
			s.speaker = false
		}
	}
	m.seats = kept
	for _, c := range m.best.c[:m.best.n] {
		if len(m.seats) < m.k {
			m.seats = append(m.seats, c.slot)
			m.slots[c.slot].speaker = true
			continue
		}
		w := 0
		for j := 1; j < len(m.seats); j++ {
			if m.slots[m.seats[j]].level < m.slots[m.seats[w]].level {
				w = j
			}
		}
		// Candidates come best first, and each swap raises the weakest
		// seat, so once one falls short the rest do too.
		if c.level<<8 <= m.slots[m.seats[w]].level*m.marginQ8 {
			break
		}
		m.slots[m.seats[w]].speaker = false
		m.seats[w] = c.slot
		m.slots[c.slot].speaker = true
	}
}

// unseat frees slot i's speaker seat at once (removal, mute).
func (m *Mixer) unseat(i int32) {
	for j, k := range m.seats {
		if k == i {
			m.seats = append(m.seats[:j], m.seats[j+1:]...)
			break
		}
	}
	m.slots[i].speaker = false
}
