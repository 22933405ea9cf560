package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

func newPoolCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pool",
		Aliases: []string{"pools"},
		Short:   "Manage pools, their PSTN conferencing settings and servers",
	}
	cmd.AddCommand(newPoolListCmd(g), newPoolShowCmd(g), newPoolAddCmd(g), newPoolSetCmd(g), newPoolDeleteCmd(g),
		newPoolServersCmd(g), newPoolAddServerCmd(g), newPoolRemoveServerCmd(g), newPoolTrustedServicesCmd(g))
	return cmd
}

// poolFlags are the settings flags of pool add and set.
type poolFlags struct {
	minPIN, maxAttempts, expiryDays int
	webInternal, webExternal        string
}

func (p *poolFlags) register(f *pflag.FlagSet) {
	def := directory.DefaultPSTNSettings()
	f.IntVar(&p.minPIN, "min-pin-length", def.MinPINLength, "minimum PIN length (3 to 24)")
	f.IntVar(&p.maxAttempts, "max-pin-attempts", def.MaxPINAttempts, "wrong PINs before the PIN locks")
	f.IntVar(&p.expiryDays, "pin-expiry-days", def.PINExpiryDays, "days a PIN stays valid; 0 never expires")
	f.StringVar(&p.webInternal, "web-internal-url", "", "internal web URL for the pool's users (empty: the organization's)")
	f.StringVar(&p.webExternal, "web-external-url", "", "external web URL for the pool's users (empty: the organization's)")
}

func newPoolListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.Pools(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(ps, func(p *printer) {
				rows := make([][]string, len(ps))
				for i, pl := range ps {
					rows[i] = []string{pl.FQDN, pl.ID, itoa(pl.PSTN.MinPINLength), itoa(pl.PSTN.MaxPINAttempts),
						expiry(pl.PSTN.PINExpiryDays), orDash(pl.WebInternalURL), orDash(pl.WebExternalURL)}
				}
				p.table([]string{"FQDN", "ID", "MIN PIN", "MAX PIN ATTEMPTS", "PIN EXPIRY", "WEB INTERNAL", "WEB EXTERNAL"}, rows)
			})
		},
	}
}

func expiry(days int) string {
	if days == 0 {
		return "never"
	}
	return itoa(days) + " days"
}

func newPoolShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show FQDN",
		Short: "Show a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			pl, err := c.Pool(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(pl, func(p *printer) { showPool(p, pl) })
		},
	}
}

func showPool(p *printer, pl directory.Pool) {
	p.fields([]field{
		{"FQDN", pl.FQDN},
		{"Pool ID", pl.ID},
		{"Minimum PIN length", itoa(pl.PSTN.MinPINLength)},
		{"Max PIN attempts", itoa(pl.PSTN.MaxPINAttempts)},
		{"PIN expiry", expiry(pl.PSTN.PINExpiryDays)},
		{"Web internal URL", orDash(pl.WebInternalURL)},
		{"Web external URL", orDash(pl.WebExternalURL)},
	})
}

func newPoolAddCmd(g *globals) *cobra.Command {
	var pf poolFlags
	var id string
	cmd := &cobra.Command{
		Use:   "add FQDN --id N",
		Short: "Add a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			pl, err := c.AddPool(cmd.Context(), directory.Pool{
				FQDN: args[0], ID: id, WebInternalURL: pf.webInternal, WebExternalURL: pf.webExternal,
				PSTN: directory.PSTNSettings{MinPINLength: pf.minPIN, MaxPINAttempts: pf.maxAttempts, PINExpiryDays: pf.expiryDays},
			})
			if err != nil {
				return err
			}
			return g.emit(pl, func(p *printer) {
				p.printf("Added pool %s.\n", pl.FQDN)
				showPool(p, pl)
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "numeric pool ID, 2 to 6 digits, that prefixes conference IDs (required)")
	_ = cmd.MarkFlagRequired("id")
	pf.register(cmd.Flags())
	return cmd
}

func newPoolSetCmd(g *globals) *cobra.Command {
	var pf poolFlags
	cmd := &cobra.Command{
		Use:   "set FQDN [--min-pin-length N] [--max-pin-attempts N] [--pin-expiry-days N] [--web-internal-url U] [--web-external-url U]",
		Short: "Change a pool's PSTN conferencing settings or web URLs; only the flags given change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var patch admin.PoolPatch
			f := cmd.Flags()
			for name, dst := range map[string]**int{
				"min-pin-length": &patch.MinPINLength, "max-pin-attempts": &patch.MaxPINAttempts, "pin-expiry-days": &patch.PINExpiryDays,
			} {
				if f.Changed(name) {
					v, _ := f.GetInt(name)
					*dst = &v
				}
			}
			for name, dst := range map[string]**string{
				"web-internal-url": &patch.WebInternalURL, "web-external-url": &patch.WebExternalURL,
			} {
				if f.Changed(name) {
					v, _ := f.GetString(name)
					*dst = &v
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			pool, err := c.SetPool(cmd.Context(), args[0], patch)
			if err != nil {
				return err
			}
			return g.emit(pool, func(p *printer) {
				p.printf("Updated pool %s.\n", pool.FQDN)
				showPool(p, pool)
			})
		},
	}
	pf.register(cmd.Flags())
	return cmd
}

func newPoolDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete FQDN",
		Short: "Delete a pool that has no users, servers or access numbers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeletePool(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted pool %s.", args[0])
		},
	}
}

func newPoolServersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "servers [POOL]",
		Short: "List front-end servers, of every pool or of one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			all, err := c.Servers(cmd.Context())
			if err != nil {
				return err
			}
			ss := []directory.Server{}
			for _, s := range all {
				if len(args) == 0 || strings.EqualFold(s.Pool, args[0]) {
					ss = append(ss, s)
				}
			}
			return g.emit(ss, func(p *printer) {
				rows := make([][]string, len(ss))
				for i, s := range ss {
					rows[i] = []string{s.FQDN, s.Pool}
				}
				p.table([]string{"FQDN", "POOL"}, rows)
			})
		},
	}
}

func newPoolAddServerCmd(g *globals) *cobra.Command {
	var pool string
	cmd := &cobra.Command{
		Use:   "add-server FQDN --pool POOL",
		Short: "Add a front-end server to a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			s, err := c.AddServer(cmd.Context(), directory.Server{FQDN: args[0], Pool: pool})
			if err != nil {
				return err
			}
			return g.confirm(s, "Added server %s to pool %s.", s.FQDN, s.Pool)
		},
	}
	cmd.Flags().StringVar(&pool, "pool", "", "pool FQDN (required)")
	_ = cmd.MarkFlagRequired("pool")
	return cmd
}

func newPoolRemoveServerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-server FQDN",
		Short: "Remove a front-end server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteServer(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Removed server %s.", args[0])
		},
	}
}

func newPoolTrustedServicesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trusted-services",
		Short: "List trusted services (Conferencing Attendant and Announcement Service)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ts, err := c.TrustedServices(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(ts, func(p *printer) {
				rows := make([][]string, len(ts))
				for i, t := range ts {
					rows[i] = []string{t.FQDN, t.Type, itoa(t.Port)}
				}
				p.table([]string{"FQDN", "TYPE", "PORT"}, rows)
			})
		},
	}
}
