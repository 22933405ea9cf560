package sdes

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v5/replaydetector"
)

// Replay windows. RFC 3711 §3.3.2 requires at least 64 packets; 128 covers
// 2.5 s of 20 ms audio reordering. A peer's WSH (RFC 4568 §6.3.6) may ask
// for more, up to maxReplayWindow.
const (
	defaultReplayWindow = 128
	maxReplayWindow     = 1024
	maxSRTPIndex        = 1<<48 - 1       // ROC and sequence number (RFC 3711 §3.3.1)
	maxSRTCPIndex       = 1<<31 - 1       // SRTCP index (RFC 3711 §3.4)
	maxKeyPackets       = uint64(1 << 48) // RFC 3711 §9.2, the default key lifetime
)

// Errors of protecting and unprotecting packets.
var (
	// ErrAuthentication reports a packet whose tag did not verify: tampered,
	// or not from the peer.
	ErrAuthentication = errors.New("sdes: SRTP authentication failed")
	// ErrReplay reports a packet the replay window has already seen or has
	// moved past (RFC 3711 §3.3.2).
	ErrReplay = errors.New("sdes: replayed SRTP packet")
	// ErrUnknownMKI reports a packet whose MKI names no key we were given.
	ErrUnknownMKI = errors.New("sdes: SRTP packet with unknown MKI")
	// ErrKeyExpired reports that our key reached its lifetime (RFC 3711
	// §9.2): the leg must be re-keyed with a new offer/answer.
	ErrKeyExpired = errors.New("sdes: SRTP key lifetime reached")
	// ErrMalformed reports a packet too short or malformed to process.
	ErrMalformed = errors.New("sdes: malformed SRTP packet")
)

// Session protects the media of one leg: outbound with our key, inbound
// with the peer's, with replay protection on inbound SRTP and SRTCP.
//
// The outbound methods (EncryptRTP, EncryptRTCP) must not run concurrently
// with each other, nor the inbound ones (DecryptRTP, DecryptRTCP) with each
// other; one outbound and one inbound call may run at the same time, so
// the MCU's receive path and its 20 ms send tick need no common lock.
type Session struct {
	suite    Suite
	out, in  *srtp.Context
	outHdr   rtp.Header // scratch headers so that pion does not allocate
	inHdr    rtp.Header
	outRTCP  rtcp.Header
	inRTCP   rtcp.Header
	replayed bool // set by the inbound replay windows when they refuse

	lifetime         uint64 // of our key, in packets of each kind
	sentRTP, sentRTC uint64
	rtpOverhead      int
	rtcpOverhead     int
}

// NewSession builds the SRTP contexts for a negotiated exchange.
func NewSession(n Negotiated) (*Session, error) {
	for _, c := range []*Crypto{&n.Local, &n.Remote} {
		if err := c.Supported(); err != nil {
			return nil, err
		}
	}
	if n.Local.Suite != n.Remote.Suite {
		return nil, fmt.Errorf("%w: local %v, remote %v", ErrAnswerMismatch, n.Local.Suite, n.Remote.Suite)
	}
	s := &Session{suite: n.Local.Suite}
	window := uint(defaultReplayWindow)
	if w := n.Remote.Params.WSH; w > defaultReplayWindow {
		window = uint(min(w, maxReplayWindow))
	}

	local := n.Local.Keys[0]
	var err error
	if s.out, err = newContext(s.suite, local, nil); err != nil {
		return nil, err
	}
	s.lifetime = maxKeyPackets
	if local.Lifetime != 0 {
		s.lifetime = min(local.Lifetime, maxKeyPackets)
	}

	rtpWin := func() replaydetector.ReplayDetector { return s.newWindow(window, maxSRTPIndex) }
	rtcpWin := func() replaydetector.ReplayDetector { return s.newWindow(window, maxSRTCPIndex) }
	if s.in, err = newContext(s.suite, n.Remote.Keys[0], []srtp.ContextOption{
		srtp.SRTPReplayDetectorFactory(rtpWin),
		srtp.SRTCPReplayDetectorFactory(rtcpWin),
	}); err != nil {
		return nil, err
	}
	for _, k := range n.Remote.Keys[1:] {
		if err := s.in.AddCipherForMKI(mkiBytes(k), k.KeySalt[:s.suite.KeyLen()], k.KeySalt[s.suite.KeyLen():]); err != nil {
			return nil, fmt.Errorf("sdes: remote key with MKI %d: %w", k.MKI, err)
		}
	}

	p := s.suite.profile()
	tag, _ := p.AuthTagRTPLen()
	aead, _ := p.AEADAuthTagLen()
	rtcpTag, _ := p.AuthTagRTCPLen()
	s.rtpOverhead = tag + aead + int(local.MKILen)
	s.rtcpOverhead = rtcpTag + aead + 4 + int(local.MKILen) // E flag and SRTCP index (RFC 3711 §3.4)
	return s, nil
}

func newContext(suite Suite, k Key, opts []srtp.ContextOption) (*srtp.Context, error) {
	if k.MKILen > 0 {
		opts = append(opts, srtp.MasterKeyIndicator(mkiBytes(k)))
	}
	c, err := srtp.CreateContext(k.KeySalt[:suite.KeyLen()], k.KeySalt[suite.KeyLen():], suite.profile(), opts...)
	if err != nil {
		return nil, fmt.Errorf("sdes: SRTP context for %v: %w", suite, err)
	}
	return c, nil
}

// mkiBytes is the MKI as it appears on the wire: big-endian in MKILen octets.
func mkiBytes(k Key) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], k.MKI)
	return b[4-k.MKILen:]
}

// Suite returns the negotiated suite.
func (s *Session) Suite() Suite { return s.suite }

// RTPOverhead is how many octets EncryptRTP adds to a packet (tag and MKI):
// size buffers as len(plain) + RTPOverhead().
func (s *Session) RTPOverhead() int { return s.rtpOverhead }

// RTCPOverhead is how many octets EncryptRTCP adds to a packet.
func (s *Session) RTCPOverhead() int { return s.rtcpOverhead }

// EncryptRTP protects the RTP packet plain and returns the SRTP packet,
// written into dst if it has the capacity (len(plain) + RTPOverhead()).
// hdr, if not nil, receives the parsed header; pion parses the header
// either way, and the Session's own scratch header is used when hdr is nil,
// so nothing is allocated.
func (s *Session) EncryptRTP(dst, plain []byte, hdr *rtp.Header) ([]byte, error) {
	if s.sentRTP >= s.lifetime {
		return nil, ErrKeyExpired
	}
	if hdr == nil {
		hdr = &s.outHdr
	}
	out, err := s.out.EncryptRTP(dst, plain, hdr)
	if err != nil {
		return nil, classify("encrypt RTP", err, false)
	}
	s.sentRTP++
	return out, nil
}

// DecryptRTP authenticates and decrypts the SRTP packet and returns the RTP
// packet, written into dst if it has the capacity. hdr, if not nil,
// receives the packet's header: what the MCU needs for its reception
// statistics. Errors wrap ErrAuthentication, ErrReplay, ErrUnknownMKI or
// ErrMalformed; the replay window only advances for authentic packets.
func (s *Session) DecryptRTP(dst, packet []byte, hdr *rtp.Header) ([]byte, error) {
	if hdr == nil {
		hdr = &s.inHdr
	}
	s.replayed = false
	out, err := s.in.DecryptRTP(dst, packet, hdr)
	if err != nil {
		return nil, classify("decrypt RTP", err, s.replayed)
	}
	return out, nil
}

// EncryptRTCP protects a compound RTCP packet, writing into dst if it has
// the capacity (len(plain) + RTCPOverhead()).
func (s *Session) EncryptRTCP(dst, plain []byte) ([]byte, error) {
	if s.sentRTC >= s.lifetime {
		return nil, ErrKeyExpired
	}
	out, err := s.out.EncryptRTCP(dst, plain, &s.outRTCP)
	if err != nil {
		return nil, classify("encrypt RTCP", err, false)
	}
	s.sentRTC++
	return out, nil
}

// DecryptRTCP authenticates and decrypts an SRTCP packet. Errors are
// classified as for DecryptRTP.
func (s *Session) DecryptRTCP(dst, packet []byte) ([]byte, error) {
	s.replayed = false
	out, err := s.in.DecryptRTCP(dst, packet, &s.inRTCP)
	if err != nil {
		return nil, classify("decrypt RTCP", err, s.replayed)
	}
	return out, nil
}

// classify maps pion's errors onto this package's sentinels, keeping
// pion's for the detail.
func classify(op string, err error, replayed bool) error {
	var kind error
	switch {
	case replayed:
		kind = ErrReplay
	case errors.Is(err, srtp.ErrFailedToVerifyAuthTag):
		kind = ErrAuthentication
	case errors.Is(err, srtp.ErrMKINotFound):
		kind = ErrUnknownMKI
	default:
		kind = ErrMalformed
	}
	return fmt.Errorf("sdes: %s: %w: %w", op, kind, err)
}

// newWindow returns a replay window that also tells the Session when it
// refuses a packet, since pion reports replays with an unexported error.
func (s *Session) newWindow(size uint, maxIndex uint64) replaydetector.ReplayDetector {
	rd := replaydetector.New(size, maxIndex)
	w := checkWindow{rd: rd, hit: &s.replayed}
	if ca, ok := rd.(replaydetector.CheckAccepter); ok {
		return &acceptWindow{checkWindow: w, ca: ca}
	}
	return &w
}

// checkWindow wraps a replay detector and records its refusals.
type checkWindow struct {
	rd  replaydetector.ReplayDetector
	hit *bool
}

func (w *checkWindow) Check(seq uint64) (func() bool, bool) {
	accept, ok := w.rd.Check(seq)
	if !ok {
		*w.hit = true
	}
	return accept, ok
}

// acceptWindow adds the two-phase CheckAccepter interface, which pion uses
// without allocating per packet, when the wrapped detector has it.
type acceptWindow struct {
	checkWindow
	ca replaydetector.CheckAccepter
}

func (w *acceptWindow) CheckSeq(seq uint64) replaydetector.Token {
	tok := w.ca.CheckSeq(seq)
	if !tok.Passed() {
		*w.hit = true
	}
	return tok
}

func (w *acceptWindow) Accept(tok replaydetector.Token) bool { return w.ca.Accept(tok) }
