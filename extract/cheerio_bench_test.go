package extract

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/internal/corpus"
	"github.com/nimbus-desktop/nimbus/model"
)

// cheerioDir holds the cheerio implementation of the same extraction
// contract (dev/cheerio/README.md says which rules differ).
const cheerioDir = "dev/cheerio"

// cheerioOptions is goldenOptions in the baseline's terms.
func cheerioOptions(o Options) string {
	b, _ := json.Marshal(map[string]any{
		"path_pattern": o.PathPattern, "css_extractors": o.CSSExtractors, "domain": o.Domain,
		"main_selector": o.MainSelector, "above_fold_until": o.AboveFoldUntil, "above_fold_max": o.AboveFoldMax,
	})
	return string(b)
}

// sitePage is one page of a site read into memory, with the source path a
// scan of the site gives it ("dist/local/a.html").
type sitePage struct {
	sourcePath string
	src        []byte
}

// readSite reads every .html/.htm file under root in path order (the
// order the baseline reads them in).
func readSite(b *testing.B, root string) []sitePage {
	b.Helper()
	var pages []sitePage
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); ext != ".html" && ext != ".htm" {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		pages = append(pages, sitePage{sourcePath: filepath.Base(root) + "/" + filepath.ToSlash(rel), src: src})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].sourcePath < pages[j].sourcePath })
	return pages
}

// cheerioServer is the baseline running in one node process, the site read
// into its memory, timing its own runs (node's start-up is not counted).
type cheerioServer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startCheerio(b *testing.B, root string, opts Options) *cheerioServer {
	b.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not found: the cheerio baseline needs Node.js")
	}
	if _, err := os.Stat(filepath.Join(cheerioDir, "node_modules", "cheerio")); err != nil {
		b.Skipf("cheerio is not installed: run `npm ci` in extract/%s (make bench does)", cheerioDir)
	}
	cmd := exec.Command(node, filepath.Join(cheerioDir, "extract.mjs"), "--options", cheerioOptions(opts), "--serve", root)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &cheerioServer{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	b.Cleanup(func() {
		fmt.Fprintln(s.in, "quit")
		s.in.Close()
		_ = s.cmd.Wait()
	})
	return s
}

// call sends one command and decodes the one-line answer into v.
func (s *cheerioServer) call(b *testing.B, cmd string, v any) {
	b.Helper()
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		b.Fatal(err)
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("cheerio %s: %v", cmd, err)
	}
	if err := json.Unmarshal(line, v); err != nil {
		b.Fatalf("cheerio %s: %v", cmd, err)
	}
}

type cheerioPage struct {
	SourcePath string           `json:"source_path"`
	Extraction model.Extraction `json:"extraction"`
	Audit      model.Audit      `json:"audit"`
}

// extractionKey is what the two implementations must agree on: head,
// dimensions, main selector, every block's id, type and text, the
// selector map and the audit (not the attributes: the serializers of
// inline markup differ, see the README).
func extractionKey(e model.Extraction, a model.Audit) any {
	type blk struct{ ID, Type, Content string }
	var blocks []blk
	for _, b := range append(append([]model.Block{}, e.AboveFoldBlocks...), e.RestOfPageBlocks...) {
		blocks = append(blocks, blk{b.ID, b.Type, b.Content})
	}
	return struct {
		Main       string
		Head, Dims map[string]string
		Above      int
		Blocks     []blk
		Sel        map[string]string
		Audit      string
	}{e.MainSelector, e.Head, e.Dimensions, len(e.AboveFoldBlocks), blocks, e.SelectorMap, string(model.Canonical(a))}
}

// BenchmarkVsCheerio extracts a whole site with the Go extractor and with
// the cheerio baseline of the same contract, side by side in one run
// (alternating, each from a collected heap), and reports the time of each
// for the site and cheerio/go, the ratio of the medians (goal: 8). Run it
// pinned to one core (make bench: taskset -c 0) so neither side gets more
// CPU than the other. Before timing, the two must agree page by page on
// everything but the blocks' attributes (extractionKey): a baseline doing less
// work would flatter the ratio. Sites: the fixture site (the Hugo pSEO
// shape, 311 pages) and the PostgreSQL manual when the corpus is there.
func BenchmarkVsCheerio(b *testing.B) {
	sites := []struct {
		name, root string
		opts       Options
	}{{"hugo", "../testdata/site/dist", goldenOptions("")}}
	if d := corpus.Find(corpus.PostgreSQL); d != "" {
		sites = append(sites, struct {
			name, root string
			opts       Options
		}{"postgresql", d, Options{}})
	}
	for _, site := range sites {
		b.Run(site.name, func(b *testing.B) {
			root, err := filepath.Abs(site.root)
			if err != nil {
				b.Fatal(err)
			}
			pages := readSite(b, root)
			x, err := NewExtractor(site.opts)
			if err != nil {
				b.Fatal(err)
			}
			srv := startCheerio(b, root, site.opts)

			var dump []cheerioPage
			srv.call(b, "dump", &dump)
			if len(dump) != len(pages) {
				b.Fatalf("cheerio read %d pages, Go %d", len(dump), len(pages))
			}
			differ := 0
			for i, p := range pages {
				r, err := x.Analyze(p.src, p.sourcePath)
				if err != nil {
					b.Fatalf("%s: %v", p.sourcePath, err)
				}
				if dump[i].SourcePath != p.sourcePath {
					b.Fatalf("page %d: cheerio %s, Go %s", i, dump[i].SourcePath, p.sourcePath)
				}
				if g, c := extractionKey(r.Extraction, r.Audit), extractionKey(dump[i].Extraction, dump[i].Audit); !reflect.DeepEqual(g, c) {
					differ++
					if differ <= 3 {
						b.Logf("%s: the extractions differ\n   go: %+v\ncheerio: %+v", p.sourcePath, g, c)
					}
				}
			}
			// Every page must agree; a few real-corpus pages may differ by the
			// rules the README lists.
			if differ*100 > len(pages) {
				b.Fatalf("%d of %d pages differ between Go and cheerio", differ, len(pages))
			}

			var goT, chT []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				t0 := time.Now()
				for _, p := range pages {
					if _, err := x.Analyze(p.src, p.sourcePath); err != nil {
						b.Fatal(err)
					}
				}
				goT = append(goT, time.Since(t0))
				var run struct {
					MS     float64 `json:"ms"`
					Pages  int     `json:"pages"`
					Errors int     `json:"errors"`
				}
				srv.call(b, "run", &run)
				if run.Pages != len(pages) || run.Errors != 0 {
					b.Fatalf("cheerio run: %+v", run)
				}
				chT = append(chT, time.Duration(run.MS*float64(time.Millisecond)))
			}
			g, c := medianDuration(goT), medianDuration(chT)
			b.ReportMetric(float64(g.Microseconds())/1000, "go-ms")
			b.ReportMetric(float64(c.Microseconds())/1000, "cheerio-ms")
			b.ReportMetric(float64(c)/float64(g), "cheerio/go")
			b.ReportMetric(float64(len(pages)), "pages")
			b.ReportMetric(float64(differ), "pages-differ")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
		})
	}
}
