package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

func newOrgCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "org",
		Aliases: []string{"organization"},
		Short:   "Show or change the organization",
	}
	cmd.AddCommand(newOrgShowCmd(g), newOrgSetCmd(g))
	return cmd
}

func newOrgShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the organization",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			o, err := c.Organization(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(o, func(p *printer) { showOrg(p, o) })
		},
	}
}

func showOrg(p *printer, o directory.Organization) {
	p.fields([]field{
		{"Name", o.Name},
		{"Primary domain", o.PrimaryDomain()},
		{"Domains", strings.Join(o.Domains, ", ")},
		{"Web internal URL", orDash(o.WebInternalURL)},
		{"Web external URL", orDash(o.WebExternalURL)},
	})
}

func newOrgSetCmd(g *globals) *cobra.Command {
	var name, webInternal, webExternal string
	var domains []string
	cmd := &cobra.Command{
		Use:   "set [--name N] [--domain D ...] [--web-internal-url U] [--web-external-url U]",
		Short: "Change the organization; only the flags given change",
		Long: `Change the organization. --domain, repeated, replaces the list of SIP domains;
the first is the primary domain, which is the digest realm of every password
and cannot change while users or access numbers exist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p admin.OrganizationPatch
			f := cmd.Flags()
			if f.Changed("name") {
				p.Name = &name
			}
			if f.Changed("domain") {
				p.Domains = domains
			}
			if f.Changed("web-internal-url") {
				p.WebInternalURL = &webInternal
			}
			if f.Changed("web-external-url") {
				p.WebExternalURL = &webExternal
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			o, err := c.SetOrganization(cmd.Context(), p)
			if err != nil {
				return err
			}
			return g.emit(o, func(p *printer) {
				p.println("Updated the organization.")
				showOrg(p, o)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "organization name")
	f.StringArrayVar(&domains, "domain", nil, "SIP domain; repeat for more, primary first")
	f.StringVar(&webInternal, "web-internal-url", "", "internal web URL handed to clients")
	f.StringVar(&webExternal, "web-external-url", "", "external web URL handed to clients")
	return cmd
}
