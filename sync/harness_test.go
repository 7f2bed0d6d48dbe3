package sync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

// world is one fake account on a virtual clock.
type world struct {
	t     testing.TB
	clk   *nsync.VirtualClock
	fake  *kvfake.Fake
	nsIDs map[model.Namespace]string
	// reqTimeout bounds one request (fault tests lower it: the fake's
	// timeout fault holds a request until the client gives up).
	reqTimeout time.Duration
	chunkKeys  int
}

func newWorld(t testing.TB, cfg kvfake.Config) *world {
	t.Helper()
	clk := nsync.NewVirtualClock(t0)
	cfg.Now = clk.Now
	cfg.Token = testToken
	f := kvfake.New(cfg)
	t.Cleanup(f.Close)
	ids := map[model.Namespace]string{}
	for _, ns := range model.Namespaces {
		ids[ns] = f.CreateNamespace(string(ns))
	}
	return &world{t: t, clk: clk, fake: f, nsIDs: ids, reqTimeout: 30 * time.Second}
}

// desktop is one store plus its engine.
type desktop struct {
	store  *localstore.Store
	engine *nsync.Engine
	path   string
}

func (w *world) desktop(name string, rate float64, seed uint64) *desktop {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), name+".db")
	st, err := localstore.Open(path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { st.Close() })
	return w.attach(st, path, rate, seed)
}

func (w *world) attach(st *localstore.Store, path string, rate float64, seed uint64) *desktop {
	w.t.Helper()
	for ns, id := range w.nsIDs {
		if err := st.SetMeta(nsync.MetaNamespacePrefix+string(ns), id); err != nil {
			w.t.Fatal(err)
		}
	}
	remote, err := nsync.NewCloudflare(nsync.CloudflareConfig{
		AccountID: w.fake.AccountID(), Token: testToken, BaseURL: w.fake.BaseURL(),
		RequestTimeout: w.reqTimeout,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ids, err := nsync.NamespaceIDs(st)
	if err != nil {
		w.t.Fatal(err)
	}
	pacer := nsync.NewPacer(nsync.PacerConfig{Rate: rate, Clock: w.clk, Seed: seed, MaxAttempts: 6})
	eng, err := nsync.NewEngine(nsync.EngineConfig{Store: st, Remote: remote, Pacer: pacer, NamespaceIDs: ids, ChunkKeys: w.chunkKeys})
	if err != nil {
		w.t.Fatal(err)
	}
	return &desktop{store: st, engine: eng, path: path}
}

const projA = "proj_0123456789ab"

func testPage(pid string, i int, uploaded string) model.PageData {
	src := fmt.Sprintf("dist/local/page-%05d.html", i)
	ex := model.Extraction{
		Engine: "nimbus-go/1", MainSelector: "main",
		Head:       map[string]string{"title": fmt.Sprintf("Page %d", i)},
		Dimensions: map[string]string{"location": fmt.Sprintf("loc%d", i%50)},
		AboveFoldBlocks: []model.Block{
			{ID: "block-0", Type: "h1", Content: fmt.Sprintf("Rolex repair in town %d", i)},
			{ID: "block-1", Type: "p", Content: "We repair watches of every brand, fast and with a warranty."},
		},
		RestOfPageBlocks: []model.Block{},
		SelectorMap:      map[string]string{"block-0": "main > h1", "block-1": "main > p"},
	}
	return model.PageData{
		PageID: model.PageID(pid, src), ProjectID: pid, SourcePath: src, Uploaded: uploaded,
		Extraction: ex, ContentHash: model.ContentHash(ex),
	}
}

func putPages(t testing.TB, st *localstore.Store, pid string, n int) []model.PageData {
	t.Helper()
	pages := make([]model.PageData, n)
	stamp := model.FormatTime(t0)
	for lo := 0; lo < n; lo += 1000 {
		err := st.Update(context.Background(), func(tx *localstore.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				pages[i] = testPage(pid, i, stamp)
				if err := tx.PutJSON(model.NSPages, model.PageKey(pid, pages[i].PageID), pages[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return pages
}

func putProject(t testing.TB, st *localstore.Store, pid string) {
	t.Helper()
	p := model.ProjectData{ProjectID: pid, UserID: "user_0123456789ab", Name: "Test", Created: model.FormatTime(t0),
		Settings: model.ProjectSettings{Tone: "professional", MaxPagesPerBatch: 500, DefaultConcurrency: 2, AIModel: "m", Domain: "example.com"},
		Usage:    model.ProjectUsage{LastActivity: model.FormatTime(t0)}}
	if err := st.Update(context.Background(), func(tx *localstore.Tx) error {
		return tx.PutJSON(model.NSProjects, model.ProjectKey(pid), p)
	}); err != nil {
		t.Fatal(err)
	}
}

func delta(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// simRuns is how many seeded convergence runs to do (NIMBUS_SIM_RUNS).
var simRuns = 200
