package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// reviewStore writes a project with three optimized pages (two rolex, one
// omega) and returns the store path and project ID.
func reviewStore(t *testing.T) (string, string) {
	t.Helper()
	path := tempStore(t)
	st, err := localstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w := workspace.New(st, workspace.Options{})
	defer w.Close()
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "cli-review.example", workspace.ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pages := []struct{ path, brand, h1, opt, para, paraOpt string }{
		{"dist/a/rolex-repair.html", "rolex", "Rolex repair", "Expert Rolex repair", "From £199.", "From £149."},
		{"dist/b/rolex-repair.html", "rolex", "Rolex repair in Leeds", "Rolex watch repair in Leeds", "Two year warranty.", "Two year warranty included."},
		{"dist/a/omega-repair.html", "omega", "Omega repair", "Omega watch repair", "Fast.", "Fast and insured."},
	}
	err = st.Update(ctx, func(tx *localstore.Tx) error {
		for _, pg := range pages {
			id := model.PageID(p.ProjectID, pg.path)
			ex := model.Extraction{Engine: "html", MainSelector: "main", Head: map[string]string{"title": pg.h1},
				Dimensions:       map[string]string{"brand": pg.brand},
				AboveFoldBlocks:  []model.Block{{ID: "block-0", Type: "h1", Content: pg.h1}},
				RestOfPageBlocks: []model.Block{{ID: "block-1", Type: "p", Content: pg.para}},
				SelectorMap:      map[string]string{"block-0": "main > h1", "block-1": "main > p"}}
			hash := model.ContentHash(ex)
			pd := model.PageData{PageID: id, ProjectID: p.ProjectID, SourcePath: pg.path, Uploaded: model.Now(), Extraction: ex, ContentHash: hash,
				Optimization: &model.Optimization{Completed: model.Now(), Model: "gpt-4", SourceHash: hash, OptimizedBlocks: []model.Block{
					{ID: "block-0", Type: "h1", Content: pg.h1, OptimizedContent: pg.opt},
					{ID: "block-1", Type: "p", Content: pg.para, OptimizedContent: pg.paraOpt},
				}}}
			if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, id), pd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, p.ProjectID
}

func TestReviewAcceptByDimension(t *testing.T) {
	store, proj := reviewStore(t)
	out := ok(t, "--store", store, "review", "list", "--dimension", "brand=rolex")
	if !strings.Contains(out, "4 blocks, 3 acceptable") || strings.Contains(out, "omega") {
		t.Fatalf("review list --dimension brand=rolex:\n%s", out)
	}
	if !strings.Contains(out, "QA error price_changed") {
		t.Fatalf("list does not show the price QA error:\n%s", out)
	}
	out = ok(t, "--store", store, "review", "accept", "--dimension", "brand=rolex")
	if !strings.Contains(out, "accepted 3 blocks; 1 skipped: qa_price_changed 1") {
		t.Fatalf("review accept: %s", out)
	}
	accepted := decode[[]workspace.ReviewBlock](t, ok(t, "--store", store, "--json", "review", "list", "--state", "accepted"))
	if len(accepted) != 3 {
		t.Fatalf("%d accepted blocks, want 3", len(accepted))
	}
	for _, b := range accepted {
		if b.Dimensions["brand"] != "rolex" || b.Text == "" {
			t.Errorf("accepted %+v", b)
		}
	}
	// The omega page is untouched.
	omega := model.PageID(proj, "dist/a/omega-repair.html")
	left := decode[[]workspace.ReviewBlock](t, ok(t, "--store", store, "--json", "review", "list", "--page", omega))
	for _, b := range left {
		if b.State != model.ReviewSuggested {
			t.Errorf("omega %s is %s", b.BlockID, b.State)
		}
	}

	// One block: edit the price back, then accept it; reject and undo another.
	rolexA := model.PageID(proj, "dist/a/rolex-repair.html")
	ok(t, "--store", store, "review", "edit", "--page", rolexA, "--block", "block-1", "--text", "From £199, fully insured.")
	out = ok(t, "--store", store, "review", "accept", "--page", rolexA, "--block", "block-1")
	if !strings.Contains(out, "accepted: From £199, fully insured.") {
		t.Fatalf("accept one: %s", out)
	}
	ok(t, "--store", store, "review", "reject", "--page", omega, "--block", "block-0")
	ok(t, "--store", store, "review", "undo", "--page", omega, "--block", "block-0")
	b := decode[[]workspace.ReviewBlock](t, ok(t, "--store", store, "--json", "review", "list", "--page", omega, "--type", "h1"))
	if len(b) != 1 || b[0].State != model.ReviewSuggested {
		t.Fatalf("after reject+undo: %+v", b)
	}
}

func TestReviewUsageErrors(t *testing.T) {
	store, _ := reviewStore(t)
	for _, args := range [][]string{
		{"review", "edit", "--page", "page_x"},
		{"review", "accept", "--block", "block-0"},
		{"review", "list", "--state", "done"},
		{"review", "list", "--fold", "middle"},
		{"review", "list", "--dimension", "rolex"},
	} {
		_, errOut, code := nimbus(t, append([]string{"--store", store}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
	_, errOut, code := nimbus(t, "--store", store, "review", "accept", "--page", "page_000000000000", "--block", "block-0")
	if code != 1 || !strings.Contains(errOut, "no such block") {
		t.Errorf("accept on a missing page: exit %d %q", code, errOut)
	}
}
