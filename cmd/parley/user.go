package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/admin"
)

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage users",
	}
	cmd.AddCommand(newUserAddCmd(g), newUserListCmd(g), newUserShowCmd(g), newUserSetPINCmd(g),
		newUserSetPasswordCmd(g), newUserUnlockPINCmd(g), newUserResetConferenceIDCmd(g), newUserSetCmd(g), newUserDeleteCmd(g))
	return cmd
}

func newUserAddCmd(g *globals) *cobra.Command {
	var in admin.AddUser
	var ev bool
	cmd := &cobra.Command{
		Use:   "add sip:USER@DOMAIN --password P",
		Short: "Add a user",
		Long: `Add a user. The domain must be one of the organization's SIP domains. The
password (8 to 128 characters) is stored only as digest HA1 values; give
--password - to read it from standard input instead of the command line.
The PIN, if given, must satisfy the pool's PSTN settings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.URI = args[0]
			var err error
			if in.Password, err = secretArg(cmd, in.Password); err != nil {
				return err
			}
			if in.PIN, err = secretArg(cmd, in.PIN); err != nil {
				return err
			}
			if cmd.Flags().Changed("enterprise-voice") {
				in.EnterpriseVoice = &ev
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.AddUser(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.emit(u, func(p *printer) {
				p.printf("Added user %s.\n", u.URI)
				showUser(p, u)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Password, "password", "", "SIP password, or - to read it from standard input (required)")
	f.StringVar(&in.DisplayName, "display-name", "", "display name")
	f.StringVar(&in.Extension, "extension", "", "extension number")
	f.StringVar(&in.LineURI, "line-uri", "", "line URI, tel:+E164[;ext=N]")
	f.StringVar(&in.PIN, "pin", "", "dial-in PIN (digits), or - to read it from standard input")
	f.StringVar(&in.Pool, "pool", "", "home pool FQDN (default: the only pool)")
	f.StringVar(&in.MeetingPolicy, "policy", "", "meeting policy (default: Default)")
	f.StringVar(&in.LocationProfile, "location-profile", "", "location profile")
	f.BoolVar(&ev, "enterprise-voice", false, "enable Enterprise Voice")
	_ = cmd.MarkFlagRequired("password")
	return cmd
}

// secretArg returns v, or the first line of standard input when v is "-",
// so that secrets need not appear in the process list or shell history.
func secretArg(cmd *cobra.Command, v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("standard input is empty; expected the secret on its first line")
	}
	return line, nil
}

func newUserListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			us, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(us, func(p *printer) {
				rows := make([][]string, len(us))
				for i, u := range us {
					rows[i] = []string{u.URI, orDash(u.DisplayName), orDash(u.Extension), orDash(u.LineURI),
						u.Pool, yesNo(u.EnterpriseVoice), yesNo(u.Enabled), pinState(u.PIN)}
				}
				p.table([]string{"URI", "DISPLAY NAME", "EXTENSION", "LINE URI", "POOL", "EV", "ENABLED", "PIN"}, rows)
			})
		},
	}
}

// pinState summarises a PIN for a table cell.
func pinState(p admin.PINStatus) string {
	switch {
	case !p.Set:
		return "none"
	case p.LockedOut:
		return "locked"
	case p.Expired:
		return "expired"
	}
	return "set"
}

func newUserShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show URI",
		Short: "Show a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(u, func(p *printer) { showUser(p, u) })
		},
	}
}

func showUser(p *printer, u admin.User) {
	pin := pinState(u.PIN)
	if u.PIN.Set {
		pin += fmt.Sprintf(" (set %s, %d failed attempts)", u.PIN.SetAt.Local().Format(time.DateTime), u.PIN.FailedAttempts)
	}
	p.fields([]field{
		{"URI", u.URI},
		{"Display name", orDash(u.DisplayName)},
		{"Enabled", yesNo(u.Enabled)},
		{"Pool", u.Pool},
		{"Extension", orDash(u.Extension)},
		{"Line URI", orDash(u.LineURI)},
		{"Enterprise Voice", yesNo(u.EnterpriseVoice)},
		{"Meeting policy", orDash(u.MeetingPolicy)},
		{"Location profile", orDash(u.LocationProfile)},
		{"Conference ID", orDash(u.ConferenceID)},
		{"Realm", orDash(u.Realm)},
		{"PIN", pin},
	})
}

func newUserSetPINCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set-pin URI DIGITS",
		Short: "Set a user's dial-in PIN (also clears a lockout); DIGITS - reads standard input",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pin, err := secretArg(cmd, args[1])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.SetPIN(cmd.Context(), args[0], pin)
			if err != nil {
				return err
			}
			return g.confirm(u, "Set the PIN of %s.", u.URI)
		},
	}
}

func newUserSetPasswordCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set-password URI PASSWORD",
		Short: "Replace a user's password; PASSWORD - reads standard input",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := secretArg(cmd, args[1])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			return g.confirm(struct {
				URI string `json:"uri"`
			}{args[0]}, "Set the password of %s.", args[0])
		},
	}
}

func newUserUnlockPINCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock-pin URI",
		Short: "Clear a user's PIN lockout, keeping the PIN",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.UnlockPIN(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.confirm(u, "Unlocked the PIN of %s.", u.URI)
		},
	}
}

func newUserResetConferenceIDCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-conference-id URI",
		Short: "Give a user a new personal (My Meeting) conference ID; the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.ResetConferenceID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.confirm(u, "The conference ID of %s is now %s.", u.URI, u.ConferenceID)
		},
	}
}

func newUserSetCmd(g *globals) *cobra.Command {
	var v struct {
		name, ext, line, policy, profile, pool string
		enabled, ev                            bool
	}
	cmd := &cobra.Command{
		Use:   "set URI [flags]",
		Short: "Change a user; only the flags given change, and an empty value clears",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p admin.UserPatch
			f := cmd.Flags()
			for name, dst := range map[string]**string{
				"display-name": &p.DisplayName, "extension": &p.Extension, "line-uri": &p.LineURI,
				"policy": &p.MeetingPolicy, "location-profile": &p.LocationProfile, "pool": &p.Pool,
			} {
				if f.Changed(name) {
					s, _ := f.GetString(name)
					*dst = &s
				}
			}
			if f.Changed("enabled") {
				p.Enabled = &v.enabled
			}
			if f.Changed("enterprise-voice") {
				p.EnterpriseVoice = &v.ev
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.SetUser(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			return g.emit(u, func(p *printer) {
				p.printf("Updated user %s.\n", u.URI)
				showUser(p, u)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&v.name, "display-name", "", "display name")
	f.StringVar(&v.ext, "extension", "", "extension number")
	f.StringVar(&v.line, "line-uri", "", "line URI, tel:+E164[;ext=N]")
	f.StringVar(&v.policy, "policy", "", "meeting policy")
	f.StringVar(&v.profile, "location-profile", "", "location profile")
	f.StringVar(&v.pool, "pool", "", "home pool FQDN")
	f.BoolVar(&v.enabled, "enabled", true, "whether the user may sign in")
	f.BoolVar(&v.ev, "enterprise-voice", false, "enable Enterprise Voice")
	return cmd
}

func newUserDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete URI",
		Short: "Delete a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.confirm(deleted{args[0]}, "Deleted user %s.", args[0])
		},
	}
}
