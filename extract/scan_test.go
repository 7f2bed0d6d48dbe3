package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// memIndex is an in-memory FileIndex fed from scan batches, as the
// workspace feeds the store's file index.
type memIndex struct {
	mu       sync.Mutex
	m        map[string]FileState
	onLookup func(sourcePath string)
}

func newMemIndex() *memIndex { return &memIndex{m: map[string]FileState{}} }

func (x *memIndex) Lookup(sp string) (FileState, bool, error) {
	if x.onLookup != nil {
		x.onLookup(sp)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.m[sp]
	return st, ok, nil
}

func (x *memIndex) sink(extracted *[]string) func(context.Context, Batch) error {
	return func(_ context.Context, b Batch) error {
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, it := range append(append([]Item{}, b.Changed...), b.Touched...) {
			x.m[it.SourcePath] = FileState{SHA256: it.SHA256, Size: it.Size, ModTimeNs: it.ModTimeNs}
		}
		if extracted != nil {
			for _, it := range b.Changed {
				*extracted = append(*extracted, it.SourcePath)
			}
		}
		return nil
	}
}

func TestScanSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "dist")
	copyTree(t, "../testdata/site/dist", site)
	idx := newMemIndex()
	var progress []Progress
	sum, err := Scan(context.Background(), ScanOptions{Root: site, Index: idx, Options: goldenOptions(""),
		Progress: func(p Progress) { progress = append(progress, p) }}, idx.sink(nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 311 || sum.Extracted != 311 || sum.Failed != 0 || len(sum.Seen) != 311 {
		t.Fatalf("first scan: %+v", sum)
	}
	if len(progress) != 311 || progress[310].Done != 311 || progress[310].Total != 311 {
		t.Errorf("progress: %d reports, last %+v", len(progress), progress[len(progress)-1])
	}
	if !strings.HasPrefix(sum.Seen[0], "dist/") {
		t.Errorf("source paths are not relative to the folder's parent: %s", sum.Seen[0])
	}
	sum, err = Scan(context.Background(), ScanOptions{Root: site, Index: idx, Options: goldenOptions("")}, idx.sink(nil))
	if err != nil || sum.Unchanged != 311 || sum.Extracted != 0 {
		t.Fatalf("second scan: %+v %v", sum, err)
	}
	// A new mtime with the same bytes is only touched; new bytes re-extract.
	p := filepath.Join(site, "index.html")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(site, "local", "leeds", "index.html")
	appendFile(t, q, "<!-- rebuilt -->")
	var extracted []string
	sum, err = Scan(context.Background(), ScanOptions{Root: site, Index: idx, Options: goldenOptions("")}, idx.sink(&extracted))
	if err != nil || sum.Touched != 1 || sum.Extracted != 1 || sum.Unchanged != 309 {
		t.Fatalf("third scan: %+v %v", sum, err)
	}
	if extracted[0] != "dist/local/leeds/index.html" {
		t.Errorf("extracted %v", extracted)
	}
}

func TestScanBadInput(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "dist")
	copyTree(t, "../testdata/edge", site)
	writeFile(t, filepath.Join(site, "huge.html"), []byte("<p>"+strings.Repeat("x", 11<<20)+"</p>"))
	writeFile(t, filepath.Join(site, "sub", "ok.html"), []byte("<main><h1>ok</h1></main>"))
	writeFile(t, filepath.Join(site, "sub", "vanishing.html"), []byte("<main><h1>soon gone</h1></main>"))
	if err := os.Symlink("..", filepath.Join(site, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere.html", filepath.Join(site, "broken.html")); err != nil {
		t.Fatal(err)
	}
	badName := filepath.Join(site, "caf\xe9.html")
	writeFile(t, badName, []byte("<main><h1>latin-1 name</h1></main>"))
	unreadable := filepath.Join(site, "secret.html")
	writeFile(t, unreadable, []byte("<main><h1>secret</h1></main>"))
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	canDenyRead := os.Geteuid() != 0 // root reads anything
	idx := newMemIndex()
	idx.onLookup = func(sp string) {
		if strings.HasSuffix(sp, "vanishing.html") {
			os.Remove(filepath.Join(site, "sub", "vanishing.html"))
		}
	}
	sum, err := Scan(context.Background(), ScanOptions{Root: site, Index: idx, Workers: 2, BatchSize: 3}, func(ctx context.Context, b Batch) error {
		return idx.sink(nil)(ctx, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	var errs []FileError
	_, _ = Scan(context.Background(), ScanOptions{Root: site}, func(_ context.Context, b Batch) error {
		errs = append(errs, b.Errors...)
		return nil
	})
	reasons := map[string]string{}
	for _, e := range errs {
		reasons[filepath.Base(e.SourcePath)] = e.Reason
	}
	want := map[string]string{
		"empty.html":     "empty",
		"binary.html":    "binary",
		"huge.html":      "larger than the size limit",
		"loop":           "symbolic link loop",
		"broken.html":    "broken symbolic link",
		"caf\uFFFD.html": "not valid UTF-8",
	}
	if canDenyRead {
		want["secret.html"] = "not readable"
	}
	for name, frag := range want {
		if !strings.Contains(reasons[name], frag) {
			t.Errorf("%s: reason %q does not say %q (all: %v)", name, reasons[name], frag, reasons)
		}
	}
	// The first scan (with the vanishing file) went on past every error.
	if sum.Extracted < 8 {
		t.Errorf("the scan stopped early: %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(site, "sub", "vanishing.html")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the vanishing file is still there")
	}
	t.Logf("summary %+v", sum)
}

func TestScanVanishedFile(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "dist")
	writeFile(t, filepath.Join(site, "a.html"), []byte("<main><h1>a</h1></main>"))
	writeFile(t, filepath.Join(site, "b.html"), []byte("<main><h1>b</h1></main>"))
	idx := newMemIndex()
	idx.onLookup = func(sp string) {
		if sp == "dist/b.html" {
			os.Remove(filepath.Join(site, "b.html"))
		}
	}
	var errs []FileError
	sum, err := Scan(context.Background(), ScanOptions{Root: site, Index: idx}, func(_ context.Context, b Batch) error {
		errs = append(errs, b.Errors...)
		return nil
	})
	if err != nil || sum.Extracted != 1 || sum.Failed != 1 || len(errs) != 1 || !strings.Contains(errs[0].Reason, "vanished") {
		t.Fatalf("summary %+v errs %+v err %v", sum, errs, err)
	}
	// A partial scan of a path that is gone reports it as gone.
	sum, err = Scan(context.Background(), ScanOptions{Root: site, Paths: []string{filepath.Join(site, "b.html"), "a.html"}}, func(context.Context, Batch) error { return nil })
	if err != nil || len(sum.Gone) != 1 || sum.Gone[0] != "dist/b.html" || sum.Extracted != 1 {
		t.Fatalf("partial scan: %+v %v", sum, err)
	}
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
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

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprint(f, s); err != nil {
		t.Fatal(err)
	}
}

// TestScanOrderPrepareAndBatches: Order sets the extraction order, Prepare
// runs on the workers for every extracted item (not for touched ones) and
// its result reaches the sink, and no sink call gets more than BatchSize
// files.
func TestScanOrderPrepareAndBatches(t *testing.T) {
	site := filepath.Join(t.TempDir(), "dist")
	copyTree(t, "../testdata/site/dist", site)
	rev := func(sp string) string { // an order unlike the walk's
		b := []byte(sp)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	var mu sync.Mutex
	prepared := map[string]bool{}
	var order []string
	var sizes []int
	missing, delivered := 0, 0
	_, err := Scan(context.Background(), ScanOptions{Root: site, Options: goldenOptions(""), Workers: 1, BatchSize: 50,
		Order: rev,
		Prepare: func(it *Item) {
			mu.Lock()
			defer mu.Unlock()
			prepared[it.SourcePath] = true
			it.Prepared = "ready:" + it.SourcePath
		},
		Progress: func(p Progress) { order = append(order, p.Current) },
	}, func(_ context.Context, b Batch) error {
		sizes = append(sizes, b.size())
		delivered += b.size()
		if b.Remaining != 311-delivered {
			t.Errorf("batch %d: Remaining %d after %d of 311 files", len(sizes), b.Remaining, delivered)
		}
		for _, it := range b.Changed {
			if it.Prepared != "ready:"+it.SourcePath {
				missing++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(prepared) != 311 || missing != 0 {
		t.Fatalf("prepared %d items, %d reached the sink without their preparation", len(prepared), missing)
	}
	for i := 1; i < len(order); i++ {
		if rev(order[i-1]) > rev(order[i]) {
			t.Fatalf("file %d (%s) was extracted before %s against the order", i, order[i-1], order[i])
		}
	}
	total := 0
	for _, n := range sizes {
		if n > 50 || n == 0 {
			t.Fatalf("sink call with %d files (BatchSize 50): %v", n, sizes)
		}
		total += n
	}
	if total != 311 {
		t.Fatalf("the sink got %d files, want 311", total)
	}
}
