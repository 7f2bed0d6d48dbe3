package extract

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrWatchLimit is reported (through WatchOptions.Notice and errors.Is on
// the notice's error) when the OS refuses more watches.
var ErrWatchLimit = errors.New("the operating system's file watch limit is reached")

// WatchOptions configure Watch.
type WatchOptions struct {
	// Debounce is the quiet time that ends a burst (default 200 ms);
	// MaxDelay bounds how long a steady stream of events delays a scan
	// (default 2 s).
	Debounce time.Duration
	MaxDelay time.Duration
	// PollInterval is the full-rescan period when events cannot be watched
	// (default 30 s).
	PollInterval time.Duration
	// Notice receives user-facing messages (the watch limit, overflows).
	Notice func(msg string, err error)
}

// Watch watches root and every folder below it (new folders are added as
// they appear) and calls onChange with the changed paths once a burst of
// events has settled; paths == nil asks for a full rescan (after an event
// overflow, or periodically when the watch limit was hit). Only one onChange
// runs at a time; events arriving meanwhile are aggregated into the next
// call. It returns when ctx ends, or with onChange's error.
func Watch(ctx context.Context, root string, opts WatchOptions, onChange func(ctx context.Context, paths []string) error) error {
	if opts.Debounce <= 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 2 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 30 * time.Second
	}
	notice := opts.Notice
	if notice == nil {
		notice = func(msg string, err error) { slog.Warn(msg, "err", err) }
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		notice(fmt.Sprintf("cannot watch %s (%v); rescanning every %s instead", root, err, opts.PollInterval), err)
		return poll(ctx, opts.PollInterval, onChange)
	}
	defer w.Close()
	if err := addTree(w, root); err != nil {
		if errors.Is(err, ErrWatchLimit) {
			notice(limitMessage(root, opts.PollInterval), err)
			w.Close()
			return poll(ctx, opts.PollInterval, onChange)
		}
		return fmt.Errorf("watch %s: %w", root, err)
	}

	pending := map[string]bool{}
	fullRescan := false
	var timer *time.Timer
	var timerC <-chan time.Time
	var first time.Time
	running := false
	done := make(chan error, 1)
	polling := false
	var pollC <-chan time.Time

	arm := func() {
		now := time.Now()
		if timer == nil {
			first = now
			timer = time.NewTimer(opts.Debounce)
			timerC = timer.C
			return
		}
		if now.Sub(first) < opts.MaxDelay {
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(opts.Debounce)
		}
	}
	start := func() {
		if running || (len(pending) == 0 && !fullRescan) {
			return
		}
		var paths []string
		if !fullRescan {
			paths = make([]string, 0, len(pending))
			for p := range pending {
				paths = append(paths, p)
			}
			sort.Strings(paths)
		}
		pending = map[string]bool{}
		fullRescan = false
		running = true
		go func() { done <- onChange(ctx, paths) }()
	}
	for {
		select {
		case <-ctx.Done():
			if running {
				<-done
			}
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() && !strings.HasPrefix(filepath.Base(ev.Name), ".") {
					if err := addTree(w, ev.Name); errors.Is(err, ErrWatchLimit) && !polling {
						notice(limitMessage(root, opts.PollInterval), err)
						polling = true
						pollC = time.NewTicker(opts.PollInterval).C
					}
				}
			}
			pending[ev.Name] = true
			arm()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				notice("too many file changes at once to follow one by one; rescanning the whole folder", err)
				fullRescan = true
				arm()
				continue
			}
			notice("file watching reported an error: "+err.Error(), err)
		case <-timerC:
			timer, timerC = nil, nil
			start()
		case <-pollC:
			fullRescan = true
			start()
		case err := <-done:
			running = false
			if err != nil {
				return err
			}
			if timer == nil {
				start()
			}
		}
	}
}

func limitMessage(root string, every time.Duration) string {
	return fmt.Sprintf("cannot watch every folder of %s: the system's inotify watch limit is reached "+
		"(raise it with: sudo sysctl fs.inotify.max_user_watches=524288); rescanning every %s instead", root, every)
}

// addWatch is w.Add; tests replace it to simulate the OS watch limit.
var addWatch = func(w *fsnotify.Watcher, p string) error { return w.Add(p) }

// addTree watches dir and every folder below it.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // an unreadable subfolder is reported by the scan
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if err := addWatch(w, p); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
				return fmt.Errorf("%w: %s: %v", ErrWatchLimit, p, err)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // vanished while walking
			}
			return fmt.Errorf("watch %s: %w", p, err)
		}
		return nil
	})
}

// poll is the fallback when events cannot be watched: a full rescan every
// interval.
func poll(ctx context.Context, every time.Duration, onChange func(context.Context, []string) error) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := onChange(ctx, nil); err != nil {
				return err
			}
		}
	}
}
