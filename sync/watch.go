package sync

import (
	"context"
	"time"
)

// The adaptive watch loop: full syncs at the slow interval, the live poll
// (poll.go) at the fast one while batches run.

// WatchOptions shape the adaptive poll.
type WatchOptions struct {
	// Fast is the interval while Busy reports work in progress (default
	// 10 s), Slow the idle one (default 2 min). Offline, the interval
	// doubles up to Slow.
	Fast, Slow time.Duration
	Busy       func() bool
	// Now triggers a sync at once ("sync now").
	Now <-chan struct{}
	// After is called after every sync with its result.
	After func(Stats, error)
}

// Watch syncs until ctx is done: fast while a batch is processing, slow when
// idle, at once on a "sync now", and backing off while offline.
func (e *Engine) Watch(ctx context.Context, o WatchOptions) error {
	if o.Fast <= 0 {
		o.Fast = 10 * time.Second
	}
	if o.Slow <= 0 {
		o.Slow = 2 * time.Minute
	}
	backoff := o.Fast
	full := true // a full sync first, then the live poll while busy
	var lastFull time.Time
	for {
		var st Stats
		var err error
		if full {
			st, err = e.Sync(ctx)
			if err == nil {
				lastFull = time.Now()
			}
		} else {
			st, err = e.Poll(ctx)
		}
		if o.After != nil {
			o.After(st, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := o.Slow
		busy := o.Busy != nil && o.Busy()
		switch {
		case err != nil:
			e.log.Warn("sync failed; will retry", "err", err.Error(), "in", backoff.String())
			wait, backoff = backoff, min(backoff*2, o.Slow)
		case busy:
			wait, backoff = o.Fast, o.Fast
		default:
			backoff = o.Fast
		}
		if n, _ := e.cfg.Store.OutboxLen(); n > 0 && err == nil {
			wait = o.Fast // local changes arrived meanwhile
		}
		// While batches run, the fast rounds read only what moves (Poll);
		// every listing is refreshed at the slow interval, after an error,
		// once nothing runs, and on "sync now".
		full = err != nil || !busy || time.Since(lastFull)+wait >= o.Slow
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-o.Now:
			full = true
		case <-t.C:
		}
		t.Stop()
	}
}
