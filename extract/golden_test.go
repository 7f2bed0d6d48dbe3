package extract

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current extraction")

// goldenOptions are the project settings the fixture site is extracted with.
func goldenOptions(sourcePath string) Options {
	return Options{
		SourcePath:  sourcePath,
		PathPattern: "local/{location}/{brand}-{service}.html",
		CSSExtractors: map[string]string{
			"price": "main p.lead strong",
		},
		Domain: "timekeepers.example",
	}
}

var goldenPages = []string{
	"site/dist/local/birmingham/rolex-watch-repair.html",
	"site/dist/local/stoke-on-trent/audemars-piguet-battery-replacement.html",
	"site/dist/local/leeds/index.html",
	"edge/no-main.html",
	"edge/role-main.html",
	"edge/article.html",
	"edge/table-no-tbody.html",
	"edge/cp1252.html",
	"edge/sjis.html",
	"edge/truncated.html",
}

type golden struct {
	Extraction  model.Extraction `json:"extraction"`
	Audit       model.Audit      `json:"audit"`
	Encoding    string           `json:"encoding"`
	ContentHash string           `json:"content_hash"`
}

func TestGolden(t *testing.T) {
	for _, rel := range goldenPages {
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "testdata", rel))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Analyze(src, goldenOptions("dist/"+strings.TrimPrefix(rel, "site/dist/")))
			if err != nil {
				t.Fatalf("extract %s: %v", rel, err)
			}
			g := golden{Extraction: r.Extraction, Audit: r.Audit, Encoding: r.Encoding, ContentHash: model.ContentHash(r.Extraction)}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			name := filepath.Join("..", "testdata", "golden", strings.ReplaceAll(strings.TrimSuffix(rel, ".html"), "/", "_")+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(name, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("%v (run go test ./extract -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("extraction of %s differs from %s:\n%s", rel, name, lineDiff(string(want), string(got)))
			}
			// Same bytes in, same JSON out.
			again, err := Page(src, goldenOptions("dist/"+strings.TrimPrefix(rel, "site/dist/")))
			if err != nil || model.ContentHash(again) != g.ContentHash {
				t.Errorf("a second extraction of %s gave a different result (%v)", rel, err)
			}
		})
	}
}

// lineDiff shows the first differing lines, enough to see what moved.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + itoa(i+1) + ":\n  want " + a + "\n  got  " + c + "\n")
			if shown++; shown > 10 {
				break
			}
		}
	}
	return b.String()
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonInt(i)) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }
