// Command nimbus is Nimbus Desktop: with no arguments it opens the GUI, with a
// subcommand it runs headless (see README.md for the CLI, internal/cli for
// its commands).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nimbus-desktop/nimbus/internal/cli"
	// Must stay imported: fixes POSIX locale variables before Fyne's lang
	// package parses them in its init (see the package doc).
	_ "github.com/nimbus-desktop/nimbus/internal/syslocale"
	"github.com/nimbus-desktop/nimbus/ui"
	"github.com/nimbus-desktop/nimbus/workspace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runner().Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runner is the command line of this build, with its window.
func runner() cli.Runner {
	return cli.Runner{App: cli.ParseAppInfo(fyneAppTOML, version), GUI: runGUI}
}

// runGUI opens the desktop window on the store of the global flags. It is
// called when nimbus runs without a command; the runner closes the
// workspace (flushing the store) when the window is gone.
func runGUI(open func() (*workspace.Workspace, error)) error {
	if why := noDisplay(); why != "" {
		// Fyne's GLFW driver panics with a long stack trace without one.
		return cli.Usagef("the window needs a display: %s; run it on a desktop, under Xvfb (make run starts one), or give a command (nimbus help)", why)
	}
	w, err := open()
	if err != nil {
		return err
	}
	detachOwnConsole()
	return ui.Run(w)
}
