package extract

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

type benchPage struct {
	src  []byte
	opts Options
}

func loadBenchPages(b *testing.B) []benchPage {
	b.Helper()
	var pages []benchPage
	for _, p := range fixturePages(b) {
		if !strings.Contains(p, "/site/") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		pages = append(pages, benchPage{src: src, opts: goldenOptions(strings.TrimPrefix(p, "../testdata/site/"))})
	}
	return pages
}

// BenchmarkExtractVsParse measures, side by side on the same pages in one
// run, a raw html.Parse of every fixture page and the full extraction
// (charset detection, parse, head, dimensions, blocks, selector map, audit),
// and reports the ratio (target: at most 1.5).
func BenchmarkExtractVsParse(b *testing.B) {
	pages := loadBenchPages(b)
	x, err := NewExtractor(goldenOptions(""))
	if err != nil {
		b.Fatal(err)
	}
	var parse, ext time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each side starts from a collected heap, so neither pays for the
		// other's garbage.
		runtime.GC()
		t0 := time.Now()
		for _, p := range pages {
			if _, err := html.Parse(bytes.NewReader(p.src)); err != nil {
				b.Fatal(err)
			}
		}
		parse += time.Since(t0)
		runtime.GC()
		t1 := time.Now()
		for _, p := range pages {
			if _, err := x.Analyze(p.src, p.opts.SourcePath); err != nil {
				b.Fatal(err)
			}
		}
		ext += time.Since(t1)
	}
	b.ReportMetric(float64(ext)/float64(parse), "extract/parse")
	b.ReportMetric(float64(parse.Microseconds())/float64(b.N*len(pages)), "parse-µs/page")
	b.ReportMetric(float64(ext.Microseconds())/float64(b.N*len(pages)), "extract-µs/page")
}

// BenchmarkScanParallel scans the fixture site with one worker and with
// GOMAXPROCS workers in the same run and reports the speed-up.
func BenchmarkScanParallel(b *testing.B) {
	root := "../testdata/site/dist"
	opts := goldenOptions("")
	noop := func(context.Context, Batch) error { return nil }
	var one, par time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := Scan(context.Background(), ScanOptions{Root: root, Options: opts, Workers: 1}, noop); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := Scan(context.Background(), ScanOptions{Root: root, Options: opts}, noop); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		one += t1.Sub(t0)
		par += t2.Sub(t1)
	}
	b.ReportMetric(float64(one)/float64(par), "speedup")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "workers")
}

// BenchmarkApply writes one block back into every fixture page.
func BenchmarkApply(b *testing.B) {
	pages := loadBenchPages(b)
	type prepared struct {
		src []byte
		sel map[string]string
		ch  map[string]Change
	}
	var ps []prepared
	for _, p := range pages {
		e, err := Page(p.src, p.opts)
		if err != nil {
			b.Fatal(err)
		}
		blk := e.AboveFoldBlocks[0]
		ps = append(ps, prepared{p.src, e.SelectorMap, map[string]Change{blk.ID: {Original: blk.Content, Text: "New heading"}}})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range ps {
			if _, _, err := Apply(p.src, p.sel, p.ch); err != nil {
				b.Fatal(err)
			}
		}
	}
}
