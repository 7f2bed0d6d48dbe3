//go:build windows

package main

import (
	"syscall"
	"unsafe"
)

// noDisplay: a Windows session always has a desktop.
func noDisplay() string { return "" }

// detachOwnConsole hides the console window Windows opens for a console
// program started from Explorer or a shortcut. nimbus.exe is one program for
// the CLI and the GUI, built for the console subsystem so that commands
// print to the terminal they run in; when it opens the GUI (no arguments)
// and the console is its own (no shell shares it), the console is released
// and its window goes away. In a terminal the console is shared with the
// shell and kept.
func detachOwnConsole() {
	k := syscall.NewLazyDLL("kernel32.dll")
	list := k.NewProc("GetConsoleProcessList")
	free := k.NewProc("FreeConsole")
	if list.Find() != nil || free.Find() != nil {
		return
	}
	var pids [2]uint32
	n, _, _ := list.Call(uintptr(unsafe.Pointer(&pids[0])), 2)
	if n == 1 {
		_, _, _ = free.Call()
	}
}
