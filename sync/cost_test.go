package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/shared"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

const costBatch = "batch_20261127_120000"

func putStatuses(t testing.TB, st *localstore.Store, pid string, pages []model.PageData, status string) {
	t.Helper()
	for lo := 0; lo < len(pages); lo += 1000 {
		err := st.Update(context.Background(), func(tx *localstore.Tx) error {
			for _, p := range pages[lo:min(lo+1000, len(pages))] {
				s := model.StatusData{Status: status, BatchID: costBatch, Updated: model.FormatTime(t0)}
				if err := tx.PutJSON(model.NSStatus, model.StatusKey(pid, p.PageID), s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// workerFinish plays the Worker finishing pages: status done and the
// page's optimization, written through its binding (not the REST API).
func workerFinish(w *world, pid string, pages []model.PageData, at time.Time) {
	stamp := model.FormatTime(at)
	for _, p := range pages {
		s := model.StatusData{Status: model.StatusDone, BatchID: costBatch, Updated: stamp,
			Result: &model.StatusResult{Completed: stamp, Success: true, Changes: 2, Confidence: 0.9}}
		sv := model.Canonical(s)
		w.fake.Write(w.nsIDs[model.NSStatus], model.StatusKey(pid, p.PageID), sv,
			json.RawMessage(fmt.Sprintf(`{"h":%q,"u":%q,"s":"done"}`, model.ValueHash(sv), stamp)))
		p.Optimization = &model.Optimization{Completed: stamp, Model: "m", Confidence: 0.9, Changes: 2,
			OptimizedBlocks: []model.Block{{ID: "block-0", Type: "h1", Content: "Better heading"}}, SourceHash: p.ContentHash}
		pv := model.Canonical(p)
		w.fake.Write(w.nsIDs[model.NSPages], model.PageKey(pid, p.PageID), pv,
			json.RawMessage(fmt.Sprintf(`{"h":%q,"u":%q}`, model.ValueHash(pv), stamp)))
		lv := model.Canonical(model.LogData{PageID: p.PageID, Entries: []model.LogEntry{{Timestamp: stamp, Level: model.LevelInfo, Step: "optimize", Message: "done"}}})
		w.fake.Write(w.nsIDs[model.NSLogs], model.LogsKey(pid, p.PageID), lv,
			json.RawMessage(fmt.Sprintf(`{"h":%q,"u":%q}`, model.ValueHash(lv), stamp)))
	}
}

type costReport struct {
	pages                      int
	pushPuts                   map[model.Namespace]int
	rePushRequests             int
	pollLists, pollGets        map[model.Namespace]int
	pollTotal, pushTotal       int
	seedPushPuts, seedPollGets int
	maxPer5min                 int
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func runCost(t testing.TB, n, changed int, withSeed bool) costReport {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, n)
	putStatuses(t, a.store, projA, pages, model.StatusQueued)
	ctx := context.Background()
	rep := costReport{pages: n, pushPuts: map[model.Namespace]int{}, pollLists: map[model.Namespace]int{}, pollGets: map[model.Namespace]int{}}
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []model.Namespace{model.NSPages, model.NSStatus} {
		rep.pushPuts[ns] = w.fake.CountsFor(w.nsIDs[ns])[kvfake.OpBulkPut]
	}
	for _, v := range w.fake.Counts() {
		rep.pushTotal += v
	}
	// Re-import the same pages (no-op local writes) and push again.
	before := w.fake.Counts()
	putPages(t, a.store, projA, n)
	if _, err := a.engine.Push(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range delta(before, w.fake.Counts()) {
		rep.rePushRequests += v
	}
	// First pull learns the remote index; then the Worker finishes pages.
	if _, err := a.engine.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Minute)
	workerFinish(w, projA, pages[:changed], w.clk.Now())
	beforeNS := map[model.Namespace]map[string]int{}
	for _, ns := range model.Namespaces {
		beforeNS[ns] = w.fake.CountsFor(w.nsIDs[ns])
	}
	before = w.fake.Counts()
	if _, err := a.engine.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range delta(before, w.fake.Counts()) {
		rep.pollTotal += v
	}
	for _, ns := range model.Namespaces {
		d := delta(beforeNS[ns], w.fake.CountsFor(w.nsIDs[ns]))
		rep.pollLists[ns], rep.pollGets[ns] = d[kvfake.OpList], d[kvfake.OpBulkGet]
	}
	rep.maxPer5min = w.fake.MaxInWindow(5 * time.Minute)
	// The pulled results are in the mirror.
	got, err := a.store.GetStatus(projA, pages[0].PageID)
	if changed > 0 && (err != nil || got.Status != model.StatusDone) {
		t.Fatalf("pulled status of %s: %+v %v", pages[0].PageID, got, err)
	}
	if withSeed {
		rep.seedPushPuts, rep.seedPollGets = seedApproach(t, pages)
	}
	return rep
}

// seedApproach measures the seed's one-request-per-record client on the
// same data: a PUT per page and per status, then a GET per status to poll.
func seedApproach(t testing.TB, pages []model.PageData) (puts, gets int) {
	w := newWorld(t, kvfake.Config{})
	svc := kv.NewNamespaceService(option.WithAPIToken(testToken), option.WithBaseURL(w.fake.BaseURL()), option.WithMaxRetries(0))
	ctx := context.Background()
	acct := cloudflare.F(w.fake.AccountID())
	for _, p := range pages {
		s := model.Canonical(model.StatusData{Status: model.StatusQueued, BatchID: costBatch, Updated: model.FormatTime(t0)})
		for _, kvp := range []struct {
			ns  model.Namespace
			key string
			v   []byte
		}{{model.NSPages, model.PageKey(projA, p.PageID), model.Canonical(p)}, {model.NSStatus, model.StatusKey(projA, p.PageID), s}} {
			if _, err := svc.Values.Update(ctx, w.nsIDs[kvp.ns], url.PathEscape(kvp.key), kv.NamespaceValueUpdateParams{
				AccountID: acct, Value: cloudflare.F[kv.NamespaceValueUpdateParamsValueUnion](shared.UnionString(kvp.v)), Metadata: cloudflare.F[any](fmt.Sprintf(`{"h":%q}`, model.ValueHash(kvp.v))),
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range pages {
		res, err := svc.Values.Get(ctx, w.nsIDs[model.NSStatus], url.PathEscape(model.StatusKey(projA, p.PageID)), kv.NamespaceValueGetParams{AccountID: acct})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	c := w.fake.Counts()
	return c[kvfake.OpPut], c[kvfake.OpGet]
}

func checkCost(t testing.TB, rep costReport, changed int) {
	t.Helper()
	for ns, puts := range rep.pushPuts {
		if max := ceilDiv(rep.pages, 1000); puts > max {
			t.Errorf("push of %d new pages: %d bulk writes to %s, want <= %d", rep.pages, puts, ns, max)
		}
	}
	if rep.rePushRequests != 0 {
		t.Errorf("re-push of unchanged pages cost %d requests, want 0", rep.rePushRequests)
	}
	if got, want := rep.pollLists[model.NSStatus], ceilDiv(rep.pages, 1000); got != want {
		t.Errorf("poll: %d status lists, want %d", got, want)
	}
	written := map[model.Namespace]bool{model.NSStatus: true, model.NSPages: true, model.NSLogs: true}
	for ns, g := range rep.pollGets {
		want := 0
		if written[ns] {
			want = ceilDiv(changed, 100)
		}
		if g > want {
			t.Errorf("poll: %d bulk gets in %s (the Worker changed %d keys there), want <= %d", g, ns, map[bool]int{true: changed}[written[ns]], want)
		}
	}
	if rep.pollGets[model.NSStatus] == 0 && changed > 0 {
		t.Error("poll fetched no status although 37 changed")
	}
	if rep.maxPer5min > 1200 {
		t.Errorf("%d requests within 5 minutes: over the REST budget", rep.maxPer5min)
	}
}

func TestCostBounds(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 3000
	}
	rep := runCost(t, n, 37, false)
	checkCost(t, rep, 37)
	t.Logf("push %d pages: bulk writes %v; re-push: %d requests; poll with 37 done: %d requests (lists %v, bulk gets %v)",
		n, rep.pushPuts, rep.rePushRequests, rep.pollTotal, rep.pollLists[model.NSStatus], rep.pollGets)
}

// BenchmarkSyncCost prints the request counts of the engine next to the
// seed's one-request-per-record approach on the same 10,000 pages.
func BenchmarkSyncCost(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rep := runCost(b, 10000, 37, true)
		checkCost(b, rep, 37)
		push := rep.pushPuts[model.NSPages] + rep.pushPuts[model.NSStatus]
		b.ReportMetric(float64(push), "push-requests")
		b.ReportMetric(float64(rep.seedPushPuts), "seed-push-requests")
		b.ReportMetric(float64(rep.pollTotal), "poll-requests")
		b.ReportMetric(float64(rep.seedPollGets), "seed-poll-requests")
		b.ReportMetric(float64(rep.pushTotal), "push-requests-all")
		fmt.Printf("10,000 pages + statuses: push %d bulk writes, %d requests in all (seed: %d puts, %.0fx fewer); re-push unchanged %d requests; poll with 37 finished %d requests (seed: %d gets, %.0fx fewer)\n",
			push, rep.pushTotal, rep.seedPushPuts, float64(rep.seedPushPuts)/float64(max(rep.pushTotal, 1)), rep.rePushRequests,
			rep.pollTotal, rep.seedPollGets, float64(rep.seedPollGets)/float64(max(rep.pollTotal, 1)))
	}
}
