package focus

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx"
)

// Errors of the Focus's API. Refusals wrap them in a *Refusal, which also
// says how the refusal reads on the wire.
var (
	// ErrNoMeeting: the conference URI names no meeting, or one that has
	// expired (seed 003, "Meeting Expiration": "no participants,
	// including the organizer, can join").
	ErrNoMeeting = errors.New("focus: no such meeting")
	// ErrNotActive: the meeting has no running Focus here.
	ErrNotActive = errors.New("focus: the meeting is not active")
	// ErrOrganizer: the organizer is disabled or no longer exists.
	ErrOrganizer = errors.New("focus: the organizer is disabled or deleted")
	// ErrUnauthorized: the admission policy or the requester's role
	// does not allow it.
	ErrUnauthorized = errors.New("focus: not authorized")
	// ErrLocked: the meeting is locked and the joiner is no presenter.
	ErrLocked = errors.New("focus: the meeting is locked")
	// ErrFull: the meeting has the organizer's policy's maximum size.
	ErrFull = errors.New("focus: the meeting is full")
	// ErrNoUser: no such participant.
	ErrNoUser = errors.New("focus: no such participant")
	// ErrEnding: the meeting is being deactivated.
	ErrEnding = errors.New("focus: the meeting is ending")
	// ErrMCU: a conferencing server refused or did not answer.
	ErrMCU = errors.New("focus: conferencing server failure")
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("focus: invalid request")
	// ErrClosed: the Focus is shutting down.
	ErrClosed = errors.New("focus: shutting down")
)

// C3P failure reasons the Focus answers with; the names follow those the
// Focus Factory and the A/V MCU use.
const (
	reasonUnauthorized   = "unauthorized"
	reasonNoConference   = "conferenceDoesNotExist"
	reasonNoUser         = "userDoesNotExist"
	reasonMalformed      = "requestMalformed"
	reasonLocked         = "conferenceLocked"
	reasonFull           = "conferenceFull"
	reasonOther          = c3p.ReasonOtherFailure
	reasonInvalidRole    = "invalidRole"
	reasonNotImplemented = "notImplemented"
)

// Refusal is a request the Focus turned down: the error, and how it is
// answered in SIP (status code) and in C3P (failure reason and
// ms-diagnostics code).
type Refusal struct {
	// Err wraps one of the package's sentinel errors with detail.
	Err error
	// Code and Phrase are the SIP final response of a refused join; 0
	// for a refused command, which is answered 200 with a C3P failure.
	Code   int
	Phrase string
	// Reason is the C3P failure reason.
	Reason string
	// Diagnostic is the ms-diagnostics code, 0 for none.
	Diagnostic c3p.Diagnostic
}

func (r *Refusal) Error() string { return r.Err.Error() }

func (r *Refusal) Unwrap() error { return r.Err }

// refuse builds a Refusal.
func refuse(sentinel error, code int, reason string, diag c3p.Diagnostic, format string, a ...any) *Refusal {
	r := &Refusal{
		Err:        fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, a...)),
		Code:       code,
		Reason:     reason,
		Diagnostic: diag,
	}
	if code != 0 {
		r.Phrase = statusText(code)
	}
	return r
}

// sipReject builds a final response without a C3P body, with a Warning
// and, when known, ms-diagnostics.
func sipReject(req *sip.Request, code int, hostname, detail string, diag c3p.Diagnostic) *sip.Response {
	res := sipx.Reject(req, code, statusText(code), hostname, detail)
	if diag != 0 {
		res.AppendHeader(sip.NewHeader(diag.HeaderName(), diag.HeaderValue(hostname)))
	}
	return res
}

// statusText is the reason phrase of the status codes the Focus answers
// with (RFC 3261 §21, RFC 6665 §8.3.1 for 489).
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 415:
		return "Unsupported Media Type"
	case 423:
		return "Interval Too Brief"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 489:
		return "Bad Event"
	case 503:
		return "Service Unavailable"
	default:
		return "Server Internal Error"
	}
}
