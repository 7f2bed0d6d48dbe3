// Package workspace owns the use cases the GUI and the CLI share: it opens the
// local store, knows the current project, bootstraps the one local account of
// a store (user, email index, projects list, session), creates and configures
// projects and issues API keys. Import, watch, review, export and sync live in
// further files of this package (intake*.go, sync*.go, ...), each written
// against the same *Workspace.
//
// Every write is one localstore transaction per logical operation, so a crash
// never leaves half an operation in the mirror.
package workspace

import (
	"errors"
	"fmt"
)

// Workspace is one open store and the state the user works in (the current
// project). It is safe for concurrent use by the GUI and background work.
type Workspace struct {
	path string
}

// Open opens the store at storePath ("" means localstore's default path).
func Open(storePath string) (*Workspace, error) {
	// The local store package lands in a separate change; until then opening
	// fails loudly instead of pretending to work.
	return nil, fmt.Errorf("open store %s: %w", storePath, errors.New("the local store is not built into this binary yet"))
}

// Close closes the store.
func (w *Workspace) Close() error { return nil }

// Path is the store file's path.
func (w *Workspace) Path() string { return w.path }
