package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/parleyhq/parley/internal/admin"
)

// seedDemo seeds the sample organization and prints its credentials once: a
// restart finds it seeded and prints only where it is.
func seedDemo(ctx context.Context, svc *admin.Service, out io.Writer) error {
	demo, err := svc.SeedDemo(ctx)
	if errors.Is(err, admin.ErrDemoExists) {
		fmt.Fprintf(out, "Demo organization %s was seeded before; its passwords were printed then\n"+
			"(reset one with: parley user set-password sip:alice@%s NEWPASSWORD --data DIR)\n", demo.Domain, demo.Domain)
		return nil
	}
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	fmt.Fprintf(out, "Demo organization seeded: SIP domain %s, access number %s (%s)\n", demo.Domain, demo.AccessNumber, demo.Region)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  USER\tNAME\tEXTENSION\tPASSWORD\tDIAL-IN PIN")
	for _, u := range demo.Users {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", u.URI, u.DisplayName, u.Extension, u.Password, u.PIN)
	}
	return tw.Flush()
}
