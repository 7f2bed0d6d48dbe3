package ui

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// syncAPI: the sync chip, "Sync now", Submit and the Cloudflare settings.
type syncAPI interface {
	Syncer(o workspace.SyncOptions) (*workspace.Syncer, error)
	Setup(ctx context.Context, o workspace.SetupOptions) (workspace.SetupResult, error)
	Submit(ctx context.Context, o workspace.SubmitOptions) (workspace.SubmitResult, error)
	Busy(ctx context.Context, projectID string) (bool, error)
}

// syncer runs the sync engine's adaptive watch in the background while the
// window is open and feeds the sync chip.
type syncer struct {
	s *Shell

	// project is the current project for the Busy probe, which runs on the
	// engine's goroutine (and may run after the UI loop has ended).
	project atomic.Pointer[string]

	mu      sync.Mutex
	engine  *workspace.Syncer
	reason  string // why there is no engine (not set up, no credentials)
	syncing bool
	cancel  context.CancelFunc
	now     chan struct{}
	wg      sync.WaitGroup
}

func newSyncer(s *Shell) *syncer { return &syncer{s: s, reason: "checking sync settings…"} }

// start builds the engine off the UI goroutine (credentials may come from
// the OS keyring, which can block) and watches until stop.
func (y *syncer) start() {
	y.stop()
	ctx, cancel := context.WithCancel(context.Background())
	y.mu.Lock()
	y.cancel = cancel
	y.now = make(chan struct{}, 1)
	now := y.now
	y.mu.Unlock()
	y.wg.Add(1)
	go func() {
		defer y.wg.Done()
		eng, err := y.s.ws.Syncer(workspace.SyncOptions{Logger: slog.Default()})
		y.mu.Lock()
		y.engine = eng
		if err != nil {
			y.reason = err.Error()
		}
		y.mu.Unlock()
		y.s.do(y.s.refreshChips)
		if err != nil {
			return
		}
		_ = eng.Watch(ctx, workspace.WatchOptions{
			Now:  now,
			Busy: y.busy,
			After: func(st workspace.SyncStats, err error) {
				if err != nil && ctx.Err() == nil {
					slog.Warn("sync", "err", err)
				}
				y.mu.Lock()
				y.syncing = false
				y.mu.Unlock()
				y.s.do(y.s.refreshChips)
			},
		})
	}()
}

// busy: poll fast while a batch of the current project is in flight.
func (y *syncer) busy() bool {
	proj := y.project.Load()
	if proj == nil || *proj == "" {
		return false
	}
	busy, err := y.s.ws.Busy(context.Background(), *proj)
	return err == nil && busy
}

// active reports whether the sync engine is running.
func (y *syncer) active() bool {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.engine != nil && y.cancel != nil
}

// syncNow asks the watch loop for an immediate sync.
func (y *syncer) syncNow() bool {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.engine == nil || y.now == nil {
		return false
	}
	select {
	case y.now <- struct{}{}:
		y.syncing = true
	default:
	}
	return true
}

// stop cancels the watch and waits for it, so the store is not closed
// under a running sync.
func (y *syncer) stop() {
	y.mu.Lock()
	cancel := y.cancel
	y.cancel = nil
	y.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	y.wg.Wait()
}

// chip is the sync chip's text.
func (y *syncer) chip(waiting int) string {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.engine == nil {
		return syncChipText(waiting)
	}
	st := y.engine.State()
	w := "all changes synced"
	switch {
	case st.Waiting == 1:
		w = "1 change waiting"
	case st.Waiting > 1:
		w = groupDigits(st.Waiting) + " changes waiting"
	}
	if y.syncing {
		return "Syncing… · " + w
	}
	if !st.Online {
		return "Offline · " + w
	}
	last := "never"
	if !st.LastSync.IsZero() {
		last = ago(st.LastSync.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("Online · %s · synced %s", w, last)
}

// offline reports whether the running engine cannot reach the remote, why
// (the last error) and how many changes wait.
func (y *syncer) offline() (reason string, waiting int, ok bool) {
	y.mu.Lock()
	eng := y.engine
	y.mu.Unlock()
	if eng == nil {
		return "", 0, false
	}
	st := eng.State()
	return st.LastError, st.Waiting, !st.Online
}

// isOffline reports whether the running engine cannot reach the remote.
func (y *syncer) isOffline() bool {
	_, _, off := y.offline()
	return off
}

// etaPause is why batch ETAs are not counted now ("" when they are):
// offline, or no sync engine (Local mode).
func (y *syncer) etaPause() string {
	y.mu.Lock()
	eng := y.engine
	y.mu.Unlock()
	switch {
	case eng == nil:
		return etaLocal
	case !eng.State().Online:
		return etaPaused
	}
	return ""
}

// details explains the sync state (the chip's tap when there is no engine).
func (y *syncer) details() {
	y.mu.Lock()
	eng, reason := y.engine, y.reason
	y.mu.Unlock()
	if eng != nil {
		st := eng.State()
		msg := fmt.Sprintf("%s changes waiting. Writes today: %d.", groupDigits(st.Waiting), st.WritesToday)
		if st.LastError != "" {
			msg += "\nLast error: " + st.LastError
		}
		y.s.inform("Sync", msg)
		return
	}
	n, _ := y.s.ws.ChangesWaiting()
	y.s.inform("Sync is not set up",
		fmt.Sprintf("%s changes are saved in the local store and wait to be pushed.\n%s\nSet up Cloudflare in Settings, or run 'nimbus setup'.", groupDigits(n), reason))
}
