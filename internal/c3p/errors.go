package c3p

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Parse failures are *Error values wrapping one of these, so
// callers test them with errors.Is.
var (
	// ErrTooLarge reports a body longer than MaxBodySize.
	ErrTooLarge = errors.New("c3p: body too large")
	// ErrLimit reports a body nested deeper than MaxDepth, or with more than
	// MaxElements elements or MaxAttrs attributes on one element.
	ErrLimit = errors.New("c3p: structural limit exceeded")
	// ErrDTD reports a document type declaration or any other markup
	// declaration; C3P has no use for them and they are how entity
	// expansion attacks start.
	ErrDTD = errors.New("c3p: DTDs and markup declarations are not allowed")
	// ErrSyntax reports a body that is not well-formed, namespace-correct
	// XML 1.0 in UTF-8.
	ErrSyntax = errors.New("c3p: malformed XML")
	// ErrNamespace reports a root element outside the C3P namespace.
	ErrNamespace = errors.New("c3p: root element not in the C3P namespace")
	// ErrRoot reports a C3P root element other than the one expected
	// (a response given to ParseRequest, say).
	ErrRoot = errors.New("c3p: unexpected root element")
	// ErrEnvelope reports a request or response element that breaks
	// [MS-CONFPRO] §2.2.2/§2.2.3: a missing or invalid requestId, from, to,
	// code or C3PVersion, or other than exactly one command child.
	ErrEnvelope = errors.New("c3p: invalid envelope")
	// ErrUnknownCommand reports a command this package does not implement.
	// The answer to it is a failure with ms-diagnostics 3004.
	ErrUnknownCommand = errors.New("c3p: command not implemented")
	// ErrInvalid reports a command whose content does not fit its model:
	// a repeated element, a malformed boolean, number or time, character
	// data where only elements belong. Marshal reports values it cannot
	// write with it too.
	ErrInvalid = errors.New("c3p: invalid content")
)

// Error is the error ParseRequest and ParseResponse return. It records how
// far the parser got so that the caller can still answer: Header is set once
// the envelope attributes were read, Command once the command element was
// reached.
type Error struct {
	// Header is the envelope of the message, nil if it could not be read.
	Header *Header
	// Command is the local name of the command element, "" if the parser
	// did not get that far.
	Command string
	// Err is one of the package's sentinel errors, usually wrapped with
	// detail.
	Err error
}

func (e *Error) Error() string {
	if e.Command == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (command " + strconv.Quote(e.Command) + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// Diagnostic returns the ms-diagnostics code for the failure: 3004 for a
// command that is not implemented, 3007 for an addUser whose content is
// invalid, 3006 for everything else that could not be parsed ([MS-OCER]
// §8.4).
func (e *Error) Diagnostic() Diagnostic {
	switch {
	case errors.Is(e.Err, ErrUnknownCommand):
		return DiagNotImplemented
	case e.Command == "addUser" && errors.Is(e.Err, ErrInvalid):
		return DiagAddUserInvalid
	default:
		return DiagParseFailed
	}
}

// Diagnostic is an ms-diagnostics ErrorId of the conferencing range
// (3000-3999, "User Services module (Conferencing) - Focus and Focus
// Factory"). The values and reason texts are those of [MS-OCER] §8.4
// (OCS releases; §7.4 lists the same numbers for Lync).
type Diagnostic int

// The conferencing ErrorIds of [MS-OCER] §8.4. Only 3000-3016 could be
// confirmed; the table goes on beyond 3016.
const (
	DiagBadFrom                 Diagnostic = 3000 // Bad From in C3P request.
	DiagBadTo                   Diagnostic = 3001 // Bad To in C3P request.
	DiagInvalidTargetUser       Diagnostic = 3002 // Invalid target user.
	DiagInvalidConferenceEntity Diagnostic = 3003 // The conference-entity supplied in the C3P request is invalid.
	DiagNotImplemented          Diagnostic = 3004 // The requested C3P command is not implemented.
	DiagCannotTargetMCU         Diagnostic = 3005 // The request cannot target a MCU.
	DiagParseFailed             Diagnostic = 3006 // Failed to parse the C3P request.
	DiagAddUserInvalid          Diagnostic = 3007 // AddUser C3P blob invalid.
	DiagMethodNotAcceptable     Diagnostic = 3008 // Access Method or Auth Method in C3P request is not acceptable.
	DiagMalformedEndpoint       Diagnostic = 3009 // Malformed endpoint entity.
	DiagNoSessionTimer          Diagnostic = 3010 // Bad request without Session-Timer extension.
	DiagMCUContact              Diagnostic = 3011 // Failed to process Ms-Mcu-Contact header.
	DiagInvalidConferenceURI    Diagnostic = 3012 // Invalid conference URI.
	DiagInvalidMCUURI           Diagnostic = 3013 // Invalid MCU URI.
	DiagAuthorizationFailed     Diagnostic = 3014 // Failed authorization.
	DiagDialOutNotAllowed       Diagnostic = 3015 // This meeting does not allow 3rd-party dial-out by attendees.
	DiagInvalidRole             Diagnostic = 3016 // The supplied role is invalid.
)

var diagReasons = map[Diagnostic]string{
	DiagBadFrom:                 "Bad From in C3P request.",
	DiagBadTo:                   "Bad To in C3P request.",
	DiagInvalidTargetUser:       "Invalid target user.",
	DiagInvalidConferenceEntity: "The conference-entity supplied in the C3P request is invalid.",
	DiagNotImplemented:          "The requested C3P command is not implemented.",
	DiagCannotTargetMCU:         "The request cannot target a MCU.",
	DiagParseFailed:             "Failed to parse the C3P request.",
	DiagAddUserInvalid:          "AddUser C3P blob invalid.",
	DiagMethodNotAcceptable:     "Access Method or Auth Method in C3P request is not acceptable.",
	DiagMalformedEndpoint:       "Malformed endpoint entity.",
	DiagNoSessionTimer:          "Bad request without Session-Timer extension.",
	DiagMCUContact:              "Failed to process Ms-Mcu-Contact header.",
	DiagInvalidConferenceURI:    "Invalid conference URI.",
	DiagInvalidMCUURI:           "Invalid MCU URI.",
	DiagAuthorizationFailed:     "Failed authorization.",
	DiagDialOutNotAllowed:       "This meeting does not allow 3rd-party dial-out by attendees.",
	DiagInvalidRole:             "The supplied role is invalid.",
}

// String returns the reason text [MS-OCER] gives for the code.
func (d Diagnostic) String() string {
	if r, ok := diagReasons[d]; ok {
		return r
	}
	return "C3P error " + strconv.Itoa(int(d))
}

// HeaderName returns the SIP header the code travels in: 3004 is one of the
// codes [MS-OCER] §8.4 sends in ms-diagnostics-public (visible outside the
// enterprise), the others go in ms-diagnostics.
func (d Diagnostic) HeaderName() string {
	if d == DiagNotImplemented {
		return "ms-diagnostics-public"
	}
	return "ms-diagnostics"
}

// HeaderValue renders the header value in the format of the OCS 2007
// Ms-Diagnostics header documentation,
// `<ErrorId>;source="<address>";reason="<token>"`. source names the server
// that generated the code and is left out when empty; characters that
// cannot appear in a quoted string are dropped from it.
func (d Diagnostic) HeaderValue(source string) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(d)))
	if s := quotable(source); s != "" {
		b.WriteString(`;source="`)
		b.WriteString(s)
		b.WriteByte('"')
	}
	b.WriteString(`;reason="`)
	b.WriteString(quotable(d.String()))
	b.WriteByte('"')
	return b.String()
}

// quotable drops what would end or break a SIP quoted-string (RFC 3261
// §25.1): quotes, backslashes and control characters. It keeps header
// injection out of a value built from configuration.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// ReasonOtherFailure is the failure reason [MS-CONFPRO] §2.2.3.8 defines for
// a cause that is "not clearly established". It is the reason this package
// puts in failure responses when the caller gives none.
const ReasonOtherFailure = "otherFailure"

// Failure is a C3P failure answer: the response body and the ms-diagnostics
// code the enclosing SIP response carries alongside it.
type Failure struct {
	Response   *Response
	Diagnostic Diagnostic
}

// NewFailure builds the failure answer to a request: a response with the
// request's requestId, from and to swapped ([MS-CONFPRO] §2.2.3),
// code="failure" and the reason on an empty command element named command.
// An empty reason becomes ReasonOtherFailure.
func NewFailure(req Header, command, reason string, d Diagnostic) *Failure {
	if reason == "" {
		reason = ReasonOtherFailure
	}
	resp := NewResponse(req, CodeFailure, NewCommand(command))
	resp.Reason = reason
	return &Failure{Response: resp, Diagnostic: d}
}

// FailureFor turns a parse error into the failure answer, when it can: the
// envelope must have been readable and the command element reached, since a
// response carries exactly one command child. When ok is false the caller
// answers without a C3P body (a SIP 400, [MS-CONFPRO] §2.2.3) and with the
// code DiagnosticFor(err) in ms-diagnostics.
func FailureFor(err error) (f *Failure, ok bool) {
	var pe *Error
	if !errors.As(err, &pe) || pe.Header == nil || pe.Command == "" || !isNCName(pe.Command) {
		return nil, false
	}
	return NewFailure(*pe.Header, pe.Command, ReasonOtherFailure, pe.Diagnostic()), true
}

// DiagnosticFor returns the ms-diagnostics code for any error of this
// package: the *Error's own choice, or DiagParseFailed.
func DiagnosticFor(err error) Diagnostic {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Diagnostic()
	}
	return DiagParseFailed
}

// invalidf builds an ErrInvalid error with detail.
func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
