package localstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WriteTx is a read-write transaction held open across several calls, for
// a bulk writer that commits on its own schedule: the import writes each
// batch of files as it is extracted but commits once per many pages (or
// per fraction of a second) instead of once per batch. Fewer commits write
// fewer bytes: a commit rewrites every B+tree leaf it touched, and pages
// written by an earlier commit share leaves with the next commit's pages.
//
// A WriteTx holds the store's write lock from Begin to Commit or Rollback:
// other writers wait (readers do not), so holders keep it short. It is not
// safe for concurrent use; calls from different goroutines must be ordered
// (the import hands it from the scan's sink goroutine to its own).
type WriteTx struct {
	s    *Store
	t    *Tx
	born time.Time
	done bool
}

// ErrTxDone: the WriteTx was committed or rolled back, or a Do failed.
var ErrTxDone = errors.New("write transaction already finished")

// Begin starts a WriteTx.
func (s *Store) Begin(ctx context.Context) (*WriteTx, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %s: transaction not started: %w", s.path, err)
	}
	btx, err := s.db.Begin(true)
	if err != nil {
		return nil, s.wrapDBErr(err)
	}
	return &WriteTx{s: s, t: &Tx{tx: btx, path: s.mapPath, store: s}, born: time.Now()}, nil
}

// Age is how long the transaction has been open.
func (w *WriteTx) Age() time.Duration { return time.Since(w.born) }

// Do runs fn in the transaction. If fn fails, the whole transaction is
// rolled back (everything since Begin is dropped, as Update drops a failed
// fn's writes) and the WriteTx is finished.
func (w *WriteTx) Do(fn func(tx *Tx) error) error {
	if w.done {
		return fmt.Errorf("store %s: %w", w.s.path, ErrTxDone)
	}
	if err := fn(w.t); err != nil {
		w.Rollback()
		return err
	}
	// Indexing what this call wrote now lets go of the typed records its
	// writers passed (an import holds 1,000 pages' worth until the commit).
	if err := w.t.runIndexer(w.s); err != nil {
		w.Rollback()
		return err
	}
	return nil
}

// Commit writes the transaction, unless ctx was cancelled (then nothing is
// written, as with Update). Change events are published after the commit.
func (w *WriteTx) Commit(ctx context.Context) error {
	if w.done {
		return fmt.Errorf("store %s: %w", w.s.path, ErrTxDone)
	}
	if err := ctx.Err(); err != nil {
		w.Rollback()
		return fmt.Errorf("store %s: transaction cancelled, nothing written: %w", w.s.path, err)
	}
	if err := w.t.beforeCommit(w.s); err != nil {
		w.Rollback()
		return err
	}
	w.done = true
	if err := w.t.tx.Commit(); err != nil {
		return w.s.wrapDBErr(err)
	}
	w.s.bus.publish(w.t.events)
	return nil
}

// Rollback drops the transaction's writes; it is a no-op once finished, so
// it can be deferred.
func (w *WriteTx) Rollback() {
	if w.done {
		return
	}
	w.done = true
	_ = w.t.tx.Rollback()
}
