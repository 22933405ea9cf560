package pcap

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the captures and scenarios in test/sipp")

// TestCommittedFilesAreCurrent fails when a file under test/sipp differs
// from what its generator makes (or, with -update, rewrites it), and when
// a capture is committed in a generator's directory that it no longer
// makes: Files (the dial-in scenarios) and PINFiles (the leader's path).
func TestCommittedFilesAreCurrent(t *testing.T) {
	for _, g := range []struct {
		name  string
		dir   string
		files func() (map[string][]byte, error)
	}{
		{"Files", Dir, Files},
		{"PINFiles", PINDir, PINFiles},
	} {
		t.Run(g.name, func(t *testing.T) {
			files, err := g.files()
			if err != nil {
				t.Fatal(err)
			}
			checkCommitted(t, files, g.dir)
		})
	}
}

// checkCommitted compares (or, with -update, writes) the files a generator
// makes with those under test/sipp, and finds stale captures in dir.
func checkCommitted(t *testing.T, files map[string][]byte, dir string) {
	t.Helper()
	root := ".." // test/sipp
	for name, want := range files {
		p := filepath.Join(root, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v): run go test ./test/sipp/pcap -update", p, err)
		}
	}
	committed, _ := filepath.Glob(filepath.Join(root, dir, "*.pcap"))
	for _, p := range committed {
		rel, _ := filepath.Rel(root, p)
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s is not made by this package any more: remove it", p)
		}
	}
}

// event is one telephone-event packet read back from a capture.
type event struct {
	seq      uint16
	ts       uint32
	marker   bool
	code     byte
	end      bool
	duration uint16
	atMicros int64
}

// readCapture parses a capture the way SIPp does, independently of the
// writer: pcap header, Ethernet, IPv4, UDP, then RTP.
func readCapture(t *testing.T, b []byte) []event {
	t.Helper()
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("not a little-endian Ethernet libpcap file")
	}
	var out []event
	var t0 int64
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			t.Fatalf("truncated record header at %d", off)
		}
		sec, usec := binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])
		caplen, wirelen := int(binary.LittleEndian.Uint32(b[off+8:])), int(binary.LittleEndian.Uint32(b[off+12:]))
		if caplen != wirelen {
			t.Fatalf("caplen %d != len %d: SIPp refuses truncated packets", caplen, wirelen)
		}
		f := b[off+16 : off+16+caplen]
		off += 16 + caplen
		if binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14]>>4 != 4 || f[14+9] != 17 {
			t.Fatalf("not IPv4/UDP over Ethernet")
		}
		ip := f[14:]
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) || ipChecksum(ip[:20]) != 0 {
			t.Fatalf("bad IPv4 length or checksum")
		}
		udp := ip[20:]
		if int(binary.BigEndian.Uint16(udp[4:])) != len(udp) {
			t.Fatalf("UDP length %d, packet %d", binary.BigEndian.Uint16(udp[4:]), len(udp))
		}
		rtp := udp[8:]
		if len(rtp) != 16 || rtp[0] != 0x80 || rtp[1]&0x7f != PayloadType || binary.BigEndian.Uint32(rtp[8:]) != SSRC {
			t.Fatalf("not a telephone-event RTP packet: % x", rtp)
		}
		at := int64(sec)*1_000_000 + int64(usec)
		if out == nil {
			t0 = at
		}
		out = append(out, event{
			seq: binary.BigEndian.Uint16(rtp[2:]), ts: binary.BigEndian.Uint32(rtp[4:]), marker: rtp[1]&0x80 != 0,
			code: rtp[12], end: rtp[13]&0x80 != 0, duration: binary.BigEndian.Uint16(rtp[14:]), atMicros: at - t0,
		})
		if rtp[13]&0x40 != 0 || rtp[13]&0x3f != Volume {
			t.Fatalf("R bit set or volume %d", rtp[13]&0x3f)
		}
	}
	return out
}

// presses splits events into presses and checks each against RFC 4733
// §2.5.1: one timestamp per press, the marker on its first packet only,
// durations that do not shrink, and three final reports with the E bit.
func presses(t *testing.T, evs []event) []byte {
	t.Helper()
	var keys []byte
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && evs[j].ts == evs[i].ts {
			j++
		}
		p := evs[i:j]
		i = j
		ends := 0
		for k, e := range p {
			if e.marker != (k == 0) {
				t.Errorf("press at ts %d: marker on packet %d", e.ts, k)
			}
			if e.code != p[0].code {
				t.Errorf("press at ts %d changes event", e.ts)
			}
			if k > 0 && e.duration < p[k-1].duration {
				t.Errorf("press at ts %d: duration shrinks", e.ts)
			}
			if e.end {
				ends++
			} else if ends > 0 {
				t.Errorf("press at ts %d: report after the end", e.ts)
			}
		}
		if ends != endPackets || len(p) != pressPackets+endPackets {
			t.Errorf("press at ts %d: %d packets, %d final; want %d and %d", p[0].ts, len(p), ends, pressPackets+endPackets, endPackets)
		}
		if d := p[len(p)-1].duration; d != ClockRate/10 {
			t.Errorf("press at ts %d lasts %d samples, want 100 ms", p[0].ts, d)
		}
		keys = append(keys, "0123456789*#"[p[0].code])
	}
	return keys
}

// TestCallSequence plays, in the order the call scenario would, the
// captures for a conference ID and a passcode with repeated digits, and
// checks that every packet of the call has a later sequence number than
// the one before and every press a later timestamp: what a receiver and
// SRTP replay protection need to take each press once.
func TestCallSequence(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, k := range []byte("55501171") {
		names = append(names, slotName(confIDSlot+i, k))
	}
	names = append(names, slotName(confIDPound, '#'))
	for i, k := range []byte("00000") {
		names = append(names, slotName(passcodeSlot+i, k))
	}
	names = append(names, slotName(passPound, '#'))
	for n := 1; n <= WrongAttempts; n++ {
		names = append(names, wrongName(n))
	}
	var all []event
	var typed []byte
	for _, n := range names {
		evs := readCapture(t, files[n])
		typed = append(typed, presses(t, evs)...)
		all = append(all, evs...)
	}
	want := "55501171#00000#" + strings.Repeat(WrongID+"#", WrongAttempts)
	if string(typed) != want {
		t.Errorf("typed %q, want %q", typed, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].seq <= all[i-1].seq {
			t.Fatalf("sequence number %d after %d", all[i].seq, all[i-1].seq)
		}
		if all[i].ts < all[i-1].ts {
			t.Fatalf("timestamp %d after %d", all[i].ts, all[i-1].ts)
		}
	}
	// The wrong-ID captures hold several presses, 300 ms apart.
	evs := readCapture(t, files[wrongName(1)])
	if last := evs[len(evs)-1].atMicros; last != int64(len(WrongID)*keyGapMillis+(pressPackets+endPackets-1)*packetMillis)*1000 {
		t.Errorf("wrong-ID capture ends at %d µs", last)
	}
}

// TestScenarioPicksEachDigit checks the generated call scenario's keypad:
// for each position, one capture per digit of that position's slot, each
// guarded by a regular expression matching exactly that digit there.
func TestScenarioPicksEachDigit(t *testing.T) {
	s := callScenario()
	play := regexp.MustCompile(`<nop condexec="(id|pc)(\d+)_(\d)"><action><exec play_pcap_audio="([^"]+)"/>`)
	ereg := regexp.MustCompile(`<ereg regexp="([^"]+)" search_in="var" variable="(id|pc)" assign_to="((?:id|pc)\d+(?:_\d)?)"/>`)
	res := map[string]*regexp.Regexp{}
	for _, m := range ereg.FindAllStringSubmatch(s, -1) {
		res[m[3]] = regexp.MustCompile(m[1])
	}
	plays := play.FindAllStringSubmatch(s, -1)
	if len(plays) != 2*MaxDigits*10 {
		t.Fatalf("%d digit captures in the scenario, want %d", len(plays), 2*MaxDigits*10)
	}
	entry := map[string]string{"id": "905512348871", "pc": "3141592"}
	var typed = map[string]string{}
	for _, m := range plays {
		flag := m[1] + m[2] + "_" + m[3]
		re := res[flag]
		if re == nil {
			t.Fatalf("no flag %s", flag)
		}
		if re.MatchString(entry[m[1]]) {
			typed[m[1]] += m[3]
			slot := confIDSlot
			if m[1] == "pc" {
				slot = passcodeSlot
			}
			var pos int
			for _, c := range m[2] {
				pos = pos*10 + int(c-'0')
			}
			if m[4] != slotName(slot+pos, m[3][0]) {
				t.Errorf("flag %s plays %s", flag, m[4])
			}
		}
	}
	for k, v := range entry {
		if typed[k] != v {
			t.Errorf("%s: the scenario would type %q, want %q", k, typed[k], v)
		}
	}
	var sorted []string
	for k := range res {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	if len(sorted) != 2*MaxDigits*11 {
		t.Errorf("%d flags, want %d", len(sorted), 2*MaxDigits*11)
	}
}

func TestEventCode(t *testing.T) {
	for _, tc := range []struct {
		key  byte
		code byte
		ok   bool
	}{{'0', 0, true}, {'9', 9, true}, {'*', 10, true}, {'#', 11, true}, {'A', 0, false}, {' ', 0, false}} {
		c, err := eventCode(tc.key)
		if (err == nil) != tc.ok || c != tc.code {
			t.Errorf("eventCode(%q) = %d, %v", tc.key, c, err)
		}
	}
	if _, err := pressPacketsFor(-1, '1'); err == nil {
		t.Error("negative slot accepted")
	}
}
