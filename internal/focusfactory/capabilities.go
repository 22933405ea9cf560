package focusfactory

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
)

// capabilities answers getConferencingCapabilities ([MS-CONFPRO] §2.2.3.8;
// seed 001, "Meeting Set-up", steps 1-2): the MCU types, and when the
// organizer's meeting policy allows dial-in, every access number grouped by
// region with its languages, the organizer's default region (the region of
// his location profile), the key to seal a passcode to, and whether his
// anonymous meetings need one.
func (f *Factory) capabilities(ctx context.Context, o organizer) (c3p.Command, *failure) {
	out := &c3p.GetConferencingCapabilities{
		CapabilityVersion: new(uint64),
		MCUTypes:          mcuTypes(),
	}
	if !o.policy.PSTNDialIn {
		return out, nil
	}
	regions, err := f.dir.Regions(ctx)
	if err != nil {
		f.log.ErrorContext(ctx, "listing regions", "err", err)
		return nil, refuse(reasonOther, 0, "directory unavailable")
	}
	numbers, err := f.dir.AccessNumbers(ctx)
	if err != nil {
		f.log.ErrorContext(ctx, "listing access numbers", "err", err)
		return nil, refuse(reasonOther, 0, "directory unavailable")
	}
	out.PSTNBridging = &c3p.PSTNBridging{AccessNumbers: accessNumbers(regions, numbers, o.user.LocationProfile)}
	out.PasscodeKey = &c3p.PublicKey{Alg: c3p.PasscodeAlgorithm, Key: f.pubKey}
	required := o.policy.PasscodeRequired
	out.PasscodeRequired = &required
	minLen := uint64(o.pool.PSTN.MinPINLength)
	out.PasscodeMinLength = &minLen
	return out, nil
}

// accessNumbers groups the access numbers by region, regions by name and
// numbers by line URI so that answers are stable, and leaves out regions
// without numbers. The default region is the first region of the
// organizer's location profile (seed 001: "The user's location profile
// region determines the access numbers for the conference").
func accessNumbers(regions []directory.Region, numbers []directory.AccessNumber, profile string) *c3p.AccessNumbers {
	byRegion := make(map[string][]directory.AccessNumber)
	for _, n := range numbers {
		byRegion[n.Region] = append(byRegion[n.Region], n)
	}
	slices.SortFunc(regions, func(a, b directory.Region) int { return cmp.Compare(a.Name, b.Name) })
	out := &c3p.AccessNumbers{Regions: []c3p.Region{}}
	for _, r := range regions {
		ns := byRegion[r.Name]
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b directory.AccessNumber) int { return cmp.Compare(a.LineURI, b.LineURI) })
		reg := c3p.Region{Name: r.Name}
		for _, n := range ns {
			langs := append([]string{n.PrimaryLanguage}, n.SecondaryLanguages...)
			reg.Numbers = append(reg.Numbers, c3p.AccessNumber{Number: displayNumber(n.LineURI), Languages: langs})
		}
		out.Regions = append(out.Regions, reg)
		if out.DefaultRegion == "" && profile != "" && r.LocationProfile == profile {
			out.DefaultRegion = r.Name
		}
	}
	return out
}

// displayNumber is the dialable form of an access number's line URI:
// tel:+14255550100 becomes +14255550100.
func displayNumber(lineURI string) string {
	if len(lineURI) > 4 && strings.EqualFold(lineURI[:4], "tel:") {
		return lineURI[4:]
	}
	return lineURI
}
