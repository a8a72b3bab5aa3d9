// Command hush builds container images from Dockerfiles without a daemon, and keeps every
// build secret out of the result.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hush-build/hush/internal/cli"
	"github.com/hush-build/hush/internal/rootless"
)

func main() {
	// A hush re-executed into its user namespace waits there for its ID maps (rootless).
	if err := rootless.Resume(); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
