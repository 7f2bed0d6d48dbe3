package workspace

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// checkIndex fails t unless the page index of every project holds exactly
// what the namespaces say: each page's summary as summarize derives it
// from its page, review and status records now, no summary without a page,
// and each project's aggregate the sum of its summaries. openTemp runs it
// when a test ends, so every workspace test checks the index after what it
// did (imports, decisions, pulls, submissions).
func checkIndex(t *testing.T, w *Workspace) {
	t.Helper()
	if v, _ := w.store.Meta(localstore.MetaIndexVersion); v != pageIndexVersion {
		return // never built (nothing read it): rebuilt from scratch on first use
	}
	want := map[string][]byte{}
	aggs := map[string]*projectAggRec{}
	err := w.store.View(func(tx *localstore.Tx) error {
		return tx.List(model.NSPages, "page:", func(key string, _ []byte) error {
			k, err := model.ParseKey(key)
			if err != nil || k.Kind != model.KindPage {
				return nil
			}
			ref := localstore.PageRef{ProjectID: k.ID, PageID: k.Secondary}
			p, _, err := getJSON[model.PageData](tx, model.NSPages, key)
			if err != nil {
				return err
			}
			r, _, _ := getJSON[model.ReviewData](tx, model.NSPages, model.ReviewKey(ref.ProjectID, ref.PageID))
			var st *model.StatusData
			if s, ok, _ := getJSON[model.StatusData](tx, model.NSStatus, model.StatusKey(ref.ProjectID, ref.PageID)); ok {
				st = &s
			}
			sum := summarize(&p, r, st)
			want[summaryKey(ref.ProjectID, ref.PageID)] = encodeSummary(&sum)
			want[pathIndexKey(ref.ProjectID, p.SourcePath)] = []byte(p.PageID)
			if sum.reviewable() {
				want[reviewListKey(ref.ProjectID, ref.PageID)] = []byte{1}
			}
			if aggs[ref.ProjectID] == nil {
				aggs[ref.ProjectID] = &projectAggRec{}
			}
			aggs[ref.ProjectID].add(&sum, 1)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("check the page index: %v", err)
	}
	// every log entry on the timeline, and nothing else
	if err := w.store.View(func(tx *localstore.Tx) error {
		return tx.List(model.NSLogs, "logs:", func(key string, _ []byte) error {
			k, err := model.ParseKey(key)
			if err != nil {
				return nil
			}
			ld, _, err := getJSON[model.LogData](tx, model.NSLogs, key)
			if err != nil {
				return err
			}
			var sufs []string
			path := ""
			if p, ok, _ := getJSON[model.PageData](tx, model.NSPages, model.PageKey(k.ID, k.Secondary)); ok {
				path = p.SourcePath
			}
			for _, e := range ld.Entries {
				want[timelineKey(k.ID, k.Secondary, e)] = timelineValue(e, path)
				sufs = append(sufs, timelineSuffix(k.Secondary, e))
			}
			want[timelineListKey(k.ID, k.Secondary)] = []byte(strings.Join(sufs, "\n"))
			return nil
		})
	}); err != nil {
		t.Fatalf("check the log timeline: %v", err)
	}
	got := map[string][]byte{}
	gotAgg := map[string]projectAggRec{}
	if err := w.store.ScanIndex("", func(k, v []byte) error {
		switch key := string(k); {
		case strings.HasPrefix(key, "rv:") && string(v) == "\x00":
			// off the review list
		case strings.HasPrefix(key, "sum:"), strings.HasPrefix(key, "rv:"), strings.HasPrefix(key, "lt:"), strings.HasPrefix(key, "ltp:"), strings.HasPrefix(key, "pp:"):
			got[key] = append([]byte(nil), v...)
		case strings.HasPrefix(key, "agg:"):
			var a projectAggRec
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			gotAgg[strings.TrimPrefix(key, "agg:")] = a
		default:
			t.Errorf("page index: unknown record %s", key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if string(got[k]) != string(v) && !strings.HasPrefix(k, "sum:") {
			t.Errorf("page index %s:\n got %q\nwant %q", k, got[k], v)
		} else if string(got[k]) != string(v) {
			var g pageSummaryRec
			gerr := decodeSummary(got[k], &g)
			var w pageSummaryRec
			_ = decodeSummary(v, &w)
			t.Errorf("page index %s:\n got %+v (%v)\nwant %+v", k, g, gerr, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("page index %s: a record without a page (or not on the review list)", k)
		}
	}
	for p, a := range aggs {
		if g := gotAgg[p]; !reflect.DeepEqual(g, *a) {
			t.Errorf("page index agg:%s:\n got %+v\nwant %+v", p, g, *a)
		}
	}
	for p, a := range gotAgg {
		if _, ok := aggs[p]; !ok && a.Pages != 0 {
			t.Errorf("page index agg:%s counts %d pages of a project with none", p, a.Pages)
		}
	}
}

// importFixture imports the fixture site (testdata/site/dist) into a new
// project of w and returns the project's ID.
func importFixture(t *testing.T, w *Workspace) string {
	t.Helper()
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	if _, err := w.Import(context.Background(), site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return pid
}

// openIndexed opens a workspace on a store file the test may reopen or
// write to behind it (path), with its index built.
func openIndexed(t *testing.T) (*Workspace, string) {
	t.Helper()
	t.Setenv("NIMBUS_EMAIL", "")
	path := filepath.Join(t.TempDir(), "nimbus.db")
	w, err := OpenWith(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ensureIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w, path
}

// A store written without a workspace (an older Nimbus, a tool) has no
// index, or an outdated one: the first read rebuilds it from the
// namespaces, and what the views read then equals what the records say.
func TestPageIndexRebuiltWhenMissingOrOutdated(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	pid := importFixture(t, w)
	rows, err := w.PageRows(ctx, pid, 0)
	if err != nil || len(rows) == 0 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	// A writer without an indexer: the version is cleared, the summary of
	// the page it changed is now behind.
	w.store.SetIndexer(nil)
	p, err := w.store.GetPage(pid, rows[0].PageID)
	if err != nil {
		t.Fatal(err)
	}
	p.Extraction.Head["title"] = "Changed behind the index's back"
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error { return tx.PutPage(p) }); err != nil {
		t.Fatal(err)
	}
	if v, _ := w.store.Meta(localstore.MetaIndexVersion); v != "" {
		t.Fatalf("index version %q after a write without an indexer, want it cleared", v)
	}
	w.store.SetIndexer(indexPages)
	row, err := w.PageRowOf(pid, rows[0].PageID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Title != "Changed behind the index's back" {
		t.Errorf("row title %q after the rebuild, want the record's", row.Title)
	}
	c, err := w.Counts(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pages != len(rows) {
		t.Errorf("Counts: %d pages, want %d", c.Pages, len(rows))
	}
	checkIndex(t, w)
}

// Decisions, statuses and remote writes move the summary and the
// aggregate in the same transaction.
func TestPageIndexFollowsDecisionsAndStatuses(t *testing.T) {
	w, pid := reviewFixture(t)
	ctx := context.Background()
	blocks, err := w.ReviewBlocks(ctx, pid, ReviewFilter{States: []string{model.ReviewSuggested}})
	if err != nil || len(blocks) == 0 {
		t.Fatalf("%d suggested blocks, %v", len(blocks), err)
	}
	refs := []BlockRef{{blocks[0].PageID, blocks[0].BlockID}}
	before, err := w.Counts(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if before.ReviewStates[model.ReviewSuggested] == 0 {
		t.Fatalf("fixture has no suggested blocks: %+v", before.ReviewStates)
	}
	if _, err := w.Decide(ctx, pid, refs[0].PageID, refs[0].BlockID, model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	after, err := w.Counts(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if after.ReviewStates[model.ReviewRejected] != before.ReviewStates[model.ReviewRejected]+1 ||
		after.ReviewStates[model.ReviewSuggested] != before.ReviewStates[model.ReviewSuggested]-1 || after.Decided != before.Decided+1 {
		t.Errorf("after one reject: %+v (before %+v)", after, before)
	}
	row, err := w.PageRowOf(pid, refs[0].PageID)
	if err != nil || row.Decided == 0 {
		t.Errorf("row of the decided page: %+v, %v", row, err)
	}
	st := model.StatusData{Status: model.StatusProcessing, BatchID: "batch_20261201_120000", Updated: model.Now()}
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		return tx.PutRemote(model.NSStatus, model.StatusKey(pid, refs[0].PageID), model.Canonical(st), "remotehash")
	}); err != nil {
		t.Fatal(err)
	}
	if row, err := w.PageRowOf(pid, refs[0].PageID); err != nil || row.Status.Status != model.StatusProcessing {
		t.Errorf("row after a pulled status: %+v, %v", row.Status, err)
	}
	c, _ := w.Counts(ctx, pid)
	if c.Statuses[model.StatusProcessing] != 1 {
		t.Errorf("Counts.Statuses %v, want one processing", c.Statuses)
	}
	checkIndex(t, w)
}

// The binary form gives back what was encoded, and every truncation of it
// is an error, not a panic or a half-read summary.
func TestSummaryCodecRoundTrip(t *testing.T) {
	full := pageSummaryRec{
		PageID: "page_0123456789ab", SourcePath: "dist/café/ünï.html", Title: "Tïtle", Dimensions: Dims{{"brand", "rolex"}, {"location", "leeds"}},
		Missing: true, Issues: []model.AuditIssue{{Code: "title_missing", Severity: "error", Message: "no title"}, {Code: "x", Severity: "warn", Message: ""}},
		Description: "d", Canonical: "https://x/", H1: "h",
		Status: &model.StatusData{Status: model.StatusFailed, BatchID: "batch_20261201_120000", Updated: "u",
			Processing: &model.ProcessingInfo{Started: "s", CurrentStep: "c", Progress: 42},
			Result:     &model.StatusResult{Completed: "c", Success: true, Changes: 3, Confidence: 0.875},
			Error:      &model.StatusError{Message: "m", Code: "AI_TIMEOUT", Timestamp: "t"}},
		Blocks: 14, Proposals: 3, Decided: 2, Proposing: 4, States: map[string]int{model.ReviewAccepted: 1, model.ReviewRejected: 1, model.ReviewOriginal: 12},
		Broken: "b",
	}
	for _, s := range []pageSummaryRec{{}, {PageID: "p", Status: &model.StatusData{Status: "uploaded"}}, full} {
		b := encodeSummary(&s)
		var got pageSummaryRec
		if err := decodeSummary(b, &got); err != nil {
			t.Fatalf("decode %+v: %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
		lean, want := pageSummaryRec{}, s
		want.States = nil
		if err := decodeSummaryLean(b, &lean, map[string]string{}, &issueLists{}); err != nil || !reflect.DeepEqual(lean, want) {
			t.Errorf("lean read: %v\n got %+v\nwant %+v", err, lean, want)
		}
		for n := 0; n < len(b); n++ {
			if err := decodeSummary(b[:n], &got); err == nil {
				t.Errorf("%d of %d bytes decoded without an error", n, len(b))
			}
		}
	}
}

// The duplicate audit reads hashed fields from the index; it finds what
// extract.AuditDuplicates finds on the pages' own texts (case folded but
// for the canonical URL), here on the fixture site with a description
// and an h1 copied to another page in other case, and a canonical URL
// copied in other case (not a duplicate: URLs are case-sensitive).
func TestDuplicateAuditFromTheIndexMatchesTheTexts(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	pid := importFixture(t, w)
	var pages []model.PageData
	if err := w.store.ListPages(pid, func(p model.PageData) error { pages = append(pages, p); return nil }); err != nil {
		t.Fatal(err)
	}
	// two pages with a meta description and a canonical URL (not every
	// fixture page has them; the order of pages is their ID's)
	var with []model.PageData
	for _, p := range pages {
		if p.Extraction.Head["metaDescription"] != "" && p.Extraction.Head["canonical"] != "" && p.SourceMissing == "" {
			with = append(with, p)
		}
	}
	if len(with) < 2 {
		t.Fatalf("%d fixture pages with a description and a canonical URL", len(with))
	}
	a, b := with[0], with[1]
	b.Extraction.Head["metaDescription"] = strings.ToUpper(a.Extraction.Head["metaDescription"]) + ""
	b.Extraction.Head["canonical"] = strings.ToUpper(a.Extraction.Head["canonical"])
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error { return tx.PutPage(b) }); err != nil {
		t.Fatal(err)
	}
	for i := range pages {
		if pages[i].PageID == b.PageID {
			pages[i] = b
		}
	}
	var raw []extract.AuditPage
	for _, p := range pages {
		if p.SourceMissing == "" {
			raw = append(raw, extract.AuditPage{Key: p.PageID, Title: p.Extraction.Head["title"], Description: p.Extraction.Head["metaDescription"],
				Canonical: p.Extraction.Head["canonical"], H1: firstH1(p.Extraction)})
		}
	}
	want := map[string][]string{}
	for id, issues := range extract.AuditDuplicates(raw) {
		for _, is := range issues {
			want[id] = append(want[id], is.Code)
		}
		sort.Strings(want[id])
	}
	got := map[string][]string{}
	audit, err := w.Audit(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range audit {
		if strings.HasSuffix(is.Code, "_duplicate") {
			got[is.PageID] = append(got[is.PageID], is.Code)
		}
	}
	for id := range got {
		sort.Strings(got[id])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("duplicates from the index:\n got %v\nwant %v", got, want)
	}
	if !slices.Contains(want[b.PageID], "description_duplicate") || slices.Contains(want[b.PageID], "canonical_duplicate") && a.Extraction.Head["canonical"] != strings.ToUpper(a.Extraction.Head["canonical"]) {
		t.Errorf("the fixture does not exercise case folding: %v", want[b.PageID])
	}
}

// RecentLogs gives every entry Logs gives, newest first, filtered, and
// stops at the limit saying there are more.
func TestRecentLogsFromTheTimeline(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	pid := importFixture(t, w)
	rows, err := w.PageRows(ctx, pid, 0)
	if err != nil || len(rows) < 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	// later entries on two pages, one an error
	late := []struct {
		page  string
		entry model.LogEntry
	}{
		{rows[1].PageID, model.LogEntry{Timestamp: "2099-01-01T00:00:00.001Z", Level: model.LevelError, Step: "ai", Message: "model refused the output"}},
		{rows[2].PageID, model.LogEntry{Timestamp: "2099-01-01T00:00:00.002Z", Level: model.LevelInfo, Step: "done", Message: "saved"}},
	}
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, l := range late {
			if err := appendLog(tx, pid, l.page, l.entry); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	all, err := w.Logs(ctx, pid, "")
	if err != nil {
		t.Fatal(err)
	}
	got, more, err := w.RecentLogs(ctx, pid, LogQuery{})
	if err != nil || more {
		t.Fatalf("RecentLogs: more %v, %v", more, err)
	}
	key := func(l LogLine) string { return l.PageID + " " + l.Entry.Timestamp + " " + l.Entry.Message }
	var wantKeys, gotKeys []string
	for _, l := range all {
		wantKeys = append(wantKeys, key(l))
	}
	for i, l := range got {
		gotKeys = append(gotKeys, key(l))
		if i > 0 && l.Entry.Timestamp > got[i-1].Entry.Timestamp {
			t.Fatalf("entry %d (%s) is newer than the one before (%s)", i, l.Entry.Timestamp, got[i-1].Entry.Timestamp)
		}
	}
	sort.Strings(wantKeys)
	sort.Strings(gotKeys)
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("RecentLogs has %d entries, Logs %d", len(gotKeys), len(wantKeys))
	}
	if got[0].Entry.Message != "saved" || got[1].Entry.Message != "model refused the output" {
		t.Errorf("newest first: %q, %q", got[0].Entry.Message, got[1].Entry.Message)
	}
	if two, more, _ := w.RecentLogs(ctx, pid, LogQuery{Limit: 2}); len(two) != 2 || !more {
		t.Errorf("Limit 2: %d entries, more %v", len(two), more)
	}
	if errs, _, _ := w.RecentLogs(ctx, pid, LogQuery{Level: model.LevelError}); len(errs) != 1 || errs[0].PageID != rows[1].PageID {
		t.Errorf("level error: %+v", errs)
	}
	path := strings.ToUpper(rows[2].SourcePath[strings.LastIndexByte(rows[2].SourcePath, '/')+1:])
	byPath, _, _ := w.RecentLogs(ctx, pid, LogQuery{Text: path})
	if len(byPath) == 0 || byPath[0].PageID != rows[2].PageID {
		t.Errorf("text %q (the page's file name): %+v", path, byPath)
	}
	one, _, _ := w.RecentLogs(ctx, pid, LogQuery{PageID: rows[1].PageID})
	if len(one) < 2 || one[0].Entry.Message != "model refused the output" {
		t.Errorf("one page, newest first: %+v", one)
	}
}

// The summary counts what reviewBlocks lists: blocks per state and blocks
// with a proposal, on the review fixture after decisions of every kind.
func TestSummaryCountsWhatReviewBlocksLists(t *testing.T) {
	w, pid := reviewFixture(t)
	ctx := context.Background()
	blocks, err := w.ReviewBlocks(ctx, pid, ReviewFilter{States: []string{model.ReviewSuggested}})
	if err != nil || len(blocks) < 4 {
		t.Fatalf("%d suggested blocks, %v", len(blocks), err)
	}
	for i, state := range []string{model.ReviewAccepted, model.ReviewRejected, model.ReviewEdited, model.ReviewOriginal} {
		text := ""
		if state == model.ReviewEdited {
			text = "An edit."
		}
		if state == model.ReviewAccepted && blocks[i].HasQAError() {
			continue
		}
		if _, err := w.Decide(ctx, pid, blocks[i].PageID, blocks[i].BlockID, state, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.ListPages(pid, func(p model.PageData) error {
		r, _ := w.store.GetReview(pid, p.PageID)
		want := map[string]int{}
		proposing := 0
		for _, b := range reviewBlocks(p, r) {
			want[b.State]++
			if b.Proposal() != "" {
				proposing++
			}
		}
		s := summarize(&p, r, nil)
		if !reflect.DeepEqual(s.States, want) || s.Proposing != proposing {
			t.Errorf("%s: summary states %v proposing %d, reviewBlocks %v and %d", p.SourcePath, s.States, s.Proposing, want, proposing)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// The first screen is the first pages in path order: the table does not
// jump when the full read replaces it.
func TestFirstScreenIsTheFirstPagesByPath(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	pid := importFixture(t, w)
	all, err := w.PageRows(ctx, pid, 0)
	if err != nil || len(all) < 20 {
		t.Fatalf("%d rows, %v", len(all), err)
	}
	first, err := w.PageRows(ctx, pid, 20)
	if err != nil || len(first) != 20 {
		t.Fatalf("first screen: %d rows, %v", len(first), err)
	}
	for i := range first {
		if first[i].SourcePath != all[i].SourcePath {
			t.Fatalf("first screen row %d is %s, the table's is %s", i, first[i].SourcePath, all[i].SourcePath)
		}
	}
}
