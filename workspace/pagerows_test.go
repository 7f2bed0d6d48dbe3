package workspace

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// The Pages table counts a page's proposals by model's one rule, in the page
// index as in the record: blocks of a current
// optimization whose optimized_content differs from their content. An
// unchanged block is no proposal; a stale optimization (another
// source_hash, or none for a page that has a content_hash) offers none.
func TestPageRowsCountProposalsByTheOneRule(t *testing.T) {
	ex := model.Extraction{Engine: "t", MainSelector: "main", Head: map[string]string{"title": "T"}, Dimensions: map[string]string{},
		AboveFoldBlocks:  []model.Block{{ID: "block-0", Type: "h1", Content: "Rolex repair"}, {ID: "block-1", Type: "p", Content: "Same text"}},
		RestOfPageBlocks: []model.Block{{ID: "block-2", Type: "p", Content: "No answer"}},
		SelectorMap:      map[string]string{"block-0": "main > h1", "block-1": "main > p", "block-2": "main > p:nth-of-type(2)"}}
	p := model.PageData{PageID: "page_0123456789ab", ProjectID: "proj_0123456789ab", SourcePath: "dist/a.html", Uploaded: model.Now(),
		Extraction: ex, ContentHash: model.ContentHash(ex)}
	opt := func(source string) *model.Optimization {
		return &model.Optimization{Completed: model.Now(), Model: "m", SourceHash: source, OptimizedBlocks: []model.Block{
			{ID: "block-0", Type: "h1", Content: "Rolex repair", OptimizedContent: "Expert Rolex repair"},
			{ID: "block-1", Type: "p", Content: "Same text", OptimizedContent: "Same text"},
			{ID: "block-2", Type: "p", Content: "No answer"},
		}}
	}
	for _, c := range []struct {
		name   string
		source string
		want   int
	}{
		{"current", p.ContentHash, 1},
		{"stale", "0000000000000000000000000000000000000000000000000000000000000000", 0},
		{"no source hash", "", 0},
	} {
		q := p
		q.Optimization = opt(c.source)
		if got := summarize(&q, model.ReviewData{}, nil).Proposals; got != c.want {
			t.Errorf("%s: the page index counts %d proposals, want %d", c.name, got, c.want)
		}
		if got := len(q.Proposals()); got != c.want {
			t.Errorf("%s: model counts %d proposals, want %d", c.name, got, c.want)
		}
	}
}

// The Pages rows carry the project-wide duplicate issues (same title,
// description, h1 or canonical as other pages) that Audit reports; they
// never appeared in the GUI.
func TestPageRowsCarryDuplicateIssues(t *testing.T) {
	w := openTemp(t, Options{})
	pid := newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	ctx := context.Background()
	if _, err := w.Import(ctx, site, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	audit, err := w.Audit(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{}
	for _, a := range audit {
		if strings.HasSuffix(a.Code, "_duplicate") {
			if want[a.PageID] == nil {
				want[a.PageID] = map[string]bool{}
			}
			want[a.PageID][a.Code] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("the fixture site has no duplicate issues to show")
	}
	rows, err := w.PageRows(ctx, pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, r := range rows {
		for _, is := range r.Issues {
			if strings.HasSuffix(is.Code, "_duplicate") {
				if !want[r.PageID][is.Code] {
					t.Errorf("%s: row has %s, Audit does not", r.SourcePath, is.Code)
				}
				got++
			}
		}
	}
	n := 0
	for _, codes := range want {
		n += len(codes)
	}
	if got != n {
		t.Errorf("rows carry %d duplicate issues, Audit reports %d", got, n)
	}
}
