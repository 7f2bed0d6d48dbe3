package workspace

// Findings of the review of the page summary index (branch review).

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// A file that fails extraction gets a log (an error entry) but no page
// record. The indexer puts that entry on the timeline, but rebuildIndex only
// walks page records: after a rebuild the failure vanishes from the
// project-wide Logs screen (the old Logs listed every log record).
func TestReviewRebuildKeepsLogsOfPagesWithoutAPageRecord(t *testing.T) {
	t.Setenv("NIMBUS_EMAIL", "")
	path := filepath.Join(t.TempDir(), "nimbus.db")
	w, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.ensureIndex(ctx); err != nil {
		t.Fatal(err)
	}
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
// keep their timeline records forever: the _index bucket grows with every
// entry ever logged, and a filtered RecentLogs walks all of them.
func TestReviewTimelineKeepsDroppedEntries(t *testing.T) {
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
// store) writes page records without clearing index_version: the index
// stays "current" and never catches up.
func TestReviewOlderBinaryWriteLeavesIndexStale(t *testing.T) {
	t.Setenv("NIMBUS_EMAIL", "")
	path := filepath.Join(t.TempDir(), "nimbus.db")
	w, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.ensureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
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
	row, err := w2.PageRowOf(pid, p.PageID)
	if err != nil {
		t.Fatal(err)
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
// its text, so the old ReviewBlocks matched it; mayMatch prunes the page
// (no proposal, no edited or accepted block).
func TestReviewQAFilterOnARejectedDecisionWithText(t *testing.T) {
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

// The aggregate is decoded and encoded again in every write transaction
// that touches one of the project's pages (a decision, a status), and on
// every Busy poll. Its Dims holds one count per dimension value: a
// dimension unique per page (a {slug} in the path pattern) makes it as big
// as the site.
func TestReviewAggregateSizeWithAPerPageDimension(t *testing.T) {
	a := projectAggRec{Pages: 100000, Statuses: map[string]int{"": 100000}, Dims: map[string]map[string]int{"slug": {}, "location": {}}}
	for i := 0; i < 100000; i++ {
		a.Dims["slug"][fmt.Sprintf("watch-repair-service-%06d", i)] = 1
		a.Dims["location"][fmt.Sprintf("town-%04d", i%2000)]++
	}
	b := mustJSON(a)
	start := time.Now()
	var back projectAggRec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	_ = mustJSON(back)
	t.Logf("agg record %d bytes; decode+encode (each write tx, each Busy poll decodes) %v", len(b), time.Since(start))
}

// Derived data that cannot be read fails the write it should follow: an
// unreadable agg: record rolls back every transaction that writes a page,
// status or review of the project (a pull's included), until something
// rebuilds the index, which nothing does (the version stays current).
func TestReviewUnreadableAggregateFailsWrites(t *testing.T) {
	t.Setenv("NIMBUS_EMAIL", "")
	path := filepath.Join(t.TempDir(), "nimbus.db")
	w, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.ensureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
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
