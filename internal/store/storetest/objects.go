package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

func (x suite) organization(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	_, err := s.Organization(ctx)
	wantIs(t, "Organization before PutOrganization", err, directory.ErrNotFound)

	want := directory.Organization{
		Name:           "Parley Test",
		Domains:        []string{domain, "example.org"},
		WebInternalURL: "https://meet.parley.test/",
		WebExternalURL: "https://meet.example.org/dialin",
	}
	must(t, s.PutOrganization(ctx, want))
	got, err := s.Organization(ctx)
	must(t, err)
	if diff := cmp.Diff(want, got, opts, cmpopts.IgnoreFields(directory.Organization{}, "ConferenceKey")); diff != "" {
		t.Errorf("Organization (-want +got):\n%s", diff)
	}
	key := got.ConferenceKey
	if len(key) != 32 || bytes.Equal(key, make([]byte, 32)) {
		t.Fatalf("generated conference key = %x, want 32 random bytes", key)
	}

	// Putting an organization without a key keeps the stored one.
	want.Name, want.Domains, want.WebExternalURL = "Parley", []string{"example.org"}, ""
	must(t, s.PutOrganization(ctx, want))
	got, err = s.Organization(ctx)
	must(t, err)
	if !bytes.Equal(got.ConferenceKey, key) {
		t.Errorf("conference key changed by a put without a key: %x, want %x", got.ConferenceKey, key)
	}
	if diff := cmp.Diff(want, got, opts, cmpopts.IgnoreFields(directory.Organization{}, "ConferenceKey")); diff != "" {
		t.Errorf("Organization after update (-want +got):\n%s", diff)
	}

	// An explicit key replaces it.
	newKey := bytes.Repeat([]byte{7}, 32)
	want.ConferenceKey = newKey
	must(t, s.PutOrganization(ctx, want))
	got, err = s.Organization(ctx)
	must(t, err)
	if !bytes.Equal(got.ConferenceKey, newKey) {
		t.Errorf("conference key = %x, want %x", got.ConferenceKey, newKey)
	}

	// Bad organizations change nothing.
	wantInvalid(t, "PutOrganization(no domains)", s.PutOrganization(ctx, directory.Organization{Name: "X"}), "domains")
	wantInvalid(t, "PutOrganization(short key)",
		s.PutOrganization(ctx, directory.Organization{Name: "X", Domains: []string{domain}, ConferenceKey: []byte{1, 2}}),
		"conference_key")
	after, err := s.Organization(ctx)
	must(t, err)
	if diff := cmp.Diff(got, after, opts); diff != "" {
		t.Errorf("a rejected PutOrganization changed the organization (-before +after):\n%s", diff)
	}
}

func (x suite) pools(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	a := directory.Pool{FQDN: "a.parley.test", ID: "20", PSTN: directory.PSTNSettings{
		MinPINLength: 6, MaxPINAttempts: 3, PINExpiryDays: 90}, WebInternalURL: "https://a.parley.test/meet"}
	z := directory.Pool{FQDN: "z.parley.test", ID: "10", PSTN: directory.DefaultPSTNSettings(),
		WebExternalURL: "https://meet.example.org/z"}
	m := directory.Pool{FQDN: "m.parley.test", ID: "123456", PSTN: directory.DefaultPSTNSettings()}
	for _, p := range []directory.Pool{z, a, m} {
		must(t, s.PutPool(ctx, p))
	}
	got, err := s.Pool(ctx, a.FQDN)
	must(t, err)
	if diff := cmp.Diff(a, got, opts); diff != "" {
		t.Errorf("Pool (-want +got):\n%s", diff)
	}
	ps, err := s.Pools(ctx)
	must(t, err)
	if diff := cmp.Diff([]directory.Pool{a, m, z}, ps, opts); diff != "" {
		t.Errorf("Pools (-want +got):\n%s", diff)
	}

	// Put replaces; dropping an optional URL clears it.
	a.PSTN.MinPINLength, a.WebInternalURL, a.ID = 8, "", "21"
	must(t, s.PutPool(ctx, a))
	got, err = s.Pool(ctx, a.FQDN)
	must(t, err)
	if diff := cmp.Diff(a, got, opts); diff != "" {
		t.Errorf("Pool after replace (-want +got):\n%s", diff)
	}

	_, err = s.Pool(ctx, "nope.parley.test")
	wantIs(t, "Pool(unknown)", err, directory.ErrNotFound)
	wantIs(t, "DeletePool(unknown)", s.DeletePool(ctx, "nope.parley.test"), directory.ErrNotFound)
	wantInvalid(t, "PutPool(one-digit ID)", s.PutPool(ctx, directory.Pool{FQDN: "b.parley.test", ID: "1",
		PSTN: directory.DefaultPSTNSettings()}), "id")
	wantInvalid(t, "PutPool(bad PSTN settings)", s.PutPool(ctx, directory.Pool{FQDN: "b.parley.test", ID: "55",
		PSTN: directory.PSTNSettings{MinPINLength: 2, MaxPINAttempts: 1}}), "min_pin_length")

	must(t, s.DeletePool(ctx, m.FQDN))
	ps, err = s.Pools(ctx)
	must(t, err)
	wantKeys(t, "Pools after delete", keys(ps, func(p directory.Pool) string { return p.FQDN }), a.FQDN, z.FQDN)
}

func (x suite) poolIDUnique(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	err := s.PutPool(ctx, directory.Pool{FQDN: "new.parley.test", ID: "12", PSTN: directory.DefaultPSTNSettings()})
	wantInvalid(t, "PutPool(ID of pool1)", err, "id", "12", pool1)
	_, err = s.Pool(ctx, "new.parley.test")
	wantIs(t, "Pool after a rejected put", err, directory.ErrNotFound)

	// Taking another pool's ID on update is refused too, and a pool may
	// keep its own ID.
	err = s.PutPool(ctx, directory.Pool{FQDN: pool2, ID: "12", PSTN: directory.DefaultPSTNSettings()})
	wantInvalid(t, "PutPool(pool2 with pool1's ID)", err, "id")
	got, err := s.Pool(ctx, pool2)
	must(t, err)
	if got.ID != "34" {
		t.Errorf("pool2 ID = %q after a rejected put, want 34", got.ID)
	}
	must(t, s.PutPool(ctx, directory.Pool{FQDN: pool1, ID: "12", PSTN: directory.PSTNSettings{
		MinPINLength: 4, MaxPINAttempts: 5}}))
}

func (x suite) servers(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	err := s.PutServer(ctx, directory.Server{FQDN: "fe1.parley.test", Pool: "nope.parley.test"})
	wantInvalid(t, "PutServer(unknown pool)", err, "pool")
	if vs, err := s.Servers(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Servers after a rejected put = %v, %v; want none", vs, err)
	}
	want := []directory.Server{
		{FQDN: "fe1.parley.test", Pool: pool1},
		{FQDN: "fe2.parley.test", Pool: pool1},
		{FQDN: "fe3.parley.test", Pool: pool2},
	}
	for _, i := range []int{2, 0, 1} {
		must(t, s.PutServer(ctx, want[i]))
	}
	want[2].Pool = pool1 // moving a server to another pool
	must(t, s.PutServer(ctx, want[2]))
	got, err := s.Servers(ctx)
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Servers (-want +got):\n%s", diff)
	}
	wantInvalid(t, "PutServer(bad FQDN)", s.PutServer(ctx, directory.Server{FQDN: "-x", Pool: pool1}), "fqdn")
	must(t, s.DeleteServer(ctx, "fe2.parley.test"))
	wantIs(t, "DeleteServer(again)", s.DeleteServer(ctx, "fe2.parley.test"), directory.ErrNotFound)
	got, err = s.Servers(ctx)
	must(t, err)
	wantKeys(t, "Servers after delete", keys(got, func(v directory.Server) string { return v.FQDN }),
		"fe1.parley.test", "fe3.parley.test")
}

func (x suite) trustedServices(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	want := []directory.TrustedService{
		{FQDN: "fe1.parley.test", Type: directory.ServiceAttendant, Port: 5072},
		{FQDN: "fe1.parley.test", Type: directory.ServiceAnnouncement, Port: 5073},
		{FQDN: pool1, Type: directory.ServiceAttendant, Port: 5072},
	}
	for _, i := range []int{2, 1, 0} {
		must(t, s.PutTrustedService(ctx, want[i]))
	}
	want[1].Port = 6000
	must(t, s.PutTrustedService(ctx, want[1]))
	got, err := s.TrustedServices(ctx)
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("TrustedServices (-want +got):\n%s", diff)
	}
	wantInvalid(t, "PutTrustedService(bad type)", s.PutTrustedService(ctx,
		directory.TrustedService{FQDN: pool1, Type: "Other", Port: 1}), "type")
	wantInvalid(t, "PutTrustedService(port 0)", s.PutTrustedService(ctx,
		directory.TrustedService{FQDN: pool1, Type: directory.ServiceAnnouncement}), "port")
	must(t, s.DeleteTrustedService(ctx, "fe1.parley.test", directory.ServiceAttendant))
	wantIs(t, "DeleteTrustedService(again)",
		s.DeleteTrustedService(ctx, "fe1.parley.test", directory.ServiceAttendant), directory.ErrNotFound)
	got, err = s.TrustedServices(ctx)
	must(t, err)
	if diff := cmp.Diff(want[1:], got, opts); diff != "" {
		t.Errorf("TrustedServices after delete (-want +got):\n%s", diff)
	}
}

// manyRules returns n rules whose patterns sort differently from their
// positions (position 10 sorts before 2 as text), to catch a store that
// orders rules by anything but their position.
func manyRules(n int) []dialplan.Rule {
	rs := make([]dialplan.Rule, n)
	for i := range rs {
		rs[i] = dialplan.Rule{
			Pattern:     fmt.Sprintf(`%c(\d{%d})`, 'z'-rune(i), i%5+1),
			Translation: fmt.Sprintf("+%d$1", 100-i),
		}
		if i%3 == 0 {
			rs[i].Description = fmt.Sprintf("rule number %d", i+1)
		}
	}
	return rs
}

func (x suite) locationProfiles(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	big := directory.LocationProfile{Name: "Big", Description: "twelve rules", Rules: manyRules(12)}
	empty := directory.LocationProfile{Name: "Empty"}
	small := directory.LocationProfile{Name: "Small", Rules: manyRules(2)}
	// Lists are in byte order on every backend, whatever the database's
	// collation: "alpha" after "Small", "b-c" before "bc".
	alpha := directory.LocationProfile{Name: "alpha"}
	bc, bDashC := directory.LocationProfile{Name: "bc"}, directory.LocationProfile{Name: "b-c"}
	for _, l := range []directory.LocationProfile{small, bc, alpha, big, empty, bDashC} {
		must(t, s.PutLocationProfile(ctx, l))
	}
	got, err := s.LocationProfile(ctx, big.Name)
	must(t, err)
	if diff := cmp.Diff(big, got, opts); diff != "" {
		t.Errorf("LocationProfile (-want +got):\n%s", diff)
	}
	all, err := s.LocationProfiles(ctx)
	must(t, err)
	if diff := cmp.Diff([]directory.LocationProfile{big, empty, small, alpha, bDashC, bc}, all, opts); diff != "" {
		t.Errorf("LocationProfiles (-want +got):\n%s", diff)
	}

	// Put replaces the whole rule list.
	big.Rules, big.Description = []dialplan.Rule{big.Rules[11], big.Rules[0]}, ""
	must(t, s.PutLocationProfile(ctx, big))
	got, err = s.LocationProfile(ctx, big.Name)
	must(t, err)
	if diff := cmp.Diff(big, got, opts); diff != "" {
		t.Errorf("LocationProfile after replace (-want +got):\n%s", diff)
	}

	// Delete takes the rules along: a profile of the same name starts empty.
	must(t, s.DeleteLocationProfile(ctx, big.Name))
	_, err = s.LocationProfile(ctx, big.Name)
	wantIs(t, "LocationProfile after delete", err, directory.ErrNotFound)
	must(t, s.PutLocationProfile(ctx, directory.LocationProfile{Name: big.Name}))
	got, err = s.LocationProfile(ctx, big.Name)
	must(t, err)
	if len(got.Rules) != 0 {
		t.Errorf("recreated profile has rules %v, want none", got.Rules)
	}
	wantIs(t, "DeleteLocationProfile(unknown)", s.DeleteLocationProfile(ctx, "Nope"), directory.ErrNotFound)
}

func (x suite) locationProfileBadRule(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	before, err := s.LocationProfile(ctx, profile)
	must(t, err)
	bad := directory.LocationProfile{Name: profile, Rules: []dialplan.Rule{
		{Pattern: `(\d{4})`, Translation: "+1425555$1"},
		{Pattern: `(12`, Translation: "+1$1"},
	}}
	// The error names the rule and shows it.
	wantInvalid(t, "PutLocationProfile(bad regexp)", s.PutLocationProfile(ctx, bad), "rules", "rule 2", "(12=>+1$1")
	after, err := s.LocationProfile(ctx, profile)
	must(t, err)
	if diff := cmp.Diff(before, after, opts); diff != "" {
		t.Errorf("a rejected put changed the profile (-before +after):\n%s", diff)
	}
	bad.Name = "Fresh"
	wantInvalid(t, "PutLocationProfile(new, bad regexp)", s.PutLocationProfile(ctx, bad), "rules")
	_, err = s.LocationProfile(ctx, "Fresh")
	wantIs(t, "LocationProfile after a rejected create", err, directory.ErrNotFound)
}

func (x suite) regions(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	wantInvalid(t, "PutRegion(unknown profile)",
		s.PutRegion(ctx, directory.Region{Name: "East", LocationProfile: "Nope"}), "location_profile")
	_, err := s.Region(ctx, "East")
	wantIs(t, "Region after a rejected put", err, directory.ErrNotFound)
	must(t, s.PutLocationProfile(ctx, directory.LocationProfile{Name: "Other"}))
	must(t, s.PutRegion(ctx, directory.Region{Name: "East", LocationProfile: "Other"}))
	must(t, s.PutRegion(ctx, directory.Region{Name: "Central", LocationProfile: profile}))
	got, err := s.Region(ctx, "East")
	must(t, err)
	if want := (directory.Region{Name: "East", LocationProfile: "Other"}); got != want {
		t.Errorf("Region = %+v, want %+v", got, want)
	}
	rs, err := s.Regions(ctx)
	must(t, err)
	wantKeys(t, "Regions", keys(rs, func(r directory.Region) string { return r.Name }), "Central", "East", region)
	must(t, s.DeleteRegion(ctx, "East"))
	wantIs(t, "DeleteRegion(again)", s.DeleteRegion(ctx, "East"), directory.ErrNotFound)
}

func (x suite) meetingPolicies(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	want := []directory.MeetingPolicy{
		{Name: "Anonymous", PSTNDialIn: true, PasscodeRequired: true, MaxMeetingSize: 2, AnonymousAllowed: true},
		{Name: "Closed", MaxMeetingSize: 100000},
		{Name: "Default", PSTNDialIn: true, MaxMeetingSize: 250},
	}
	for _, i := range []int{1, 2, 0} {
		must(t, s.PutMeetingPolicy(ctx, want[i]))
	}
	got, err := s.MeetingPolicies(ctx)
	must(t, err)
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("MeetingPolicies (-want +got):\n%s", diff)
	}
	want[0].PasscodeRequired, want[0].MaxMeetingSize = false, 10
	must(t, s.PutMeetingPolicy(ctx, want[0]))
	one, err := s.MeetingPolicy(ctx, want[0].Name)
	must(t, err)
	if one != want[0] {
		t.Errorf("MeetingPolicy = %+v, want %+v", one, want[0])
	}
	wantInvalid(t, "PutMeetingPolicy(size 1)",
		s.PutMeetingPolicy(ctx, directory.MeetingPolicy{Name: "Tiny", MaxMeetingSize: 1}), "max_meeting_size")
	_, err = s.MeetingPolicy(ctx, "Tiny")
	wantIs(t, "MeetingPolicy(rejected)", err, directory.ErrNotFound)
	must(t, s.DeleteMeetingPolicy(ctx, "Closed"))
	wantIs(t, "DeleteMeetingPolicy(again)", s.DeleteMeetingPolicy(ctx, "Closed"), directory.ErrNotFound)
}

func newNumber(n, lang string, secondary ...string) directory.AccessNumber {
	return directory.AccessNumber{
		LineURI: "tel:+1425555" + n, DisplayName: "Dial-in " + n, URI: "sip:caa-" + n + "@" + domain,
		Pool: pool1, Region: region, PrimaryLanguage: lang, SecondaryLanguages: secondary,
	}
}

func (x suite) accessNumbers(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	want := []directory.AccessNumber{
		newNumber("0100", "en-US", "fr-CA", "es-US", "de-DE", "ja-JP"),
		newNumber("0200", "fr-FR"),
		newNumber("0300", "de-DE", "en-GB"),
	}
	want[1].DisplayName = ""
	for _, i := range []int{2, 0, 1} {
		must(t, s.PutAccessNumber(ctx, want[i]))
	}
	got, err := s.AccessNumber(ctx, want[0].LineURI)
	must(t, err)
	if diff := cmp.Diff(want[0], got, opts); diff != "" {
		t.Errorf("AccessNumber (-want +got):\n%s", diff)
	}
	all, err := s.AccessNumbers(ctx)
	must(t, err)
	if diff := cmp.Diff(want, all, opts); diff != "" {
		t.Errorf("AccessNumbers (-want +got):\n%s", diff)
	}

	// Put replaces, secondary languages in their new order.
	want[0].SecondaryLanguages = []string{"ja-JP", "fr-CA"}
	want[0].Pool = pool2
	must(t, s.PutAccessNumber(ctx, want[0]))
	got, err = s.AccessNumber(ctx, want[0].LineURI)
	must(t, err)
	if diff := cmp.Diff(want[0], got, opts); diff != "" {
		t.Errorf("AccessNumber after replace (-want +got):\n%s", diff)
	}

	_, err = s.AccessNumber(ctx, "tel:+19999999999")
	wantIs(t, "AccessNumber(unknown)", err, directory.ErrNotFound)
	must(t, s.DeleteAccessNumber(ctx, want[1].LineURI))
	wantIs(t, "DeleteAccessNumber(again)", s.DeleteAccessNumber(ctx, want[1].LineURI), directory.ErrNotFound)
}

func (x suite) accessNumberRejected(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	must(t, s.PutAccessNumber(ctx, newNumber("0100", "en-US")))

	five := newNumber("0200", "en-US", "fr-CA", "es-US", "de-DE", "ja-JP", "it-IT")
	wantInvalid(t, "PutAccessNumber(5 secondary languages)", s.PutAccessNumber(ctx, five), "secondary_languages")
	noPool := newNumber("0200", "en-US")
	noPool.Pool = "nope.parley.test"
	wantInvalid(t, "PutAccessNumber(unknown pool)", s.PutAccessNumber(ctx, noPool), "pool")
	noRegion := newNumber("0200", "en-US")
	noRegion.Region = "Nowhere"
	wantInvalid(t, "PutAccessNumber(unknown region)", s.PutAccessNumber(ctx, noRegion), "region")
	dupURI := newNumber("0200", "en-US")
	dupURI.URI = "sip:caa-0100@" + domain
	wantInvalid(t, "PutAccessNumber(URI of another number)", s.PutAccessNumber(ctx, dupURI), "uri",
		dupURI.URI, "tel:+14255550100")
	all, err := s.AccessNumbers(ctx)
	must(t, err)
	wantKeys(t, "AccessNumbers after rejected puts",
		keys(all, func(a directory.AccessNumber) string { return a.LineURI }), "tel:+14255550100")
}

func (x suite) deleteInUse(t *testing.T) {
	s := x.store(t)
	ctx := t.Context()
	fixture(t, s)
	u := newUser("alice")
	u.LocationProfile, u.MeetingPolicy = profile, policy
	must(t, s.CreateUser(ctx, u))
	must(t, s.PutServer(ctx, directory.Server{FQDN: "fe.parley.test", Pool: pool2}))
	must(t, s.PutAccessNumber(ctx, newNumber("0100", "en-US")))

	wantIs(t, "DeletePool(home of alice)", s.DeletePool(ctx, pool1), directory.ErrInUse)
	wantIs(t, "DeletePool(pool of a server)", s.DeletePool(ctx, pool2), directory.ErrInUse)
	wantIs(t, "DeleteLocationProfile(of a region)", s.DeleteLocationProfile(ctx, profile), directory.ErrInUse)
	wantIs(t, "DeleteRegion(of a number)", s.DeleteRegion(ctx, region), directory.ErrInUse)
	wantIs(t, "DeleteMeetingPolicy(of alice)", s.DeleteMeetingPolicy(ctx, policy), directory.ErrInUse)
	for what, err := range map[string]error{
		"Pool":            func() error { _, err := s.Pool(ctx, pool1); return err }(),
		"LocationProfile": func() error { _, err := s.LocationProfile(ctx, profile); return err }(),
		"Region":          func() error { _, err := s.Region(ctx, region); return err }(),
		"MeetingPolicy":   func() error { _, err := s.MeetingPolicy(ctx, policy); return err }(),
	} {
		if err != nil {
			t.Errorf("%s after a refused delete: %v", what, err)
		}
	}
	got, err := s.LocationProfile(ctx, profile)
	must(t, err)
	if len(got.Rules) != 2 {
		t.Errorf("a refused delete changed the profile's rules: %v", got.Rules)
	}

	// Once the references are gone, the deletes go through.
	must(t, s.DeleteAccessNumber(ctx, "tel:+14255550100"))
	must(t, s.DeleteRegion(ctx, region))
	wantIs(t, "DeleteLocationProfile(of alice)", s.DeleteLocationProfile(ctx, profile), directory.ErrInUse)
	must(t, s.DeleteUser(ctx, u.URI))
	must(t, s.DeleteLocationProfile(ctx, profile))
	must(t, s.DeleteMeetingPolicy(ctx, policy))
	must(t, s.DeletePool(ctx, pool1))
	must(t, s.DeleteServer(ctx, "fe.parley.test"))
	must(t, s.DeletePool(ctx, pool2))
}
