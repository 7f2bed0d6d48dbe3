package workspace

// Cases a second review of the page index found: an interrupted rebuild,
// the page count of a stale index, IndexStale during a rebuild. Each failed
// before its fix.

import (
	"context"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
)

// oldNimbusStore is a store whose index was current, then written by a
// Nimbus without the index (index_version stays, index_txid lags): the
// next workspace must rebuild. It returns the path, the project and how
// many pages the store holds.
func oldNimbusStore(t *testing.T) (string, string, int) {
	t.Helper()
	w, path := openIndexed(t)
	ctx := context.Background()
	pid := importFixture(t, w)
	rows, err := w.PageRows(ctx, pid, 0)
	if err != nil || len(rows) == 0 {
		t.Fatal(len(rows), err)
	}
	p, err := w.store.GetPage(pid, rows[0].PageID)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	// the older Nimbus adds a page
	p.SourcePath = "dist/added-by-nimbus-0x.html"
	p.PageID = model.PageID(pid, p.SourcePath)
	rawPut(t, path, string(model.NSPages), model.PageKey(pid, p.PageID), model.Canonical(p))
	return path, pid, len(rows) + 1
}

// rebuildIndex commits DeleteAllIndex first, and every later chunk's
// transaction notes index_txid, while index_version still says current.
// A rebuild that does not finish (the window closed during the 20 s of a
// 100,000-page rebuild, a disk error) leaves an empty or partial index
// that the next open takes as current: the Pages table is empty for good.
func TestInterruptedRebuildIsNotTakenAsCurrent(t *testing.T) {
	path, pid, n := oldNimbusStore(t)
	ctx := context.Background()
	w2, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !w2.IndexStale() {
		t.Fatal("precondition: the index is stale")
	}
	// rebuildIndex's first transaction, then the app quits
	if err := w2.store.DeleteAllIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	w3, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	if !w3.IndexStale() {
		t.Error("IndexStale is false after a rebuild that did not finish")
	}
	rows, err := w3.PageRows(ctx, pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Errorf("%d rows after an interrupted rebuild, the store has %d pages", len(rows), n)
	}
}

// pageCountIn trusts index_version without IndexCurrent: after a write by
// an older Nimbus (or while a rebuild runs: the aggregate is deleted
// first), RefreshUsage (and the import's last transaction) counts the
// pages from a stale aggregate and writes that count into the project
// record, which is pushed.
func TestUsageCountsPagesOfAStaleIndex(t *testing.T) {
	path, pid, n := oldNimbusStore(t)
	w2, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	p, err := w2.RefreshUsage(context.Background(), pid, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Usage.TotalPages != n {
		t.Errorf("usage total_pages %d, the store has %d page records", p.Usage.TotalPages, n)
	}
}

// The Pages view calls IndexStale on the UI goroutine (load: a project
// switch, a change-bus overflow during a pull, the end of an import).
// IndexStale takes w.index.mu, which ensureIndex holds for the whole
// rebuild, so a load during a rebuild freezes the window for it.
func TestIndexStaleDoesNotWaitForARebuild(t *testing.T) {
	w := openTemp(t, Options{})
	w.index.mu.Lock() // as ensureIndex holds it while rebuildIndex runs
	defer w.index.mu.Unlock()
	done := make(chan struct{})
	go func() { w.IndexStale(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Error("IndexStale waited for the rebuild to end (the UI goroutine would freeze)")
	}
}
