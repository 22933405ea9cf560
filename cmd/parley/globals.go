package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/adminapi"
)

// globals are the settings every subcommand shares: the persistent flags
// and where output goes.
type globals struct {
	// dataDir is the server's data directory (--data); the admin commands
	// find the running server through its run.json and admin.token.
	dataDir string
	// json selects JSON output instead of tables (--json).
	json bool
	// out and errOut are the command's standard output and error, set
	// from cobra before any command runs so that tests can capture them.
	out, errOut io.Writer
}

// defaultDataDir is --data's default.
const defaultDataDir = "./data"

// newRootCmd builds the parley command tree with its persistent flags.
func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "parley",
		Short: "Parley: an OCS 2007 R2-style conferencing server",
		Long: `Parley runs a Standard Edition conferencing front end (parley serve) and
administers it: users, access numbers, location profiles, regions, meeting
policies, pools and the organization. The admin commands talk to the server
running for --data DIR through its admin API; parley meeting schedules
meetings as an organizer's SIP client of that server's Focus Factory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.out, g.errOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
		},
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data", defaultDataDir, "data directory of the server")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print JSON instead of tables")
	root.AddCommand(
		newServeCmd(g),
		newUserCmd(g), newAccessNumberCmd(g), newLocationProfileCmd(g), newRegionCmd(g),
		newPolicyCmd(g), newPoolCmd(g), newOrgCmd(g), newMeetingCmd(g),
	)
	explainErrors(root, g)
	return root
}

// explainErrors wraps the RunE of every command below root so that the
// two client failures an administrator can fix get a message that says
// how: no server running, or a token that is not the server's.
func explainErrors(root *cobra.Command, g *globals) {
	for _, c := range root.Commands() {
		explainErrors(c, g)
		if c.RunE == nil {
			continue
		}
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return g.explain(run(cmd, args))
		}
	}
}

func (g *globals) explain(err error) error {
	switch {
	case errors.Is(err, adminapi.ErrUnreachable):
		return g.notRunning()
	case errors.Is(err, adminapi.ErrUnauthorized):
		return fmt.Errorf("the server refused the admin token in %s; was the file replaced while the server runs?",
			filepath.Join(g.dataDir, tokenFile))
	}
	return err
}

// notRunning is the error for a data directory whose server cannot be
// reached.
func (g *globals) notRunning() error {
	return fmt.Errorf("no Parley server is running for data directory %s (start it with: parley serve --data %s)",
		g.dataDir, g.dataDir)
}
