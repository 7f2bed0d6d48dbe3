//go:build !windows

package main

// detachOwnConsole: only Windows gives a console program a window of its own.
func detachOwnConsole() {}
