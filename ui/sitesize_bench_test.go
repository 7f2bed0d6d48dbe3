package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/ui/internal/fixture"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// BenchmarkSiteSize (issue 14, done-when 2) prints, for a 100-page and a
// 100,000-page store side by side in one run, what the views cost: building
// the Pages rows (the workspace's rows from the page index, then the
// view's), one dimension filter and one text search (in Pages, over the
// rows in memory, and in Review, through the workspace), and counting the
// review states (the index's aggregate). Both stores have the same 50
// optimized pages, as a site with one batch done. The 100,000-page store
// takes about 30 s to write: `make bench-size` runs it, `make test` does
// not. NIMBUS_BENCH_PAGES overrides the large size.
func BenchmarkSiteSize(b *testing.B) {
	large := 100000
	if s := os.Getenv("NIMBUS_BENCH_PAGES"); s != "" {
		fmt.Sscan(s, &large)
	}
	type store struct {
		pages int
		ws    *workspace.Workspace
		proj  string
	}
	ctx := context.Background()
	var stores []store
	for _, n := range []int{100, large} {
		st, ws, err := fixture.Open(filepath.Join(b.TempDir(), "n.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		proj, err := fixture.Write(ctx, st, ws, fixtureSite, "bench", fixture.Options{Pages: n, Optimized: 50})
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, store{n, ws, proj})
	}
	type op struct {
		name string
		run  func(s store) (int, error)
	}
	ops := []op{
		{"Pages rows (workspace + view)", func(s store) (int, error) {
			rows, err := s.ws.PageRows(ctx, s.proj, 0)
			return len(rowsOf(rows)), err
		}},
		{"Pages rows, first screen", func(s store) (int, error) {
			rows, err := s.ws.PageRows(ctx, s.proj, firstScreenRows)
			return len(rows), err
		}},
		{"Review: counts of states", func(s store) (int, error) {
			c, err := s.ws.Counts(ctx, s.proj)
			return c.ReviewStates[model.ReviewSuggested], err
		}},
		{"Review: brand=rolex, with a proposal", func(s store) (int, error) {
			bl, err := s.ws.ReviewBlocks(ctx, s.proj, workspace.ReviewFilter{Dimensions: map[string]string{"brand": "rolex"},
				States: []string{model.ReviewSuggested, model.ReviewEdited, model.ReviewAccepted, model.ReviewRejected, model.ReviewStale}})
			return len(bl), err
		}},
		{"Review: text 'servicing', with a proposal", func(s store) (int, error) {
			bl, err := s.ws.ReviewBlocks(ctx, s.proj, workspace.ReviewFilter{Text: "servicing",
				States: []string{model.ReviewSuggested, model.ReviewEdited, model.ReviewAccepted, model.ReviewRejected, model.ReviewStale}})
			return len(bl), err
		}},
	}
	// The Pages view filters its rows in memory (at every keystroke).
	rowsOfStore := map[int][]*pageRow{}
	cols := map[int]*dimColumns{}
	for _, s := range stores {
		prs, err := s.ws.PageRows(ctx, s.proj, 0)
		if err != nil {
			b.Fatal(err)
		}
		rowsOfStore[s.pages] = rowsOf(prs)
		cols[s.pages] = &dimColumns{}
	}
	for _, f := range []struct {
		name string
		f    pageFilter
	}{
		{"Pages: brand=rolex", pageFilter{dims: [][2]string{{"brand", "rolex"}}}},
		{"Pages: search 'leeds'", pageFilter{query: "leeds"}},
	} {
		ops = append(ops, op{f.name, func(s store) (int, error) {
			// as applyFilter does: dimensions on the columns (built once
			// for the rows, as the view keeps them), the rest per row
			rows := rowsOfStore[s.pages]
			dims := cols[s.pages].checks(rows, 1, f.f.dims)
			rest := f.f
			rest.dims = nil
			n := 0
		next:
			for i, r := range rows {
				for _, d := range dims {
					if d.col[i] != d.id {
						continue next
					}
				}
				if rest.match(r) {
					n++
				}
			}
			return n, nil
		}})
	}
	// median of several runs of each op on each store, interleaved so that
	// the machine's load falls on both alike
	const runs = 7
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-44s %12s %12s %8s   results\n", "", fmt.Sprintf("%d pages", stores[0].pages), fmt.Sprintf("%d pages", stores[1].pages), "ratio")
	for b.Loop() {
		report.Reset()
		fmt.Fprintf(&report, "\n%-44s %12s %12s %8s   results\n", "", fmt.Sprintf("%d pages", stores[0].pages), fmt.Sprintf("%d pages", stores[1].pages), "ratio")
		for _, o := range ops {
			times := [2][]time.Duration{}
			results := [2]int{}
			for i := 0; i < runs; i++ {
				for k, s := range stores {
					t0 := time.Now()
					n, err := o.run(s)
					times[k] = append(times[k], time.Since(t0))
					if err != nil {
						b.Fatalf("%s on %d pages: %v", o.name, s.pages, err)
					}
					results[k] = n
				}
			}
			med := func(d []time.Duration) time.Duration {
				sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
				return d[len(d)/2]
			}
			small, big := med(times[0]), med(times[1])
			fmt.Fprintf(&report, "%-44s %12s %12s %7.1fx   %d / %d\n", o.name, small.Round(time.Microsecond), big.Round(time.Microsecond),
				float64(big)/float64(max(small, time.Microsecond)), results[0], results[1])
		}
	}
	b.Log(report.String())
}
