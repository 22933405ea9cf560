package rtpsess

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RTCP packet types and the SDES item type used here (RFC 3550 §12.1, §12.2).
const (
	typeSR    = 200
	typeRR    = 201
	typeSDES  = 202
	typeBYE   = 203
	sdesCNAME = 1
)

// Wire sizes of RFC 3550 §6.4.1, §6.4.2, §6.5 and §6.6.
const (
	rtcpHeaderLen  = 4
	senderInfoLen  = 20
	reportBlockLen = 24
)

// MaxReportLen is the largest compound packet BuildReport or BuildBye
// writes: an SR with one report block (52 octets), SDES with a 255-octet
// CNAME (268) and BYE (8).
const MaxReportLen = 328

func srLen(blocks int) int { return rtcpHeaderLen + 4 + senderInfoLen + blocks*reportBlockLen }
func rrLen(blocks int) int { return rtcpHeaderLen + 4 + blocks*reportBlockLen }

// sdesLen is one SDES chunk with a CNAME item: header, SSRC, type, length,
// text, then at least one null octet and padding to 32 bits (§6.5).
func sdesLen(cname int) int { return rtcpHeaderLen + (4+2+cname+1+3)&^3 }

const byeLen = rtcpHeaderLen + 4

// BuildReport writes the compound RTCP packet due at now into buf and
// returns its length. Per RFC 3550 §6.1 and §6.4 it starts with an SR if we
// sent RTP since the last report and an RR otherwise, carries one report
// block about the remote if it sent RTP since then, and ends with SDES
// CNAME. It starts new reporting intervals for both directions.
func (s *Session) BuildReport(buf []byte, now time.Time) (int, error) {
	return s.build(buf, now, false)
}

// BuildBye writes the compound packet that ends our participation: the
// report BuildReport would write, followed by BYE for our SSRC (RFC 3550
// §6.6: BYE is the last packet of a compound packet).
func (s *Session) BuildBye(buf []byte, now time.Time) (int, error) {
	return s.build(buf, now, true)
}

func (s *Session) build(buf []byte, now time.Time, bye bool) (int, error) {
	// Size the packet before touching any state, so that a short buffer
	// changes nothing.
	blocks := 0
	if s.rcv.heardSinceReport() {
		blocks = 1
	}
	n := rrLen(blocks)
	if s.snd.sent {
		n = srLen(blocks)
	}
	n += sdesLen(len(s.cname))
	if bye {
		n += byeLen
	}
	if len(buf) < n {
		return 0, fmt.Errorf("%w: %d octets for a %d-octet RTCP packet", ErrShortBuffer, len(buf), n)
	}

	var rb ReportBlock
	if blocks > 0 {
		rb, _ = s.rcv.ReportBlock(now)
	}
	off := 0
	if s.snd.sent {
		off += putSR(buf, s.snd, rb, blocks, now)
	} else {
		off += putRR(buf, s.snd.ssrc, rb, blocks)
	}
	off += putSDES(buf[off:], s.snd.ssrc, s.cname)
	if bye {
		putHeader(buf[off:], 1, typeBYE, byeLen)
		binary.BigEndian.PutUint32(buf[off+4:], s.snd.ssrc)
		off += byeLen
	}
	s.snd.sent = false
	s.initial = false
	s.noteRTCPSize(off)
	return off, nil
}

// putHeader writes the common RTCP header: V=2, no padding, the count,
// the packet type and the length in 32-bit words minus one (§6.4.1).
func putHeader(b []byte, count int, pt uint8, length int) {
	b[0] = 2<<6 | uint8(count)
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:], uint16(length/4-1))
}

func putSR(b []byte, snd *Sender, rb ReportBlock, blocks int, now time.Time) int {
	n := srLen(blocks)
	putHeader(b, blocks, typeSR, n)
	binary.BigEndian.PutUint32(b[4:], snd.ssrc)
	binary.BigEndian.PutUint64(b[8:], ntpTime(now))
	binary.BigEndian.PutUint32(b[16:], snd.rtpTimeAt(now))
	binary.BigEndian.PutUint32(b[20:], snd.packets)
	binary.BigEndian.PutUint32(b[24:], snd.octets)
	if blocks > 0 {
		putBlock(b[28:], rb)
	}
	return n
}

func putRR(b []byte, ssrc uint32, rb ReportBlock, blocks int) int {
	n := rrLen(blocks)
	putHeader(b, blocks, typeRR, n)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	if blocks > 0 {
		putBlock(b[8:], rb)
	}
	return n
}

// putBlock writes a report block (§6.4.1); cumulative loss is a signed
// 24-bit field.
func putBlock(b []byte, rb ReportBlock) {
	binary.BigEndian.PutUint32(b[0:], rb.SSRC)
	binary.BigEndian.PutUint32(b[4:], uint32(rb.FractionLost)<<24|uint32(rb.CumulativeLost)&0xffffff)
	binary.BigEndian.PutUint32(b[8:], rb.ExtendedMax)
	binary.BigEndian.PutUint32(b[12:], rb.Jitter)
	binary.BigEndian.PutUint32(b[16:], rb.LSR)
	binary.BigEndian.PutUint32(b[20:], rb.DLSR)
}

// putSDES writes an SDES packet with one chunk holding our CNAME.
func putSDES(b []byte, ssrc uint32, cname string) int {
	n := sdesLen(len(cname))
	putHeader(b, 1, typeSDES, n)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	b[8] = sdesCNAME
	b[9] = uint8(len(cname))
	end := 10 + copy(b[10:], cname)
	clear(b[end:n]) // the null item that ends the list, and padding
	return n
}
