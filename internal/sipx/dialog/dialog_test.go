package dialog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// invite is a dialog-creating request as SIPE sends it to a conference
// server: no Via branch, a GRUU Contact. extra headers go before CSeq.
func invite(extra string) string {
	return "INVITE sip:alice@parley.test;gruu;opaque=app:conf:chat:id:K1 SIP/2.0\r\n" +
		"Via: SIP/2.0/tcp 192.0.2.7:50412\r\n" +
		"From: <sip:bob@parley.test>;tag=4d2c;epid=01010101\r\n" +
		"To: <sip:alice@parley.test;gruu;opaque=app:conf:chat:id:K1>\r\n" +
		"Call-ID: 8aC3g2b1\r\n" +
		extra +
		"CSeq: 7 INVITE\r\n" +
		"Contact: <sip:bob@parley.test;opaque=user:epid:xyz;gruu>\r\n" +
		"Content-Length: 0\r\n\r\n"
}

func parse(t *testing.T, raw string) *sip.Request {
	t.Helper()
	m, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	req := m.(*sip.Request)
	req.SetSource("192.0.2.7:50412")
	req.SetTransport("TCP")
	return req
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, raw, tag string
		err            bool
	}{
		{"SIPE INVITE", invite(""), "ours", false},
		{"no local tag", invite(""), "", true},
		{"no From tag", strings.Replace(invite(""), ";tag=4d2c", "", 1), "ours", true},
		{"no Contact", strings.Replace(invite(""), "Contact: <sip:bob@parley.test;opaque=user:epid:xyz;gruu>\r\n", "", 1), "ours", true},
		{"wildcard Contact", strings.Replace(invite(""), "Contact: <sip:bob@parley.test;opaque=user:epid:xyz;gruu>", "Contact: *", 1), "ours", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(parse(t, tt.raw), tt.tag)
			if tt.err {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("New = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Dialog{
				ID: sip.DialogIDMake("8aC3g2b1", "ours", "4d2c"), CallID: "8aC3g2b1", LocalTag: "ours", RemoteTag: "4d2c",
				Local: "sip:alice@parley.test;gruu;opaque=app:conf:chat:id:K1", Remote: "sip:bob@parley.test",
				Target: "sip:bob@parley.test;opaque=user:epid:xyz;gruu", Transport: "TCP", Peer: "192.0.2.7:50412",
			}
			if got := d.fields(); got != want.fields() {
				t.Errorf("New =\n%+v\nwant\n%+v", got, want.fields())
			}
			if d.RemoteCSeq() != 7 || d.LocalCSeq() != 0 {
				t.Errorf("CSeqs remote %d local %d, want 7 and 0", d.RemoteCSeq(), d.LocalCSeq())
			}
		})
	}
}

// fields are a Dialog's exported scalar fields, comparable.
type fields struct {
	ID, CallID, LocalTag, RemoteTag, Local, Remote, Target, Routes, Transport, Peer string
}

func (d *Dialog) fields() fields {
	return fields{d.ID, d.CallID, d.LocalTag, d.RemoteTag, d.Local, d.Remote, d.Target,
		strings.Join(d.RouteSet, ","), d.Transport, d.Peer}
}

// TestIDOf finds the dialog of later requests, SIPE's without Via branch
// among them.
func TestIDOf(t *testing.T) {
	d, err := New(parse(t, invite("")), "ours")
	if err != nil {
		t.Fatal(err)
	}
	const head = "From: <sip:bob@parley.test>;tag=4d2c\r\nCall-ID: 8aC3g2b1\r\nCSeq: 8 MESSAGE\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name, raw string
		ok, mine  bool
	}{
		{"no branch", "MESSAGE sip:immcu@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/tcp 192.0.2.7:50412\r\nTo: <sip:alice@parley.test>;tag=ours\r\n" + head, true, true},
		{"branch", "MESSAGE sip:immcu@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7:50412;branch=z9hG4bK77\r\nTo: <sip:alice@parley.test>;tag=ours\r\n" + head, true, true},
		{"other tag", "MESSAGE sip:immcu@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/tcp 192.0.2.7:50412\r\nTo: <sip:alice@parley.test>;tag=theirs\r\n" + head, true, false},
		{"no To tag", "MESSAGE sip:immcu@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/tcp 192.0.2.7:50412\r\nTo: <sip:alice@parley.test>\r\n" + head, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := IDOf(parse(t, tt.raw))
			if ok != tt.ok || (id == d.ID) != tt.mine {
				t.Errorf("IDOf = %q, %v; want ok %v, this dialog %v", id, ok, tt.ok, tt.mine)
			}
		})
	}
}

func TestAccept(t *testing.T) {
	d, err := New(parse(t, invite("")), "ours")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cseq uint32
		ok   bool
		last uint32
	}{
		{7, true, 7},  // the ACK of the INVITE
		{9, true, 9},  // a gap is fine: a request may have been lost
		{8, false, 9}, // out of order: 500 (RFC 3261 §12.2.2)
		{10, true, 10},
	} {
		req := parse(t, strings.Replace(invite(""), "CSeq: 7 INVITE", "CSeq: "+itoa(tt.cseq)+" INFO", 1))
		if got := d.Accept(req); got != tt.ok || d.RemoteCSeq() != tt.last {
			t.Errorf("Accept(CSeq %d) = %v, last %d; want %v, %d", tt.cseq, got, d.RemoteCSeq(), tt.ok, tt.last)
		}
	}
}

func itoa(n uint32) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRequest checks the requests we build (RFC 3261 §12.2.1.1), with no
// route set, a loose one and a strict one.
func TestRequest(t *testing.T) {
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "immcu", Host: "192.0.2.1", Port: 5060}}
	tests := []struct {
		name, rr   string
		ruri       string
		routes     []string
		dest       string
		transport  string
		viaUnknown bool
	}{
		{"no route set: back to the peer", "", "sip:bob@parley.test;opaque=user:epid:xyz;gruu", nil, "192.0.2.7:50412", "TCP", false},
		{"loose routing", "Record-Route: <sip:p1.parley.test;lr>, <sip:p2.parley.test:5070;lr>\r\n",
			"sip:bob@parley.test;opaque=user:epid:xyz;gruu", []string{"<sip:p1.parley.test;lr>", "<sip:p2.parley.test:5070;lr>"}, "p1.parley.test:5060", "TCP", false},
		{"strict router", "Record-Route: <sip:p1.parley.test:5080>, <sip:p2.parley.test;lr>\r\n",
			"sip:p1.parley.test:5080", []string{"<sip:p2.parley.test;lr>", "<sip:bob@parley.test;opaque=user:epid:xyz;gruu>"}, "p1.parley.test:5080", "TCP", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(parse(t, invite(tt.rr)), "ours")
			if err != nil {
				t.Fatal(err)
			}
			for i, method := range []sip.RequestMethod{sip.MESSAGE, sip.BYE} {
				req := d.Request(method, &contact)
				if got := req.Recipient.String(); got != tt.ruri {
					t.Errorf("Request-URI %s, want %s", got, tt.ruri)
				}
				var routes []string
				for _, h := range req.GetHeaders("Route") {
					routes = append(routes, h.Value())
				}
				if strings.Join(routes, ",") != strings.Join(tt.routes, ",") {
					t.Errorf("Route %q, want %q", routes, tt.routes)
				}
				if got := req.Destination(); got != tt.dest {
					t.Errorf("destination %s, want %s", got, tt.dest)
				}
				if req.Transport() != tt.transport {
					t.Errorf("transport %s, want %s", req.Transport(), tt.transport)
				}
				from, to := req.From(), req.To()
				if tag, _ := from.Params.Get("tag"); tag != "ours" || from.Address.String() != d.Local {
					t.Errorf("From %s", from.Value())
				}
				if tag, _ := to.Params.Get("tag"); tag != "4d2c" || to.Address.String() != d.Remote {
					t.Errorf("To %s", to.Value())
				}
				if req.CallID().Value() != "8aC3g2b1" || req.CSeq().SeqNo != uint32(i+1) || req.CSeq().MethodName != method {
					t.Errorf("Call-ID %s CSeq %s", req.CallID().Value(), req.CSeq().Value())
				}
				if c := req.Contact(); c == nil || c.Address.User != "immcu" {
					t.Errorf("Contact %v", c)
				}
			}
		})
	}
}

// TestJSON restores a dialog from its JSON and goes on where it was.
func TestJSON(t *testing.T) {
	d, err := New(parse(t, invite("Record-Route: <sip:p1.parley.test;lr>\r\n")), "ours")
	if err != nil {
		t.Fatal(err)
	}
	d.Request(sip.INFO, &sip.ContactHeader{})
	d.Request(sip.INFO, &sip.ContactHeader{})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id"`, `"call_id"`, `"route_set"`, `"local_cseq":2`, `"remote_cseq":7`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
	var r Dialog
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.fields() != d.fields() || r.LocalCSeq() != 2 || r.RemoteCSeq() != 7 {
		t.Fatalf("restored %+v (%d, %d), want %+v", r.fields(), r.LocalCSeq(), r.RemoteCSeq(), d.fields())
	}
	req := r.Request(sip.BYE, &sip.ContactHeader{})
	if req.CSeq().SeqNo != 3 || len(req.GetHeaders("Route")) != 1 || req.From().Address.String() != d.Local {
		t.Errorf("request after restore: %s", req.String())
	}

	for name, mutate := range map[string]func(map[string]any){
		"no Call-ID":   func(m map[string]any) { delete(m, "call_id") },
		"no target":    func(m map[string]any) { m["target"] = "" },
		"ID mismatch":  func(m map[string]any) { m["id"] = "x" },
		"bad target":   func(m map[string]any) { m["target"] = "sip:" },
		"bad route":    func(m map[string]any) { m["route_set"] = []string{"<"} },
		"wrong format": func(m map[string]any) { m["local_cseq"] = "two" },
	} {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		bad, _ := json.Marshal(m)
		var x Dialog
		if err := json.Unmarshal(bad, &x); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Unmarshal = %v, want ErrInvalid", name, err)
		}
	}
}

func TestStatusError(t *testing.T) {
	var err error = &StatusError{Code: 481, Reason: "Call/Transaction Does Not Exist"}
	var se *StatusError
	if !errors.Is(err, ErrRefused) || !errors.As(err, &se) || se.Code != 481 {
		t.Errorf("StatusError does not match ErrRefused/itself: %v", err)
	}
	if errors.Is(errors.New("x"), ErrRefused) {
		t.Error("any error matches ErrRefused")
	}
}
