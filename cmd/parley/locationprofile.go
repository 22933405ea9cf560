package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/dialplan"
	"github.com/parleyhq/parley/internal/directory"
)

func newLocationProfileCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "location-profile",
		Aliases: []string{"location-profiles"},
		Short:   "Manage location profiles (normalization rules)",
	}
	cmd.AddCommand(newLocationProfileAddCmd(g), newLocationProfileSetCmd(g), newLocationProfileListCmd(g),
		newLocationProfileShowCmd(g), newLocationProfileDeleteCmd(g), newLocationProfileTestCmd(g))
	return cmd
}

// parseRules splits each 'PATTERN=>TRANSLATION' argument. The regular
// expressions are checked by the server, which reports a bad one with its
// rule and the compiler's message.
func parseRules(specs []string) ([]dialplan.Rule, error) {
	rules := make([]dialplan.Rule, 0, len(specs))
	for i, s := range specs {
		pat, tr, ok := strings.Cut(s, "=>")
		if !ok {
			return nil, fmt.Errorf("rule %d %q: want PATTERN=>TRANSLATION", i+1, s)
		}
		rules = append(rules, dialplan.Rule{Pattern: strings.TrimSpace(pat), Translation: strings.TrimSpace(tr)})
	}
	return rules, nil
}

const ruleHelp = "normalization rule 'PATTERN=>TRANSLATION', e.g. '(\\d{4})=>+1425555$1'; repeat, in order"

func newLocationProfileAddCmd(g *globals) *cobra.Command {
	var specs []string
	var desc string
	cmd := &cobra.Command{
		Use:   "add NAME --rule 'PATTERN=>TRANSLATION' ...",
		Short: "Add a location profile",
		Long: `Add a location profile: normalization rules tried in order, the first whose
pattern matches the whole dialled number wins. Patterns are RE2 regular
expressions; translations refer to the pattern's groups as $1, $2 ...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := parseRules(specs)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.AddLocationProfile(cmd.Context(), directory.LocationProfile{Name: args[0], Description: desc, Rules: rules})
			if err != nil {
				return err
			}
			return g.emit(l, func(p *printer) {
				p.printf("Added location profile %q.\n", l.Name)
				showProfile(p, l)
			})
		},
	}
	cmd.Flags().StringArrayVar(&specs, "rule", nil, ruleHelp)
	cmd.Flags().StringVar(&desc, "description", "", "description")
	return cmd
}

func newLocationProfileSetCmd(g *globals) *cobra.Command {
	var specs []string
	var desc string
	cmd := &cobra.Command{
		Use:   "set NAME [--rule 'PATTERN=>TRANSLATION' ...] [--description D]",
		Short: "Replace a location profile's rules or description",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p admin.LocationProfilePatch
			if cmd.Flags().Changed("rule") {
				rules, err := parseRules(specs)
				if err != nil {
					return err
				}
				p.Rules = &rules
			}
			if cmd.Flags().Changed("description") {
				p.Description = &desc
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.SetLocationProfile(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			return g.emit(l, func(p *printer) {
				p.printf("Updated location profile %q.\n", l.Name)
				showProfile(p, l)
			})
		},
	}
	cmd.Flags().StringArrayVar(&specs, "rule", nil, ruleHelp+"; replaces all rules")
	cmd.Flags().StringVar(&desc, "description", "", "description")
	return cmd
}

func newLocationProfileListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List location profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ls, err := c.LocationProfiles(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(ls, func(p *printer) {
				rows := make([][]string, len(ls))
				for i, l := range ls {
					rows[i] = []string{l.Name, itoa(len(l.Rules)), orDash(l.Description)}
				}
				p.table([]string{"NAME", "RULES", "DESCRIPTION"}, rows)
			})
		},
	}
}

func newLocationProfileShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a location profile and its rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.LocationProfile(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(l, func(p *printer) { showProfile(p, l) })
		},
	}
}

func showProfile(p *printer, l directory.LocationProfile) {
	p.fields([]field{{"Name", l.Name}, {"Description", orDash(l.Description)}})
	p.println()
	rows := make([][]string, len(l.Rules))
	for i, r := range l.Rules {
		rows[i] = []string{itoa(i + 1), r.Pattern, orDash(r.Translation), orDash(r.Description)}
	}
	p.table([]string{"#", "PATTERN", "TRANSLATION", "DESCRIPTION"}, rows)
}

func newLocationProfileDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a location profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteLocationProfile(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted location profile %q.", args[0])
		},
	}
}

func newLocationProfileTestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "test NAME NUMBER",
		Short: "Show what a location profile makes of a dialled number",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			n, err := c.NormalizeNumber(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return g.emit(n, func(p *printer) {
				if !n.Matched {
					p.printf("%s  (no rule matches; the number stays as dialled)\n", n.Number)
					return
				}
				p.printf("%s  (rule %d: %s)\n", n.Number, n.RuleIndex, n.Rule)
			})
		},
	}
}
