package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// BenchmarkKVListJSON10k measures `nimbus --json kv list NIMBUS_PAGES` over a
// 10,000-page project, the way scripts dump the mirror (store open included).
func BenchmarkKVListJSON10k(b *testing.B) {
	const n = 10000
	store := filepath.Join(b.TempDir(), "bench.db")
	st, err := localstore.Open(store)
	if err != nil {
		b.Fatal(err)
	}
	w := workspace.New(st, workspace.Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "bench.example", workspace.ProjectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ext := model.Extraction{Engine: "html", MainSelector: "main",
		Head:       map[string]string{"title": "Rolex repair in Birmingham", "metaDescription": strings.Repeat("Expert watch repair. ", 8)},
		Dimensions: map[string]string{"location": "birmingham", "brand": "rolex"},
		AboveFoldBlocks: []model.Block{
			{ID: "block-0", Type: "h1", Content: "Rolex repair in Birmingham"},
			{ID: "block-1", Type: "p", Content: strings.Repeat("Our watchmakers service every calibre. ", 10)},
		},
		RestOfPageBlocks: []model.Block{},
		SelectorMap:      map[string]string{"block-0": "main > h1", "block-1": "main > p:nth-of-type(1)"},
	}
	now := model.Now()
	for start := 0; start < n; start += 500 {
		err := st.Update(ctx, func(tx *localstore.Tx) error {
			for i := start; i < start+500; i++ {
				src := fmt.Sprintf("dist/local/page-%05d.html", i)
				id := model.PageID(p.ProjectID, src)
				pg := model.PageData{PageID: id, ProjectID: p.ProjectID, BatchID: "batch_20260101_000000",
					SourcePath: src, Uploaded: now, Extraction: ext, ContentHash: model.ContentHash(ext)}
				if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, id), pg); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if code := Run(ctx, []string{"--store", store, "--json", "kv", "list", "NIMBUS_PAGES"}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
