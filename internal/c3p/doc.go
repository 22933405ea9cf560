// Package c3p reads and writes C3P, the Centralized Conference Control
// Protocol that OCS 2007 R2 clients, the Focus Factory, the Focus and the
// MCUs speak to each other in application/cccp+xml bodies ([MS-CONFPRO],
// [MS-CONFBAS]).
//
// A C3P message is a request or a response envelope in the
// urn:ietf:params:xml:ns:cccp namespace with exactly one child, the command
// ([MS-CONFPRO] §2.2.2, §2.2.3). ParseRequest and ParseResponse turn a body
// into typed values (Request, Response and one struct per command); their
// Marshal methods turn them back into bytes.
//
// Parsing is strict because the bodies come from the network: a body is at
// most MaxBodySize bytes, MaxDepth levels and MaxElements elements deep and
// wide, DTDs and entity declarations are refused, every namespace prefix
// must be declared and the envelope must follow [MS-CONFPRO] §2.2.2/§2.2.3.
// Every error is an *Error, which knows the ms-diagnostics code the answer
// should carry ([MS-OCER] §8.4) and, when the envelope was readable, can
// build the C3P failure response (FailureFor).
//
// Encoding is faithful: whatever a typed struct does not model (unknown
// extension elements and attributes) is kept in its Extensions and written
// back, in the document order it was read in, so that a Focus can relay a
// command it only partly understands. Namespace prefixes are normalized
// (the C3P namespace becomes the default one, the conference-info family
// gets the prefixes the specifications use), which changes bytes but not
// meaning.
//
// The package is a pure protocol library: it knows nothing of SIP, storage
// or conference policy. Deciding whether a command is allowed (3014), or a
// role valid (3016), is the caller's business; this package only supplies
// the codes.
package c3p

// ContentType is the media type of C3P bodies, in SIP and in HTTP alike
// ([MS-CONFPRO] §2.2).
const ContentType = "application/cccp+xml"

// Version is the only C3PVersion value the protocol defines ([MS-CONFPRO]
// §2.2.2: "C3PVersion: MUST be set to "1"").
const Version = "1"

// XML namespaces of C3P and of the documents it carries ([MS-CONFPRO] §2.2.2,
// §2.2.3; [MS-CONFBAS] §6.3.1; RFC 4575 §5).
const (
	// NamespaceC3P is the namespace of the request and response envelopes
	// and of the commands.
	NamespaceC3P = "urn:ietf:params:xml:ns:cccp"
	// NamespaceConferenceInfo is the RFC 4575 conference-info namespace
	// (prefix ci).
	NamespaceConferenceInfo = "urn:ietf:params:xml:ns:conference-info"
	// NamespaceSeparator holds the separator element Microsoft schemas put
	// between groups of extension elements (prefix cis).
	NamespaceSeparator = "urn:ietf:params:xml:ns:conference-info-separator"
	// NamespaceMSCI holds Microsoft's conference-info extensions (prefix msci).
	NamespaceMSCI = "http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"
	// NamespaceMSCI2 holds the OCS 2007 R2 additions, such as lobby-capable
	// (prefix msci2).
	NamespaceMSCI2 = "http://schemas.microsoft.com/rtc/2008/12/confinfoextensions"
	// NamespaceMSCP holds Microsoft's C3P extensions, such as mcuUri
	// (prefix mscp).
	NamespaceMSCP = "http://schemas.microsoft.com/rtc/2005/08/cccpextensions"

	namespaceXML   = "http://www.w3.org/XML/1998/namespace"
	namespaceXMLNS = "http://www.w3.org/2000/xmlns/"
)
