package extract

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchHarness runs Watch over a folder with a real scan behind it and
// records what each scan extracted.
type watchHarness struct {
	mu    sync.Mutex
	scans [][]string // extracted source paths per scan
	calls [][]string // paths per onChange call
}

func (h *watchHarness) snapshot() (scans [][]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]string(nil), h.scans...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func makeSite(t *testing.T, n int) string {
	site := filepath.Join(t.TempDir(), "dist")
	for i := 0; i < n; i++ {
		writeFile(t, filepath.Join(site, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("p%03d.html", i)),
			[]byte(fmt.Sprintf("<html><head><title>Page %d</title></head><body><main><h1>Page %d</h1><p>Text %d.</p></main></body></html>", i, i, i)))
	}
	return site
}

func TestWatchDebouncesIntoFewScans(t *testing.T) {
	site := makeSite(t, 500)
	idx := newMemIndex()
	if sum, err := Scan(context.Background(), ScanOptions{Root: site, Index: idx}, idx.sink(nil)); err != nil || sum.Extracted != 500 {
		t.Fatalf("initial scan %+v %v", sum, err)
	}
	h := &watchHarness{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchErr := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		watchErr <- Watch(ctx, site, WatchOptions{Debounce: 200 * time.Millisecond, MaxDelay: 3 * time.Second}, func(ctx context.Context, paths []string) error {
			var extracted []string
			_, err := Scan(ctx, ScanOptions{Root: site, Paths: paths, Index: idx}, idx.sink(&extracted))
			h.mu.Lock()
			h.calls = append(h.calls, paths)
			h.scans = append(h.scans, extracted)
			h.mu.Unlock()
			return err
		})
	}()
	// Watch adds its watches synchronously before reading events; a probe
	// write that is seen proves it is running.
	probe := filepath.Join(site, "probe.txt")
	go func() {
		for {
			select {
			case <-ready:
				return
			case <-time.After(50 * time.Millisecond):
				writeFile(t, probe, []byte("x"))
			}
		}
	}()
	waitFor(t, "the watcher to start", func() bool { return len(h.snapshot()) > 0 })
	close(ready)
	time.Sleep(400 * time.Millisecond)
	base := len(h.snapshot())

	// One rewritten file: exactly that page is extracted again.
	one := filepath.Join(site, "d03", "p123.html")
	writeFile(t, one, []byte("<html><body><main><h1>Page 123, rebuilt</h1></main></body></html>"))
	waitFor(t, "the scan of one file", func() bool {
		s := h.snapshot()
		return len(s) > base && len(s[len(s)-1]) > 0
	})
	s := h.snapshot()
	var got []string
	for _, sc := range s[base:] {
		got = append(got, sc...)
	}
	if len(got) != 1 || got[0] != "dist/d03/p123.html" {
		t.Fatalf("one rewrite extracted %v", got)
	}
	time.Sleep(400 * time.Millisecond)
	base = len(h.snapshot())

	// A rebuild rewriting all 500 pages becomes a few scans.
	for i := 0; i < 500; i++ {
		writeFile(t, filepath.Join(site, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("p%03d.html", i)),
			[]byte(fmt.Sprintf("<html><body><main><h1>Page %d v2</h1></main></body></html>", i)))
	}
	total := func() int {
		n := 0
		for _, sc := range h.snapshot()[base:] {
			n += len(sc)
		}
		return n
	}
	waitFor(t, "all 500 pages re-extracted", func() bool { return total() == 500 })
	time.Sleep(500 * time.Millisecond)
	scans := len(h.snapshot()) - base
	t.Logf("500 rewrites became %d scan(s)", scans)
	if scans > 3 {
		t.Errorf("500 rewrites became %d scans, want at most 3", scans)
	}
	if total() != 500 {
		t.Errorf("%d extractions for 500 rewrites", total())
	}
	// A new folder is watched too.
	writeFile(t, filepath.Join(site, "newdir", "fresh.html"), []byte("<main><h1>fresh</h1></main>"))
	base = len(h.snapshot())
	waitFor(t, "the page in a new folder", func() bool {
		for _, sc := range h.snapshot()[base:] {
			for _, p := range sc {
				if p == "dist/newdir/fresh.html" {
					return true
				}
			}
		}
		return false
	})
	cancel()
	if err := <-watchErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v", err)
	}
}

func TestWatchLimitFallsBackToPolling(t *testing.T) {
	site := makeSite(t, 20)
	orig := addWatch
	defer func() { addWatch = orig }()
	n := 0
	addWatch = func(w *fsnotify.Watcher, p string) error {
		if n++; n > 3 {
			return fmt.Errorf("inotify_add_watch %s: %w", p, syscall.ENOSPC)
		}
		return w.Add(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var notices []error
	var full int
	go Watch(ctx, site, WatchOptions{PollInterval: 50 * time.Millisecond, Notice: func(msg string, err error) {
		mu.Lock()
		notices = append(notices, err)
		mu.Unlock()
	}}, func(ctx context.Context, paths []string) error {
		mu.Lock()
		if paths == nil {
			full++
		}
		mu.Unlock()
		return nil
	})
	waitFor(t, "two periodic rescans", func() bool { mu.Lock(); defer mu.Unlock(); return full >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 1 || !errors.Is(notices[0], ErrWatchLimit) {
		t.Errorf("notices %v, want one ErrWatchLimit", notices)
	}
}
