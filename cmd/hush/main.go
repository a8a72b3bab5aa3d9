// Command hush builds container images from Dockerfiles without a daemon, and keeps every
// build secret out of the result.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hush-build/hush/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
