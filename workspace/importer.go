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
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

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
	r := &pageRecords{batchID: batchID, stamp: stamp}
	var err error
	if r.page, err = localstore.Prepare(model.NSPages, model.PageKey(im.pid, pageID), model.CanonicalPage(p, it.ExtractionJSON), &p); err != nil {
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
	var failed []ImportError
	if err := im.begin(ctx); err != nil {
		return err
	}
	err := im.wtx.Do(func(tx *localstore.Tx) error {
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
		// The path index (pp:, in path order while the files come in page
		// ID order) is written all over the file, and each read of a leaf
		// maps 15 neighbouring pages too: without this a transaction of
		// 1,000 pages brought 50 MB of the file into the resident set
		// before its commit (when the file index was in path order too).
		// The transaction's changes are in its own memory until the
		// commit, so the mapping holds the file's bytes and reading them
		// again gives the same.
		tx.ReleaseMapped()
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
// at most about commitAge for the store. The open transaction holds a copy
// of every leaf it touched (the path index, in path order, about one leaf
// per page written), so its size is most of the import's memory: 1,000
// files made the peak 250 MB on a 100,000-page site, 250 make it 162 MB in
// the same time (140 MB since the file index is in page ID order).
var (
	commitPages = 250 // a variable so that tests can make imports commit often
	commitAge   = 500 * time.Millisecond
)

// tally counts what an import wrote; the importer keeps the committed one
// and the one of its open transaction.
type tally struct {
	written, created, same, recordFailed, pages int
	errors                                      []ImportError
}

func (t *tally) add(o tally) {
	t.written += o.written
	t.created += o.created
	t.same += o.same
	t.recordFailed += o.recordFailed
	t.pages += o.pages
	t.errors = append(t.errors, o.errors...)
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
			// A commit rewrites the B+tree leaves the next one reads
			// again: without this the import's resident set grew with
			// the store file (1.1 GB at 100,000 pages).
			im.w.store.ReleaseMapped()
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
