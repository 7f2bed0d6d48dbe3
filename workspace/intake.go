package workspace

// Intake: importing a site folder into the mirror (extract.Scan over the
// store's file index), watching it, listing pages, the page audit and the
// export with reviewed blocks written back (extract.Apply).
//
// Review staleness needs no write here: review.go compares each decision's
// original_hash with the block's current text on read, so a re-imported
// page whose block text changed shows its decisions as stale.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// metaRoot is the _meta key holding the absolute path of the folder a
// project was imported from (export reads the source files from it).
func metaRoot(projectID string) string { return "intake.root." + projectID }

// metaSettings is the _meta key holding a fingerprint of the extraction
// settings the file index was built with: when the settings change (a new
// main selector or path pattern), unchanged files must be extracted again.
func metaSettings(projectID string) string { return "intake.settings." + projectID }

func settingsFingerprint(s model.ProjectSettings) string {
	o := extract.OptionsFromSettings(s, "")
	return model.ValueHash(model.Canonical(o))
}

// forgetfulIndex reports every file as unknown (settings changed).
type forgetfulIndex struct{}

func (forgetfulIndex) Lookup(string) (extract.FileState, bool, error) {
	return extract.FileState{}, false, nil
}

// Error codes written into status records.
const codeInvalidContent = "INVALID_CONTENT"

// ImportOptions configure Import and Watch.
type ImportOptions struct {
	ProjectID string // "" = current project
	// Progress is called after every file (from one goroutine).
	Progress func(extract.Progress)
	Workers  int
	// Paths limits the import to these files/folders (the watcher's partial
	// rescans); nil imports the whole folder.
	Paths []string
	// AnotherFolder: the editor chose to import a folder that looks like
	// another site into this project (see CheckFolder); without it such an
	// import fails with ErrOtherSite and writes nothing.
	AnotherFolder bool
}

// ImportError is one file that could not be imported.
type ImportError struct {
	SourcePath string `json:"source_path"`
	Reason     string `json:"reason"`
}

// ImportResult summarises an import.
type ImportResult struct {
	ProjectID string `json:"project_id"`
	Root      string `json:"root"`
	// BatchID is the (first) upload batch created for the changed pages
	// ("" when no page changed); Batches lists all of them (an import
	// larger than max_pages_per_batch fills several).
	BatchID string   `json:"batch_id,omitempty"`
	Batches []string `json:"batches,omitempty"`
	Files   int      `json:"files"`
	Written int      `json:"pages_written"`
	// New is how many of the Written pages had no page record before
	// (Written - New were changed), so the summary can tell them apart.
	New       int           `json:"pages_new"`
	Unchanged int           `json:"unchanged"`
	Failed    int           `json:"failed"`
	Missing   int           `json:"missing"`
	Errors    []ImportError `json:"errors,omitempty"`
	// Duplicates counts pages sharing a title, description, h1 or canonical
	// with another page of the project after this import; nil when nothing
	// changed (the pass is skipped).
	Duplicates *int  `json:"duplicate_pages,omitempty"`
	DurationMs int64 `json:"duration_ms"`
}

// storeIndex is extract.FileIndex over the store's file index, for one
// project (another project's entry for the same path counts as unknown).
type storeIndex struct {
	s   *localstore.Store
	pid string
}

func (x storeIndex) Lookup(sp string) (extract.FileState, bool, error) {
	fe, ok, err := x.s.File(x.pid, sp)
	if err != nil || !ok || fe.ProjectID != x.pid {
		return extract.FileState{}, false, err
	}
	return extract.FileState{SHA256: fe.SHA256, Size: fe.Size, ModTimeNs: fe.ModTimeNs, Missing: fe.Missing}, true, nil
}

// memIndex is the project's file index read in one transaction before a
// full scan: the scan then costs one map lookup a file instead of one store
// transaction, and the same snapshot tells which files are gone.
type memIndex map[string]localstore.FileEntry

func loadIndex(s *localstore.Store, pid string) (memIndex, error) {
	m := memIndex{}
	err := s.Files(pid, func(fe localstore.FileEntry) error {
		if fe.ProjectID == pid {
			m[fe.SourcePath] = fe
		}
		return nil
	})
	return m, err
}

func (m memIndex) Lookup(sp string) (extract.FileState, bool, error) {
	fe, ok := m[sp]
	if !ok {
		return extract.FileState{}, false, nil
	}
	return extract.FileState{SHA256: fe.SHA256, Size: fe.Size, ModTimeNs: fe.ModTimeNs, Missing: fe.Missing}, true, nil
}

// Import scans dir into the project: changed pages are extracted and
// written (page, status uploaded, an upload log entry, an entry in a new
// upload batch), unchanged ones cost a stat, bad files get an error log
// entry (and status failed INVALID_CONTENT when the page exists), and files
// that disappeared are marked missing. Importing an unchanged folder writes
// nothing.
func (w *Workspace) Import(ctx context.Context, dir string, o ImportOptions) (ImportResult, error) {
	start := time.Now()
	pid, err := w.ResolveProject(o.ProjectID)
	if err != nil {
		return ImportResult{}, err
	}
	proj, err := w.Project(pid)
	if err != nil {
		return ImportResult{}, err
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import %s: %w", dir, err)
	}
	res := ImportResult{ProjectID: pid, Root: root}
	if o.Paths == nil && !o.AnotherFolder {
		c, err := w.CheckFolder(pid, root)
		if err != nil {
			return res, err
		}
		if c.OtherSite {
			return res, &OtherSiteError{Check: c}
		}
	}
	// Meta written in the final transaction (with the missing marks), so
	// an import costs as few commits as possible.
	meta := map[string]string{}
	if prev, _ := w.store.Meta(metaRoot(pid)); prev != root {
		meta[metaRoot(pid)] = root
	}
	var index extract.FileIndex = storeIndex{w.store, pid}
	var snapshot memIndex // the whole index, on a full scan
	if o.Paths == nil {
		if snapshot, err = loadIndex(w.store, pid); err != nil {
			return res, fmt.Errorf("import %s: read the file index: %w", dir, err)
		}
		index = snapshot
	}
	fp := settingsFingerprint(proj.Settings)
	prevFP, err := w.store.Meta(metaSettings(pid))
	if err != nil {
		return res, fmt.Errorf("import %s: %w", dir, err)
	}
	if prevFP != fp {
		// Pages whose extraction does not change are still not rewritten
		// (same content_hash); only their files are read again.
		index = forgetfulIndex{}
	}
	maxPer := proj.Settings.MaxPagesPerBatch
	if maxPer <= 0 {
		maxPer = DefaultMaxPagesPerBatch
	}
	imp := &importer{w: w, ctx: ctx, pid: pid, started: start.UTC(), maxPer: maxPer}
	// The batch the first written pages will go into, as the sink will
	// pick it, so the workers can build those pages' records up front.
	imp.firstBatch = model.NextBatchID(imp.started, func(id string) bool {
		_, err := w.store.Get(model.NSBatches, model.BatchKey(pid, id))
		return err == nil
	})
	sum, err := extract.Scan(ctx, extract.ScanOptions{
		Root:     root,
		Paths:    o.Paths,
		Index:    index,
		Options:  extract.OptionsFromSettings(proj.Settings, ""),
		Workers:  o.Workers,
		Progress: o.Progress,
		Prepare:  imp.prepare,
		// Page keys derive from page IDs: extracting in page ID order
		// makes each commit append to the B+trees instead of rewriting
		// leaves an earlier commit wrote.
		Order: func(sp string) string { return model.PageID(pid, sp) },
	}, imp.sink)
	// An import that fails keeps what it committed; the files of what it
	// drops are extracted again by the next scan (their index entries are
	// dropped with them).
	defer imp.rollback()
	tally := func() {
		imp.rollback() // nothing is open after finish; after a failure, what is open is dropped
		imp.mu.Lock()
		defer imp.mu.Unlock()
		res.Batches = imp.batchIDs
		if len(imp.batchIDs) > 0 {
			res.BatchID = imp.batchIDs[0]
		}
		t := imp.done
		res.Files = sum.Total
		res.Written = t.written
		res.New = t.created
		res.Unchanged = sum.Unchanged + sum.Touched + t.same
		res.Failed = sum.Failed + t.recordFailed
		res.Errors = t.errors
	}
	if err != nil {
		tally()
		return res, fmt.Errorf("import %s: %w", dir, err)
	}
	if prevFP != fp && o.Paths == nil {
		meta[metaSettings(pid)] = fp // only after a complete scan with the new settings
	}
	gone := sum.Gone
	if o.Paths != nil {
		// A folder that was removed or renamed away: its files are gone
		// too (the watcher reports only the folder).
		var prefixes []string
		for _, p := range o.Paths {
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				if sp, err := model.SourcePath(root, p); err == nil {
					prefixes = append(prefixes, sp+"/")
				}
			}
		}
		if len(prefixes) > 0 {
			err := w.store.Files(pid, func(fe localstore.FileEntry) error {
				for _, pre := range prefixes {
					if !fe.Missing && strings.HasPrefix(fe.SourcePath, pre) {
						gone = append(gone, fe.SourcePath)
					}
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("import %s: read the file index: %w", dir, err)
			}
		}
	}
	if o.Paths == nil {
		seen := make(map[string]bool, len(sum.Seen))
		for _, sp := range sum.Seen {
			seen[sp] = true
		}
		// Entries the scan added are all seen, so the snapshot taken before
		// it tells the gone ones.
		prefix := model.NormalizeSourcePath(filepath.Base(root)) + "/"
		for sp, fe := range snapshot {
			if !fe.Missing && strings.HasPrefix(sp, prefix) && !seen[sp] {
				gone = append(gone, sp)
			}
		}
		sort.Strings(gone)
	}
	res.Missing, err = imp.finish(ctx, gone, meta)
	tally()
	if err != nil {
		return res, fmt.Errorf("import %s: %w", dir, err)
	}
	if res.Written > 0 || res.Missing > 0 || res.Failed > 0 {
		dups, err := w.duplicateIssuesWith(pid, imp.done.audit)
		if err != nil {
			return res, fmt.Errorf("import %s: %w", dir, err)
		}
		n := len(dups)
		res.Duplicates = &n
	}
	res.DurationMs = time.Since(start).Milliseconds()
	return res, nil
}

// importer writes scan batches into the store.
type importer struct {
	w        *Workspace
	ctx      context.Context // the import's
	pid      string
	started  time.Time
	batchID  string   // the upload batch being filled
	batchIDs []string // every upload batch of this import
	maxPer   int
	// mu guards the transaction and the tallies: the sink, finish and a
	// timed commit use them from different goroutines. wtx is the open
	// write transaction; open counts what it holds and done what earlier
	// commits wrote.
	mu   sync.Mutex
	wtx  *localstore.WriteTx
	open tally
	done tally
	// lateErr is the error of a timed commit, reported by the next call;
	// timer is the one of the open transaction.
	lateErr error
	timer   *time.Timer
	// batches are the upload batches read or created in the open
	// transaction, written when it commits.
	batches map[string]*model.BatchData
	// firstBatch is the upload batch ID the workers prepare records for.
	firstBatch string
}

// pageRecords are the records an import writes for one changed page,
// encoded, validated and hashed: the page, its status (uploaded) and its
// log with the upload entry. The extraction workers build them for a new
// page going into the first upload batch (importer.prepare), so the serial
// write transaction only stores bytes; the sink builds them itself when
// that guess does not hold (the page exists, or the batch is another).
type pageRecords struct {
	batchID, stamp    string
	page, status, log localstore.Prepared
	entry             model.LogEntry // the upload entry, for a log that exists
	audit             extract.AuditPage
}

// uploadLogData is the data of an upload log entry.
type uploadLogData struct {
	Blocks      int    `json:"blocks"`
	Bytes       int64  `json:"bytes"`
	ContentHash string `json:"content_hash"`
	SourcePath  string `json:"source_path"`
}

// records builds the page records of an extracted item for batchID,
// stamped stamp; opt is the optimization a re-imported page keeps.
func (im *importer) records(it *extract.Item, batchID, stamp string, opt *model.Optimization) (*pageRecords, error) {
	pageID := model.PageID(im.pid, it.SourcePath)
	audit := it.Result.Audit
	p := model.PageData{
		PageID: pageID, ProjectID: im.pid, BatchID: batchID, SourcePath: it.SourcePath,
		Uploaded: stamp, Extraction: it.Result.Extraction, ContentHash: it.ContentHash, Audit: &audit,
		// The Worker's optimization stays; merge drops it once its
		// source_hash no longer matches the content.
		Optimization: opt,
	}
	r := &pageRecords{batchID: batchID, stamp: stamp,
		audit: extract.AuditPage{Key: pageID, Title: p.Extraction.Head["title"], Description: p.Extraction.Head["metaDescription"],
			Canonical: p.Extraction.Head["canonical"], H1: firstH1(p.Extraction)}}
	var err error
	if r.page, err = localstore.Prepare(model.NSPages, model.PageKey(im.pid, pageID), pageJSON(p, it.ExtractionJSON), &p); err != nil {
		return nil, fmt.Errorf("page %s: %w", it.SourcePath, err)
	}
	st := model.StatusData{Status: model.StatusUploaded, BatchID: batchID, Updated: stamp}
	if r.status, err = localstore.Prepare(model.NSStatus, model.StatusKey(im.pid, pageID), model.Canonical(st), &st); err != nil {
		return nil, fmt.Errorf("status of %s: %w", it.SourcePath, err)
	}
	ms := it.Duration.Milliseconds()
	n := len(p.Extraction.AboveFoldBlocks) + len(p.Extraction.RestOfPageBlocks)
	data, _ := json.Marshal(uploadLogData{SourcePath: it.SourcePath, Blocks: n, Bytes: it.Size, ContentHash: it.ContentHash})
	r.entry = model.LogEntry{Timestamp: stamp, Level: model.LevelInfo, Step: "upload",
		Message: fmt.Sprintf("extracted %d blocks from %s", n, it.SourcePath), Data: data, DurationMs: &ms}
	if len(it.Result.Warnings) > 0 {
		r.entry.Level = model.LevelWarn
		r.entry.Message += "; " + strings.Join(it.Result.Warnings, "; ")
	}
	ld := model.MergeLogData(model.LogData{}, model.LogData{PageID: pageID, Entries: []model.LogEntry{r.entry}})
	if r.log, err = localstore.Prepare(model.NSLogs, model.LogsKey(im.pid, pageID), model.Canonical(ld), &ld); err != nil {
		return nil, fmt.Errorf("log for %s: %w", it.SourcePath, err)
	}
	return r, nil
}

// prepare runs on the extraction workers: it builds an item's records on
// the guess that the page is new and goes into the first upload batch.
// A failure leaves nothing: the sink builds the records again and reports.
func (im *importer) prepare(it *extract.Item) {
	if r, err := im.records(it, im.firstBatch, model.Now(), nil); err == nil {
		it.Prepared = r
	}
}

// sink writes one scan batch in one transaction.
func (im *importer) sink(_ context.Context, b extract.Batch) error {
	// The import's context, not the scan's: the scan cancels its own when
	// it returns, and a timed commit of this transaction may come later.
	ctx := im.ctx
	im.mu.Lock()
	defer im.mu.Unlock()
	stamp := model.Now()
	var written, created, same int
	var pending map[string]extract.AuditPage
	var failed []ImportError
	if err := im.begin(ctx); err != nil {
		return err
	}
	err := im.wtx.Do(func(tx *localstore.Tx) error {
		pending = map[string]extract.AuditPage{}
		// Upload batches hold at most max_pages_per_batch pages, as
		// submitted batches do; a full one is closed and the next opened.
		var batch *model.BatchData
		openBatch := func() (*model.BatchData, error) {
			for batch == nil || len(batch.Pages) >= im.maxPer {
				if batch != nil {
					im.batchID = "" // full: the next pages go into a new batch
				}
				if im.batchID == "" {
					im.batchID = model.NextBatchID(im.started.Add(time.Duration(len(im.batchIDs))*time.Second), func(id string) bool {
						for _, used := range im.batchIDs {
							if used == id {
								return true
							}
						}
						_, err := tx.Get(model.NSBatches, model.BatchKey(im.pid, id))
						return err == nil
					})
					im.batchIDs = append(im.batchIDs, im.batchID)
				}
				// The open transaction holds the write lock, so a batch read
				// once stays current until the commit, which writes it.
				if batch = im.batches[im.batchID]; batch == nil {
					bd, ok, err := getJSON[model.BatchData](tx, model.NSBatches, model.BatchKey(im.pid, im.batchID))
					if err != nil {
						return nil, err
					}
					if !ok {
						bd = model.BatchData{BatchID: im.batchID, ProjectID: im.pid, Created: model.FormatTime(im.started),
							Status: model.BatchUploading, Pages: map[string]model.BatchPage{}}
					}
					batch = &bd
					if im.batches == nil {
						im.batches = map[string]*model.BatchData{}
					}
					im.batches[im.batchID] = batch
				}
			}
			return batch, nil
		}
		for _, it := range b.Changed {
			pageID := model.PageID(im.pid, it.SourcePath)
			key := model.PageKey(im.pid, pageID)
			prev, had, err := getJSON[model.PageData](tx, model.NSPages, key)
			if err != nil {
				return err
			}
			if had && prev.ContentHash == it.ContentHash && prev.SourceMissing == "" {
				same++
			} else {
				bd, err := openBatch()
				if err != nil {
					return err
				}
				r, _ := it.Prepared.(*pageRecords)
				if r == nil || had || r.batchID != bd.BatchID {
					if r, err = im.records(&it, bd.BatchID, stamp, prev.Optimization); err != nil {
						// A record the store refuses (a page over KV's size
						// limit, say) fails that page, not the import.
						if err := im.fileFailed(tx, extract.FileError{SourcePath: it.SourcePath, Path: it.Path, Reason: err.Error(),
							Size: it.Size, ModTimeNs: it.ModTimeNs, SHA256: it.SHA256}, stamp); err != nil {
							return err
						}
						failed = append(failed, ImportError{SourcePath: it.SourcePath, Reason: err.Error()})
						continue
					}
				}
				if err := tx.PutPrepared(r.page); err != nil {
					return fmt.Errorf("page %s: %w", it.SourcePath, err)
				}
				if err := tx.PutPrepared(r.status); err != nil {
					return fmt.Errorf("status of %s: %w", it.SourcePath, err)
				}
				_, lerr := tx.Get(model.NSLogs, r.log.Key())
				switch {
				case errors.Is(lerr, localstore.ErrNotFound):
					lerr = tx.PutPrepared(r.log)
				case lerr == nil:
					lerr = appendLog(tx, im.pid, pageID, r.entry) // earlier entries stay
				}
				if lerr != nil {
					return fmt.Errorf("log for %s: %w", it.SourcePath, lerr)
				}
				bd.Pages[pageID] = model.BatchPage{Status: model.StatusUploaded, Uploaded: r.stamp}
				written++
				if !had {
					created++
				}
				pending[pageID] = r.audit
			}
			if err := tx.PutFile(localstore.FileEntry{SourcePath: it.SourcePath, ProjectID: im.pid, PageID: pageID,
				SHA256: it.SHA256, Size: it.Size, ModTimeNs: it.ModTimeNs}); err != nil {
				return err
			}
		}
		for _, it := range b.Touched {
			if err := tx.PutFile(localstore.FileEntry{SourcePath: it.SourcePath, ProjectID: im.pid,
				PageID: model.PageID(im.pid, it.SourcePath), SHA256: it.SHA256, Size: it.Size, ModTimeNs: it.ModTimeNs}); err != nil {
				return err
			}
		}
		for _, fe := range b.Errors {
			if err := im.fileFailed(tx, fe, stamp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		im.drop() // rolled back
		return err
	}
	t := &im.open
	t.written += written
	t.created += created
	t.same += same
	for _, fe := range b.Errors {
		t.errors = append(t.errors, ImportError{SourcePath: fe.SourcePath, Reason: fe.Reason})
	}
	t.errors = append(t.errors, failed...)
	t.recordFailed += len(failed)
	if t.audit == nil {
		t.audit = map[string]extract.AuditPage{}
	}
	for k, v := range pending {
		t.audit[k] = v
	}
	t.pages += len(b.Changed) + len(b.Touched) + len(b.Errors)
	if t.pages >= commitPages || im.wtx.Age() >= commitAge || nearEnd(t.pages, b.Remaining) {
		return im.commit(ctx)
	}
	return nil
}

// nearEnd tells the sink to commit what its transaction holds (pages files)
// once the files still to come (remaining) are fewer than about 3/7 of
// them: the commit is then written while the last files are extracted, and
// the one after the last file, which nothing overlaps, stays small. Below
// 64 files a commit costs more than it saves.
func nearEnd(pages, remaining int) bool {
	return remaining > 0 && pages >= 64 && 7*remaining < 3*pages
}

// An import commits its writes every commitPages files or commitAge,
// whichever comes first, near its end (nearEnd) and at its end. Each commit
// costs a rewrite of the B+tree leaves it touches and two fsyncs, so one per
// batch of files would cost more than extraction saves; other writers wait
// at most about commitAge for the store.
var (
	commitPages = 1000 // a variable so that tests can make imports commit often
	commitAge   = 500 * time.Millisecond
)

// tally counts what an import wrote; the importer keeps the committed one
// and the one of its open transaction.
type tally struct {
	written, created, same, recordFailed, pages int
	errors                                      []ImportError
	// audit holds the duplicate-pass fields of the pages written, so the
	// pass decodes only the pages this import did not just write.
	audit map[string]extract.AuditPage
}

func (t *tally) add(o tally) {
	t.written += o.written
	t.created += o.created
	t.same += o.same
	t.recordFailed += o.recordFailed
	t.pages += o.pages
	t.errors = append(t.errors, o.errors...)
	if t.audit == nil {
		t.audit = map[string]extract.AuditPage{}
	}
	for k, v := range o.audit {
		t.audit[k] = v
	}
}

// begin opens the import's write transaction unless one is open, and
// makes sure it is committed within commitAge even if no more files come
// (extraction of the next files may take long; other writers, the GUI's
// among them, wait for the lock meanwhile). Called with im.mu held; an
// error of a timed commit is reported by the next call.
func (im *importer) begin(ctx context.Context) error {
	if err := im.lateErr; err != nil {
		return err
	}
	if im.wtx != nil {
		return nil
	}
	wtx, err := im.w.store.Begin(ctx)
	if err != nil {
		return err
	}
	im.wtx = wtx
	im.timer = time.AfterFunc(commitAge, func() {
		im.mu.Lock()
		defer im.mu.Unlock()
		if im.wtx == wtx {
			if err := im.commit(ctx); err != nil && im.lateErr == nil {
				im.lateErr = fmt.Errorf("write the files extracted so far: %w", err)
			}
		}
	})
	return nil
}

// commit writes the upload batches the open transaction filled and
// commits it, if there is one. Called with im.mu held.
func (im *importer) commit(ctx context.Context) error {
	if im.wtx == nil {
		return im.lateErr
	}
	var err error
	if len(im.batches) > 0 {
		err = im.wtx.Do(im.writeBatches)
	}
	if err == nil {
		if err = im.wtx.Commit(ctx); err == nil {
			im.done.add(im.open)
		}
	}
	im.drop()
	return err
}

// drop forgets the open transaction (committed or rolled back).
func (im *importer) drop() {
	if im.timer != nil {
		im.timer.Stop()
	}
	im.wtx, im.open, im.batches, im.timer = nil, tally{}, nil, nil
}

// writeBatches writes the upload batches of the open transaction (with
// their derived counts) and forgets them.
func (im *importer) writeBatches(tx *localstore.Tx) error {
	for _, id := range slices.Sorted(maps.Keys(im.batches)) {
		bd := im.batches[id]
		bd.PageCount = len(bd.Pages)
		bd.Summary = model.BatchSummaryOf(bd.Pages)
		if err := tx.PutJSON(model.NSBatches, model.BatchKey(im.pid, bd.BatchID), *bd); err != nil {
			return fmt.Errorf("batch %s: %w", bd.BatchID, err)
		}
	}
	im.batches = nil
	return nil
}

// rollback drops the open transaction, if any.
func (im *importer) rollback() {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.wtx != nil {
		im.wtx.Rollback()
	}
	im.drop()
}

// fileFailed records a file the scan could not extract: an error log entry
// naming the file and the reason, status failed INVALID_CONTENT when the
// page exists, and an index entry so an unchanged bad file is not reported
// again at every scan.
func (im *importer) fileFailed(tx *localstore.Tx, fe extract.FileError, stamp string) error {
	pageID := model.PageID(im.pid, fe.SourcePath)
	if fe.CollidesWith != "" {
		return im.collision(tx, pageID, fe, stamp)
	}
	data, _ := json.Marshal(map[string]any{"source_path": fe.SourcePath, "reason": fe.Reason})
	if err := appendLog(tx, im.pid, pageID, model.LogEntry{Timestamp: stamp, Level: model.LevelError, Step: "upload",
		Message: fmt.Sprintf("%s: %s", fe.SourcePath, fe.Reason), Data: data}); err != nil {
		return err
	}
	page, had, err := getJSON[model.PageData](tx, model.NSPages, model.PageKey(im.pid, pageID))
	if err != nil {
		return err
	}
	if had && page.BatchID != "" {
		st := model.StatusData{Status: model.StatusFailed, BatchID: page.BatchID, Updated: stamp,
			Error: &model.StatusError{Message: fe.SourcePath + ": " + fe.Reason, Code: codeInvalidContent, Timestamp: stamp}}
		if err := tx.PutJSON(model.NSStatus, model.StatusKey(im.pid, pageID), st); err != nil {
			return fmt.Errorf("status of %s: %w", fe.SourcePath, err)
		}
	}
	if fe.Size > 0 || fe.ModTimeNs > 0 {
		if model.NormalizeSourcePath(fe.SourcePath) == fe.SourcePath {
			return tx.PutFile(localstore.FileEntry{SourcePath: fe.SourcePath, ProjectID: im.pid, PageID: pageID,
				SHA256: fe.SHA256, Size: fe.Size, ModTimeNs: fe.ModTimeNs})
		}
	}
	return nil
}

// collision records a file that maps to the same page as another (the
// other keeps it): one error entry in the page's log, written once (a
// re-import of the unchanged folder writes nothing); the page's status is
// left alone, since its own file is fine.
func (im *importer) collision(tx *localstore.Tx, pageID string, fe extract.FileError, stamp string) error {
	msg := fmt.Sprintf("%s: %s", fe.SourcePath, fe.Reason)
	cur, _, err := getJSON[model.LogData](tx, model.NSLogs, model.LogsKey(im.pid, pageID))
	if err != nil {
		return err
	}
	for _, e := range cur.Entries {
		if e.Message == msg {
			return nil
		}
	}
	data, _ := json.Marshal(map[string]any{"source_path": fe.SourcePath, "reason": fe.Reason})
	return appendLog(tx, im.pid, pageID, model.LogEntry{Timestamp: stamp, Level: model.LevelError, Step: "upload", Message: msg, Data: data})
}

// finish flags pages whose source files are gone (nothing is deleted),
// writes the import's meta keys and refreshes the project's usage, in the
// import's last transaction, and commits it.
func (im *importer) finish(ctx context.Context, gone []string, meta map[string]string) (int, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	written := im.done.written + im.open.written
	if len(gone) == 0 && len(meta) == 0 && written == 0 {
		return 0, im.commit(ctx)
	}
	stamp := model.Now()
	n := 0
	if err := im.begin(ctx); err != nil {
		return 0, err
	}
	err := im.wtx.Do(func(tx *localstore.Tx) error {
		if err := im.writeBatches(tx); err != nil { // before usage counts them
			return err
		}
		for k, v := range meta {
			if err := tx.SetMeta(k, v); err != nil {
				return fmt.Errorf("remember %s: %w", k, err)
			}
		}
		for _, sp := range gone {
			fe, ok, err := tx.File(im.pid, sp)
			if err != nil {
				return err
			}
			if !ok || fe.ProjectID != im.pid || fe.Missing {
				continue
			}
			fe.Missing = true
			if err := tx.PutFile(fe); err != nil {
				return err
			}
			key := model.PageKey(im.pid, fe.PageID)
			p, had, err := getJSON[model.PageData](tx, model.NSPages, key)
			if err != nil {
				return err
			}
			if had && p.SourceMissing == "" {
				p.SourceMissing = stamp
				if err := tx.PutJSON(model.NSPages, key, p); err != nil {
					return fmt.Errorf("mark %s missing: %w", sp, err)
				}
				if err := appendLog(tx, im.pid, fe.PageID, model.LogEntry{Timestamp: stamp, Level: model.LevelWarn, Step: "upload",
					Message: sp + ": the source file is gone; the page is kept and marked missing"}); err != nil {
					return err
				}
			}
			n++
		}
		if written > 0 || n > 0 {
			if _, err := refreshUsage(tx, im.pid, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		im.drop() // rolled back
		return 0, err
	}
	return n, im.commit(ctx)
}

// appendLog adds an entry to logs:{pid}:{page_id} (newest 1,000 kept).
func appendLog(tx *localstore.Tx, pid, pageID string, e model.LogEntry) error {
	key := model.LogsKey(pid, pageID)
	cur, _, err := getJSON[model.LogData](tx, model.NSLogs, key)
	if err != nil {
		return err
	}
	merged := model.MergeLogData(cur, model.LogData{PageID: pageID, Entries: []model.LogEntry{e}})
	if err := tx.PutJSON(model.NSLogs, key, merged); err != nil {
		return fmt.Errorf("log for %s: %w", pageID, err)
	}
	return nil
}

// WatchFolder imports dir, then watches it and imports what changes until
// ctx ends. onImport sees each import's result (and notices, such as the OS
// watch limit, as ImportResult-less messages through notice).
func (w *Workspace) WatchFolder(ctx context.Context, dir string, o ImportOptions, onImport func(ImportResult, error), notice func(string)) error {
	first, err := w.Import(ctx, dir, o)
	if onImport != nil {
		onImport(first, err)
	}
	if err != nil {
		return err
	}
	return extract.Watch(ctx, dir, extract.WatchOptions{Notice: func(msg string, _ error) {
		if notice != nil {
			notice(msg)
		}
	}}, func(ctx context.Context, paths []string) error {
		po := o
		po.Paths = paths
		r, err := w.Import(ctx, dir, po)
		if onImport != nil {
			onImport(r, err)
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		return nil // one failed import (a store hiccup) must not end the watch
	})
}

// PageLine is one page in a listing.
type PageLine struct {
	PageID        string            `json:"page_id"`
	SourcePath    string            `json:"source_path"`
	Title         string            `json:"title"`
	Dimensions    map[string]string `json:"dimensions,omitempty"`
	Blocks        int               `json:"blocks"`
	Status        string            `json:"status,omitempty"`
	BatchID       string            `json:"batch_id,omitempty"`
	Issues        int               `json:"issues"`
	SourceMissing bool              `json:"source_missing,omitempty"`
}

// Pages lists the project's pages in source_path order; dims filters by
// dimension (every name=value must match).
func (w *Workspace) Pages(projectID string, dims map[string]string) ([]PageLine, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return nil, err
	}
	var out []PageLine
	err = w.store.List(model.NSPages, model.ProjectPrefix(model.KindPage, pid), func(key string, v []byte) error {
		var p model.PageData
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		for k, want := range dims {
			if p.Extraction.Dimensions[k] != want {
				return nil
			}
		}
		l := PageLine{PageID: p.PageID, SourcePath: p.SourcePath, Title: p.Extraction.Head["title"], Dimensions: p.Extraction.Dimensions,
			Blocks: len(p.Extraction.AboveFoldBlocks) + len(p.Extraction.RestOfPageBlocks), SourceMissing: p.SourceMissing != ""}
		if p.Audit != nil {
			l.Issues = len(p.Audit.Issues)
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pages of %s: %w", pid, err)
	}
	for i := range out {
		b, err := w.store.Get(model.NSStatus, model.StatusKey(pid, out[i].PageID))
		if errors.Is(err, localstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var st model.StatusData
		if json.Unmarshal(b, &st) == nil {
			out[i].Status, out[i].BatchID = st.Status, st.BatchID
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SourcePath < out[j].SourcePath })
	return out, nil
}

// AuditRow is one issue of one page (Screaming Frog-style).
type AuditRow struct {
	SourcePath        string `json:"source_path"`
	PageID            string `json:"page_id"`
	Code              string `json:"code"`
	Severity          string `json:"severity"`
	Message           string `json:"message"`
	TitleLength       int    `json:"title_length"`
	DescriptionLength int    `json:"description_length"`
	H1Count           int    `json:"h1_count"`
	WordCount         int    `json:"word_count"`
}

// Audit returns the project's page issues: those stored with each page at
// extraction plus the project-wide duplicates (title, description, h1,
// canonical), computed now over all pages so they never go stale and never
// force a page rewrite (a page record is rewritten only when its content
// changed).
func (w *Workspace) Audit(projectID string) ([]AuditRow, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return nil, err
	}
	dups, err := w.duplicateIssues(pid)
	if err != nil {
		return nil, err
	}
	var rows []AuditRow
	err = w.store.List(model.NSPages, model.ProjectPrefix(model.KindPage, pid), func(key string, v []byte) error {
		var p model.PageData
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		a := model.Audit{}
		if p.Audit != nil {
			a = *p.Audit
		}
		issues := append(append([]model.AuditIssue{}, a.Issues...), dups[p.PageID]...)
		for _, is := range issues {
			rows = append(rows, AuditRow{SourcePath: p.SourcePath, PageID: p.PageID, Code: is.Code, Severity: is.Severity, Message: is.Message,
				TitleLength: a.TitleLength, DescriptionLength: a.DescriptionLength, H1Count: a.H1Count, WordCount: a.WordCount})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", pid, err)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].SourcePath != rows[j].SourcePath {
			return rows[i].SourcePath < rows[j].SourcePath
		}
		return rows[i].Code < rows[j].Code
	})
	return rows, nil
}

// duplicateIssues runs the project-wide duplicate pass (pages whose source
// is missing do not count).
func (w *Workspace) duplicateIssues(pid string) (map[string][]model.AuditIssue, error) {
	return w.duplicateIssuesWith(pid, nil)
}

// duplicateIssuesWith is duplicateIssues with some pages' fields already
// known (just written and present), so only the others are decoded.
func (w *Workspace) duplicateIssuesWith(pid string, known map[string]extract.AuditPage) (map[string][]model.AuditIssue, error) {
	// Only the fields the pass needs are decoded: the rest of a page record
	// (blocks' attributes, selector map, optimization) is skipped.
	type leanBlock struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	type lean struct {
		PageID        string `json:"page_id"`
		SourceMissing string `json:"source_missing"`
		Extraction    struct {
			Head  map[string]string `json:"head"`
			Above []leanBlock       `json:"above_fold_blocks"`
			Rest  []leanBlock       `json:"rest_of_page_blocks"`
		} `json:"extraction"`
	}
	var pages []extract.AuditPage
	prefix := model.ProjectPrefix(model.KindPage, pid)
	err := w.store.Walk(model.NSPages, prefix, func(key string, v []byte) error { // v is decoded, not kept
		if ap, ok := known[strings.TrimPrefix(key, prefix)]; ok {
			pages = append(pages, ap)
			return nil
		}
		var p lean
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		if p.SourceMissing != "" {
			return nil
		}
		h := p.Extraction.Head
		ap := extract.AuditPage{Key: p.PageID, Title: h["title"], Description: h["metaDescription"], Canonical: h["canonical"]}
		for _, b := range append(p.Extraction.Above, p.Extraction.Rest...) {
			if b.Type == "h1" {
				ap.H1 = b.Content // as firstH1
				break
			}
		}
		pages = append(pages, ap)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("duplicate audit of %s: %w", pid, err)
	}
	return extract.AuditDuplicates(pages), nil
}

// firstH1 is the content of the page's first h1 block (the duplicate pass
// compares these).
func firstH1(e model.Extraction) string {
	for _, list := range [][]model.Block{e.AboveFoldBlocks, e.RestOfPageBlocks} {
		for _, b := range list {
			if b.Type == "h1" {
				return b.Content
			}
		}
	}
	return ""
}

// pageHead and pageTail are model.PageData's fields before and after the
// extraction, in its order: the extraction was already encoded once for its
// content_hash, and encoding it again (or letting encoding/json re-validate
// it as a RawMessage) would double the largest cost of an import.
// TestPageJSONIsCanonical pins the bytes to model.Canonical.
type pageHead struct {
	PageID     string `json:"page_id"`
	ProjectID  string `json:"project_id"`
	BatchID    string `json:"batch_id"`
	SourcePath string `json:"source_path"`
	Uploaded   string `json:"uploaded"`
}

type pageTail struct {
	Optimization  *model.Optimization `json:"optimization,omitempty"`
	ContentHash   string              `json:"content_hash,omitempty"`
	Audit         *model.Audit        `json:"audit,omitempty"`
	SourceMissing string              `json:"source_missing,omitempty"`
}

// pageJSON is model.Canonical(p), splicing in ext (the canonical JSON of
// p.Extraction) when given.
func pageJSON(p model.PageData, ext []byte) []byte {
	if len(ext) == 0 {
		return model.Canonical(p)
	}
	head := model.Canonical(pageHead{PageID: p.PageID, ProjectID: p.ProjectID, BatchID: p.BatchID,
		SourcePath: p.SourcePath, Uploaded: p.Uploaded})
	tail := model.Canonical(pageTail{Optimization: p.Optimization, ContentHash: p.ContentHash,
		Audit: p.Audit, SourceMissing: p.SourceMissing})
	out := make([]byte, 0, len(head)+len(ext)+len(tail)+16)
	out = append(out, head[:len(head)-1]...) // without its closing brace
	out = append(out, `,"extraction":`...)
	out = append(out, ext...)
	if len(tail) > 2 { // "{}" when every tail field is empty
		out = append(out, ',')
		out = append(out, tail[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}
