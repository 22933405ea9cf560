package attendant

import (
	"net/url"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestCallerID(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		headers [][2]string
		want    string
		private bool
	}{
		{"From user part", "sip:+14255550199@gw.example.com;user=phone", nil, "+14255550199", false},
		{"dashes and dots", "sip:425-555.0199@gw.example.com", nil, "425-555.0199", false},
		{"tel URI", "tel:+14255550199", nil, "+14255550199", false},
		{"anonymous", "sip:anonymous@anonymous.invalid", nil, "", false},
		{"a name, not a number", "sip:alice@example.com", nil, "", false},
		{"no digits", "sip:+@gw.example.com", nil, "", false},
		{"too long", "sip:+" + strings.Repeat("1", 32) + "@gw.example.com", nil, "", false},
		{"asserted identity wins", "sip:anonymous@anonymous.invalid",
			[][2]string{{"P-Asserted-Identity", `"Gateway" <sip:+14255550188@gw.example.com;user=phone>`}}, "+14255550188", false},
		{"asserted tel", "sip:+14255550199@gw.example.com",
			[][2]string{{"P-Asserted-Identity", "<tel:+14255550177>"}}, "+14255550177", false},
		{"asserted name falls back to From", "sip:+14255550199@gw.example.com",
			[][2]string{{"P-Asserted-Identity", "<sip:alice@example.com>"}}, "+14255550199", false},
		{"garbled asserted identity", "sip:+14255550199@gw.example.com",
			[][2]string{{"P-Asserted-Identity", "<sip:"}}, "+14255550199", false},
		{"privacy id", "sip:anonymous@anonymous.invalid",
			[][2]string{{"P-Asserted-Identity", "<sip:+14255550188@gw.example.com>"}, {"Privacy", "id"}}, "+14255550188", true},
		{"privacy header;user", "sip:+14255550199@gw.example.com", [][2]string{{"Privacy", "header; user"}}, "+14255550199", true},
		{"privacy none", "sip:+14255550199@gw.example.com", [][2]string{{"Privacy", "none"}}, "+14255550199", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var from sip.Uri
			if err := sip.ParseUri(tc.from, &from); err != nil {
				t.Fatal(err)
			}
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "example.com"})
			req.AppendHeader(&sip.FromHeader{Address: from, Params: sip.NewParams()})
			for _, h := range tc.headers {
				req.AppendHeader(sip.NewHeader(h[0], h[1]))
			}
			n, private := callerID(req)
			if n != tc.want || private != tc.private {
				t.Errorf("callerID = %q, %v; want %q, %v", n, private, tc.want, tc.private)
			}
		})
	}
}

func TestReferTo(t *testing.T) {
	var contact sip.Uri
	if err := sip.ParseUri("sip:mediation@10.0.0.5:5068;transport=tcp?Foo=bar", &contact); err != nil {
		t.Fatal(err)
	}
	got := ReferTo(contact, "a84b4c76e66710@pc33", "1928301774", "314159")
	want := "sip:mediation@10.0.0.5:5068;transport=tcp?Replaces=a84b4c76e66710%40pc33%3Bto-tag%3D1928301774%3Bfrom-tag%3D314159"
	if got != want {
		t.Errorf("ReferTo = %s\nwant     %s", got, want)
	}
	if contact.Headers == nil {
		t.Error("ReferTo changed the caller's URI")
	}
}

// FuzzReferTo checks that any Call-ID and tags survive the trip through
// the URI's headers component: the MCU must read back exactly the dialog
// the attendant named.
func FuzzReferTo(f *testing.F) {
	f.Add("a84b4c76e66710@pc33", "1928301774", "314159")
	f.Add("x;y=z?&%41", "t&a=g", "f t")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, callID, mediationTag, attendantTag string) {
		contact := sip.Uri{Scheme: "sip", User: "mediation", Host: "10.0.0.5", Port: 5068}
		s := ReferTo(contact, callID, mediationTag, attendantTag)
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatalf("ParseUri(%q): %v", s, err)
		}
		if u.Host != contact.Host || u.Port != contact.Port || u.User != contact.User {
			t.Fatalf("%q parses to another target: %s", s, u.String())
		}
		raw, ok := u.Headers.Get("Replaces")
		if !ok || u.Headers.Length() != 1 {
			t.Fatalf("%q: headers %v", s, u.Headers)
		}
		v, err := url.PathUnescape(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if want := callID + ";to-tag=" + mediationTag + ";from-tag=" + attendantTag; v != want {
			t.Fatalf("Replaces reads back %q, want %q", v, want)
		}
	})
}
