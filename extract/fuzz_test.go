package extract

import (
	"os"
	"path/filepath"
	"testing"
)

func seedFixtures(f *testing.F, add func(src []byte)) {
	files, _ := filepath.Glob("../testdata/edge/*.html")
	more, _ := filepath.Glob("../testdata/site/dist/local/birmingham/*.html")
	files = append(files, more[:5]...)
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(src)
	}
	add([]byte("<p>a<p>b<table><td>c</table><svg><title><p>x</title></svg><li>y<ul><li>z"))
	add([]byte("<main><img alt='x' alt=y src=\"q><p>t</p>"))
}

// FuzzPage: extraction never panics, is deterministic, and every block has
// a selector.
func FuzzPage(f *testing.F) {
	seedFixtures(f, func(src []byte) { f.Add(src) })
	f.Fuzz(func(t *testing.T, src []byte) {
		a, errA := Page(src, Options{})
		b, errB := Page(src, Options{})
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ: %v / %v", errA, errB)
		}
		if errA != nil {
			return
		}
		if len(a.SelectorMap) != len(a.AboveFoldBlocks)+len(a.RestOfPageBlocks) {
			t.Fatalf("%d selectors for %d blocks", len(a.SelectorMap), len(a.AboveFoldBlocks)+len(a.RestOfPageBlocks))
		}
		if len(a.SelectorMap) != len(b.SelectorMap) {
			t.Fatal("extraction is not deterministic")
		}
	})
}

// FuzzApply: write-back never panics, never errors on parseable input, and
// rewriting every block with a new text keeps the block count.
func FuzzApply(f *testing.F) {
	seedFixtures(f, func(src []byte) { f.Add(src, "New & <text>") })
	f.Fuzz(func(t *testing.T, src []byte, text string) {
		e, err := Page(src, Options{})
		if err != nil {
			return
		}
		changes := map[string]Change{}
		for _, b := range allBlocks(e) {
			changes[b.ID] = Change{Original: b.Content, Text: text}
		}
		out, _, err := Apply(src, e.SelectorMap, changes)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if len(out) == 0 && len(src) != 0 {
			t.Fatal("Apply lost the page")
		}
	})
}
