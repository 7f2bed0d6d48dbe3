package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// What the GUI and the CLI read of the mirror, and the types they share
// with the engines below: workspace is their only door (they import no
// localstore, sync or extract; a test checks it). The aliases name the
// engines' plain data types so that callers need not import them.
type (
	// SyncStats counts what one sync, push, pull or poll did.
	SyncStats = nsync.Stats
	// SyncState is the sync chip: online, changes waiting, writes today.
	SyncState = nsync.State
	// WatchOptions shape the adaptive poll of Syncer.Watch.
	WatchOptions = nsync.WatchOptions
	// Credentials are a Cloudflare account and its token (never printed).
	Credentials = nsync.Credentials
	// ImportProgress is what an import reports as it goes.
	ImportProgress = extract.Progress
	// StoreEvent is one change of the mirror (Subscribe).
	StoreEvent = localstore.Event
)

var (
	// ErrNotFound: no such key in the mirror.
	ErrNotFound = localstore.ErrNotFound
	// ErrNoCredentials: no account or token (flags, environment, keyring).
	ErrNoCredentials = nsync.ErrNoCredentials
)

// StorePath is the store file's path.
func (w *Workspace) StorePath() string { return w.store.Path() }

// SavedAccountID is the Cloudflare account `setup` saved ("" for none).
func (w *Workspace) SavedAccountID() string {
	id, _ := w.store.Meta(nsync.MetaAccountID)
	return id
}

// LoadCredentials finds the account (environment, else the saved one) and
// its token (environment, keyring or the 0600 file); the result may be
// incomplete, for setup to complete from its flags.
func (w *Workspace) LoadCredentials() (Credentials, error) {
	return nsync.LoadCredentials(w.SavedAccountID())
}

// ChangesWaiting is how many local changes wait to be pushed.
func (w *Workspace) ChangesWaiting() (int, error) { return w.store.OutboxLen() }

// Subscribe streams the mirror's changes (buf events are buffered; a slow
// reader gets one Overflow event instead of the ones it missed). cancel
// ends the stream.
func (w *Workspace) Subscribe(buf int) (events <-chan StoreEvent, cancel func()) {
	return w.store.Subscribe(buf)
}

// KVCount counts the keys of ns starting with prefix (the Data view).
func (w *Workspace) KVCount(ns model.Namespace, prefix string) (int, error) {
	return w.store.Count(ns, prefix)
}

// KVKeys lists the keys of ns starting with prefix, in order.
func (w *Workspace) KVKeys(ns model.Namespace, prefix string) ([]string, error) {
	return w.store.Keys(ns, prefix)
}

// KVGet reads one value of the mirror as stored (ErrNotFound if absent).
func (w *Workspace) KVGet(ns model.Namespace, key string) ([]byte, error) {
	return w.store.Get(ns, key)
}

// KVList calls fn for every key and value of ns starting with prefix.
func (w *Workspace) KVList(ns model.Namespace, prefix string, fn func(key string, value []byte) error) error {
	return w.store.List(ns, prefix, fn)
}

// Batches lists a project's batches.
func (w *Workspace) Batches(projectID string) ([]model.BatchData, error) {
	var out []model.BatchData
	err := w.store.ListBatches(projectID, func(b model.BatchData) error {
		out = append(out, b)
		return nil
	})
	return out, err
}

// Batch reads one batch.
func (w *Workspace) Batch(projectID, batchID string) (model.BatchData, error) {
	return w.store.GetBatch(projectID, batchID)
}

// PageStatus reads a page's status (ErrNotFound: never submitted).
func (w *Workspace) PageStatus(projectID, pageID string) (model.StatusData, error) {
	return w.store.GetStatus(projectID, pageID)
}

// Page reads a page record.
func (w *Workspace) Page(projectID, pageID string) (model.PageData, error) {
	return w.store.GetPage(projectID, pageID)
}

// PageLogs reads a page's log (empty when it has none).
func (w *Workspace) PageLogs(projectID, pageID string) (model.LogData, error) {
	ld, err := w.store.GetLogs(projectID, pageID)
	if errors.Is(err, localstore.ErrNotFound) {
		return model.LogData{PageID: pageID}, nil
	}
	return ld, err
}

// PageCount is the number of pages of a project.
func (w *Workspace) PageCount(projectID string) (int, error) {
	c, err := w.Counts(context.Background(), projectID) // the page index: nothing is listed
	return c.Pages, err
}

// LogLine is one log entry of a page.
type LogLine struct {
	PageID string
	Entry  model.LogEntry
}

// Logs returns the log entries of a project's pages (of one page when
// pageID is set), in store order.
func (w *Workspace) Logs(ctx context.Context, projectID, pageID string) ([]LogLine, error) {
	prefix := model.ProjectPrefix(model.KindLogs, projectID)
	if pageID != "" {
		prefix = model.LogsKey(projectID, pageID)
	}
	var out []LogLine
	err := w.store.List(model.NSLogs, prefix, func(key string, value []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ld, err := decodeAs[model.LogData](key, value)
		if err != nil {
			return err
		}
		id := key[strings.LastIndexByte(key, ':')+1:]
		for _, e := range ld.Entries {
			out = append(out, LogLine{PageID: id, Entry: e})
		}
		return nil
	})
	return out, err
}

// decodeAs decodes and validates a stored value as T.
func decodeAs[T any](key string, value []byte) (T, error) {
	var zero T
	v, err := model.DecodeValue(key, value)
	if err != nil {
		return zero, fmt.Errorf("decode %s: %w", key, err)
	}
	p, ok := v.(*T)
	if !ok {
		return zero, fmt.Errorf("decode %s: holds a %T", key, v)
	}
	return *p, nil
}

// Syncer is the sync engine of a workspace: push, pull, the live poll and
// the adaptive watch loop.
type Syncer struct{ e *nsync.Engine }

// Sync pulls then pushes.
func (s *Syncer) Sync(ctx context.Context) (SyncStats, error) { return s.e.Sync(ctx) }

// Push sends what waits.
func (s *Syncer) Push(ctx context.Context) (SyncStats, error) { return s.e.Push(ctx) }

// Pull brings what the Worker and other editors wrote.
func (s *Syncer) Pull(ctx context.Context) (SyncStats, error) { return s.e.Pull(ctx) }

// Poll reads only what moves while batches run, then pushes.
func (s *Syncer) Poll(ctx context.Context) (SyncStats, error) { return s.e.Poll(ctx) }

// Watch syncs until ctx is done: full syncs at the slow interval, the live
// poll at the fast one while batches run.
func (s *Syncer) Watch(ctx context.Context, o WatchOptions) error { return s.e.Watch(ctx, o) }

// State is the sync chip's state.
func (s *Syncer) State() SyncState { return s.e.State() }

// Rate is the requests per second the syncer's pacer spaces by now.
func (s *Syncer) Rate() float64 { return s.e.Pacer().Rate() }
