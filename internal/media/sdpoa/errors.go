package sdpoa

import "errors"

// Limits on a remote description. They bound the work and memory one SIP
// message can cost; real offers are far smaller (a Lync offer with ICE
// candidates and three crypto lines is about 2.5 KiB).
const (
	// MaxSize is the largest description Parse accepts, in bytes.
	MaxSize = 16 << 10
	// MaxMedia is the largest number of m= lines Parse accepts.
	MaxMedia = 16
	// MaxFormats is the largest number of formats one m= line may list.
	MaxFormats = 64
	// MaxAttributes is the largest number of a= lines in one description.
	MaxAttributes = 512
)

var (
	// ErrTooLarge reports a description over MaxSize bytes or with more
	// than MaxMedia m= lines, MaxFormats formats or MaxAttributes a= lines.
	ErrTooLarge = errors.New("sdpoa: session description too large")
	// ErrMalformed reports a description that is not valid SDP (RFC 4566)
	// or that this package cannot interpret.
	ErrMalformed = errors.New("sdpoa: malformed session description")
	// ErrNoAudio reports an offer or answer without a usable audio stream.
	ErrNoAudio = errors.New("sdpoa: no usable audio stream")
	// ErrNoCommonCodec reports that no offered audio codec is supported.
	ErrNoCommonCodec = errors.New("sdpoa: no common codec")
	// ErrSRTPRequired reports an unencrypted offer or answer while the
	// configuration requires SRTP.
	ErrSRTPRequired = errors.New("sdpoa: SRTP required")
	// ErrSRTPUnsupported reports an offer that requires SRTP (RTP/SAVP, or
	// a=encryption:required) that cannot be met: SRTP is off, no key
	// callback is set, or no offered crypto suite is acceptable.
	ErrSRTPUnsupported = errors.New("sdpoa: offered SRTP not acceptable")
	// ErrTransport reports an audio stream whose transport protocol is not
	// RTP over UDP (for example DTLS-SRTP "UDP/TLS/RTP/SAVPF" or RTP over TCP).
	ErrTransport = errors.New("sdpoa: unsupported transport")
	// ErrAddressFamily reports an offer in an address family for which the
	// configuration has no local address (RFC 6157 §3.1 forbids answering
	// an IP6 stream with an IP4 address).
	ErrAddressFamily = errors.New("sdpoa: no local address of the offered family")
	// ErrRejected reports an answer that rejected our audio stream (port 0).
	ErrRejected = errors.New("sdpoa: audio stream rejected by the answerer")
	// ErrAnswerMismatch reports an answer that does not fit our offer: a
	// different number of m= lines, another media type or transport, or a
	// crypto tag we never offered.
	ErrAnswerMismatch = errors.New("sdpoa: answer does not match the offer")
	// ErrConfig reports an invalid Config. It is a local fault (SIP 500),
	// not a reason to refuse the peer.
	ErrConfig = errors.New("sdpoa: invalid configuration")
)
