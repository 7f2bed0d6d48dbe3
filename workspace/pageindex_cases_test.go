package workspace

// Cases a review of the page summary index found; each failed before its fix.

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// A file that fails extraction gets a log (an error entry) but no page
// record. A rebuild of the index (the upgrade to a new index version) puts
// those logs on the timeline too: the failure stays on the project-wide
// Logs screen.
func TestIndexRebuildKeepsLogsOfPagesWithoutAPageRecord(t *testing.T) {
	w, path := openIndexed(t)
	ctx := context.Background()
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	copySite(t, "../testdata/edge", filepath.Join(site, "edge"))
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	hasBinary := func(w *Workspace) bool {
		lines, _, err := w.RecentLogs(ctx, pid, LogQuery{Level: model.LevelError})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if strings.Contains(l.Entry.Message, "binary.html") {
				return true
			}
		}
		return false
	}
	if !hasBinary(w) {
		t.Fatal("before the rebuild: the binary file's error is not in RecentLogs")
	}
	// The store as the previous index version (page-summary-3, no
	// timeline) left it: the upgrade rebuilds the index.
	if err := w.store.SetMeta(localstore.MetaIndexVersion, "page-summary-3"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	deleteIndexPrefix(t, path, "lt:")
	w2, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if !hasBinary(w2) {
		t.Error("after the rebuild: the binary file's error (a log without a page record) is not in RecentLogs")
	}
	checkIndex(t, w2)
}

// Entries a log record drops (it keeps the newest model.MaxLogEntries)
// leave the timeline: the _index bucket does not grow with every entry
// ever logged.
func TestTimelineDropsWhatTheLogRecordDrops(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	pageID := model.PageID(pid, "dist/a.html")
	ctx := context.Background()
	for i := 0; i < model.MaxLogEntries+500; i++ {
		e := model.LogEntry{Timestamp: fmt.Sprintf("2026-01-01T00:%02d:%02d.%03dZ", i/3600%60, i/60%60, i%1000), Level: model.LevelInfo, Step: "sync", Message: fmt.Sprintf("poll %d", i)}
		if err := w.store.Update(ctx, func(tx *localstore.Tx) error { return appendLog(tx, pid, pageID, e) }); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := w.store.ScanIndex(timelinePrefix(pid), func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != model.MaxLogEntries {
		t.Errorf("%d timeline records for a log that holds %d entries", n, model.MaxLogEntries)
	}
}

// A Nimbus from before the index (a downgrade, an older CLI on the same
// store) writes page records without clearing index_version; the store
// notes the last transaction the indexer saw, so the next open rebuilds.
func TestIndexRebuiltAfterAWriteByAnOlderNimbus(t *testing.T) {
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
	p.Extraction.Head["title"] = "Written by Nimbus 0.x"
	rawPut(t, path, string(model.NSPages), model.PageKey(pid, p.PageID), model.Canonical(p))
	w2, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if !w2.IndexStale() {
		t.Error("IndexStale is false on a store written by a Nimbus without the index")
	}
	row, err := w2.PageRowOf(pid, p.PageID)
	if err != nil {
		t.Fatal(err)
	}
	if w2.IndexStale() {
		t.Error("IndexStale after the rebuild")
	}
	if row.Title != "Written by Nimbus 0.x" {
		t.Errorf("row title %q, the record says %q: the index is stale and marked current", row.Title, "Written by Nimbus 0.x")
	}
}

// oldReviewBlocks is ReviewBlocks as it was before the index (7fd28ba):
// every page read, every block matched.
func oldReviewBlocks(t *testing.T, w *Workspace, projectID string, f ReviewFilter) []string {
	t.Helper()
	var out []string
	type pg struct {
		path string
		ids  []string
	}
	var pages []pg
	if err := w.store.ListPages(projectID, func(p model.PageData) error {
		r, _ := w.store.GetReview(projectID, p.PageID)
		var ids []string
		for _, b := range reviewBlocks(p, r) {
			if f.match(b) {
				ids = append(ids, b.PageID+"/"+b.BlockID)
			}
		}
		pages = append(pages, pg{p.SourcePath, ids})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(pages, func(i, j int) bool { return pages[i].path < pages[j].path })
	for _, p := range pages {
		out = append(out, p.ids...)
	}
	return out
}

// A decision the validation accepts but Decide never writes (rejected with
// a text, as another client or a hand-edited record may hold): QA runs on
// its text, so ReviewBlocks must not prune the page (it has no proposal
// and no edited or accepted block): the summary counts blocks with a text
// to check.
func TestQAFilterFindsTheTextOfAnyDecision(t *testing.T) {
	w, pid := reviewFixture(t)
	ctx := context.Background()
	id := model.PageID(pid, "dist/local/tag-heuer.html")
	ex := model.Extraction{Engine: "html", MainSelector: "main", Head: map[string]string{"title": "Tag Heuer"},
		Dimensions:      map[string]string{"brand": "tag", "location": "birmingham"},
		AboveFoldBlocks: []model.Block{{ID: "block-0", Type: "h1", Content: "Tag Heuer"}}, SelectorMap: map[string]string{"block-0": "main > h1"}}
	pd := model.PageData{PageID: id, ProjectID: pid, SourcePath: "dist/local/tag-heuer.html", Uploaded: model.Now(), Extraction: ex, ContentHash: model.ContentHash(ex)}
	long := strings.Repeat("Tag Heuer watch repair ", 5) // over the title's 60
	rv := model.ReviewData{PageID: id, ProjectID: pid, Updated: model.Now(), Blocks: map[string]model.ReviewDecision{
		model.BlockIDTitle: {State: model.ReviewRejected, Text: long, OriginalHash: textHash("Tag Heuer"), Decided: model.Now()}}}
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		if err := tx.PutJSON(model.NSPages, model.PageKey(pid, id), pd); err != nil {
			return err
		}
		return tx.PutLocal(model.NSPages, model.ReviewKey(pid, id), model.Canonical(rv))
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []ReviewFilter{{QA: "any"}, {QA: "too_long"}, {QA: "any", States: []string{model.ReviewRejected}}} {
		want := oldReviewBlocks(t, w, pid, f)
		got, err := w.ReviewBlocks(ctx, pid, f)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, b := range got {
			gotIDs = append(gotIDs, b.PageID+"/"+b.BlockID)
		}
		if strings.Join(gotIDs, " ") != strings.Join(want, " ") {
			t.Errorf("filter %+v:\n got %v\nwant %v (the old ReviewBlocks)", f, gotIDs, want)
		}
	}
}

// An index record that no longer reads (a torn aggregate) must not refuse
// the write it follows (here a pulled status): the index is marked out of
// date and rebuilt on its next use.
func TestUnreadableAggregateDoesNotRefuseWrites(t *testing.T) {
	w, path := openIndexed(t)
	ctx := context.Background()
	pid := importFixture(t, w)
	rows, _ := w.PageRows(ctx, pid, 0)
	w.Close()
	rawPut(t, path, "_index", aggKey(pid), []byte("{\"pages\":\"torn"))
	w2, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	st := model.StatusData{Status: model.StatusQueued, BatchID: rows[0].Status.BatchID, Updated: model.Now()}
	if err := w2.store.Update(ctx, func(tx *localstore.Tx) error {
		return tx.PutRemote(model.NSStatus, model.StatusKey(pid, rows[0].PageID), model.Canonical(st), model.ValueHash(model.Canonical(st)))
	}); err != nil {
		t.Errorf("a pulled status is refused because of the index: %v", err)
	}
}
