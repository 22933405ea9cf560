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
//     datagrams per recvmmsg. Datagrams are told apart by remote address
//     (a sharded table): a leg's endpoint must send from where it receives
//     (symmetric RTP, RFC 4961). Unknown sources are dropped and counted.
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
//     sendmmsg, 64 at a time. Conferences of parallelMin legs and more
//     split each phase over Config.Workers goroutines, and spread their
//     sends in slices of up to 512 legs, 2 ms apart, rather than one burst.
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
// Load.Lag reports, for each tick, how late its packets were handed to the
// kernel: the time from the instant a slice of sends was due (the tick's
// instant, plus 2 ms per slice) to the end of its sendmmsg, the worst slice
// of the tick. It is the measure of headroom: it grows with CPU contention
// long before frames are lost. A conference more than two frames behind
// skips the lost frames (Load.SkippedTicks) rather than burst.
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
