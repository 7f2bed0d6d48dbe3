package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindPrefersTheNewestVersionUnderTheCorpusRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"postgresql-doc-9/html", "postgresql-doc-15/html", "postgresql-doc-16", "python3.9/html", "python3.11/html"} {
		p := filepath.Join(root, "usr/share/doc", d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "html" {
			if err := os.WriteFile(filepath.Join(p, "index.html"), []byte("<p>x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("NIMBUS_CORPUS_ROOT", root)
	if got, want := Find(PostgreSQL), filepath.Join(root, "usr/share/doc/postgresql-doc-15/html"); got != want {
		t.Errorf("postgresql: %s, want %s (16 has no html/index.html)", got, want)
	}
	if got, want := Find(Python), filepath.Join(root, "usr/share/doc/python3.11/html"); got != want {
		t.Errorf("python: %s, want %s", got, want)
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range [][2]string{{"a-9/html", "a-15/html"}, {"python3.9", "python3.11"}, {"x1", "x1.1"}} {
		if !versionLess(c[0], c[1]) || versionLess(c[1], c[0]) {
			t.Errorf("%s < %s expected", c[0], c[1])
		}
	}
}
