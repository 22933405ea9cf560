package c3p

import "strings"

// Conference URIs are GRUUs of the organizer with an opaque parameter that
// names the service (protocols.md §1.3; SIPE builds them exactly so):
//
//	sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory
//	sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:TPDD8VYG
//	sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:TPDD8VYG
const (
	// OpaqueFocusFactory is the opaque value of a Focus Factory URI.
	OpaqueFocusFactory = "app:conf:focusfactory"
	// ServiceFocus names the Focus in conference URIs.
	ServiceFocus = "focus"
	opaquePrefix = "app:conf:"
)

// FocusFactoryURI returns the Focus Factory URI of a user.
func FocusFactoryURI(user string) string {
	return user + ";gruu;opaque=" + OpaqueFocusFactory
}

// ConferenceURI returns the URI of a conference service (ServiceFocus, or
// an MCU type such as MCUTypeAudioVideo) of the organizer's conference key.
func ConferenceURI(organizer, service, key string) string {
	return organizer + ";gruu;opaque=" + opaquePrefix + service + ":id:" + key
}

// ParseConferenceURI splits a conference URI into the organizer's URI
// (without parameters), the service and the conference key. ok is false
// for anything else, a Focus Factory URI included.
func ParseConferenceURI(uri string) (organizer, service, key string, ok bool) {
	uri = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(uri), "<"), ">")
	base, params, found := strings.Cut(uri, ";")
	if !found || !strings.HasPrefix(strings.ToLower(base), "sip:") {
		return "", "", "", false
	}
	gruu := false
	var opaque string
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "gruu":
			gruu = true
		case "opaque":
			opaque = value
		}
	}
	rest, isConf := strings.CutPrefix(opaque, opaquePrefix)
	if !gruu || !isConf {
		return "", "", "", false
	}
	service, key, found = strings.Cut(rest, ":id:")
	if !found || service == "" || key == "" {
		return "", "", "", false
	}
	return base, service, key, true
}
