// Package avmcu is the media plane of Parley's A/V Conferencing Server, the
// audio MCU of OCS 2007 R2 dial-in conferencing: it receives every
// participant's RTP, mixes each conference, and sends each participant the
// mix of the others.
//
// Signalling is not here: the SIP layer negotiates a leg with SDP offer/answer
// and SDES, then calls this package's small API.
//
//	e, _ := avmcu.NewEngine(avmcu.Config{Addr: addr})
//	go e.Run(ctx)
//	conf := e.Conference(id)                  // get or create
//	leg, err := conf.AddLeg(avmcu.LegSpec{...}) // ErrFull → 503
//	leg.SetMuted(true); leg.Play(src); leg.SendDTMF("1#", 100*time.Millisecond)
//	leg.UpdateRemote(...)                     // re-INVITE
//	leg.Remove(); conf.Close()
//	e.Load()                                  // for the Conferencing Server Factory
//
// # Design
//
// The design is the "shared" one of /work/shared/reference/limits.md §4,
// measured there as the cheapest in Go:
//
//   - All legs share one local RTP port (RTCP on the next one, unless a leg
//     multiplexes it, RFC 5761). A few sockets share the port with
//     SO_REUSEPORT; each has a reader goroutine that takes up to 64
//     datagrams per recvmmsg, with their kernel receive times
//     (SO_TIMESTAMPNS), so that a datagram read late still gets its true
//     arrival time in the jitter statistics. Datagrams are told apart by
//     remote address (a sharded table): a leg's endpoint must send from
//     where it receives (symmetric RTP, RFC 4961). Unknown sources are
//     dropped and counted. (x/net's ReadBatch makes the same system call
//     but allocates an address per datagram; this path allocates nothing.)
//   - The reader authenticates SRTP, updates the RFC 3550 reception
//     statistics, hands telephone-events (RFC 4733) to the leg's DTMF
//     receiver and audio to its jitter buffer. Per leg it does at most
//     maxPerFrame datagrams per 20 ms, so a flood or garbage from one
//     endpoint costs the others nothing but the kernel's share.
//   - Each conference with legs has one goroutine, which owns its state and
//     ticks every 20 ms at a random phase. A tick pops each leg's frame
//     (concealing losses, jitter.PLC), decodes and resamples it into the
//     mixer (mix.Mixer, N−1 by subtraction, top-K speakers), mixes, then
//     encodes the Shared frame once per G.711 law and copies it to every
//     listener who hears it; only speakers get a Personal encoding. G.722
//     legs are always encoded one by one, because G.722's ADPCM state
//     must follow what each receiver has decoded. Packets go out by
//     sendmmsg, 64 at a time.
//   - A conference of parallelMin legs or more shares each phase with
//     Config.Workers goroutines, which take chunks of 64 slots from a
//     common cursor (a worker scheduled late costs nothing: the others take
//     its chunks), each sending on its own socket (Go serializes writes on
//     one). It computes its frame a little ahead (lead: 1.5 times what
//     input and mixing took lately, at most 3 ms), then sends in slices of
//     at most 256 legs spread over 14 ms, each at its own instant, instead of
//     one burst per tick; the waits end with nanosleep, since Go timers have
//     millisecond resolution when the process is idle. Meanwhile the
//     readers step aside between batches (Go's scheduler has no priorities).
//   - A conference mixes at 8 kHz, or at 16 kHz while a G.722 leg is in;
//     8 kHz legs are then resampled (mix.Upsampler, mix.Downsampler).
//   - Callbacks (LegEvents) run on one event goroutine fed by a bounded
//     queue, never on a reader or a tick.
//   - The hot paths allocate nothing: per datagram (read, decrypt, parse,
//     jitter buffer) and per frame (decode, mix, encode, RTP, encrypt,
//     sendmmsg). The benchmarks show it.
//
// # Tick lag
//
// Load.TickLag is the tick lag proper: how late the frame clock started each
// tick after its 20 ms instant. Load.SendLag is stricter, how late each tick's
// packets were handed to the kernel: for each slice of sends, the time
// from the instant it was due (the tick's instant plus the lead, plus its
// place in the spread) to the end of its sendmmsg calls; the worst slice of
// the tick. It is the measure of headroom: it grows with CPU contention
// long before frames are lost. A conference more than two frames behind
// skips the lost frames (Load.SkippedTicks) rather than burst.
//
// # Capacity
//
// Config.MaxLegs bounds the legs of the engine: AddLeg past it returns
// ErrFull, which signalling turns into 503, and the legs already in are not
// touched. test/load/rtpload measures an engine (its README has the
// figures of the 2-core development machine): per participant the server
// spends about 260 µs of CPU per second with plain RTP at 4,000 legs
// (about 460 with AES-CM SRTP at 2,000), mostly in the kernel's UDP path,
// and 15-25 KiB of memory. With the load generator on the same two cores,
// 4,000 plain and 2,000 SRTP legs run without loss and the frame clock
// starts its ticks under 5 ms late at p99.9, on a machine that leaves the
// process its CPUs; the sockets' 16 MiB buffers ride out a virtual
// machine's freezes of tens of milliseconds without loss, but no code can
// keep a tick on time through them (test/load/vmfreeze.sh finds them).
//
// # What a leg hears
//
// The mix of the others; with Leg.Play, a tone or prompt mixed over it,
// for that leg alone. A muted leg (Leg.SetMuted, a server-side ingress
// filter) still hears the conference. A leg whose Direction does not send
// (the remote holds) gets nothing, but its RTP timestamps keep counting.
//
// # Not here
//
// Codec negotiation and ptime: only 20 ms frames are taken. Latching onto a
// source address other than the SDP's (NAT traversal is the edge's job, with
// ICE). Video. Recording.
package avmcu
