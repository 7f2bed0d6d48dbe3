package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// The chunk writer: bulk writes of at most ChunkKeys keys and ChunkBytes
// bytes, halved on 413 and timeouts, retried key by key where KV says so.

// writeChunks sends the writes in bulk chunks (<= ChunkKeys pairs and
// ChunkBytes bytes), halving a chunk on 413/524/timeouts, and acks each key
// the response did not list as unsuccessful, chunk by chunk.
func (e *Engine) writeChunks(ctx context.Context, ns model.Namespace, writes []pending, st *Stats) error {
	id, err := e.nsID(ns)
	if err != nil {
		return err
	}
	var limitErrs []error
	ok := writes[:0:0]
	for _, w := range writes {
		mb, _ := json.Marshal(w.meta)
		if err := CheckKV(KV{Key: w.key, Value: w.value, Meta: w.meta}, mb); err != nil {
			e.log.Error("record cannot be pushed", "ns", string(ns), "key", w.key, "err", err.Error())
			limitErrs = append(limitErrs, fmt.Errorf("push %s: %w", ns, err))
			continue
		}
		ok = append(ok, w)
	}
	writes = ok
	limitKeys := e.cfg.ChunkKeys
	var chunks [][]pending
	var cur []pending
	size := 0
	for _, w := range writes {
		sz := len(w.key) + len(w.value) + 200
		if len(cur) > 0 && (len(cur) >= limitKeys || size+sz > e.cfg.ChunkBytes) {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, w)
		size += sz
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	// A few chunks in flight (InFlight): bulk writes are slow (seconds for
	// 1,000 pairs) while the pacer only spaces their starts.
	var (
		mu       gosync.Mutex
		queue    = chunks
		active   int
		firstErr error
		wake     = make(chan struct{}, 1)
		sem      = make(chan struct{}, e.cfg.InFlight)
		wg       gosync.WaitGroup
	)
	add := func(puts, written, halvings int) {
		mu.Lock()
		st.BulkPuts += puts
		st.Written += written
		st.Halvings += halvings
		mu.Unlock()
	}
	run := func(c []pending) {
		failed, puts, written, err := e.putChunk(ctx, id, ns, c)
		add(puts, written, 0)
		if IsShrink(err) && len(c) > 1 {
			add(0, 0, 1)
			half := len(c) / 2
			mu.Lock()
			queue = append([][]pending{c[:half], c[half:]}, queue...)
			mu.Unlock()
			return
		}
		// Retry the unsuccessful keys a few times, then leave them in the
		// outbox for the next sync.
		for attempt := 0; err == nil && attempt < 3 && len(failed) > 0; attempt++ {
			failed, puts, written, err = e.putChunk(ctx, id, ns, failed)
			add(puts, written, 0)
		}
		if err == nil && len(failed) > 0 {
			err = fmt.Errorf("%d keys still unsuccessful after retries (first %s); they stay queued", len(failed), failed[0].key)
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("push %s: %w", ns, err)
			}
			mu.Unlock()
		}
	}
	for {
		mu.Lock()
		if firstErr != nil || (len(queue) == 0 && active == 0) {
			mu.Unlock()
			break
		}
		if len(queue) == 0 {
			mu.Unlock()
			<-wake // a chunk in flight finished (and may have split)
			continue
		}
		c := queue[0]
		queue = queue[1:]
		active++
		mu.Unlock()
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(c)
			<-sem
			mu.Lock()
			active--
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return errors.Join(limitErrs...)
}

// putChunk writes one chunk and acks what succeeded; it returns the pairs
// the remote reported unsuccessful.
func (e *Engine) putChunk(ctx context.Context, id string, ns model.Namespace, c []pending) (failed []pending, puts, written int, err error) {
	kvs := make([]KV, len(c))
	for i, p := range c {
		kvs[i] = KV{Key: p.key, Value: p.value, Meta: p.meta}
	}
	var bad []string
	err = e.cfg.Pacer.DoWrite(ctx, func(ctx context.Context) error {
		puts++
		var err error
		bad, err = e.cfg.Remote.BulkPut(ctx, id, kvs)
		return err
	})
	if err != nil {
		return nil, puts, 0, err
	}
	badSet := make(map[string]bool, len(bad))
	for _, k := range bad {
		badSet[k] = true
	}
	// The outbox entry clears only after this successful response and the
	// local commit of the ack.
	err = e.cfg.Store.Update(context.WithoutCancel(ctx), func(tx *localstore.Tx) error {
		failed = failed[:0]
		for _, p := range c {
			if badSet[p.key] {
				failed = append(failed, p)
				continue
			}
			if err := tx.AckPush(ns, p.key, p.meta.H); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, puts, 0, fmt.Errorf("ack %d keys of %s: %w", len(c), ns, err)
	}
	written = len(c) - len(failed)
	e.cfg.Pacer.AddWrites(written)
	e.mu.Lock() // persist in order: chunks finish concurrently
	day, w := e.cfg.Pacer.WritesToday()
	_ = e.cfg.Store.SetMeta(metaWrites, fmt.Sprintf("%s %d", day, w))
	e.mu.Unlock()
	return failed, puts, written, nil
}
