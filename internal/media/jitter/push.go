package jitter

import "time"

// Push stores a copy of an RTP payload. arrival is when the packet was
// received, on the clock Pop's now uses. It never allocates.
//
// It returns ErrOversize, ErrLate, ErrDuplicate or ErrJump for a packet it
// does not keep; the buffer is unchanged apart from its statistics.
func (b *Buffer) Push(ssrc uint32, seq uint16, ts uint32, payload []byte, arrival time.Time) error {
	if len(payload) > b.cfg.MaxPayload {
		b.mu.Lock()
		b.stats.Oversize++
		b.mu.Unlock()
		return ErrOversize
	}
	silent := b.cfg.Silent != nil && b.cfg.Silent(payload)

	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		b.epoch, b.started = arrival, true
	}
	recv := int64(arrival.Sub(b.epoch))
	if b.active && ssrc != b.ssrc {
		b.stats.Resets++
		b.restart()
		b.active = false
	}
	if !b.active {
		b.begin(ssrc, ts)
	}
	ext := b.extRef + int64(int32(ts-uint32(b.extRef)))
	f := floorDiv(ext-b.tsBase+b.tsPerFrame/2, b.tsPerFrame)

	if b.idle && (f < b.next || f >= b.next+int64(len(b.slots))) {
		b.idleOutside(f, recv-b.mediaNs(ext))
	}
	ref := f
	switch {
	case b.playing:
		ref = b.next
	case b.count > 0:
		ref = b.oldest
	}
	if d := f - ref; d < -int64(len(b.slots)) || d >= 2*int64(len(b.slots)) {
		if !b.confirmJump(ssrc, seq, ts) {
			b.stats.Dropped++
			return ErrJump
		}
		b.stats.Resets++
		b.restart()
		b.begin(ssrc, ts)
		ext, f = b.extRef, 0
	}
	b.probe = probe{}

	t := recv - b.mediaNs(ext)
	if b.count == 0 && !b.playing {
		// Re-anchoring: if the transit jumped by more than a second, the
		// media time base changed; old transits are not comparable.
		if m, ok := b.transit.min(); ok && (t-m > int64(time.Second) || m-t > int64(time.Second)) {
			b.transit.resetWindow()
		}
	}
	if b.playing && f < b.next {
		b.transit.add(t)
		b.stats.Late++
		return ErrLate
	}
	b.makeRoom(f)
	s := &b.slots[f&b.mask]
	if s.used && s.frame == f {
		b.stats.Duplicate++
		return ErrDuplicate
	}
	b.transit.add(t)
	if s.used {
		// The slot holds a frame one capacity newer: f is too old to fit
		// beside it (a straggler while the buffer is filling).
		b.stats.Late++
		return ErrLate
	}
	if ext > b.extRef {
		b.extRef = ext
	}
	b.lastRecv = recv
	if !b.playing && (b.count == 0 || f < b.oldest) {
		b.oldest = f
	}
	*s = slot{used: true, silent: silent, frame: f, ssrc: ssrc, seq: seq, ts: ts, n: len(payload)}
	copy(b.data[(f&b.mask)*int64(b.cfg.MaxPayload):], payload)
	b.count++
	b.stats.Received++
	return nil
}

// idleOutside handles the first packet after a silence when it falls
// outside the window. A transit far beyond any jitter (over a second) means
// the sender did not advance its timestamps while silent, or jumped them:
// re-anchor rather than call the whole talkspurt late or wait for a restart
// to be confirmed. Otherwise the packet is just late, as after a stall.
func (b *Buffer) idleOutside(f, t int64) {
	m, ok := b.transit.min()
	if !ok || t-m > int64(time.Second) || m-t > int64(time.Second) || f >= b.next {
		b.playing, b.idle = false, false
	}
}

// begin starts a new stream whose frame 0 has timestamp ts.
func (b *Buffer) begin(ssrc uint32, ts uint32) {
	b.active, b.ssrc = true, ssrc
	b.tsBase, b.extRef = int64(ts), int64(ts)
	b.count, b.playing, b.idle = 0, false, false
}

// confirmJump reports whether this far-away packet is the restartAfter-th
// consecutive one of a new, continuous stream.
func (b *Buffer) confirmJump(ssrc uint32, seq uint16, ts uint32) bool {
	p := &b.probe
	if p.n > 0 && ssrc == p.ssrc && seq == p.seq+1 && ts-p.ts <= uint32(4*b.tsPerFrame) {
		p.n++
	} else {
		p.n = 1
	}
	p.ssrc, p.seq, p.ts = ssrc, seq, ts
	return p.n >= restartAfter
}

// makeRoom drops the oldest frames when f lies beyond the window, as after
// a burst longer than the capacity or while nobody pops.
func (b *Buffer) makeRoom(f int64) {
	start := b.oldest
	if b.playing {
		start = b.next
	}
	if b.count == 0 && !b.playing {
		return
	}
	limit := f - int64(len(b.slots)) + 1
	for fr := start; fr < limit; fr++ {
		if s := &b.slots[fr&b.mask]; s.used && s.frame == fr {
			s.used = false
			b.count--
			b.stats.Dropped++
		}
	}
	if limit > start {
		if b.playing {
			b.next = limit
		} else {
			b.oldest = limit
		}
	}
}

// mediaNs converts an extended timestamp to ns of media time since frame 0.
func (b *Buffer) mediaNs(ext int64) int64 {
	u := ext - b.tsBase
	rate := int64(b.cfg.ClockRate)
	return u/rate*int64(time.Second) + u%rate*int64(time.Second)/rate
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
