package main

import (
	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

func newRegionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "region",
		Aliases: []string{"regions"},
		Short:   "Manage regions (groups of access numbers sharing a location profile)",
	}
	cmd.AddCommand(newRegionAddCmd(g), newRegionSetCmd(g), newRegionListCmd(g), newRegionDeleteCmd(g))
	return cmd
}

func newRegionAddCmd(g *globals) *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "add NAME --location-profile P",
		Short: "Add a region",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.AddRegion(cmd.Context(), directory.Region{Name: args[0], LocationProfile: profile})
			if err != nil {
				return err
			}
			return g.confirm(r, "Added region %q with location profile %q.", r.Name, r.LocationProfile)
		},
	}
	cmd.Flags().StringVar(&profile, "location-profile", admin.DefaultProfileName, "location profile of the region")
	return cmd
}

func newRegionSetCmd(g *globals) *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "set NAME --location-profile P",
		Short: "Change a region's location profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p admin.RegionPatch
			if cmd.Flags().Changed("location-profile") {
				p.LocationProfile = &profile
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.SetRegion(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			return g.confirm(r, "Region %q now uses location profile %q.", r.Name, r.LocationProfile)
		},
	}
	cmd.Flags().StringVar(&profile, "location-profile", "", "location profile of the region")
	return cmd
}

func newRegionListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List regions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rs, err := c.Regions(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(rs, func(p *printer) {
				rows := make([][]string, len(rs))
				for i, r := range rs {
					rows[i] = []string{r.Name, r.LocationProfile}
				}
				p.table([]string{"NAME", "LOCATION PROFILE"}, rows)
			})
		},
	}
}

func newRegionDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a region that has no access numbers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteRegion(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted region %q.", args[0])
		},
	}
}
