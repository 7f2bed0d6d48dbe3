//go:build linux || freebsd || openbsd || netbsd || dragonfly

package ui

import "github.com/godbus/dbus/v5"

// trayAvailable reports whether a system tray can be installed. On Linux and
// the BSDs Fyne's tray (fyne.io/systray) talks to the desktop over the D-Bus
// session bus; without one it logs "failed to connect to DBus" at start and
// dereferences its nil connection on quit (a panic, exit 2). The probe is the
// same call systray makes, so the answer is the one it would get; a
// connection made here is the shared one systray then reuses.
func trayAvailable() (bool, string) {
	if _, err := dbus.SessionBus(); err != nil {
		return false, "no D-Bus session bus (" + err.Error() + ")"
	}
	return true, ""
}
