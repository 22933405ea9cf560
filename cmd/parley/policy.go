package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policy",
		Aliases: []string{"policies"},
		Short:   "Manage meeting policies",
	}
	cmd.AddCommand(newPolicyAddCmd(g), newPolicySetCmd(g), newPolicyListCmd(g), newPolicyShowCmd(g),
		newPolicyDeleteCmd(g))
	return cmd
}

// policyFlags are the settings flags of policy add and set.
type policyFlags struct {
	dialIn, passcode, anonymous bool
	maxSize                     int
}

func (p *policyFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&p.dialIn, "pstn-dial-in", false, "allow PSTN dial-in to the user's meetings")
	f.BoolVar(&p.passcode, "passcode-required", false, "anonymous dial-in callers need the meeting passcode")
	f.IntVar(&p.maxSize, "max-size", admin.DefaultMaxMeetingSize, "maximum number of participants in a meeting")
	f.BoolVar(&p.anonymous, "anonymous", false, "allow anonymous participants")
}

func newPolicyAddCmd(g *globals) *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "add NAME [--pstn-dial-in] [--passcode-required] [--max-size N] [--anonymous]",
		Short: "Add a meeting policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			mp, err := c.AddMeetingPolicy(cmd.Context(), directory.MeetingPolicy{
				Name: args[0], PSTNDialIn: pf.dialIn, PasscodeRequired: pf.passcode,
				MaxMeetingSize: pf.maxSize, AnonymousAllowed: pf.anonymous,
			})
			if err != nil {
				return err
			}
			return g.emit(mp, func(p *printer) {
				p.printf("Added meeting policy %q.\n", mp.Name)
				showPolicy(p, mp)
			})
		},
	}
	pf.register(cmd.Flags())
	return cmd
}

func newPolicySetCmd(g *globals) *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "set NAME [--pstn-dial-in=BOOL] [--passcode-required=BOOL] [--max-size N] [--anonymous=BOOL]",
		Short: "Change a meeting policy; only the flags given change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var patch admin.MeetingPolicyPatch
			f := cmd.Flags()
			if f.Changed("pstn-dial-in") {
				patch.PSTNDialIn = &pf.dialIn
			}
			if f.Changed("passcode-required") {
				patch.PasscodeRequired = &pf.passcode
			}
			if f.Changed("max-size") {
				patch.MaxMeetingSize = &pf.maxSize
			}
			if f.Changed("anonymous") {
				patch.AnonymousAllowed = &pf.anonymous
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			mp, err := c.SetMeetingPolicy(cmd.Context(), args[0], patch)
			if err != nil {
				return err
			}
			return g.emit(mp, func(p *printer) {
				p.printf("Updated meeting policy %q.\n", mp.Name)
				showPolicy(p, mp)
			})
		},
	}
	pf.register(cmd.Flags())
	return cmd
}

func newPolicyListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List meeting policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.MeetingPolicies(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(ps, func(p *printer) {
				rows := make([][]string, len(ps))
				for i, mp := range ps {
					rows[i] = []string{mp.Name, yesNo(mp.PSTNDialIn), yesNo(mp.PasscodeRequired), itoa(mp.MaxMeetingSize),
						yesNo(mp.AnonymousAllowed)}
				}
				p.table([]string{"NAME", "PSTN DIAL-IN", "PASSCODE REQUIRED", "MAX SIZE", "ANONYMOUS"}, rows)
			})
		},
	}
}

func newPolicyShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a meeting policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			mp, err := c.MeetingPolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(mp, func(p *printer) { showPolicy(p, mp) })
		},
	}
}

func showPolicy(p *printer, mp directory.MeetingPolicy) {
	p.fields([]field{
		{"Name", mp.Name},
		{"PSTN dial-in", yesNo(mp.PSTNDialIn)},
		{"Passcode required", yesNo(mp.PasscodeRequired)},
		{"Max meeting size", itoa(mp.MaxMeetingSize)},
		{"Anonymous allowed", yesNo(mp.AnonymousAllowed)},
	})
}

func newPolicyDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a meeting policy that no user has",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteMeetingPolicy(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted meeting policy %q.", args[0])
		},
	}
}
