package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIntakeCommands(t *testing.T) {
	store := tempStore(t)
	site := filepath.Join(t.TempDir(), "timekeepers.example", "dist")
	if err := os.MkdirAll(filepath.Join(site, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"local/leeds/rolex-servicing.html", "local/leeds/omega-servicing.html", "local/bristol/rolex-servicing.html", "index.html"} {
		b, err := os.ReadFile(filepath.Join("testdata/site/dist", p))
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
