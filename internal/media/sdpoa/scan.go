package sdpoa

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// scanned is a description split into the lines Parse uses, in the order
// pion/sdp expects them.
type scanned struct {
	origin, name, conn, timing string
	attrs                      []string
	media                      []section
}

// section is one m= line and its c= and a= lines.
type section struct {
	m     mline
	conn  string
	attrs []string
}

// mline is a parsed m= line (RFC 4566 §5.14).
type mline struct {
	media   string
	port    int
	proto   string
	formats []string
}

// scan checks the line structure of a description and keeps the lines that
// matter, so that the pion parser sees them in canonical order.
func scan(text string) (*scanned, error) {
	p := &scanned{}
	var cur *section
	seenV := false
	nattrs := 0
	for n := 1; text != ""; n++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return nil, fmt.Errorf("%w: line %d: not <type>=<value>: %.40q", ErrMalformed, n, line)
		}
		if i := strings.IndexFunc(line, isControl); i >= 0 {
			return nil, fmt.Errorf("%w: line %d: control character %q", ErrMalformed, n, line[i])
		}
		typ, val := line[0], strings.TrimSpace(line[2:])
		if !seenV {
			if typ != 'v' || val != "0" {
				return nil, fmt.Errorf("%w: line %d: must be v=0", ErrMalformed, n)
			}
			seenV = true
			continue
		}
		switch typ {
		case 'o', 's', 't':
			if cur != nil {
				return nil, fmt.Errorf("%w: line %d: %c= inside a media section", ErrMalformed, n, typ)
			}
			switch {
			case typ == 'o' && p.origin != "":
				return nil, fmt.Errorf("%w: line %d: second o= line", ErrMalformed, n)
			case typ == 'o':
				if err := checkOrigin(val); err != nil {
					return nil, fmt.Errorf("%w: line %d: %w", ErrMalformed, n, err)
				}
				p.origin = val
			case typ == 's' && p.name == "":
				p.name = val
			case typ == 't' && p.timing == "":
				p.timing = val
			}
		case 'c':
			if cur == nil && p.conn != "" {
				return nil, fmt.Errorf("%w: line %d: second session-level c= line", ErrMalformed, n)
			}
			if cur == nil {
				p.conn = val
			} else if cur.conn == "" {
				cur.conn = val // later ones are multicast layers (RFC 4566 §5.7)
			}
		case 'a':
			if nattrs++; nattrs > MaxAttributes {
				return nil, fmt.Errorf("%w: more than %d a= lines", ErrTooLarge, MaxAttributes)
			}
			if cur == nil {
				p.attrs = append(p.attrs, val)
			} else {
				cur.attrs = append(cur.attrs, val)
			}
		case 'm':
			if len(p.media) == MaxMedia {
				return nil, fmt.Errorf("%w: more than %d m= lines", ErrTooLarge, MaxMedia)
			}
			m, err := parseMline(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			p.media = append(p.media, section{m: m})
			cur = &p.media[len(p.media)-1]
		case 'v':
			return nil, fmt.Errorf("%w: line %d: second v= line", ErrMalformed, n)
		case 'i', 'u', 'e', 'p', 'b', 'r', 'z', 'k':
			// Never used by an audio MCU; dropping them keeps an odd
			// bandwidth type or URI from failing the whole offer.
		default:
			// RFC 4566 §5: a parser must ignore a description that
			// contains a type letter it does not understand.
			return nil, fmt.Errorf("%w: line %d: unknown type %c=", ErrMalformed, n, typ)
		}
	}
	if !seenV {
		return nil, fmt.Errorf("%w: empty description", ErrMalformed)
	}
	if p.origin == "" {
		return nil, fmt.Errorf("%w: no o= line", ErrMalformed)
	}
	return p, nil
}

func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

// checkOrigin verifies the o= fields pion reads as numbers: pion does not
// detect overflow.
func checkOrigin(v string) error {
	f := strings.Fields(v)
	if len(f) != 6 {
		return fmt.Errorf("o= line has %d fields, want 6", len(f))
	}
	for _, num := range f[1:3] {
		if _, err := strconv.ParseUint(num, 10, 64); err != nil {
			return fmt.Errorf("o= session id or version %q is not a 64-bit number", num)
		}
	}
	return nil
}

// parseMline parses "<media> <port>[/<count>] <proto> <fmt> ...".
func parseMline(v string) (mline, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return mline{}, fmt.Errorf("%w: m= line needs media, port and transport: %.60q", ErrMalformed, v)
	}
	if len(f)-3 > MaxFormats {
		return mline{}, fmt.Errorf("%w: m= line lists %d formats, limit %d", ErrTooLarge, len(f)-3, MaxFormats)
	}
	m := mline{media: f[0], proto: f[2], formats: f[3:]}
	if !isToken(m.media, "-_.") {
		return mline{}, fmt.Errorf("%w: bad media type %.30q", ErrMalformed, m.media)
	}
	portText, _, _ := strings.Cut(f[1], "/")
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return mline{}, fmt.Errorf("%w: bad port %.30q", ErrMalformed, f[1])
	}
	m.port = int(port)
	if !isToken(m.proto, "/-_.") {
		return mline{}, fmt.Errorf("%w: bad transport %.30q", ErrMalformed, m.proto)
	}
	return m, nil
}

func isToken(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune(extra, r) {
			return false
		}
	}
	return true
}

// pion/sdp rejects media types and transport tokens outside its lists;
// Parse reads m= lines itself, so an m= line pion would refuse is handed to
// it as a neutral stand-in.
var (
	pionMedia = []string{"audio", "video", "text", "application", "message"}
	pionProto = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF",
		"TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC"}
)

func (m mline) forPion() string {
	media, proto := m.media, m.proto
	ok := slices.Contains(pionMedia, media)
	for part := range strings.SplitSeq(proto, "/") {
		ok = ok && slices.Contains(pionProto, part)
	}
	if !ok {
		media, proto = "application", "UDP"
	}
	return media + " " + strconv.Itoa(m.port) + " " + proto + " " + strings.Join(m.formats, " ")
}

// canonical renders the kept lines in RFC 4566 order for pion.
func (p *scanned) canonical() string {
	var b strings.Builder
	line := func(typ, val string) {
		b.WriteString(typ)
		b.WriteByte('=')
		b.WriteString(val)
		b.WriteString("\r\n")
	}
	line("v", "0")
	line("o", p.origin)
	line("s", cmp.Or(p.name, "-"))
	if p.conn != "" {
		line("c", p.conn)
	}
	line("t", cmp.Or(p.timing, "0 0"))
	for _, a := range p.attrs {
		line("a", a)
	}
	for _, s := range p.media {
		line("m", s.m.forPion())
		if s.conn != "" {
			line("c", s.conn)
		}
		for _, a := range s.attrs {
			line("a", a)
		}
	}
	return b.String()
}
