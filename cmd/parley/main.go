// Command parley is the Parley conferencing server and its administration
// tool: `parley serve` runs a front end; the other subcommands manage the
// directory of the server running for --data DIR through its admin API.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/emiago/sipgo/sip"
)

func main() {
	// sipgo logs a few conditions through a package-level logger rather
	// than the ones a user agent is given, among them a spurious warning
	// each time a client connection closes. Parley passes its loggers to
	// every layer it builds, so the package-level one only prints noise;
	// it is set here, before any goroutine can read it.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code.
// Errors are printed once, as "parley: <error>", on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		_, _ = fmt.Fprintf(stderr, "parley: %v\n", err) // nowhere left to report a failure
		return 1
	}
	return 0
}
