package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

// liveSite is a project of n pages on the fake, fully synced to one desktop,
// with one batch of the first batchPages pages processing.
type liveSite struct {
	w     *world
	d     *desktop
	pages []model.PageData
	batch model.BatchData
	done  int // pages the Worker has finished so far
}

func newLiveSite(t testing.TB, n, batchPages int) *liveSite {
	t.Helper()
	w := newWorld(t, kvfake.Config{})
	d := w.desktop("a", 3, 1)
	putProject(t, d.store, projA)
	pages := putPages(t, d.store, projA, n)
	stamp := model.FormatTime(t0)
	b := model.BatchData{BatchID: "batch_20261127_120000", ProjectID: projA, Created: stamp, Status: model.BatchProcessing,
		PageCount: batchPages, Pages: map[string]model.BatchPage{}}
	for _, p := range pages[:batchPages] {
		b.Pages[p.PageID] = model.BatchPage{Status: model.StatusQueued, Uploaded: stamp}
	}
	b.Summary = model.BatchSummaryOf(b.Pages)
	if err := d.store.Update(context.Background(), func(tx *localstore.Tx) error {
		if err := tx.PutJSON(model.NSBatches, model.BatchKey(projA, b.BatchID), b); err != nil {
			return err
		}
		q := model.QueueData{}
		for _, p := range pages[:batchPages] {
			s := model.StatusData{Status: model.StatusQueued, BatchID: b.BatchID, Updated: stamp}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(projA, p.PageID), s); err != nil {
				return err
			}
			q.Items = append(q.Items, model.QueueItem{PageID: p.PageID, BatchID: b.BatchID, Priority: 5, QueuedAt: stamp})
		}
		return tx.PutJSON(model.NSQueue, model.QueueKey(projA), q)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.engine.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &liveSite{w: w, d: d, pages: pages, batch: b}
}

// finish plays the Worker: k more pages of the batch done, with their
// status, log and batch entry written to the remote.
func (s *liveSite) finish(t testing.TB, k int) []string {
	t.Helper()
	at := model.FormatTime(t0.Add(time.Duration(s.done+1) * time.Second))
	var ids []string
	for _, p := range s.pages[s.done : s.done+k] {
		ids = append(ids, p.PageID)
		s.batch.Pages[p.PageID] = model.BatchPage{Status: model.StatusDone, Uploaded: s.batch.Created, Started: at, Completed: at}
		st := model.Canonical(model.StatusData{Status: model.StatusDone, BatchID: s.batch.BatchID, Updated: at})
		lg := model.Canonical(model.LogData{PageID: p.PageID, Entries: []model.LogEntry{{Timestamp: at, Level: model.LevelInfo, Step: "complete", Message: "done"}}})
		s.put(model.NSStatus, model.StatusKey(projA, p.PageID), st)
		s.put(model.NSLogs, model.LogsKey(projA, p.PageID), lg)
	}
	s.done += k
	s.batch.Summary = model.BatchSummaryOf(s.batch.Pages)
	s.put(model.NSBatches, model.BatchKey(projA, s.batch.BatchID), model.Canonical(s.batch))
	return ids
}

func (s *liveSite) put(ns model.Namespace, key string, v []byte) {
	s.w.fake.Write(s.w.nsIDs[ns], key, v, json.RawMessage(`{"h":"`+model.ValueHash(v)+`"}`))
}

func requests(st nsync.Stats) int { return st.Lists + st.BulkGets + st.BulkPuts }

// The live poll reads the active batch and the records of the pages that
// moved, by bulk get, and nothing else: no listing, and the same count
// whatever the size of the site.
func TestLivePollReadsOnlyWhatMoves(t *testing.T) {
	s := newLiveSite(t, 600, 200)
	ctx := context.Background()
	ids := s.finish(t, 37)
	st, err := s.d.engine.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lists != 0 || st.BulkGets != 5 {
		t.Errorf("poll after 37 pages finished: %d lists, %d bulk gets; want 0 and 5 (batch; status of the 37 and of the queue's next 100; page and logs of the 37)", st.Lists, st.BulkGets)
	}
	for _, id := range ids {
		got, err := s.d.store.GetStatus(projA, id)
		if err != nil || got.Status != model.StatusDone {
			t.Fatalf("status of %s after the poll: %+v %v", id, got, err)
		}
	}
	b, err := localstore.GetJSON[model.BatchData](s.d.store, model.NSBatches, model.BatchKey(projA, s.batch.BatchID))
	if err != nil || b.Summary.Completed != 37 {
		t.Fatalf("batch after the poll: %+v %v", b.Summary, err)
	}
	if st, err := s.d.engine.Poll(ctx); err != nil || requests(st) != 2 {
		t.Errorf("poll with nothing changed: %d requests (%+v), want 2 (the batch, the queue's next statuses) %v", requests(st), st, err)
	}
	// 150 more: two bulk gets per kind (the statuses of the 150 and of the
	// queue's 13 waiting pages fit in two).
	s.finish(t, 150)
	if st, err := s.d.engine.Poll(ctx); err != nil || st.BulkGets != 1+3*2 || st.Lists != 0 {
		t.Errorf("poll after 150 finished: %+v %v", st, err)
	}
	// What the polls stored is what a full sync sees: nothing more to read.
	before := s.w.fake.Counts()
	if _, err := s.d.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// (It may write the queue: the full sync prunes the finished pages from
	// it, as the Worker would.)
	if d := delta(before, s.w.fake.Counts()); d[kvfake.OpBulkGet] != 0 {
		t.Errorf("a full sync after the polls read again: %v", d)
	}
}

// BenchmarkLivePoll prints the requests of one live poll beside those of
// the full sync it replaces (the old fast round), at 1,000, 10,000 and
// 100,000 pages: with a batch running in which 37 pages finished, and with
// nothing changed. The poll's counts should not move with the size.
func BenchmarkLivePoll(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("pages=%d", n), func(b *testing.B) {
			s := newLiveSite(b, n, 500)
			ctx := context.Background()
			var poll37, pollIdle, sync37, syncIdle nsync.Stats
			var err error
			s.finish(b, 37)
			if poll37, err = s.d.engine.Poll(ctx); err != nil {
				b.Fatal(err)
			}
			if pollIdle, err = s.d.engine.Poll(ctx); err != nil {
				b.Fatal(err)
			}
			s.finish(b, 37)
			if sync37, err = s.d.engine.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			if syncIdle, err = s.d.engine.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.d.engine.Poll(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(requests(poll37)), "poll-37-reqs")
			b.ReportMetric(float64(requests(pollIdle)), "poll-idle-reqs")
			b.ReportMetric(float64(requests(sync37)), "fullsync-37-reqs")
			b.ReportMetric(float64(requests(syncIdle)), "fullsync-idle-reqs")
		})
	}
}

// Watch lists everything on its first round, then polls only what moves
// while a batch runs, and lists again on "sync now".
func TestWatchPollsBetweenFullSyncs(t *testing.T) {
	s := newLiveSite(t, 50, 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := make(chan struct{}, 1)
	var rounds []nsync.Stats
	err := s.d.engine.Watch(ctx, nsync.WatchOptions{Fast: time.Millisecond, Slow: time.Hour, Now: now,
		Busy: func() bool { return true },
		After: func(st nsync.Stats, err error) {
			if err != nil {
				t.Errorf("round %d: %v", len(rounds), err)
			}
			rounds = append(rounds, st)
			switch len(rounds) {
			case 3:
				now <- struct{}{}
			case 5:
				cancel()
			}
		}})
	if err != context.Canceled {
		t.Fatalf("watch: %v", err)
	}
	for i, st := range rounds {
		full := i == 0 || i == 3
		if full != (st.Lists > 0) {
			t.Errorf("round %d: %d lists (%+v); want a full sync only first and after sync now", i, st.Lists, st)
		}
	}
}

// engineOn is another engine on desktop d's store, through remote r.
func engineOn(t *testing.T, w *world, d *desktop, r nsync.Remote, cacheFull bool) *nsync.Engine {
	t.Helper()
	ids, _ := nsync.NamespaceIDs(d.store)
	pacer := nsync.NewPacer(nsync.PacerConfig{Rate: 3, Clock: w.clk, Seed: 1, MaxAttempts: 6})
	eng, err := nsync.NewEngine(nsync.EngineConfig{Store: d.store, Remote: r, Pacer: pacer, NamespaceIDs: ids, CacheFull: cacheFull})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func remoteOf(t *testing.T, w *world) nsync.Remote {
	t.Helper()
	cf, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: w.fake.AccountID(), Token: testToken, BaseURL: w.fake.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// staleGet serves one key's first bulk get from an edge that has not seen
// its newest write: the old bytes with their own old metadata (old nil: not
// found yet), as KV's eventual consistency does for up to a minute.
type staleGet struct {
	nsync.Remote
	key  string
	old  []byte
	done bool
}

func (s *staleGet) BulkGet(ctx context.Context, ns string, keys []string) (map[string]nsync.Item, error) {
	m, err := s.Remote.BulkGet(ctx, ns, keys)
	if err == nil && !s.done {
		if _, ok := m[s.key]; ok {
			if s.old == nil {
				m[s.key] = nsync.Item{}
			} else {
				m[s.key] = nsync.Item{Value: s.old, Meta: nsync.Meta{H: model.ValueHash(s.old)}, Found: true}
			}
			s.done = true
		}
	}
	return m, err
}

// A status the live poll reads before its write reached this edge is read
// again by the next poll (the batch entry, merged already, no longer shows
// it moved).
func TestLivePollRereadsAStatusReadTooEarly(t *testing.T) {
	s := newLiveSite(t, 20, 5)
	ids := s.finish(t, 1)
	eng := engineOn(t, s.w, s.d, &staleGet{Remote: remoteOf(t, s.w), key: model.StatusKey(projA, ids[0])}, false)
	for i := 0; i < 3; i++ {
		if _, err := eng.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.d.store.GetStatus(projA, ids[0]); got.Status != model.StatusDone {
		t.Errorf("after 3 live polls the page shows %q; its batch entry says done", got.Status)
	}
}

// The Worker writes a page's batch entry when the page ends; while it runs
// only its status says "processing". The live poll reads the statuses of
// the queue's next pages, so that shows without a full sync.
func TestLivePollShowsPagesBeingProcessed(t *testing.T) {
	s := newLiveSite(t, 20, 5)
	at := model.FormatTime(t0.Add(time.Second))
	p := s.pages[0]
	st := model.Canonical(model.StatusData{Status: model.StatusProcessing, BatchID: s.batch.BatchID, Updated: at,
		Processing: &model.ProcessingInfo{Started: at, CurrentStep: "ai_optimization", Progress: 30}})
	s.put(model.NSStatus, model.StatusKey(projA, p.PageID), st)
	if _, err := s.d.engine.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.d.store.GetStatus(projA, p.PageID); got.Status != model.StatusProcessing {
		t.Errorf("after a live poll the page shows %q; the remote says processing", got.Status)
	}
}
