package jitter

import "time"

// Pop returns the frame due at the tick at now, copying its payload into
// dst, which should hold Config.MaxPayload bytes. Call it exactly once per
// tick. It never allocates.
func (b *Buffer) Pop(now time.Time, dst []byte) Frame {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		return Frame{}
	}
	clock := int64(now.Sub(b.epoch))
	tmin, ok := b.transit.min()
	if !ok {
		// Nothing measured since a restart: nothing is buffered either.
		return Frame{}
	}
	target := b.transit.targetLazy()
	if !b.playing {
		if b.count == 0 {
			return Frame{}
		}
		b.next = b.oldest
		if b.delay(clock, tmin) < target {
			return Frame{}
		}
		b.playing, b.quiet, b.waited = true, 0, 0
	}
	if b.count == 0 {
		b.quiet++
		if b.idle || clock-b.lastRecv > int64(idleFrames)*b.frameNs && b.quiet >= idleFrames {
			// The sender is silent (DTX) or gone: stop concealing but keep
			// the timeline, which a sender that stamps its silence
			// correctly resumes on.
			b.idle = true
			b.next++
			return Frame{}
		}
	} else {
		b.quiet, b.idle = 0, false
	}

	delay := b.delay(clock, tmin)
	b.stats.Delay = time.Duration(delay)
	switch {
	case delay < target && b.mayChange(delay < target-b.frameNs/4):
		// Too little delay: hold the frames back one tick.
		b.stats.Inserted++
		b.stats.Concealed++
		return Frame{Status: Inserted}
	case delay > target+b.frameNs+b.frameNs/4 && b.mayDrop(delay > int64(b.cfg.MaxDelay)+b.frameNs):
		// Too much delay: skip the frame due now.
		if s := &b.slots[b.next&b.mask]; s.used && s.frame == b.next {
			s.used = false
			b.count--
			b.stats.Dropped++
		}
		b.next++
		b.stats.Delay -= time.Duration(b.frameNs)
	}
	return b.take(dst)
}

// take pops the frame due now.
func (b *Buffer) take(dst []byte) Frame {
	f := b.next
	b.next++
	s := &b.slots[f&b.mask]
	if !s.used || s.frame != f {
		b.stats.Concealed++
		return Frame{Status: Lost}
	}
	s.used = false
	b.count--
	b.lastSafe = s.silent
	off := (f & b.mask) * int64(b.cfg.MaxPayload)
	n := copy(dst, b.data[off:off+int64(s.n)])
	return Frame{Status: Ready, N: n, SSRC: s.ssrc, Seq: s.seq, TS: s.ts}
}

// delay is how long before clock a packet of minimum transit carrying the
// frame due now would have arrived.
func (b *Buffer) delay(clock, tmin int64) int64 {
	return clock - (b.next*b.frameNs + tmin)
}

// mayChange reports whether the delay may grow now: in silence, when
// urgent, or after waiting long enough for silence.
func (b *Buffer) mayChange(urgent bool) bool {
	if urgent || b.cfg.Silent == nil || b.lastSafe || b.waited >= waitFrames {
		b.waited = 0
		return true
	}
	b.waited++
	return false
}

// mayDrop reports whether the frame due now may be dropped: it is silent
// or missing anyway, or it is urgent, or waiting for silence took too long.
func (b *Buffer) mayDrop(urgent bool) bool {
	s := &b.slots[b.next&b.mask]
	missing := !s.used || s.frame != b.next
	return b.mayChange(urgent || missing || s.silent)
}
