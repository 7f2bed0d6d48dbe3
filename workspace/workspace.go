// Package workspace owns the use cases the GUI and the CLI share: it opens the
// local store, knows the current project, bootstraps the one local account of
// a store (user, email index, projects list, session), creates and configures
// projects and issues API keys. Import, watch, review, export and sync live in
// further files of this package (intake.go, importer.go, review.go, sync.go,
// ...), each written against the same *Workspace. It is the only door of the
// GUI and the CLI: what they read of the mirror comes from views.go and
// pagerows.go; only this package uses localstore, sync and extract.
//
// Every write is one localstore transaction per logical operation, so a crash
// never leaves half an operation in the mirror, and records are never deleted
// (API keys are deactivated).
package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	gosync "sync"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// DefaultEmail is the local account's email when neither Options.Email nor
// $NIMBUS_EMAIL gives one.
const DefaultEmail = "editor@localhost"

// Options are how this desktop identifies itself when it creates the store's
// account and session. Zero values take defaults.
type Options struct {
	// Email of the local account when it is first created: Options.Email,
	// else $NIMBUS_EMAIL, else DefaultEmail. An existing account keeps its
	// email.
	Email string
	// UserAgent written into session records, e.g. "nimbus-desktop/0.1.0".
	UserAgent string
}

// Meta keys (localstore _meta, never pushed) this package owns.
const (
	metaUserID         = "account.user_id"
	metaSessionID      = "account.session_id"
	metaCurrentProject = "current_project"
)

// Sentinel errors callers branch on (errors.Is).
var (
	// ErrNoProject: there is no current project, or the project ID is unknown.
	ErrNoProject = errors.New("no such project")
	// ErrNoAccount: the store has no local account yet (nothing was created).
	ErrNoAccount = errors.New("no local account in this store yet")
	// ErrNoKey: the API key hash is not one of the account's keys.
	ErrNoKey = errors.New("no such API key")
)

// Workspace is one open store and the state the user works in (the current
// project). It is safe for concurrent use by the GUI and background work:
// all state lives in the store, whose transactions serialise writers.
type Workspace struct {
	store *localstore.Store
	opts  Options

	pacersMu gosync.Mutex
	pacers   map[*nsync.Pacer]bool // handed out at the rate setting: SetSyncRate changes them

	index indexState // the page summary index (pageindex.go)
}

// Open opens the store at storePath ("" means localstore.DefaultPath()) with
// default Options. A store held by another process fails within about a
// second with localstore's "open in another Nimbus window" error.
func Open(storePath string) (*Workspace, error) { return OpenWith(storePath, Options{}) }

// OpenWith is Open with explicit Options.
func OpenWith(storePath string, opts Options) (*Workspace, error) {
	if storePath == "" {
		p, err := localstore.DefaultPath()
		if err != nil {
			return nil, err
		}
		storePath = p
	}
	s, err := localstore.Open(storePath)
	if err != nil {
		return nil, err
	}
	return New(s, opts), nil
}

// New returns a workspace on a store the caller opened (tests and tools
// that also write to the store directly, as a pull or the Worker would).
// The workspace owns the store from then on: Close closes it.
func New(st *localstore.Store, opts Options) *Workspace {
	if opts.Email == "" {
		opts.Email = os.Getenv("NIMBUS_EMAIL")
	}
	if opts.Email == "" {
		opts.Email = DefaultEmail
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "nimbus-desktop/dev"
	}
	st.SetIndexer(indexPages)
	startIndex(st)
	return &Workspace{store: st, opts: opts}
}

// Close closes the store.
func (w *Workspace) Close() error { return w.store.Close() }

// Path is the store file's path.
func (w *Workspace) Path() string { return w.store.Path() }

// CurrentProjectID returns the current project's ID, or ErrNoProject.
func (w *Workspace) CurrentProjectID() (string, error) {
	id, err := w.store.Meta(metaCurrentProject)
	if err != nil {
		return "", fmt.Errorf("read current project: %w", err)
	}
	if id == "" {
		return "", fmt.Errorf("%w: no current project (create one with 'nimbus project create' or pick one with 'nimbus project use')", ErrNoProject)
	}
	return id, nil
}

// CurrentProject returns the current project's record.
func (w *Workspace) CurrentProject() (model.ProjectData, error) {
	id, err := w.CurrentProjectID()
	if err != nil {
		return model.ProjectData{}, err
	}
	return w.Project(id)
}

// UseProject makes an existing project the current one.
func (w *Workspace) UseProject(ctx context.Context, projectID string) error {
	return w.store.Update(ctx, func(tx *localstore.Tx) error {
		if _, err := txProject(tx, projectID); err != nil {
			return err
		}
		return tx.SetMeta(metaCurrentProject, projectID)
	})
}

// ResolveProject returns projectID when given, else the current project's ID:
// the rule every command taking an optional project follows.
func (w *Workspace) ResolveProject(projectID string) (string, error) {
	if projectID != "" {
		return projectID, nil
	}
	return w.CurrentProjectID()
}

// getJSON reads key in ns into a T inside tx; ok is false when absent.
func getJSON[T any](tx *localstore.Tx, ns model.Namespace, key string) (v T, ok bool, err error) {
	b, err := tx.Get(ns, key)
	if errors.Is(err, localstore.ErrNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, false, fmt.Errorf("decode %s %s: %w", ns, key, err)
	}
	return v, true, nil
}

// normalizeEmail lower-cases and trims an email so the email:{email} index
// has one key per address.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
