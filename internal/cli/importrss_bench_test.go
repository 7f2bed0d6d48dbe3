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
	run := func(store string, args ...string) importRun {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NIMBUS_TEST_AS_MAIN=1", "NIMBUS_STORE="+store, "NIMBUS_EMAIL=",
			"NIMBUS_NO_KEYRING=1", "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatalf("nimbus %s: %v", strings.Join(args, " "), err)
		}
		peaks := samplePeaks(cmd.Process.Pid)
		err := cmd.Wait()
		r := <-peaks
		if err != nil {
			b.Fatalf("nimbus %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		r.took = time.Since(start)
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatal("no rusage for the child")
		}
		r.maxKB = ru.Maxrss // kilobytes on Linux
		return r
	}
	runs := map[int][]importRun{}
	for b.Loop() {
		measureImports(b, dir, sizes, sites, run, runs)
	}
	med := func(n int, f func(importRun) float64) float64 {
		var v []float64
		for _, r := range runs[n] {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	line := func(n int) string {
		var kb []int64
		for _, r := range runs[n] {
			kb = append(kb, r.maxKB)
		}
		return fmt.Sprintf("  %7d pages: %6.1f MiB  %6.1f s   runs %v KB; sampled peaks: anonymous %5.1f MiB, mapped files %5.1f MiB (the store %5.1f)",
			n, med(n, func(r importRun) float64 { return float64(r.maxKB) / 1024 }), med(n, func(r importRun) float64 { return r.took.Seconds() }), kb,
			med(n, func(r importRun) float64 { return float64(r.anonKB) / 1024 }),
			med(n, func(r importRun) float64 { return float64(r.fileKB) / 1024 }),
			med(n, func(r importRun) float64 { return float64(r.storeKB) / 1024 }))
	}
	small, big := med(1000, func(r importRun) float64 { return float64(r.maxKB) }), med(large, func(r importRun) float64 { return float64(r.maxKB) })
	b.Logf("import of a generated site by %s, peak RSS (medians of 3, alternating):\n%s\n%s\n"+
		"  ratio: %.2fx (goal: at most 2x)\n"+
		"  (the peak RSS is getrusage's; the sampled peaks, every 20 ms from /proc, split it: the Go heap and the\n"+
		"  runtime are anonymous, the binary, its libraries and the store file mapped; they need not peak together)",
		filepath.Base(bin), line(1000), line(large), big/small)
	b.ReportMetric(float64(small)/1024, "MiB-1000")
	b.ReportMetric(float64(big)/1024, fmt.Sprintf("MiB-%d", large))
	b.ReportMetric(big/small, "ratio")
}

// importRun is one measured nimbus command: its peak RSS (getrusage), time,
// and the peaks sampled from /proc of its anonymous memory, of its mapped
// files and, among them, of the store file.
type importRun struct {
	maxKB, anonKB, fileKB, storeKB int64
	took                           time.Duration
}

// samplePeaks reads /proc/pid/smaps every 20 ms until the process is gone
// and then sends the peaks it saw.
func samplePeaks(pid int) <-chan importRun {
	out := make(chan importRun, 1)
	go func() {
		var r importRun
		path := fmt.Sprintf("/proc/%d/smaps", pid)
		for {
			b, err := os.ReadFile(path)
			if err != nil || len(b) == 0 {
				break // the process has exited (a zombie has no mappings)
			}
			var anon, file, store int64
			name := ""
			for _, l := range strings.Split(string(b), "\n") {
				f := strings.Fields(l)
				switch {
				case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
					name = ""
					if len(f) >= 6 {
						name = f[5]
					}
				case len(f) >= 2 && f[0] == "Rss:":
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					switch {
					case name == "" || strings.HasPrefix(name, "["):
						anon += kb
					default:
						file += kb
						if strings.HasSuffix(name, ".db") {
							store += kb
						}
					}
				}
			}
			r.anonKB, r.fileKB, r.storeKB = max(r.anonKB, anon), max(r.fileKB, file), max(r.storeKB, store)
			time.Sleep(20 * time.Millisecond)
		}
		out <- r
	}()
	return out
}

// measureImports runs three imports of each size, alternating.
func measureImports(b *testing.B, dir string, sizes []int, sites map[int]string,
	run func(store string, args ...string) importRun, runs map[int][]importRun) {
	b.Helper()
	for i := range 3 {
		for _, n := range sizes {
			store := filepath.Join(dir, fmt.Sprintf("store-%d-%d.db", n, i))
			run(store, "project", "create", "--name", "bench.example")
			runs[n] = append(runs[n], run(store, "import", sites[n]))
			os.Remove(store) // 1.2 GB at 100,000 pages
		}
	}
}
