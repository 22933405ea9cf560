package immcu

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// The session of an IM dialog is OCS's signalling-only one: an SDP offer
// "m=message PORT sip null" (or "x-ms-message", SIPE outside OCS 2007
// mode) with a=accept-types, answered the same way. No media flows: the
// port is never used, the messages travel in the dialog as SIP MESSAGEs.
//
// pion/sdp refuses these offers (it takes only IANA-registered protocols,
// and "sip" is not one, nor is the media "x-ms-message"), so this file
// reads the little of RFC 4566 an IM offer needs: its m= lines and a=
// attributes.

// maxSDP bounds an INVITE's SDP; an IM offer is a few hundred bytes.
const maxSDP = 16 << 10

// answerPort is the port of our m=message line. It is never used; OCS
// answers with 5060.
const answerPort = 5060

// relayed are the types the server relays, the accept-types of its
// answer: chat text as SIPE and Communicator send it (text/plain with an
// msgr parameter, text/html, text/rtf, multipart/alternative), and
// RFC 3994 composing indications. Anything else is refused with 415: file
// transfer invitations (text/x-msmsgsinvite) have no meaning through a
// conference server, and delivery reports (application/ms-imdn+xml) are
// the server's to send.
var relayed = []string{"text/plain", "text/html", "text/rtf", "multipart/alternative", "application/im-iscomposing+xml"}

// maxMedia bounds the m= lines of an offer.
const maxMedia = 16

// mediaLine is an SDP m= line with its attributes (RFC 4566 §5.14).
type mediaLine struct {
	media   string
	port    string // as written: "5061", "5061/2", "0"
	proto   string
	formats []string
	attrs   []attribute
}

// attribute is an a= line: "name:value", or a property "name".
type attribute struct{ name, value string }

// sessionDesc is what parseSDP reads of a description.
type sessionDesc struct {
	attrs []attribute // session level
	media []mediaLine
}

// parseSDP reads a session description: the v=0 line first, then lines of
// the form <letter>=<value>, separated by CRLF (a lone LF is taken too);
// a= lines before the first m= are session level. Other lines are not
// needed here and are skipped once their form is checked.
func parseSDP(body []byte) (*sessionDesc, error) {
	desc := &sessionDesc{}
	lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 || lines[0] != "v=0" {
		return nil, fmt.Errorf("SDP: the first line is not v=0 (RFC 4566 §5.1)")
	}
	for i, line := range lines[1:] {
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return nil, fmt.Errorf("SDP: line %d is not <type>=<value> (RFC 4566 §5)", i+2)
		}
		value := line[2:]
		switch line[0] {
		case 'm':
			if len(desc.media) == maxMedia {
				return nil, fmt.Errorf("SDP: more than %d media", maxMedia)
			}
			m, err := parseMediaLine(value)
			if err != nil {
				return nil, fmt.Errorf("SDP: line %d: %w", i+2, err)
			}
			desc.media = append(desc.media, m)
		case 'a':
			name, v, _ := strings.Cut(value, ":")
			a := attribute{name: name, value: v}
			if n := len(desc.media); n > 0 {
				desc.media[n-1].attrs = append(desc.media[n-1].attrs, a)
			} else {
				desc.attrs = append(desc.attrs, a)
			}
		}
	}
	return desc, nil
}

// parseMediaLine reads "<media> <port>[/<n>] <proto> <fmt> ...".
func parseMediaLine(v string) (mediaLine, error) {
	f := strings.Fields(v)
	if len(f) < 4 {
		return mediaLine{}, fmt.Errorf("m= needs media, port, protocol and a format")
	}
	port, n, hasN := strings.Cut(f[1], "/")
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 || strings.HasPrefix(port, "+") {
		return mediaLine{}, fmt.Errorf("m= port %q", f[1])
	}
	if k, err := strconv.Atoi(n); hasN && (err != nil || k < 1 || strings.HasPrefix(n, "+")) {
		return mediaLine{}, fmt.Errorf("m= port count %q", f[1])
	}
	return mediaLine{media: f[0], port: f[1], proto: f[2], formats: f[3:]}, nil
}

// attr is the value of the last attribute name in attrs.
func attr(attrs []attribute, name string) (string, bool) {
	v, ok := "", false
	for _, a := range attrs {
		if a.name == name {
			v, ok = a.value, true
		}
	}
	return v, ok
}

// offer is what an IM offer tells: its lines, the message stream among
// them and the types the participant accepts.
type offer struct {
	desc    *sessionDesc
	message int // index of the accepted m= line; -1 without an offer
	accepts []string
}

// readOffer checks an INVITE's SDP offer. An INVITE without a body is
// fine: the answer then goes as our offer (RFC 3264 §2) and the ACK's
// answer is not needed, the session being fixed.
func (s *Server) readOffer(req *sip.Request) (offer, *sip.Response) {
	body := req.Body()
	if len(body) == 0 {
		return offer{message: -1}, nil
	}
	if ct := req.ContentType(); ct == nil || mediaType(ct.Value()) != "application/sdp" {
		res := sipx.Reject(req, 415, "Unsupported Media Type", s.cfg.Hostname, "an SDP offer is required")
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		return offer{}, res
	}
	if len(body) > maxSDP {
		return offer{}, sipx.Reject(req, 413, "Request Entity Too Large", s.cfg.Hostname, "SDP larger than "+strconv.Itoa(maxSDP)+" bytes")
	}
	off, err := parseOffer(body)
	if err != nil {
		return offer{}, sipx.Reject(req, 488, "Not Acceptable Here", s.cfg.Hostname, err.Error())
	}
	return off, nil
}

// parseOffer reads an IM offer: its first m=message (or x-ms-message) line
// with a port and the sip protocol is the session; others are refused in
// the answer.
func parseOffer(body []byte) (offer, error) {
	desc, err := parseSDP(body)
	if err != nil {
		return offer{}, err
	}
	off := offer{desc: desc, message: -1}
	for i, m := range desc.media {
		if isMessage(m) {
			off.message = i
			off.accepts = acceptTypes(desc, m)
			break
		}
	}
	if off.message < 0 {
		return offer{}, fmt.Errorf("the IM conferencing server takes only m=message sip sessions")
	}
	return off, nil
}

// isMessage reports whether an m= line is an IM session we take.
func isMessage(m mediaLine) bool {
	name := strings.ToLower(m.media)
	return (name == "message" || name == "x-ms-message") && m.port != "0" && !strings.HasPrefix(m.port, "0/") &&
		strings.EqualFold(m.proto, "sip")
}

// acceptTypes are the offer's a=accept-types, media level first, then
// session level, lower-cased; nil when it has none, which means anything.
func acceptTypes(desc *sessionDesc, m mediaLine) []string {
	v, ok := attr(m.attrs, "accept-types")
	if !ok {
		v, ok = attr(desc.attrs, "accept-types")
	}
	if !ok {
		return nil
	}
	out := []string{}
	for _, t := range strings.Fields(v) {
		out = append(out, strings.ToLower(t))
	}
	return out
}

// takes reports whether a participant who accepts accepts (nil: anything)
// takes a message of media type mt; "*" and "type/*" are wildcards
// (RFC 4975 §8.6 writes accept-types so).
func takes(accepts []string, mt string) bool {
	if accepts == nil {
		return true
	}
	main, _, _ := strings.Cut(mt, "/")
	for _, a := range accepts {
		if a == "*" || a == mt || a == main+"/*" {
			return true
		}
	}
	return false
}

// relayable reports whether the server relays media type mt.
func relayable(mt string) bool {
	for _, t := range relayed {
		if t == mt {
			return true
		}
	}
	return false
}

// mediaType is a Content-Type's type/subtype, lower-cased, without
// parameters.
func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// answer is our SDP: the offer's message line accepted, every other line
// refused with port 0 (RFC 3264 §6), in the offer's order. Without an offer
// it is our offer, one m=message line. The c= address is the Contact's
// when it is an IP address; it is never used.
func (s *Server) answer(off offer, contact sip.ContactHeader) []byte {
	nettype, addr := "IP4", "0.0.0.0"
	if a, err := netip.ParseAddr(strings.Trim(contact.Address.Host, "[]")); err == nil {
		addr = a.Unmap().String()
		if a.Unmap().Is6() {
			nettype = "IP6"
		}
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 0 0 IN " + nettype + " " + addr + "\r\ns=session\r\nc=IN " + nettype + " " + addr + "\r\nt=0 0\r\n")
	ours := func(media string) {
		b.WriteString("m=" + media + " " + strconv.Itoa(answerPort) + " sip null\r\n")
		b.WriteString("a=accept-types:" + strings.Join(relayed, " ") + "\r\n")
	}
	if off.desc == nil {
		ours("message")
		return []byte(b.String())
	}
	for i, m := range off.desc.media {
		if i == off.message {
			ours(m.media)
			continue
		}
		b.WriteString("m=" + m.media + " 0 " + m.proto + " " + strings.Join(m.formats, " ") + "\r\n")
	}
	return []byte(b.String())
}
