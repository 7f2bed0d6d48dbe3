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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	if o.Paths == nil && len(snapshot) > 0 { // a first import has nothing to miss
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
		dups, err := w.duplicateIssues(pid)
		if err != nil {
			return res, fmt.Errorf("import %s: %w", dir, err)
		}
		n := len(dups)
		res.Duplicates = &n
	}
	res.DurationMs = time.Since(start).Milliseconds()
	return res, nil
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
