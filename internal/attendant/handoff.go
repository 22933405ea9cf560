package attendant

import (
	"context"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Conferences is what the attendant asks of the Focus (seed 001 steps
// 10-11). The server adapts the Focus to it.
type Conferences interface {
	// WaitEnterprise returns once the meeting has an authenticated
	// enterprise user, or with ctx's error; with a ctx already done it
	// answers at once whether it has one (nil) or not.
	WaitEnterprise(ctx context.Context, focusURI string) error
	// AddDialIn adds the caller to the meeting and returns his user
	// entity. The Focus tells the A/V MCU to fetch his audio from
	// Caller.ReferTo. Refusals are ErrMeetingLocked, ErrMeetingFull or
	// others.
	AddDialIn(ctx context.Context, focusURI string, c Caller) (string, error)
	// RemoveDialIn takes a caller back out when his audio never reached
	// the MCU.
	RemoveDialIn(ctx context.Context, focusURI, entity string) error
}

// Caller is a dial-in caller as the attendant hands him to the Focus.
type Caller struct {
	// User and DisplayName name him when he authenticated with extension
	// and PIN (or by his enterprise phone); empty otherwise.
	User, DisplayName string
	// CallerID is the number the gateway passed, "" if none.
	CallerID string
	// Language is the language he chose, for announcements.
	Language string
	// ReferTo is where the A/V MCU sends its INVITE (ReferTo).
	ReferTo string
}

// ReferTo is the URI the A/V MCU must INVITE to take a caller's audio from
// the Mediation Server (seed 001 step 11): the Mediation Server's Contact
// with a Replaces header (RFC 3891) naming the attendant's dialog
// embedded in it (RFC 3261 §19.1.5). RFC 3891 §3 matches the header's
// to-tag against the recipient's local tag and its from-tag against the
// remote tag; the recipient is the Mediation Server, which placed the call,
// so to-tag is the From tag of its INVITE and from-tag is the attendant's
// own To tag.
func ReferTo(contact sip.Uri, callID, mediationTag, attendantTag string) string {
	u := contact.Clone()
	u.Headers = nil
	value := callID + ";to-tag=" + mediationTag + ";from-tag=" + attendantTag
	return u.String() + "?Replaces=" + escapeHeader(value)
}

// escapeHeader escapes a header value for a URI's headers component
// (RFC 3261 §25.1: hvalue = *( hnv-unreserved / unreserved / escaped )).
// Everything outside unreserved is escaped, which is always valid.
func escapeHeader(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(v) {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
