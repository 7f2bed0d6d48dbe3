package extract

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/nimbus-desktop/nimbus/internal/corpus"
	"github.com/nimbus-desktop/nimbus/model"
)

// fixturePages lists every HTML file under the extraction fixtures.
func fixturePages(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"../testdata/site", "../testdata/edge"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".html") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	if len(out) < 300 {
		t.Fatalf("only %d fixture pages; run go run ./extract/internal/gensite -root testdata", len(out))
	}
	return out
}

// The Debian manuals (internal/corpus) are real third-party sites; a spread
// sample keeps the normal run short; NIMBUS_CORPUS_FULL=1 checks every page
// (several minutes).
func corpusPages(t *testing.T, dir string, limit int) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".html") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	if os.Getenv("NIMBUS_CORPUS_FULL") == "" && len(out) > limit {
		// Every n-th page keeps the sample spread over the whole site.
		step := len(out) / limit
		var s []string
		for i := 0; i < len(out); i += step {
			s = append(s, out[i])
		}
		out = s
	}
	return out
}

// expectedText computes an element's block text independently of the
// extractor, with goquery: its text without skipped elements and without
// nested block elements (each counts as a word break), br as a space.
func expectedText(s *goquery.Selection) string {
	if goquery.NodeName(s) == "img" {
		v, _ := s.Attr("alt")
		return collapse(v)
	}
	c := s.Clone()
	c.Find("script,style,template,svg,noscript,math,iframe,object").Remove()
	c.Find("h1,h2,h3,h4,h5,h6,p,li,blockquote,figcaption,td,th,button,img,dt,dd,summary," +
		"a[role=button],a[role=BUTTON],a[class*=btn],a[class*=button],a[class*=cta],a[class*=Btn],a[class*=Button],a[class*=CTA]").ReplaceWithHtml(" ")
	c.Find("br").ReplaceWithHtml(" ")
	return collapse(c.Text())
}

func allBlocks(e model.Extraction) []model.Block {
	return append(append([]model.Block{}, e.AboveFoldBlocks...), e.RestOfPageBlocks...)
}

// checkPage runs the selector-map property and the write-back properties on
// one page; it reports through t and never stops at the first problem.
func checkPage(t *testing.T, name string, src []byte, opts Options, doApply bool) {
	t.Helper()
	r, err := Analyze(src, opts)
	if errors.Is(err, ErrEmpty) || errors.Is(err, ErrBinary) {
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	ext := r.Extraction
	enc := detectEncoding(src)
	text, _ := enc.toUTF8(src)
	doc, err := html.Parse(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	gdoc := goquery.NewDocumentFromNode(doc)
	blocks := allBlocks(ext)
	if len(ext.SelectorMap) != len(blocks) {
		t.Errorf("%s: %d selectors for %d blocks", name, len(ext.SelectorMap), len(blocks))
	}
	// Selector resolution is linear in the page, so checking every block of
	// a 15,000-block index page is quadratic: huge pages get an even sample.
	stride := 1
	if len(blocks) > 100 {
		stride = len(blocks) / 100
	}
	for i, b := range blocks {
		if want := "block-" + itoa(i); b.ID != want {
			t.Errorf("%s: block %d has id %s, want %s", name, i, b.ID, want)
		}
		if i%stride != 0 {
			continue
		}
		sel := ext.SelectorMap[b.ID]
		m, err := cascadia.Compile(sel)
		if err != nil {
			t.Errorf("%s %s: selector %q: %v", name, b.ID, sel, err)
			continue
		}
		found := gdoc.FindMatcher(m)
		if found.Length() != 1 {
			t.Errorf("%s %s: selector %q selects %d elements", name, b.ID, sel, found.Length())
			continue
		}
		if got := expectedText(found); got != b.Content {
			t.Errorf("%s %s: selector %q text %q != block content %q", name, b.ID, sel, clip(got), clip(b.Content))
		}
	}
	if !doApply {
		return
	}
	same, refused, err := Apply(src, ext.SelectorMap, nil)
	if err != nil || len(refused) != 0 || !bytes.Equal(same, src) {
		t.Errorf("%s: Apply without changes is not byte-identical (err %v, %d refusals)", name, err, len(refused))
	}
	// Change every block at once; the ones written must read back, the
	// refused ones must stay, and nothing else may change.
	changes := map[string]Change{}
	for i, b := range blocks {
		if i%stride != 0 {
			continue
		}
		changes[b.ID] = Change{Original: b.Content, Text: "New " + b.ID + " <&> \"text\""}
	}
	out, refusals, err := Apply(src, ext.SelectorMap, changes)
	if err != nil {
		t.Errorf("%s: Apply: %v", name, err)
		return
	}
	refusedIDs := map[string]string{}
	for _, rf := range refusals {
		refusedIDs[rf.BlockID] = rf.Reason
	}
	if !enc.asciiCompatible {
		return
	}
	after, err := Page(out, opts)
	if err != nil {
		t.Errorf("%s: extracting the written page: %v", name, err)
		return
	}
	got := allBlocks(after)
	if len(got) != len(blocks) {
		t.Errorf("%s: %d blocks after write-back, %d before (refusals %v)", name, len(got), len(blocks), refusedIDs)
		return
	}
	for i, b := range blocks {
		want := b.Content
		if _, changed := changes[b.ID]; !changed {
			// unchanged
		} else if _, ok := refusedIDs[b.ID]; !ok {
			want = collapse(changes[b.ID].Text)
		} else if b.Type != "img" && onlyText(gdoc, ext.SelectorMap[b.ID]) {
			t.Errorf("%s %s: a text-only block was refused: %s", name, b.ID, refusedIDs[b.ID])
		}
		if got[i].Content != want {
			t.Errorf("%s %s: after write-back %q, want %q", name, b.ID, clip(got[i].Content), clip(want))
		}
	}
	// One change: only that element's text span may differ.
	for _, b := range blocks {
		if _, ok := refusedIDs[b.ID]; ok || b.Type == "img" {
			continue
		}
		if _, changed := changes[b.ID]; !changed {
			continue
		}
		one, rf, err := Apply(src, ext.SelectorMap, map[string]Change{b.ID: {Original: b.Content, Text: "Only this & nothing else"}})
		if err != nil || len(rf) != 0 {
			t.Errorf("%s %s: single change: err %v refusals %v", name, b.ID, err, rf)
			break
		}
		p := commonPrefix(src, one)
		s := commonSuffix(src[p:], one[p:])
		oldMid, newMid := src[p:len(src)-s], one[p:len(one)-s]
		if bytes.ContainsAny(oldMid, "<>") || bytes.ContainsAny(newMid, "<>") {
			t.Errorf("%s %s: the single change touched markup: %q -> %q", name, b.ID, clip(string(oldMid)), clip(string(newMid)))
		}
		break
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func commonSuffix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}

func TestPropertyFixtures(t *testing.T) {
	for _, p := range fixturePages(t) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p, "../testdata/site/")
		checkPage(t, p, src, goldenOptions(rel), true)
	}
}

func TestPropertyDebianCorpora(t *testing.T) {
	for _, m := range corpus.All {
		t.Run(m.Name, func(t *testing.T) {
			dir := corpus.Require(t, m)
			limit := 150
			if raceEnabled {
				limit = 30
			}
			pages := corpusPages(t, dir, limit)
			for _, p := range pages {
				src, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				checkPage(t, p, src, Options{SourcePath: "html/" + strings.TrimPrefix(p, dir+"/")}, true)
				if t.Failed() {
					return
				}
			}
			t.Logf("%d pages of %s checked", len(pages), dir)
		})
	}
}

// onlyText reports whether the element sel selects has only text children
// (write-back must accept a change to it).
func onlyText(doc *goquery.Document, sel string) bool {
	n := doc.Find(sel).Nodes
	if len(n) != 1 {
		return false
	}
	for c := n[0].FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.TextNode {
			return false
		}
	}
	return true
}
