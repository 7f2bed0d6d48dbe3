package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/ui/internal/fixture"
	"github.com/nimbus-desktop/nimbus/workspace"
)

const fixtureSite = "../testdata/site/dist"

// openWorkspace opens a workspace on a fresh store in a temp dir.
func openWorkspace(t *testing.T) *workspace.Workspace {
	t.Helper()
	st, ws, err := fixture.Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	testStores.Store(ws, st)
	t.Cleanup(func() { testStores.Delete(ws); ws.Close() })
	return ws
}

// testStores holds the store under each test workspace: tests write what a
// pull or the Worker would, as the views never do.
var testStores gosync.Map

func storeOf(ws *workspace.Workspace) *localstore.Store {
	st, _ := testStores.Load(ws)
	return st.(*localstore.Store)
}

// newShell builds the shell on a test app in synchronous mode.
func newShell(t *testing.T, ws *workspace.Workspace) *Shell {
	t.Helper()
	s := New(test.NewTempApp(t), ws, Options{Synchronous: true})
	t.Cleanup(s.Close)
	s.win.Resize(fyne.NewSize(1240, 800))
	return s
}

// fixtureShell is a shell on a store holding the fixture site, 5 pages
// optimized and in a batch.
func fixtureShell(t *testing.T) (*Shell, *workspace.Workspace, string) {
	t.Helper()
	ws := openWorkspace(t)
	proj, err := fixture.Write(context.Background(), storeOf(ws), ws, fixtureSite, "repairsbypost.com", fixture.Options{Optimized: 5, Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	return newShell(t, ws), ws, proj
}

// waitEvent waits until the shell's hub holds the event for key, then
// delivers pending changes (the store publishes after commit, on its own
// goroutine).
func waitEvent(t *testing.T, s *Shell, key string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !s.hub.has(key) {
		if time.Now().After(deadline) {
			t.Fatalf("no change event for %s within 3 s", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Flush()
}

func TestPagesListShowsEveryPage(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	n, err := storeOf(ws).Count(model.NSPages, model.ProjectPrefix(model.KindPage, proj))
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("fixture has %d pages; expected the whole fixture site", n)
	}
	if len(s.pages.rows) != n || len(s.pages.filtered) != n {
		t.Fatalf("pages view has %d rows (%d shown), store has %d pages", len(s.pages.rows), len(s.pages.filtered), n)
	}
	if rows, _ := s.pages.table.Length(); rows != n {
		t.Fatalf("table reports %d rows, want %d", rows, n)
	}
	if s.pages.stack.Objects[0] != s.pages.tableArea {
		t.Fatal("the empty state is shown although the project has pages")
	}
	if got := s.projectSelect.Selected; got != "repairsbypost.com" {
		t.Errorf("project switcher shows %q", got)
	}

	// Filters: status, dimension, search.
	s.pages.statusSel.SetSelected(model.StatusDone)
	if len(s.pages.filtered) != 5 {
		t.Errorf("status done: %d rows, want 5", len(s.pages.filtered))
	}
	s.pages.statusSel.SetSelected(filterAll)
	s.pages.dimSelect("brand").SetSelected("rolex")
	for _, i := range s.pages.filtered {
		if s.pages.rows[i].dims.Get("brand") != "rolex" {
			t.Fatalf("brand filter shows %s", s.pages.rows[i].path)
		}
	}
	if len(s.pages.filtered) == 0 {
		t.Fatal("brand = rolex shows nothing")
	}
	s.pages.dimSelect("brand").SetSelected(dimAny("brand"))
	test.Type(s.pages.search, "birmingham/rolex-servicing")
	if len(s.pages.filtered) != 1 {
		t.Fatalf("search shows %d rows, want 1", len(s.pages.filtered))
	}
	if !strings.Contains(s.pages.countLabel.Text, "1 of") {
		t.Errorf("count label %q", s.pages.countLabel.Text)
	}

	// Selecting the row opens the detail panel with the head and audit.
	s.pages.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if s.pages.selected != s.pages.rows[s.pages.filtered[0]].id || s.pages.body.Objects[0] != s.pages.split {
		t.Fatal("selecting a row did not open the page detail")
	}
}

func TestStatusChangeUpdatesOneRow(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	target := s.pages.rows[len(s.pages.rows)-1]
	before := make([]string, len(s.pages.rows))
	for i, r := range s.pages.rows {
		before[i] = strings.Join(s.pages.rowText(r.id), "|")
	}
	rowsBefore := &s.pages.rows[0]

	st := model.StatusData{Status: model.StatusProcessing, BatchID: model.BatchID(time.Now()), Updated: model.Now(),
		Processing: &model.ProcessingInfo{Started: model.Now(), CurrentStep: "optimize", Progress: 60}}
	key := model.StatusKey(proj, target.id)
	if err := storeOf(ws).Update(context.Background(), func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSStatus, key, st)
	}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, key)

	if got := s.pages.rowText(target.id)[4]; got != "processing · optimize 60%" {
		t.Fatalf("status cell = %q", got)
	}
	if &s.pages.rows[0] != rowsBefore {
		t.Error("the rows were rebuilt for a status change")
	}
	changed := 0
	for i, r := range s.pages.rows {
		if strings.Join(s.pages.rowText(r.id), "|") != before[i] {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d rows changed, want 1", changed)
	}
	// The sync chip counts the new change.
	if !strings.Contains(s.syncChip.Text, "waiting") {
		t.Errorf("sync chip %q", s.syncChip.Text)
	}
}

func TestBatchesShowProgressAndLiveStatus(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	if len(s.batches.batches) != 1 {
		t.Fatalf("%d batches, want 1", len(s.batches.batches))
	}
	b := s.batches.batches[0]
	if got := batchFigures(b, 5, ""); !strings.Contains(got, "5 done") || !strings.Contains(got, "1 failed") || !strings.Contains(got, "ETA") {
		t.Errorf("batch figures %q", got)
	}
	s.batches.list.Select(0)
	if len(s.batches.pageIDs) != b.PageCount {
		t.Fatalf("open batch lists %d pages, want %d", len(s.batches.pageIDs), b.PageCount)
	}
	var queued string
	for id, bp := range b.Pages {
		if bp.Status == model.StatusQueued {
			queued = id
			break
		}
	}
	key := model.StatusKey(proj, queued)
	err := storeOf(ws).Update(context.Background(), func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSStatus, key, model.StatusData{Status: model.StatusFailed, BatchID: b.BatchID, Updated: model.Now(),
			Error: &model.StatusError{Code: "AI_RATE_LIMIT", Message: "429 from the model", Timestamp: model.Now()}})
	})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, key)
	if st, detail := s.batches.pageStatus(queued); st != model.StatusFailed || !strings.Contains(detail, "AI_RATE_LIMIT") {
		t.Fatalf("open batch row = %q %q, want failed with the code", st, detail)
	}
}

func TestReviewByTapsAndShortcuts(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	if len(s.review.blocks) == 0 {
		t.Fatal("the review screen lists no proposals")
	}
	stored := func(b workspace.ReviewBlock) model.ReviewDecision {
		t.Helper()
		r, err := storeOf(ws).GetReview(proj, b.PageID)
		if err != nil {
			t.Fatalf("no review record for %s: %v", b.SourcePath, err)
		}
		return r.Blocks[b.BlockID]
	}

	// Accept by tapping.
	first := s.review.blocks[0]
	if first.HasQAError() {
		t.Fatalf("fixture's first proposal fails QA: %+v", first.QA)
	}
	test.Tap(s.review.accept)
	if d := stored(first); d.State != model.ReviewAccepted || d.Text != first.Suggested {
		t.Fatalf("after tapping Accept: %+v", d)
	}
	if s.review.cur != 1 {
		t.Fatalf("accept did not move to the next block (cur %d)", s.review.cur)
	}

	// Reject by the R shortcut.
	second := s.review.blocks[1]
	test.TypeOnCanvas(s.win.Canvas(), "r")
	if d := stored(second); d.State != model.ReviewRejected {
		t.Fatalf("after typing r: %+v", d)
	}

	// Edit: O copies the original into the editor, typing changes it, Save stores it.
	third := s.review.blocks[2]
	test.TypeOnCanvas(s.win.Canvas(), "o")
	if s.review.editor.Text != third.Original {
		t.Fatalf("o put %q in the editor, want the original", s.review.editor.Text)
	}
	// The keyboard is in the editor, caret at the end: typing adds to the text.
	test.Type(s.review.editor, " Call today.")
	if s.review.editor.Text != third.Original+" Call today." {
		t.Fatalf("typing after o gave %q", s.review.editor.Text)
	}
	test.Tap(s.review.saveBtn)
	if d := stored(third); d.State != model.ReviewEdited || d.Text != third.Original+" Call today." {
		t.Fatalf("after saving an edit: %+v", d)
	}
	// A then accepts the edit.
	test.TypeOnCanvas(s.win.Canvas(), "a")
	if d := stored(third); d.State != model.ReviewAccepted || d.Text != third.Original+" Call today." {
		t.Fatalf("accepting the edit: %+v", d)
	}

	// K goes back, U undoes the decision.
	test.TypeOnCanvas(s.win.Canvas(), "kk")
	if s.review.cur != 1 {
		t.Fatalf("k k: cur = %d, want 1", s.review.cur)
	}
	test.TypeOnCanvas(s.win.Canvas(), "u")
	if d := stored(second); d.State != model.ReviewOriginal {
		t.Fatalf("after u: %+v", d)
	}
	if s.review.blocks[1].State != model.ReviewSuggested {
		t.Fatalf("undone block shows %q", s.review.blocks[1].State)
	}

	// The pages table follows the decisions (review progress column).
	s.Flush()
	deadline := time.Now().Add(3 * time.Second)
	for s.pages.rowText(first.PageID)[5] == "0/"+strings.Split(s.pages.rowText(first.PageID)[5], "/")[1] && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		s.Flush()
	}
	if got := s.pages.rowText(first.PageID)[5]; strings.HasPrefix(got, "0/") {
		t.Errorf("review progress of %s = %q after decisions", first.SourcePath, got)
	}
}

func TestReviewFilterAndBulkAccept(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	s.review.typeSel.SetSelected("h1")
	for _, b := range s.review.blocks {
		if b.Type != "h1" {
			t.Fatalf("type filter shows a %s block", b.Type)
		}
	}
	n := len(s.review.blocks)
	if n == 0 {
		t.Fatal("no h1 proposals")
	}
	ok, _ := workspace.Acceptable(s.review.blocks)
	s.review.applyBulk(ok, model.ReviewAccepted)
	all, err := ws.ReviewBlocks(context.Background(), proj, workspace.ReviewFilter{BlockType: "h1", States: []string{model.ReviewAccepted}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ok) {
		t.Fatalf("%d h1 blocks accepted in the store, want %d", len(all), len(ok))
	}
}

func TestSettingsPersist(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(5)
	v := s.settings
	v.tone.SetText("premium")
	v.maxPages.SetText("250")
	v.concurrency.SetText("3")
	v.mainSelector.SetText("#content")
	v.sources.SetSelected([]string{"path", "meta"})
	test.Tap(v.save)
	p, err := ws.Project(proj)
	if err != nil {
		t.Fatal(err)
	}
	st := p.Settings
	if st.Tone != "premium" || st.MaxPagesPerBatch != 250 || st.DefaultConcurrency != 3 || st.MainSelector != "#content" ||
		strings.Join(st.DimensionSources, ",") != "path,meta" {
		t.Fatalf("stored settings %+v", st)
	}
	// A bad number is refused with a message and nothing is stored.
	v.maxPages.SetText("lots")
	test.Tap(v.save)
	if p2, _ := ws.Project(proj); p2.Settings.MaxPagesPerBatch != 250 {
		t.Fatal("an invalid number was stored")
	}
	// A new window on the same store shows the stored values.
	s2 := newShell(t, ws)
	if s2.settings.tone.Text != "premium" || s2.settings.maxPages.Text != "250" {
		t.Fatalf("reopened settings show tone %q, max pages %q", s2.settings.tone.Text, s2.settings.maxPages.Text)
	}

	// API keys: create shows the key once and lists it by hash only.
	v.keyName.SetText("CI key")
	v.createKey()
	if len(v.keys) != 1 || v.keys[0].Data.Name != "CI key" || !v.keys[0].Data.Active {
		t.Fatalf("keys after create: %+v", v.keys)
	}
}

func TestDataBrowser(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(4)
	var pagesIdx int
	for i, ns := range model.Namespaces {
		if ns == model.NSPages {
			pagesIdx = i
		}
	}
	s.data.nsList.Select(pagesIdx)
	n, _ := storeOf(ws).Count(model.NSPages, "")
	if len(s.data.keys) != n || s.data.counts[pagesIdx] != n {
		t.Fatalf("data browser lists %d keys (count %d), store has %d", len(s.data.keys), s.data.counts[pagesIdx], n)
	}
	test.Type(s.data.filter, "page:"+proj+":")
	s.data.keyList.Select(0)
	if !strings.HasPrefix(s.data.key, "page:"+proj+":") || !strings.Contains(s.data.json.Text, "\n  \"page_id\": ") {
		t.Fatalf("opened %q: %.80q", s.data.key, s.data.json.Text)
	}
	test.Tap(s.data.copyKey)
	if got := s.app.Clipboard().Content(); got != s.data.key {
		t.Errorf("clipboard %q, want the key", got)
	}
}

func TestLogsFilter(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(3)
	if len(s.logs.visible) == 0 {
		t.Fatal("no log entries shown")
	}
	s.logs.level.SetSelected(model.LevelWarn)
	for _, l := range s.logs.visible {
		if l.entry.Level != model.LevelWarn {
			t.Fatalf("level filter shows %s", l.entry.Level)
		}
	}
	s.logs.level.SetSelected(filterAll)
	s.logs.step.SetSelected("extract")
	for _, l := range s.logs.visible {
		if l.entry.Step != "extract" {
			t.Fatalf("step filter shows %s", l.entry.Step)
		}
	}
}

func TestDropRejectsFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "index.html")
	if err := os.WriteFile(file, []byte("<html></html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	test.NewTempApp(t)
	_, err := droppedFolder([]fyne.URI{storage.NewFileURI(file)})
	if !errors.Is(err, ErrNotAFolder) || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("dropping a file: %v", err)
	}
	got, err := droppedFolder([]fyne.URI{storage.NewFileURI(file), storage.NewFileURI(dir)})
	if err != nil || got != dir {
		t.Fatalf("dropping a file and a folder: %q, %v", got, err)
	}

	s := newShell(t, openWorkspace(t))
	s.HandleDrop(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI(file)})
	if s.win.Canvas().Overlays().Top() == nil {
		t.Fatal("dropping a file showed no message")
	}
}

func TestEmptyStateGolden(t *testing.T) {
	s := newShell(t, openWorkspace(t))
	if s.pages.stack.Objects[0] != s.pages.emptyState {
		t.Fatal("a fresh store does not show the empty state")
	}
	test.AssertImageMatches(t, "empty_state.png", s.win.Canvas().Capture())
}

func TestPagesGolden(t *testing.T) {
	s, _, _ := fixtureShell(t)
	test.AssertImageMatches(t, "pages.png", s.win.Canvas().Capture())
	s.tabs.SelectIndex(2)
	test.AssertImageMatches(t, "review.png", s.win.Canvas().Capture())
}

func BenchmarkLoadPageRows10k(b *testing.B) {
	dir := b.TempDir()
	st, ws, err := fixture.Open(filepath.Join(dir, "n.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	proj, err := fixture.Write(context.Background(), st, ws, fixtureSite, "bench", fixture.Options{Pages: 10000, Optimized: 100})
	if err != nil {
		b.Fatal(err)
	}
	// all: what the view loads (workspace decodes only the table's
	// fields); first: the first screen the window shows while the rest
	// loads.
	ctx := context.Background()
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
			rows, err := ws.PageRows(ctx, proj, 0)
			if err != nil || len(rows) != 10000 {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
			rowsOf(rows)
		}
	})
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if rows, err := ws.PageRows(ctx, proj, firstScreenRows); err != nil || len(rows) != firstScreenRows {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
	})
}

func TestSubmitCreatesBatch(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.pages.dimSelect("brand").SetSelected("omega")
	want := 0
	for _, i := range s.pages.filtered {
		if s.pages.rows[i].status == "" {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no unsubmitted omega pages in the fixture")
	}
	res, err := s.pages.submit(submitFiltered, 7)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != want || len(res.Batches) != 1 {
		t.Fatalf("submitted %d pages in %v, want %d in one batch", res.Pages, res.Batches, want)
	}
	key := model.BatchKey(proj, res.Batches[0])
	waitEvent(t, s, key)
	if len(s.batches.batches) != 2 || s.batches.batches[0].BatchID != res.Batches[0] {
		t.Fatalf("batches view: %d batches, newest %s", len(s.batches.batches), s.batches.batches[0].BatchID)
	}
	for _, i := range s.pages.filtered {
		if r := s.pages.rows[i]; r.status != model.StatusQueued && r.status != model.StatusDone && r.status != model.StatusFailed {
			t.Fatalf("%s is %q after submit, want queued", r.path, r.status)
		}
	}
	q, err := storeOf(ws).GetQueue(proj)
	if err != nil || len(q.Items) < want || q.Items[len(q.Items)-1].Priority != 7 {
		t.Fatalf("queue after submit: %+v, %v", q, err)
	}
}

func TestDropImportsSite(t *testing.T) {
	ws := openWorkspace(t)
	s := newShell(t, ws)
	site, err := filepath.Abs(fixtureSite)
	if err != nil {
		t.Fatal(err)
	}
	s.HandleDrop(fyne.NewPos(100, 100), []fyne.URI{storage.NewFileURI(site)})

	if s.project == "" || s.projectSelect.Selected != "site" {
		t.Fatalf("no project created from the drop (current %q, switcher %q)", s.project, s.projectSelect.Selected)
	}
	res := s.intake.lastResult
	if res.Written < 100 || res.Written+res.Failed != res.Files {
		t.Fatalf("import result %+v", res)
	}
	if len(s.pages.rows) != res.Written || s.pages.stack.Objects[0] != s.pages.tableArea {
		t.Fatalf("pages view shows %d rows after importing %d pages", len(s.pages.rows), res.Written)
	}
	top := s.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no import summary shown")
	}
	// A first import: every written page is new, none changed.
	want := []string{groupDigits(res.Written) + " new pages", "0 changed pages"}
	for _, w := range want {
		if !overlayHasText(top, w) {
			t.Errorf("import summary lacks %q", w)
		}
	}
	// The progress bar saw the whole folder.
	if s.intake.progress.Value != s.intake.progress.Max || s.intake.progress.Max < float64(res.Files) {
		t.Errorf("progress %v of %v after importing %d files", s.intake.progress.Value, s.intake.progress.Max, res.Files)
	}
	// Every imported page waits to be submitted, by the rule Submit uses
	// (the dialog offered "Every page not yet submitted (0)" when the rows
	// said "uploaded").
	for _, r := range s.pages.rows {
		if got := r.statusText(); got != statusNotSent {
			t.Fatalf("%s reads %q after the import, want %q", r.path, got, statusNotSent)
		}
	}
	if n := s.pages.notSubmitted(); n != res.Written {
		t.Errorf("Submit would offer %d pages not yet submitted, want %d", n, res.Written)
	}
}

func TestExportWritesAcceptedChanges(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(2)
	first := s.review.blocks[0]
	test.Tap(s.review.accept)
	site, err := filepath.Abs(fixtureSite)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	s.review.export(out, site)
	res := s.review.lastExport
	if res.Blocks < 1 || res.PagesChanged < 1 || res.Files < 100 {
		t.Fatalf("export result %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(out), "out", strings.TrimPrefix(first.SourcePath, "dist/")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), first.Suggested) {
		t.Fatalf("exported %s lacks the accepted %q", first.SourcePath, first.Suggested)
	}
}

func TestReviewMarkedBulkAndShortcutSheet(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	c := s.win.Canvas()
	test.TypeOnCanvas(c, "xjx")
	targets, scope := s.review.bulkScope()
	if scope != "marked" || len(targets) != 2 {
		t.Fatalf("after x j x: %d blocks %s, want 2 marked", len(targets), scope)
	}
	if !strings.HasPrefix(s.review.rejectAll.Text, "Reject 2 marked") {
		t.Errorf("bulk button says %q", s.review.rejectAll.Text)
	}
	s.review.applyBulk(targets, model.ReviewRejected)
	rejected, err := ws.ReviewBlocks(context.Background(), proj, workspace.ReviewFilter{States: []string{model.ReviewRejected}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 2 || len(s.review.marked) != 0 {
		t.Fatalf("%d rejected in the store (want 2), %d still marked", len(rejected), len(s.review.marked))
	}

	if c.Overlays().Top() != nil {
		t.Fatal("an overlay is open before '?'")
	}
	test.TypeOnCanvas(c, "?")
	if c.Overlays().Top() == nil {
		t.Fatal("'?' did not open the shortcut sheet")
	}
}

// A change set holding a project change (usage, settings) and page changes
// must reach the views too (an import updates both in one tick).
func TestProjectChangeDoesNotSwallowRowChanges(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	target := s.pages.rows[0]
	key := model.StatusKey(proj, target.id)
	if _, err := ws.UpdateSettings(context.Background(), proj, func(st *model.ProjectSettings) { st.Tone = "casual" }); err != nil {
		t.Fatal(err)
	}
	err := storeOf(ws).Update(context.Background(), func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSStatus, key, model.StatusData{Status: model.StatusQueued, BatchID: model.BatchID(time.Now()), Updated: model.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !(s.hub.has(key) && s.hub.has(model.ProjectKey(proj))) {
		if time.Now().After(deadline) {
			t.Fatal("events did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Flush()
	if got := s.pages.rowText(target.id)[4]; got != model.StatusQueued {
		t.Fatalf("status cell %q after a tick with a project change", got)
	}
	if s.settings.tone.Text != "casual" {
		t.Errorf("settings form shows tone %q after the settings changed elsewhere", s.settings.tone.Text)
	}
}

// "Last changed" is brought up to date when the screen is shown again, not
// left at what it read when the project was loaded.
func TestSettingsLastChangedAges(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(5)
	v := s.settings
	v.stamp = model.FormatTime(time.Now().Add(-2*time.Hour - time.Minute))
	s.tabs.SelectIndex(0)
	s.tabs.SelectIndex(5)
	if got := v.saved.Text; got != "Last changed 2 h ago" {
		t.Fatalf("after two hours the label reads %q", got)
	}
}

func TestSettingsRequestBudgetAndTokenPlace(t *testing.T) {
	t.Setenv("CLOUDFLARE_API_TOKEN", "")
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", "")
	s, ws, _ := fixtureShell(t)
	s.tabs.SelectIndex(5)
	v := s.settings
	if v.cfRate.Text != "3" {
		t.Fatalf("budget shows %q, want the default 3", v.cfRate.Text)
	}
	if !strings.Contains(v.cfWhere.Text, "not set") {
		t.Fatalf("token place %q, want 'not set' without credentials", v.cfWhere.Text)
	}
	v.cfRate.SetText("1.5")
	test.Tap(v.cfRateSet)
	if got := ws.Connection().Rate; got != 1.5 {
		t.Fatalf("stored budget %g, want 1.5", got)
	}
	v.cfRate.SetText("50")
	test.Tap(v.cfRateSet)
	if got := ws.Connection().Rate; got != 1.5 {
		t.Fatalf("an over-budget rate was stored: %g", got)
	}
	// Without credentials the test reports the problem and changes nothing.
	test.Tap(v.cfTest)
	if v.cfTest.Disabled() || v.cfResult.Text != "" {
		t.Fatalf("after a failed test: button disabled %v, result %q", v.cfTest.Disabled(), v.cfResult.Text)
	}
	if s2 := newShell(t, ws); s2.settings.cfRate.Text != "1.5" {
		t.Fatalf("reopened settings show budget %q", s2.settings.cfRate.Text)
	}
}

// The tray's pause item cancels the running watch and then offers to resume.
func TestTrayPauseItemToggles(t *testing.T) {
	s := newShell(t, openWorkspace(t))
	menu := s.trayMenu()
	item := menu.Items[2]
	if item.Label != "Pause watching" {
		t.Fatalf("pause item starts as %q", item.Label)
	}
	cancelled := 0
	s.intake.mu.Lock()
	s.intake.cancel = func() { cancelled++ }
	s.intake.mu.Unlock()

	item.Action()
	if item.Label != "Resume watching" || cancelled != 1 {
		t.Fatalf("after pausing: label %q, watch cancelled %d times", item.Label, cancelled)
	}
	item.Action()
	if item.Label != "Pause watching" || cancelled != 1 {
		t.Fatalf("after resuming: label %q, watch cancelled %d times", item.Label, cancelled)
	}
	item.Action()
	if item.Label != "Resume watching" || cancelled != 2 {
		t.Fatalf("after pausing again: label %q, watch cancelled %d times", item.Label, cancelled)
	}
}

// overlayHasText reports whether a label under o contains text.
func overlayHasText(o fyne.CanvasObject, text string) bool {
	switch w := o.(type) {
	case *widget.Label:
		return strings.Contains(w.Text, text)
	case *fyne.Container:
		for _, c := range w.Objects {
			if overlayHasText(c, text) {
				return true
			}
		}
		return false
	case fyne.Widget:
		r := test.WidgetRenderer(w)
		for _, c := range r.Objects() {
			if overlayHasText(c, text) {
				return true
			}
		}
	}
	return false
}

// README's "Keyboard shortcuts" section lists every entry of the sheet.
func TestReadmeListsShortcuts(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Keyboard shortcuts")
	if i < 0 {
		t.Fatal("README.md has no Keyboard shortcuts section")
	}
	sec := readme[i:]
	if j := strings.Index(sec[1:], "\n## "); j >= 0 {
		sec = sec[:j+1]
	}
	for _, list := range [][]shortcut{globalShortcuts, reviewShortcuts} {
		for _, sc := range list {
			if row := "| " + sc.keys + " | " + sc.what + " |"; !strings.Contains(sec, row) {
				t.Errorf("README.md Keyboard shortcuts lacks the row %q", row)
			}
		}
	}
}

// "Accept all" (and a marked selection) acts on undecided blocks only: a
// rejected and an edited block stay as the editor left them, and the
// confirmation says how many were left alone (DESIGN.md section 7).
func TestBulkAcceptLeavesDecidedBlocksAlone(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	ctx := context.Background()
	var sugg []workspace.ReviewBlock
	for _, b := range s.review.blocks {
		if b.State == model.ReviewSuggested {
			sugg = append(sugg, b)
		}
	}
	if len(sugg) < 4 {
		t.Fatalf("fixture has %d suggested blocks", len(sugg))
	}
	rej, ed := sugg[0], sugg[1]
	if _, err := ws.Decide(ctx, proj, rej.PageID, rej.BlockID, model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Decide(ctx, proj, ed.PageID, ed.BlockID, model.ReviewEdited, "My own words for this block."); err != nil {
		t.Fatal(err)
	}
	var free, other workspace.ReviewBlock
	for _, b := range sugg[2:] {
		if !b.HasQAError() {
			if free.BlockID == "" {
				free = b
			} else if other.BlockID == "" {
				other = b
			}
		}
	}
	if other.BlockID == "" {
		t.Fatal("fixture has fewer than two suggested blocks without QA errors")
	}
	s.review.reload()
	for _, marked := range []bool{true, false} {
		if marked {
			for _, b := range []workspace.ReviewBlock{rej, ed, free} {
				s.review.setMark(b, true)
			}
		}
		targets, scope, left, _ := s.review.bulkTargets(model.ReviewAccepted)
		if left < 2 {
			t.Errorf("%s: %d decided blocks left alone, want at least 2", scope, left)
		}
		for _, b := range targets {
			if b.State != model.ReviewSuggested {
				t.Errorf("%s: bulk accept would decide %s %s, which is %s", scope, b.PageID, b.BlockID, b.State)
			}
		}
		if marked && (scope != "marked" || len(targets) != 1 || targets[0].BlockID != free.BlockID || targets[0].PageID != free.PageID) {
			t.Errorf("marked: %d targets in scope %q, want the one undecided marked block", len(targets), scope)
		}
		s.review.applyBulk(targets, model.ReviewAccepted)
	}
	got := map[string]string{}
	all, err := ws.ReviewBlocks(context.Background(), proj, workspace.ReviewFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		got[b.PageID+" "+b.BlockID] = b.State + " " + b.Text
	}
	if g := got[rej.PageID+" "+rej.BlockID]; g != model.ReviewRejected+" " {
		t.Errorf("the rejected block is now %q", g)
	}
	if g := got[ed.PageID+" "+ed.BlockID]; g != model.ReviewEdited+" My own words for this block." {
		t.Errorf("the edited block is now %q", g)
	}
	for _, b := range []workspace.ReviewBlock{free, other} {
		if g := got[b.PageID+" "+b.BlockID]; !strings.HasPrefix(g, model.ReviewAccepted) {
			t.Errorf("undecided block %s %s without QA errors was not accepted: %q", b.PageID, b.BlockID, g)
		}
	}
}

// Ctrl+O on another site's folder while a project is open: nothing is
// merged; the editor is asked, and "New project" imports it into a project
// of its own while the first project's pages stay as they were.
func TestAnotherSiteIsNotMergedSilently(t *testing.T) {
	ws := openWorkspace(t)
	s := newShell(t, ws)
	base := t.TempDir()
	write := func(dir string, names ...string) string {
		for _, n := range names {
			p := filepath.Join(base, dir, n)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("<html><head><title>"+n+"</title></head><body><main><h1>"+dir+" "+n+"</h1></main></body></html>"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(base, dir)
	}
	siteA := write("timekeepers/dist", "index.html", "a.html", "b.html")
	siteB := write("watchworks/dist", "index.html", "x.html", "y.html", "z.html")
	s.intake.importFolder(siteA)
	first := s.project
	if first == "" {
		t.Fatal("no project after the first import")
	}
	pagesOf := func(pid string) int {
		n, err := storeOf(ws).Count(model.NSPages, model.ProjectPrefix(model.KindPage, pid))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if pagesOf(first) != 3 {
		t.Fatalf("first site: %d pages", pagesOf(first))
	}
	s.intake.importFolder(siteB)
	if s.intake.otherSite == nil {
		t.Fatal("importing another site's folder asked nothing")
	}
	if pagesOf(first) != 3 {
		t.Fatalf("the other site was written into the open project before the editor chose: %d pages", pagesOf(first))
	}
	// The question's first button: a new project for it.
	var newBtn *widget.Button
	for _, o := range test.LaidOutObjects(s.win.Canvas().Overlays().Top()) {
		if b, ok := o.(*widget.Button); ok && strings.HasPrefix(b.Text, "New project") {
			newBtn = b
		}
	}
	if newBtn == nil || !strings.Contains(newBtn.Text, "watchworks") {
		t.Fatalf("no New project button naming the site: %v", newBtn)
	}
	test.Tap(newBtn)
	if s.project == first || s.project == "" {
		t.Fatalf("current project after New project: %q (first %q)", s.project, first)
	}
	if pagesOf(s.project) != 4 || pagesOf(first) != 3 {
		t.Fatalf("pages: new project %d (want 4), first %d (want 3)", pagesOf(s.project), pagesOf(first))
	}
	for _, p := range s.projects {
		if p.ProjectID == first && p.Name != "timekeepers" {
			t.Errorf("first project named %q, want timekeepers (not dist)", p.Name)
		}
	}
	if got, err := ws.Status(context.Background(), first, ""); err == nil && got.Counts["missing"] > 0 {
		t.Errorf("first project has missing pages: %+v", got.Counts)
	}
}

// A batch with failed pages offers "Retry N failed": confirmed, the failed
// pages go into a new batch, queued.
func TestBatchRetryFailed(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	var batch string
	_ = storeOf(ws).ListBatches(proj, func(b model.BatchData) error {
		if len(b.Pages) >= 3 {
			batch = b.BatchID
		}
		return nil
	})
	if batch == "" {
		t.Fatal("fixture has no batch")
	}
	b, err := localstore.GetJSON[model.BatchData](storeOf(ws), model.NSBatches, model.BatchKey(proj, batch))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range b.Pages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err = storeOf(ws).Update(context.Background(), func(tx *localstore.Tx) error {
		for _, id := range ids[:2] {
			st := model.StatusData{Status: model.StatusFailed, BatchID: batch, Updated: model.Now(),
				Error: &model.StatusError{Message: "AI API: HTTP 500", Code: "AI_ERROR", Timestamp: model.Now()}}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(proj, id), st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, id := range ids {
		if st, err := storeOf(ws).GetStatus(proj, id); err == nil && st.BatchID == batch && st.Status == model.StatusFailed {
			failed = append(failed, id)
		}
	}
	s.tabs.SelectIndex(1)
	s.batches.load(proj)
	s.batches.openBatch(batch)
	if !s.batches.retry.Visible() || s.batches.retry.Text != fmt.Sprintf("Retry %d failed", len(failed)) {
		t.Fatalf("retry button: visible %v, %q", s.batches.retry.Visible(), s.batches.retry.Text)
	}
	test.Tap(s.batches.retry)
	var yes *widget.Button
	for _, o := range test.LaidOutObjects(s.win.Canvas().Overlays().Top()) {
		if bt, ok := o.(*widget.Button); ok && bt.Text == "Yes" {
			yes = bt
		}
	}
	if yes == nil {
		t.Fatal("no confirmation")
	}
	test.Tap(yes)
	for _, id := range failed {
		st, err := storeOf(ws).GetStatus(proj, id)
		if err != nil || st.Status != model.StatusQueued || st.BatchID <= batch {
			t.Errorf("%s after retry: %+v %v", id, st, err)
		}
	}
	// The old batch no longer offers to retry them (a second retry was
	// refused with "has no failed pages"), and says where they went.
	s.batches.openBatch(batch)
	if s.batches.retry.Visible() {
		t.Errorf("after the retry the old batch still offers %q", s.batches.retry.Text)
	}
	if _, detail := s.batches.pageStatus(failed[0]); !strings.Contains(detail, "submitted again in batch_") {
		t.Errorf("a resubmitted page in the old batch says %q", detail)
	}
}

// Shortcuts work wherever the focus is: a focused field hands the window's
// shortcuts on (Fyne gives a shortcut only to the focused widget when it
// takes shortcuts), Ctrl+S saves the editor, Esc leaves a field, Tab does
// not type a tab into the editor.
func TestShortcutsFromFocusedFields(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	c := s.win.Canvas()
	ctrl := func(k fyne.KeyName) fyne.Shortcut {
		return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
	}
	c.Focus(s.pages.search)
	s.pages.search.TypedShortcut(ctrl("3"))
	if s.tabs.SelectedIndex() != 2 {
		t.Fatalf("Ctrl+3 from the search field: tab %d", s.tabs.SelectedIndex())
	}
	for i, fld := range []*field{s.settings.pathPattern, s.settings.domain} {
		s.tabs.SelectIndex(5)
		c.Focus(fld)
		fld.TypedShortcut(ctrl("1"))
		if s.tabs.SelectedIndex() != 0 {
			t.Errorf("settings field %d: Ctrl+1 ignored", i)
		}
	}
	s.tabs.SelectIndex(2)
	b, ok := s.review.current()
	if !ok {
		t.Fatal("no block in Review")
	}
	c.Focus(s.review.editor)
	s.review.editor.SetText("Edited from the keyboard.")
	s.review.editor.TypedShortcut(ctrl(fyne.KeyS))
	got, err := ws.ReviewBlocks(context.Background(), proj, workspace.ReviewFilter{States: []string{model.ReviewEdited}})
	if err != nil || len(got) != 1 || got[0].BlockID != b.BlockID || got[0].Text != "Edited from the keyboard." {
		t.Fatalf("Ctrl+S in the editor: %+v %v", got, err)
	}
	if c.Focused() != nil {
		t.Errorf("after Ctrl+S the focus stays in %T; the list keys need it back", c.Focused())
	}
	c.Focus(s.review.editor)
	s.review.editor.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if c.Focused() != nil {
		t.Errorf("Esc did not leave the editor")
	}
	if s.review.editor.AcceptsTab() {
		t.Errorf("Tab types a tab into the editor")
	}
	// An entry's own shortcuts still work: paste into the search field.
	s.tabs.SelectIndex(0)
	c.Focus(s.pages.search)
	s.pages.search.SetText("")
	s.app.Clipboard().SetContent("rolex")
	s.pages.search.TypedShortcut(&fyne.ShortcutPaste{Clipboard: s.app.Clipboard()})
	if s.pages.search.Text != "rolex" {
		t.Errorf("paste into the search field: %q", s.pages.search.Text)
	}
}

// Batches tell the truth: an import's upload batch is not work in flight,
// a finished batch's unsent pages are "not submitted" with no ETA, and the
// ETA of a running batch comes from the rate observed so far.
func TestBatchFiguresTellTheTruth(t *testing.T) {
	at := func(s int) string { return model.FormatTime(time.Date(2026, 12, 1, 12, 0, s, 0, time.UTC)) }
	upload := model.BatchData{BatchID: "batch_20261201_120000", Status: model.BatchUploading, PageCount: 1000,
		Summary: model.BatchSummary{Pending: 1000}}
	if got := batchFigures(upload, 2, ""); strings.Contains(got, "pending") || strings.Contains(got, "ETA") || !strings.Contains(got, "import of 1,000 pages") {
		t.Errorf("upload batch: %q", got)
	}
	pages := map[string]model.BatchPage{}
	for i := 0; i < 10; i++ { // 10 pages finished 6 s apart: 0.1 pages/s
		pages[fmt.Sprintf("page_%012d", i)] = model.BatchPage{Status: model.StatusDone, Uploaded: at(0), Started: at(0), Completed: at(6 * (i + 1))}
	}
	for i := 10; i < 30; i++ {
		pages[fmt.Sprintf("page_%012d", i)] = model.BatchPage{Status: model.StatusQueued, Uploaded: at(0)}
	}
	running := model.BatchData{BatchID: "batch_20261201_120001", Status: model.BatchProcessing, PageCount: 30, Pages: pages,
		Summary: model.BatchSummary{Completed: 10, Pending: 20, AverageTimeMs: 500}}
	if got := batchFigures(running, 2, ""); !strings.Contains(got, "20 pending") || !strings.Contains(got, "ETA 2m0s") {
		t.Errorf("running batch (20 pending at one page per 6 s): %q, want ETA 2m0s", got)
	}
	done := running
	done.Status = model.BatchCompleted
	if got := batchFigures(done, 2, ""); strings.Contains(got, "ETA") || !strings.Contains(got, "20 not submitted") {
		t.Errorf("completed batch with unsent pages: %q", got)
	}
}

// A full page read that a newer load cancelled leaves the table to the
// newer one: it neither sets rows nor clears loading (it used to clear it,
// and the newer load's timer then never read past the first 200 rows).
func TestCancelledPageReadLeavesTheNewerLoad(t *testing.T) {
	s, _, proj := fixtureShell(t)
	v := s.pages
	before := len(v.rows)
	v.loading = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v.loadCtx = ctx
	v.rows = v.rows[:10]
	v.loadAll(proj) // synchronous in tests: its callback runs here
	if !v.loading || len(v.rows) != 10 {
		t.Fatalf("a cancelled read changed the table: loading %v, %d rows (of %d)", v.loading, len(v.rows), before)
	}
}

// Dialogs answer the keyboard: Esc closes the shortcut sheet, which shows
// more than one line; Enter confirms a bulk decision; and keys meant for
// the review behind an open dialog are not passed on.
func TestDialogsAnswerEscAndEnter(t *testing.T) {
	s, _, _ := fixtureShell(t)
	c := s.win.Canvas()
	key := func(k fyne.KeyName) {
		c.(interface{ OnTypedKey() func(*fyne.KeyEvent) }).OnTypedKey()(&fyne.KeyEvent{Name: k})
	}
	s.tabs.SelectIndex(2)
	first := s.review.blocks[0]
	s.showShortcuts()
	if s.dlg == nil || c.Overlays().Top() == nil {
		t.Fatal("no shortcut sheet")
	}
	if h := c.Overlays().Top().Size().Height; h < 200 {
		t.Errorf("the shortcut sheet is %.0f high: collapsed", h)
	}
	test.TypeOnCanvas(c, "a")
	if b, _ := s.review.current(); b.State != first.State {
		t.Errorf("typing a behind the sheet changed the block to %q", b.State)
	}
	key(fyne.KeyEscape)
	if s.dlg != nil || c.Overlays().Top() != nil {
		t.Fatal("Esc did not close the shortcut sheet")
	}
	accepted := func() int {
		n := 0
		for _, b := range s.review.blocks {
			if b.State == model.ReviewAccepted {
				n++
			}
		}
		return n
	}
	before := accepted()
	test.Tap(s.review.acceptAll)
	if s.dlg == nil {
		t.Fatal("no confirmation for a bulk accept")
	}
	key(fyne.KeyReturn)
	if s.dlg != nil {
		t.Fatal("Enter did not answer the confirmation")
	}
	if after := accepted(); after <= before {
		t.Errorf("Enter did not accept: %d accepted blocks before, %d after", before, after)
	}
}
