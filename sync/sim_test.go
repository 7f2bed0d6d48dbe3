package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

// The convergence simulation: two desktops and a simulated Worker (which
// follows the same merge rules and keeps its own intent until the remote
// reflects it) against the fake with staleness up to 60 simulated seconds,
// random interleavings, random faults and random crashes. After quiescence
// every replica must hold the same bytes and every desktop intent must be
// reflected. NIMBUS_SIM_RUNS sets the number of seeds (default 200),
// NIMBUS_SIM_SEED replays one seed.

const simPages = 6

// crashRemote wraps a Remote and, when armed, "crashes" the engine after a
// number of calls: the call may or may not reach the remote, and the
// engine's context is cancelled, as when the process dies mid-sync.
type crashRemote struct {
	nsync.Remote
	rng    *rand.Rand
	left   int // calls until the crash; < 0: not armed
	cancel context.CancelFunc
	// hook runs before a call: the Worker and the editors act while a sync
	// is in flight (between its reads and its writes).
	hook func()
}

var errCrash = errors.New("simulated crash")

func (c *crashRemote) tick(ctx context.Context, call func() error) error {
	if c.hook != nil {
		c.hook()
	}
	if c.left < 0 {
		return call()
	}
	if c.left > 0 {
		c.left--
		return call()
	}
	c.left = -1
	if c.rng.IntN(2) == 0 {
		_ = call() // the request landed; the process died before the answer
	}
	c.cancel()
	return errCrash
}

func (c *crashRemote) ListKeys(ctx context.Context, ns, prefix, cursor string) (p nsync.KeyPage, err error) {
	err = c.tick(ctx, func() error { p, err = c.Remote.ListKeys(ctx, ns, prefix, cursor); return err })
	return
}
func (c *crashRemote) BulkGet(ctx context.Context, ns string, keys []string) (m map[string]nsync.Item, err error) {
	err = c.tick(ctx, func() error { m, err = c.Remote.BulkGet(ctx, ns, keys); return err })
	return
}
func (c *crashRemote) BulkPut(ctx context.Context, ns string, kvs []nsync.KV) (bad []string, err error) {
	err = c.tick(ctx, func() error { bad, err = c.Remote.BulkPut(ctx, ns, kvs); return err })
	return
}

type simDesktop struct {
	name   string
	store  *localstore.Store
	engine *nsync.Engine
	crash  *crashRemote
	// intents: what the editor did, checked after quiescence.
	imports   map[string]model.PageData       // page_id -> latest import
	decisions map[string]model.ReviewDecision // page_id/block -> latest decision
	submitted map[string]string               // page_id -> latest batch submitted
	settings  []model.ProjectData             // settings changes
}

type sim struct {
	t      testing.TB
	seed   uint64
	rng    *rand.Rand
	w      *world
	d      []*simDesktop
	worker *simWorker
	log    []string
	quiet  bool // quiescence: no more edits
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("%s ", s.w.clk.Now().Format("15:04:05.000"))+fmt.Sprintf(format, args...))
}

func (s *sim) now() string {
	s.w.clk.Advance(time.Millisecond) // distinct stamps: no ties to break
	return model.FormatTime(s.w.clk.Now())
}

func simDir(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "nimbus-sim-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

func newSim(t testing.TB, seed uint64, dir string) *sim {
	rng := rand.New(rand.NewPCG(seed, 99))
	stale := time.Duration(rng.IntN(61)) * time.Second
	w := newWorld(t, kvfake.Config{Staleness: stale, StaleRandom: true, Seed: seed,
		FaultRate: 0.05, ApplyBeforeFail: 0.5,
		Faults: []kvfake.Fault{kvfake.Fault429, kvfake.Fault500, kvfake.FaultReset, kvfake.FaultPartial, kvfake.Fault10046}})
	s := &sim{t: t, seed: seed, rng: rng, w: w}
	s.logf("staleness up to %v", stale)
	for i, name := range []string{"d1", "d2"} {
		st, err := localstore.Open(filepath.Join(dir, fmt.Sprintf("%d-%s.db", seed, name)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for ns, id := range w.nsIDs {
			_ = st.SetMeta(nsync.MetaNamespacePrefix+string(ns), id)
		}
		d := &simDesktop{name: name, store: st, imports: map[string]model.PageData{}, decisions: map[string]model.ReviewDecision{}, submitted: map[string]string{}}
		s.restart(d, uint64(i+1))
		putProject(t, st, projA)
		s.d = append(s.d, d)
	}
	s.worker = &simWorker{s: s, intents: map[string][]byte{}, folds: map[string]map[string]model.BatchPage{}, rng: rand.New(rand.NewPCG(seed, 7))}
	return s
}

// restart builds a fresh engine over the desktop's store (after a crash).
func (s *sim) restart(d *simDesktop, salt uint64) {
	remote, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: s.w.fake.AccountID(), Token: testToken, BaseURL: s.w.fake.BaseURL(), RequestTimeout: 30 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	d.crash = &crashRemote{Remote: remote, rng: rand.New(rand.NewPCG(s.seed, salt+s.rng.Uint64())), left: -1}
	pacer := nsync.NewPacer(nsync.PacerConfig{Rate: 3, Clock: s.w.clk, Seed: s.seed + salt, MaxAttempts: 4})
	eng, err := nsync.NewEngine(nsync.EngineConfig{Store: d.store, Remote: d.crash, Pacer: pacer, NamespaceIDs: s.w.nsIDs, InFlight: 1,
		Projects: func() ([]string, error) { return []string{projA}, nil }})
	if err != nil {
		s.t.Fatal(err)
	}
	d.engine = eng
}

func (s *sim) update(d *simDesktop, fn func(tx *localstore.Tx) error) {
	if err := d.store.Update(context.Background(), fn); err != nil {
		s.t.Fatalf("seed %d: %s local write: %v", s.seed, d.name, err)
	}
}

// importPage: the editor (re)imports page i with content variant v.
func (s *sim) importPage(d *simDesktop, i, v int) {
	p := testPage(projA, i, s.now())
	if v == 1 {
		p.Extraction.AboveFoldBlocks[1].Content = "Changed copy on the rebuilt site."
		p.ContentHash = model.ContentHash(p.Extraction)
	}
	key := model.PageKey(projA, p.PageID)
	s.update(d, func(tx *localstore.Tx) error {
		if cur, err := tx.Get(model.NSPages, key); err == nil {
			var c model.PageData
			if json.Unmarshal(cur, &c) == nil && c.ContentHash == p.ContentHash {
				return nil // unchanged content: the desktop does not rewrite
			}
		}
		d.imports[p.PageID] = p
		return tx.PutJSON(model.NSPages, key, p)
	})
	s.logf("%s imports page %d v%d", d.name, i, v)
}

// settings: the editor changes the project's settings (two-way account
// namespace NIMBUS_PROJECTS; the later settings change wins).
func (s *sim) settings(d *simDesktop) {
	tones := []string{"premium", "professional", "casual"}
	stamp := s.now()
	var p model.ProjectData
	s.update(d, func(tx *localstore.Tx) error {
		v, err := tx.Get(model.NSProjects, model.ProjectKey(projA))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		p.Settings.Tone = tones[s.rng.IntN(3)]
		p.Settings.MaxPagesPerBatch = 1 + s.rng.IntN(1000)
		p.SettingsUpdated = stamp
		return tx.PutJSON(model.NSProjects, model.ProjectKey(projA), p)
	})
	d.settings = append(d.settings, p)
	s.logf("%s sets tone %s", d.name, p.Settings.Tone)
}

func (s *sim) review(d *simDesktop, i int) {
	p := testPage(projA, i, "")
	block := fmt.Sprintf("block-%d", s.rng.IntN(2))
	states := []string{model.ReviewAccepted, model.ReviewRejected, model.ReviewEdited}
	dec := model.ReviewDecision{State: states[s.rng.IntN(3)], Decided: s.now()}
	if dec.State == model.ReviewEdited {
		dec.Text = fmt.Sprintf("edited by %s at %s", d.name, dec.Decided)
	}
	key := model.ReviewKey(projA, p.PageID)
	s.update(d, func(tx *localstore.Tx) error {
		r := model.ReviewData{PageID: p.PageID, ProjectID: projA, Blocks: map[string]model.ReviewDecision{}, Updated: dec.Decided}
		if cur, err := tx.Get(model.NSPages, key); err == nil {
			var c model.ReviewData
			if json.Unmarshal(cur, &c) == nil {
				r = model.MergeReviewData(c, model.ReviewData{PageID: p.PageID, ProjectID: projA, Blocks: map[string]model.ReviewDecision{}, Updated: dec.Decided})
			}
		}
		r.Blocks[block] = dec
		r.Updated = dec.Decided
		return tx.PutJSON(model.NSPages, key, r)
	})
	d.decisions[p.PageID+"/"+block] = dec
	s.logf("%s reviews page %d %s: %s", d.name, i, block, dec.State)
}

// submit queues the desktop's pages that are not queued yet in a new batch.
func (s *sim) submit(d *simDesktop) {
	stamp := s.now()
	batch := model.BatchID(s.w.clk.Now())
	var ids []string
	s.update(d, func(tx *localstore.Tx) error {
		ids = ids[:0]
		b := model.BatchData{BatchID: batch, ProjectID: projA, Created: stamp, Status: model.BatchQueued, Pages: map[string]model.BatchPage{}}
		err := tx.List(model.NSPages, model.ProjectPrefix(model.KindPage, projA), func(key string, v []byte) error {
			var p model.PageData
			if json.Unmarshal(v, &p) != nil {
				return nil
			}
			if sv, err := tx.Get(model.NSStatus, model.StatusKey(projA, p.PageID)); err == nil {
				var st model.StatusData
				if json.Unmarshal(sv, &st) == nil && st.BatchID >= batch {
					return nil
				}
			}
			if s.rng.IntN(3) == 0 {
				return nil // not every page every time
			}
			ids = append(ids, p.PageID)
			b.Pages[p.PageID] = model.BatchPage{Status: model.StatusQueued, Uploaded: p.Uploaded}
			return nil
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		if cur, err := tx.Get(model.NSBatches, model.BatchKey(projA, batch)); err == nil {
			var c model.BatchData
			if json.Unmarshal(cur, &c) == nil {
				b = model.MergeBatchData(c, b)
			}
		}
		b.PageCount = len(b.Pages)
		b.Summary = model.BatchSummaryOf(b.Pages)
		if err := tx.PutJSON(model.NSBatches, model.BatchKey(projA, batch), b); err != nil {
			return err
		}
		var q model.QueueData
		if cur, err := tx.Get(model.NSQueue, model.QueueKey(projA)); err == nil {
			_ = json.Unmarshal(cur, &q)
		}
		var items []model.QueueItem
		for _, id := range ids {
			st := model.StatusData{Status: model.StatusQueued, BatchID: batch, Updated: stamp}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(projA, id), st); err != nil {
				return err
			}
			if err := tx.SetMeta(nsync.MetaQueuedIntent(model.StatusKey(projA, id)), batch); err != nil {
				return err
			}
			items = append(items, model.QueueItem{PageID: id, BatchID: batch, Priority: 1 + s.rng.IntN(10), QueuedAt: stamp})
		}
		return tx.PutJSON(model.NSQueue, model.QueueKey(projA), model.MergeQueueData(q, model.QueueData{Items: items}))
	})
	for _, id := range ids {
		d.submitted[id] = batch
	}
	s.logf("%s submits %d pages in %s", d.name, len(ids), batch)
}

func (s *sim) syncDesktop(d *simDesktop, crash bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.crash.cancel = cancel
	d.crash.hook = func() {
		switch r := s.rng.IntN(100); {
		case r < 15:
			s.worker.step()
		case r < 20:
			s.importPage(s.d[s.rng.IntN(2)], s.rng.IntN(simPages), s.rng.IntN(2))
		case r < 25:
			s.review(s.d[s.rng.IntN(2)], s.rng.IntN(simPages))
		}
	}
	if !s.quiet {
		defer func() { d.crash.hook = nil }()
	} else {
		d.crash.hook = nil
	}
	if crash {
		d.crash.left = s.rng.IntN(12)
	}
	_, err := d.engine.Sync(ctx)
	if errors.Is(err, errCrash) || ctx.Err() != nil {
		s.logf("%s crashed mid-sync", d.name)
		s.restart(d, s.rng.Uint64())
		return
	}
	d.crash.left = -1
	s.logf("%s syncs: %v", d.name, err)
}

// simWorker is the Nimbus Worker as the simulation plays it: it reads and
// writes through its binding (stale reads), merges before every write, and
// keeps its own intent until the remote reflects it.
type simWorker struct {
	s       *sim
	rng     *rand.Rand
	intents map[string][]byte // key -> value the Worker wants reflected
	// folds are outcomes not yet written to their batch record because the
	// Worker could not read it yet (batch key -> page -> entry), as the
	// coordinator keeps an outcome until it can fold it.
	folds   map[string]map[string]model.BatchPage
	current *model.QueueItem
}

func (w *simWorker) ns(key string) string {
	ns, _ := model.NamespaceOfKey(key)
	return w.s.w.nsIDs[ns]
}

func (w *simWorker) read(key string) ([]byte, bool) {
	v, _, ok := w.s.w.fake.Read(w.ns(key), key)
	if ok && model.ValidateValue(key, v) != nil {
		return nil, false
	}
	return v, ok
}

func (w *simWorker) write(key string, v []byte) {
	meta := nsync.Meta{H: model.ValueHash(v), U: w.s.now()}
	if k, _ := model.ParseKey(key); k.Kind == model.KindStatus {
		var st model.StatusData
		_ = json.Unmarshal(v, &st)
		meta.S = st.Status
	}
	mb, _ := json.Marshal(meta)
	w.s.w.fake.Write(w.ns(key), key, v, mb)
}

// apply merges mine into the remote value, writes it, and remembers it.
func (w *simWorker) apply(key string, mine []byte) {
	if prev, ok := w.intents[key]; ok {
		m, err := model.MergeValue(key, prev, mine)
		if err != nil {
			w.s.t.Fatalf("seed %d: worker intent %s: %v", w.s.seed, key, err)
		}
		mine = m
	}
	w.intents[key] = mine
	v := mine
	if cur, ok := w.read(key); ok {
		m, err := model.MergeValue(key, cur, mine)
		if err != nil {
			w.s.t.Fatalf("seed %d: worker merge %s: %v", w.s.seed, key, err)
		}
		if bytes.Equal(m, cur) {
			return
		}
		v = m
	}
	w.write(key, v)
}

// fold writes an outcome into its batch record, or keeps it for a later
// fold while the record cannot be read (not visible here yet).
func (w *simWorker) fold(batchKey, pageID string, e model.BatchPage) {
	bv, ok := w.read(batchKey)
	if !ok {
		if w.folds[batchKey] == nil {
			w.folds[batchKey] = map[string]model.BatchPage{}
		}
		w.folds[batchKey][pageID] = e
		return
	}
	var b model.BatchData
	_ = json.Unmarshal(bv, &b)
	// As the coordinator's fold: the entry is written even when the record
	// read lacks it, with the record's upload stamp when it has one.
	bp, ok := b.Pages[pageID]
	if !ok {
		bp.Uploaded = e.Uploaded
	}
	bp.Status, bp.Completed, bp.Error = e.Status, e.Completed, e.Error
	b.Pages = map[string]model.BatchPage{pageID: bp}
	w.apply(batchKey, model.Canonical(b))
}

// heal re-applies every intent the remote (as the Worker sees it) lacks,
// and folds the outcomes kept for batch records it could not read.
func (w *simWorker) heal() {
	bkeys := make([]string, 0, len(w.folds))
	for k := range w.folds {
		bkeys = append(bkeys, k)
	}
	sort.Strings(bkeys)
	for _, bk := range bkeys {
		pending := w.folds[bk]
		delete(w.folds, bk)
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			w.fold(bk, id, pending[id])
		}
	}
	keys := make([]string, 0, len(w.intents))
	for k := range w.intents {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.apply(k, w.intents[k])
	}
}

func (w *simWorker) statusOf(pageID string) (model.StatusData, bool) {
	key := model.StatusKey(projA, pageID)
	var out model.StatusData
	found := false
	for _, b := range [][]byte{w.intents[key], func() []byte { v, _ := w.read(key); return v }()} {
		if b == nil {
			continue
		}
		var st model.StatusData
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		if found {
			out = model.MergeStatusData(out, st)
		} else {
			out, found = st, true
		}
	}
	return out, found
}

// entryOf is a page's entry in a batch record as the Worker sees it (its
// own writes merged in).
func (w *simWorker) entryOf(batchID, pageID string) (model.BatchPage, bool) {
	key := model.BatchKey(projA, batchID)
	var out model.BatchPage
	found := false
	for _, b := range [][]byte{w.intents[key], func() []byte { v, _ := w.read(key); return v }()} {
		if b == nil {
			continue
		}
		var bd model.BatchData
		if json.Unmarshal(b, &bd) != nil {
			continue
		}
		if e, ok := bd.Pages[pageID]; ok {
			if found {
				out = model.MergeBatchData(model.BatchData{Pages: map[string]model.BatchPage{pageID: out}}, model.BatchData{Pages: map[string]model.BatchPage{pageID: e}}).Pages[pageID]
			} else {
				out, found = e, true
			}
		}
	}
	return out, found
}

// prune drops finished items from the queue the Worker sees.
func (w *simWorker) prune() (model.QueueData, bool) {
	key := model.QueueKey(projA)
	cur, ok := w.read(key)
	if !ok {
		return model.QueueData{}, false
	}
	var q model.QueueData
	_ = json.Unmarshal(cur, &q)
	p := model.PruneQueue(q, w.statusOf, w.entryOf)
	if len(p.Items) != len(q.Items) {
		p.LastProcessed = w.s.now()
		w.write(key, model.Canonical(p))
	}
	return p, true
}

// step advances the Worker by one action; it reports whether it did work.
func (w *simWorker) step() bool {
	w.heal()
	if w.current == nil {
		q, ok := w.prune()
		if !ok || len(q.Items) == 0 {
			return false
		}
		it := q.Items[0]
		w.current = &it
		stamp := w.s.now()
		st := model.StatusData{Status: model.StatusProcessing, BatchID: it.BatchID, Updated: stamp,
			Processing: &model.ProcessingInfo{Started: stamp, CurrentStep: "optimize", Progress: 10}}
		w.apply(model.StatusKey(projA, it.PageID), model.Canonical(st))
		w.s.logf("worker starts %s/%s", it.BatchID, it.PageID)
		return true
	}
	it := *w.current
	w.current = nil
	stamp := w.s.now()
	st := model.StatusData{Status: model.StatusDone, BatchID: it.BatchID, Updated: stamp,
		Result: &model.StatusResult{Completed: stamp, Success: true, Changes: 1, Confidence: 0.9}}
	w.apply(model.StatusKey(projA, it.PageID), model.Canonical(st))
	if pv, ok := w.read(model.PageKey(projA, it.PageID)); ok {
		var p model.PageData
		_ = json.Unmarshal(pv, &p)
		p.Optimization = &model.Optimization{Completed: stamp, Model: "sim", Confidence: 0.9, Changes: 1,
			OptimizedBlocks: []model.Block{{ID: "block-0", Type: "h1", Content: "Optimised " + it.BatchID}}, SourceHash: p.ContentHash}
		w.apply(model.PageKey(projA, it.PageID), model.Canonical(p))
	}
	w.fold(model.BatchKey(projA, it.BatchID), it.PageID, model.BatchPage{Status: model.StatusDone, Uploaded: it.QueuedAt, Completed: stamp})
	lg := model.LogData{PageID: it.PageID, Entries: []model.LogEntry{{Timestamp: stamp, Level: model.LevelInfo, Step: "optimize", Message: "done " + it.BatchID}}}
	w.apply(model.LogsKey(projA, it.PageID), model.Canonical(lg))
	w.prune()
	w.s.logf("worker finishes %s/%s", it.BatchID, it.PageID)
	return true
}

func (s *sim) run(steps int) error {
	for i := 0; i < steps; i++ {
		d := s.d[s.rng.IntN(2)]
		switch r := s.rng.IntN(100); {
		case r < 22:
			s.importPage(d, s.rng.IntN(simPages), s.rng.IntN(2))
		case r < 32:
			s.review(d, s.rng.IntN(simPages))
		case r < 37:
			s.submit(d)
		case r < 40:
			s.settings(d)
		case r < 62:
			s.syncDesktop(d, s.rng.IntN(5) == 0)
		case r < 85:
			s.worker.step()
		default:
			s.w.clk.Advance(time.Duration(s.rng.IntN(30000)) * time.Millisecond)
		}
	}
	// Quiescence: no more edits or faults; time passes beyond the
	// staleness window between rounds until nothing changes any more.
	s.w.fake.SetFaultRate(0)
	s.quiet = true
	for round := 0; round < 25; round++ {
		before := s.w.fake.KeysWritten()
		s.w.clk.Advance(61 * time.Second)
		for k := 0; k < 50 && s.worker.step(); k++ {
			s.w.clk.Advance(61 * time.Second)
		}
		for _, d := range s.d {
			s.w.clk.Advance(61 * time.Second)
			s.syncDesktop(d, false)
		}
		waiting := 0
		for _, d := range s.d {
			n, _ := d.store.OutboxLen()
			waiting += n
		}
		if round > 0 && waiting == 0 && s.w.fake.KeysWritten() == before && s.worker.current == nil && len(s.worker.folds) == 0 {
			return s.check()
		}
	}
	return errors.New("no quiescence after 25 rounds")
}

// check compares every replica and every intent.
func (s *sim) check() error {
	for _, ns := range []model.Namespace{model.NSPages, model.NSBatches, model.NSQueue, model.NSStatus, model.NSLogs, model.NSProjects} {
		remoteKeys := s.w.fake.LatestKeys(s.w.nsIDs[ns], "")
		for _, d := range s.d {
			local, _ := d.store.Keys(ns, "")
			if fmt.Sprint(local) != fmt.Sprint(remoteKeys) {
				return fmt.Errorf("%s %s keys %v, remote %v", d.name, ns, local, remoteKeys)
			}
			for _, k := range remoteKeys {
				rv, _, _ := s.w.fake.Latest(s.w.nsIDs[ns], k)
				lv, _ := d.store.Get(ns, k)
				if !bytes.Equal(rv, lv) {
					return fmt.Errorf("%s %s differs from the remote:\n local  %s\n remote %s", d.name, k, lv, rv)
				}
			}
		}
	}
	// Intents: latest import per page, latest decision per block, every
	// submitted page done for its latest batch (or a later one), queue empty.
	latestImport := map[string]model.PageData{}
	latestDecision := map[string]model.ReviewDecision{}
	latestBatch := map[string]string{}
	for _, d := range s.d {
		for id, p := range d.imports {
			if cur, ok := latestImport[id]; !ok || p.Uploaded > cur.Uploaded {
				latestImport[id] = p
			}
		}
		for k, dec := range d.decisions {
			if cur, ok := latestDecision[k]; !ok || dec.Decided > cur.Decided {
				latestDecision[k] = dec
			}
		}
		for id, b := range d.submitted {
			if b > latestBatch[id] {
				latestBatch[id] = b
			}
		}
	}
	for id, want := range latestImport {
		v, _, _ := s.w.fake.Latest(s.w.nsIDs[model.NSPages], model.PageKey(projA, id))
		var got model.PageData
		_ = json.Unmarshal(v, &got)
		if got.ContentHash != want.ContentHash {
			return fmt.Errorf("page %s: content %s on the remote, the latest import has %s", id, got.ContentHash[:8], want.ContentHash[:8])
		}
	}
	for k, want := range latestDecision {
		pageID, block, _ := cutLast(k)
		v, _, _ := s.w.fake.Latest(s.w.nsIDs[model.NSPages], model.ReviewKey(projA, pageID))
		var got model.ReviewData
		_ = json.Unmarshal(v, &got)
		if g := got.Blocks[block]; g != want {
			return fmt.Errorf("review %s: %+v on the remote, the latest decision is %+v", k, g, want)
		}
	}
	var latestSettings *model.ProjectData
	for _, d := range s.d {
		for i := range d.settings {
			if latestSettings == nil || d.settings[i].SettingsUpdated > latestSettings.SettingsUpdated {
				latestSettings = &d.settings[i]
			}
		}
	}
	if latestSettings != nil {
		v, _, _ := s.w.fake.Latest(s.w.nsIDs[model.NSProjects], model.ProjectKey(projA))
		var got model.ProjectData
		_ = json.Unmarshal(v, &got)
		if !bytes.Equal(model.Canonical(got.Settings), model.Canonical(latestSettings.Settings)) {
			return fmt.Errorf("project settings %+v on the remote, the latest change is %+v", got.Settings, latestSettings.Settings)
		}
	}
	for id, b := range latestBatch {
		v, _, _ := s.w.fake.Latest(s.w.nsIDs[model.NSStatus], model.StatusKey(projA, id))
		var got model.StatusData
		_ = json.Unmarshal(v, &got)
		if got.BatchID < b || got.Status != model.StatusDone {
			return fmt.Errorf("page %s submitted in %s: remote status %s/%s", id, b, got.BatchID, got.Status)
		}
	}
	// Every batch a desktop submitted completes: each of its entries is
	// terminal (a page resubmitted in a later batch too: the Worker finishes
	// its item in the old one).
	for _, k := range s.w.fake.LatestKeys(s.w.nsIDs[model.NSBatches], "") {
		v, _, _ := s.w.fake.Latest(s.w.nsIDs[model.NSBatches], k)
		var b model.BatchData
		_ = json.Unmarshal(v, &b)
		if b.Status == model.BatchUploading {
			continue // imported, never submitted
		}
		for id, e := range b.Pages {
			if e.Status != model.StatusDone && e.Status != model.StatusFailed {
				return fmt.Errorf("%s (%s): page %s is %s after everything finished", k, b.Status, id, e.Status)
			}
		}
	}
	if v, _, ok := s.w.fake.Latest(s.w.nsIDs[model.NSQueue], model.QueueKey(projA)); ok {
		var q model.QueueData
		_ = json.Unmarshal(v, &q)
		if len(q.Items) != 0 {
			return fmt.Errorf("queue still holds %d items after everything finished: %s", len(q.Items), v)
		}
	}
	return nil
}

func cutLast(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestConvergenceSimulation(t *testing.T) {
	runs := simRuns
	first := uint64(1)
	if v := os.Getenv("NIMBUS_SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		first, runs = n, 1
	} else if testing.Short() {
		runs = 30
	}
	dir := simDir(t)
	failed := 0
	for seed := first; seed < first+uint64(runs); seed++ {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newSim(t, seed, dir)
			err := s.run(50)
			if os.Getenv("NIMBUS_SIM_LOG") != "" {
				for _, l := range s.log {
					t.Log(l)
				}
			}
			if err != nil {
				for _, l := range s.log {
					t.Log(l)
				}
				t.Fatalf("seed %d did not converge: %v (replay: NIMBUS_SIM_SEED=%d go test -run TestConvergenceSimulation ./sync/)", seed, err, seed)
			}
		})
		if !ok {
			failed++
			if failed >= 5 {
				t.Fatalf("stopping after %d failing seeds", failed)
			}
		}
	}
}
