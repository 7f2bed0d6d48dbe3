package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/internal/corpus"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

func copySite(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newIntakeProject(t testing.TB, w *Workspace) string {
	t.Helper()
	p, err := w.CreateProject(context.Background(), "timekeepers.example", ProjectOptions{Domain: "timekeepers.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.UpdateSettings(context.Background(), p.ProjectID, func(s *model.ProjectSettings) {
		s.PathPattern = "local/{location}/{brand}-{service}.html"
	}); err != nil {
		t.Fatal(err)
	}
	return p.ProjectID
}

func outboxLen(t *testing.T, w *Workspace) int {
	t.Helper()
	es, err := w.store.Outbox(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestImportTwiceWritesNothing(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	copySite(t, "../testdata/edge", filepath.Join(site, "edge"))
	ctx := context.Background()
	var last int
	r, err := w.Import(ctx, site, ImportOptions{Progress: func(p extract.Progress) { last = p.Done }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 318 || r.Failed != 2 || last != r.Files || r.BatchID == "" {
		t.Fatalf("first import: %+v (progress %d)", r, last)
	}
	// Every written page has its status, log entry, batch entry and index entry.
	pageID := model.PageID(pid, "dist/local/leeds/omega-servicing.html")
	page, err := w.store.GetPage(pid, pageID)
	if err != nil || page.Extraction.Dimensions["brand"] != "omega" || page.ContentHash != model.ContentHash(page.Extraction) || page.Audit == nil {
		t.Fatalf("page: %+v %v", page.Extraction.Dimensions, err)
	}
	st := get[model.StatusData](t, w, model.NSStatus, model.StatusKey(pid, pageID))
	if st.Status != model.StatusUploaded || st.BatchID != r.BatchID {
		t.Errorf("status %+v", st)
	}
	logs := get[model.LogData](t, w, model.NSLogs, model.LogsKey(pid, pageID))
	if len(logs.Entries) != 1 || logs.Entries[0].Step != "upload" || logs.Entries[0].DurationMs == nil {
		t.Errorf("logs %+v", logs)
	}
	b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, r.BatchID))
	if b.Status != model.BatchUploading || b.PageCount != 318 || len(b.Pages) != 318 || b.Summary.Pending != 318 {
		t.Errorf("batch %s: status %s count %d summary %+v", b.BatchID, b.Status, b.PageCount, b.Summary)
	}
	// Bad files: an error log entry naming the file and the reason.
	badLog := get[model.LogData](t, w, model.NSLogs, model.LogsKey(pid, model.PageID(pid, "dist/edge/binary.html")))
	if len(badLog.Entries) != 1 || badLog.Entries[0].Level != model.LevelError || !strings.Contains(badLog.Entries[0].Message, "dist/edge/binary.html: the file is binary") {
		t.Errorf("binary file log %+v", badLog)
	}
	before := outboxLen(t, w)
	r2, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Written != 0 || r2.BatchID != "" || r2.Failed != 0 || r2.Unchanged != 320 {
		t.Errorf("second import: %+v", r2)
	}
	if after := outboxLen(t, w); after != before {
		t.Errorf("the second import wrote %d records", after-before)
	}
	// A bad file that becomes a page again clears nothing but works; a page
	// whose file turns bad gets status failed INVALID_CONTENT.
	if err := os.WriteFile(filepath.Join(site, "local", "leeds", "omega-servicing.html"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(site, "local", "leeds", "rolex-servicing.html")); err != nil {
		t.Fatal(err)
	}
	r3, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Failed != 1 || r3.Missing != 1 || r3.Written != 0 {
		t.Errorf("third import: %+v", r3)
	}
	st = get[model.StatusData](t, w, model.NSStatus, model.StatusKey(pid, pageID))
	if st.Status != model.StatusFailed || st.Error == nil || st.Error.Code != "INVALID_CONTENT" || !strings.Contains(st.Error.Message, "empty") {
		t.Errorf("status of the emptied page %+v", st)
	}
	gone, err := w.store.GetPage(pid, model.PageID(pid, "dist/local/leeds/rolex-servicing.html"))
	if err != nil || gone.SourceMissing == "" {
		t.Errorf("the deleted file's page is not kept and marked: %v %q", err, gone.SourceMissing)
	}
	lines, err := w.Pages(context.Background(), pid, map[string]string{"location": "leeds", "brand": "rolex"})
	if err != nil || len(lines) != 5 {
		t.Fatalf("pages filtered: %d %v", len(lines), err)
	}
	rows, err := w.Audit(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, r := range rows {
		codes[r.Code]++
	}
	if codes["title_duplicate"] == 0 || codes["description_missing"] == 0 || codes["canonical_mismatch"] != 0 {
		t.Errorf("audit codes %v", codes)
	}
}

func TestExportWritesBackAndCopiesTheRest(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	if err := os.WriteFile(filepath.Join(site, "robots.txt"), []byte("User-agent: *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// No decisions: byte-identical copy.
	out := filepath.Join(t.TempDir(), "out")
	calls, lastDone, lastTotal := 0, 0, 0
	r, err := w.Export(ctx, ExportOptions{Out: out, Progress: func(done, total int, file string) {
		if done != lastDone+1 || total != 312 || file == "" {
			t.Errorf("progress %d/%d %q after %d", done, total, file, lastDone)
		}
		calls, lastDone, lastTotal = calls+1, done, total
	}})
	if err != nil || r.Files != 312 || r.Blocks != 0 {
		t.Fatalf("export: %+v %v", r, err)
	}
	if calls != 312 || lastDone != lastTotal {
		t.Fatalf("progress called %d times, last %d/%d", calls, lastDone, lastTotal)
	}
	assertSameTree(t, site, out, nil)
	// Edited decisions on one page: only those spans change.
	sp := "dist/local/bristol/omega-polishing.html"
	pageID := model.PageID(pid, sp)
	if _, err := w.Decide(ctx, pid, pageID, "block-0", model.ReviewEdited, "Omega polishing & refinishing in Bristol"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Decide(ctx, pid, pageID, "block-1", model.ReviewEdited, "drops the <strong> markup"); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "out2")
	r, err = w.Export(ctx, ExportOptions{Out: out2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Blocks != 1 || r.PagesChanged != 1 || len(r.Refusals) != 1 || r.Refusals[0].BlockID != "block-1" {
		t.Fatalf("export with decisions: %+v", r)
	}
	rel := "local/bristol/omega-polishing.html"
	assertSameTree(t, site, out2, map[string]bool{rel: true})
	got, _ := os.ReadFile(filepath.Join(out2, rel))
	orig, _ := os.ReadFile(filepath.Join(site, rel))
	want := bytes.Replace(orig, []byte("<h1>Omega Polishing in\u00a0Bristol</h1>"), []byte("<h1>Omega polishing &amp; refinishing in Bristol</h1>"), 1)
	if !bytes.Equal(got, want) {
		t.Errorf("exported page differs beyond the h1")
	}
	// The head's title and meta description are blocks too: accepted, they
	// are written into <title> and the description's content, HTML-escaped,
	// and nothing else changes.
	if _, err := w.Decide(ctx, pid, pageID, model.BlockIDTitle, model.ReviewEdited, "Omega Polishing & Refinishing in Bristol | Timekeepers"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Decide(ctx, pid, pageID, model.BlockIDMetaDescription, model.ReviewEdited, `Omega "mirror" polishing in Bristol. Fixed prices from £99, 4-day turnaround and a 2-year guarantee.`); err != nil {
		t.Fatal(err)
	}
	out6 := filepath.Join(t.TempDir(), "out6")
	if r, err = w.Export(ctx, ExportOptions{Out: out6}); err != nil || r.Blocks != 3 || len(r.Refusals) != 1 {
		t.Fatalf("export with the head decided: %+v %v", r, err)
	}
	got, _ = os.ReadFile(filepath.Join(out6, rel))
	ts, te := bytes.Index(want, []byte("<title>")), bytes.Index(want, []byte("</title>"))
	want = slices.Concat(want[:ts], []byte("<title>Omega Polishing &amp; Refinishing in Bristol | Timekeepers"), want[te:])
	want = bytes.Replace(want, []byte(`content="Expert Omega polishing in Bristol. Fixed prices from £99, 4-day turnaround and a 2-year guarantee from our South West workshop."`),
		[]byte(`content="Omega &quot;mirror&quot; polishing in Bristol. Fixed prices from £99, 4-day turnaround and a 2-year guarantee."`), 1)
	if !bytes.Equal(got, want) {
		t.Errorf("exported page with the head decided:\n%s\nwant\n%s", got, want)
	}
	for _, id := range []string{model.BlockIDTitle, model.BlockIDMetaDescription} {
		if _, err := w.Decide(ctx, pid, pageID, id, model.ReviewOriginal, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Limited to a batch: the decided page is in the import's batch; an
	// unknown batch is an error, not a silent full export.
	page, err := w.store.GetPage(pid, pageID)
	if err != nil {
		t.Fatal(err)
	}
	r, err = w.Export(ctx, ExportOptions{Out: filepath.Join(t.TempDir(), "out3"), BatchID: page.BatchID})
	if err != nil || r.Blocks != 1 {
		t.Errorf("export of batch %s: %+v %v", page.BatchID, r, err)
	}
	if _, err := w.Export(ctx, ExportOptions{Out: filepath.Join(t.TempDir(), "out4"), BatchID: "batch_20000101_000000"}); err == nil {
		t.Error("export of an unknown batch succeeded")
	}
	// A batch without the decided page: its decisions are not written
	// (the filter used to be ignorable without a test noticing).
	other := model.BatchData{BatchID: "batch_20000102_000000", ProjectID: pid, Created: model.Now(), Status: model.BatchQueued, PageCount: 1,
		Pages: map[string]model.BatchPage{model.PageID(pid, "dist/local/leeds/index.html"): {Status: model.StatusQueued, Uploaded: model.Now()}}}
	if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSBatches, model.BatchKey(pid, other.BatchID), other)
	}); err != nil {
		t.Fatal(err)
	}
	r, err = w.Export(ctx, ExportOptions{Out: filepath.Join(t.TempDir(), "out5"), BatchID: other.BatchID})
	if err != nil || r.Blocks != 0 || r.PagesChanged != 0 {
		t.Errorf("export of a batch without the decided page: %+v %v", r, err)
	}
	// Never into a non-empty folder, never inside the source.
	if _, err := w.Export(ctx, ExportOptions{Out: out2}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a non-empty folder: %v", err)
	}
	if _, err := w.Export(ctx, ExportOptions{Out: filepath.Join(site, "export")}); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("export inside the source: %v", err)
	}
}

func assertSameTree(t *testing.T, a, b string, differ map[string]bool) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s missing from the export: %v", rel, err)
			return nil
		}
		if bytes.Equal(x, y) == differ[filepath.ToSlash(rel)] {
			t.Errorf("%s: equal=%v, want %v", rel, bytes.Equal(x, y), !differ[rel])
		}
		n++
		return nil
	})
	if err != nil || n < 300 {
		t.Fatalf("compared %d files: %v", n, err)
	}
}

var _ = localstore.ErrNotFound

func TestReimportMarksChangedBlocksStaleAndSettingsReextract(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	ctx := context.Background()
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rel := "local/cardiff/breitling-servicing.html"
	pageID := model.PageID(pid, "dist/"+rel)
	for _, id := range []string{"block-0", "block-5"} {
		if _, err := w.Decide(ctx, pid, pageID, id, model.ReviewEdited, "Edited "+id); err != nil {
			t.Fatal(err)
		}
	}
	// The site is rebuilt: the h1 changes, the rest does not.
	p := filepath.Join(site, rel)
	b, _ := os.ReadFile(p)
	b = bytes.Replace(b, []byte("<h1>Breitling Servicing in"), []byte("<h1>Breitling Full Servicing in"), 1)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil || r.Written != 1 {
		t.Fatalf("re-import: %+v %v", r, err)
	}
	blocks, err := w.ReviewPage(pid, pageID)
	if err != nil {
		t.Fatal(err)
	}
	if b0, b5 := blockOf(blocks, "block-0"), blockOf(blocks, "block-5"); b0.State != model.ReviewStale || b5.State != model.ReviewEdited {
		t.Errorf("states after the rebuild: block-0 %s, block-5 %s", b0.State, b5.State)
	}
	// A new path pattern re-extracts every file; only pages whose
	// extraction changed are written.
	if _, err := w.UpdateSettings(ctx, pid, func(s *model.ProjectSettings) {
		s.PathPattern = "local/{city}/{rest}.html"
		s.DimensionSources = []string{"path"}
	}); err != nil {
		t.Fatal(err)
	}
	r, err = w.Import(ctx, site, ImportOptions{})
	if err != nil || r.Written != 310 {
		t.Fatalf("import after a settings change: %+v %v", r, err)
	}
	page, _ := w.store.GetPage(pid, pageID)
	if page.Extraction.Dimensions["city"] != "cardiff" || page.Extraction.Dimensions["brand"] != "" {
		t.Errorf("dimensions after the settings change: %v", page.Extraction.Dimensions)
	}
	r, err = w.Import(ctx, site, ImportOptions{})
	if err != nil || r.Written != 0 || r.Unchanged != 311 {
		t.Fatalf("import after that: %+v %v", r, err)
	}
}

// TestPageJSONIsCanonical: the import's fast page encoding is byte for byte
// model.Canonical of the same record, and the content hash is
// model.ContentHash.
func TestPageJSONIsCanonical(t *testing.T) {
	src, err := os.ReadFile("../testdata/site/dist/local/leeds/omega-servicing.html")
	if err != nil {
		t.Fatal(err)
	}
	r, err := extract.Analyze(src, extract.Options{SourcePath: "dist/local/leeds/omega-servicing.html"})
	if err != nil {
		t.Fatal(err)
	}
	extJSON := model.Canonical(r.Extraction)
	if model.ValueHash(extJSON) != model.ContentHash(r.Extraction) {
		t.Fatal("the content hash is not the sha256 of the canonical extraction")
	}
	a := r.Audit
	pid := "proj_0123456789ab"
	for _, p := range []model.PageData{
		{PageID: model.PageID(pid, "dist/x.html"), ProjectID: pid, SourcePath: "dist/x.html", Uploaded: model.Now(), Extraction: r.Extraction},
		{PageID: model.PageID(pid, "dist/x.html"), ProjectID: pid, BatchID: "batch_20240101_000000", SourcePath: "dist/x.html", Uploaded: model.Now(),
			Extraction: r.Extraction, ContentHash: model.ContentHash(r.Extraction), Audit: &a, SourceMissing: model.Now(),
			Optimization: &model.Optimization{Completed: model.Now(), Model: "m", OptimizedBlocks: []model.Block{{ID: "block-0", Type: "h1", Content: "<x>&"}}}},
	} {
		if got, want := model.CanonicalPage(p, extJSON), model.Canonical(p); !bytes.Equal(got, want) {
			t.Errorf("pageJSON differs from model.Canonical:\n%s\n%s", got, want)
		}
	}
}

// TestImportExportDebianCorpus imports a real third-party site (Debian's
// PostgreSQL manual: internal/corpus) and checks that an export without
// decisions reproduces it byte for byte.
func TestImportExportDebianCorpus(t *testing.T) {
	dir := corpus.Require(t, corpus.PostgreSQL)
	if testing.Short() {
		t.Skip("corpus import skipped in -short mode")
	}
	w := openTemp(t, Options{})
	newIntakeProject(t, w)
	ctx := context.Background()
	r, err := w.Import(ctx, dir, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written < 1000 || r.Failed != 0 {
		t.Fatalf("corpus import: written %d failed %d errors %v", r.Written, r.Failed, r.Errors)
	}
	out := filepath.Join(t.TempDir(), "out")
	e, err := w.Export(ctx, ExportOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not reproduced byte for byte (%v)", rel, err)
		}
		n++
		return nil
	})
	if err != nil || n != e.Files {
		t.Errorf("compared %d files, exported %d (%v)", n, e.Files, err)
	}
	t.Logf("imported %d pages in %d ms; exported %d files", r.Written, r.DurationMs, e.Files)
}

// TestPartialImportOfRemovedFolder: the watcher reports a removed folder,
// not its files; the pages under it are marked missing.
func TestPartialImportOfRemovedFolder(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	ctx := context.Background()
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(site, "local", "glasgow")
	if err := os.Rename(gone, filepath.Join(site, "local", "glasgow-city")); err != nil {
		t.Fatal(err)
	}
	r, err := w.Import(ctx, site, ImportOptions{Paths: []string{gone, filepath.Join(site, "local", "glasgow-city")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Missing != 31 || r.Written != 31 {
		t.Errorf("rename of a folder: %+v", r)
	}
	p, err := w.store.GetPage(pid, model.PageID(pid, "dist/local/glasgow/omega-servicing.html"))
	if err != nil || p.SourceMissing == "" {
		t.Errorf("page under the renamed folder: %v %q", err, p.SourceMissing)
	}
}

// TestSubmitAfterImportUsesTheUploadBatch: the import's batch (uploading)
// is the one that becomes queued on submit; no second batch appears.
func TestSubmitAfterImportUsesTheUploadBatch(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist/local/leeds", filepath.Join(site, "leeds"))
	ctx := context.Background()
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := w.Submit(ctx, SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Batches) != 1 || sub.Batches[0] != r.BatchID || sub.Pages != r.Written {
		t.Fatalf("submit %+v after import %+v", sub, r)
	}
	b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, r.BatchID))
	if b.Status != model.BatchQueued || b.PageCount != r.Written {
		t.Errorf("batch after submit: %s, %d pages", b.Status, b.PageCount)
	}
	n, err := w.store.Count(model.NSBatches, model.ProjectPrefix(model.KindBatch, pid))
	if err != nil || n != 1 {
		t.Errorf("%d batches (%v)", n, err)
	}
	// A changed page re-imported goes into a new upload batch and is
	// submitted in it.
	p := filepath.Join(site, "leeds", "index.html")
	replaceIn(t, p, "Choose your brand", "Pick your brand")
	r2, err := w.Import(ctx, site, ImportOptions{})
	if err != nil || r2.Written != 1 || r2.BatchID == r.BatchID {
		t.Fatalf("re-import %+v %v", r2, err)
	}
	sub, err = w.Submit(ctx, SubmitOptions{})
	if err != nil || len(sub.Batches) != 1 || sub.Batches[0] != r2.BatchID || sub.Pages != 1 {
		t.Fatalf("second submit %+v %v", sub, err)
	}
}

func replaceIn(t *testing.T, p, old, new string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", p, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportSplitsUploadBatches: no upload batch holds more than
// max_pages_per_batch pages.
func TestImportSplitsUploadBatches(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	if _, err := w.UpdateSettings(context.Background(), pid, func(s *model.ProjectSettings) { s.MaxPagesPerBatch = 100 }); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	r, err := w.Import(context.Background(), site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Batches) != 4 || r.BatchID != r.Batches[0] {
		t.Fatalf("batches %v", r.Batches)
	}
	total := 0
	for _, id := range r.Batches {
		b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, id))
		if b.PageCount > 100 || b.PageCount != len(b.Pages) {
			t.Errorf("%s: %d pages", id, b.PageCount)
		}
		total += b.PageCount
	}
	if total != 311 {
		t.Errorf("%d pages in the batches", total)
	}
	sub, err := w.Submit(context.Background(), SubmitOptions{})
	if err != nil || len(sub.Batches) != 4 || sub.Pages != 311 {
		t.Errorf("submit %+v %v", sub, err)
	}
}

// TestImportCommitsInSteps: an import that commits several times (here
// every 40 files) writes the same records as one that commits once: every
// page with its status, log and batch entry, usage counted; a file that was
// bad and is fixed keeps its error entry and gains the upload one.
func TestImportCommitsInSteps(t *testing.T) {
	defer func(n int) { commitPages = n }(commitPages)
	commitPages = 40
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	bad := filepath.Join(site, "broken.html")
	if err := os.WriteFile(bad, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil || r.Written != 311 || r.Failed != 1 || len(r.Batches) != 1 {
		t.Fatalf("import: %+v %v", r, err)
	}
	b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, r.BatchID))
	if b.PageCount != 311 || len(b.Pages) != 311 || b.Summary.Pending != 311 {
		t.Errorf("batch: count %d, %d pages, summary %+v", b.PageCount, len(b.Pages), b.Summary)
	}
	n := 0
	err = w.store.ListPages(pid, func(p model.PageData) error {
		n++
		st := get[model.StatusData](t, w, model.NSStatus, model.StatusKey(pid, p.PageID))
		logs := get[model.LogData](t, w, model.NSLogs, model.LogsKey(pid, p.PageID))
		if p.BatchID != r.BatchID || st.Status != model.StatusUploaded || st.Updated != p.Uploaded ||
			len(logs.Entries) != 1 || b.Pages[p.PageID].Uploaded != p.Uploaded {
			t.Errorf("%s: batch %s, status %+v, %d log entries, batch entry %+v", p.SourcePath, p.BatchID, st, len(logs.Entries), b.Pages[p.PageID])
		}
		return nil
	})
	if err != nil || n != 311 {
		t.Fatalf("%d pages, %v", n, err)
	}
	proj, err := w.Project(pid)
	if err != nil || proj.Usage.TotalPages != 311 || proj.Usage.TotalBatches != 1 {
		t.Errorf("usage %+v %v", proj.Usage, err)
	}
	// The broken file is fixed: a new page whose log already holds the error.
	src, err := os.ReadFile(filepath.Join(site, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, src, 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := w.Import(ctx, site, ImportOptions{})
	if err != nil || r2.Written != 1 || r2.New != 1 || r2.Failed != 0 {
		t.Fatalf("re-import: %+v %v", r2, err)
	}
	logs := get[model.LogData](t, w, model.NSLogs, model.LogsKey(pid, model.PageID(pid, "dist/broken.html")))
	if len(logs.Entries) != 2 || logs.Entries[0].Level != model.LevelError || logs.Entries[1].Step != "upload" || logs.Entries[1].Level != model.LevelInfo {
		t.Errorf("log of the fixed page: %+v", logs.Entries)
	}
	if proj, _ := w.Project(pid); proj.Usage.TotalPages != 312 || proj.Usage.TotalBatches != 2 {
		t.Errorf("usage after the re-import %+v", proj.Usage)
	}
}

// TestImportLetsOtherWritersIn: while an import holds its write
// transaction and waits for more files, another writer gets the store
// within about commitAge (here: a write made from the progress callback,
// which stalls the scan until it is done, so the import cannot get to a
// commit by itself).
func TestImportLetsOtherWritersIn(t *testing.T) {
	defer func(d time.Duration) { commitAge = d }(commitAge)
	commitAge = 50 * time.Millisecond
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	ctx := context.Background()
	var once sync.Once
	var waited time.Duration
	var werr error
	r, err := w.Import(ctx, site, ImportOptions{Workers: 1, Progress: func(p extract.Progress) {
		if p.Done < 150 {
			return
		}
		once.Do(func() {
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- w.store.SetMeta("test.other-writer", "in") }()
			select {
			case werr = <-done:
			case <-time.After(20 * time.Second):
				werr = errors.New("the other writer waited 20 s")
			}
			waited = time.Since(start)
		})
	}})
	if err != nil || r.Written != 311 {
		t.Fatalf("import: %+v %v", r, err)
	}
	if werr != nil {
		t.Fatalf("other writer: %v (after %v)", werr, waited)
	}
	if v, _ := w.store.Meta("test.other-writer"); v != "in" {
		t.Fatalf("meta %q", v)
	}
	n, err := w.store.Count(model.NSPages, model.ProjectPrefix(model.KindPage, pid))
	if err != nil || n != 311 {
		t.Fatalf("%d pages, %v", n, err)
	}
}

func TestNearEnd(t *testing.T) {
	for _, c := range []struct {
		pages, remaining int
		want             bool
	}{
		{0, 0, false}, {311, 0, false}, // the last batch: finish commits
		{218, 93, true}, {217, 94, false}, // 70% of 311 extracted, all in the transaction
		{63, 1, false}, // too few to be worth a commit
		{64, 27, true}, {64, 28, false},
		{1000, 5000, false},
	} {
		if got := nearEnd(c.pages, c.remaining); got != c.want {
			t.Errorf("nearEnd(%d, %d) = %v", c.pages, c.remaining, got)
		}
	}
}

// TestImportTransactionOutlivesTheScanContext: Scan cancels the context it
// hands the sink when it returns, but the import's open transaction is
// committed later (by finish, or by its timer in between): it must go by
// the import's context, or those writes would be rolled back.
func TestImportTransactionOutlivesTheScanContext(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	ctx := context.Background()
	imp := &importer{w: w, ctx: ctx, pid: pid, started: time.Now().UTC(), maxPer: DefaultMaxPagesPerBatch}
	scanCtx, cancel := context.WithCancel(ctx)
	cancel() // as after Scan returned
	it := extract.Item{SourcePath: "dist/a.html", Size: 10, ModTimeNs: 1, SHA256: strings.Repeat("0", 64)}
	if err := imp.sink(scanCtx, extract.Batch{Touched: []extract.Item{it}}); err != nil {
		t.Fatalf("sink: %v", err)
	}
	if _, err := imp.finish(ctx, nil, nil); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if fe, ok, err := w.store.File(pid, "dist/a.html"); err != nil || !ok || fe.Size != 10 {
		t.Fatalf("file entry %+v %v %v", fe, ok, err)
	}
}

// Distinct files whose names normalize to one source path (NFC and NFD
// spellings, a backslash in a Linux file name and a folder) are errors
// naming both, not one page record overwritten in turn; the first keeps the
// page, the rest of the import goes on, and a re-import of the unchanged
// folder writes nothing.
func TestImportCollidingFileNames(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	page := func(title string) []byte {
		return []byte("<html><head><title>" + title + "</title></head><body><main><h1>" + title + "</h1><p>Copy for " + title + ".</p></main></body></html>")
	}
	files := map[string]string{
		"caf\u00e9.html":   "NFC",
		"cafe\u0301.html":  "NFD",
		"back\\slash.html": "backslash",
		"back/slash.html":  "folder",
		"local/plain.html": "plain",
	}
	for name, title := range files {
		p := filepath.Join(site, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, page(title), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 3 || len(r.Errors) != 2 {
		t.Fatalf("import: %d written, errors %+v; want 3 pages and 2 collisions", r.Written, r.Errors)
	}
	for _, e := range r.Errors {
		if !strings.Contains(e.Reason, "map to the same page") || strings.Count(e.Reason, ".html") < 2 {
			t.Errorf("collision error does not name both files: %+v", e)
		}
	}
	n, err := w.store.Count(model.NSPages, model.ProjectPrefix(model.KindPage, pid))
	if err != nil || n != 3 {
		t.Fatalf("%d page records, want 3: %v", n, err)
	}
	logs, err := w.store.GetLogs(pid, model.PageID(pid, "dist/caf\u00e9.html"))
	if err != nil {
		t.Fatal(err)
	}
	errs := 0
	for _, e := range logs.Entries {
		if e.Level == model.LevelError {
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("%d error log entries for the café page, want 1: %+v", errs, logs.Entries)
	}
	before, _ := w.store.OutboxLen()
	r2, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := w.store.OutboxLen()
	if r2.Written != 0 || after != before || r2.BatchID != "" {
		t.Fatalf("re-import of the unchanged folder: %d written, batch %q, outbox %d -> %d", r2.Written, r2.BatchID, before, after)
	}
	if len(r2.Errors) != 2 {
		t.Errorf("the re-import should still report the 2 collisions: %+v", r2.Errors)
	}
}

// A watch rescan lists only the changed files; a file added next to one
// whose name differs only in \ and / or in Unicode normalization is a
// collision there too, with the same outcome as a full import of the
// folder: the established page keeps its file (the file it was extracted
// from, whatever the walk order: the NFD spelling of café sorts before the
// NFC one, yet the added NFD file is the error), and a full import
// afterwards writes nothing. A new page's files go by walk order.
func TestPartialRescanCollisions(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	write := func(name, title string) string {
		t.Helper()
		p := filepath.Join(site, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("<html><head><title>"+title+"</title></head><body><main><h1>"+title+"</h1><p>Copy for "+title+".</p></main></body></html>"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	title := func(sp string) string {
		t.Helper()
		pg, err := w.store.GetPage(pid, model.PageID(pid, sp))
		if err != nil {
			t.Fatal(err)
		}
		return pg.Extraction.Head["title"]
	}
	ctx := context.Background()
	write("back/slash.html", "folder")
	write("caf\u00e9.html", "NFC")
	if r, err := w.Import(ctx, site, ImportOptions{}); err != nil || r.Written != 2 {
		t.Fatalf("first import: %+v %v", r, err)
	}

	added := write("back\\slash.html", "backslash")
	r, err := w.Import(ctx, site, ImportOptions{Paths: []string{added}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 0 || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Reason, "map to the same page") ||
		!strings.Contains(r.Errors[0].Reason, fmt.Sprintf("%q", "dist/back\\slash.html")) || !strings.Contains(r.Errors[0].Reason, `"dist/back/slash.html"`) {
		t.Fatalf("rescan of the added back\\slash.html: %d written, errors %+v; want the collision naming both", r.Written, r.Errors)
	}
	if got := title("dist/back/slash.html"); got != "folder" {
		t.Fatalf("the page holds %q, want the folder file's", got)
	}

	added = write("cafe\u0301.html", "NFD")
	r, err = w.Import(ctx, site, ImportOptions{Paths: []string{added}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 0 || len(r.Errors) != 1 || r.Errors[0].SourcePath != "dist/caf\u00e9.html" ||
		!strings.HasPrefix(r.Errors[0].Reason, fmt.Sprintf("%q and", "dist/cafe\u0301.html")) || !strings.Contains(r.Errors[0].Reason, fmt.Sprintf("%q keeps the page", "dist/caf\u00e9.html")) {
		t.Fatalf("rescan of the added NFD file: %d written, errors %+v; want nothing written and the NFD file's collision", r.Written, r.Errors)
	}
	if got := title("dist/caf\u00e9.html"); got != "NFC" {
		t.Fatalf("the café page holds %q, want the established NFC file's", got)
	}
	n, err := w.store.Count(model.NSPages, model.ProjectPrefix(model.KindPage, pid))
	if err != nil || n != 2 {
		t.Fatalf("%d page records, want 2: %v", n, err)
	}

	// The same story from a full import: nothing to write, both collisions.
	before, _ := w.store.OutboxLen()
	r, err = w.Import(ctx, site, ImportOptions{})
	after, _ := w.store.OutboxLen()
	if err != nil || r.Written != 0 || len(r.Errors) != 2 || after != before {
		t.Fatalf("full import after the rescans: %+v %v, outbox %d -> %d", r, err, before, after)
	}
	// An unchanged rescan of the added file writes nothing either.
	r, err = w.Import(ctx, site, ImportOptions{Paths: []string{added}})
	if err != nil || r.Written != 0 || len(r.Errors) != 1 {
		t.Fatalf("second rescan: %+v %v", r, err)
	}
	if a, _ := w.store.OutboxLen(); a != after {
		t.Fatalf("the unchanged rescan wrote: outbox %d -> %d", after, a)
	}
}

// Export copies what the import reads: a symlinked page and a symlinked
// asset arrive as the files they point to (byte-identical without
// decisions), a symlinked folder as a folder; a broken link and a link loop
// are listed as not copied, never dropped silently.
func TestExportFollowsSymlinks(t *testing.T) {
	w := openTemp(t, Options{})
	newIntakeProject(t, w)
	base := t.TempDir()
	site := filepath.Join(base, "dist")
	shared := filepath.Join(base, "shared")
	for _, d := range []string{filepath.Join(site, "local"), filepath.Join(shared, "js")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pageBytes := []byte("<html><head><title>Linked</title></head><body><main><h1>Linked page</h1><p>Shared copy.</p></main></body></html>")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(shared, "page.html"), pageBytes, 0o644))
	must(os.WriteFile(filepath.Join(shared, "js", "jquery.js"), []byte("/* jquery */"), 0o644))
	must(os.WriteFile(filepath.Join(site, "index.html"), []byte("<html><head><title>Home</title></head><body><main><h1>Home</h1></main></body></html>"), 0o644))
	must(os.Symlink(filepath.Join(shared, "page.html"), filepath.Join(site, "local", "linked.html")))
	must(os.Symlink(filepath.Join(shared, "js", "jquery.js"), filepath.Join(site, "jquery.js")))
	must(os.Symlink(filepath.Join(shared, "js"), filepath.Join(site, "js")))
	must(os.Symlink(filepath.Join(base, "nowhere"), filepath.Join(site, "broken.css")))
	must(os.Symlink(site, filepath.Join(site, "local", "loop")))
	// The same real folder under two names (latest -> v2) is copied under
	// both, not taken for a loop.
	must(os.MkdirAll(filepath.Join(site, "v2"), 0o755))
	must(os.WriteFile(filepath.Join(site, "v2", "notes.txt"), []byte("v2 notes"), 0o644))
	must(os.Symlink(filepath.Join(site, "v2"), filepath.Join(site, "latest")))
	ctx := context.Background()
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 2 {
		t.Fatalf("import wrote %d pages, want 2 (index and the linked page): %+v", r.Written, r.Errors)
	}
	out := filepath.Join(base, "out")
	res, err := w.Export(ctx, ExportOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string][]byte{"local/linked.html": pageBytes, "jquery.js": []byte("/* jquery */"), "js/jquery.js": []byte("/* jquery */"),
		"v2/notes.txt": []byte("v2 notes"), "latest/notes.txt": []byte("v2 notes")} {
		got, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q, %v", rel, got, err)
		}
		if fi, err := os.Lstat(filepath.Join(out, rel)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			t.Errorf("%s was written as a link", rel)
		}
	}
	reasons := map[string]string{}
	for _, sk := range res.NotCopied {
		reasons[sk.Path] = sk.Reason
	}
	if !strings.Contains(reasons["broken.css"], "broken") || !strings.Contains(reasons["local/loop"], "loop") {
		t.Errorf("not copied: %+v", res.NotCopied)
	}
}

// The warning of a page read with stray bytes reaches its log.
func TestImportLogsStrayByteWarning(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	src := []byte("<html><head><title>Caf\xc3\xa9</title></head><body><main><h1>Caf\xc3\xa9 \xff</h1></main></body></html>")
	if err := os.WriteFile(filepath.Join(site, "cafe.html"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Import(context.Background(), site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	logs, err := w.store.GetLogs(pid, model.PageID(pid, "dist/cafe.html"))
	if err != nil || len(logs.Entries) == 0 {
		t.Fatalf("logs: %+v %v", logs, err)
	}
	e := logs.Entries[len(logs.Entries)-1]
	if e.Level != model.LevelWarn || !strings.Contains(e.Message, "not valid UTF-8") {
		t.Fatalf("log entry %+v", e)
	}
}

// Import refuses a folder that looks like another site (fewer than half of
// the project's pages in it) and writes nothing; with AnotherFolder it goes
// ahead. A moved copy of the same site is no other site.
func TestImportAnotherSite(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	base := t.TempDir()
	mk := func(dir string, names ...string) string {
		for _, n := range names {
			p := filepath.Join(base, dir, n)
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("<html><head><title>"+n+"</title></head><body><main><h1>"+n+"</h1></main></body></html>"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(base, dir)
	}
	a := mk("a/dist", "index.html", "one.html", "two.html", "three.html")
	moved := mk("moved/dist", "index.html", "one.html", "two.html", "four.html")
	other := mk("b/public", "index.html", "x.html", "y.html")
	ctx := context.Background()
	if _, err := w.Import(ctx, a, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := w.store.OutboxLen()
	_, err := w.Import(ctx, other, ImportOptions{})
	var ose *OtherSiteError
	if !errors.Is(err, ErrOtherSite) || !errors.As(err, &ose) || ose.Check.Known != 4 || ose.Check.Found != 1 {
		t.Fatalf("another site: %v", err)
	}
	if after, _ := w.store.OutboxLen(); after != before {
		t.Fatalf("a refused import wrote %d changes", after-before)
	}
	if _, err := w.Import(ctx, moved, ImportOptions{}); err != nil {
		t.Fatalf("the same site in another folder (3 of 4 pages): %v", err)
	}
	r, err := w.Import(ctx, other, ImportOptions{AnotherFolder: true})
	if err != nil || r.Written != 3 {
		t.Fatalf("import on purpose: %+v %v", r, err)
	}
	if got := SuggestProjectName(other); got != "b" {
		t.Errorf("SuggestProjectName(%s) = %q, want b", other, got)
	}
	if got := SuggestProjectName(filepath.Join(base, "timekeepers-site")); got != "timekeepers-site" {
		t.Errorf("SuggestProjectName of a named folder = %q", got)
	}
	_ = pid
}

// Pages the Worker failed can be sent again: --failed resubmits exactly
// them in a new batch (queued, with queue items), for one batch or all.
func TestSubmitFailedPagesAgain(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist/local/leeds", filepath.Join(site, "leeds"))
	ctx := context.Background()
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	sub, err := w.Submit(ctx, SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Submit(ctx, SubmitOptions{Failed: true}); err == nil || !strings.Contains(err.Error(), "no failed pages") {
		t.Fatalf("failed resubmission with none failed: %v", err)
	}
	// The Worker failed two pages (as a pull would store it).
	b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, sub.Batches[0]))
	var ids []string
	for id := range b.Pages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	failed := ids[:2]
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, id := range failed {
			st := model.StatusData{Status: model.StatusFailed, BatchID: sub.Batches[0], Updated: model.Now(),
				Error: &model.StatusError{Message: "AI API: HTTP 429", Code: "AI_RATE_LIMITED", Timestamp: model.Now()}}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(pid, id), st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.Submit(ctx, SubmitOptions{Failed: true, BatchID: sub.Batches[0]})
	if err != nil {
		t.Fatal(err)
	}
	if again.Pages != 2 || len(again.Batches) != 1 || again.Batches[0] <= sub.Batches[0] {
		t.Fatalf("resubmission %+v (first batch %s)", again, sub.Batches[0])
	}
	nb := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(pid, again.Batches[0]))
	if len(nb.Pages) != 2 || nb.Status != model.BatchQueued {
		t.Fatalf("new batch: %d pages, %s", len(nb.Pages), nb.Status)
	}
	for _, id := range failed {
		st := get[model.StatusData](t, w, model.NSStatus, model.StatusKey(pid, id))
		if st.Status != model.StatusQueued || st.BatchID != again.Batches[0] {
			t.Errorf("%s after resubmission: %s in %s", id, st.Status, st.BatchID)
		}
	}
	q := get[model.QueueData](t, w, model.NSQueue, model.QueueKey(pid))
	inNew := 0
	for _, it := range q.Items {
		if it.BatchID == again.Batches[0] {
			inNew++
		}
	}
	if inNew != 2 {
		t.Errorf("%d queue items in the new batch, want 2", inNew)
	}
}
