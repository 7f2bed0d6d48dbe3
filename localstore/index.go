package localstore

// Derived local indexes: small records computed from the namespaces (the
// page summary index of workspace) and kept in the _index bucket, which is
// never pushed. The store does not know what they hold; it guarantees that
// they change in the same transaction as the records they are derived from:
// every write transaction that writes a page, review or status record calls
// the registered Indexer once, before its commit, with the pages it wrote.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nimbus-desktop/nimbus/model"
)

var bucketIndex = []byte("_index")

// metaIndexTxID is the _meta key holding the ID of the last write
// transaction the indexer saw: a store written since by a Nimbus without
// one (an older version) has a later transaction, and IndexCurrent says
// no.
const metaIndexTxID = "index_txid"

// IndexCurrent reports whether every committed write transaction ran with
// an indexer: the last one is the one the indexer noted.
func (s *Store) IndexCurrent() (bool, error) {
	var ok bool
	err := s.view(func(tx *Tx) error {
		ok = string(tx.tx.Bucket(bucketMeta).Get([]byte(metaIndexTxID))) == strconv.Itoa(tx.tx.ID())
		return nil
	})
	return ok, err
}

// MetaIndexVersion is the _meta key the indexer owner stores its index
// version under. A write transaction that touches pages while no Indexer is
// registered clears it, so the owner knows to rebuild.
const MetaIndexVersion = "index_version"

// PageRef names a page whose page, review, status or logs record a
// transaction wrote.
type PageRef struct{ ProjectID, PageID string }

// Indexer brings the derived indexes of pages up to date inside the write
// transaction that changed them. It must only read the transaction and
// write index records (PutIndex); an error rolls the whole transaction back.
type Indexer func(tx *Tx, pages []PageRef) error

// SetIndexer registers fn for every later write transaction. It must be
// called before the store is shared between goroutines (workspace.New does
// it right after Open).
func (s *Store) SetIndexer(fn Indexer) { s.indexer = fn }

// pageRefOf is the page a key of ns belongs to when it is one of the
// records the indexes are derived from: page, review, status, logs.
func pageRefOf(ns model.Namespace, key string) (PageRef, bool) {
	var kind string
	switch ns {
	case model.NSPages:
		switch {
		case strings.HasPrefix(key, "page:"):
			kind = "page:"
		case strings.HasPrefix(key, "review:"):
			kind = "review:"
		default:
			return PageRef{}, false
		}
	case model.NSStatus:
		if !strings.HasPrefix(key, "status:") {
			return PageRef{}, false
		}
		kind = "status:"
	case model.NSLogs:
		if !strings.HasPrefix(key, "logs:") {
			return PageRef{}, false
		}
		kind = "logs:"
	default:
		return PageRef{}, false
	}
	project, page, ok := strings.Cut(key[len(kind):], ":")
	if !ok || project == "" || page == "" {
		return PageRef{}, false
	}
	return PageRef{ProjectID: project, PageID: page}, true
}

// touch notes that key was written, with its typed record when the writer
// had one (rec may be nil).
func (t *Tx) touch(ns model.Namespace, key string, rec any) {
	ref, ok := pageRefOf(ns, key)
	if !ok {
		return
	}
	if t.touched == nil {
		t.touched = map[PageRef]struct{}{}
	}
	if _, seen := t.touched[ref]; !seen {
		t.touched[ref] = struct{}{}
		t.touchedOrder = append(t.touchedOrder, ref)
	}
	if t.recs == nil {
		t.recs = map[string]any{}
		t.changed = map[string]struct{}{}
	}
	t.changed[string(ns)+"\x00"+key] = struct{}{}
	if rec != nil {
		t.recs[string(ns)+"\x00"+key] = rec
	} else {
		delete(t.recs, string(ns)+"\x00"+key)
	}
}

// Written returns the typed record the writer of key in ns passed in this
// transaction (a pointer to its model type), so an Indexer need not decode
// the bytes just encoded; false when there is none.
func (t *Tx) Written(ns model.Namespace, key string) (any, bool) {
	rec, ok := t.recs[string(ns)+"\x00"+key]
	return rec, ok
}

// Changed reports whether this transaction wrote key in ns (a page, review
// or status record) since the Indexer last ran.
func (t *Tx) Changed(ns model.Namespace, key string) bool {
	_, ok := t.changed[string(ns)+"\x00"+key]
	return ok
}

// IndexNoted reports, in a write transaction, whether every transaction
// before it ran with an indexer (the index reflects what it reads).
func (t *Tx) IndexNoted() bool {
	return string(t.tx.Bucket(bucketMeta).Get([]byte(metaIndexTxID))) == strconv.Itoa(t.tx.ID()-1)
}

// noteIndexed records, in a write transaction about to commit, that it ran
// with an indexer (IndexCurrent).
func (t *Tx) noteIndexed(s *Store) error {
	if s.indexer == nil || !t.tx.Writable() {
		return nil
	}
	if err := t.tx.Bucket(bucketMeta).Put([]byte(metaIndexTxID), []byte(strconv.Itoa(t.tx.ID()))); err != nil {
		return fmt.Errorf("note the indexed transaction: %w", err)
	}
	return nil
}

// runIndexer calls the Indexer on the pages written since the last call,
// or marks the index out of date when there is none.
func (t *Tx) runIndexer(s *Store) error {
	if len(t.touchedOrder) == 0 {
		return nil
	}
	refs := t.touchedOrder
	defer func() { t.touched, t.touchedOrder, t.recs, t.changed = nil, nil, nil, nil }()
	if s.indexer == nil {
		if err := t.tx.Bucket(bucketMeta).Delete([]byte(MetaIndexVersion)); err != nil {
			return fmt.Errorf("mark the page index out of date: %w", err)
		}
		return nil
	}
	if err := s.indexer(t, refs); err != nil {
		return fmt.Errorf("update the page index: %w", err)
	}
	return nil
}

// FlushIndex runs the Indexer now on what the transaction wrote so far
// (it runs again before the commit for what comes after), so that the
// transaction can read indexes that include its own writes.
func (t *Tx) FlushIndex() error { return t.runIndexer(t.store) }

// GetIndex returns a copy of index record key, or false.
func (t *Tx) GetIndex(key string) ([]byte, bool) {
	v := t.tx.Bucket(bucketIndex).Get([]byte(key))
	if v == nil {
		return nil, false
	}
	return bytes.Clone(v), true
}

// PutIndex writes index record key (a no-op for identical bytes).
func (t *Tx) PutIndex(key string, value []byte) error {
	if key == "" {
		return errors.New("put index: empty key")
	}
	b := t.tx.Bucket(bucketIndex)
	if old := b.Get([]byte(key)); old != nil && bytes.Equal(old, value) {
		return nil
	}
	// Summaries are written mostly in key order (an import extracts in
	// page ID order): full leaves make a listing touch fewer pages.
	b.FillPercent = 0.9
	if err := b.Put([]byte(key), bytes.Clone(value)); err != nil {
		return fmt.Errorf("put index %s: %w", clip(key), err)
	}
	return nil
}

// DeleteIndex removes index record key. Index records are derived from
// the namespaces and never pushed (a rebuild makes them again), so this
// is not the deletion of data the store otherwise never does; a page's
// log timeline uses it to drop the entries its log record no longer keeps.
func (t *Tx) DeleteIndex(key string) error {
	if err := t.tx.Bucket(bucketIndex).Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete index %s: %w", clip(key), err)
	}
	return nil
}

// DeleteAllIndex empties the _index bucket (derived records only: see
// DeleteIndex), so that a rebuild starts from nothing and leaves no record
// of an older index version behind.
func (s *Store) DeleteAllIndex(ctx context.Context) error {
	return s.Update(ctx, func(tx *Tx) error {
		if err := tx.tx.DeleteBucket(bucketIndex); err != nil {
			return fmt.Errorf("empty the index: %w", err)
		}
		if _, err := tx.tx.CreateBucket(bucketIndex); err != nil {
			return fmt.Errorf("empty the index: %w", err)
		}
		// An empty index is not a current one until its owner says so
		// (a rebuild cut short must start again at the next open).
		if err := tx.tx.Bucket(bucketMeta).Delete([]byte(MetaIndexVersion)); err != nil {
			return fmt.Errorf("empty the index: %w", err)
		}
		return nil
	})
}

// ScanIndex calls fn for every index record starting with prefix, in key
// order; k and v are only valid during fn.
func (t *Tx) ScanIndex(prefix string, fn func(k, v []byte) error) error {
	p := []byte(prefix)
	c := t.tx.Bucket(bucketIndex).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// GetIndex is Tx.GetIndex in its own read transaction.
func (s *Store) GetIndex(key string) ([]byte, bool, error) {
	var v []byte
	var ok bool
	err := s.view(func(tx *Tx) error {
		v, ok = tx.GetIndex(key)
		return nil
	})
	return v, ok, err
}

// ScanIndexReverse is ScanIndex from the last key down.
func (t *Tx) ScanIndexReverse(prefix string, fn func(k, v []byte) error) error {
	p := []byte(prefix)
	c := t.tx.Bucket(bucketIndex).Cursor()
	// the first key past every key with the prefix
	end := append(bytes.Clone(p), 0xff, 0xff, 0xff, 0xff)
	var k, v []byte
	if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Prev() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ScanIndex is Tx.ScanIndex in one read transaction.
func (s *Store) ScanIndex(prefix string, fn func(k, v []byte) error) error {
	return s.view(func(tx *Tx) error { return tx.ScanIndex(prefix, fn) })
}

// View runs fn in one read transaction (a consistent snapshot of several
// reads).
func (s *Store) View(fn func(tx *Tx) error) error { return s.view(fn) }

// ReleaseMapped gives back the resident memory of the store file's pages
// a large read or write mapped (Linux; a no-op elsewhere): the pages stay
// in the page cache. Readers of big listings call it every few thousand
// records, the import after each commit.
func (s *Store) ReleaseMapped() {
	_ = s.view(func(tx *Tx) error {
		tx.releaseMapped(s.mapPath)
		return nil
	})
}

// ReleaseMapped is Store.ReleaseMapped inside a transaction (a long
// listing calls it as it goes).
func (t *Tx) ReleaseMapped() { t.releaseMapped(t.path) }
