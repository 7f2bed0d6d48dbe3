// Package syslocale fixes the process locale variables before Fyne reads them.
//
// Fyne's lang package parses LC_ALL / LC_MESSAGES / LANG in its package init
// and logs "Error parsing user locale C" to stderr when they hold the POSIX
// locale ("C", "C.UTF-8", "POSIX"), which is what CI machines, containers and
// many servers have. That stray line would break the CLI's one-line error
// contract. Go initialises packages in import-path order subject to their
// dependencies (Go 1.21+ spec), and this package imports only os and strings,
// so its init runs before fyne.io/fyne/v2/lang (which waits for text/template
// and friends): main imports it for that side effect.
package syslocale

import (
	"os"
	"strings"
)

func init() { Fix() }

// Fix replaces POSIX locale values with en_US.UTF-8 (the same language Fyne
// falls back to) and leaves real locales alone. It reports whether it changed
// anything.
func Fix() bool {
	changed := false
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if isPOSIX(os.Getenv(name)) {
			os.Setenv(name, "en_US.UTF-8")
			changed = true
		}
	}
	return changed
}

func isPOSIX(v string) bool {
	base, _, _ := strings.Cut(v, ".")
	return base == "C" || base == "POSIX"
}
