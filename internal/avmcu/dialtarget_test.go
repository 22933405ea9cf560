package avmcu

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDialTarget(t *testing.T) {
	for _, tc := range []struct {
		uri       string
		ruri      string   // Request-URI, "" when refused
		transport string   // when accepted
		headers   []string // "Name: value", when accepted
		supported string   // when accepted
	}{
		{
			uri:  "sip:mediation@127.0.0.1:5068;transport=tcp?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2",
			ruri: "sip:mediation@127.0.0.1:5068;transport=tcp", transport: "TCP",
			headers: []string{"Replaces: abc@h;to-tag=1;from-tag=2"}, supported: "replaces",
		},
		{
			uri:  "sip:med@example.com?replaces=x%3Bfrom-tag%3Da%3Bto-tag%3Db%3Bearly-only&Require=replaces&Supported=timer%2C%20Replaces",
			ruri: "sip:med@example.com", transport: "UDP",
			headers: []string{"Replaces: x;from-tag=a;to-tag=b;early-only", "Require: replaces"}, supported: "replaces, timer",
		},
		{uri: "SIPS:med@example.com", ruri: "sips:med@example.com", transport: "TLS", supported: "replaces"},
		{uri: "sips:med@example.com;transport=TCP", ruri: "sips:med@example.com;transport=TCP", transport: "TLS", supported: "replaces"},
		{uri: "sip:example.com;transport=tls;method=INVITE", ruri: "sip:example.com;transport=tls;method=INVITE", transport: "TLS", supported: "replaces"},
		{uri: "  sip:bob@example.com  ", ruri: "sip:bob@example.com", transport: "UDP", supported: "replaces"},

		// Not SIP, or not parseable.
		{uri: "tel:+14255551234"},
		{uri: "http://example.com/"},
		{uri: "sip:"},
		{uri: "sip:bob@"},
		{uri: ""},
		{uri: "<sip:bob@example.com>"},
		{uri: "sip:bob@example.com\r\nVia: SIP/2.0/UDP evil"},
		{uri: "sip:bob@example.com;transport=ws"},
		{uri: "sips:bob@example.com;transport=udp"},
		{uri: "sip:bob@example.com;method=REFER"},
		{uri: "sip:bob@example.com:99999999999"},
		{uri: "sip:" + strings.Repeat("a", 3000) + "@example.com"},
		// Header injection, and headers the MCU writes itself.
		{uri: "sip:bob@example.com?Via=SIP%2F2.0%2FUDP%20evil"},
		{uri: "sip:bob@example.com?From=%3Csip%3Aceo%40example.com%3E"},
		{uri: "sip:bob@example.com?To=sip%3Ax%40y"},
		{uri: "sip:bob@example.com?Call-ID=1"},
		{uri: "sip:bob@example.com?CSeq=1%20BYE"},
		{uri: "sip:bob@example.com?Route=%3Csip%3Aevil%3Blr%3E"},
		{uri: "sip:bob@example.com?Contact=%3Csip%3Aevil%3E"},
		{uri: "sip:bob@example.com?Content-Type=text%2Fplain"},
		{uri: "sip:bob@example.com?body=hello"},
		{uri: "sip:bob@example.com?Parley-Trust=service%3Dx"},
		{uri: "sip:bob@example.com?Replaces=x%0D%0AVia%3A%20evil%3Bto-tag%3D1%3Bfrom-tag%3D2"},
		{uri: "sip:bob@example.com?Re%0Aplaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2"},
		{uri: "sip:bob@example.com?Require=replaces%0D%0AVia%3A%20x"},
		// Malformed embedded headers.
		{uri: "sip:bob@example.com?Replaces"},
		{uri: "sip:bob@example.com?Replaces=%zz"},
		{uri: "sip:bob@example.com?Replaces=abc"},
		{uri: "sip:bob@example.com?Replaces=abc%3Bto-tag%3D1"},
		{uri: "sip:bob@example.com?Replaces=abc%3Bto-tag%3D1%3Bto-tag%3D2%3Bfrom-tag%3D3"},
		{uri: "sip:bob@example.com?Replaces=%3Bto-tag%3D1%3Bfrom-tag%3D2"},
		{uri: "sip:bob@example.com?Replaces=a%20b%3Bto-tag%3D1%3Bfrom-tag%3D2"},
		{uri: "sip:bob@example.com?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=b%3Bto-tag%3D1%3Bfrom-tag%3D2"},
		{uri: "sip:bob@example.com?Require=a%20b"},
		{uri: "sip:bob@example.com?Supported="},
		{uri: "sip:bob@example.com?" + strings.Repeat("Require=x&", 8) + "Require=x"},
		// An unescaped @ could move the call to another host.
		{uri: "sip:bob@example.com?Replaces=abc@evil.com;to-tag=1;from-tag=2"},
		{uri: "sip:example.com?Replaces=abc@evil.com"},
	} {
		got, err := parseDialTarget(tc.uri)
		if tc.ruri == "" {
			if !errors.Is(err, ErrDialOut) {
				t.Errorf("%.60q: accepted (%v), want ErrDialOut", tc.uri, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.uri, err)
			continue
		}
		if s := got.uri.String(); s != tc.ruri {
			t.Errorf("%q: Request-URI %q, want %q", tc.uri, s, tc.ruri)
		}
		if got.transport != tc.transport {
			t.Errorf("%q: transport %q, want %q", tc.uri, got.transport, tc.transport)
		}
		var headers []string
		for _, h := range got.headers {
			headers = append(headers, h.Name()+": "+h.Value())
		}
		if strings.Join(headers, "|") != strings.Join(tc.headers, "|") {
			t.Errorf("%q: headers %q, want %q", tc.uri, headers, tc.headers)
		}
		if s := strings.Join(got.supported, ", "); s != tc.supported {
			t.Errorf("%q: Supported %q, want %q", tc.uri, s, tc.supported)
		}
	}
}

// FuzzParseDialTarget checks that whatever a URI holds, the MCU sends an
// INVITE to a SIP URI without headers, with only the allowed headers, and
// nothing that could break a header line.
func FuzzParseDialTarget(f *testing.F) {
	for _, s := range []string{
		"sip:mediation@127.0.0.1:5068;transport=tcp?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2",
		"sips:a@b?Require=replaces&Supported=timer",
		"sip:bob@example.com?Via=x",
		"sip:a?b@c",
		"sip:[::1]:5060;transport=udp",
		"tel:+1",
		"sip:a@b?Replaces=x%0D%0AVia%3A%20y%3Bto-tag%3D1%3Bfrom-tag%3D2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := parseDialTarget(raw)
		if err != nil {
			if !errors.Is(err, ErrDialOut) {
				t.Fatalf("%q: error %v does not wrap ErrDialOut", raw, err)
			}
			return
		}
		if got.uri.Scheme != "sip" && got.uri.Scheme != "sips" || got.uri.Host == "" {
			t.Fatalf("%q: Request-URI %q", raw, got.uri.String())
		}
		if s := got.uri.String(); strings.ContainsAny(s, "\r\n") || len(got.uri.Headers) != 0 {
			t.Fatalf("%q: Request-URI %q", raw, s)
		}
		if got.transport != "UDP" && got.transport != "TCP" && got.transport != "TLS" {
			t.Fatalf("%q: transport %q", raw, got.transport)
		}
		for _, h := range got.headers {
			if n := h.Name(); n != "Replaces" && n != "Require" {
				t.Fatalf("%q: header %q", raw, n)
			}
			if strings.ContainsFunc(h.Value(), func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("%q: header value %q", raw, h.Value())
			}
		}
		for _, tag := range got.supported {
			if !isToken(tag) {
				t.Fatalf("%q: option tag %q", raw, tag)
			}
		}
	})
}
