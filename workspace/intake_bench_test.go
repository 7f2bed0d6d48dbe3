package workspace

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/internal/corpus"
	"github.com/nimbus-desktop/nimbus/model"
)

// BenchmarkImport measures, side by side in one run: extraction only
// (extract.Scan with a sink that drops the results), a first import into a
// fresh store (extract + store), and an unchanged re-import, on the fixture
// site (311 pages, the Hugo pSEO shape) and on the PostgreSQL manual when
// the corpus is there. It reports import/extract (target: at most 1.3) and
// rescan/import (target: at most 0.05), ratios of the medians over the
// iterations (run it with -benchtime 10x or more), and the times.
func BenchmarkImport(b *testing.B) {
	hugo := DefaultSettings("bench", ProjectOptions{})
	hugo.PathPattern = "local/{location}/{brand}-{service}.html"
	sites := []struct {
		name, root string
		settings   model.ProjectSettings
	}{{"hugo", "../testdata/site/dist", hugo}}
	if d := corpus.Find(corpus.PostgreSQL); d != "" {
		sites = append(sites, struct {
			name, root string
			settings   model.ProjectSettings
		}{"postgresql", d, DefaultSettings("bench", ProjectOptions{})})
	}
	for _, site := range sites {
		b.Run(site.name, func(b *testing.B) { benchImport(b, site.root, site.settings) })
	}
}

func benchImport(b *testing.B, dir string, settings model.ProjectSettings) {
	site, err := filepath.Abs(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var extractOnly, first, rescan []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w, err := OpenWith(filepath.Join(b.TempDir(), "n.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		p, err := w.CreateProject(ctx, "bench.example", ProjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.UpdateSettings(ctx, p.ProjectID, func(s *model.ProjectSettings) { *s = settings }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		runtime.GC()
		t0 := time.Now()
		pages := 0
		if _, err := extract.Scan(ctx, extract.ScanOptions{Root: site, Options: extract.OptionsFromSettings(settings, "")},
			func(_ context.Context, bt extract.Batch) error { pages += len(bt.Changed); return nil }); err != nil {
			b.Fatal(err)
		}
		t1a := time.Now()
		runtime.GC()
		t1 := time.Now()
		r, err := w.Import(ctx, site, ImportOptions{ProjectID: p.ProjectID})
		if err != nil || r.Written != pages || pages == 0 {
			b.Fatalf("import: %+v %v (extraction: %d pages)", r, err, pages)
		}
		t2a := time.Now()
		runtime.GC()
		t2 := time.Now()
		r, err = w.Import(ctx, site, ImportOptions{ProjectID: p.ProjectID})
		if err != nil || r.Written != 0 {
			b.Fatalf("re-import: %+v %v", r, err)
		}
		t3 := time.Now()
		extractOnly = append(extractOnly, t1a.Sub(t0))
		first = append(first, t2a.Sub(t1))
		rescan = append(rescan, t3.Sub(t2))
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
	// Medians: on a shared machine one slow iteration (another process
	// taking a core) should not decide the ratio.
	e, f, r := median(extractOnly), median(first), median(rescan)
	b.ReportMetric(float64(f)/float64(e), "import/extract")
	b.ReportMetric(float64(r)/float64(f), "rescan/import")
	b.ReportMetric(float64(f.Microseconds())/1000, "import-ms")
	b.ReportMetric(float64(e.Microseconds())/1000, "extract-ms")
}

// median of the measured durations.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
