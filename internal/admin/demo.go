package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

// ErrDemoExists reports that SeedDemo found the demo organization already
// seeded; the Demo returned with it has no passwords or PINs, which were
// shown only when they were made.
var ErrDemoExists = errors.New("admin: the demo organization was seeded before")

// DemoBootstrap is the deployment `parley serve --demo` bootstraps, and the
// one SeedDemo bootstraps when it finds no organization.
var DemoBootstrap = BootstrapConfig{
	OrgName: "Parley Demo", Domain: "parley.test", PoolFQDN: "pool.parley.test", PoolID: DefaultPoolID,
}

// Demo describes the seeded sample organization.
type Demo struct {
	Domain       string     `json:"domain"`
	Users        []DemoUser `json:"users"`
	AccessNumber string     `json:"access_number"`
	Region       string     `json:"region"`
}

// DemoUser is a demo user with the secrets that were generated for it.
// Password and PIN are empty when the demo was seeded before.
type DemoUser struct {
	URI         string `json:"uri"`
	DisplayName string `json:"display_name"`
	Extension   string `json:"extension"`
	LineURI     string `json:"line_uri"`
	Password    string `json:"password,omitempty"`
	PIN         string `json:"pin,omitempty"`
}

// redmondProfile is the demo's location profile: a four-digit extension
// is a Redmond number, 9 takes an outside line, 1 is the optional trunk
// prefix of ten-digit North American numbers, and E.164 passes through.
func redmondProfile() directory.LocationProfile {
	return directory.LocationProfile{
		Name:        "Redmond",
		Description: "Demo: Redmond, WA dialling habits",
		Rules: []dialplan.Rule{
			{Pattern: `(\d{4})`, Translation: "+1425555$1", Description: "four-digit extension"},
			{Pattern: `9(\d{10})`, Translation: "+1$1", Description: "outside line"},
			{Pattern: `1?(\d{10})`, Translation: "+1$1", Description: "national number"},
			{Pattern: `\+(\d+)`, Translation: "+$1", Description: "E.164"},
		},
	}
}

// Demo object names and numbers.
const (
	demoRegion       = "US West"
	demoAccessNumber = "+14255550100"
	// demoPasswordAlphabet leaves out look-alike characters (0/O, 1/l/I)
	// because the passwords are read off a terminal and typed.
	demoPasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	demoPasswordLen      = 12
	demoPINMinLen        = 6
)

// SeedDemo seeds the sample organization of `parley serve --demo`: users
// alice and bob with Enterprise Voice, generated passwords and PINs, the
// "Redmond" location profile, the "US West" region and one access number
// with English and Spanish prompts. Users go in the organization's primary
// domain; when there is no organization yet, DemoBootstrap creates it.
//
// alice is created last and marks a finished seed: when she exists SeedDemo
// changes nothing and returns ErrDemoExists, so that a restart does not
// reset passwords somebody is using.
func (s *Service) SeedDemo(ctx context.Context) (Demo, error) {
	if _, err := s.organization(ctx); err != nil {
		var ve *directory.ValidationError
		if !errors.As(err, &ve) {
			return Demo{}, err
		}
		if err := s.Bootstrap(ctx, DemoBootstrap); err != nil {
			return Demo{}, fmt.Errorf("admin: demo: %w", err)
		}
	}
	org, err := s.organization(ctx)
	if err != nil {
		return Demo{}, err
	}
	domain := org.PrimaryDomain()
	demo := Demo{
		Domain: domain, AccessNumber: demoAccessNumber, Region: demoRegion,
		Users: []DemoUser{
			{URI: "sip:alice@" + domain, DisplayName: "Alice Anderson", Extension: "1001", LineURI: "tel:+14255551001"},
			{URI: "sip:bob@" + domain, DisplayName: "Bob Brown", Extension: "1002", LineURI: "tel:+14255551002"},
		},
	}
	alice := demo.Users[0].URI
	switch _, err := s.store.User(ctx, alice); {
	case err == nil:
		return demo, ErrDemoExists
	case !errors.Is(err, directory.ErrNotFound):
		return Demo{}, storeErr(err, "read", "user "+alice)
	}

	pool, err := s.resolvePool(ctx, "")
	if err != nil {
		return Demo{}, err
	}
	if err := s.seedDialPlan(ctx); err != nil {
		return Demo{}, err
	}
	if _, err := s.AccessNumber(ctx, demoAccessNumber); errors.Is(err, directory.ErrNotFound) {
		if _, err := s.AddAccessNumber(ctx, AddAccessNumber{
			Number: demoAccessNumber, Region: demoRegion, Languages: []string{"en-US", "es-US"},
			DisplayName: "Redmond dial-in",
		}); err != nil {
			return Demo{}, fmt.Errorf("admin: demo: %w", err)
		}
	} else if err != nil {
		return Demo{}, err
	}

	ev := true
	for i := len(demo.Users) - 1; i >= 0; i-- { // alice, the marker, last
		du := &demo.Users[i]
		du.Password = randomString(demoPasswordAlphabet, demoPasswordLen)
		du.PIN = randomPIN(max(pool.PSTN.MinPINLength, demoPINMinLen), pool.PSTN)
		_, err := s.AddUser(ctx, AddUser{
			URI: du.URI, Password: du.Password, DisplayName: du.DisplayName, Extension: du.Extension,
			LineURI: du.LineURI, PIN: du.PIN, LocationProfile: "Redmond", EnterpriseVoice: &ev,
		})
		if errors.Is(err, directory.ErrExists) {
			// Left by a seed that stopped before alice: nobody was
			// told this user's secrets, so new ones are safe to set.
			err = s.SetPassword(ctx, du.URI, du.Password)
			if err == nil {
				_, err = s.SetPIN(ctx, du.URI, du.PIN)
			}
		}
		if err != nil {
			return Demo{}, fmt.Errorf("admin: demo user %s: %w", du.URI, err)
		}
	}
	s.log.InfoContext(ctx, "demo organization seeded", "domain", domain)
	return demo, nil
}

// seedDialPlan creates the demo's location profile and region when absent.
func (s *Service) seedDialPlan(ctx context.Context) error {
	if _, err := s.LocationProfile(ctx, "Redmond"); errors.Is(err, directory.ErrNotFound) {
		if _, err := s.AddLocationProfile(ctx, redmondProfile()); err != nil {
			return fmt.Errorf("admin: demo: %w", err)
		}
	} else if err != nil {
		return err
	}
	if _, err := s.Region(ctx, demoRegion); errors.Is(err, directory.ErrNotFound) {
		if _, err := s.AddRegion(ctx, directory.Region{Name: demoRegion, LocationProfile: "Redmond"}); err != nil {
			return fmt.Errorf("admin: demo: %w", err)
		}
	} else if err != nil {
		return err
	}
	return nil
}

// randomPIN returns a random PIN of n digits that ValidatePIN accepts.
func randomPIN(n int, settings directory.PSTNSettings) string {
	for {
		pin := randomString("0123456789", n)
		if directory.ValidatePIN(pin, settings) == nil {
			return pin
		}
	}
}
