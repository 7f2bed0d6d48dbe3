// Command nimbus is Nimbus Desktop: with no arguments it opens the GUI, with a
// subcommand it runs headless (see README.md for the CLI, cli.go for how
// commands are registered).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// Must stay imported: fixes POSIX locale variables before Fyne's lang
	// package parses them in its init (see the package doc).
	_ "github.com/nimbus-desktop/nimbus/internal/syslocale"
	"github.com/nimbus-desktop/nimbus/ui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runGUI opens the desktop window on e's store. It is called when nimbus runs
// without a subcommand; run() closes the workspace (flushing the store) when
// the window is gone.
func runGUI(e *env) error {
	if why := noDisplay(); why != "" {
		// Fyne's GLFW driver panics with a long stack trace without one.
		return usagef("the window needs a display: %s; run it on a desktop, under Xvfb (make run starts one), or give a command (nimbus help)", why)
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	detachOwnConsole()
	return ui.Run(w)
}
