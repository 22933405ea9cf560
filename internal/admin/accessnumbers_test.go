package admin

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleyhq/parley/internal/directory"
)

var caaURI = regexp.MustCompile(`^sip:caa-[0-9a-f]{8}@example\.com$`)

func TestAddAccessNumber(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddRegion(ctx, directory.Region{Name: "US West", LocationProfile: "Default"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.AddAccessNumber(ctx, AddAccessNumber{
		Number: "+14255550100", Region: "US West", Languages: []string{"en-US", "es-US"}, DisplayName: "Redmond",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := AddedAccessNumber{AccessNumber: directory.AccessNumber{
		LineURI: "tel:+14255550100", DisplayName: "Redmond", Pool: "pool.example.com", Region: "US West",
		PrimaryLanguage: "en-US", SecondaryLanguages: []string{"es-US"},
	}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(directory.AccessNumber{}, "URI")); diff != "" {
		t.Errorf("AddAccessNumber (-want +got):\n%s", diff)
	}
	if !caaURI.MatchString(got.URI) {
		t.Errorf("URI = %q; want sip:caa-<8 hex>@example.com", got.URI)
	}
	if a, err := e.svc.AccessNumber(ctx, "tel:+14255550100"); err != nil || !cmp.Equal(a, got.AccessNumber) {
		t.Errorf("AccessNumber = %+v, %v; want %+v", a, err, got.AccessNumber)
	}

	// A region that does not exist is made over the Default profile.
	got, err = e.svc.AddAccessNumber(ctx, AddAccessNumber{Number: "tel:+442079460000", Region: "London"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.RegionCreated || got.RegionProfile != "Default" || got.PrimaryLanguage != "en-US" || got.SecondaryLanguages != nil {
		t.Errorf("AddAccessNumber(new region) = %+v", got)
	}
	if r, err := e.svc.Region(ctx, "London"); err != nil || r.LocationProfile != "Default" {
		t.Errorf("Region(London) = %+v, %v", r, err)
	}
	if all, _ := e.svc.AccessNumbers(ctx); len(all) != 2 || all[0].URI == all[1].URI {
		t.Errorf("AccessNumbers = %+v; want two with distinct URIs", all)
	}

	if err := e.svc.DeleteRegion(ctx, "London"); !errors.Is(err, directory.ErrInUse) {
		t.Errorf("DeleteRegion(in use) error = %v; want ErrInUse", err)
	}
	if err := e.svc.DeleteAccessNumber(ctx, "+442079460000"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteAccessNumber(ctx, "+442079460000"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("DeleteAccessNumber(deleted) error = %v; want ErrNotFound", err)
	}
}

func TestAddAccessNumberRejects(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	if _, err := e.svc.AddAccessNumber(ctx, AddAccessNumber{Number: "+14255550100", Region: "US West"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUser(ctx, AddUser{URI: "sip:a@example.com", Password: "password1", LineURI: "tel:+14255551001"}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	ok := AddAccessNumber{Number: "+14255550101", Region: "US West"}
	tests := []struct {
		name   string
		change func(*AddAccessNumber)
		field  string
		msg    string
	}{
		{"not E.164", func(a *AddAccessNumber) { a.Number = "4255550101" }, "number", "E.164"},
		{"leading zero", func(a *AddAccessNumber) { a.Number = "+04255550101" }, "number", "E.164"},
		{"no region", func(a *AddAccessNumber) { a.Region = " " }, "region", "required"},
		{"bad region", func(a *AddAccessNumber) { a.Region = "/x" }, "region", "letters"},
		{"bad language", func(a *AddAccessNumber) { a.Languages = []string{"english"} }, "primary_language", "language tag"},
		{"bad secondary", func(a *AddAccessNumber) { a.Languages = []string{"en-US", "es_US"} }, "secondary_languages", "language tag"},
		{"repeated", func(a *AddAccessNumber) { a.Languages = []string{"en-US", "en-US"} }, "secondary_languages", "twice"},
		{"six languages", func(a *AddAccessNumber) {
			a.Languages = []string{"en-US", "es-US", "fr-FR", "de-DE", "ja-JP", "it-IT"}
		}, "languages", "at most 5"},
		{"unknown pool", func(a *AddAccessNumber) { a.Pool = "x.example.com" }, "pool", "does not exist"},
		{"user's number", func(a *AddAccessNumber) { a.Number = "+14255551001" }, "number", "line URI of a user"},
		{"new region, unknown profile", func(a *AddAccessNumber) {
			a.Region, a.LocationProfile = "EU", "Paris"
		}, "region", `region "EU" does not exist (regions: "US West") and cannot be created: location profile "Paris" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.change(&in)
			_, err := e.svc.AddAccessNumber(ctx, in)
			wantValidation(t, err, tt.field, tt.msg)
			e.unchanged(t, before)
		})
	}
	_, err := e.svc.AddAccessNumber(ctx, AddAccessNumber{Number: "+14255550100", Region: "Elsewhere"})
	if !errors.Is(err, directory.ErrExists) || !strings.Contains(err.Error(), `region "US West"`) {
		t.Errorf("AddAccessNumber(duplicate) error = %v; want ErrExists naming its region", err)
	}
	e.unchanged(t, before)
}

// TestAddAccessNumbersConcurrently adds numbers to one new region from many
// goroutines: the region is created once and every number lands in it.
func TestAddAccessNumbersConcurrently(t *testing.T) {
	e := bootstrapped(t)
	ctx := t.Context()
	const n = 8
	created := make(chan bool, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			a, err := e.svc.AddAccessNumber(ctx, AddAccessNumber{Number: "+1425555020" + string(rune('0'+i)), Region: "Seattle"})
			errs <- err
			created <- a.RegionCreated
		}()
	}
	made := 0
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		if <-created {
			made++
		}
	}
	if made != 1 {
		t.Errorf("the region was created %d times; want once", made)
	}
	if all, _ := e.svc.AccessNumbers(ctx); len(all) != n {
		t.Errorf("%d access numbers; want %d", len(all), n)
	}
}
