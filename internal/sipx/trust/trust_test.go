package trust

import (
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func request(t *testing.T, body string) *sip.Request {
	t.Helper()
	raw := "SERVICE sip:pool.parley.test;gruu;opaque=app:conf:focusfactory SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-1\r\n" +
		"From: <sip:caa@pool.parley.test>;tag=abc\r\n" +
		"To: <sip:pool.parley.test;gruu;opaque=app:conf:focusfactory>\r\n" +
		"Call-ID: trust-1\r\nCSeq: 7 SERVICE\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	r := m.(*sip.Request)
	r.SetBody([]byte(body))
	return r
}

var key = []byte("0123456789abcdef0123456789abcdef")

func TestSignVerify(t *testing.T) {
	now := time.Unix(1795290186, 0)
	s := Signer{Key: key, Service: "CAA", Host: "pool.parley.test", Now: func() time.Time { return now }}
	req := request(t, "<request/>")
	if err := s.Sign(req); err != nil {
		t.Fatal(err)
	}
	svc, host, err := Verify(key, req, now.Add(5*time.Second))
	if err != nil || svc != "CAA" || host != "pool.parley.test" {
		t.Fatalf("Verify = %q %q %v", svc, host, err)
	}
	// Signing twice keeps one header.
	if err := s.Sign(req); err != nil || len(req.GetHeaders(Header)) != 1 {
		t.Fatalf("re-sign: %v, %d headers", err, len(req.GetHeaders(Header)))
	}

	tests := []struct {
		name   string
		change func(*sip.Request)
		at     time.Time
		want   error
	}{
		{"body changed", func(r *sip.Request) { r.SetBody([]byte("<request x='1'/>")) }, now, ErrBadMAC},
		{"CSeq changed", func(r *sip.Request) { r.CSeq().SeqNo = 8 }, now, ErrBadMAC},
		{"target changed", func(r *sip.Request) { r.Recipient.Host = "evil.test" }, now, ErrBadMAC},
		{"too old", func(*sip.Request) {}, now.Add(MaxSkew + time.Second), ErrExpired},
		{"from the future", func(*sip.Request) {}, now.Add(-MaxSkew - time.Second), ErrExpired},
		{"no header", func(r *sip.Request) { r.RemoveHeader(Header) }, now, ErrMissing},
		{"garbage", func(r *sip.Request) {
			r.RemoveHeader(Header)
			r.AppendHeader(sip.NewHeader(Header, "whatever"))
		}, now, ErrSyntax},
		{"service swapped", func(r *sip.Request) {
			v := r.GetHeader(Header).Value()
			r.RemoveHeader(Header)
			r.AppendHeader(sip.NewHeader(Header, "service=CAS"+v[len("service=CAA"):]))
		}, now, ErrBadMAC},
		{"two headers", func(r *sip.Request) { r.AppendHeader(sip.NewHeader(Header, r.GetHeader(Header).Value())) }, now, ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, "<request/>")
			if err := s.Sign(r); err != nil {
				t.Fatal(err)
			}
			tc.change(r)
			if _, _, err := Verify(key, r, tc.at); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	r := request(t, "<request/>")
	if err := s.Sign(r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify([]byte("another key of thirty-two bytes!"), r, now); !errors.Is(err, ErrBadMAC) {
		t.Errorf("wrong key: %v", err)
	}
	if err := (Signer{Key: []byte("short"), Service: "CAA", Host: "h"}).Sign(r); err == nil {
		t.Error("a short key signed")
	}
	if err := (Signer{Key: key, Service: "C A A", Host: "h"}).Sign(r); err == nil {
		t.Error("a service with spaces signed")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("service=CAA;host=h;ts=1;sig=x")
	f.Add(";;==;")
	f.Fuzz(func(t *testing.T, v string) {
		r := request(t, "")
		r.AppendHeader(sip.NewHeader(Header, v))
		_, _, _ = Verify(key, r, time.Unix(1, 0)) // must not panic
	})
}

func TestSignVerifyHTTP(t *testing.T) {
	now := time.Unix(1795290186, 0)
	s := Signer{Key: key, Service: "focus", Host: "fe1.parley.test", Now: func() time.Time { return now }}
	body := []byte("<request/>")
	v, err := s.SignHTTP("POST", "/avmcu/c3p?x=1", body)
	if err != nil {
		t.Fatal(err)
	}
	if svc, host, err := VerifyHTTP(key, []string{v}, "POST", "/avmcu/c3p?x=1", body, now); err != nil || svc != "focus" || host != "fe1.parley.test" {
		t.Fatalf("VerifyHTTP = %q %q %v", svc, host, err)
	}
	tests := []struct {
		name         string
		values       []string
		method, path string
		body         string
		at           time.Time
		want         error
	}{
		{"other body", []string{v}, "POST", "/avmcu/c3p?x=1", "<request x='1'/>", now, ErrBadMAC},
		{"other path", []string{v}, "POST", "/avmcu/load", "<request/>", now, ErrBadMAC},
		{"other method", []string{v}, "GET", "/avmcu/c3p?x=1", "<request/>", now, ErrBadMAC},
		{"an hour later", []string{v}, "POST", "/avmcu/c3p?x=1", "<request/>", now.Add(time.Hour), ErrExpired},
		{"no header", nil, "POST", "/avmcu/c3p?x=1", "<request/>", now, ErrMissing},
		{"two headers", []string{v, v}, "POST", "/avmcu/c3p?x=1", "<request/>", now, ErrSyntax},
	}
	for _, tc := range tests {
		if _, _, err := VerifyHTTP(key, tc.values, tc.method, tc.path, []byte(tc.body), tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestSignVerifyReplaces: the dialog a signed hand-off replaces is covered
// (RFC 3891): moving the Replaces to another dialog, adding one or
// dropping it breaks the signature.
func TestSignVerifyReplaces(t *testing.T) {
	now := time.Unix(1795290186, 0)
	s := Signer{Key: key, Service: "avmcu", Host: "pool.parley.test", Now: func() time.Time { return now }}
	signed := func(replaces string) *sip.Request {
		r := request(t, "v=0")
		if replaces != "" {
			r.AppendHeader(sip.NewHeader("Replaces", replaces))
		}
		if err := s.Sign(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, _, err := Verify(key, signed("c1;to-tag=a;from-tag=b"), now); err != nil {
		t.Fatalf("a signed Replaces does not verify: %v", err)
	}
	tests := []struct {
		name     string
		replaces string
		change   func(*sip.Request)
	}{
		{"retargeted", "c1;to-tag=a;from-tag=b", func(r *sip.Request) {
			r.RemoveHeader("Replaces")
			r.AppendHeader(sip.NewHeader("Replaces", "c2;to-tag=a;from-tag=b"))
		}},
		{"added", "", func(r *sip.Request) { r.AppendHeader(sip.NewHeader("Replaces", "c2;to-tag=a;from-tag=b")) }},
		{"dropped", "c1;to-tag=a;from-tag=b", func(r *sip.Request) { r.RemoveHeader("Replaces") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signed(tc.replaces)
			tc.change(r)
			if _, _, err := Verify(key, r, now); !errors.Is(err, ErrBadMAC) {
				t.Errorf("Verify = %v, want ErrBadMAC", err)
			}
		})
	}
}

// TestSignVerifyAssertedIdentity: the identity the front end asserts
// (RFC 3325 P-Asserted-Identity) is covered: swapping, adding or dropping
// it breaks the signature.
func TestSignVerifyAssertedIdentity(t *testing.T) {
	now := time.Unix(1795290186, 0)
	s := Signer{Key: key, Service: "frontend", Host: "pool.parley.test", Now: func() time.Time { return now }}
	signed := func(pai string) *sip.Request {
		r := request(t, "v=0")
		if pai != "" {
			r.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai))
		}
		if err := s.Sign(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	const alice = `"Alice" <sip:alice@parley.test>`
	if _, _, err := Verify(key, signed(alice), now); err != nil {
		t.Fatalf("a signed P-Asserted-Identity does not verify: %v", err)
	}
	for _, tc := range []struct {
		name, pai string
		change    func(*sip.Request)
	}{
		{"swapped", alice, func(r *sip.Request) {
			r.RemoveHeader("P-Asserted-Identity")
			r.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:ceo@parley.test>"))
		}},
		{"added", "", func(r *sip.Request) { r.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:ceo@parley.test>")) }},
		{"dropped", alice, func(r *sip.Request) { r.RemoveHeader("P-Asserted-Identity") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := signed(tc.pai)
			tc.change(r)
			if _, _, err := Verify(key, r, now); !errors.Is(err, ErrBadMAC) {
				t.Errorf("Verify = %v, want ErrBadMAC", err)
			}
		})
	}
}
