package sipx

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestLocalAOR(t *testing.T) {
	l := NewLocal([]string{"parley.test", "Example.COM"}, []string{"127.0.0.1", "fe.parley.test", "[::1]"})
	tests := []struct {
		uri  sip.Uri
		want string
		ok   bool
	}{
		{sip.Uri{User: "Alice", Host: "parley.test"}, "sip:alice@parley.test", true},
		{sip.Uri{User: "bob", Host: "example.com", Port: 5060}, "sip:bob@example.com", true},
		{sip.Uri{User: "bob", Host: "127.0.0.1", Port: 5070}, "sip:bob@parley.test", true},
		{sip.Uri{User: "bob", Host: "::1"}, "sip:bob@parley.test", true},
		{sip.Uri{User: "bob", Host: "fe.parley.test"}, "sip:bob@parley.test", true},
		{sip.Uri{User: "bob", Host: "elsewhere.org"}, "", false},
		{sip.Uri{Host: "parley.test"}, "", false},
	}
	for _, tt := range tests {
		got, ok := l.AOR(tt.uri)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AOR(%v) = %q, %v; want %q, %v", tt.uri.String(), got, ok, tt.want, tt.ok)
		}
	}
	if l.PrimaryDomain() != "parley.test" {
		t.Errorf("PrimaryDomain() = %q", l.PrimaryDomain())
	}
}

func TestReject(t *testing.T) {
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{User: "x", Host: "parley.test"})
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5070, Params: branchParams()})
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	res := Reject(req, 400, "Bad Request", "fe.parley.test", `Max-Forwards "x" is not a number`)
	w := res.GetHeader("Warning")
	if w == nil || !strings.Contains(w.Value(), `399 fe.parley.test "Max-Forwards 'x' is not a number"`) {
		t.Fatalf("Warning = %v", w)
	}
	if res.StatusCode != 400 {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func branchParams() sip.HeaderParams {
	p := sip.NewParams()
	p.Add("branch", "z9hG4bK1")
	return p
}
