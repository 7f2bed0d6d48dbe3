package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// The push: what waits in the outbox, merged with newer remote values and
// written in chunks (chunks.go); the KV metadata of what is written.

type pending struct {
	key   string
	value []byte
	meta  Meta
}

func (e *Engine) push(ctx context.Context, idx index) (Stats, error) {
	var st Stats
	entries, err := e.cfg.Store.Outbox(0)
	if err != nil {
		return st, fmt.Errorf("push: read outbox: %w", err)
	}
	// Group by namespace in the order of each namespace's oldest entry, so
	// pages land before the batch and queue that refer to them.
	var order []model.Namespace
	groups := map[model.Namespace][]localstore.OutboxEntry{}
	for _, en := range entries {
		if !writesBack(en.NS) {
			continue // the Worker owns the cache; the desktop only reads it
		}
		if _, ok := groups[en.NS]; !ok {
			order = append(order, en.NS)
		}
		groups[en.NS] = append(groups[en.NS], en)
	}
	var limitErrs []error
	for _, ns := range order {
		err := e.pushNamespace(ctx, ns, groups[ns], idx, &st)
		if errors.Is(err, ErrLimit) {
			// A record over a platform limit can never be sent; it must not
			// hold back everything else. It stays waiting, and is reported.
			limitErrs = append(limitErrs, err)
			continue
		}
		if err != nil {
			// Later namespaces wait: they may refer to what failed here.
			return st, err
		}
	}
	return st, errors.Join(limitErrs...)
}

func (e *Engine) pushNamespace(ctx context.Context, ns model.Namespace, entries []localstore.OutboxEntry, idx index, st *Stats) error {
	if _, err := e.nsID(ns); err != nil {
		return err
	}
	// Which remote values must be looked at? Use the index from this sync's
	// pull if there is one; otherwise look at the remote as cheaply as
	// possible: a bulk get of the keys (100 a request) or a listing of their
	// prefix (1,000 a request), whichever needs fewer requests.
	byPrefix := map[string][]string{}
	var prefixes []string
	for _, en := range entries {
		p := listingPrefix(en.Key)
		if _, ok := byPrefix[p]; !ok {
			prefixes = append(prefixes, p)
		}
		byPrefix[p] = append(byPrefix[p], en.Key)
	}
	remoteHash := map[string]string{} // key -> listed hash ("" absent)
	fetched := map[string]Item{}
	var toFetch []string
	for _, p := range prefixes {
		keys := byPrefix[p]
		if _, _, known := idx.lookup(ns, p, ""); known {
			for _, k := range keys {
				h, _, _ := idx.lookup(ns, p, k)
				remoteHash[k] = h
			}
			continue
		}
		localCount, _ := e.cfg.Store.Count(ns, p)
		listCost := (localCount + MaxListLimit - 1) / MaxListLimit
		getCost := (len(keys) + MaxBulkGet - 1) / MaxBulkGet
		if getCost <= listCost || listCost == 0 {
			toFetch = append(toFetch, keys...)
			continue
		}
		m, err := e.listAll(ctx, ns, p, st)
		if err != nil {
			return fmt.Errorf("push %s: %w", ns, err)
		}
		for _, k := range keys {
			remoteHash[k] = m[k]
		}
	}
	if len(toFetch) > 0 {
		got, err := e.bulkGet(ctx, ns, toFetch, st)
		if err != nil {
			return fmt.Errorf("push %s: %w", ns, err)
		}
		for _, k := range toFetch {
			it := got[k]
			if it.Found {
				fetched[k] = it
				remoteHash[k] = ValueHash(it.Value)
			} else {
				remoteHash[k] = ""
			}
		}
	}
	// Keys whose remote changed since we last merged it need its value.
	var need []string
	for _, en := range entries {
		rh := remoteHash[en.Key]
		if rh == "" {
			continue
		}
		if _, ok := fetched[en.Key]; ok {
			continue
		}
		ss, _, err := e.cfg.Store.SyncState(ns, en.Key)
		if err != nil {
			return err
		}
		if ss.RemoteHash == distrusted(rh) {
			// The listed hash is known not to be the remote bytes' hash:
			// it proves nothing, and the merged value goes back over them.
			remoteHash[en.Key] = distrusted(rh)
			continue
		}
		if rh != ss.RemoteHash && rh != ss.LocalHash {
			need = append(need, en.Key)
		}
	}
	if len(need) > 0 {
		got, err := e.bulkGet(ctx, ns, need, st)
		if err != nil {
			return fmt.Errorf("push %s: %w", ns, err)
		}
		for k, it := range got {
			if it.Found {
				fetched[k] = it
				remoteHash[k] = ValueHash(it.Value)
			}
		}
	}

	// Prepare: merge remote values in, prune queues, ack keys the remote
	// already has; all in one local transaction.
	var writes []pending
	err := e.cfg.Store.Update(ctx, func(tx *localstore.Tx) error {
		writes = writes[:0]
		for _, en := range entries {
			local, err := tx.Get(ns, en.Key)
			if err != nil {
				return fmt.Errorf("push %s %s: read local: %w", ns, en.Key, err)
			}
			ss, _, err := tx.SyncState(ns, en.Key)
			if err != nil {
				return err
			}
			rh := remoteHash[en.Key]
			value := local
			if it, ok := fetched[en.Key]; ok && rh != ss.LocalHash && rh != ss.RemoteHash {
				if verr := model.ValidateValue(en.Key, it.Value); verr != nil {
					if err := e.quarantine(tx, ns, en.Key, it.Value, verr); err != nil {
						return err
					}
				} else {
					merged, err := model.MergeValue(en.Key, local, it.Value)
					if err != nil {
						return fmt.Errorf("push %s %s: %w", ns, en.Key, err)
					}
					if err := tx.PutRemote(ns, en.Key, merged, rh); err != nil {
						return err
					}
					value = merged
					st.Merged++
				}
			}
			if ns == model.NSQueue {
				pruned, err := pruneQueue(tx, en.Key, value)
				if err != nil {
					return err
				}
				if !bytes.Equal(pruned, value) {
					if err := tx.PutLocal(ns, en.Key, pruned); err != nil {
						return err
					}
					value = pruned
				}
			}
			h := ValueHash(value)
			if h == rh && !isDistrusted(ss.RemoteHash) {
				// The remote already holds exactly this value (and its
				// metadata says so: a distrusted copy is written back even
				// when its bytes are ours, to correct its metadata).
				if err := tx.AckPush(ns, en.Key, h); err != nil {
					return err
				}
				st.Acked++
				continue
			}
			writes = append(writes, pending{key: en.Key, value: value, meta: metaFor(en.Key, value, h)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("push %s: prepare: %w", ns, err)
	}
	return e.writeChunks(ctx, ns, writes, st)
}

// distrusted is the remote hash recorded for a key whose listed hash h was
// found not to be the hash of its bytes: it equals no real hash, so the key
// stays queued for a write-back, and while the listing still shows h the
// pull does not read it again.
func distrusted(h string) string { return "!" + h }

func isDistrusted(remoteHash string) bool { return strings.HasPrefix(remoteHash, "!") }

// ValueHash is model.ValueHash (the "h" of the metadata).
func ValueHash(v []byte) string { return model.ValueHash(v) }

// metaFor builds a value's KV metadata: its hash, its own updated stamp and,
// for status records, the status (so a listing shows progress). "u" is
// computed exactly as the Worker's updatedOf (worker/src/store.ts), so both
// writers stamp the same record the same way.
func metaFor(key string, value []byte, h string) Meta {
	m := Meta{H: h}
	var v map[string]any
	if json.Unmarshal(value, &v) != nil {
		return m // arrays (projects:, apikeys:) have no stamp
	}
	str := func(x any) string { s, _ := x.(string); return s }
	obj := func(x any) map[string]any { o, _ := x.(map[string]any); return o }
	pick := func(xs ...string) string {
		best := ""
		for _, x := range xs {
			if x > best {
				best = x
			}
		}
		return best
	}
	kind, _, _ := strings.Cut(key, ":")
	switch kind {
	case "status":
		m.U, m.S = str(v["updated"]), str(v["status"])
	case "review":
		m.U = str(v["updated"])
	case "page":
		m.U = pick(str(v["uploaded"]), str(obj(v["optimization"])["completed"]), str(v["source_missing"]))
	case "batch":
		xs := []string{str(v["created"])}
		for _, p := range obj(v["pages"]) {
			pg := obj(p)
			x := str(pg["completed"])
			if x == "" {
				x = str(pg["started"])
			}
			if x == "" {
				x = str(pg["uploaded"])
			}
			xs = append(xs, x)
		}
		m.U = pick(xs...)
	case "queue":
		xs := []string{str(v["last_processed"])}
		items, _ := v["items"].([]any)
		for _, it := range items {
			xs = append(xs, str(obj(it)["queued_at"]))
		}
		m.U = pick(xs...)
	case "logs":
		var xs []string
		entries, _ := v["entries"].([]any)
		for _, e := range entries {
			xs = append(xs, str(obj(e)["timestamp"]))
		}
		m.U = pick(xs...)
	case "apikey":
		m.U = pick(str(v["created"]), str(v["last_used"]))
	case "project":
		m.U = pick(str(v["created"]), str(v["settings_updated"]), str(obj(v["usage"])["last_activity"]))
	case "user":
		m.U = pick(str(v["created"]), str(v["updated"]))
	default:
		m.U = str(v["created"])
	}
	return m
}

// pruneQueue drops queue items whose page status is terminal for their
// batch, or whose batch record's entry for the page is terminal (model.PruneQueue),
// using the local status and batch records.
func pruneQueue(tx *localstore.Tx, key string, value []byte) ([]byte, error) {
	var q model.QueueData
	if err := json.Unmarshal(value, &q); err != nil {
		return nil, fmt.Errorf("prune %s: %w", key, err)
	}
	pid := strings.TrimPrefix(key, "queue:")
	batches := map[string]map[string]model.BatchPage{} // decoded once per batch
	pruned := model.PruneQueue(q, func(pageID string) (model.StatusData, bool) {
		b, err := tx.Get(model.NSStatus, model.StatusKey(pid, pageID))
		if err != nil {
			return model.StatusData{}, false
		}
		var s model.StatusData
		if json.Unmarshal(b, &s) != nil {
			return model.StatusData{}, false
		}
		return s, true
	}, func(batchID, pageID string) (model.BatchPage, bool) {
		pages, ok := batches[batchID]
		if !ok {
			if b, err := tx.Get(model.NSBatches, model.BatchKey(pid, batchID)); err == nil {
				var bd model.BatchData
				if json.Unmarshal(b, &bd) == nil {
					pages = bd.Pages
				}
			}
			batches[batchID] = pages
		}
		e, ok := pages[pageID]
		return e, ok
	})
	if len(pruned.Items) == len(q.Items) {
		return value, nil
	}
	return model.Canonical(pruned), nil
}
