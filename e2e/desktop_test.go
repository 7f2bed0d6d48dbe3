//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/workspace"
)

const e2ePages = 200

// desktop is one editor's side: a workspace (bbolt mirror) and a sync engine
// whose cloudflare-go remote points at the stack's REST adapter.
type desktop struct {
	ws      *workspace.Workspace
	store   *localstore.Store
	engine  *nsync.Engine
	project model.ProjectData
}

func newDesktop(t *testing.T, ctx context.Context, s *Stack, tone string) *desktop {
	t.Helper()
	st, err := localstore.Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	ws := workspace.New(st, workspace.Options{})
	t.Cleanup(func() { ws.Close() })
	proj, err := ws.CreateProject(ctx, "e2e.example.com", workspace.ProjectOptions{Tone: tone, AIModel: "gpt-fake"})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := nsync.NewCloudflare(nsync.CloudflareConfig{
		AccountID: s.Env["CLOUDFLARE_ACCOUNT_ID"],
		Token:     s.Env["CLOUDFLARE_API_TOKEN"],
		BaseURL:   s.Env["NIMBUS_CF_API_BASE"],
	})
	if err != nil {
		t.Fatal(err)
	}
	// setup: find the eleven namespaces by title
	list, err := remote.ListNamespaces(ctx)
	if err != nil {
		t.Fatalf("list namespaces through the adapter: %v", err)
	}
	ids := map[model.Namespace]string{}
	for _, n := range list {
		if model.Namespace(n.Title).Valid() {
			ids[model.Namespace(n.Title)] = n.ID
			if err := st.SetMeta(nsync.MetaNamespacePrefix+n.Title, n.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(ids) != len(model.Namespaces) {
		t.Fatalf("found %d of the eleven namespaces: %v", len(ids), ids)
	}
	eng, err := nsync.NewEngine(nsync.EngineConfig{
		Store:        st,
		Remote:       remote,
		Pacer:        nsync.NewPacer(nsync.PacerConfig{Rate: 100}), // loopback: no account budget to honour
		NamespaceIDs: ids,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &desktop{ws: ws, store: st, engine: eng, project: proj}
}

// importAndSubmit extracts the first n pages of the fixture site into the
// mirror and submits them as one batch (page, batch, status and queue
// records as DESIGN.md section 4 has the desktop write them).
func (d *desktop) importAndSubmit(t *testing.T, ctx context.Context, n int) (string, []model.PageData) {
	t.Helper()
	root := filepath.Join(repoRoot(t), "testdata", "site", "dist")
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "local"), func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".html") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < n {
		t.Fatalf("fixture site has %d pages under %s, want %d", len(files), root, n)
	}
	files = files[:n]
	now := time.Now().UTC()
	stamp := model.FormatTime(now)
	batchID := model.BatchID(now)
	pid := d.project.ProjectID
	batch := model.BatchData{BatchID: batchID, ProjectID: pid, Created: stamp, PageCount: n, Status: model.BatchQueued, Pages: map[string]model.BatchPage{}}
	queue := model.QueueData{}
	var pages []model.PageData
	err = d.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, f := range files {
			sp, err := model.SourcePath(root, f)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			ext, err := extract.Page(src, extract.OptionsFromSettings(d.project.Settings, sp))
			if err != nil {
				return err
			}
			p := model.PageData{
				PageID: model.PageID(pid, sp), ProjectID: pid, BatchID: batchID, SourcePath: sp,
				Uploaded: stamp, Extraction: ext, ContentHash: model.ContentHash(ext),
			}
			pages = append(pages, p)
			if err := tx.PutJSON(model.NSPages, model.PageKey(pid, p.PageID), p); err != nil {
				return err
			}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(pid, p.PageID), model.StatusData{Status: model.StatusQueued, BatchID: batchID, Updated: stamp}); err != nil {
				return err
			}
			batch.Pages[p.PageID] = model.BatchPage{Status: model.StatusQueued, Uploaded: stamp}
			queue.Items = append(queue.Items, model.QueueItem{PageID: p.PageID, BatchID: batchID, Priority: 5, QueuedAt: stamp})
		}
		batch.Summary = model.BatchSummaryOf(batch.Pages)
		if err := tx.PutJSON(model.NSBatches, model.BatchKey(pid, batchID), batch); err != nil {
			return err
		}
		return tx.PutJSON(model.NSQueue, model.QueueKey(pid), model.MergeQueueData(queue, queue))
	})
	if err != nil {
		t.Fatalf("import and submit: %v", err)
	}
	return batchID, pages
}

type processReport struct {
	Projects []struct {
		Done, Failed, Retried, Remaining int
		Errors                           []string
	} `json:"projects"`
}

// drain triggers the processor (the cron) until the project's queue is empty.
func drain(t *testing.T, ctx context.Context, s *Stack, pid string) (runs, retried int) {
	t.Helper()
	for runs = 1; runs <= 40; runs++ {
		out, err := s.Process(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		var rep processReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Projects) != 1 {
			t.Fatalf("process report %.300s: %v", out, err)
		}
		p := rep.Projects[0]
		if len(p.Errors) > 0 {
			t.Fatalf("processor errors: %v", p.Errors)
		}
		retried += p.Retried
		if p.Remaining == 0 {
			return runs, retried
		}
	}
	t.Fatalf("queue of %s not drained after 40 runs", pid)
	return
}

// TestDesktopWorkerRoundTrip: import 200 fixture pages, submit, push with
// the real cloudflare-go client through the adapter, let the Worker process
// them (with a healthy AI, then with the AI failing half its calls), pull,
// and check the mirror: every page terminal, optimizations of the current
// content, batch completed, and a second sync changing nothing (the Worker's
// bytes are the desktop's canonical bytes, so nothing bounces back).
func TestDesktopWorkerRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := StartStack(t, "--max-pages-per-run", "50")
	for _, tc := range []struct {
		name     string
		failRate float64
		tone     string // another tone is another cache entry: the second run must call the AI again
	}{{"healthy AI", 0, "premium"}, {"AI failing half its calls", 0.5, "casual"}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetAIFailRate(ctx, tc.failRate); err != nil {
				t.Fatal(err)
			}
			d := newDesktop(t, ctx, s, tc.tone)
			pid := d.project.ProjectID
			batchID, pages := d.importAndSubmit(t, ctx, e2ePages)
			st, err := d.engine.Push(ctx)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if n, _ := d.store.OutboxLen(); n != 0 {
				t.Fatalf("outbox holds %d entries after push (stats %+v)", n, st)
			}
			t.Logf("push: %+v", st)

			runs, retried := drain(t, ctx, s, pid)
			pull, err := d.engine.Pull(ctx)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			t.Logf("processed in %d runs (%d retries); pull: %+v", runs, retried, pull)

			done, failed := 0, 0
			for _, p := range pages {
				stv, err := localstore.GetJSON[model.StatusData](d.store, model.NSStatus, model.StatusKey(pid, p.PageID))
				if err != nil {
					t.Fatalf("status of %s: %v", p.PageID, err)
				}
				pg, err := localstore.GetJSON[model.PageData](d.store, model.NSPages, model.PageKey(pid, p.PageID))
				if err != nil {
					t.Fatal(err)
				}
				switch stv.Status {
				case model.StatusDone:
					done++
					if pg.Optimization == nil || pg.Optimization.SourceHash != p.ContentHash {
						t.Fatalf("%s done but its optimization is %+v", p.PageID, pg.Optimization)
					}
				case model.StatusFailed:
					failed++
					if stv.Error == nil || !strings.HasPrefix(stv.Error.Code, "AI_") {
						t.Fatalf("%s failed without an AI_* code: %+v", p.PageID, stv.Error)
					}
				default:
					t.Fatalf("%s is %q after the queue drained", p.PageID, stv.Status)
				}
				if pg.ContentHash != p.ContentHash || pg.Uploaded != p.Uploaded {
					t.Fatalf("%s: the extraction group changed", p.PageID)
				}
			}
			b, err := localstore.GetJSON[model.BatchData](d.store, model.NSBatches, model.BatchKey(pid, batchID))
			if err != nil {
				t.Fatal(err)
			}
			if b.Status != model.BatchCompleted || b.Summary.Completed != done || b.Summary.Failed != failed || b.Summary.Pending != 0 {
				t.Fatalf("batch %s: status %s, summary %+v; pages done %d failed %d", batchID, b.Status, b.Summary, done, failed)
			}
			if tc.failRate == 0 && failed != 0 {
				t.Fatalf("%d pages failed with a healthy AI", failed)
			}
			if tc.failRate > 0 && (retried == 0 || failed == 0 || failed > e2ePages/4) {
				t.Fatalf("with half the AI calls failing: %d retries, %d failed (expected some, about 1/8)", retried, failed)
			}
			t.Logf("%s: %d done, %d failed, average %d ms", tc.name, done, failed, b.Summary.AverageTimeMs)

			// A second sync finds nothing to write: what was pulled is clean.
			again, err := d.engine.Sync(ctx)
			if err != nil {
				t.Fatalf("second sync: %v", err)
			}
			if again.Written != 0 {
				t.Fatalf("second sync wrote %d keys: %+v", again.Written, again)
			}
			if n, _ := d.store.OutboxLen(); n != 0 {
				t.Fatalf("outbox holds %d entries after pull and sync", n)
			}
		})
	}
}
