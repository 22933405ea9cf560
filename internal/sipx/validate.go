package sipx

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// singleValued are the header fields RFC 3261 §20 allows only once in a
// request; a request with two of any is ambiguous (RFC 4475 §3.3.8 and
// §3.3.9 test exactly this) and must be refused rather than guessed at.
var singleValued = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type", "Expires"}

// Invalid describes why a request was refused by ValidateRequest: the status
// code to answer with, its reason phrase and a detail for the Warning.
type Invalid struct {
	Code   int
	Reason string
	Detail string
}

// ValidateRequest applies the checks of RFC 3261 §8.2 and §16.3 that the
// parser does not: it returns nil for a request fit to process, or why not.
// The checks are cheap and run before any routing.
func ValidateRequest(req *sip.Request) *Invalid {
	for _, name := range singleValued {
		if n := len(req.GetHeaders(name)); n > 1 {
			return &Invalid{400, "Bad Request", "multiple " + name + " header fields"}
		}
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Via"} {
		if req.GetHeader(name) == nil {
			return &Invalid{400, "Bad Request", "missing " + name + " header field"}
		}
	}
	// RFC 3261 §8.1.1.5: the CSeq method matches the request method. A
	// mismatch (RFC 4475 §3.1.2.17, §3.1.2.18) cannot be matched to any
	// transaction.
	if cseq := req.CSeq(); cseq != nil && !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return &Invalid{400, "Bad Request", "CSeq method " + string(cseq.MethodName) + " does not match " + string(req.Method)}
	}
	return nil
}
