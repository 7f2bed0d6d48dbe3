// Command nimbus is Nimbus Desktop: with no arguments it opens the GUI, with a
// subcommand it runs headless (see README.md for the CLI, internal/cli for
// its commands).
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/nimbus-desktop/nimbus/internal/cli"
	// Must stay imported: fixes POSIX locale variables before Fyne's lang
	// package parses them in its init (see the package doc).
	_ "github.com/nimbus-desktop/nimbus/internal/syslocale"
	"github.com/nimbus-desktop/nimbus/ui"
	"github.com/nimbus-desktop/nimbus/workspace"
)

func main() { os.Exit(run()) }

func run() int {
	// NIMBUS_CPUPROFILE=file: a CPU profile of the whole run (go tool
	// pprof), for finding what a large store costs.
	if path := os.Getenv("NIMBUS_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner().Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
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
