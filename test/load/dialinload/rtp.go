package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/media/g711"
)

// RTP constants of the simulated endpoints: PCMU (payload type 0) and
// telephone-event (101), 20 ms packets of an 8 kHz clock.
const (
	ptPCMU        = 0
	ptEvent       = 101
	frameInterval = 20 * time.Millisecond
	frameSamples  = 160
	// pressFrames and endReports shape a key press (RFC 4733 §2.5.1):
	// 100 ms of reports while the key is down, then the final report
	// three times (§2.5.1.4); gapFrames of audio separate two presses.
	pressFrames = 5
	endReports  = 3
	gapFrames   = 3
	eventVolume = 10
)

// eventCode maps a keypad key to its telephone-event code (RFC 4733 §3.2).
func eventCode(k byte) (byte, error) {
	switch {
	case k >= '0' && k <= '9':
		return k - '0', nil
	case k == '*':
		return 10, nil
	case k == '#':
		return 11, nil
	}
	return 0, fmt.Errorf("dialinload: %q is not a keypad key", k)
}

// stream is one endpoint's RTP: a socket, a sender that puts out a frame
// every 20 ms (audio, or the reports of the key being pressed), and a
// reader that notes the SSRCs it hears.
type stream struct {
	conn   *net.UDPConn
	rtcp   *net.UDPConn // port+1 (RFC 3550 §11): RTCP, read and dropped
	remote atomic.Pointer[netip.AddrPort]
	ssrc   uint32
	seq    uint16
	ts     uint32
	audio  []byte // PCMU payload sent when no key is pressed; looped
	audOff int

	mu       sync.Mutex
	keys     []byte    // queued keys
	lastKey  func()    // called when the last queued key's first end report leaves
	press    int       // frames sent of the current press, -1 when none
	pressTS  uint32    // RTP timestamp of the current press
	gap      int       // audio frames still due before the next press
	finalEnd time.Time // when the first end report of the last key left
	lastDown time.Time // when the first report of the last key left

	rx rxState
}

// rxState is what the reader saw.
type rxState struct {
	mu        sync.Mutex
	first     time.Time // first packet
	firstSSRC uint32
	// after marks the instant from which a new SSRC counts: the last
	// key's end; switchAt is the first packet from then on with an SSRC
	// other than firstSSRC, lastOld the last packet of firstSSRC before
	// it.
	after    time.Time
	switchAt time.Time
	newSSRC  uint32
	lastOld  time.Time
	packets  uint64
	loud     uint64 // packets of the new SSRC carrying audio (the mix)
	// bySSRC counts the packets after the switch per SSRC, and how many
	// of them were loud, for a failure's report.
	bySSRC    map[uint32]*[2]uint64
	firstSeen chan struct{}
	switched  chan struct{}
}

// newStream binds a loopback socket pair; audio is what it sends between
// keys.
func newStream(audio []byte) (*stream, error) {
	conn, rtcp, err := bindPair()
	if err != nil {
		return nil, err
	}
	s := &stream{
		conn: conn, rtcp: rtcp, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
		audio: audio, press: -1,
	}
	s.rx.firstSeen = make(chan struct{})
	s.rx.switched = make(chan struct{})
	return s, nil
}

// bindPair binds an even loopback port for RTP and the next one for RTCP,
// as a peer that offers no rtcp-mux is sent RTCP at the RTP port plus one
// (RFC 3550 §11, RFC 4566 §5.14). Without the pair, another stream's
// socket could hold that port and hear this one's RTCP.
func bindPair() (*net.UDPConn, *net.UDPConn, error) {
	var last error
	for range 100 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, fmt.Errorf("rtp socket: %w", err)
		}
		port := conn.LocalAddr().(*net.UDPAddr).Port
		if port%2 == 0 && port < 65535 {
			rtcp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
			if err == nil {
				return conn, rtcp, nil
			}
			last = err
		}
		_ = conn.Close()
	}
	if last == nil {
		last = errors.New("the kernel gave odd ports only")
	}
	return nil, nil, fmt.Errorf("rtp socket: no free even/odd port pair: %w", last)
}

// port is the socket's local port, for the SDP offer.
func (s *stream) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// start sends to remote until stop is closed, and reads until the socket
// is closed.
func (s *stream) start(remote netip.AddrPort, stop <-chan struct{}) {
	s.remote.Store(&remote)
	go s.read()
	go drain(s.rtcp)
	go s.send(stop)
}

// close releases the sockets; the readers end.
func (s *stream) close() {
	_ = s.conn.Close()
	_ = s.rtcp.Close()
}

// drain reads and drops what arrives on conn until it is closed.
func drain(conn *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		if _, err := conn.Read(buf); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// typeKeys queues keys to be pressed; done is called when the first final
// report of the last one has left.
func (s *stream) typeKeys(keys string, done func()) error {
	for i := range len(keys) {
		if _, err := eventCode(keys[i]); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.keys = append(s.keys, keys...)
	s.lastKey = done
	s.mu.Unlock()
	return nil
}

func (s *stream) send(stop <-chan struct{}) {
	t := time.NewTicker(frameInterval)
	defer t.Stop()
	buf := make([]byte, 12+frameSamples)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		pkt, done := s.nextPacket(buf)
		if r := s.remote.Load(); r != nil {
			_, _ = s.conn.WriteToUDPAddrPort(pkt, *r)
		}
		if done != nil {
			done()
		}
	}
}

// nextPacket builds this frame's packet: a telephone-event report while a
// key is pressed, audio otherwise. The RTP timestamp advances by a frame
// every time, so that a press's reports carry its start (RFC 4733 §2.3.1)
// and the audio after it continues the clock.
func (s *stream) nextPacket(buf []byte) ([]byte, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done func()
	if s.press < 0 && s.gap == 0 && len(s.keys) > 0 {
		s.press, s.pressTS = 0, s.ts
	}
	b := buf[:12]
	b[0] = 0x80
	if s.press >= 0 {
		code, _ := eventCode(s.keys[0])
		end := s.press >= pressFrames
		b[1] = ptEvent
		if s.press == 0 {
			b[1] |= 0x80 // marker: a new event (RFC 4733 §2.5.1.2)
		}
		binary.BigEndian.PutUint32(b[4:], s.pressTS)
		dur := uint16(frameSamples * min(s.press+1, pressFrames))
		vol := byte(eventVolume)
		if end {
			vol |= 0x80
		}
		b = append(b, code, vol, byte(dur>>8), byte(dur))
		if s.press == 0 && len(s.keys) == 1 {
			s.lastDown = time.Now()
		}
		if s.press == pressFrames && len(s.keys) == 1 {
			s.finalEnd = time.Now()
			done, s.lastKey = s.lastKey, nil
		}
		s.press++
		if s.press == pressFrames+endReports {
			s.press, s.gap = -1, gapFrames
			s.keys = s.keys[1:]
		}
	} else {
		if s.gap > 0 {
			s.gap--
		}
		b[1] = ptPCMU
		binary.BigEndian.PutUint32(b[4:], s.ts)
		n := copy(b[12:12+frameSamples], s.audio[s.audOff:])
		copy(b[12+n:12+frameSamples], s.audio)
		b = b[:12+frameSamples]
		s.audOff = (s.audOff + frameSamples) % len(s.audio)
	}
	binary.BigEndian.PutUint16(b[2:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ssrc)
	s.seq++
	s.ts += frameSamples
	return b, done
}

// markKeysDone sets the instant from which another SSRC counts as the
// hand-off.
func (s *stream) markKeysDone(at time.Time) {
	s.rx.mu.Lock()
	s.rx.after = at
	s.rx.mu.Unlock()
}

func (s *stream) read() {
	buf := make([]byte, 1500)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		// RTP only: RTCP (packet types 192-223 where RTP has its marker
		// and payload type, RFC 5761 §4) carries no audio, and its
		// bytes 8-11 are no SSRC.
		if n < 12 || buf[0]>>6 != 2 || buf[1] >= 192 && buf[1] <= 223 {
			continue
		}
		ssrc := binary.BigEndian.Uint32(buf[8:])
		r := &s.rx
		r.mu.Lock()
		r.packets++
		switch {
		case r.first.IsZero():
			r.first, r.firstSSRC = now, ssrc
			close(r.firstSeen)
		case ssrc == r.firstSSRC:
			if r.switchAt.IsZero() {
				r.lastOld = now
			}
		case r.switchAt.IsZero() && !r.after.IsZero():
			r.switchAt, r.newSSRC = now, ssrc
			close(r.switched)
		}
		if !r.switchAt.IsZero() {
			if r.bySSRC == nil {
				r.bySSRC = make(map[uint32]*[2]uint64)
			}
			c := r.bySSRC[ssrc]
			if c == nil {
				c = new([2]uint64)
				r.bySSRC[ssrc] = c
			}
			c[0]++
			if buf[1]&0x7f == ptPCMU && loud(buf[12:n]) {
				c[1]++
				if ssrc == r.newSSRC {
					r.loud++
				}
			}
		}
		r.mu.Unlock()
	}
}

// afterSwitch describes the packets since the switch: per SSRC, how many
// and how many loud.
func (r *rxState) afterSwitch() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for ssrc, c := range r.bySSRC {
		tag := ""
		switch ssrc {
		case r.newSSRC:
			tag = " (the A/V MCU)"
		case r.firstSSRC:
			tag = " (the attendant)"
		}
		parts = append(parts, fmt.Sprintf("%08x%s: %d packets, %d loud", ssrc, tag, c[0], c[1]))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// loud reports whether a PCMU frame carries a signal (the enterprise
// participant's tone in the mix) rather than silence or comfort noise:
// its RMS level is above about -40 dBFS.
func loud(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	var sum float64
	for _, c := range payload {
		v := float64(g711.UlawToLinear(c))
		sum += v * v
	}
	return math.Sqrt(sum/float64(len(payload))) > 330
}

// toneULaw is one second of a sine at hz, amplitude -6 dBFS, in PCMU.
func toneULaw(hz float64) []byte {
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(16384 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	out := make([]byte, len(pcm))
	g711.EncodeUlaw(out, pcm)
	return out
}

// silenceULaw is one frame of PCMU silence.
func silenceULaw() []byte {
	b := make([]byte, frameSamples)
	for i := range b {
		b[i] = 0xff
	}
	return b
}
