package c3p

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// This file holds what a Focus needs beyond the C3P commands to publish a
// roster: the conference-info document as a body of its own, the
// application/conference-info+xml of the conference event package (RFC 4575
// §4, §5), which SUBSCRIBE responses and NOTIFY requests carry; and
// Parley's way to mute a whole audience in one command.

// ConferenceInfoType is the media type of conference-info documents
// (RFC 4575 §4.3).
const ConferenceInfoType = "application/conference-info+xml"

// EventConference is the Event header value of the conference event
// package (RFC 4575 §3.1).
const EventConference = "conference"

// conferenceInfoName is the root element of a conference-info document.
var conferenceInfoName = xml.Name{Space: NamespaceConferenceInfo, Local: "conference-info"}

// Marshal encodes the document as an application/conference-info+xml body:
// a conference-info root in the RFC 4575 namespace, Microsoft's extensions
// under the msci prefix. It fails with ErrInvalid when a value cannot be
// written as XML.
func (c *ConferenceInfo) Marshal() ([]byte, error) {
	b, err := marshalTree(c.encode(conferenceInfoName))
	if err != nil {
		return nil, fmt.Errorf("marshal conference-info: %w", err)
	}
	return b, nil
}

// ParseConferenceInfo parses an application/conference-info+xml body, with
// the limits of every body this package reads (MaxBodySize, MaxElements):
// a partial update or the full roster of a meeting of a few hundred
// participants. Elements the package does not model are kept in
// Extensions. Every error wraps one of the package's sentinels.
func ParseConferenceInfo(b []byte) (*ConferenceInfo, error) {
	root, err := parseTree(b)
	if err != nil {
		return nil, err
	}
	if root.Name != conferenceInfoName {
		return nil, fmt.Errorf("%w: <%s> in namespace %q, want conference-info in %q", ErrRoot, root.Name.Local, root.Name.Space, NamespaceConferenceInfo)
	}
	var derr error
	d := newDec(&Element{Children: []*Element{root}}, &derr)
	d.path = ""
	ci := d.conferenceInfo(d.one("conference-info", NamespaceConferenceInfo))
	if derr != nil {
		return nil, derr
	}
	return ci, nil
}

// ExtensionElement builds an element for an Extensions list: a leaf with
// text when children is empty, a container otherwise. It is how a caller
// writes extension content this package has no field for, such as the
// msci:entity-state of an entity-view.
func ExtensionElement(space, local, text string, children ...*Element) *Element {
	return &Element{Name: xml.Name{Space: space, Local: local}, Text: text, Children: children}
}

// Child returns the first child element named local in namespace space, or
// nil.
func (e *Element) Child(space, local string) *Element {
	for _, c := range e.Children {
		if c.Name.Space == space && c.Name.Local == local {
			return c
		}
	}
	return nil
}

// Extension returns the first extension element named local in namespace
// space, or nil.
func (x *Extensions) Extension(space, local string) *Element {
	for _, e := range x.Elements {
		if e.Name.Space == space && e.Name.Local == local {
			return e
		}
	}
	return nil
}

// Scope values of a modifyEndpointMedia (see Scope).
const (
	// ScopeAttendees applies the media change to every participant whose
	// role is attendee: "mute everyone but the presenters" (seed 000:
	// presenters can mute dial-in participants; the issue's
	// mute-all-except-presenters), and the matching unmute.
	ScopeAttendees = "attendees"
)

// scopeAttr is the pl:scope attribute of modifyEndpointMedia.
var scopeAttr = xml.Name{Space: NamespaceParley, Local: "scope"}

// Scope returns the pl:scope attribute of the command: empty for the
// [MS-CONFAV] command on one participant's media (mediaKeys names him),
// ScopeAttendees for Parley's audience-wide variant, in which mediaKeys
// carries only the conference:
//
//	<modifyEndpointMedia mscp:mcuUri="sip:...;gruu;opaque=app:conf:audio-video:id:KEY"
//	    pl:scope="attendees" xmlns:pl="urn:parleyhq:params:xml:ns:c3p-ext">
//	  <mediaKeys confEntity="sip:...;gruu;opaque=app:conf:focus:id:KEY"/>
//	  <ci:media id="1"><ci:type>audio</ci:type><ci:status>recvonly</ci:status>
//	    <msci:media-ingress-filter>block</msci:media-ingress-filter></ci:media>
//	</modifyEndpointMedia>
//
// Public specifications define no such command; an OCS Focus would refuse
// it as malformed, so only Parley-aware clients send it.
func (c *ModifyEndpointMedia) Scope() string {
	for _, a := range c.Attrs {
		if a.Name == scopeAttr {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// SetScope sets (or, with "", removes) the pl:scope attribute.
func (c *ModifyEndpointMedia) SetScope(scope string) {
	attrs := c.Attrs[:0:0]
	for _, a := range c.Attrs {
		if a.Name != scopeAttr {
			attrs = append(attrs, a)
		}
	}
	if scope != "" {
		attrs = append(attrs, xml.Attr{Name: scopeAttr, Value: scope})
	}
	c.Attrs = attrs
}
