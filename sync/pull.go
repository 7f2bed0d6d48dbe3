package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// The pull: list every prefix, refuse what can never be stored, read what
// changed (checked against its metadata hash), merge and store it, and heal
// the queue of this desktop's own intents.

// RefusedRecheck is how long a refused remote value without a metadata hash
// is left unread (a listing cannot show whether it changed).
const RefusedRecheck = time.Hour

// refuseBadKeys takes out of a listing the keys that can never be stored
// here (no kind prefix, an empty id, extra segments, another namespace's
// kind): each is refused alone, once: a quarantine entry and a warning the
// first time it is seen, then skipped without a read. The rest of the pull
// goes on (one such key used to stop every pull).
func (e *Engine) refuseBadKeys(ctx context.Context, ns model.Namespace, listed map[string]string, st *Stats) error {
	var bad, fresh []string
	why := map[string]error{}
	for k := range listed {
		if err := localstore.CheckKey(ns, k); err != nil {
			bad = append(bad, k)
			// Known ones cost a read, not a write transaction per pull.
			if _, seen, rerr := e.cfg.Store.Refused(ns, k); rerr != nil || !seen {
				fresh = append(fresh, k)
				why[k] = err
			}
		}
	}
	defer func() {
		for _, k := range bad {
			delete(listed, k)
		}
	}()
	if len(fresh) == 0 {
		return nil
	}
	sort.Strings(fresh)
	err := e.cfg.Store.Update(ctx, func(tx *localstore.Tx) error {
		for _, k := range fresh {
			e.log.Warn("remote key refused", "ns", string(ns), "key", clipString(k, 200), "reason", why[k].Error())
			if err := tx.Quarantine(ns, k, nil, "key refused: "+why[k].Error()); err != nil {
				return err
			}
			if err := tx.Refuse(localstore.RefusedKey{NS: ns, Key: k, Hash: listed[k], Reason: why[k].Error()}); err != nil {
				return err
			}
			st.Quarantined++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pull %s: remember refused keys: %w", ns, err)
	}
	return nil
}

func (e *Engine) quarantine(tx *localstore.Tx, ns model.Namespace, key string, value []byte, why error) error {
	e.log.Warn("remote value refused", "ns", string(ns), "key", key, "reason", why.Error())
	if err := tx.Quarantine(ns, key, value, why.Error()); err != nil {
		return err
	}
	// A log entry the editor sees with the page, when the key names one.
	k, err := model.ParseKey(key)
	if err != nil || k.Secondary == "" || !strings.HasPrefix(k.Secondary, "page_") {
		return nil
	}
	lk := model.LogsKey(k.ID, k.Secondary)
	entry := model.LogEntry{Timestamp: model.Now(), Level: model.LevelError, Step: "sync",
		Message: fmt.Sprintf("remote %s refused (quarantined): %s", key, clipString(why.Error(), 300))}
	var ld model.LogData
	if b, err := tx.Get(model.NSLogs, lk); err == nil {
		_ = json.Unmarshal(b, &ld)
	}
	ld.PageID = k.Secondary
	merged := model.MergeLogData(ld, model.LogData{PageID: k.Secondary, Entries: []model.LogEntry{entry}})
	b := model.Canonical(merged)
	if model.ValidateValue(lk, b) != nil {
		// The key's ids are not valid ones (page_0123): no log record can
		// hold it; the quarantine entry does. Writing it would roll back
		// every good value of this pull.
		return nil
	}
	return tx.PutLocal(model.NSLogs, lk, b)
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// accountNamespaces are mirrored whole, both ways (they are small).
var accountNamespaces = []model.Namespace{model.NSUsers, model.NSProjects, model.NSKeys, model.NSEmails, model.NSSessions}

// pullKinds is the per-project listing order: status before queue so the
// queue is pruned and healed against fresh statuses.
var pullKinds = []model.Kind{model.KindPage, model.KindReview, model.KindBatch, model.KindStatus, model.KindQueue, model.KindLogs}

func (e *Engine) pull(ctx context.Context, idx index) (Stats, error) {
	var st Stats
	nss := accountNamespaces
	if e.cfg.CacheFull {
		nss = append(append([]model.Namespace(nil), nss...), model.NSCache)
	}
	for _, ns := range nss {
		if err := e.pullPrefix(ctx, ns, "", idx, &st); err != nil {
			return st, err
		}
	}
	// Projects after the account namespaces: a project another desktop
	// created arrives with them and is pulled in the same run.
	projects, err := e.cfg.Projects()
	if err != nil {
		return st, fmt.Errorf("pull: projects: %w", err)
	}
	sort.Strings(projects)
	for _, k := range pullKinds {
		for _, p := range projects {
			if err := e.pullPrefix(ctx, k.Namespace(), model.ProjectPrefix(k, p), idx, &st); err != nil {
				return st, err
			}
		}
	}
	for _, p := range projects {
		if err := e.healProject(ctx, p); err != nil {
			return st, err
		}
	}
	return st, nil
}

// healProject makes the local queue hold every page whose status is
// "queued" (and no finished one): when the remote queue lost an item (a
// lost update, or the desktop that queued it is gone) the next push
// re-appends it.
func (e *Engine) healProject(ctx context.Context, projectID string) error {
	key := model.QueueKey(projectID)
	return e.cfg.Store.Update(ctx, func(tx *localstore.Tx) error {
		cur, err := tx.Get(model.NSQueue, key)
		if errors.Is(err, localstore.ErrNotFound) {
			cur = model.Canonical(model.QueueData{Items: []model.QueueItem{}})
		} else if err != nil {
			return err
		}
		v, err := pruneQueue(tx, key, cur)
		if err != nil {
			return err
		}
		if v, err = healQueue(tx, key, v); err != nil {
			return err
		}
		if bytes.Equal(v, cur) {
			return nil
		}
		var q model.QueueData
		if json.Unmarshal(v, &q) == nil && len(q.Items) == 0 {
			if _, gerr := tx.Get(model.NSQueue, key); errors.Is(gerr, localstore.ErrNotFound) {
				return nil // nothing to heal and no queue yet
			}
		}
		e.log.Info("queue healed", "key", key)
		return tx.PutLocal(model.NSQueue, key, v)
	})
}

// PullProject pulls only one project's prefixes of the given kinds (the
// adaptive poll while a batch is processing: status, batch, queue, pages).
func (e *Engine) PullProject(ctx context.Context, projectID string, kinds ...model.Kind) (Stats, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if len(kinds) == 0 {
		kinds = pullKinds
	}
	var st Stats
	for _, k := range kinds {
		if err := e.pullPrefix(ctx, k.Namespace(), model.ProjectPrefix(k, projectID), nil, &st); err != nil {
			e.finish(err)
			return st, err
		}
	}
	e.finish(nil)
	return st, nil
}

func (e *Engine) pullPrefix(ctx context.Context, ns model.Namespace, prefix string, idx index, st *Stats) error {
	listed, err := e.listAll(ctx, ns, prefix, st)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if err := e.refuseBadKeys(ctx, ns, listed, st); err != nil {
		return err
	}
	if idx != nil {
		if idx[ns] == nil {
			idx[ns] = map[string]map[string]string{}
		}
		// Index by the prefix a push will look up: account namespaces are
		// listed whole but looked up per "kind:".
		for k, h := range listed {
			p := listingPrefix(k)
			if idx[ns][p] == nil {
				idx[ns][p] = map[string]string{}
			}
			idx[ns][p][k] = h
		}
		if prefix != "" {
			if idx[ns][prefix] == nil {
				idx[ns][prefix] = map[string]string{}
			}
		} else {
			for _, kind := range []string{"user:", "projects:", "apikeys:", "project:", "apikey:", "email:", "session:", "cache:"} {
				if model.Kind(strings.TrimSuffix(kind, ":")).Namespace() == ns && idx[ns][kind] == nil {
					idx[ns][kind] = map[string]string{}
				}
			}
		}
	}
	states := map[string]localstore.SyncState{}
	if err := e.cfg.Store.SyncStates(ns, prefix, func(k string, s localstore.SyncState) error {
		states[k] = s
		return nil
	}); err != nil {
		return err
	}
	var fetch []string
	now := model.FormatTime(time.Now())
	for k, h := range listed {
		s := states[k]
		switch {
		case h != "" && h == s.RemoteHash:
			// Unchanged since we last merged it: no read.
		case s.RemoteHash == distrusted(h):
			// Its listed hash was found not to match its bytes; the merged
			// value is queued to be written back over it: no read.
		case h == "" && s.RecheckAfter > now:
			// A refused value without metadata: not read again yet.
		default:
			// Changed, or new to us. A listed hash equal to our local one
			// is read too: the hash is what the writer claimed, and only
			// the bytes show whether the remote holds our value.
			fetch = append(fetch, k)
		}
	}
	sort.Strings(fetch)
	if len(fetch) == 0 {
		return nil
	}
	for i := 0; i < len(fetch); i += MaxBulkGet {
		chunk := fetch[i:min(i+MaxBulkGet, len(fetch))]
		got, err := e.bulkGet(ctx, ns, chunk, st)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		if err := e.storePulled(ctx, ns, chunk, got, listed, st); err != nil {
			return err
		}
	}
	return nil
}

// storePulled validates, merges and stores one bulk get's values.
//
// listed holds the hashes the key listing showed (nil: not listed). A value
// whose bytes do not have its listed hash (a writer that copied another
// value's metadata, or wrote none) is merged as a changed value and then
// written back with its true metadata: the listing would otherwise hide
// every later change of it, or show a change on every poll.
func (e *Engine) storePulled(ctx context.Context, ns model.Namespace, keys []string, got map[string]Item, listed map[string]string, st *Stats) error {
	return e.cfg.Store.Update(ctx, func(tx *localstore.Tx) error {
		for _, k := range keys {
			it := got[k]
			if !it.Found {
				continue // listed but not visible yet here: next poll
			}
			rh := ValueHash(it.Value)
			if verr := model.ValidateValue(k, it.Value); verr != nil {
				st.Quarantined++
				if err := e.quarantine(tx, ns, k, it.Value, verr); err != nil {
					return err
				}
				// Remember the refused value's hash so the next poll does not
				// fetch and quarantine it again; local data stays as it was,
				// and a local value is queued to be written back over the bad
				// copy (repair).
				recheck := ""
				if it.Meta.H == "" {
					// Without a metadata hash a listing cannot show a change:
					// read it again only after RefusedRecheck (it cost a read
					// and a write on every poll, forever).
					recheck = model.FormatTime(time.Now().Add(RefusedRecheck))
				}
				// Repair only what no version can read (not JSON, wrong
				// types): a value that decodes but breaks a rule may be a
				// newer desktop's or Worker's (a new state, a new tone), and
				// writing ours over it would lose their work.
				repair := !errors.Is(verr, model.ErrInvalid) && writesBack(ns)
				if err := tx.RefuseRemote(ns, k, rh, recheck, repair); err != nil {
					return err
				}
				continue
			}
			value := it.Value
			local, err := tx.Get(ns, k)
			switch {
			case err == nil:
				value, err = model.MergeValue(k, local, it.Value)
				if err != nil {
					return fmt.Errorf("pull %s %s: %w", ns, k, err)
				}
			case errors.Is(err, localstore.ErrNotFound):
			default:
				return fmt.Errorf("pull %s %s: %w", ns, k, err)
			}
			if ns == model.NSQueue {
				if value, err = pruneQueue(tx, k, value); err != nil {
					return err
				}
				if value, err = healQueue(tx, k, value); err != nil {
					return err
				}
			}
			if err := tx.PutRemote(ns, k, value, rh); err != nil {
				return fmt.Errorf("pull %s %s: %w", ns, k, err)
			}
			st.Pulled++
			if why := metadataLie(it, rh, listed, k); why != "" && writesBack(ns) {
				e.log.Warn("remote value's metadata does not match it: merged, and written back with its own", "ns", string(ns), "key", k, "reason", why)
				if err := tx.RefuseRemote(ns, k, distrusted(listed[k]), "", true); err != nil {
					return err
				}
				st.Repairs++
			}
		}
		return nil
	})
}

// MetaQueuedIntent is the localstore Meta key under which Submit records
// that this desktop's editor queued a page (value: the batch ID; "" once
// the page is past queued). Only such pages are healed: the desktop never
// re-queues what came in from a pull (DESIGN.md section 5).
func MetaQueuedIntent(statusKey string) string { return "sync.intent.queued." + statusKey }

// healQueue re-appends the pages this desktop's editor queued (local status
// "queued" for the batch it queued them in) that the queue no longer holds:
// a lost update of the queue must not silently drop them. Intents whose
// page moved past queued are cleared.
func healQueue(tx *localstore.Tx, key string, value []byte) ([]byte, error) {
	var q model.QueueData
	if err := json.Unmarshal(value, &q); err != nil {
		return nil, fmt.Errorf("heal %s: %w", key, err)
	}
	pid := strings.TrimPrefix(key, "queue:")
	have := map[[2]string]bool{}
	for _, it := range q.Items {
		have[[2]string{it.BatchID, it.PageID}] = true
	}
	var add []model.QueueItem
	var done []string
	prefix := model.ProjectPrefix(model.KindStatus, pid)
	err := tx.List(model.NSStatus, prefix, func(sk string, b []byte) error {
		batch := tx.Meta(MetaQueuedIntent(sk))
		if batch == "" {
			return nil
		}
		var s model.StatusData
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		if s.BatchID != batch || s.Status != model.StatusQueued {
			done = append(done, sk) // processed, or resubmitted elsewhere
			return nil
		}
		pageID := strings.TrimPrefix(sk, prefix)
		if !have[[2]string{s.BatchID, pageID}] {
			add = append(add, model.QueueItem{PageID: pageID, BatchID: s.BatchID, Priority: 5, QueuedAt: s.Updated, Attempts: 0})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, sk := range done {
		if err := tx.SetMeta(MetaQueuedIntent(sk), ""); err != nil {
			return nil, err
		}
	}
	if len(add) == 0 {
		return value, nil
	}
	return model.Canonical(model.MergeQueueData(q, model.QueueData{Items: add})), nil
}

// metadataLie says why a value read by a pull cannot be trusted to be what
// its metadata claims ("" when it can): its own metadata hash (served with
// the value) is not the hash of its bytes (rh), or it has no metadata at all
// (neither in the listing nor with the value), so no listing can show its
// changes. A value whose own metadata matches its bytes but not the listing
// (listed) is an ordinary stale read of an older version: it is stored as
// what the remote held, and read again while the listing shows another hash.
// Without the value's metadata (a server that drops it from bulk reads)
// only the no-metadata case can be told.
func metadataLie(it Item, rh string, listed map[string]string, key string) string {
	lh, ok := listed[key]
	switch {
	case !ok:
		return "" // not from a listing (the live poll, the cache): nothing to compare
	case it.Meta.H != "" && it.Meta.H != rh:
		return fmt.Sprintf("has metadata hash %s but its bytes hash to %s", it.Meta.H, rh)
	case it.Meta.H == "" && lh == "":
		return "has no metadata hash"
	}
	return ""
}

// writesBack reports whether the push writes ns: everything but the cache,
// which is the Worker's (the desktop only reads it), so nothing of it is
// queued for a repair that would never be sent.
func writesBack(ns model.Namespace) bool { return ns != model.NSCache }
