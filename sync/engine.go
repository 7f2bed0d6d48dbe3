package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

	// pollAgain holds the pages ("project:page") whose batch entry the live
	// poll saw terminal while their status read here was not (a read that
	// KV's eventual consistency served old): the next poll reads them again.
	// Guarded by runMu.
	pollAgain map[string]string

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
	} else if err := e.cfg.Pacer.LastError(); !s.Online && err != nil {
		// Offline while the sync still retries: why the last request failed.
		s.LastError = err.Error()
	}
	return s
}

func (e *Engine) finish(err error) {
	if errors.Is(err, context.Canceled) {
		return // stopped (a project switch, quit): not why a sync failed
	}
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
