// Package sdes negotiates SRTP keys with SDP security descriptions
// (RFC 4568, the a=crypto attribute) and protects a leg's media with them.
//
// The flow for a leg that offers SRTP:
//
//	n, err := sdes.Answer(offerCryptoValues, sdes.DefaultSuites())
//	// put n.Local.String() in our answer as a=crypto:<value>
//	sess, err := sdes.NewSession(n)
//	plain, err := sess.DecryptRTP(buf, packet, &hdr)
//
// Three crypto suites are understood: AES_CM_128_HMAC_SHA1_80 and
// AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2) and AEAD_AES_128_GCM (RFC 7714
// §12). Offered lines with other suites are skipped, not fatal. Session
// parameters that would weaken protection or that pion/srtp cannot honor
// (UNENCRYPTED_*, UNAUTHENTICATED_SRTP, KDR, FEC) make a line unusable.
//
// SRTP itself is pion/srtp/v3; this package adds the keying, the context
// set-up with replay protection, and error classification. Keys come from
// crypto/rand.
package sdes
