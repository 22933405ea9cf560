package registrar

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Headers of every 200 OK to REGISTER. Pidgin SIPE (protocols.md §3.3)
// enables its OCS 2007 mode (in-band provisioning, the focus factory, and so
// conferencing) only when the response says Supported:
// msrtc-event-categories; adhoclist lets it batch presence subscriptions;
// it subscribes only to the events listed in Allow-Events; and the
// ms-keep-alive header makes it send CRLF keep-alives on its TCP flow.
// A Server product version of 6 or more would switch it to Skype for
// Business behaviour, so we present OCS 2007 R2's 3.5.
var okHeaders = [][2]string{
	{"Supported", "msrtc-event-categories"},
	{"Supported", "adhoclist"},
	{"Allow-Events", "presence, vnd-microsoft-provisioning-v2, vnd-microsoft-roaming-contacts, vnd-microsoft-roaming-self"},
	{"ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300"},
	{"Server", "RTC/3.5 Parley"},
}

// dateFormat is the SIP-date of RFC 3261 §20.17 (RFC 1123, always GMT).
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// ok builds the 200 OK listing every current binding of aor (RFC 3261 §10.3
// step 8) with its remaining expiry and, for instances, its GRUUs.
func (r *Registrar) ok(req *sip.Request, aor string, bs []Binding, expires string, now time.Time) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	standard := supports(req, "gruu")
	microsoft := supports(req, "gruu-10")
	sortBindings(bs)
	user, domain, _ := strings.Cut(strings.TrimPrefix(aor, "sip:"), "@")
	for _, b := range bs {
		// Written out here rather than through sip.ContactHeader, whose
		// parameter writer would not quote GRUU values containing ';'.
		var v strings.Builder
		v.WriteByte('<')
		v.WriteString(b.Contact.String())
		v.WriteString(">;expires=")
		v.WriteString(strconv.Itoa(remaining(b, now)))
		if b.hasQ {
			v.WriteString(";q=")
			v.WriteString(strconv.FormatFloat(b.Q, 'f', -1, 64))
		}
		if b.Instance != "" {
			v.WriteString(`;+sip.instance="<`)
			v.WriteString(b.Instance)
			v.WriteString(`>"`)
			// The Microsoft gruu comes first: SIPE finds it by searching
			// the header for the text gruu=" and would otherwise pick up
			// the pub-gruu.
			if microsoft {
				v.WriteString(`;gruu="`)
				v.WriteString(msGRUU(aor, b.Instance))
				v.WriteByte('"')
			}
			if standard || microsoft {
				v.WriteString(`;pub-gruu="`)
				v.WriteString(b.GRUU)
				v.WriteByte('"')
			}
			if standard {
				v.WriteString(`;temp-gruu="`)
				v.WriteString(r.tgruu.make(user, domain, b.tempKey))
				v.WriteByte('"')
			}
		}
		res.AppendHeader(sip.NewHeader("Contact", v.String()))
	}
	if expires != "" {
		res.AppendHeader(sip.NewHeader("Expires", expires))
	}
	if supports(req, "path") {
		for _, h := range req.GetHeaders("Path") {
			res.AppendHeader(sip.NewHeader("Path", h.Value()))
		}
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(dateFormat)))
	for _, h := range okHeaders {
		res.AppendHeader(sip.NewHeader(h[0], h[1]))
	}
	return res
}
