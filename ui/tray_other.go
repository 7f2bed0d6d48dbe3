//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package ui

// trayAvailable: Windows and macOS have a tray whenever there is a desktop.
func trayAvailable() (bool, string) { return true, "" }
