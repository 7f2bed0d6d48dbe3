// Command nimbus is Nimbus Desktop: with no arguments it opens the GUI, with a
// subcommand it runs headless (see README.md for the CLI, cli.go for how
// commands are registered).
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runGUI opens the desktop window on e's store. It is called when nimbus runs
// without a subcommand. The ui package wires itself in here; a binary built
// without it says so instead of silently exiting.
func runGUI(e *env) error {
	return errors.New("the GUI is not built into this binary; run 'nimbus help' for the command line")
}
