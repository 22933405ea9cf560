package pcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// What SIPp's play_pcap_audio reads (SIPp src/prepare_pcap.c): a libpcap
// capture with Ethernet (or Linux cooked) framing, IPv4 or IPv6, UDP, and
// packets captured whole (caplen = len). It keeps the UDP header and
// payload, sends each packet from the call's media port to the remote
// media port plus the packet's offset from the lowest destination port of
// the capture, and spaces packets as their capture times are.
const (
	linkEthernet = 1 // LINKTYPE_ETHERNET
	snapLen      = 65535
	// srcPort and dstPort are placeholders: SIPp replaces both.
	srcPort = 6002
	dstPort = 6000
	// baseSeconds is the capture time of a capture's first packet, an
	// arbitrary fixed instant so that the files are reproducible.
	baseSeconds = 1_700_000_000
)

// writeCapture writes packets as a libpcap file (the classic format:
// microsecond timestamps, little-endian magic 0xa1b2c3d4).
func writeCapture(w io.Writer, pkts []rtpPacket) error {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], snapLen)
	binary.LittleEndian.PutUint32(hdr[20:], linkEthernet)
	b.Write(hdr)
	for i, p := range pkts {
		frame := ethernetFrame(uint16(i), p.payload)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(baseSeconds+p.atMillis/1000))
		binary.LittleEndian.PutUint32(rec[4:], uint32(p.atMillis%1000)*1000)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("pcap: write: %w", err)
	}
	return nil
}

// ethernetFrame wraps an RTP packet in UDP (RFC 768), IPv4 (RFC 791) from
// and to 127.0.0.1, and Ethernet II with locally administered addresses.
// The UDP checksum is zero (none, for IPv4): SIPp computes its own.
func ethernetFrame(id uint16, rtp []byte) []byte {
	udpLen := 8 + len(rtp)
	ipLen := 20 + udpLen
	f := make([]byte, 14+ipLen)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:], id)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64                                 // TTL
	ip[9] = 17                                 // UDP
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:20]))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], srcPort)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	copy(udp[8:], rtp)
	return f
}

// ipChecksum is the IPv4 header checksum (RFC 791 §3.1, RFC 1071).
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
