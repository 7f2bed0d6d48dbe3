package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ImportResult.New tells new pages from changed ones among the written.
func TestImportCountsNewApartFromChanged(t *testing.T) {
	w := openTemp(t, Options{})
	newIntakeProject(t, w)
	site := filepath.Join(t.TempDir(), "dist")
	copySite(t, "../testdata/site/dist", site)
	ctx := context.Background()
	r, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written == 0 || r.New != r.Written {
		t.Fatalf("first import: %d written, %d new (all should be new)", r.Written, r.New)
	}
	changed := filepath.Join(site, "local", "leeds", "omega-servicing.html")
	b, err := os.ReadFile(changed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<title>") {
		t.Fatalf("%s has no <title> to change", changed)
	}
	if err := os.WriteFile(changed, []byte(strings.Replace(string(b), "<title>", "<title>Changed ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "local", "leeds", "brand-new.html"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := w.Import(ctx, site, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Written != 2 || r2.New != 1 {
		t.Fatalf("second import: %d written, %d new; want 2 written (1 changed, 1 new)", r2.Written, r2.New)
	}
}
