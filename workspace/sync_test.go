package workspace

import (
	"context"
	"fmt"
	"testing"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

// racingRemote creates the namespace itself just before the first create:
// another desktop's setup won the race.
type racingRemote struct {
	nsync.Remote
	fake *kvfake.Fake
	done bool
}

func (r *racingRemote) CreateNamespace(ctx context.Context, title string) (nsync.NamespaceInfo, error) {
	if !r.done {
		r.done = true
		r.fake.CreateNamespace(title)
	}
	return r.Remote.CreateNamespace(ctx, title)
}

func syncRemote(t *testing.T, f *kvfake.Fake) nsync.Remote {
	t.Helper()
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: f.AccountID(), Token: "tok", BaseURL: f.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSetupFindsCreatesAndSurvivesARace(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: "tok"})
	defer f.Close()
	existing := f.CreateNamespace("TEST_PAGES")
	f.CreateNamespace("NIMBUS_PAGES") // another prefix's namespace: not ours
	w := openTemp(t, Options{})
	ctx := context.Background()
	res, err := w.Setup(ctx, SetupOptions{Prefix: "TEST_", SyncOptions: SyncOptions{Remote: &racingRemote{Remote: syncRemote(t, f), fake: f}, Rate: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 1 || len(res.Created) != 10 || res.Namespaces[string(model.NSPages)] != existing {
		t.Fatalf("setup: %+v", res)
	}
	ids, err := nsync.NamespaceIDs(w.store)
	if err != nil || len(ids) != 11 {
		t.Fatalf("namespace IDs in settings: %v %v", ids, err)
	}
	for ns, id := range ids {
		want := "TEST_" + string(ns)[len("NIMBUS_"):]
		if f.NamespaceID(want) != id {
			t.Errorf("%s -> %s, want the ID of %s", ns, id, want)
		}
	}
	// Setup again finds all eleven (the prefix is remembered).
	res, err = w.Setup(ctx, SetupOptions{SyncOptions: SyncOptions{Remote: syncRemote(t, f), Rate: 1000}})
	if err != nil || len(res.Found) != 11 || res.Prefix != "TEST_" {
		t.Fatalf("second setup: %+v %v", res, err)
	}
}

func TestSubmitExistingBatchAndRules(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "example.com", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stamp := model.Now()
	batch := "batch_20261127_100000"
	var ids []string
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		b := model.BatchData{BatchID: batch, ProjectID: p.ProjectID, Created: stamp, Status: model.BatchUploading, Pages: map[string]model.BatchPage{}}
		for i := 0; i < 3; i++ {
			src := fmt.Sprintf("dist/%d.html", i)
			ex := model.Extraction{Engine: "t", MainSelector: "main", Head: map[string]string{}, Dimensions: map[string]string{},
				AboveFoldBlocks: []model.Block{}, RestOfPageBlocks: []model.Block{}, SelectorMap: map[string]string{}}
			pg := model.PageData{PageID: model.PageID(p.ProjectID, src), ProjectID: p.ProjectID, BatchID: batch, SourcePath: src, Uploaded: stamp, Extraction: ex}
			ids = append(ids, pg.PageID)
			if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, pg.PageID), pg); err != nil {
				return err
			}
			b.Pages[pg.PageID] = model.BatchPage{Status: model.StatusUploaded, Uploaded: stamp}
		}
		b.PageCount = 3
		b.Summary = model.BatchSummaryOf(b.Pages)
		return tx.PutJSON(model.NSBatches, model.BatchKey(p.ProjectID, batch), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Submit(ctx, SubmitOptions{BatchID: batch, Priority: 11}); err == nil {
		t.Fatal("priority 11 accepted")
	}
	res, err := w.Submit(ctx, SubmitOptions{BatchID: batch, Priority: 9})
	if err != nil || res.Pages != 3 || len(res.Batches) != 1 || res.Batches[0] != batch {
		t.Fatalf("submit: %+v %v", res, err)
	}
	b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(p.ProjectID, batch))
	if b.Status != model.BatchQueued || b.Pages[ids[0]].Status != model.StatusQueued || b.Summary.Pending != 3 {
		t.Fatalf("batch after submit: %+v", b)
	}
	q := get[model.QueueData](t, w, model.NSQueue, model.QueueKey(p.ProjectID))
	if len(q.Items) != 3 || q.Items[0].Priority != 9 || q.Items[0].Attempts != 0 || q.Items[0].BatchID != batch {
		t.Fatalf("queue: %+v", q)
	}
	st := get[model.StatusData](t, w, model.NSStatus, model.StatusKey(p.ProjectID, ids[1]))
	if st.Status != model.StatusQueued || st.BatchID != batch {
		t.Fatalf("status: %+v", st)
	}
	// Submitting again queues nothing new and nothing twice.
	res, err = w.Submit(ctx, SubmitOptions{BatchID: batch})
	if err != nil || res.Pages != 0 {
		t.Fatalf("second submit: %+v %v", res, err)
	}
	if q := get[model.QueueData](t, w, model.NSQueue, model.QueueKey(p.ProjectID)); len(q.Items) != 3 {
		t.Fatalf("queue after a second submit: %d items", len(q.Items))
	}
	// Nothing left unsubmitted.
	if _, err := w.Submit(ctx, SubmitOptions{}); err == nil {
		t.Fatal("a submission with no waiting pages succeeded")
	}
	sum, err := w.Status(context.Background(), "", batch)
	if err != nil || sum.Counts[model.StatusQueued] != 3 || sum.Pages != 3 || !sum.Busy() {
		t.Fatalf("status: %+v %v", sum, err)
	}
}

// TestSubmitTakesTheImportsUploadBatches: without --batch, the upload
// batches an import made (status uploading) are submitted as they are.
func TestSubmitTakesTheImportsUploadBatches(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "example.com", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stamp := model.Now()
	batches := []string{"batch_20261127_100000", "batch_20261127_100001"}
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		for bi, batch := range batches {
			b := model.BatchData{BatchID: batch, ProjectID: p.ProjectID, Created: stamp, Status: model.BatchUploading, Pages: map[string]model.BatchPage{}}
			for i := 0; i < 2; i++ {
				src := fmt.Sprintf("dist/%d-%d.html", bi, i)
				ex := model.Extraction{Engine: "t", MainSelector: "main", Head: map[string]string{}, Dimensions: map[string]string{},
					AboveFoldBlocks: []model.Block{}, RestOfPageBlocks: []model.Block{}, SelectorMap: map[string]string{}}
				pg := model.PageData{PageID: model.PageID(p.ProjectID, src), ProjectID: p.ProjectID, BatchID: batch, SourcePath: src, Uploaded: stamp, Extraction: ex}
				if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, pg.PageID), pg); err != nil {
					return err
				}
				if err := tx.PutJSON(model.NSStatus, model.StatusKey(p.ProjectID, pg.PageID), model.StatusData{Status: model.StatusUploaded, BatchID: batch, Updated: stamp}); err != nil {
					return err
				}
				b.Pages[pg.PageID] = model.BatchPage{Status: model.StatusUploaded, Uploaded: stamp}
			}
			b.PageCount = 2
			b.Summary = model.BatchSummaryOf(b.Pages)
			if err := tx.PutJSON(model.NSBatches, model.BatchKey(p.ProjectID, batch), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Submit(ctx, SubmitOptions{})
	if err != nil || res.Pages != 4 || fmt.Sprint(res.Batches) != fmt.Sprint(batches) {
		t.Fatalf("submit: %+v %v", res, err)
	}
	for _, b := range batches {
		if got := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(p.ProjectID, b)); got.Status != model.BatchQueued {
			t.Fatalf("batch %s: %s", b, got.Status)
		}
	}
	if q := get[model.QueueData](t, w, model.NSQueue, model.QueueKey(p.ProjectID)); len(q.Items) != 4 {
		t.Fatalf("queue: %d items", len(q.Items))
	}
	if _, err := w.Submit(ctx, SubmitOptions{}); err == nil {
		t.Fatal("a second submit found pages waiting")
	}
}

// TestSubmitSelectedPagesOfAnUploadBatch: submitting some pages of an
// import's upload batch queues them in that batch; the rest stay uploaded
// (and the batch uploading) until submitted too.
func TestSubmitSelectedPagesOfAnUploadBatch(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "example.com", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stamp := model.Now()
	batch := "batch_20261127_100000"
	var ids []string
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		b := model.BatchData{BatchID: batch, ProjectID: p.ProjectID, Created: stamp, Status: model.BatchUploading, Pages: map[string]model.BatchPage{}}
		for i := 0; i < 3; i++ {
			src := fmt.Sprintf("dist/%d.html", i)
			ex := model.Extraction{Engine: "t", MainSelector: "main", Head: map[string]string{}, Dimensions: map[string]string{},
				AboveFoldBlocks: []model.Block{}, RestOfPageBlocks: []model.Block{}, SelectorMap: map[string]string{}}
			pg := model.PageData{PageID: model.PageID(p.ProjectID, src), ProjectID: p.ProjectID, BatchID: batch, SourcePath: src, Uploaded: stamp, Extraction: ex}
			ids = append(ids, pg.PageID)
			if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, pg.PageID), pg); err != nil {
				return err
			}
			if err := tx.PutJSON(model.NSStatus, model.StatusKey(p.ProjectID, pg.PageID), model.StatusData{Status: model.StatusUploaded, BatchID: batch, Updated: stamp}); err != nil {
				return err
			}
			b.Pages[pg.PageID] = model.BatchPage{Status: model.StatusUploaded, Uploaded: stamp}
		}
		b.PageCount = 3
		b.Summary = model.BatchSummaryOf(b.Pages)
		return tx.PutJSON(model.NSBatches, model.BatchKey(p.ProjectID, batch), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Submit(ctx, SubmitOptions{PageIDs: ids[:1]})
	if err != nil || res.Pages != 1 || len(res.Batches) != 1 || res.Batches[0] != batch {
		t.Fatalf("submit one page: %+v %v", res, err)
	}
	if b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(p.ProjectID, batch)); b.Status != model.BatchUploading || b.Pages[ids[1]].Status != model.StatusUploaded {
		t.Fatalf("batch after a partial submit: %+v", b)
	}
	res, err = w.Submit(ctx, SubmitOptions{})
	if err != nil || res.Pages != 2 || res.Batches[0] != batch {
		t.Fatalf("submit the rest: %+v %v", res, err)
	}
	if b := get[model.BatchData](t, w, model.NSBatches, model.BatchKey(p.ProjectID, batch)); b.Status != model.BatchQueued {
		t.Fatalf("batch after submitting everything: %s", b.Status)
	}
	if q := get[model.QueueData](t, w, model.NSQueue, model.QueueKey(p.ProjectID)); len(q.Items) != 3 {
		t.Fatalf("queue: %d items", len(q.Items))
	}
}
