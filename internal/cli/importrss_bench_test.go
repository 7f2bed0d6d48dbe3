//go:build linux

package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportPeakRSS is issue 14's import figure: `nimbus import` of a
// generated site of 1,000 pages and of NIMBUS_BENCH_PAGES (100,000 by
// default) pages, each into a new store, as separate processes (this test
// binary run as nimbus, the same command line code without the window's
// libraries, or the binary NIMBUS_BIN names: make builds the real one),
// alternating, three runs each; it prints the medians of the
// peak resident set (getrusage's ru_maxrss of the child) and of the time
// side by side. The site is extract/internal/gensite's (the 100,000-page one
// is 682 MB, written in the test's temp folder). `make bench-import-rss`;
// not part of make test.
func BenchmarkImportPeakRSS(b *testing.B) {
	large := 100000
	if v := os.Getenv("NIMBUS_BENCH_PAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("NIMBUS_BENCH_PAGES=%q: want a number of pages, at least 1000", v)
		}
		large = n
	}
	dir := b.TempDir()
	gensite := filepath.Join(dir, "gensite")
	if out, err := exec.Command("go", "build", "-o", gensite, "github.com/nimbus-desktop/nimbus/extract/internal/gensite").CombinedOutput(); err != nil {
		b.Fatalf("build gensite: %v\n%s", err, out)
	}
	sizes := []int{1000, large}
	sites := map[int]string{}
	for _, n := range sizes {
		site := filepath.Join(dir, fmt.Sprintf("site-%d", n), "dist")
		if out, err := exec.Command(gensite, "-pages", strconv.Itoa(n), "-out", site).CombinedOutput(); err != nil {
			b.Fatalf("gensite -pages %d: %v\n%s", n, err, out)
		}
		sites[n] = site
	}
	// run runs one nimbus command on store and returns its peak RSS.
	bin := os.Args[0]
	if v := os.Getenv("NIMBUS_BIN"); v != "" {
		bin = v
	}
	run := func(store string, args ...string) (rssKB int64, took time.Duration) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NIMBUS_TEST_AS_MAIN=1", "NIMBUS_STORE="+store, "NIMBUS_EMAIL=",
			"NIMBUS_NO_KEYRING=1", "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("nimbus %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		took = time.Since(start)
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatal("no rusage for the child")
		}
		return ru.Maxrss, took // kilobytes on Linux
	}
	rss := map[int][]int64{}
	secs := map[int][]float64{}
	for b.Loop() {
		measureImports(b, dir, sizes, sites, run, rss, secs)
	}
	med := func(v []int64) int64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	medf := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	small, big := med(rss[1000]), med(rss[large])
	b.Logf("import of a generated site by %s, peak RSS (medians of 3, alternating):\n"+
		"  %7d pages: %6.1f MiB  %6.1f s   runs %v KB\n"+
		"  %7d pages: %6.1f MiB  %6.1f s   runs %v KB\n"+
		"  ratio: %.2fx (goal: at most 2x)", filepath.Base(bin),
		1000, float64(small)/1024, medf(secs[1000]), rss[1000],
		large, float64(big)/1024, medf(secs[large]), rss[large],
		float64(big)/float64(small))
	b.ReportMetric(float64(small)/1024, "MiB-1000")
	b.ReportMetric(float64(big)/1024, fmt.Sprintf("MiB-%d", large))
	b.ReportMetric(float64(big)/float64(small), "ratio")
}

// measureImports runs three imports of each size, alternating.
func measureImports(b *testing.B, dir string, sizes []int, sites map[int]string,
	run func(store string, args ...string) (int64, time.Duration), rss map[int][]int64, secs map[int][]float64) {
	b.Helper()
	for i := range 3 {
		for _, n := range sizes {
			store := filepath.Join(dir, fmt.Sprintf("store-%d-%d.db", n, i))
			run(store, "project", "create", "--name", "bench.example")
			kb, took := run(store, "import", sites[n])
			rss[n] = append(rss[n], kb)
			secs[n] = append(secs[n], took.Seconds())
			os.Remove(store) // 1.2 GB at 100,000 pages
		}
	}
}
