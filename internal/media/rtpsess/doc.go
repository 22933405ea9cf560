// Package rtpsess keeps the RTP and RTCP state of one media leg of the
// audio MCU: what the remote endpoint sends us (Receiver), what we send it
// (Sender), and the RTCP reports exchanged about both (Session).
//
// The rules come from RFC 3550:
//
//   - Receiver validates sequence numbers and counts loss exactly as the
//     reference code of Appendix A.1 and A.3 does, and estimates interarrival
//     jitter as in Appendix A.8. A leg that restarts its SSRC or sequence
//     numbers (re-INVITE, gateway failover) starts a new sequence instead of
//     reporting tens of thousands of lost packets.
//   - Sender draws its SSRC, first sequence number and first timestamp from
//     crypto/rand (§5.1, §8) and writes 12-byte headers into caller buffers.
//   - Session builds compound RTCP packets (§6.1: SR or RR first, then SDES
//     with CNAME), reads the remote's reports (round-trip time per §6.4.1,
//     BYE as a hang-up hint), schedules reports (§6.3) and tracks when the
//     leg was last heard from, for the MCU's media inactivity timeout.
//
// Per-packet methods (Receiver.Update, Sender.WriteHeader) do not allocate.
// Times are passed in by the caller, so tests and the MCU's batched receive
// loop control the clock. Nothing here is safe for concurrent use: the MCU
// owns a leg from one goroutine or guards it with its own lock.
//
// The package knows nothing of sockets, SRTP or SDP.
package rtpsess
