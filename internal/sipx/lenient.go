package sipx

import (
	"bytes"
	"hash/fnv"
	"maps"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// This file makes sipgo read two forms RFC 3261 allows that its parser
// does not, both from RFC 4475's torture tests. They are fixed around the
// parser rather than in it, because the parser is sipgo's.

// HeaderParsers are sipgo's header parsers with From and To (and their
// compact forms f and t) reading parameters the way RFC 3261 §25.1 writes
// them: EQUAL = SWS "=" SWS, so "tag = 98asjd8" is the tag 98asjd8 (RFC
// 4475 §3.1.1.1). sipgo keeps the spaces in the name and the value, and a
// request whose From tag is thereby lost cannot be matched to a
// transaction and is refused with 400. Names and values are trimmed of
// spaces and tabs; a quoted value keeps what is inside its quotes.
func HeaderParsers() map[string]sip.HeaderParser {
	m := maps.Clone(sip.DefaultHeadersParser())
	for _, name := range []string{"from", "f", "to", "t"} {
		parse := m[name]
		if parse == nil {
			continue
		}
		m[name] = func(headerName []byte, headerData string) (sip.Header, error) {
			h, err := parse(headerName, headerData)
			if err != nil {
				return h, err
			}
			switch v := h.(type) {
			case *sip.FromHeader:
				trimParams(v.Params)
			case *sip.ToHeader:
				trimParams(v.Params)
			}
			return h, nil
		}
	}
	return m
}

// trimParams trims the linear white space around each parameter's name
// and value in place.
func trimParams(p sip.HeaderParams) {
	for i := range p {
		p[i].K = strings.Trim(p[i].K, " \t")
		p[i].V = strings.Trim(p[i].V, " \t")
	}
}

// ForeignSchemeHost is the host of the Request-URI that RewriteForeignScheme
// puts in place of one sipgo cannot parse.
const ForeignSchemeHost = "foreign-scheme.invalid"

// RewriteForeignScheme reads the start of a message (a datagram, or what a
// stream read returned) and, if it is a request line whose Request-URI has
// a scheme sipgo's parser refuses (it takes letters only, so not
// "soap.beep", RFC 4475 §3.3.3; RFC 3261 §25.1 allows digits, "+", "-"
// and "."), replaces that URI with sip:foreign-scheme.invalid;scheme=S.
// sipgo then parses the request, and the element answers it with 416
// Unsupported URI Scheme (RFC 3261 §8.2.2.1) instead of the parser
// dropping it unanswered. Anything else is returned as it is. Only the
// request line changes, so Content-Length stays right.
func RewriteForeignScheme(data []byte) []byte {
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		return data
	}
	line := data[:end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return data
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || !bytes.HasPrefix(bytes.ToUpper(bytes.TrimRight(rest[sp2+1:], "\r")), []byte("SIP/2.0")) {
		return data
	}
	uri := rest[:sp2]
	colon := bytes.IndexByte(uri, ':')
	if colon <= 0 {
		return data
	}
	scheme := uri[:colon]
	if lettersOnly(scheme) || !validScheme(scheme) {
		// Letters only: sipgo reads it. Not a scheme at all: the
		// parser's refusal is the right answer.
		return data
	}
	out := make([]byte, 0, len(data)+len(ForeignSchemeHost)+16)
	out = append(out, data[:sp1+1]...)
	out = append(out, "sip:"+ForeignSchemeHost+";scheme="...)
	out = append(out, bytes.ToLower(scheme)...)
	out = append(out, data[sp1+1+sp2:]...)
	return out
}

// ForeignScheme reports the scheme of a Request-URI that
// RewriteForeignScheme replaced.
func ForeignScheme(req *sip.Request) (scheme string, ok bool) {
	if req.Recipient.Host != ForeignSchemeHost || req.Recipient.UriParams == nil {
		return "", false
	}
	return req.Recipient.UriParams.Get("scheme")
}

// validScheme: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
// (RFC 3261 §25.1).
func validScheme(s []byte) bool {
	if len(s) == 0 || len(s) > 32 || !isLetter(s[0]) {
		return false
	}
	for _, c := range s[1:] {
		if !isLetter(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func lettersOnly(s []byte) bool {
	for _, c := range s {
		if !isLetter(c) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isToken: a method is a token (RFC 3261 §25.1); enough to tell a request
// line from a status line or a body.
func isToken(s []byte) bool {
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return len(s) > 0
}

// BranchRFC2543 gives a datagram request that has no branch in its top
// Via and no From tag (an RFC 2543 request, RFC 4475
// §3.4.1) a branch of its own: sipgo matches such a request the RFC 2543
// way, which needs the From tag, and refuses it with 400 without one. The
// branch is made from what stays the same across the request's
// retransmissions, its CANCEL and the ACK of a failure (Call-ID, CSeq
// number, From, To without tag, Request-URI and the top Via: RFC 3261
// §17.2.3's RFC 2543 matching), so they all meet the same transaction. The
// request is parsed with parser and written out again, as sipgo would
// write it in its responses anyway; the responses carry the branch in their
// Via, which RFC 2543 user agents ignore (they match the top Via by its
// sent-by). Anything else is returned as it is, after a cheap look: a
// datagram that holds the magic cookie anywhere is not parsed.
func BranchRFC2543(data []byte, parser *sip.Parser) []byte {
	if bytes.Contains(data, []byte(sip.RFC3261BranchMagicCookie)) {
		return data
	}
	m, err := parser.ParseSIP(data)
	if err != nil {
		return data
	}
	req, ok := m.(*sip.Request)
	if !ok {
		return data
	}
	via, from, to, cseq, callID := req.Via(), req.From(), req.To(), req.CSeq(), req.CallID()
	if via == nil || from == nil || to == nil || cseq == nil || callID == nil {
		return data
	}
	if _, tagged := from.Params.Get("tag"); tagged {
		return data
	}
	if _, branched := via.Params.Get("branch"); branched {
		// An RFC 2543 branch is a proxy's, which its responses must
		// bring back unchanged.
		return data
	}
	h := fnv.New64a()
	for _, s := range []string{callID.Value(), strconv.FormatUint(uint64(cseq.SeqNo), 10), from.Value(),
		to.Address.String(), req.Recipient.String(), via.Transport, via.Host, strconv.Itoa(via.Port)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	branch := sip.RFC3261BranchMagicCookie + "-2543-" + strconv.FormatUint(h.Sum64(), 36)
	via.Params.Add("branch", branch)
	out := []byte(req.String())
	if _, err := parser.ParseSIP(out); err != nil {
		// sipgo does not always write what it read in a form it reads
		// back (a request line with an odd version); such a request keeps
		// its own text, and its 400.
		return data
	}
	return out
}
