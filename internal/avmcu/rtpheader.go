package avmcu

import (
	"encoding/binary"
	"errors"
)

// errBadRTP reports a datagram that is not a well-formed RTP packet.
var errBadRTP = errors.New("avmcu: malformed RTP packet")

// rtpHeader holds the fields of an RTP header (RFC 3550 §5.1) the inbound
// path needs.
type rtpHeader struct {
	marker bool
	pt     uint8
	seq    uint16
	ts     uint32
	ssrc   uint32
}

// parseRTP parses the RTP packet pkt into h and returns its payload. It
// walks the CSRC list and the header extension (RFC 3550 §5.3.1) and strips
// the padding (§5.1, P bit: the last octet counts the padding octets,
// itself included). It never reads past pkt and allocates nothing.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           timestamp                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           synchronization source (SSRC) identifier            |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
func parseRTP(pkt []byte, h *rtpHeader) ([]byte, error) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return nil, errBadRTP
	}
	off := 12 + 4*int(pkt[0]&0x0F)
	if pkt[0]&0x10 != 0 { // X: a 4-octet extension header, then length words
		if len(pkt) < off+4 {
			return nil, errBadRTP
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 { // P
		pad := int(pkt[end-1])
		if pad == 0 {
			return nil, errBadRTP
		}
		end -= pad
	}
	if off > end {
		return nil, errBadRTP
	}
	h.marker = pkt[1]&0x80 != 0
	h.pt = pkt[1] & 0x7F
	h.seq = binary.BigEndian.Uint16(pkt[2:])
	h.ts = binary.BigEndian.Uint32(pkt[4:])
	h.ssrc = binary.BigEndian.Uint32(pkt[8:])
	return pkt[off:end], nil
}

// isRTCP tells RTCP from RTP on a multiplexed port (RFC 5761 §4): the
// second octet of RTCP is its packet type, 192-223 in practice (SR 200,
// RR 201, SDES 202, BYE 203, APP 204, feedback 205-206), which in RTP
// would be the marker bit and a payload type of 64-95, a range RFC 5761
// §4 says RTP must not use alongside multiplexed RTCP.
func isRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[0]>>6 == 2 && pkt[1] >= 192 && pkt[1] <= 223
}
