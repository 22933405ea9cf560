// Command parley is the Parley conferencing server and its administration
// tool: `parley serve` runs a front end; the other subcommands manage the
// directory of the server running for --data DIR through its admin API.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
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
