package c3p

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const envOpen = `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="sip:a@example.com" to="sip:b@example.com">`

func wrapRequest(body string) string { return envOpen + body + `</request>` }

// TestParseRequestErrors feeds malformed, hostile and unsupported bodies and
// checks the error class and the ms-diagnostics code each maps to.
func TestParseRequestErrors(t *testing.T) {
	deep := strings.Repeat("<x:e>", MaxDepth) + strings.Repeat("</x:e>", MaxDepth)
	tests := []struct {
		name     string
		body     string
		want     error
		wantDiag Diagnostic
		// wantFailure says whether FailureFor can build a C3P answer.
		wantFailure bool
	}{
		{"empty", ``, ErrSyntax, DiagParseFailed, false},
		{"too large", envOpen + strings.Repeat(" ", MaxBodySize) + `<deleteUser/></request>`, ErrTooLarge, DiagParseFailed, false},
		{"doctype", `<!DOCTYPE request [<!ENTITY a "b">]>` + wrapRequest(`<deleteUser/>`), ErrDTD, DiagParseFailed, false},
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "x"><!ENTITY l1 "&l0;&l0;">]>` + wrapRequest(`<deleteUser>&l1;</deleteUser>`), ErrDTD, DiagParseFailed, false},
		{"undefined entity", wrapRequest(`<deleteUser>&ext;</deleteUser>`), ErrSyntax, DiagParseFailed, false},
		{"external entity in attribute", envOpen[:len(envOpen)-1] + ` x="&file;">` + `<deleteUser/></request>`, ErrSyntax, DiagParseFailed, false},
		{"too deep", `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:x="urn:x" requestId="1" from="a" to="b"><deleteUser>` + deep + `</deleteUser></request>`, ErrLimit, DiagParseFailed, false},
		{"too many elements", wrapRequest(`<deleteUser>` + strings.Repeat("<a/>", MaxElements) + `</deleteUser>`), ErrLimit, DiagParseFailed, false},
		{"too many attributes", wrapRequest(`<deleteUser` + manyAttrs(MaxAttrs+1) + `/>`), ErrLimit, DiagParseFailed, false},
		{"unclosed", envOpen + `<deleteUser>`, ErrSyntax, DiagParseFailed, false},
		{"mismatched end tag", wrapRequest(`<deleteUser></addUser>`), ErrSyntax, DiagParseFailed, false},
		{"undeclared prefix", wrapRequest(`<deleteUser><msci:x/></deleteUser>`), ErrSyntax, DiagParseFailed, false},
		{"undeclared attribute prefix", wrapRequest(`<deleteUser ci:state="full"/>`), ErrSyntax, DiagParseFailed, false},
		{"empty prefix binding", wrapRequest(`<deleteUser xmlns:p=""/>`), ErrSyntax, DiagParseFailed, false},
		{"xml prefix rebound", wrapRequest(`<deleteUser xmlns:xml="urn:other"/>`), ErrSyntax, DiagParseFailed, false},
		{"duplicate attribute", wrapRequest(`<deleteUser a="1" a="2"/>`), ErrSyntax, DiagParseFailed, false},
		{"duplicate expanded attribute", wrapRequest(`<deleteUser xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>`), ErrSyntax, DiagParseFailed, false},
		{"processing instruction", wrapRequest(`<?php echo 1 ?><deleteUser/>`), ErrSyntax, DiagParseFailed, false},
		{"late xml declaration", ` <?xml version="1.0"?>` + wrapRequest(`<deleteUser/>`), ErrSyntax, DiagParseFailed, false},
		{"utf-16 declared", `<?xml version="1.0" encoding="utf-16"?>` + wrapRequest(`<deleteUser/>`), ErrSyntax, DiagParseFailed, false},
		{"invalid utf-8", wrapRequest("<deleteUser>\xff</deleteUser>"), ErrSyntax, DiagParseFailed, false},
		{"control character", wrapRequest("<deleteUser>&#1;</deleteUser>"), ErrSyntax, DiagParseFailed, false},
		{"second root", wrapRequest(`<deleteUser/>`) + `<request/>`, ErrSyntax, DiagParseFailed, false},
		{"text after root", wrapRequest(`<deleteUser/>`) + `junk`, ErrSyntax, DiagParseFailed, false},
		{"no namespace", `<request requestId="1" from="a" to="b"><deleteUser/></request>`, ErrNamespace, DiagParseFailed, false},
		{"foreign namespace", `<request xmlns="urn:ietf:params:xml:ns:cccp2" requestId="1" from="a" to="b"><deleteUser/></request>`, ErrNamespace, DiagParseFailed, false},
		{"response to ParseRequest", `<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b" code="success"><deleteUser/></response>`, ErrRoot, DiagParseFailed, false},
		{"no requestId", `<request xmlns="urn:ietf:params:xml:ns:cccp" from="a" to="b"><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"negative requestId", `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="-1" from="a" to="b"><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"requestId overflow", `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="18446744073709551616" from="a" to="b"><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"no from", `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" to="b"><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"empty to", `<request xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to=""><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"C3PVersion 2", `<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="2" requestId="1" from="a" to="b"><deleteUser/></request>`, ErrEnvelope, DiagParseFailed, false},
		{"no command", wrapRequest(``), ErrEnvelope, DiagParseFailed, false},
		{"two commands", wrapRequest(`<deleteUser/><addUser/>`), ErrEnvelope, DiagParseFailed, false},
		{"text in envelope", wrapRequest(`oops<deleteUser/>`), ErrEnvelope, DiagParseFailed, false},
		{"unknown command", wrapRequest(`<getConferenceDirectory/>`), ErrUnknownCommand, DiagNotImplemented, true},
		{"command in foreign namespace", wrapRequest(`<x:deleteUser xmlns:x="urn:x"/>`), ErrUnknownCommand, DiagNotImplemented, true},
		{"bad boolean", wrapRequest(`<modifyConferenceLock><locked>yes</locked></modifyConferenceLock>`), ErrInvalid, DiagParseFailed, true},
		{"repeated keys", wrapRequest(`<deleteUser><userKeys/><userKeys/></deleteUser>`), ErrInvalid, DiagParseFailed, true},
		{"text in command", wrapRequest(`<deleteUser>text</deleteUser>`), ErrInvalid, DiagParseFailed, true},
		{"addUser with two users", wrapRequest(`<addUser><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info"/><user/></addUser>`), ErrInvalid, DiagAddUserInvalid, true},
		{"addUser bad state", wrapRequest(`<addUser><user state="gone"/></addUser>`), ErrInvalid, DiagAddUserInvalid, true},
		{"role with children", wrapRequest(`<addUser><user><roles><entry><b/></entry></roles></user></addUser>`), ErrInvalid, DiagAddUserInvalid, true},
		{"bad expiry", wrapRequest(`<addConference><conference-info entity=""><conference-description><msci:expiry-time xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions">tomorrow</msci:expiry-time></conference-description></conference-info></addConference>`), ErrInvalid, DiagParseFailed, true},
		{"bad version", wrapRequest(`<addConference><conference-info entity="" version="v2"/></addConference>`), ErrInvalid, DiagParseFailed, true},
		{"mcuUri twice", wrapRequest(`<deleteUser xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" mcuUri="a" mscp:mcuUri="b"/>`), ErrInvalid, DiagParseFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseRequest() = %v, %v; want error %v", r, err, tt.want)
			}
			if r != nil {
				t.Errorf("ParseRequest() returned a request with error %v", err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if pe.Command != "" && !strings.Contains(err.Error(), strconv.Quote(pe.Command)) {
				t.Errorf("error %q does not name command %q", err, pe.Command)
			}
			if got := DiagnosticFor(err); got != tt.wantDiag {
				t.Errorf("DiagnosticFor() = %d, want %d", got, tt.wantDiag)
			}
			f, ok := FailureFor(err)
			if ok != tt.wantFailure {
				t.Fatalf("FailureFor() ok = %v, want %v", ok, tt.wantFailure)
			}
			if ok {
				checkFailure(t, f, tt.wantDiag)
			}
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`="1"`)
	}
	return b.String()
}

// checkFailure checks a failure answer built from the envelope of
// wrapRequest: swapped from/to, echoed requestId, the reason, and that it
// parses back.
func checkFailure(t *testing.T, f *Failure, wantDiag Diagnostic) {
	t.Helper()
	if f.Diagnostic != wantDiag {
		t.Errorf("failure diagnostic = %d, want %d", f.Diagnostic, wantDiag)
	}
	b, err := f.Response.Marshal()
	if err != nil {
		t.Fatalf("failure Marshal: %v", err)
	}
	if u, ok := f.Response.Command.(*Unsupported); ok {
		// ParseResponse refuses unknown commands too; check the bytes.
		want := `<` + u.Name + ` reason="otherFailure"/>`
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), `code="failure"`) {
			t.Errorf("failure body = %s, want it to hold %s", b, want)
		}
		return
	}
	r, err := ParseResponse(b)
	if err != nil {
		t.Fatalf("ParseResponse(failure) = %v\n%s", err, b)
	}
	want := Header{Version: Version, RequestID: 1, From: "sip:b@example.com", To: "sip:a@example.com"}
	if r.Header != want || r.Code != CodeFailure || r.Reason != ReasonOtherFailure {
		t.Errorf("failure = %+v, code %q, reason %q; want %+v, failure, %s", r.Header, r.Code, r.Reason, want, ReasonOtherFailure)
	}
}

// TestParseResponseErrors covers what only responses have: the code.
func TestParseResponseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"no code", `<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b"><deleteUser/></response>`, ErrEnvelope},
		{"bad code", `<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b" code="pending"><deleteUser/></response>`, ErrEnvelope},
		{"request to ParseResponse", wrapRequest(`<deleteUser/>`), ErrRoot},
		{"unknown command", `<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="a" to="b" code="success"><foo/></response>`, ErrUnknownCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseResponse([]byte(tt.body)); !errors.Is(err, tt.want) {
				t.Errorf("ParseResponse() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLimitsAccepted checks that bodies right at the limits still parse.
func TestLimitsAccepted(t *testing.T) {
	depth := MaxDepth - 2 // request and deleteUser take two levels
	deep := strings.Repeat("<x:e>", depth) + strings.Repeat("</x:e>", depth)
	body := `<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:x="urn:x" requestId="1" from="a" to="b"><deleteUser>` + deep + `</deleteUser></request>`
	if _, err := ParseRequest([]byte(body)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	wide := wrapRequest(`<deleteUser>` + strings.Repeat("<a/>", MaxElements-2) + `</deleteUser>`)
	if _, err := ParseRequest([]byte(wide)); err != nil {
		t.Errorf("%d elements: %v", MaxElements, err)
	}
	big := wrapRequest(`<deleteUser/>`)
	big = big[:len(envOpen)] + strings.Repeat(" ", MaxBodySize-len(big)) + big[len(envOpen):]
	if _, err := ParseRequest([]byte(big)); err != nil {
		t.Errorf("%d bytes: %v", len(big), err)
	}
	if _, err := ParseRequest([]byte(wrapRequest(`<deleteUser` + manyAttrs(MaxAttrs) + `/>`))); err != nil {
		t.Errorf("%d attributes: %v", MaxAttrs, err)
	}
}

// TestMarshalErrors checks that Marshal refuses what it cannot write.
func TestMarshalErrors(t *testing.T) {
	h := Header{RequestID: 1, From: "sip:a@example.com", To: "sip:b@example.com"}
	tests := []struct {
		name string
		m    marshaler
	}{
		{"no command", &Request{Header: h}},
		{"no from", &Request{Header: Header{To: "b"}, Command: &DeleteUser{}}},
		{"bad version", &Request{Header: Header{Version: "2", From: "a", To: "b"}, Command: &DeleteUser{}}},
		{"NUL in text", &Request{Header: h, Command: &AddConference{ConferenceInfo: &ConferenceInfo{Description: &ConferenceDescription{Subject: ptr("a\x00b")}}}}},
		{"invalid UTF-8 in attribute", &Request{Header: Header{From: "a\xff", To: "b"}, Command: &DeleteUser{}}},
		{"bad command name", &Request{Header: h, Command: &Unsupported{Name: "not a name"}}},
		{"bad extension attribute", &Request{Header: h, Command: &DeleteUser{Extensions: Extensions{Attrs: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:x"}}}}}},
		{"nil extension element", &Request{Header: h, Command: &DeleteUser{Extensions: Extensions{Elements: []*Element{nil}}}}},
		{"response without code", &Response{Header: h, Command: &DeleteUser{}}},
		{"response without command", &Response{Header: h, Code: CodeSuccess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.m.Marshal(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Marshal() = %q, %v; want error %v", b, err, ErrInvalid)
			}
		})
	}
}

// TestDiagnostic checks the ms-diagnostics rendering.
func TestDiagnostic(t *testing.T) {
	if got := DiagnosticFor(errors.New("other")); got != DiagParseFailed {
		t.Errorf("DiagnosticFor(foreign error) = %d, want %d", got, DiagParseFailed)
	}
	tests := []struct {
		d          Diagnostic
		source     string
		wantHeader string
		wantValue  string
	}{
		{DiagParseFailed, "fe01.example.com", "ms-diagnostics", `3006;source="fe01.example.com";reason="Failed to parse the C3P request."`},
		{DiagNotImplemented, "", "ms-diagnostics-public", `3004;reason="The requested C3P command is not implemented."`},
		{DiagAuthorizationFailed, "fe\"01\r\nX: y", "ms-diagnostics", `3014;source="fe01X: y";reason="Failed authorization."`},
		{Diagnostic(3999), "", "ms-diagnostics", `3999;reason="C3P error 3999"`},
	}
	for _, tt := range tests {
		if got := tt.d.HeaderName(); got != tt.wantHeader {
			t.Errorf("%d.HeaderName() = %q, want %q", tt.d, got, tt.wantHeader)
		}
		if got := tt.d.HeaderValue(tt.source); got != tt.wantValue {
			t.Errorf("%d.HeaderValue(%q) = %q, want %q", tt.d, tt.source, got, tt.wantValue)
		}
	}
	for d := DiagBadFrom; d <= DiagInvalidRole; d++ {
		if _, ok := diagReasons[d]; !ok {
			t.Errorf("no reason text for %d", d)
		}
	}
}

// TestNewFailure checks the failure answer to a well-formed request the
// caller refuses, and to a command the package does not know.
func TestNewFailure(t *testing.T) {
	req := Header{Version: Version, RequestID: 77, From: "sip:bob@example.com", To: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234"}
	f := NewFailure(req, "modifyUserRoles", "", DiagAuthorizationFailed)
	b, err := f.Response.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="utf-8"?><response xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="77" from="sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABCD1234" to="sip:bob@example.com" code="failure"><modifyUserRoles reason="otherFailure"/></response>`
	if got := string(b); got != want {
		t.Errorf("failure body =\n%s\nwant\n%s", got, want)
	}
	if f.Diagnostic != DiagAuthorizationFailed {
		t.Errorf("diagnostic = %d, want %d", f.Diagnostic, DiagAuthorizationFailed)
	}

	f = NewFailure(req, "getConferenceDirectory", "notSupported", DiagNotImplemented)
	if _, ok := f.Response.Command.(*Unsupported); !ok {
		t.Errorf("command = %T, want *Unsupported", f.Response.Command)
	}
	b, err = f.Response.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<getConferenceDirectory reason="notSupported"/>`) {
		t.Errorf("failure body lacks the unknown command element:\n%s", b)
	}
}

// TestByteOrderMark checks that a UTF-8 byte order mark before the XML
// declaration is accepted (XML 1.0 §4.3.3), and one later is not.
func TestByteOrderMark(t *testing.T) {
	body := `<?xml version="1.0" encoding="utf-8"?>` + wrapRequest(`<deleteUser/>`)
	if _, err := ParseRequest([]byte("\xef\xbb\xbf" + body)); err != nil {
		t.Errorf("leading BOM: %v", err)
	}
	if _, err := ParseRequest([]byte(" \xef\xbb\xbf" + wrapRequest(`<deleteUser/>`))); !errors.Is(err, ErrSyntax) {
		t.Errorf("BOM after a space: error = %v, want %v", err, ErrSyntax)
	}
}
