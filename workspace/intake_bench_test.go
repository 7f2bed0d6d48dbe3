package workspace

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/model"
)

// BenchmarkImport measures, side by side in one run on the fixture site
// (311 pages): extraction only (extract.Scan with a sink that drops the
// results), a first import into a fresh store (extract + store), and an
// unchanged re-import. It reports import/extract (target: at most 1.3) and
// rescan/import (target: at most 0.05).
func BenchmarkImport(b *testing.B) {
	site, err := filepath.Abs("../testdata/site/dist")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	settings := DefaultSettings("bench", ProjectOptions{})
	settings.PathPattern = "local/{location}/{brand}-{service}.html"
	var extractOnly, first, rescan time.Duration
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
		if _, err := extract.Scan(ctx, extract.ScanOptions{Root: site, Options: extract.OptionsFromSettings(settings, "")},
			func(context.Context, extract.Batch) error { return nil }); err != nil {
			b.Fatal(err)
		}
		t1a := time.Now()
		runtime.GC()
		t1 := time.Now()
		r, err := w.Import(ctx, site, ImportOptions{ProjectID: p.ProjectID})
		if err != nil || r.Written != 311 {
			b.Fatalf("import: %+v %v", r, err)
		}
		t2a := time.Now()
		runtime.GC()
		t2 := time.Now()
		r, err = w.Import(ctx, site, ImportOptions{ProjectID: p.ProjectID})
		if err != nil || r.Written != 0 {
			b.Fatalf("re-import: %+v %v", r, err)
		}
		t3 := time.Now()
		extractOnly += t1a.Sub(t0)
		first += t2a.Sub(t1)
		rescan += t3.Sub(t2)
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(first)/float64(extractOnly), "import/extract")
	b.ReportMetric(float64(rescan)/float64(first), "rescan/import")
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "import-ms")
}
