package server

import (
	"bytes"
)

// The stateless REGISTER front end (regfront.go) looks at every datagram
// before sipgo parses it. sniff reads just enough of a request, without
// allocating, to recognise a REGISTER, to tell its transaction apart from
// every other (RFC 3261 §17.2.3) and to answer it with a stateless 503
// (RFC 3261 §8.2.6.2 lists what a response copies from the request). It
// does not validate the message: anything it cannot read with certainty,
// such as folded header lines, is left to sipgo's full parser, which
// handles it as before.

// maxSniffedVias bounds the Via header lines a sniffed request may have. A
// REGISTER reaches its registrar through a few proxies at most; more lines
// send the request to sipgo's path.
const maxSniffedVias = 8

// span is the half-open byte range [start, end) of a datagram.
type span struct{ start, end int }

func (s span) of(b []byte) []byte { return b[s.start:s.end] }

// sniffed is what sniff found in a request. Spans index the datagram.
type sniffed struct {
	method span

	// Header lines, from the name to the end of the value (without CRLF).
	vias          [maxSniffedVias]span
	nVias         int
	from, to      span
	callIDLine    span
	cseqLine      span
	callID        span // the Call-ID value
	cseq          uint32
	cseqMethod    span
	fromTag       span
	hasToTag      bool
	topVia        viaValue
	contentLength int
	hasContentLen bool
	headersEnd    int // offset of the body
}

// viaValue is the first value of the top Via header.
type viaValue struct {
	transport span // UDP, TCP, TLS...
	host      span // sent-by host, without brackets for IPv6
	port      int  // sent-by port, 0 when absent
	branch    span
	rport     bool // rport without a value (RFC 3581 §3)
	rportEnd  int  // offset just after the rport parameter name
	end       int  // offset just after the value's last parameter
}

// isRegister reports whether the request's method is REGISTER, in the
// request line and in the CSeq (RFC 3261 §8.1.1.5: they must match).
func (s *sniffed) isRegister(b []byte) bool {
	return string(s.method.of(b)) == "REGISTER" && string(s.cseqMethod.of(b)) == "REGISTER"
}

// sniff reads the request in b into s. It returns false when b is not a
// request it can read with certainty: a response, a request missing Via,
// From, To, Call-ID or CSeq, or one with folded lines or two of a header
// that may appear once.
func sniff(b []byte, s *sniffed) bool {
	*s = sniffed{}
	line, rest, ok := cutLine(b, 0)
	if !ok {
		return false
	}
	// Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1).
	first := line.of(b)
	sp := bytes.IndexByte(first, ' ')
	if sp <= 0 || !isToken(first[:sp]) || !bytes.HasSuffix(first, []byte(" SIP/2.0")) {
		return false
	}
	s.method = span{line.start, line.start + sp}

	var haveFrom, haveTo, haveCallID, haveCSeq bool
	var haveMaxForwards, haveContentType, haveExpires bool
	for {
		line, rest, ok = cutLine(b, rest)
		if !ok {
			return false
		}
		if line.start == line.end {
			s.headersEnd = rest
			break
		}
		l := line.of(b)
		if l[0] == ' ' || l[0] == '\t' {
			return false // folded line (RFC 3261 §7.3.1): leave it to sipgo
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return false
		}
		name := bytes.TrimRight(l[:colon], " \t")
		vs := line.start + colon + 1
		for vs < line.end && (b[vs] == ' ' || b[vs] == '\t') {
			vs++
		}
		ve := line.end
		for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
			ve--
		}
		value := span{vs, ve}
		switch {
		case headerIs(name, "via", "v"):
			if s.nVias == maxSniffedVias {
				return false
			}
			if s.nVias == 0 && !sniffVia(b, value, &s.topVia) {
				return false
			}
			s.vias[s.nVias] = line
			s.nVias++
		case headerIs(name, "from", "f"):
			if haveFrom {
				return false
			}
			haveFrom, s.from = true, line
			s.fromTag, _ = addressTag(b, value)
		case headerIs(name, "to", "t"):
			if haveTo {
				return false
			}
			haveTo, s.to = true, line
			_, s.hasToTag = addressTag(b, value)
		case headerIs(name, "call-id", "i"):
			if haveCallID || value.start == value.end {
				return false
			}
			haveCallID, s.callIDLine, s.callID = true, line, value
		case headerIs(name, "cseq", ""):
			if haveCSeq || !sniffCSeq(b, value, s) {
				return false
			}
			haveCSeq, s.cseqLine = true, line
		case headerIs(name, "content-length", "l"):
			n, ok := atoi(value.of(b))
			if !ok || s.hasContentLen {
				return false
			}
			s.contentLength, s.hasContentLen = n, true
		// Single-valued as well (sipx.ValidateRequest): a request with
		// two of one goes the long way, to be refused there.
		case headerIs(name, "max-forwards", ""):
			if haveMaxForwards {
				return false
			}
			haveMaxForwards = true
		case headerIs(name, "content-type", "c"):
			if haveContentType {
				return false
			}
			haveContentType = true
		case headerIs(name, "expires", ""):
			if haveExpires {
				return false
			}
			haveExpires = true
		}
	}
	return s.nVias > 0 && haveFrom && haveTo && haveCallID && haveCSeq
}

// cutLine returns the line of b starting at off, without its CRLF, and the
// offset of the next line. ok is false when no CRLF ends the line.
func cutLine(b []byte, off int) (line span, next int, ok bool) {
	i := bytes.Index(b[off:], []byte("\r\n"))
	if i < 0 {
		return span{}, 0, false
	}
	return span{off, off + i}, off + i + 2, true
}

// headerIs compares a header name case-insensitively with its long and
// compact forms (RFC 3261 §7.3.3).
func headerIs(name []byte, long, compact string) bool {
	if compact != "" && len(name) == 1 {
		return name[0]|0x20 == compact[0]
	}
	return len(name) == len(long) && bytes.EqualFold(name, []byte(long))
}

// isToken reports whether b is a non-empty RFC 3261 §25.1 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("-.!%*_+`'~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// atoi parses a non-negative decimal of at most nine digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// sniffCSeq reads CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16).
func sniffCSeq(b []byte, v span, s *sniffed) bool {
	val := v.of(b)
	i := 0
	for i < len(val) && val[i] >= '0' && val[i] <= '9' {
		i++
	}
	n, ok := atoi(val[:i])
	if !ok || i == len(val) || (val[i] != ' ' && val[i] != '\t') {
		return false
	}
	j := i
	for j < len(val) && (val[j] == ' ' || val[j] == '\t') {
		j++
	}
	if !isToken(val[j:]) {
		return false
	}
	s.cseq = uint32(n)
	s.cseqMethod = span{v.start + j, v.end}
	return true
}

// sniffVia reads the first value of a Via header:
// SIP / 2.0 / transport LWS sent-by *( SEMI via-params ), up to a comma
// (RFC 3261 §20.42). Only the common form without spaces inside the
// protocol is read.
func sniffVia(b []byte, v span, out *viaValue) bool {
	val := v.of(b)
	const proto = "SIP/2.0/"
	if len(val) < len(proto) || !bytes.EqualFold(val[:len(proto)], []byte(proto)) {
		return false
	}
	i := len(proto)
	ts := i
	for i < len(val) && val[i] != ' ' && val[i] != '\t' {
		i++
	}
	if !isToken(val[ts:i]) {
		return false
	}
	out.transport = span{v.start + ts, v.start + i}
	for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
		i++
	}
	// sent-by = host [ COLON port ]; host may be an IPv6 reference.
	hs := i
	if i < len(val) && val[i] == '[' {
		end := bytes.IndexByte(val[i:], ']')
		if end < 0 {
			return false
		}
		out.host = span{v.start + i + 1, v.start + i + end}
		i += end + 1
	} else {
		for i < len(val) && val[i] != ':' && val[i] != ';' && val[i] != ',' && val[i] != ' ' && val[i] != '\t' {
			i++
		}
		out.host = span{v.start + hs, v.start + i}
	}
	if out.host.start == out.host.end {
		return false
	}
	if i < len(val) && val[i] == ':' {
		i++
		ps := i
		for i < len(val) && val[i] >= '0' && val[i] <= '9' {
			i++
		}
		p, ok := atoi(val[ps:i])
		if !ok || p == 0 || p > 65535 {
			return false
		}
		out.port = p
	}
	out.end = v.start + i
	// via-params, each ;name[=value], until a comma or the end.
	for {
		for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
			i++
		}
		if i == len(val) || val[i] == ',' {
			break
		}
		if val[i] != ';' {
			return false
		}
		i++
		for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
			i++
		}
		ns := i
		for i < len(val) && val[i] != '=' && val[i] != ';' && val[i] != ',' && val[i] != ' ' && val[i] != '\t' {
			i++
		}
		name := val[ns:i]
		nameEnd := i
		for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
			i++
		}
		var value span
		hasValue := false
		if i < len(val) && val[i] == '=' {
			hasValue = true
			i++
			for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
				i++
			}
			vs := i
			if i < len(val) && val[i] == '"' {
				end := bytes.IndexByte(val[i+1:], '"')
				if end < 0 {
					return false
				}
				i += end + 2
			} else {
				for i < len(val) && val[i] != ';' && val[i] != ',' && val[i] != ' ' && val[i] != '\t' {
					i++
				}
			}
			value = span{v.start + vs, v.start + i}
		}
		if !isToken(name) {
			return false
		}
		switch {
		case bytes.EqualFold(name, []byte("branch")):
			if !hasValue || value.start == value.end {
				return false
			}
			out.branch = value
		case bytes.EqualFold(name, []byte("rport")):
			out.rport = !hasValue
			out.rportEnd = v.start + nameEnd
		}
		out.end = v.start + i
	}
	return true
}

// addressTag finds the tag parameter of a From or To value (RFC 3261
// §20.20, §20.39). Without angle brackets every parameter after the URI
// belongs to the header, so the tag is the first ;tag= after the URI; with
// them, the first after the closing bracket. Quoted display names may hold
// any character.
func addressTag(b []byte, v span) (span, bool) {
	val := v.of(b)
	i := 0
	inQuotes := false
	bracket := -1
	for ; i < len(val); i++ {
		c := val[i]
		if inQuotes {
			switch c {
			case '\\':
				i++
			case '"':
				inQuotes = false
			}
			continue
		}
		if c == '"' {
			inQuotes = true
		} else if c == '<' {
			bracket = i
			break
		}
	}
	params := 0
	if bracket >= 0 {
		end := bytes.IndexByte(val[bracket:], '>')
		if end < 0 {
			return span{}, false
		}
		params = bracket + end + 1
	} else {
		// addr-spec: its own parameters would be ambiguous, so RFC 3261
		// §20.10 puts every parameter in the header.
		params = bytes.IndexByte(val, ';')
		if params < 0 {
			return span{}, false
		}
	}
	for i = params; i < len(val); {
		semi := bytes.IndexByte(val[i:], ';')
		if semi < 0 {
			return span{}, false
		}
		i += semi + 1
		for i < len(val) && (val[i] == ' ' || val[i] == '\t') {
			i++
		}
		if len(val)-i >= 3 && bytes.EqualFold(val[i:i+3], []byte("tag")) {
			j := i + 3
			for j < len(val) && (val[j] == ' ' || val[j] == '\t') {
				j++
			}
			if j < len(val) && val[j] == '=' {
				j++
				for j < len(val) && (val[j] == ' ' || val[j] == '\t') {
					j++
				}
				ts := j
				for j < len(val) && val[j] != ';' && val[j] != ' ' && val[j] != '\t' {
					j++
				}
				return span{v.start + ts, v.start + j}, true
			}
		}
	}
	return span{}, false
}
