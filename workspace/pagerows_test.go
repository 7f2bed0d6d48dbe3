package workspace

import (
	"encoding/json"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// The Pages table counts a page's proposals by model's one rule, from the
// full record and from the partly decoded one alike: blocks of a current
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
		if got := rowFromPage(q).Proposals; got != c.want {
			t.Errorf("%s: rowFromPage counts %d proposals, want %d", c.name, got, c.want)
		}
		var s pageSummary
		if err := json.Unmarshal(model.Canonical(q), &s); err != nil {
			t.Fatal(err)
		}
		if got := rowFromSummary(&s).Proposals; got != c.want {
			t.Errorf("%s: rowFromSummary counts %d proposals, want %d", c.name, got, c.want)
		}
		if got := len(q.Proposals()); got != c.want {
			t.Errorf("%s: model counts %d proposals, want %d", c.name, got, c.want)
		}
	}
}
