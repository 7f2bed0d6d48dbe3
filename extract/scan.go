package extract

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nimbus-desktop/nimbus/model"
)

// FileState is what a file index remembers of one source file.
type FileState struct {
	SHA256    string
	Size      int64
	ModTimeNs int64
	// Missing: the file was gone at the last scan.
	Missing bool
}

// FileIndex tells the scanner what each file looked like when it was last
// extracted, so unchanged files are skipped. The workspace implements it over
// the local store's file index; a nil index means "extract everything".
type FileIndex interface {
	Lookup(sourcePath string) (FileState, bool, error)
}

// Progress is reported after each file: Done of Total, the file just handled.
type Progress struct {
	Done, Total int
	Current     string
}

// Item is one file the scan found changed (Result set) or only touched (same
// bytes, new mtime: Result nil, the index needs the new mtime).
type Item struct {
	SourcePath string
	Path       string
	Size       int64
	ModTimeNs  int64
	SHA256     string
	Result     *Result
	// ContentHash is model.ContentHash of the extraction and
	// ExtractionJSON the canonical JSON it hashes, computed by the worker
	// (the encoding is the costliest step after parsing; a store can reuse
	// the bytes).
	ContentHash    string
	ExtractionJSON []byte
	// Duration is how long reading and extracting took.
	Duration time.Duration
	// Prepared is what ScanOptions.Prepare left for the sink.
	Prepared any
}

// FileError is a file the scan could not extract, with the reason in words
// an editor understands. Err keeps the cause for errors.Is (ErrEmpty, ...).
type FileError struct {
	SourcePath string
	Path       string
	Reason     string
	Err        error
	// Size and ModTimeNs (and SHA256 when the bytes were read) describe the
	// file when it could be inspected, so an index can remember a bad file
	// and not report it again until it changes; zero when unknown.
	Size      int64
	ModTimeNs int64
	SHA256    string
	// CollidesWith is set when this file maps to the same page as another
	// file (its path here): their names differ only in Unicode
	// normalization (NFC/NFD) or in \ and /. The other file keeps the page;
	// this one is not extracted.
	CollidesWith string
}

// ErrCollision: two files map to one page.
var ErrCollision = errors.New("two files map to one page")

func (e FileError) Error() string { return e.SourcePath + ": " + e.Reason }

// splitCollisions keeps one file of every source path and turns the others
// into errors naming both: distinct files must never overwrite one page
// record in turn. The file kept is the one the page was extracted from (its
// size and mtime are the index's) when there is one: an established page
// keeps its file when a file whose name differs only in Unicode
// normalization or in \ and / is added beside it. Otherwise (a new page,
// or none matches) the first in walk order, which is sorted, keeps it.
func splitCollisions(root string, files []scanFile, index FileIndex) ([]scanFile, []FileError) {
	// Files of one source path are rare: they are found next to each other
	// in source path order, which costs 4 bytes a file (a map of every
	// path to its files cost 7 MB on 100,000).
	order := make([]int32, len(files))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(files[a].sourcePath, files[b].sourcePath); c != 0 {
			return c
		}
		return cmp.Compare(a, b) // walk order within a path
	})
	groups := map[int][]int{} // the group of each first file of one that has several
	later := map[int]bool{}   // the other files of those groups
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && files[order[j]].sourcePath == files[order[i]].sourcePath {
			j++
		}
		if j-i > 1 {
			g := make([]int, j-i)
			for k, f := range order[i:j] {
				g[k] = int(f)
			}
			groups[g[0]] = g
			for _, f := range g[1:] {
				later[f] = true
			}
		}
		i = j
	}
	if len(groups) == 0 {
		return files, nil
	}
	out := make([]scanFile, 0, len(files))
	var errs []FileError
	for i, f := range files {
		g, first := groups[i]
		if !first {
			if !later[i] {
				out = append(out, f)
			} // else handled with the group's first file
			continue
		}
		keep := files[g[establishedOf(files, g, index)]]
		out = append(out, keep)
		relKeep, _ := filepath.Rel(filepath.Dir(root), keep.path)
		for _, j := range g {
			other := files[j]
			if other.path == keep.path {
				continue // the kept file, or the same file listed twice
			}
			relThis, _ := filepath.Rel(filepath.Dir(root), other.path)
			errs = append(errs, FileError{SourcePath: other.sourcePath, Path: other.path, CollidesWith: keep.path, Err: ErrCollision,
				Reason: fmt.Sprintf("%q and %q map to the same page %s (their names differ only in Unicode normalization or in \\ and /); %q keeps the page: rename the other file",
					strings.ToValidUTF8(relThis, "\uFFFD"), strings.ToValidUTF8(relKeep, "\uFFFD"), other.sourcePath, strings.ToValidUTF8(relKeep, "\uFFFD"))})
		}
	}
	return out, errs
}

// establishedOf is the index in g (files of one source path, in walk order)
// of the file the page was last extracted from: the first whose size and
// mtime are the index's; 0 when none is (or there is no index).
func establishedOf(files []scanFile, g []int, index FileIndex) int {
	if index == nil {
		return 0
	}
	st, ok, err := index.Lookup(files[g[0]].sourcePath)
	if err != nil || !ok || st.Missing {
		return 0
	}
	for k, j := range g {
		if fi, err := os.Stat(files[j].path); err == nil && fi.Size() == st.Size && fi.ModTime().UnixNano() == st.ModTimeNs {
			return k
		}
	}
	return 0
}

// withSamePage puts, in place of each file of a partial scan, every HTML
// file under root with its source path in the order a full scan walks them
// (splitCollisions keeps one and reports the others), so a
// file added next to one whose name differs only in Unicode normalization
// or in \ and / is a collision in a watch rescan too, not an overwrite.
// Each folder is read once per scan.
func withSamePage(root string, files []scanFile) []scanFile {
	dirs := map[string][]os.DirEntry{}
	readDir := func(d string) []os.DirEntry {
		e, ok := dirs[d]
		if !ok {
			e, _ = os.ReadDir(d) // unreadable: no candidates there (the walk reports it)
			dirs[d] = e
		}
		return e
	}
	out := make([]scanFile, 0, len(files))
	seen := make(map[string]bool, len(files))
	add := func(f scanFile) {
		if !seen[f.path] {
			seen[f.path] = true
			out = append(out, f)
		}
	}
	for _, f := range files {
		if seen[f.path] {
			continue
		}
		_, rest, ok := strings.Cut(f.sourcePath, "/")
		if !ok {
			add(f)
			continue
		}
		for _, p := range samePage(root, rest, readDir) {
			add(scanFile{path: p, sourcePath: f.sourcePath})
		}
		add(f) // kept even if its name escaped the search
	}
	return out
}

// samePage lists the HTML files under dir whose normalized path below dir
// is rest, in walk order (names in order, depth first); a name holding \
// stands for several folders.
func samePage(dir, rest string, readDir func(string) []os.DirEntry) []string {
	var out []string
	for _, e := range readDir(dir) {
		name := e.Name()
		n := model.NormalizeSourcePath(name)
		if n == "" || !strings.HasPrefix(rest, n) {
			continue
		}
		p := filepath.Join(dir, name)
		switch {
		case len(rest) == len(n):
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && isHTMLName(name) && utf8.ValidString(p) {
				out = append(out, p)
			}
		case rest[len(n)] == '/' && !strings.HasPrefix(name, "."):
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				out = append(out, samePage(p, rest[len(n)+1:], readDir)...)
			}
		}
	}
	return out
}

// Batch is what the scan delivers to its sink at a time.
type Batch struct {
	Changed []Item
	Touched []Item
	Errors  []FileError
	// Remaining is how many files the scan has still to deliver after
	// this batch (a sink can time its commits by it).
	Remaining int
}

func (b *Batch) size() int { return len(b.Changed) + len(b.Touched) + len(b.Errors) }

// Summary describes a finished scan.
type Summary struct {
	Total, Extracted, Touched, Unchanged, Failed int
	// Seen lists the source paths of every HTML file present (full scans).
	Seen []string
	// Gone lists the source paths of requested paths that no longer exist.
	Gone     []string
	Duration time.Duration
}

// ScanOptions configure a scan.
type ScanOptions struct {
	// Root is the watched folder (e.g. /site/dist); source paths are relative
	// to its parent.
	Root string
	// Paths limits the scan to these files or folders (absolute, or relative
	// to Root); nil scans the whole tree.
	Paths []string
	// Index skips unchanged files; nil extracts everything.
	Index FileIndex
	// Options are the extraction settings; SourcePath is filled per file.
	Options Options
	// Workers defaults to GOMAXPROCS; BatchSize (most files per sink call:
	// an idle sink gets fewer) to 200.
	Workers   int
	BatchSize int
	// Progress, if set, is called from one goroutine after every file.
	Progress func(Progress)
	// Order, if set, gives each file (by source path) a key; files are
	// extracted in key order, so results reach the sink roughly in it (a
	// store whose keys derive from it then appends rather than inserts).
	Order func(sourcePath string) string
	// Prepare, if set, is called on the extraction workers (concurrently,
	// so it must be safe for that) for every changed item before it goes
	// to the sink: per-item work the sink would otherwise do serially
	// (encoding, validating and hashing the records it writes) runs in
	// parallel there. It may set Item.Prepared.
	Prepare func(*Item)
}

type scanFile struct {
	path, sourcePath string
}

// Scan walks the folder, skips files whose (size, mtime) and then sha256
// match the index, extracts the rest in parallel and hands results to sink
// in batches (sink is called from one goroutine at a time). A file that
// cannot be read or extracted is a FileError in a batch, never the end of the
// scan; only a sink error, an unreadable root or ctx stops it.
func Scan(ctx context.Context, opts ScanOptions, sink func(context.Context, Batch) error) (Summary, error) {
	start := time.Now()
	var sum Summary
	c, err := compile(opts.Options)
	if err != nil {
		return sum, fmt.Errorf("scan %s: %w", opts.Root, err)
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return sum, fmt.Errorf("scan %s: %w", opts.Root, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return sum, fmt.Errorf("scan %s: %w", opts.Root, err)
	} else if !fi.IsDir() {
		return sum, fmt.Errorf("scan %s: not a folder", opts.Root)
	}
	var files []scanFile
	var walkErrs []FileError
	full := opts.Paths == nil
	if full {
		files, walkErrs = walkTree(ctx, root, root)
	} else {
		files, walkErrs, sum.Gone = walkPaths(ctx, root, opts.Paths)
	}
	if !full {
		// A partial rescan (the watcher's) lists the changed files only:
		// a file that collides with one that did not change is found on
		// disk, so both scans tell the same story.
		files = withSamePage(root, files)
	}
	var collisions []FileError
	files, collisions = splitCollisions(root, files, opts.Index)
	walkErrs = append(walkErrs, collisions...)
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if full {
		for _, f := range files {
			sum.Seen = append(sum.Seen, f.sourcePath)
		}
	}
	if opts.Order != nil {
		type keyed struct {
			key string
			f   scanFile
		}
		ks := make([]keyed, len(files))
		for i, f := range files {
			ks[i] = keyed{opts.Order(f.sourcePath), f}
		}
		slices.SortStableFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
		for i := range ks {
			files[i] = ks[i].f
		}
	}
	sum.Total = len(files) + len(walkErrs)

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batchSize := opts.BatchSize
	if batchSize <= 0 {
		batchSize = 200
	}
	type outcome struct {
		file      scanFile
		item      *Item
		touched   bool
		unchanged bool
		ferr      *FileError
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan scanFile)
	results := make(chan outcome, workers*2)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				it, touched, unchanged, ferr := c.scanOne(f, opts.Index)
				if opts.Prepare != nil && it != nil && it.Result != nil {
					opts.Prepare(it)
				}
				select {
				case results <- outcome{file: f, item: it, touched: touched, unchanged: unchanged, ferr: ferr}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	// The sink (a store transaction) runs in its own goroutine so that
	// extraction goes on while a batch is being written. It gets what has
	// accumulated whenever it is idle (at least minBatch files, so a fast
	// sink does not pay its per-call cost for every file) and at most
	// batchSize files: when the last file is extracted, little is left for
	// it to write.
	batches := make(chan Batch)
	minBatch := min(64, batchSize)
	sinkErr := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err == nil {
				if err = sink(ctx, b); err != nil {
					err = fmt.Errorf("scan %s: store results: %w", opts.Root, err)
					cancel()
				}
			}
		}
		sinkErr <- err
	}()
	var batch Batch
	done := 0
	flush := func() {
		if batch.size() == 0 {
			return
		}
		batch.Remaining = sum.Total - done
		select {
		case batches <- batch:
		case <-ctx.Done():
		}
		batch = Batch{}
	}
	report := func(current string) {
		done++
		if opts.Progress != nil {
			opts.Progress(Progress{Done: done, Total: sum.Total, Current: current})
		}
	}
	for _, fe := range walkErrs {
		batch.Errors = append(batch.Errors, fe)
		sum.Failed++
		report(fe.SourcePath)
	}
	for o := range results {
		switch {
		case o.ferr != nil:
			batch.Errors = append(batch.Errors, *o.ferr)
			sum.Failed++
		case o.unchanged:
			sum.Unchanged++
		case o.touched:
			batch.Touched = append(batch.Touched, *o.item)
			sum.Touched++
		default:
			batch.Changed = append(batch.Changed, *o.item)
			sum.Extracted++
		}
		report(o.file.sourcePath)
		if batch.size() >= batchSize {
			flush()
		} else if batch.size() >= minBatch {
			batch.Remaining = sum.Total - done
			select {
			case batches <- batch: // the sink was idle
				batch = Batch{}
			default:
			}
		}
	}
	if ctx.Err() == nil {
		flush()
	}
	close(batches)
	if err := <-sinkErr; err != nil {
		return sum, err
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

// scanOne handles one file: unchanged by (size, mtime), touched by sha256,
// else extracted.
func (c *compiled) scanOne(f scanFile, index FileIndex) (it *Item, touched, unchanged bool, ferr *FileError) {
	start := time.Now()
	var size, mtime int64
	var digest string
	fail := func(reason string, err error) (*Item, bool, bool, *FileError) {
		return nil, false, false, &FileError{SourcePath: f.sourcePath, Path: f.path, Reason: reason, Err: err, Size: size, ModTimeNs: mtime, SHA256: digest}
	}
	var prev FileState
	var known bool
	if index != nil {
		var err error
		prev, known, err = index.Lookup(f.sourcePath)
		if err != nil {
			return fail("the file index cannot be read: "+err.Error(), err)
		}
	}
	// An unchanged file costs one stat (the rescan path); a changed one is
	// opened and checked again through its descriptor.
	if known && !prev.Missing {
		if fi, err := os.Stat(f.path); err == nil && fi.Mode().IsRegular() &&
			fi.Size() == prev.Size && fi.ModTime().UnixNano() == prev.ModTimeNs {
			return nil, false, true, nil
		}
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return fail(openReason(err), err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fail("the file cannot be inspected: "+err.Error(), err)
	}
	if !fi.Mode().IsRegular() {
		return fail("not a regular file", errors.New("not a regular file"))
	}
	size, mtime = fi.Size(), fi.ModTime().UnixNano()
	if known && !prev.Missing && prev.Size == size && prev.ModTimeNs == mtime {
		return nil, false, true, nil
	}
	if size > c.maxBytes {
		err := fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, size, c.maxBytes)
		return fail(err.Error(), err)
	}
	src, err := io.ReadAll(io.LimitReader(fh, c.maxBytes+1))
	if err != nil {
		return fail("the file cannot be read: "+err.Error(), err)
	}
	if int64(len(src)) > c.maxBytes {
		err := fmt.Errorf("%w (it grew past %d bytes while being read)", ErrTooLarge, c.maxBytes)
		return fail(err.Error(), err)
	}
	sum := sha256.Sum256(src)
	digest = hex.EncodeToString(sum[:])
	size = int64(len(src))
	item := &Item{SourcePath: f.sourcePath, Path: f.path, Size: size, ModTimeNs: mtime, SHA256: digest}
	if known && !prev.Missing && prev.SHA256 == item.SHA256 {
		item.Duration = time.Since(start)
		return item, true, false, nil
	}
	pc := *c
	pc.opts.SourcePath = f.sourcePath
	res, err := pc.analyze(src)
	if err != nil {
		return fail(err.Error(), err)
	}
	item.Result = &res
	item.ExtractionJSON = model.Canonical(res.Extraction)
	item.ContentHash = model.ValueHash(item.ExtractionJSON)
	item.Duration = time.Since(start)
	return item, false, false, nil
}

func openReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "the file vanished during the scan"
	case errors.Is(err, fs.ErrPermission):
		return "the file is not readable (permission denied)"
	}
	return "the file cannot be opened: " + err.Error()
}

func isHTMLName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".html" || ext == ".htm"
}

// walkTree lists the HTML files under dir. Symbolic links are followed
// (sites link shared folders) but a link to one of its own ancestors is a
// loop and is reported, not entered. Dot-folders (.git, .cache) are skipped.
func walkTree(ctx context.Context, root, dir string) ([]scanFile, []FileError) {
	var files []scanFile
	var errs []FileError
	var ancestors []os.FileInfo
	var walk func(dir string)
	walk = func(dir string) {
		if ctx.Err() != nil {
			return
		}
		di, err := os.Stat(dir)
		if err != nil {
			errs = append(errs, pathError(root, dir, "the folder cannot be read: "+err.Error(), err))
			return
		}
		for _, a := range ancestors {
			if os.SameFile(a, di) {
				errs = append(errs, pathError(root, dir, "symbolic link loop: the folder links back to one of its parents", errors.New("symlink loop")))
				return
			}
		}
		ancestors = append(ancestors, di)
		defer func() { ancestors = ancestors[:len(ancestors)-1] }()
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, pathError(root, dir, "the folder cannot be read: "+err.Error(), err))
			// ReadDir returns what it read before the error.
		}
		for _, e := range entries {
			name := e.Name()
			p := filepath.Join(dir, name)
			mode := e.Type()
			if mode&fs.ModeSymlink != 0 {
				fi, err := os.Stat(p)
				if err != nil {
					if isHTMLName(name) {
						errs = append(errs, pathError(root, p, "broken symbolic link", err))
					}
					continue
				}
				mode = fi.Mode().Type()
			}
			switch {
			case mode.IsDir():
				if strings.HasPrefix(name, ".") {
					continue
				}
				walk(p)
			case mode.IsRegular() && isHTMLName(name):
				if !utf8.ValidString(p) {
					errs = append(errs, pathError(root, p, "the file name is not valid UTF-8; rename it", errors.New("invalid UTF-8 name")))
					continue
				}
				sp, err := model.SourcePath(root, p)
				if err != nil {
					errs = append(errs, pathError(root, p, err.Error(), err))
					continue
				}
				if k := len(p) - len(sp); k > 0 && p[k:] == sp {
					sp = p[k:] // the usual case: one string for both (5 MB of 100,000 files)
				}
				files = append(files, scanFile{path: p, sourcePath: sp})
			}
		}
	}
	walk(dir)
	return files, errs
}

// walkPaths resolves a partial scan's paths: files are scanned, folders
// walked, paths that no longer exist are gone.
func walkPaths(ctx context.Context, root string, paths []string) ([]scanFile, []FileError, []string) {
	var files []scanFile
	var errs []FileError
	var gone []string
	seen := map[string]bool{}
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	for _, p := range sorted {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		p = filepath.Clean(p)
		if rel, err := filepath.Rel(root, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if isHTMLName(p) && utf8.ValidString(p) {
				if sp, err := model.SourcePath(root, p); err == nil && !seen[sp] {
					seen[sp] = true
					gone = append(gone, sp)
				}
			}
			continue
		case err != nil:
			errs = append(errs, pathError(root, p, "the file cannot be inspected: "+err.Error(), err))
			continue
		}
		var found []scanFile
		if fi.IsDir() {
			var ferrs []FileError
			found, ferrs = walkTree(ctx, root, p)
			errs = append(errs, ferrs...)
		} else if fi.Mode().IsRegular() && isHTMLName(p) {
			if !utf8.ValidString(p) {
				errs = append(errs, pathError(root, p, "the file name is not valid UTF-8; rename it", errors.New("invalid UTF-8 name")))
				continue
			}
			sp, err := model.SourcePath(root, p)
			if err != nil {
				continue
			}
			found = []scanFile{{path: p, sourcePath: sp}}
		}
		for _, f := range found {
			// Keyed by file: distinct files of one source path are
			// collisions, reported by splitCollisions.
			if !seen["\x00"+f.path] {
				seen["\x00"+f.path] = true
				files = append(files, f)
			}
		}
	}
	return files, errs, gone
}

func pathError(root, p, reason string, err error) FileError {
	sp, serr := model.SourcePath(root, strings.ToValidUTF8(p, "\uFFFD"))
	if serr != nil {
		sp = strings.ToValidUTF8(filepath.ToSlash(p), "\uFFFD")
	}
	return FileError{SourcePath: sp, Path: p, Reason: reason, Err: err}
}
