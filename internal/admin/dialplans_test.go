package admin

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

func TestLocationProfiles(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	l, err := e.svc.AddLocationProfile(ctx, redmondProfile())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(redmondProfile(), l); diff != "" {
		t.Errorf("AddLocationProfile (-want +got):\n%s", diff)
	}
	before := e.snapshot(t)

	bad := directory.LocationProfile{Name: "Paris", Rules: []dialplan.Rule{
		{Pattern: `\d+`, Translation: "+33$0"},
		{Pattern: `(\d{4}`, Translation: "+1$1"},
	}}
	_, err = e.svc.AddLocationProfile(ctx, bad)
	wantValidation(t, err, "rules", `rule 2 "(\\d{4}=>+1$1": bad regular expression: error parsing regexp: missing closing )`)
	if _, err := e.svc.AddLocationProfile(ctx, redmondProfile()); !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddLocationProfile(duplicate) error = %v; want ErrExists", err)
	}
	_, err = e.svc.SetLocationProfile(ctx, "Redmond", LocationProfilePatch{Rules: &bad.Rules})
	wantValidation(t, err, "rules", "missing closing )")
	_, err = e.svc.SetLocationProfile(ctx, "Redmond", LocationProfilePatch{})
	wantValidation(t, err, "", "nothing to change")
	if _, err := e.svc.SetLocationProfile(ctx, "Paris", LocationProfilePatch{Description: ptr("x")}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetLocationProfile(unknown) error = %v; want ErrNotFound", err)
	}
	if err := e.svc.DeleteLocationProfile(ctx, "Default"); err != nil {
		t.Fatalf("DeleteLocationProfile(unused Default) = %v", err)
	}
	if _, err := e.svc.AddLocationProfile(ctx, defaultProfile()); err != nil {
		t.Fatal(err)
	}
	e.unchanged(t, before)

	rules := []dialplan.Rule{{Pattern: `0(\d{9})`, Translation: "+33$1"}}
	l, err = e.svc.SetLocationProfile(ctx, "Redmond", LocationProfilePatch{Description: ptr("Paris now"), Rules: &rules})
	want := directory.LocationProfile{Name: "Redmond", Description: "Paris now", Rules: rules}
	if err != nil || !cmp.Equal(l, want) {
		t.Errorf("SetLocationProfile = %+v, %v; want %+v", l, err, want)
	}
	if got, err := e.svc.LocationProfile(ctx, "Redmond"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("LocationProfile = %+v, %v; want %+v", got, err, want)
	}
	if all, _ := e.svc.LocationProfiles(ctx); len(all) != 2 {
		t.Errorf("LocationProfiles = %+v; want 2", all)
	}
}

func TestNormalizeNumber(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddLocationProfile(ctx, redmondProfile()); err != nil {
		t.Fatal(err)
	}
	rules := redmondProfile().Rules
	tests := []struct {
		dialled string
		want    Normalized
	}{
		{"0100", Normalized{Dialled: "0100", Number: "+14255550100", Matched: true, Rule: &rules[0], RuleIndex: 1}},
		{"9 425 555 0100", Normalized{Dialled: "9 425 555 0100", Number: "+14255550100", Matched: true, Rule: &rules[1], RuleIndex: 2}},
		{"(425) 555-0100", Normalized{Dialled: "(425) 555-0100", Number: "+14255550100", Matched: true, Rule: &rules[2], RuleIndex: 3}},
		{"+44 20 7946 0000", Normalized{Dialled: "+44 20 7946 0000", Number: "+442079460000", Matched: true, Rule: &rules[3], RuleIndex: 4}},
		{"123", Normalized{Dialled: "123", Number: "123"}},
	}
	for _, tt := range tests {
		got, err := e.svc.NormalizeNumber(ctx, "Redmond", tt.dialled)
		if err != nil {
			t.Fatalf("NormalizeNumber(%q): %v", tt.dialled, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("NormalizeNumber(%q) (-want +got):\n%s", tt.dialled, diff)
		}
	}
	if _, err := e.svc.NormalizeNumber(ctx, "Paris", "0100"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("NormalizeNumber(unknown profile) error = %v; want ErrNotFound", err)
	}
	_, err := e.svc.NormalizeNumber(ctx, "Redmond", " ")
	wantValidation(t, err, "number", "empty")
}

func TestRegions(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddLocationProfile(ctx, redmondProfile()); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.AddRegion(ctx, directory.Region{Name: " US West ", LocationProfile: "Redmond"})
	if err != nil || r != (directory.Region{Name: "US West", LocationProfile: "Redmond"}) {
		t.Fatalf("AddRegion = %+v, %v", r, err)
	}
	before := e.snapshot(t)
	if _, err := e.svc.AddRegion(ctx, directory.Region{Name: "US West", LocationProfile: "Default"}); !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddRegion(duplicate) error = %v; want ErrExists", err)
	}
	_, err = e.svc.AddRegion(ctx, directory.Region{Name: "EU", LocationProfile: "Paris"})
	wantValidation(t, err, "location_profile", `location profiles: "Default", "Redmond"`)
	_, err = e.svc.SetRegion(ctx, "US West", RegionPatch{LocationProfile: ptr("Paris")})
	wantValidation(t, err, "location_profile", "does not exist")
	if err := e.svc.DeleteLocationProfile(ctx, "Redmond"); !errors.Is(err, directory.ErrInUse) ||
		err.Error() != `location profile Redmond is still used by 1 region` {
		t.Errorf("DeleteLocationProfile(in use) error = %v", err)
	}
	e.unchanged(t, before)

	r, err = e.svc.SetRegion(ctx, "US West", RegionPatch{LocationProfile: ptr("Default")})
	if err != nil || r.LocationProfile != "Default" {
		t.Errorf("SetRegion = %+v, %v", r, err)
	}
	if got, err := e.svc.Region(ctx, "US West"); err != nil || got != r {
		t.Errorf("Region = %+v, %v; want %+v", got, err, r)
	}
	if err := e.svc.DeleteRegion(ctx, "US West"); err != nil {
		t.Fatal(err)
	}
	if rs, err := e.svc.Regions(ctx); err != nil || len(rs) != 0 {
		t.Errorf("Regions = %+v, %v; want none", rs, err)
	}
}
