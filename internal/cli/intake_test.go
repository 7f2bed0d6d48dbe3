package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIntakeCommands(t *testing.T) {
	store := tempStore(t)
	site := filepath.Join(t.TempDir(), "timekeepers.example", "dist")
	if err := os.MkdirAll(filepath.Join(site, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"local/leeds/rolex-servicing.html", "local/leeds/omega-servicing.html", "local/bristol/rolex-servicing.html", "index.html"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/site/dist", p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(site, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(site, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(site, "broken.html"), []byte{0, 1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := nimbus(t, "--store", store, "--json", "import", site)
	if code != 0 {
		t.Fatalf("import: %d %s", code, errOut)
	}
	var r struct {
		Written int    `json:"pages_written"`
		Failed  int    `json:"failed"`
		BatchID string `json:"batch_id"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Written != 4 || r.Failed != 1 || r.BatchID == "" {
		t.Fatalf("import output %q (%v)", out, err)
	}
	if !strings.Contains(errOut, "imported 5/5 files") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	out, _, code = nimbus(t, "--store", store, "import", site)
	if code != 0 || !strings.Contains(out, "0 pages written") || !strings.Contains(out, "5 unchanged") {
		t.Errorf("second import: %q", out)
	}
	out, _, code = nimbus(t, "--store", store, "pages", "--dimension", "brand=rolex")
	if code != 0 || !strings.Contains(out, "dist/local/leeds/rolex-servicing.html") || strings.Contains(out, "omega") || !strings.Contains(out, "2 pages") {
		t.Errorf("pages: %q", out)
	}
	out, _, code = nimbus(t, "--store", store, "pages", "--dimension", "brand=rolex", "--csv")
	if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); code != 0 || err != nil || len(recs) != 3 || recs[0][0] != "Path" || !strings.Contains(recs[1][0]+recs[2][0], "dist/local/leeds/rolex-servicing.html") {
		t.Errorf("pages --csv: %q %v", out, err)
	}
	out, _, code = nimbus(t, "--store", store, "audit", "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) < 2 || recs[0][0] != "source_path" {
		t.Fatalf("audit csv: %q %v", out, err)
	}
	exp := filepath.Join(t.TempDir(), "out")
	out, errOut, code = nimbus(t, "--store", store, "export", "--out", exp)
	if code != 0 || !strings.Contains(out, "exported 5 files") {
		t.Fatalf("export: %q %q", out, errOut)
	}
	a, _ := os.ReadFile(filepath.Join(site, "local/leeds/rolex-servicing.html"))
	b, _ := os.ReadFile(filepath.Join(exp, "local/leeds/rolex-servicing.html"))
	if !bytes.Equal(a, b) {
		t.Error("export without decisions is not byte-identical")
	}
	if _, _, code := nimbus(t, "--store", store, "export"); code != 2 {
		t.Errorf("export without --out: exit %d, want 2", code)
	}
}

// syncBuffer is a bytes.Buffer safe for the watch goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatchCommandImportsChanges(t *testing.T) {
	t.Setenv("NIMBUS_STORE", "")
	store := tempStore(t)
	site := filepath.Join(t.TempDir(), "example.com", "dist")
	page := filepath.Join(site, "a.html")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, []byte("<main><h1>First</h1></main>"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"--store", store, "watch", site}, &out, &errOut) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s; stdout %q stderr %q", what, out.String(), errOut.String())
	}
	wait("the initial import", func() bool { return strings.Contains(out.String(), "1 pages written") })
	// The watches are set up right after the initial import: rewrite until
	// the change is seen.
	n := 0
	last := time.Time{}
	wait("the change", func() bool {
		if time.Since(last) > 500*time.Millisecond {
			n++
			last = time.Now()
			if err := os.WriteFile(page, []byte(fmt.Sprintf("<main><h1>Version %d</h1></main>", n)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return strings.Count(out.String(), "1 pages written") >= 2
	})
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("watch exited %d: %s", c, errOut.String())
	}
}
