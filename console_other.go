//go:build !windows

package main

import (
	"os"
	"runtime"
)

// noDisplay says why the window cannot open, or "" when it can: on X11 and
// Wayland desktops (not macOS) a display is named by DISPLAY or
// WAYLAND_DISPLAY.
func noDisplay() string {
	if runtime.GOOS == "darwin" || runtime.GOOS == "android" || runtime.GOOS == "ios" {
		return ""
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return "neither DISPLAY nor WAYLAND_DISPLAY is set"
	}
	return ""
}

// detachOwnConsole: only Windows gives a console program a window of its own.
func detachOwnConsole() {}
