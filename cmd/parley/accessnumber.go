package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

func newAccessNumberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "access-number",
		Aliases: []string{"access-numbers"},
		Short:   "Manage dial-in conferencing access numbers",
	}
	cmd.AddCommand(newAccessNumberAddCmd(g), newAccessNumberListCmd(g), newAccessNumberShowCmd(g),
		newAccessNumberDeleteCmd(g))
	return cmd
}

func newAccessNumberAddCmd(g *globals) *cobra.Command {
	var in admin.AddAccessNumber
	cmd := &cobra.Command{
		Use:   "add +E164 --region NAME [--language en-US ...]",
		Short: "Add an access number",
		Long: `Add a dial-in access number: a Conferencing Attendant contact object with its
own SIP URI. The first --language is the primary prompt language, up to four
more are offered as alternatives (default: en-US). When the region does not
exist it is created with the location profile given by --location-profile
(default: Default), and the command says so.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Number = args[0]
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.AddAccessNumber(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.emit(a, func(p *printer) {
				if a.RegionCreated {
					p.printf("Region %q did not exist; created it with location profile %q.\n",
						a.Region, a.RegionProfile)
				}
				p.printf("Added access number %s.\n", a.LineURI)
				showAccessNumber(p, a.AccessNumber)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Region, "region", "", "region of the number (required)")
	f.StringSliceVar(&in.Languages, "language", nil, "prompt language; repeat for more, primary first")
	f.StringVar(&in.DisplayName, "display-name", "", "name shown next to the number")
	f.StringVar(&in.Pool, "pool", "", "pool whose attendant answers (default: the only pool)")
	f.StringVar(&in.LocationProfile, "location-profile", "", "location profile of a region created on the fly (default: Default)")
	_ = cmd.MarkFlagRequired("region")
	return cmd
}

func newAccessNumberListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List access numbers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			as, err := c.AccessNumbers(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(as, func(p *printer) {
				rows := make([][]string, len(as))
				for i, a := range as {
					rows[i] = []string{strings.TrimPrefix(a.LineURI, "tel:"), a.Region, languages(a),
						a.Pool, orDash(a.DisplayName), a.URI}
				}
				p.table([]string{"NUMBER", "REGION", "LANGUAGES", "POOL", "DISPLAY NAME", "URI"}, rows)
			})
		},
	}
}

// languages lists the primary language and then the others.
func languages(a directory.AccessNumber) string {
	return strings.Join(append([]string{a.PrimaryLanguage}, a.SecondaryLanguages...), ",")
}

func newAccessNumberShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show +E164",
		Short: "Show an access number",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.AccessNumber(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(a, func(p *printer) { showAccessNumber(p, a) })
		},
	}
}

func showAccessNumber(p *printer, a directory.AccessNumber) {
	p.fields([]field{
		{"Number", a.LineURI},
		{"Display name", orDash(a.DisplayName)},
		{"Region", a.Region},
		{"Pool", a.Pool},
		{"Primary language", a.PrimaryLanguage},
		{"Other languages", orDash(strings.Join(a.SecondaryLanguages, ", "))},
		{"SIP URI", a.URI},
	})
}

func newAccessNumberDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete +E164",
		Short: "Delete an access number",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteAccessNumber(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted access number %s.", args[0])
		},
	}
}
