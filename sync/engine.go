package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// MetaNamespacePrefix prefixes the localstore Meta keys that hold the remote
// namespace IDs ("sync.ns.NIMBUS_PAGES" -> id).
const MetaNamespacePrefix = "sync.ns."

// metaWrites persists the free plan's "writes today" counter ("day count").
const metaWrites = "sync.writes_today"

// NamespaceIDs reads the remote namespace IDs that setup stored in the
// store's Meta. Missing ones are absent from the map.
func NamespaceIDs(st *localstore.Store) (map[model.Namespace]string, error) {
	out := map[model.Namespace]string{}
	for _, ns := range model.Namespaces {
		id, err := st.Meta(MetaNamespacePrefix + string(ns))
		if err != nil {
			return nil, fmt.Errorf("read namespace id of %s: %w", ns, err)
		}
		if id != "" {
			out[ns] = id
		}
	}
	return out, nil
}

// EngineConfig wires an engine.
type EngineConfig struct {
	Store  *localstore.Store
	Remote Remote
	Pacer  *Pacer
	// NamespaceIDs maps each of the eleven namespaces to its remote ID
	// (NamespaceIDs(store) after setup).
	NamespaceIDs map[model.Namespace]string
	// Projects returns the project IDs to pull (default: every project:
	// record in the mirror).
	Projects func() ([]string, error)
	// ChunkKeys and ChunkBytes bound one bulk write (defaults 1,000 pairs
	// and ~95 MB); they are halved on 413/524/timeouts.
	ChunkKeys, ChunkBytes int
	// CacheFull mirrors all of NIMBUS_CACHE on every pull; otherwise cache
	// entries are fetched on demand (FetchCache).
	CacheFull bool
	// InFlight is how many bulk writes of a namespace may run at once
	// (default 3; 1 keeps a run deterministic for replayable tests).
	InFlight int
	Logger   *slog.Logger
}

// Engine pushes the outbox and pulls remote changes for one store.
type Engine struct {
	cfg EngineConfig
	log *slog.Logger

	runMu gosync.Mutex // one push/pull at a time per engine

	mu       gosync.Mutex
	lastSync time.Time
	lastErr  error
}

// NewEngine checks the wiring and restores the writes-today counter.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Store == nil || cfg.Remote == nil {
		return nil, errors.New("sync engine: store and remote are required")
	}
	if cfg.Pacer == nil {
		cfg.Pacer = NewPacer(PacerConfig{})
	}
	if cfg.ChunkKeys <= 0 || cfg.ChunkKeys > MaxBulkPairs {
		cfg.ChunkKeys = DefaultChunkKeys
	}
	if cfg.ChunkBytes <= 0 || cfg.ChunkBytes > MaxBulkBytes {
		cfg.ChunkBytes = DefaultChunkBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 3
	}
	if cfg.Projects == nil {
		st := cfg.Store
		cfg.Projects = func() ([]string, error) {
			keys, err := st.Keys(model.NSProjects, "project:")
			if err != nil {
				return nil, err
			}
			ids := make([]string, 0, len(keys))
			for _, k := range keys {
				ids = append(ids, strings.TrimPrefix(k, "project:"))
			}
			return ids, nil
		}
	}
	e := &Engine{cfg: cfg, log: cfg.Logger.With("component", "sync")}
	if v, err := cfg.Store.Meta(metaWrites); err == nil && v != "" {
		var day string
		var n int64
		if _, err := fmt.Sscanf(v, "%s %d", &day, &n); err == nil {
			cfg.Pacer.SetWritesToday(day, n)
		}
	}
	return e, nil
}

// Pacer returns the engine's pacer.
func (e *Engine) Pacer() *Pacer { return e.cfg.Pacer }

func (e *Engine) nsID(ns model.Namespace) (string, error) {
	id := e.cfg.NamespaceIDs[ns]
	if id == "" {
		return "", fmt.Errorf("no remote namespace ID for %s: run 'nimbus setup' first", ns)
	}
	return id, nil
}

// State is what the GUI and `nimbus status` show about sync.
type State struct {
	Online bool // the last request reached the remote

	Waiting     int // outbox entries: "N changes waiting"
	LastSync    time.Time
	LastError   string
	WritesDay   string
	WritesToday int64
}

// State reports online/offline, waiting changes and the writes counter.
func (e *Engine) State() State {
	n, _ := e.cfg.Store.OutboxLen()
	day, w := e.cfg.Pacer.WritesToday()
	e.mu.Lock()
	defer e.mu.Unlock()
	// Online means the remote answered the last request (even with a
	// refusal); LastError says why the last sync failed, if it did.
	s := State{Online: e.cfg.Pacer.Online(), Waiting: n, LastSync: e.lastSync, WritesDay: day, WritesToday: w}
	if e.lastErr != nil {
		s.LastError = e.lastErr.Error()
	}
	return s
}

func (e *Engine) finish(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastErr = err
	if err == nil {
		e.lastSync = e.cfg.Pacer.Clock().Now()
	}
}

// Stats count what one push or pull did.
type Stats struct {
	Written     int // keys written
	Merged      int // keys merged with a newer remote value before writing
	Acked       int // keys found already on the remote (no write)
	Pulled      int // remote values stored locally
	Quarantined int
	Lists       int
	BulkGets    int
	BulkPuts    int
	Halvings    int
	Repairs     int // remote values whose metadata did not match them, queued to be written back
}

func (s *Stats) add(o Stats) {
	s.Written += o.Written
	s.Merged += o.Merged
	s.Acked += o.Acked
	s.Pulled += o.Pulled
	s.Quarantined += o.Quarantined
	s.Lists += o.Lists
	s.BulkGets += o.BulkGets
	s.BulkPuts += o.BulkPuts
	s.Halvings += o.Halvings
	s.Repairs += o.Repairs
}

// Sync pulls then pushes: the pull refreshes the remote index and merges, so
// the push writes without a second look at the remote.
func (e *Engine) Sync(ctx context.Context) (Stats, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	var total Stats
	idx := index{}
	ps, err := e.pull(ctx, idx)
	total.add(ps)
	if err != nil {
		e.finish(err)
		return total, err
	}
	ws, err := e.push(ctx, idx)
	total.add(ws)
	e.finish(err)
	return total, err
}

// Push writes the outbox to the remote.
func (e *Engine) Push(ctx context.Context) (Stats, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	s, err := e.push(ctx, nil)
	e.finish(err)
	return s, err
}

// Pull lists every project's prefixes and the account namespaces, fetches
// what changed, validates, merges and stores it.
func (e *Engine) Pull(ctx context.Context) (Stats, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	s, err := e.pull(ctx, index{})
	e.finish(err)
	return s, err
}

// index is a remote index: per namespace and listing prefix, the hash of
// every listed key. A prefix present in the map was listed completely.
type index map[model.Namespace]map[string]map[string]string

func (ix index) lookup(ns model.Namespace, prefix, key string) (hash string, listed, known bool) {
	m, ok := ix[ns][prefix]
	if !ok {
		return "", false, false
	}
	h, ok := m[key]
	return h, ok, true
}

// listingPrefix is the prefix under which a key is listed: the project
// prefix for project kinds, "kind:" for account kinds.
func listingPrefix(key string) string {
	k, err := model.ParseKey(key)
	if err != nil {
		return key
	}
	for _, pk := range model.ProjectKinds {
		if k.Kind == pk {
			return model.ProjectPrefix(k.Kind, k.ID)
		}
	}
	return string(k.Kind) + ":"
}

// ---- pacing helpers ----

func (e *Engine) listAll(ctx context.Context, ns model.Namespace, prefix string, st *Stats) (map[string]string, error) {
	id, err := e.nsID(ns)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	cursor := ""
	for {
		var page KeyPage
		err := e.cfg.Pacer.Do(ctx, func(ctx context.Context) error {
			st.Lists++
			var err error
			page, err = e.cfg.Remote.ListKeys(ctx, id, prefix, cursor)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list %s prefix %q: %w", ns, prefix, err)
		}
		for _, k := range page.Keys {
			out[k.Name] = k.Meta.H
		}
		// Loop until the cursor is empty: a page can be empty while more
		// keys follow.
		if page.Cursor == "" {
			return out, nil
		}
		cursor = page.Cursor
	}
}

func (e *Engine) bulkGet(ctx context.Context, ns model.Namespace, keys []string, st *Stats) (map[string]Item, error) {
	id, err := e.nsID(ns)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Item, len(keys))
	for i := 0; i < len(keys); i += MaxBulkGet {
		chunk := keys[i:min(i+MaxBulkGet, len(keys))]
		var got map[string]Item
		err := e.cfg.Pacer.Do(ctx, func(ctx context.Context) error {
			st.BulkGets++
			var err error
			got, err = e.cfg.Remote.BulkGet(ctx, id, chunk)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("bulk get %d keys of %s: %w", len(chunk), ns, err)
		}
		for k, v := range got {
			out[k] = v
		}
	}
	return out, nil
}

// ---- push ----

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
		if en.NS == model.NSCache {
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

// pruneQueue drops queue items whose page status is terminal (or belongs to
// a later batch), using the local status records.
func pruneQueue(tx *localstore.Tx, key string, value []byte) ([]byte, error) {
	var q model.QueueData
	if err := json.Unmarshal(value, &q); err != nil {
		return nil, fmt.Errorf("prune %s: %w", key, err)
	}
	pid := strings.TrimPrefix(key, "queue:")
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
	})
	if len(pruned.Items) == len(q.Items) {
		return value, nil
	}
	return model.Canonical(pruned), nil
}

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

// ---- pull ----

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
				repair := !errors.Is(verr, model.ErrInvalid)
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
			if lh, ok := listed[k]; ok && lh != rh {
				why := "has no metadata hash"
				if lh != "" {
					why = fmt.Sprintf("has metadata hash %s but its bytes hash to %s", lh, rh)
				}
				e.log.Warn("remote value's metadata does not match it: merged, and written back with its own", "ns", string(ns), "key", k, "reason", why)
				if err := tx.RefuseRemote(ns, k, distrusted(lh), "", true); err != nil {
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

// FetchCache reads one NIMBUS_CACHE entry on demand (the cache is the
// Worker's; the desktop mirrors what it opens) and stores it locally.
func (e *Engine) FetchCache(ctx context.Context, key string) ([]byte, bool, error) {
	var st Stats
	got, err := e.bulkGet(ctx, model.NSCache, []string{key}, &st)
	if err != nil {
		return nil, false, err
	}
	it := got[key]
	if !it.Found {
		return nil, false, nil
	}
	if err := e.storePulled(ctx, model.NSCache, []string{key}, got, nil, &st); err != nil {
		return nil, false, err
	}
	return it.Value, true, nil
}
