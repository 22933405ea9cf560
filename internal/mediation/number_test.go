package mediation

import (
	"context"
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

func redmond(tb testing.TB) *dialplan.Profile {
	tb.Helper()
	p, err := dialplan.Compile([]dialplan.Rule{
		{Pattern: `(\d{4})`, Translation: "+1425555$1"},
		{Pattern: `9(\d{10})`, Translation: "+1$1"},
		{Pattern: `1?(\d{10})`, Translation: "+1$1"},
		{Pattern: `\+(\d+)`, Translation: "+$1"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestNumberFromURIAndNormalize(t *testing.T) {
	p := redmond(t)
	for _, tc := range []struct {
		uri     string
		want    string
		wantErr error
	}{
		{uri: "tel:+1-425-555-1002", want: "+14255551002"},
		{uri: "tel:1002;phone-context=+1425555", want: "+14255551002"},
		{uri: "tel:5551002;phone-context=+1425", want: "+14255551002"}, // no rule: context + local
		{uri: "tel:+14255551002;ext=22", want: "+14255551002"},
		{uri: "sip:+14255551002@gw.example;user=phone", want: "+14255551002"},
		{uri: "sip:%2B14255551002@gw.example", want: "+14255551002"},
		{uri: "sip:1002@10.0.0.1", want: "+14255551002"},
		{uri: "sip:94255551002@gw", want: "+14255551002"},
		{uri: "sip:(425)%20555-1002@gw", want: "+14255551002"},
		{uri: "sip:4255551002@gw", want: "+14255551002"},
		{uri: "sip:+442071234567@gw", want: "+442071234567"},
		{uri: "sip:12@gw", wantErr: ErrNotNormalized},
		{uri: "sip:alice@gw", wantErr: ErrNotANumber},
		{uri: "sip:+@gw", wantErr: ErrNotANumber},
		{uri: "sip:1+2@gw", wantErr: ErrNotANumber},
		{uri: "sips:*99#@gw", wantErr: ErrNotNormalized},
		{uri: "tel:5551002;phone-context=example.com", wantErr: ErrNotNormalized},
		{uri: "tel:5551002;phone-context=+1x", wantErr: ErrNotANumber},
		{uri: "mailto:bob@example.com", wantErr: ErrNotANumber},
	} {
		var u sip.Uri
		if err := sip.ParseUri(tc.uri, &u); err != nil {
			t.Fatalf("ParseUri(%q): %v", tc.uri, err)
		}
		n, err := NumberFromURI(u)
		var got string
		if err == nil {
			got, err = Normalize(p, n)
		}
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: got %q, %v; want error %v", tc.uri, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.uri, got, err, tc.want)
		}
	}
}

func TestNormalizeWithoutProfileKeepsE164(t *testing.T) {
	got, err := Normalize(nil, Number{Digits: "+1 425 555 1002"})
	if err != nil || got != "+14255551002" {
		t.Errorf("Normalize(nil, +1 425 555 1002) = %q, %v; want +14255551002", got, err)
	}
	if _, err := Normalize(nil, Number{Digits: "5551002"}); !errors.Is(err, ErrNotNormalized) {
		t.Errorf("Normalize(nil, 5551002) error = %v, want %v", err, ErrNotNormalized)
	}
}

func TestCallerOf(t *testing.T) {
	p := redmond(t)
	for _, tc := range []struct {
		name    string
		from    string
		pai     []string
		display string
		number  string
	}{
		{name: "From only", from: `"Ann" <sip:4255550123@gw>;tag=1`, display: "Ann", number: "+14255550123"},
		{name: "PAI wins", from: `"Ann" <sip:1234@gw>;tag=1`, pai: []string{`"Ann Asserted" <tel:+12065550199>`}, display: "Ann Asserted", number: "+12065550199"},
		{name: "second PAI value", from: `<sip:anonymous@anonymous.invalid>;tag=1`, pai: []string{`<sip:anonymous@gw>, <tel:+12065550199>`}, number: "+12065550199"},
		{name: "anonymous", from: `"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1`, display: "Anonymous"},
		{name: "hostile display", from: "\"Ann\\\" \x01Evil\" <sip:1002@gw>;tag=1", display: "Ann Evil", number: "+14255551002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1002", Host: "gw"})
			var from sip.FromHeader
			var u sip.Uri
			params := sip.NewParams()
			display, err := sip.ParseAddressValue(tc.from, &u, &params)
			if err != nil {
				t.Fatal(err)
			}
			from.DisplayName, from.Address, from.Params = display, u, params
			req.AppendHeader(&from)
			for _, v := range tc.pai {
				req.AppendHeader(sip.NewHeader("P-Asserted-Identity", v))
			}
			got := CallerOf(req, p)
			if got.Number != tc.number || got.Display != tc.display {
				t.Errorf("CallerOf = %+v, want {Display:%q Number:%q}", got, tc.display, tc.number)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	r := &router{dir: newFakeDir(), profile: "Default"}
	ctx := context.Background()
	for _, tc := range []struct {
		number string
		want   Destination
		err    error
	}{
		{number: "+14255551002", want: Destination{Kind: KindUser, URI: "sip:bob@parley.test", Display: "Bob Brown"}},
		{number: "+14255550100", want: Destination{Kind: KindAttendant, URI: "sip:caa-1@parley.test", Display: "Redmond dial-in"}},
		{number: "+14255551003", err: ErrUnknownNumber}, // not Enterprise Voice
		{number: "+14255559999", err: ErrUnknownNumber},
	} {
		got, err := r.Resolve(ctx, tc.number)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("Resolve(%s) = %+v, %v; want %+v, %v", tc.number, got, err, tc.want, tc.err)
		}
	}
}

func TestProfileCachedUntilRulesChange(t *testing.T) {
	d := newFakeDir()
	r := &router{dir: d, profile: "Default"}
	ctx := context.Background()
	p1, err := r.Profile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := r.Profile(ctx)
	if p1 != p2 {
		t.Error("the profile was compiled again although its rules did not change")
	}
	d.mu.Lock()
	d.profiles["Default"] = directory.LocationProfile{Name: "Default", Rules: []dialplan.Rule{{Pattern: `(\d{3})`, Translation: "+1800555$1"}}}
	d.mu.Unlock()
	p3, _ := r.Profile(ctx)
	if got, _, err := p3.Normalize("123"); err != nil || got != "+1800555123" {
		t.Errorf("after the change, 123 normalizes to %q, %v; want +1800555123", got, err)
	}
	d.mu.Lock()
	d.fail = errors.New("database down")
	d.mu.Unlock()
	if _, err := r.Profile(ctx); err == nil {
		t.Error("Profile hid a directory failure")
	}
	r.profile = "Missing"
	d.fail = nil
	if _, err := r.Profile(ctx); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Profile(Missing) error = %v, want ErrNotFound", err)
	}
}

func FuzzNumberFromURI(f *testing.F) {
	for _, s := range []string{"tel:+1-425-555-1002", "tel:1002;phone-context=+1425555", "sip:5551002;phone-context=+1425@gw;user=phone",
		"sip:%2B1@gw", "sip:alice@gw", "tel:;;;", "sip:%zz@gw", "tel:+;phone-context=+"} {
		f.Add(s)
	}
	p := redmond(f)
	f.Fuzz(func(t *testing.T, s string) {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			return
		}
		n, err := NumberFromURI(u)
		if err != nil {
			return
		}
		e, err := Normalize(p, n)
		if err == nil && !dialplan.IsE164(e) {
			t.Fatalf("Normalize(%+v) = %q, not E.164", n, e)
		}
	})
}
