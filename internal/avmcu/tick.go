package avmcu

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/media/g711"
	"github.com/parleyhq/parley/internal/media/jitter"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/rtpsess"
)

// Tick geometry.
const (
	// workerBatch is the datagrams one sendmmsg carries.
	workerBatch = 64
	// chunk is the slots a goroutine takes at a time from a shared phase:
	// one sendmmsg batch.
	chunk = workerBatch
	// parallelMin is the conference size from which a tick is split over
	// the workers; below it, one goroutine is quicker than a hand-off.
	parallelMin = 192
	// sliceLegs, maxSlices and sendSpread spread a large conference's
	// sends: slices of up to sliceLegs legs, evenly over sendSpread, so
	// that the kernel and the receivers see a steady stream instead of one
	// burst per tick (limits.md §5), and the tick lag measures each slice
	// against its own instant. Sending costs about 2 µs a leg on loopback
	// (4,000 legs: 8 ms of one core), so the spread must be wider than
	// that or the last slices fall behind by construction; with the lead
	// (at most maxLead) it ends 3 ms before the next tick, which is the
	// room a late tick has to catch up. Measured at 4,000 legs (rtpload):
	// an 8 ms spread left sends 2.2-2.5 ms late at p50, 14 ms 1.3 ms.
	sliceLegs  = 256
	maxSlices  = 16
	sendSpread = 14 * time.Millisecond
	// maxLead bounds how far ahead of its first send a frame is computed.
	maxLead = 3 * time.Millisecond
	// coarseSleep is the end of a large conference's waits that it sleeps
	// with the kernel's resolution (see preciseSleep).
	coarseSleep = 1500 * time.Microsecond
	// inactivityEvery is how often, in ticks, a leg's inactivity is checked.
	inactivityEvery = 50
	// maxPacket is the largest RTP packet the MCU sends: header, one frame
	// and the SRTP tag and MKI.
	maxPacket = rtpsess.HeaderLen + maxFramePayload + 32
	// maxRTCPOut is the largest RTCP packet the MCU sends, with SRTCP's
	// index, tag and MKI.
	maxRTCPOut = rtpsess.MaxReportLen + 32
)

// silence holds the G.711 encodings of silence; G.722 silence goes through
// the leg's encoder, whose state must follow what it sends.
var silence = func() (s [numCodecs][maxFramePayload]byte) {
	for i := range maxFramePayload {
		s[idxPCMU][i] = g711.UlawSilence
		s[idxPCMA][i] = g711.AlawSilence
	}
	return s
}()

// scratch is the working memory of one goroutine taking part in ticks.
type scratch struct {
	sock    int // the RTP socket it sends on
	payload [maxFramePayload]byte
	pcm     [mix.MaxFrameSamples]int16 // decoded, at the leg's rate
	pcmMix  [mix.MaxFrameSamples]int16 // at the mixer's rate
	out     [mix.MaxFrameSamples]int16 // a Personal mix
	legPCM  [mix.MaxFrameSamples]int16 // what the leg hears, at its rate
	tone    [mix.MaxFrameSamples]int16
	enc     [maxFramePayload]byte
	digits  [8]byte
	plain   [maxPacket]byte
	pkts    [][maxPacket]byte
	batch   *batch
	rtcp    *batch
	rtcpIn  [maxRTCPOut]byte
	rtcpOut [maxRTCPOut]byte
}

func newScratch(n, sock int) *scratch {
	return &scratch{sock: sock, pkts: make([][maxPacket]byte, n), batch: newWriteBatch(n), rtcp: newWriteBatch(1)}
}

type phase uint8

const (
	phaseInput  phase = iota + 1 // pop, decode, conceal, resample, Put, accumulate
	phaseOutput                  // Output, encode, RTP, SRTP, send
)

// task asks a worker to help with a conference's current phase.
type task struct {
	c    *Conference
	part int // which accumulator it uses
	wg   *sync.WaitGroup
}

// worker helps with phases until the engine stops.
func (e *Engine) worker(s *scratch) {
	for t := range e.tasks {
		t.c.pull(t.part, s)
		t.wg.Done()
	}
}

// tick runs one 20 ms frame: input for every slot and the mix, then
// output in slices, each sent at its own instant, and records the lag.
//
// A large conference computes ahead: its first slice is due lead after the
// tick started, lead being 1.5 times what input and mixing took lately,
// so that the packets leave on schedule even when computing them was
// delayed a little. A small one computes in microseconds and sends at once.
func (c *Conference) tick(start time.Time) {
	c.e.wake.record(time.Since(start))
	n := c.mix.Slots()
	c.tickNo++
	c.run(phaseInput, 0, n, start)
	c.mix.Mix(c.accPtrs...)
	c.prepareShared()
	c.updateLead(n, time.Since(start))

	slices := min(maxSlices, max(1, (n+sliceLegs-1)/sliceLegs))
	var lag time.Duration
	for k := range slices {
		due := start.Add(c.lead + time.Duration(k)*sendSpread/time.Duration(slices))
		if d := time.Until(due); d > 0 {
			sleepFor(d)
		}
		c.run(phaseOutput, k*n/slices, (k+1)*n/slices, due)
		lag = max(lag, time.Since(due))
	}
	c.e.lag.record(lag)
}

// updateLead follows how long input and mixing take.
func (c *Conference) updateLead(n int, took time.Duration) {
	if n < parallelMin {
		c.lead, c.took = 0, 0
		return
	}
	if took > c.took {
		c.took = took // rise at once
	} else {
		c.took -= (c.took - took) / 16 // decay over a few hundred ms
	}
	c.lead = min(maxLead, c.took+c.took/2)
}

// run executes a phase over slots [lo, hi). A large conference shares it
// with the workers: each goroutine takes chunks of slots from a common
// cursor until none is left, so the phase never waits for a worker that
// has not been scheduled yet (the conference goroutine then does it all),
// and uses every P that is free.
func (c *Conference) run(p phase, lo, hi int, ideal time.Time) {
	parts := 1
	if c.mix.Slots() >= parallelMin && hi-lo > chunk {
		parts = len(c.accs)
	}
	if parts == 1 {
		c.scr.sock = c.sockBase
		c.runRange(p, lo, hi, 0, ideal, c.scr)
		return
	}
	c.e.phases.Add(1)
	defer c.e.phases.Add(-1)
	c.cur.Store(int64(lo))
	c.curHi, c.curPhase, c.curIdeal = hi, p, ideal
	for i := 1; i < parts; i++ {
		// Never wait for a busy pool: without help, the conference
		// goroutine takes every chunk itself.
		c.wg.Add(1)
		select {
		case c.e.tasks <- task{c: c, part: i, wg: &c.wg}:
		default:
			c.wg.Done()
		}
	}
	c.pull(0, c.scr)
	c.wg.Wait()
}

// pull runs chunks of the current phase until none is left. Each part
// sends on its own socket: Go serializes the writes on one socket.
func (c *Conference) pull(part int, s *scratch) {
	s.sock = (c.sockBase + part) % len(c.e.conns)
	for {
		lo := int(c.cur.Add(chunk)) - chunk
		if lo >= c.curHi {
			return
		}
		c.runRange(c.curPhase, lo, min(lo+chunk, c.curHi), part, c.curIdeal, s)
	}
}

// runRange is a phase over slots [lo, hi) on one goroutine.
func (c *Conference) runRange(p phase, lo, hi, part int, ideal time.Time, s *scratch) {
	switch p {
	case phaseInput:
		for slot := lo; slot < hi; slot++ {
			if l := c.slots[slot]; l != nil {
				c.input(l, s, ideal)
			}
		}
		_ = c.mix.AccumulateRange(lo, hi, &c.accs[part])
	case phaseOutput:
		for slot := lo; slot < hi; slot++ {
			if l := c.slots[slot]; l != nil {
				c.output(l, s, ideal)
			}
		}
		c.flush(s)
	}
}

// input takes the leg's frame for this tick into the mixer.
func (c *Conference) input(l *Leg, s *scratch, ideal time.Time) {
	cd := l.spec.Codec
	f := l.jb.Pop(ideal, s.payload[:cd.FrameBytes])
	if !l.dir.receives() && l.det == nil {
		return // on hold: drained, not decoded
	}
	pcm := s.pcm[:cd.FrameSamples]
	switch f.Status {
	case jitter.Ready:
		k := l.dec.Decode(pcm, s.payload[:f.N])
		clear(pcm[k:])
		l.plc.Good(pcm)
	case jitter.Lost, jitter.Inserted:
		l.plc.Conceal(pcm)
		l.concealed.Add(1)
	default: // Idle: nothing to hear, nothing to conceal
		l.plc.Reset()
		return
	}
	if l.det != nil {
		for _, d := range l.det.Detect(s.digits[:0], pcm) {
			c.e.emit(event{leg: l, kind: evDTMFInBand, digit: rune(d)})
		}
	}
	if !l.dir.receives() {
		return
	}
	in := pcm
	if cd.SampleRate < c.rate {
		in, _ = l.inUp.Process(s.pcmMix[:2*len(pcm)], pcm)
	}
	_ = c.mix.Put(l.slot, in)
}

// prepareShared encodes the Shared frame once per G.711 law in use.
func (c *Conference) prepareShared() {
	c.silent = c.mix.Silent()
	narrow := c.count[idxPCMU] + c.count[idxPCMA]
	if narrow == 0 {
		return
	}
	sh := c.mix.Shared()
	if c.rate > 8000 {
		// Run even when silent, so the filter's history stays current.
		sh, _ = c.sharedDown.Process(c.shared8[:], sh)
	}
	if c.silent {
		return
	}
	if c.count[idxPCMU] > 0 {
		g711.EncodeUlaw(c.sharedPay[idxPCMU][:], sh)
	}
	if c.count[idxPCMA] > 0 {
		g711.EncodeAlaw(c.sharedPay[idxPCMA][:], sh)
	}
}

// output builds and queues the leg's packet for this tick, and its RTCP.
func (c *Conference) output(l *Leg, s *scratch, ideal time.Time) {
	ticks := l.spec.Codec.TicksPerFrame()
	if c.skip > 0 {
		l.snd.Skip(uint32(c.skip) * ticks)
	}
	if st, err := c.mix.Status(l.slot); err == nil && st.Active != l.speaking {
		if c.e.emit(event{leg: l, kind: evSpeaking, on: st.Active}) {
			l.speaking = st.Active
		}
	}
	if (c.tickNo+uint64(l.slot))%inactivityEvery == 0 {
		c.checkInactive(l, ideal)
	}
	if !l.dir.sends() {
		// On hold: nothing is sent, but media time goes on (RFC 3550 §5.1).
		l.snd.Skip(ticks)
	} else if !c.sendEvent(l, s, ideal) {
		c.sendAudio(l, s, ideal)
	}
	if !ideal.Before(l.nextRTCP) {
		c.sendReport(l, s, ideal)
	}
}

// sendAudio sends the leg's mix: a copy of the shared encoding when it
// hears the Shared frame (or silence), or a frame encoded for it alone.
func (c *Conference) sendAudio(l *Leg, s *scratch, ideal time.Time) {
	kind, mixed, _ := c.mix.Output(l.slot, s.out[:c.mix.FrameSamples()])
	var payload []byte
	switch {
	case l.play == nil && l.ci != idxG722 && (kind == mix.Silence || (kind == mix.Shared && c.silent)):
		payload = silence[l.ci][:]
	case l.play == nil && l.ci != idxG722 && kind == mix.Shared:
		payload = c.sharedPay[l.ci][:]
	default:
		pcm := c.legPCM(l, kind, mixed, s)
		if l.play != nil {
			n, done := l.play.Read(s.tone[:len(pcm)])
			for i, t := range s.tone[:n] {
				pcm[i] = sat16(int32(pcm[i]) + int32(t))
			}
			if done {
				l.play = nil
			}
		}
		payload = s.enc[:l.enc.Encode(s.enc[:], pcm)]
	}
	c.queueRTP(l, s, l.spec.PayloadType, !l.started, payload, 0, false, ideal)
	l.started = true
}

// legPCM returns, in s.legPCM, what the leg hears at its own rate.
func (c *Conference) legPCM(l *Leg, kind mix.Kind, mixed []int16, s *scratch) []int16 {
	dst := s.legPCM[:l.spec.Codec.FrameSamples]
	switch {
	case kind == mix.Silence:
		clear(dst)
	case l.spec.Codec.SampleRate == c.rate:
		copy(dst, mixed)
	case kind == mix.Shared: // 16 kHz conference, 8 kHz leg
		copy(dst, c.shared8[:])
	default:
		_, _ = l.outDown.Process(dst, mixed)
	}
	return dst
}

// sendEvent sends the leg's next RFC 4733 packet, if a digit is being
// sent or is due, and reports whether it did (audio then pauses).
func (c *Conference) sendEvent(l *Leg, s *scratch, ideal time.Time) bool {
	if l.dtmfTx == nil {
		return false
	}
	if !l.dtmfTx.Busy() && len(l.dtmfQueue) > 0 && l.dtmfGap == 0 {
		_, ts := l.snd.Next()
		if err := l.dtmfTx.Start(l.dtmfQueue[0], ts, l.dtmfDur); err == nil {
			l.dtmfQueue = l.dtmfQueue[1:]
		} else {
			l.dtmfQueue = l.dtmfQueue[:0]
		}
	}
	p, ok := l.dtmfTx.Next()
	if !ok {
		if l.dtmfGap > 0 {
			l.dtmfGap--
		}
		return false
	}
	if !l.dtmfTx.Busy() {
		l.dtmfGap = dtmfGapTicks
	}
	c.queueRTP(l, s, l.spec.TelephoneEvent, p.Marker, p.Payload[:], p.Timestamp, true, ideal)
	return true
}

// queueRTP writes an RTP packet into the batch, protected if the leg uses
// SRTP. An event packet carries its event's timestamp (RFC 4733 §2.3.1)
// while the stream's own clock goes on.
func (c *Conference) queueRTP(l *Leg, s *scratch, pt uint8, marker bool, payload []byte, eventTS uint32, event bool, ideal time.Time) {
	pkt := s.pkts[s.batch.n][:]
	plain := pkt
	if l.txSRTP != nil {
		plain = s.plain[:]
	}
	n, err := l.snd.WriteHeader(plain, pt, marker, l.spec.Codec.TicksPerFrame(), len(payload), ideal)
	if err != nil {
		return
	}
	if event {
		binary.BigEndian.PutUint32(plain[4:], eventTS)
	}
	n += copy(plain[n:], payload)
	out := plain[:n]
	if l.txSRTP != nil {
		if out, err = l.txSRTP.EncryptRTP(pkt[:0], out, nil); err != nil {
			return
		}
	}
	l.txPackets.Add(1)
	if s.batch.add(out, l.dest) {
		c.flush(s)
	}
}

// flush hands the batch to the kernel.
func (c *Conference) flush(s *scratch) {
	if s.batch.n == 0 {
		return
	}
	refused, _ := c.e.conns[s.sock].writeBatch(s.batch)
	c.e.txPackets.Add(uint64(s.batch.n - refused))
	if refused > 0 {
		c.e.refused.Add(uint64(refused))
	}
	s.batch.n = 0
}

// sendReport sends the leg's compound RTCP packet (RFC 3550 §6.4) and
// schedules the next by §6.3.
func (c *Conference) sendReport(l *Leg, s *scratch, ideal time.Time) {
	l.rxMu.Lock()
	n, err := l.rtpsess.BuildReport(s.rtcpIn[:], ideal)
	l.nextRTCP = ideal.Add(l.rtpsess.ReportInterval())
	l.rxMu.Unlock()
	if err == nil {
		c.sendRTCP(l, s, s.rtcpIn[:n])
	}
}

// sendBye sends RTCP BYE for the leg's stream (RFC 3550 §6.6).
func (c *Conference) sendBye(l *Leg) {
	s := c.scr
	if s == nil {
		return
	}
	l.rxMu.Lock()
	n, err := l.rtpsess.BuildBye(s.rtcpIn[:], time.Now())
	l.rxMu.Unlock()
	if err == nil {
		c.sendRTCP(l, s, s.rtcpIn[:n])
	}
}

func (c *Conference) sendRTCP(l *Leg, s *scratch, plain []byte) {
	pkt := plain
	if l.txSRTP != nil {
		var err error
		if pkt, err = l.txSRTP.EncryptRTCP(s.rtcpOut[:0], plain); err != nil {
			return
		}
	}
	conn, to := c.e.rtcpConn, l.destRTCP
	if l.mux {
		conn, to = c.e.conns[s.sock], l.dest
	}
	s.rtcp.n = 0
	s.rtcp.add(pkt, to)
	if refused, _ := conn.writeBatch(s.rtcp); refused > 0 {
		c.e.refused.Add(uint64(refused))
	} else {
		c.e.txPackets.Add(1)
	}
	s.rtcp.n = 0
}

// checkInactive reports a leg silent for the inactivity timeout, once per
// silence.
func (c *Conference) checkInactive(l *Leg, now time.Time) {
	l.rxMu.Lock()
	silent := l.rtpsess.Silent(now, c.e.cfg.InactivityTimeout)
	l.rxMu.Unlock()
	switch {
	case silent && !l.inactive:
		if c.e.emit(event{leg: l, kind: evInactive}) {
			l.inactive = true
		}
	case !silent:
		l.inactive = false
	}
}

func sat16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
