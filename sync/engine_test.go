package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

func TestPushThenPullIntoAnotherDesktop(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 25)
	ctx := context.Background()
	st, err := a.engine.Push(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 26 {
		t.Fatalf("written %d, want 26", st.Written)
	}
	if n, _ := a.store.OutboxLen(); n != 0 {
		t.Fatalf("outbox %d after a clean push", n)
	}
	key := model.PageKey(projA, pages[3].PageID)
	v, meta, ok := w.fake.Latest(w.nsIDs[model.NSPages], key)
	local, _ := a.store.Get(model.NSPages, key)
	if !ok || !bytes.Equal(v, local) {
		t.Fatalf("remote value of %s differs from local", key)
	}
	var m nsync.Meta
	if err := json.Unmarshal(meta, &m); err != nil || m.H != model.ValueHash(local) || m.U == "" {
		t.Fatalf("metadata %s, want h=%s and u", meta, model.ValueHash(local))
	}

	b := w.desktop("b", 3, 2)
	putProject(t, b.store, projA)
	if _, err := b.engine.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Get(model.NSPages, key)
	if err != nil || !bytes.Equal(got, local) {
		t.Fatalf("pulled %s: %v", key, err)
	}
	if n, _ := b.store.OutboxLen(); n != 0 {
		t.Fatalf("pull left %d outbox entries on b", n)
	}
	// A second pull reads nothing: every listed hash is known.
	before := w.fake.Counts()
	ps, err := b.engine.Pull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := delta(before, w.fake.Counts()); d[kvfake.OpBulkGet] != 0 || ps.Pulled != 0 {
		t.Fatalf("unchanged pull fetched values: %v %+v", d, ps)
	}
}

func TestPullQuarantinesInvalidRemoteValue(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 2)
	ctx := context.Background()
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	key := model.PageKey(projA, pages[0].PageID)
	good, _ := a.store.Get(model.NSPages, key)
	bad := []byte(`{"page_id":"nonsense"}`)
	w.fake.Write(w.nsIDs[model.NSPages], key, bad, json.RawMessage(`{"h":"`+model.ValueHash(bad)+`"}`))
	st, err := a.engine.Pull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined != 1 {
		t.Fatalf("quarantined %d, want 1", st.Quarantined)
	}
	now, _ := a.store.Get(model.NSPages, key)
	if !bytes.Equal(now, good) {
		t.Fatal("an invalid remote value overwrote local data")
	}
	found := false
	_ = a.store.Quarantined(func(q localstore.QuarantineEntry) error {
		found = found || (q.Key == key && bytes.Equal(q.Value, bad))
		return nil
	})
	if !found {
		t.Fatal("invalid value not in quarantine")
	}
	// The next poll does not fetch or quarantine the same value again.
	before := w.fake.CountsFor(w.nsIDs[model.NSPages])[kvfake.OpBulkGet]
	if st, err := a.engine.Pull(ctx); err != nil || st.Quarantined != 0 {
		t.Fatalf("second pull: %+v %v", st, err)
	}
	if w.fake.CountsFor(w.nsIDs[model.NSPages])[kvfake.OpBulkGet] != before {
		t.Fatal("the refused value was fetched again")
	}
	logs, err := a.store.GetLogs(projA, pages[0].PageID)
	if err != nil || len(logs.Entries) == 0 || logs.Entries[len(logs.Entries)-1].Step != "sync" {
		t.Fatalf("no sync log entry for the refused value: %+v %v", logs, err)
	}
}

func TestQueueSelfHeals(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 3)
	ctx := context.Background()
	batch := "batch_20261127_120000"
	stamp := model.FormatTime(t0)
	// This desktop's editor queued pages 0 and 1 (statuses and intents),
	// but the queue record that reached the remote holds only page 0.
	if err := a.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, p := range pages[:2] {
			sk := model.StatusKey(projA, p.PageID)
			if err := tx.PutJSON(model.NSStatus, sk, model.StatusData{Status: model.StatusQueued, BatchID: batch, Updated: stamp}); err != nil {
				return err
			}
			if err := tx.SetMeta(nsync.MetaQueuedIntent(sk), batch); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	// Page 2 was queued by another desktop: its status comes in from a
	// pull and must not be re-queued by this one.
	s2 := model.Canonical(model.StatusData{Status: model.StatusQueued, BatchID: batch, Updated: stamp})
	w.fake.Write(w.nsIDs[model.NSStatus], model.StatusKey(projA, pages[2].PageID), s2, json.RawMessage(`{"h":"`+model.ValueHash(s2)+`","s":"queued"}`))
	q := model.Canonical(model.QueueData{Items: []model.QueueItem{{PageID: pages[0].PageID, BatchID: batch, Priority: 5, QueuedAt: stamp}}})
	w.fake.Write(w.nsIDs[model.NSQueue], model.QueueKey(projA), q, json.RawMessage(`{"h":"`+model.ValueHash(q)+`"}`))
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v, _, _ := w.fake.Latest(w.nsIDs[model.NSQueue], model.QueueKey(projA))
	var got model.QueueData
	if err := json.Unmarshal(v, &got); err != nil || len(got.Items) != 2 || got.Items[0].PageID == pages[2].PageID || got.Items[1].PageID == pages[2].PageID {
		t.Fatalf("remote queue after heal (want pages 0 and 1, not 2): %s", v)
	}
	// The Worker finishes page 0: it is pruned and its intent cleared.
	done := model.Canonical(model.StatusData{Status: model.StatusDone, BatchID: batch, Updated: model.FormatTime(t0.Add(time.Minute))})
	w.fake.Write(w.nsIDs[model.NSStatus], model.StatusKey(projA, pages[0].PageID), done, json.RawMessage(`{"h":"`+model.ValueHash(done)+`","s":"done"}`))
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v, _, _ = w.fake.Latest(w.nsIDs[model.NSQueue], model.QueueKey(projA))
	if err := json.Unmarshal(v, &got); err != nil || len(got.Items) != 1 || got.Items[0].PageID != pages[1].PageID {
		t.Fatalf("remote queue after the Worker finished page 0: %s", v)
	}
	if m, _ := a.store.Meta(nsync.MetaQueuedIntent(model.StatusKey(projA, pages[0].PageID))); m != "" {
		t.Fatalf("intent of a finished page kept: %q", m)
	}
}

func TestCacheIsReadOnlyAndOnDemand(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	cache := model.Canonical(model.CacheData{Data: json.RawMessage(`{"x":1}`), Created: model.FormatTime(t0), Expires: model.FormatTime(t0.Add(time.Hour)), Type: "ai"})
	key := model.CacheKey("abc123")
	w.fake.Write(w.nsIDs[model.NSCache], key, cache, json.RawMessage(`{"h":"`+model.ValueHash(cache)+`"}`))
	ctx := context.Background()
	if _, err := a.engine.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Get(model.NSCache, key); err == nil {
		t.Fatal("the cache was mirrored without being opened")
	}
	if c := w.fake.CountsFor(w.nsIDs[model.NSCache]); c[kvfake.OpList] != 0 {
		t.Fatalf("a normal pull listed the cache: %v", c)
	}
	v, found, err := a.engine.FetchCache(ctx, key)
	if err != nil || !found || !bytes.Equal(v, cache) {
		t.Fatalf("fetch cache: %s %v %v", v, found, err)
	}
	if got, err := a.store.Get(model.NSCache, key); err != nil || !bytes.Equal(got, cache) {
		t.Fatal("opened cache entry not stored locally")
	}
	before := w.fake.CountsFor(w.nsIDs[model.NSCache])[kvfake.OpBulkPut]
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if w.fake.CountsFor(w.nsIDs[model.NSCache])[kvfake.OpBulkPut] != before {
		t.Fatal("the desktop wrote to NIMBUS_CACHE")
	}
}

func TestWatchSyncsNowAndStops(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 1000, 1)
	putProject(t, a.store, projA)
	ctx, cancel := context.WithCancel(context.Background())
	now := make(chan struct{})
	runs := make(chan error, 10)
	done := make(chan error)
	go func() {
		done <- a.engine.Watch(ctx, nsync.WatchOptions{Fast: time.Hour, Slow: time.Hour, Now: now,
			After: func(_ nsync.Stats, err error) { runs <- err }})
	}()
	if err := <-runs; err != nil {
		t.Fatal(err)
	}
	putPages(t, a.store, projA, 2)
	now <- struct{}{} // "sync now"
	if err := <-runs; err != nil {
		t.Fatal(err)
	}
	if st := a.engine.State(); st.Waiting != 0 || !st.Online {
		t.Fatalf("after sync now: %+v", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}
}

// TestLostUpdateIsHealed: the Worker's read-modify-write of a batch, based
// on a stale read, drops a page the desktop added; the desktop still holds
// its intent and restores it at the next sync.
func TestLostUpdateIsHealed(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 2)
	ctx := context.Background()
	batch := "batch_20261127_120000"
	stamp := model.FormatTime(t0)
	b := model.BatchData{BatchID: batch, ProjectID: projA, Created: stamp, Status: model.BatchQueued, PageCount: 2,
		Pages: map[string]model.BatchPage{
			pages[0].PageID: {Status: model.StatusQueued, Uploaded: stamp},
			pages[1].PageID: {Status: model.StatusQueued, Uploaded: stamp},
		}}
	b.Summary = model.BatchSummaryOf(b.Pages)
	if err := a.store.Update(ctx, func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSBatches, model.BatchKey(projA, batch), b)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// The Worker writes the batch from a stale read that had only page 0,
	// which it finished.
	stale := model.BatchData{BatchID: batch, ProjectID: projA, Created: stamp, Status: model.BatchCompleted, PageCount: 1,
		Pages: map[string]model.BatchPage{pages[0].PageID: {Status: model.StatusDone, Uploaded: stamp, Completed: stamp}}}
	stale.Summary = model.BatchSummaryOf(stale.Pages)
	sv := model.Canonical(stale)
	w.fake.Write(w.nsIDs[model.NSBatches], model.BatchKey(projA, batch), sv, json.RawMessage(`{"h":"`+model.ValueHash(sv)+`"}`))
	st, err := a.engine.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := w.fake.Latest(w.nsIDs[model.NSBatches], model.BatchKey(projA, batch))
	var got model.BatchData
	if err := json.Unmarshal(v, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Pages) != 2 || got.Pages[pages[0].PageID].Status != model.StatusDone || got.Pages[pages[1].PageID].Status != model.StatusQueued {
		t.Fatalf("batch after healing: %s (stats %+v)", v, st)
	}
	local, _ := a.store.Get(model.NSBatches, model.BatchKey(projA, batch))
	if !bytes.Equal(local, v) {
		t.Fatal("local and remote batch differ after healing")
	}
}

// TestListingPastAnEmptyPage: a listing page can be empty while the cursor
// is not; the engine keeps paging (the SDK's auto-pager would stop).
func TestListingPastAnEmptyPage(t *testing.T) {
	w := newWorld(t, kvfake.Config{EmptyFirstPage: true})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	putPages(t, a.store, projA, 1500)
	ctx := context.Background()
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	b := w.desktop("b", 3, 2)
	putProject(t, b.store, projA)
	if _, err := b.engine.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.store.Count(model.NSPages, ""); n != 1500 {
		t.Fatalf("pulled %d pages past an empty first page, want 1500", n)
	}
}

// Malformed remote keys and values are refused alone: the pull goes on, the
// good values of the same pull arrive, each bad one is quarantined once,
// and later syncs neither fetch nor refuse them again. (One key
// "garbage-key" in NIMBUS_USERS used to stop every pull, and a bad page id
// rolled back its whole chunk because its log key was invalid too.)
func TestPullRefusesBadKeysAndValuesAlone(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	b := w.desktop("b", 3, 2)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 3)
	ctx := context.Background()
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	meta := func(v []byte) json.RawMessage { return json.RawMessage(`{"h":"` + model.ValueHash(v) + `"}`) }
	status := []byte(`{"status":"queued","batch_id":"batch_20261127_000000","updated":"2026-11-27T00:00:00.000Z"}`)
	bad := []struct {
		ns  model.Namespace
		key string
		val []byte
	}{
		{model.NSUsers, "garbage-key", []byte(`{}`)},
		{model.NSUsers, "user:", []byte(`{}`)},
		{model.NSStatus, model.StatusKey(projA, "page_0123456789ab") + ":extra", status},
		{model.NSPages, "page:" + projA + ":page_0123", []byte(`{"page_id":"page_0123"}`)},
		{model.NSStatus, "status:" + projA + ":page_zzzzzzzzzzzz", status},
		{model.NSPages, model.PageKey(projA, pages[1].PageID), []byte(`{not json`)},
		// written without Nimbus metadata (wrangler kv key put): a listing
		// shows no hash, so only a later read could tell it changed
		{model.NSStatus, model.StatusKey(projA, "page_00000000beef"), []byte(`{"status":"bogus"}`)},
	}
	for i, x := range bad {
		m := meta(x.val)
		if i == len(bad)-1 {
			m = nil
		}
		w.fake.Write(w.nsIDs[x.ns], x.key, x.val, m)
	}
	// b pulls everything at once: the good pages among the bad keys.
	st, err := b.engine.Pull(ctx)
	if err != nil {
		t.Fatalf("pull with bad remote keys: %v", err)
	}
	if st.Quarantined != len(bad) {
		t.Errorf("quarantined %d, want %d", st.Quarantined, len(bad))
	}
	for i, p := range pages {
		_, err := b.store.Get(model.NSPages, model.PageKey(projA, p.PageID))
		if i == 1 {
			if err == nil {
				t.Errorf("the page whose only remote copy is corrupt was stored")
			}
			continue
		}
		if err != nil {
			t.Errorf("good page %s did not arrive beside the bad keys: %v", p.PageID, err)
		}
	}
	if _, err := b.store.Get(model.NSProjects, model.ProjectKey(projA)); err != nil {
		t.Errorf("the project did not arrive: %v", err)
	}
	refused := 0
	_ = b.store.RefusedKeys(func(r localstore.RefusedKey) error { refused++; return nil })
	if refused != 3 {
		t.Errorf("%d keys remembered as refused, want 3 (no kind, empty id, extra segment)", refused)
	}
	// Five more syncs: nothing refused again, no read of the bad keys, and
	// a local change still goes out.
	before := w.fake.Counts()
	for i := 0; i < 5; i++ {
		st, err := b.engine.Sync(ctx)
		if err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if st.Quarantined != 0 {
			t.Errorf("sync %d refused %d again", i, st.Quarantined)
		}
	}
	if d := delta(before, w.fake.Counts()); d[kvfake.OpBulkGet] != 0 {
		t.Errorf("later syncs fetched values: %v", d)
	}
	putPages(t, b.store, projA, 4) // page 3 is new
	if st, err := b.engine.Sync(ctx); err != nil || st.Written == 0 {
		t.Fatalf("push beside refused keys: %+v %v", st, err)
	}
}

// A corrupt remote copy of a record the desktop holds is repaired in one
// sync: the local value is written back over it, and nothing more happens
// on the syncs after.
func TestSyncRepairsCorruptRemoteCopies(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 2)
	ctx := context.Background()
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		ns  model.Namespace
		key string
	}
	recs := []rec{{model.NSProjects, model.ProjectKey(projA)}, {model.NSPages, model.PageKey(projA, pages[0].PageID)}}
	corrupt := [][]byte{[]byte(`{not json`), []byte(`{"project_id":42}`)}
	for i, r := range recs {
		bad := corrupt[i%len(corrupt)]
		w.fake.Write(w.nsIDs[r.ns], r.key, bad, json.RawMessage(`{"h":"`+model.ValueHash(bad)+`"}`))
	}
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatalf("sync over corrupt copies: %v", err)
	}
	for _, r := range recs {
		local, _ := a.store.Get(r.ns, r.key)
		remote, _, ok := w.fake.Read(w.nsIDs[r.ns], r.key)
		if !ok || !bytes.Equal(remote, local) {
			t.Errorf("%s %s: remote %q after one sync, want the local value back", r.ns, r.key, remote)
		}
	}
	// A value that decodes but breaks a rule may be a newer version's: it is
	// refused and kept, never overwritten.
	newer := []byte(`{"page_id":"` + pages[1].PageID + `","project_id":"` + projA + `","source_path":"dist/x.html","uploaded":"2026-11-27T00:00:00.000Z","extraction":{"engine":"html-v9"},"content_hash":"not-a-hash"}`)
	pk := model.PageKey(projA, pages[1].PageID)
	w.fake.Write(w.nsIDs[model.NSPages], pk, newer, json.RawMessage(`{"h":"`+model.ValueHash(newer)+`"}`))
	if st, err := a.engine.Sync(ctx); err != nil || st.Quarantined != 1 {
		t.Fatalf("sync over a rule-breaking value: %+v %v", st, err)
	}
	if remote, _, _ := w.fake.Read(w.nsIDs[model.NSPages], pk); !bytes.Equal(remote, newer) {
		t.Errorf("a value that decodes but breaks a rule was overwritten: %s", remote)
	}
	before := w.fake.Counts()
	for i := 0; i < 3; i++ {
		st, err := a.engine.Sync(ctx)
		if err != nil || st.Written != 0 || st.Quarantined != 0 {
			t.Fatalf("sync %d after the repair: %+v %v", i, st, err)
		}
	}
	if d := delta(before, w.fake.Counts()); d[kvfake.OpBulkGet] != 0 || d[kvfake.OpBulkPut] != 0 {
		t.Errorf("syncs after the repair read or wrote: %v", d)
	}
}

// A remote value is checked against its listed metadata hash when read. A
// copy whose metadata claims our local value's hash but holds other bytes
// (before: trusted from the listing and never read, so the remote kept
// them and the sync was quiet), and a valid value written without
// metadata (before: read again on every poll), are merged as changed values
// and written back with their true metadata in one sync; a good change
// beside them arrives; five syncs after that read and write nothing.
func TestPullVerifiesValuesAgainstTheirMetadata(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	b := w.desktop("b", 3, 2)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 3)
	ctx := context.Background()
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// b holds the same pages already (the same import on another machine).
	putPages(t, b.store, projA, 3)
	// The remote copy of page 0: newer bytes under page 0's old hash.
	k0 := model.PageKey(projA, pages[0].PageID)
	local0, _ := b.store.Get(model.NSPages, k0)
	p0 := testPage(projA, 0, model.FormatTime(t0.Add(time.Hour)))
	lie := model.Canonical(p0)
	w.fake.Write(w.nsIDs[model.NSPages], k0, lie, json.RawMessage(`{"h":"`+model.ValueHash(local0)+`"}`))
	// The project, valid, written again without metadata (wrangler kv key put).
	pk := model.ProjectKey(projA)
	proj, _, _ := w.fake.Read(w.nsIDs[model.NSProjects], pk)
	w.fake.Write(w.nsIDs[model.NSProjects], pk, proj, nil)
	// A good change beside them: page 2 re-uploaded, with true metadata.
	k2 := model.PageKey(projA, pages[2].PageID)
	p2 := model.Canonical(testPage(projA, 2, model.FormatTime(t0.Add(2*time.Hour))))
	w.fake.Write(w.nsIDs[model.NSPages], k2, p2, json.RawMessage(`{"h":"`+model.ValueHash(p2)+`"}`))

	// A pull, then a push on its own (which looks at the remote again by a
	// bulk get: the bytes of the project are ours, only its metadata is not).
	st, err := b.engine.Pull(ctx)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if _, err := b.engine.Push(ctx); err != nil {
		t.Fatalf("push: %v", err)
	}
	if st.Repairs != 2 {
		t.Errorf("%d values repaired, want 2 (the page under a wrong hash, the project without metadata)", st.Repairs)
	}
	if got, _ := b.store.Get(model.NSPages, k2); !bytes.Equal(got, p2) {
		t.Errorf("the good change beside them did not arrive: %s", got)
	}
	for _, r := range []struct {
		ns  model.Namespace
		key string
	}{{model.NSPages, k0}, {model.NSProjects, pk}} {
		local, _ := b.store.Get(r.ns, r.key)
		remote, meta, ok := w.fake.Read(w.nsIDs[r.ns], r.key)
		var m nsync.Meta
		_ = json.Unmarshal(meta, &m)
		if !ok || !bytes.Equal(remote, local) || m.H != model.ValueHash(remote) {
			t.Errorf("%s %s after one sync: remote %.60q with hash %q, local %.60q: want the merged value with its own hash", r.ns, r.key, remote, m.H, local)
		}
	}
	if got, _ := b.store.Get(model.NSPages, k0); !bytes.Contains(got, []byte(model.FormatTime(t0.Add(time.Hour)))) {
		t.Errorf("the newer remote bytes of page 0 were not merged in: %s", got)
	}
	before := w.fake.Counts()
	for i := 0; i < 5; i++ {
		st, err := b.engine.Sync(ctx)
		if err != nil || st.Written != 0 || st.Repairs != 0 || st.Pulled != 0 {
			t.Fatalf("sync %d after the repair: %+v %v", i, st, err)
		}
	}
	if d := delta(before, w.fake.Counts()); d[kvfake.OpBulkGet] != 0 || d[kvfake.OpBulkPut] != 0 {
		t.Errorf("syncs after the repair read or wrote: %v", d)
	}
	// a converges too, and reads the repaired values once.
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.store.Get(model.NSPages, k0); !bytes.Equal(got, lie) && !bytes.Contains(got, []byte(model.FormatTime(t0.Add(time.Hour)))) {
		t.Errorf("desktop a did not get the repaired page 0: %s", got)
	}
}

// A stale read (the listing shows a newer write than the edge serves) is
// not a lie: the older value, consistent with its own metadata, is stored
// as what the remote held and read again; the newer remote value is never
// overwritten with it.
func TestStaleReadIsNotAMetadataLie(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 2)
	ctx := context.Background()
	if _, err := a.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	k := model.PageKey(projA, pages[1].PageID)
	old, _, _ := w.fake.Read(w.nsIDs[model.NSPages], k)
	newer := model.Canonical(testPage(projA, 1, model.FormatTime(t0.Add(2*time.Hour))))
	w.fake.Write(w.nsIDs[model.NSPages], k, newer, json.RawMessage(`{"h":"`+model.ValueHash(newer)+`"}`))
	eng := engineOn(t, w, a, &staleGet{Remote: remoteOf(t, w), key: k, old: old}, false)
	for i := 0; i < 4; i++ {
		if st, err := eng.Sync(ctx); err != nil || st.Repairs != 0 {
			t.Fatalf("sync %d: %+v %v", i, st, err)
		}
	}
	if remote, _, _ := w.fake.Read(w.nsIDs[model.NSPages], k); !bytes.Equal(remote, newer) {
		t.Fatalf("the newer remote page was overwritten by the stale one")
	}
	if local, _ := a.store.Get(model.NSPages, k); !bytes.Equal(local, newer) {
		t.Errorf("the newer page did not arrive after the stale read")
	}
}

// A cache entry without metadata (the desktop mirrors the Worker's cache
// with CacheFull) is not queued for a repair the push never sends: the
// outbox empties (it stayed at 1, and Watch ran a full sync every fast
// interval).
func TestCacheIsNeverQueuedForRepair(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	eng := engineOn(t, w, a, remoteOf(t, w), true)
	cache := model.Canonical(model.CacheData{Data: json.RawMessage(`{"x":1}`), Created: model.FormatTime(t0), Expires: model.FormatTime(t0.Add(time.Hour)), Type: "ai"})
	w.fake.Write(w.nsIDs[model.NSCache], model.CacheKey("abc123"), cache, nil)
	w.fake.Write(w.nsIDs[model.NSCache], model.CacheKey("abc124"), []byte(`{not json`), nil)
	for i := 0; i < 3; i++ {
		if _, err := eng.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := a.store.OutboxLen(); n != 0 {
		t.Fatalf("outbox holds %d entries after 3 syncs", n)
	}
}
