package attendant

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// paiRequest is an INVITE carrying the given P-Asserted-Identity headers.
func paiRequest(values ...string) *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "caa-1", Host: "example.com"})
	for _, v := range values {
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", v))
	}
	return req
}

func TestAssertedUser(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   User
		err    error
	}{
		{"name-addr", []string{`"Alice Anders" <sip:alice@parley.test>`}, User{URI: "sip:alice@parley.test", DisplayName: "Alice Anders"}, nil},
		{"addr-spec", []string{"sip:alice@parley.test"}, User{URI: "sip:alice@parley.test"}, nil},
		{"unquoted name", []string{"Alice <sip:alice@parley.test>"}, User{URI: "sip:alice@parley.test", DisplayName: "Alice"}, nil},
		{"sips", []string{"<sips:alice@parley.test>"}, User{URI: "sips:alice@parley.test"}, nil},
		{"parameters, port and case dropped", []string{"<sip:alice@Parley.TEST:5061;transport=tls;gr>;foo=bar"}, User{URI: "sip:alice@parley.test"}, nil},
		{"quoted-pair and comma in the name", []string{`"Anders, \"Al\"" <sip:alice@parley.test>`}, User{URI: "sip:alice@parley.test", DisplayName: `Anders, "Al"`}, nil},
		{"with tel in one header", []string{`"Alice" <sip:alice@parley.test>, <tel:+14255550123>`}, User{URI: "sip:alice@parley.test", DisplayName: "Alice"}, nil},
		{"with tel in two headers", []string{"<tel:+14255550123>", "<sip:alice@parley.test>"}, User{URI: "sip:alice@parley.test"}, nil},
		{"none", nil, User{}, errNoAssertion},
		{"tel only", []string{"<tel:+14255550123>"}, User{}, errNoSIPAssertion},
		{"no user part", []string{"<sip:parley.test>"}, User{}, errNoSIPAssertion},
		{"two SIP identities", []string{"<sip:alice@parley.test>, <sip:bob@parley.test>"}, User{}, errBadAssertion},
		{"three values", []string{"<sip:alice@parley.test>", "<tel:+1>", "<tel:+2>"}, User{}, errBadAssertion},
		{"other scheme", []string{"<mailto:alice@parley.test>"}, User{}, errBadAssertion},
		{"unterminated bracket", []string{"<sip:alice@parley.test"}, User{}, errBadAssertion},
		{"unterminated quote", []string{`"Alice <sip:alice@parley.test>`}, User{}, errBadAssertion},
		{"too long", []string{`"` + strings.Repeat("a", maxAssertedLen) + `" <sip:alice@parley.test>`}, User{}, errBadAssertion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assertedUser(paiRequest(tc.values...))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("assertedUser = %+v, %v; want %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("assertedUser = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzAssertedUser(f *testing.F) {
	for _, s := range []string{
		`"Alice Anders" <sip:alice@parley.test>`, "sip:alice@parley.test;user=phone", "<tel:+14255550123>, <sip:a@b>",
		`"a\"b,c" <sip:x@y>`, "<sip:", `"`, ",,,", "<sips:a@b:5061;transport=tls?x=y>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		u, err := assertedUser(paiRequest(v))
		if err != nil {
			return
		}
		if !strings.HasPrefix(u.URI, "sip:") && !strings.HasPrefix(u.URI, "sips:") || !strings.Contains(u.URI, "@") {
			t.Fatalf("assertedUser(%q) = %+v: not a SIP address of record", v, u)
		}
	})
}

func TestSipfragStatus(t *testing.T) {
	tests := []struct {
		body string
		want int // 0: an error
	}{
		{"SIP/2.0 200 OK\r\n", 200},
		{"SIP/2.0 100 Trying", 100},
		{"SIP/2.0 603 Declined\r\nContent-Length: 0\r\n\r\n", 603},
		{"sip/2.0 180 Ringing\n", 180},
		{"SIP/2.0 486", 486},
		{"SIP/2.0 200OK", 0},
		{"SIP/2.0 20 OK", 0},
		{"SIP/2.0 099 Low", 0},
		{"SIP/2.0 700 High", 0},
		{"SIP/2.0 2x0 OK", 0},
		{"SIP/3.0 200 OK", 0},
		{"INVITE sip:a@b SIP/2.0", 0},
		{"", 0},
		{"SIP/2.0 200 " + strings.Repeat("x", maxSipfragLine), 0},
	}
	for _, tc := range tests {
		got, err := sipfragStatus([]byte(tc.body))
		if tc.want == 0 && err == nil || tc.want != 0 && (err != nil || got != tc.want) {
			t.Errorf("sipfragStatus(%.40q) = %d, %v; want %d", tc.body, got, err, tc.want)
		}
	}
}

func FuzzSipfragStatus(f *testing.F) {
	for _, s := range []string{"SIP/2.0 200 OK\r\n", "SIP/2.0 100 Trying", "SIP/2.0 9", "\n", "SIP/2.0 486 Busy\r\nVia: x\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, err := sipfragStatus(body)
		if err == nil && (code < 100 || code > 699) {
			t.Fatalf("sipfragStatus(%q) = %d without an error", body, code)
		}
	})
}

func TestEventOf(t *testing.T) {
	tests := []struct {
		value, event, id string
	}{
		{"refer", "refer", ""},
		{"refer;id=93809824", "refer", "93809824"},
		{" Refer ; ID = 7 ;foo", "refer", "7"},
		{"presence", "presence", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		req := sip.NewRequest(sip.NOTIFY, sip.Uri{Scheme: "sip", Host: "example.com"})
		if tc.value != "" {
			req.AppendHeader(sip.NewHeader("Event", tc.value))
		}
		if event, id := eventOf(req); event != tc.event || id != tc.id {
			t.Errorf("eventOf(%q) = %q, %q; want %q, %q", tc.value, event, id, tc.event, tc.id)
		}
	}
}

func TestMCUURI(t *testing.T) {
	tests := []struct {
		focus, want string
	}{
		{"sip:org@example.com;gruu;opaque=app:conf:focus:id:K1", "sip:org@example.com;gruu;opaque=app:conf:audio-video:id:K1"},
		{"<sip:alice@parley.test;gruu;opaque=app:conf:focus:id:TPDD8VYG>", "sip:alice@parley.test;gruu;opaque=app:conf:audio-video:id:TPDD8VYG"},
		{"sip:org@example.com;gruu;opaque=app:conf:audio-video:id:K1", ""},
		{"sip:org@example.com;gruu;opaque=app:conf:focusfactory", ""},
		{"sip:org@example.com", ""},
	}
	for _, tc := range tests {
		got, err := mcuURI(tc.focus)
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("mcuURI(%q) = %q, %v; want %q", tc.focus, got, err, tc.want)
		}
	}
}
